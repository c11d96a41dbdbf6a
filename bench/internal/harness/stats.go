package harness

import "time"

// Quantile returns the nearest-rank pm/1000 quantile of sorted (ascending):
// the smallest value with at least pm/1000 of the values at or below it.
// pm is in thousandths so that 99.9% (999) is exact; 0 for no values.
func Quantile(sorted []time.Duration, pm int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// rank = ceil(n * pm / 1000), in integers.
	rank := (n*pm + 999) / 1000
	return sorted[min(max(rank, 1), n)-1]
}

// CPUMicrosPerMsg returns the CPU time of both processes (client and
// server, CPUNs + ServerCPU) per message of s in microseconds, 0 without
// messages.
func (s Sample) CPUMicrosPerMsg() float64 {
	if s.Msgs <= 0 {
		return 0
	}
	return float64(s.CPUNs+s.ServerCPU) / 1e3 / float64(s.Msgs)
}

// CPUSecondsPerGB returns the CPU time of both processes per 10^9 payload
// bytes of s, 0 without bytes.
func (s Sample) CPUSecondsPerGB() float64 {
	if s.Bytes <= 0 {
		return 0
	}
	return float64(s.CPUNs+s.ServerCPU) / float64(s.Bytes)
}

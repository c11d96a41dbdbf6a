package harness

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

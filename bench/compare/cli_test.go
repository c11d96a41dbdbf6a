package main

import (
	"fmt"
	"testing"
)

func TestParseCLI(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		size      int
		want      string // Sample fields, printed
		err       bool
	}{
		{"throughput", "throughput: 150317 messages of 1024 bytes in 3.00s: 410.17 Mbit/s, 50070 msgs/s, CPU 2.90s (user 1.92s, sys 0.98s): 97% of a core, 19.3 µs per message\n",
			1024, "msgs 150317 bytes 153924608 s 3 cpu 2900000000 p50 0 p99 0 p999 0", false},
		{"throughput with echoes, no CPU", "throughput: 7801 messages of 64 bytes in 2.18s: 1.83 Mbit/s, 3581 msgs/s (7801 echoed, 1.83 Mbit/s back)",
			64, "msgs 7801 bytes 499264 s 2.18 cpu 0 p50 0 p99 0 p999 0", false},
		{"rtt", "rtt: 11153 round trips of 64 bytes in 3.00s: 3718 msgs/s, 1.90 Mbit/s each way, RTT median 0.233ms p99 1.103ms p99.9 3.159ms (min 0.050ms, max 10.779ms), CPU 1.85s (user 0.85s, sys 1.00s): 62% of a core, 165.6 µs per round trip",
			64, "msgs 11153 bytes 0 s 3 cpu 1850000000 p50 233000 p99 1103000 p999 3159000", false},
		{"rtt without p99.9 (an older summary)", "rtt: 11228 round trips of 64 bytes in 3.00s: 3743 msgs/s, 1.92 Mbit/s each way, RTT median 0.242ms p99 0.740ms (min 0.046ms, max 7.478ms)",
			64, "", true},
		{"nothing sent", "throughput: 0 messages of 1024 bytes in 3.00s: 0.00 Mbit/s, 0 msgs/s", 1024, "", true},
		{"no summary", "bench: no echoes", 64, "", true},
	} {
		s, err := parseCLI(tc.out, tc.size)
		if (err != nil) != tc.err {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		got := fmtSample(s.Msgs, s.Bytes, s.Seconds, s.CPUNs, s.MedianNs, s.P99Ns, s.P999Ns)
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func fmtSample(msgs, bytes int64, secs float64, cpu, p50, p99, p999 int64) string {
	return fmt.Sprintf("msgs %d bytes %d s %v cpu %d p50 %d p99 %d p999 %d", msgs, bytes, secs, cpu, p50, p99, p999)
}

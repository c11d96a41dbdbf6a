package harness

import (
	"testing"
)

func TestSampleCPU(t *testing.T) {
	for _, tc := range []struct {
		name          string
		s             Sample
		perMsg, perGB float64
	}{
		{"no messages", Sample{CPUNs: 1e9}, 0, 0},
		{"client only", Sample{Msgs: 1000, Bytes: 64000, CPUNs: 2e6}, 2, 2e6 / 64000.0},
		{"client and server", Sample{Msgs: 100000, Bytes: 6.4e6, CPUNs: 1.5e9, ServerCPU: 0.5e9}, 20, 2e9 / 6.4e6},
		// 1 GB in 25 CPU seconds is 25 s/GB.
		{"a gigabyte", Sample{Msgs: 976563, Bytes: 1e9, CPUNs: 20e9, ServerCPU: 5e9}, 25e9 / 1e3 / 976563, 25},
	} {
		if got := tc.s.CPUMicrosPerMsg(); got != tc.perMsg {
			t.Errorf("%s: CPUMicrosPerMsg = %v, want %v", tc.name, got, tc.perMsg)
		}
		if got := tc.s.CPUSecondsPerGB(); got != tc.perGB {
			t.Errorf("%s: CPUSecondsPerGB = %v, want %v", tc.name, got, tc.perGB)
		}
	}
}

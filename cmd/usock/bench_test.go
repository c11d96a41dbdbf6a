package main

import (
	"context"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	seq := func(n int) []time.Duration { // n..1 ms, unsorted
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(n-i) * time.Millisecond
		}
		return s
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		in   []time.Duration
		pm   int
		want time.Duration
	}{
		{"empty", nil, 500, 0},
		{"one", seq(1), 999, 1 * ms},
		{"two: the lower median", seq(2), 500, 1 * ms},
		{"three: median", seq(3), 500, 2 * ms},
		{"100: p99", seq(100), 990, 99 * ms},
		{"100: p99.9 is the maximum", seq(100), 999, 100 * ms},
		{"1000: p99.9", seq(1000), 999, 999 * ms},
		{"2000: p99.9", seq(2000), 999, 1998 * ms},
		{"p0: the minimum", seq(5), 0, 1 * ms},
	} {
		if got := quantile(tc.in, tc.pm); got != tc.want {
			t.Errorf("%s: quantile(%d values, %d) = %v, want %v", tc.name, len(tc.in), tc.pm, got, tc.want)
		}
	}
}

func TestCPUSummary(t *testing.T) {
	at := func(user, sys time.Duration) cpuTime { return cpuTime{user: user, sys: sys, ok: true} }
	s := time.Second
	for _, tc := range []struct {
		name    string
		c0, c1  cpuTime
		elapsed time.Duration
		n       int64
		unit    string
		want    string
	}{
		{"not known", cpuTime{}, cpuTime{}, s, 10, "message", ""},
		{"no wall time", at(0, 0), at(s, 0), 0, 10, "message", ""},
		{"per message", at(s, s), at(2*s, 1500*time.Millisecond), 2 * s, 100000, "message",
			", CPU 1.50s (user 1.00s, sys 0.50s): 75% of a core, 15.0 µs per message"},
		{"two cores busy", at(0, 0), at(3*s, s), 2 * s, 20000, "round trip",
			", CPU 4.00s (user 3.00s, sys 1.00s): 200% of a core, 200.0 µs per round trip"},
		{"nothing counted", at(0, 0), at(s/2, 0), s, 0, "",
			", CPU 0.50s (user 0.50s, sys 0.00s): 50% of a core"},
	} {
		if got := cpuSummary(tc.c0, tc.c1, tc.elapsed, tc.n, tc.unit); got != tc.want {
			t.Errorf("%s: cpuSummary = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestReadCPU(t *testing.T) {
	c0 := readCPU()
	if !c0.ok {
		t.Skip("no CPU time on this system")
	}
	// Burn CPU until the counter moves (its resolution may be coarse).
	x := 0
	for c := c0; c.user+c.sys == c0.user+c0.sys; c = readCPU() {
		for i := range 1 << 16 {
			x += i
		}
	}
	if c1 := readCPU(); c1.user < c0.user || c1.sys < c0.sys || x == 0 {
		t.Errorf("CPU time went back: %+v, then %+v", c0, c1)
	}
}

func TestWatchSend(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	never := make(chan struct{})
	closed := make(chan struct{})
	close(closed)
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		sending chan struct{}
		aborted bool
	}{
		{"sending ends before the run", context.Background(), closed, false},
		{"sending ended by the end of the run", ended, closed, false},
		{"still sending after the grace", ended, never, true},
	} {
		aborted := false
		watchSend(tc.ctx, tc.sending, 0, func() { aborted = true })
		if aborted != tc.aborted {
			t.Errorf("%s: aborted %v, want %v", tc.name, aborted, tc.aborted)
		}
	}
}

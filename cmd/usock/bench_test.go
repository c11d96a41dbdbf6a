package main

import (
	"context"
	"testing"
	"time"
)

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

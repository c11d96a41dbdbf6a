package pathmgr

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// unconfirmedOutstanding counts the heartbeats outstanding on unconfirmed
// paths.
func unconfirmedOutstanding(m *Manager) int {
	n := 0
	for _, pi := range m.Paths() {
		if pi.State == Unconfirmed && pi.Outstanding {
			n++
		}
	}
	return n
}

// RFC 9260 section 5.4: "The number of packets containing HEARTBEAT chunks
// sent at each RTO SHOULD be limited by the 'HB.Max.Burst' parameter." An
// INIT listing hundreds of addresses that nobody answers from gets one
// probe outstanding at a time (HB.Max.Burst 1, section 16), and every
// address its turn.
func TestUnconfirmedProbesBurst(t *testing.T) {
	cfg := testConfig()
	cfg.HBDisabled = true
	require.Equal(t, 1, DefaultConfig().HBMaxBurst, "section 16: HB.Max.Burst 1")
	m := newManager(t, cfg)
	m.AddPath(true, t0)
	const listed = 300
	for range listed {
		m.AddPath(false, t0)
	}
	probed := map[PathID]int{}
	var firstSecondAndAHalf int
	now := t0
	for now.Before(t0.Add(10 * time.Minute)) {
		d, ok := m.NextDeadline()
		require.True(t, ok)
		now = d
		for _, a := range ofKind(m.Tick(now), SendHeartbeat) {
			probed[a.Path]++
			if now.Before(t0.Add(1500 * time.Millisecond)) {
				firstSecondAndAHalf++
			}
		}
		require.LessOrEqual(t, unconfirmedOutstanding(m), 1, "at %v", now.Sub(t0))
	}
	// At 0 s, and at 1 s when the first one timed out (RTO 1 s).
	require.Equal(t, 2, firstSecondAndAHalf, "heartbeats in the first 1.5 s")
	require.Len(t, probed, 300, "every unconfirmed address is probed in turn")
	for id, n := range probed {
		require.LessOrEqual(t, n, 2, "path %d", id)
	}
	require.Zero(t, m.AssocErrors(), "5.4: probes never count against the association")
}

// An answered probe frees its place at once: the next address is probed
// without waiting for an RTO; HeartbeatNow respects the limit too.
func TestUnconfirmedProbesBurstAck(t *testing.T) {
	cfg := testConfig()
	cfg.HBMaxBurst = 2
	m := newManager(t, cfg)
	m.AddPath(true, t0)
	b := m.AddPath(false, t0)
	c := m.AddPath(false, t0)
	d := m.AddPath(false, t0)
	acts := ofKind(m.Tick(t0), SendHeartbeat)
	require.Len(t, acts, 2, "HB.Max.Burst 2")
	require.Equal(t, []PathID{b, c}, []PathID{acts[0].Path, acts[1].Path}, "in the order they were added")
	require.Nil(t, m.HeartbeatNow(d, t0), "no third probe on demand")

	at := t0.Add(20 * time.Millisecond)
	require.True(t, m.HeartbeatAcked(b, acts[0].Nonce, at))
	next := m.Tick(at)
	heartbeatTo(t, next, d)
	require.Equal(t, Active, info(t, m, b).State)
	require.Equal(t, 2, unconfirmedOutstanding(m))
}

// driveZeroWindow runs rounds of a zero window probe on p: sent (DataSent),
// answered by a SACK advertising no window when heard, then T3 expiry.
// It returns every action of the rounds.
func driveZeroWindow(t *testing.T, m *Manager, p PathID, now time.Time, rounds int, heard bool) ([]Action, time.Time) {
	t.Helper()
	var all []Action
	for range rounds {
		m.DataSent(p, now)
		if heard {
			m.SackReceived(0, now.Add(10*time.Millisecond))
		}
		rto := info(t, m, p).RTO
		d := deadline(t, m)
		require.Equal(t, now.Add(rto), d, "T3 runs the probe's backed-off RTO")
		now = d
		all = append(all, m.Tick(now)...)
		// The engine retransmits the probe a moment later.
		now = now.Add(time.Millisecond)
	}
	return all, now
}

// RFC 9260 section 6.1 rule A: "If the sender continues to receive SACK
// chunks from the peer while doing zero window probing, the unacknowledged
// window probes SHOULD NOT increment the error counter for the association
// or any destination transport address. ... The sender SHOULD send the
// first zero window probe after 1 RTO when it detects that the receiver
// has closed its window and SHOULD increase the probe interval
// exponentially afterwards."
func TestZeroWindowProbes(t *testing.T) {
	cfg := testConfig()
	cfg.HBDisabled = true
	m := newManager(t, cfg)
	a := m.AddPath(true, t0)
	b := m.AddPath(true, t0)

	// The peer closed its window: a SACK with a_rwnd 0.
	m.DataSent(a, t0)
	m.DataAcked(a, 0, false, true, t0.Add(10*time.Millisecond))
	m.SackReceived(0, t0.Add(10*time.Millisecond))
	acts, now := driveZeroWindow(t, m, a, t0.Add(20*time.Millisecond), 12, true)
	require.Empty(t, acts, "no error, no state change, no retransmission elsewhere")
	pa := info(t, m, a)
	require.Equal(t, Active, pa.State)
	require.Zero(t, pa.ErrorCount)
	require.Zero(t, m.AssocErrors())
	require.Equal(t, cfg.RTOMax, pa.RTO, "backed off like DATA's T3")
	require.Equal(t, Active, info(t, m, b).State)

	// The peer goes silent: the probes count again.
	acts, now = driveZeroWindow(t, m, a, now, 1, false)
	require.Contains(t, acts, Action{Kind: PathStateChanged, Path: a, Old: Active, New: PotentiallyFailed})
	require.Equal(t, 1, info(t, m, a).ErrorCount)
	require.Equal(t, 1, m.AssocErrors())

	// A window that opened again: a timeout is a timeout.
	m.DataAcked(a, 0, false, true, now)
	m.DataAcked(b, 0, false, true, now) // the retransmission moved there
	m.SackReceived(65536, now)
	m.Tick(now)
	require.Zero(t, info(t, m, a).ErrorCount)
	acts, _ = driveZeroWindow(t, m, a, now.Add(time.Millisecond), 1, false)
	require.Len(t, ofKind(acts, Retransmit), 1)
	require.Equal(t, 1, info(t, m, a).ErrorCount)
}

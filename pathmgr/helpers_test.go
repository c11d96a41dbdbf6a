package pathmgr

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// t0 is the start of every fake clock.
var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// seqNonce returns a Nonce func yielding 0x100, 0x102, 0x104, ... (even, so
// an odd number is never a valid nonce).
func seqNonce() func() uint64 {
	n := uint64(0x100)
	return func() uint64 {
		v := n
		n += 2
		return v
	}
}

// testConfig is DefaultConfig with a deterministic Rand (0, i.e. the
// shortest heartbeat interval) and Nonce.
func testConfig() Config {
	c := DefaultConfig()
	c.Rand = func() float64 { return 0 }
	c.Nonce = seqNonce()
	return c
}

func newManager(t *testing.T, cfg Config) *Manager {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err)
	return m
}

func info(t *testing.T, m *Manager, p PathID) PathInfo {
	t.Helper()
	for _, pi := range m.Paths() {
		if pi.ID == p {
			return pi
		}
	}
	t.Fatalf("no path %d", p)
	return PathInfo{}
}

func ofKind(actions []Action, k ActionKind) []Action {
	var out []Action
	for _, a := range actions {
		if a.Kind == k {
			out = append(out, a)
		}
	}
	return out
}

// heartbeatTo returns the SendHeartbeat action for p in actions.
func heartbeatTo(t *testing.T, actions []Action, p PathID) Action {
	t.Helper()
	for _, a := range actions {
		if a.Kind == SendHeartbeat && a.Path == p {
			return a
		}
	}
	t.Fatalf("no heartbeat to path %d in %v", p, actions)
	return Action{}
}

// deadline returns NextDeadline and checks that Tick just before it does
// nothing.
func deadline(t *testing.T, m *Manager) time.Time {
	t.Helper()
	d, ok := m.NextDeadline()
	require.True(t, ok, "no deadline")
	require.Empty(t, m.Tick(d.Add(-time.Nanosecond)), "Tick before NextDeadline")
	return d
}

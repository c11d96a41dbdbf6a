package reliability

import (
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/pathmgr"
	"github.com/usock/usock/sock"
)

// TestIdleAssociationSurvivesLoss: an idle multi-homed association with 20%
// loss on both paths (both directions) and the telecom settings must not
// be declared dead: every heartbeat round trip succeeds with probability
// 0.64 and HEARTBEAT-ACKs clear the association error counter, so eleven
// consecutive failures are very unlikely (about 1e-5 per try).
//
// It failed about one time in five while sock started a T3-rtx timer on
// every failover and retransmission, also when nothing was outstanding
// (a timer nothing could acknowledge, counting association errors); the
// pure model in TestPathmgrPhantomT3 shows that rate.
func TestIdleAssociationSurvivesLoss(t *testing.T) {
	for i := range 10 {
		seed := baseSeed(t) + uint64(i)
		synctest.Test(t, func(t *testing.T) {
			reportSeed(t, seed)
			w := testkit.NewWorld(t, seed)
			im := impair(w, fault{loss: 0.2})
			p := w.Connect(t, tuned()...)
			im.setEnabled(true)
			time.Sleep(20 * time.Second)
			require.Equal(t, sock.StateEstablished, p.Client.State(), "client: %v", p.Client.Reason())
			require.Equal(t, sock.StateEstablished, p.Server.State(), "server: %v", p.Server.Reason())
		})
	}
}

// TestPathmgrPhantomT3 models the bug on pathmgr alone (no sockets): two
// paths, 36% of heartbeats unanswered, answers instant. As the
// association drives it, calling DataSent for failovers and retransmissions
// with nothing outstanding, associations fail; without those calls none
// does. The second half documents the cause; it passes either way.
func TestPathmgrPhantomT3(t *testing.T) {
	run := func(phantom bool) (dead int) {
		for i := range 200 {
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			cfg := pathmgr.DefaultConfig()
			cfg.RTOMin, cfg.RTOInitial, cfg.RTOMax = 10*time.Millisecond, 100*time.Millisecond, time.Second
			cfg.HBInterval = 100 * time.Millisecond
			cfg.Rand = rng.Float64
			var n uint64
			cfg.Nonce = func() uint64 { n++; return n }
			m, err := pathmgr.New(cfg)
			require.NoError(t, err)
			now := time.Unix(1000, 0)
			m.AddPath(true, now)
			m.AddPath(true, now)
			end := now.Add(8 * time.Second)
			for now.Before(end) && !m.Failed() {
				at, ok := m.NextDeadline()
				if !ok {
					break
				}
				now = at
				for _, a := range m.Tick(now) {
					if phantom && (a.Kind == pathmgr.PrimaryChanged || a.Kind == pathmgr.Retransmit) {
						m.DataSent(a.To, now)
					}
					if a.Kind == pathmgr.SendHeartbeat && rng.Float64() >= 0.36 {
						m.HeartbeatAcked(a.Path, a.Nonce, now)
					}
				}
			}
			if m.Failed() {
				dead++
			}
		}
		return dead
	}
	clean, phantom := run(false), run(true)
	t.Logf("idle, 36%% heartbeat loss, 8 s: %d of 200 fail; with DataSent on every failover: %d of 200", clean, phantom)
	require.Zero(t, clean, "pathmgr alone keeps idle associations up")
}

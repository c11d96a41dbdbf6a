package sock_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/sock"
)

// TestDeadPrimaryPacedSender: a multi-homed association whose client
// sends one message every 20 ms while its primary path is cut silently in
// both directions. pion's RACK and tail-loss probes re-send each lost TSN
// on the other path within about two round trips, long before any T3-rtx
// timer; the path must still be found dead: potentially failed at its
// first T3-rtx expiry, one RTO after the cut (RFC 7829 section 5.1 with
// PFMR 0), not credited with the acknowledgements of the copies that went
// the other way. Nothing may be lost or duplicated.
func TestDeadPrimaryPacedSender(t *testing.T) {
	for _, echo := range []bool{false, true} {
		t.Run(fmt.Sprintf("echo=%v", echo), func(t *testing.T) { deadPrimaryPaced(t, echo) })
	}
}

func deadPrimaryPaced(t *testing.T, echo bool) {
	synctest.Test(t, func(t *testing.T) {
		w := testkit.NewWorld(t, vnetSeed)
		server, err := w.B.NewEndpoint([]netip.Addr{testkit.B1, testkit.B2}, 5000, sock.AcceptMax(1))
		require.NoError(t, err)
		client, err := w.A.NewEndpoint([]netip.Addr{testkit.A1, testkit.A2}, 5001, sock.WithHeartbeatInterval(time.Second))
		require.NoError(t, err)
		ctx := context.Background()
		a, err := client.Connect(ctx, []netip.Addr{testkit.B1}, 5000, sock.WithRemoteUDPPort(testkit.VnetUDPPort))
		require.NoError(t, err)
		testkit.WaitEvent(t, client, testkit.FakeWait, testkit.Want{Type: sock.EventPathConfirmed, Path: testkit.B2})

		const n, cutAt, restoreAt = 700, 100, 550 // 9 s cut
		got := make(chan []string, 1)
		go func() {
			var msgs []string
			for range n {
				m, err := server.Recv(ctx)
				if err != nil {
					break
				}
				msgs = append(msgs, string(m.Payload))
				if echo {
					_ = m.Association.Send(ctx, m.Payload, sock.SendInfo{})
				}
			}
			got <- msgs
		}()
		var cutTime time.Time
		var rto time.Duration
		for i := range n {
			switch i {
			case cutAt:
				for _, p := range a.Paths() {
					if p.Remote == testkit.B1 {
						rto = p.RTO
					}
				}
				w.SetCut(1, true)
				cutTime = time.Now()
			case restoreAt:
				w.SetCut(1, false)
			}
			require.NoError(t, a.Send(ctx, []byte(fmt.Sprint(i)), sock.SendInfo{}))
			time.Sleep(20 * time.Millisecond)
		}
		msgs := <-got
		if echo {
			go func() {
				for {
					if _, err := client.Recv(ctx); err != nil {
						return
					}
				}
			}()
		}
		require.Len(t, msgs, n, "every message once")
		for i, m := range msgs {
			require.Equal(t, fmt.Sprint(i), m, "in order, no duplicate")
		}

		var pf, up time.Time
		ectx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		for pf.IsZero() || up.IsZero() {
			ev, err := client.Event(ectx)
			require.NoError(t, err, "potentially failed at %v, up at %v", pf, up)
			if ev.Path != testkit.B1 {
				continue
			}
			switch {
			case ev.Type == sock.EventPathPotentiallyFailed && pf.IsZero():
				pf = ev.Time
			case ev.Type == sock.EventPathUp && !pf.IsZero():
				up = ev.Time
			}
		}
		t.Logf("potentially failed %v after the cut (RTO %v), up again %v after it", pf.Sub(cutTime), rto, up.Sub(cutTime))
		// The first T3-rtx expiry after the cut: the timer of the
		// earliest DATA lost runs one RTO (section 6.3.2 R1), plus the
		// 20 ms until that DATA is sent.
		require.LessOrEqual(t, pf.Sub(cutTime), rto+100*time.Millisecond,
			"potentially failed %v after the cut (RTO %v)", pf.Sub(cutTime), rto)
		require.True(t, up.After(cutTime.Add(9*time.Second)), "back up only once restored")
	})
}

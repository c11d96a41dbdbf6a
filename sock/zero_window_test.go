package sock_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/sock"
)

// TestZeroWindowNoFlapping: a peer whose application never reads closes
// its receive window and keeps answering the zero window probes with
// SACKs. RFC 9260 section 6.1 rule A: "If the sender continues to receive
// SACK chunks from the peer while doing zero window probing, the
// unacknowledged window probes SHOULD NOT increment the error counter for
// the association or any destination transport address." For five and a
// half minutes of simulated time no path of the sender changes state and
// the association stays up.
func TestZeroWindowNoFlapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := testkit.NewWorld(t, vnetSeed)
		_, err := w.B.NewEndpoint([]netip.Addr{testkit.B1, testkit.B2}, 5000, sock.AcceptMax(1),
			sock.WithRecvQueue(1), sock.WithReceiveBuffer(8192), sock.WithMaxMessageSize(2048))
		require.NoError(t, err)
		client, err := w.A.NewEndpoint([]netip.Addr{testkit.A1, testkit.A2}, 5001)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		a, err := client.Connect(ctx, []netip.Addr{testkit.B1, testkit.B2}, 5000, sock.WithRemoteUDPPort(testkit.VnetUDPPort))
		require.NoError(t, err)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var pathEvents []sock.Event
		wg.Go(func() {
			for {
				ev, err := client.Event(ctx)
				if err != nil {
					return
				}
				switch ev.Type {
				case sock.EventPathPotentiallyFailed, sock.EventPathDown, sock.EventPathUp, sock.EventPrimaryChanged, sock.EventDown:
					mu.Lock()
					pathEvents = append(pathEvents, ev)
					mu.Unlock()
				}
			}
		})
		time.Sleep(5 * time.Second) // the second path is confirmed
		// The server's application never calls Recv: its window closes.
		sent := 0
		wg.Go(func() {
			for ctx.Err() == nil {
				if a.Send(ctx, make([]byte, 1000), sock.SendInfo{Stream: 1}) == nil {
					mu.Lock()
					sent++
					mu.Unlock()
				}
			}
		})
		packetsOut := func() uint64 {
			var n uint64
			for _, p := range a.Paths() {
				n += p.PacketsOut
			}
			return n
		}
		time.Sleep(10 * time.Second)
		before := packetsOut()
		time.Sleep(320 * time.Second)
		t.Logf("%d packets out in 320 s", packetsOut()-before)
		require.Greater(t, packetsOut()-before, uint64(5), "the probes go on, backed off")
		mu.Lock()
		t.Logf("%d messages taken, %d path events", sent, len(pathEvents))
		require.Empty(t, pathEvents, "no path flaps while the peer's window is closed")
		require.Less(t, sent, 100, "the window closed")
		mu.Unlock()
		require.Equal(t, sock.StateEstablished, a.State())
		for _, p := range a.Paths() {
			require.Equal(t, sock.PathActive, p.State, "path to %v", p.Remote)
		}
		cancel()
		a.Abort("done")
		wg.Wait()
	})
}

package reliability

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/sock"
)

// TestGracefulShutdownSeenAsShutdown: after a graceful Shutdown by one
// side (which returns nil), the other side's association must go down
// with ReasonShutdown, not ReasonAbortedByPeer.
func TestGracefulShutdownSeenAsShutdown(t *testing.T) {
	reasons := map[sock.DownReason]int{}
	for range 40 {
		p := testkit.NewLoopPair(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for i := range 50 {
			require.NoError(t, p.Client.Send(ctx, []byte{byte(i)}, sock.SendInfo{Stream: uint16(i % 4)}))
		}
		require.NoError(t, p.Client.Shutdown(ctx))
		for {
			ev, err := p.Listener.Event(ctx)
			require.NoError(t, err)
			if ev.Type == sock.EventDown {
				reasons[ev.Reason]++
				break
			}
		}
		cancel()
	}
	t.Logf("the peer's reasons: %v", reasons)
	require.Equal(t, map[sock.DownReason]int{sock.ReasonShutdown: 40}, reasons)
}

// TestNothingAfterShutdownComplete: the side that shuts down sends
// SHUTDOWN-COMPLETE and nothing more for the association (no ABORT after
// it, which a multi-homed peer may receive first, on another path).
func TestNothingAfterShutdownComplete(t *testing.T) {
	s := testkit.NewStack(t)
	ep, err := s.NewEndpoint(nil, 0, sock.AcceptMax(10))
	require.NoError(t, err)
	r := testkit.RawPeer(t, s, netip.AddrPortFrom(testkit.Lo4, 0))
	ra := establish(t, r, ep, 4900, rawpeer.SimpleInit(0xe001, 1000))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- ra.assoc.Shutdown(ctx)
	}()
	var seen []string
	gotShutdown := false
	for _, c := range r.Collect(300 * time.Millisecond) {
		seen = append(seen, c.Type.String())
		gotShutdown = gotShutdown || c.Type == wire.ChunkShutdown
	}
	require.True(t, gotShutdown, "a SHUTDOWN: %v", seen)
	ra.SendAssoc(wire.AppendShutdownAck(nil))
	var after []string
	for _, c := range r.Collect(500 * time.Millisecond) {
		after = append(after, c.Type.String())
	}
	require.NoError(t, <-done)
	t.Logf("after our SHUTDOWN-ACK: %v", after)
	require.Equal(t, []string{wire.ChunkShutdownComplete.String()}, after)
}

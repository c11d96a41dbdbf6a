package sock_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/sock"
)

// TestWindowReopensWithoutWaitingForProbe: a receiver that stops reading
// long enough for the sender's zero window probes to back off to minutes
// (RFC 9260 section 6.1 rule A) then reads again gets the data at once:
// it sends a window update (section 6.2) instead of leaving the sender to
// find out at its next probe, a minute later. In simulated time, so the
// bound on how long the rest takes is exact, not a guess about the
// machine.
func TestWindowReopensWithoutWaitingForProbe(t *testing.T) {
	for _, mode := range []sock.RecvMode{sock.RecvPerEndpoint, sock.RecvPerAssociation} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const window, size = 8192, 1024
				w := testkit.NewWorld(t, vnetSeed)
				server, err := w.B.NewEndpoint([]netip.Addr{testkit.B1}, 5000, sock.AcceptMax(1), sock.WithRecvMode(mode),
					sock.WithRecvQueue(1), sock.WithReceiveBuffer(window), sock.WithMaxMessageSize(size), sock.WithHeartbeatInterval(0))
				require.NoError(t, err)
				client, err := w.A.NewEndpoint([]netip.Addr{testkit.A1}, 5001, sock.WithHeartbeatInterval(0))
				require.NoError(t, err)
				ctx := context.Background()
				a, err := client.Connect(ctx, []netip.Addr{testkit.B1}, 5000, sock.WithRemoteUDPPort(testkit.VnetUDPPort))
				require.NoError(t, err)
				recv := func(ctx context.Context) (sock.Message, error) { return server.Recv(ctx) }
				if mode == sock.RecvPerAssociation {
					b, err := server.Accept(ctx)
					require.NoError(t, err)
					recv = b.Recv
				}
				// Fill the window: the sender blocks.
				sent := 0
				for {
					short, cancel := context.WithTimeout(ctx, time.Second)
					err := a.Send(short, make([]byte, size), sock.SendInfo{Stream: 1})
					cancel()
					if errors.Is(err, context.DeadlineExceeded) {
						break
					}
					require.NoError(t, err)
					sent++
				}
				// Ten minutes closed: the probes back off to RTO.Max.
				time.Sleep(10 * time.Minute)
				start := time.Now()
				for range sent {
					_, err := recv(ctx)
					require.NoError(t, err)
				}
				require.NoError(t, a.Send(ctx, []byte("after"), sock.SendInfo{Stream: 1}))
				m, err := recv(ctx)
				require.NoError(t, err)
				require.Equal(t, "after", string(m.Payload))
				took := time.Since(start)
				t.Logf("%d messages and one more in %v of simulated time after the window reopened", sent, took)
				require.Less(t, took, 10*time.Second, "not a backed-off probe's minute")
				a.Abort("done")
			})
		})
	}
}

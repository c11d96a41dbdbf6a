package sock

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A burst of DATA leaves through the send queue, equal-sized packets as
// one segmented send on Linux, and arrives complete and in order; with
// WithUDPBatching(false) every packet is its own system call.
func TestBurstThroughSendQueue(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(map[bool]string{true: "batching", false: "no-batching"}[on], func(t *testing.T) {
			// A wide burst gap: what makes a burst here is pion's write
			// loop, not how fast this machine runs it (the race detector
			// slows it past the default gap).
			server, client := newStack(t, WithUDPBatching(on), withBurstGap(5*time.Millisecond)), newStack(t, WithUDPBatching(on), withBurstGap(5*time.Millisecond))
			ln, err := server.NewEndpoint(nil, 0, AcceptMax(1))
			require.NoError(t, err)
			ep, err := client.NewEndpoint(nil, 0)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a, err := ep.Connect(ctx, []netip.Addr{lo4}, ln.Port(), WithRemoteUDPPort(server.UDPPort()))
			require.NoError(t, err)

			// Bursts are told from lone packets by how close together
			// they come; on a machine stalled for all of them, go again.
			const n = 500
			var segmented uint64
			for round := 0; round < 5 && (round == 0 || (on && segmented == 0)); round++ {
				go func() {
					for i := range n {
						msg := make([]byte, 1000)
						msg[0], msg[1] = byte(i>>8), byte(i)
						if a.Send(ctx, msg, SendInfo{Stream: 0, PPID: 7}) != nil {
							return
						}
					}
				}()
				for i := range n {
					m, err := ln.Recv(ctx)
					require.NoError(t, err)
					require.Len(t, m.Payload, 1000)
					require.Equal(t, i, int(m.Payload[0])<<8|int(m.Payload[1]), "in order")
				}
				segmented = 0
				for _, st := range client.Stats().Sockets {
					segmented += st.TxSegmented
					assert.Zero(t, st.TxErrors)
				}
			}
			if on && runtime.GOOS == "linux" {
				assert.NotZero(t, segmented, "a burst of 1000-byte messages has runs of equal packets")
			} else {
				assert.Zero(t, segmented)
			}
		})
	}
}

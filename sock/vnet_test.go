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

// vnetSeed is the network seed of the vnet tests.
const vnetSeed = 0x9e3779b97f4a7c15

func TestVnetExchange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := testkit.NewWorld(t, vnetSeed)
		server, err := w.B.NewEndpoint([]netip.Addr{testkit.B1, testkit.B2}, 5000, sock.AcceptMax(4))
		require.NoError(t, err)
		client, err := w.A.NewEndpoint([]netip.Addr{testkit.A1, testkit.A2}, 5001)
		require.NoError(t, err)
		ctx := context.Background()
		a, err := client.Connect(ctx, []netip.Addr{testkit.B1, testkit.B2}, 5000, sock.WithRemoteUDPPort(testkit.VnetUDPPort))
		require.NoError(t, err)
		for i := range 10 {
			require.NoError(t, a.Send(ctx, []byte(fmt.Sprint(i)), sock.SendInfo{Stream: 1}))
		}
		for i := range 10 {
			m, err := server.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprint(i), string(m.Payload))
		}
		paths := a.Paths()
		require.Len(t, paths, 2, "both of the peer's addresses")
		require.Equal(t, testkit.B1, paths[0].Remote)
		require.Equal(t, testkit.A1, paths[0].Local)
		require.Equal(t, testkit.B2, paths[1].Remote)
		require.Equal(t, testkit.A2, paths[1].Local)
		time.Sleep(time.Minute) // idle: nothing breaks in a minute of fake time
		require.Equal(t, sock.StateEstablished, a.State())
	})
}

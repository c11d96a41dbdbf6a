package sock

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/vnettest"
)

// vnetWorld is the two-host world of internal/vnettest with a stack on
// each host.
type vnetWorld struct {
	*vnettest.World
	a, b *Stack
}

var (
	vA1, vA2, vB1, vB2 = vnettest.A1, vnettest.A2, vnettest.B1, vnettest.B2
)

const vnetUDPPort = 9899

// newVnetWorld must run inside a synctest bubble.
func newVnetWorld(t *testing.T) *vnetWorld {
	t.Helper()
	world, err := vnettest.New(0x9e3779b97f4a7c15)
	require.NoError(t, err)
	w := &vnetWorld{World: world}
	w.a, err = NewStack(WithNet(world.A), WithUDPPort(vnetUDPPort))
	require.NoError(t, err)
	w.b, err = NewStack(WithNet(world.B), WithUDPPort(vnetUDPPort))
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, w.a.Close())
		require.NoError(t, w.b.Close())
		require.NoError(t, world.Close())
	})
	return w
}

func (w *vnetWorld) setCut(path int, cut bool) { w.SetCut(path, cut) }

func TestVnetExchange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newVnetWorld(t)
		server, err := w.b.NewEndpoint([]netip.Addr{vB1, vB2}, 5000, AcceptMax(4))
		require.NoError(t, err)
		client, err := w.a.NewEndpoint([]netip.Addr{vA1, vA2}, 5001)
		require.NoError(t, err)
		ctx := context.Background()
		a, err := client.Connect(ctx, []netip.Addr{vB1, vB2}, 5000, WithRemoteUDPPort(vnetUDPPort))
		require.NoError(t, err)
		for i := range 10 {
			require.NoError(t, a.Send(ctx, []byte(fmt.Sprint(i)), SendInfo{Stream: 1}))
		}
		for i := range 10 {
			m, err := server.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprint(i), string(m.Payload))
		}
		paths := a.Paths()
		require.Len(t, paths, 2, "both of the peer's addresses")
		require.Equal(t, vB1, paths[0].Remote)
		require.Equal(t, vA1, paths[0].Local)
		require.Equal(t, vB2, paths[1].Remote)
		require.Equal(t, vA2, paths[1].Local)
		time.Sleep(time.Minute) // idle: nothing breaks in a minute of fake time
		require.Equal(t, "ESTABLISHED", a.State())
	})
}

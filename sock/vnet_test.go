package sock_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/sock"
	"github.com/usock/usock/socktest"
)

// vnetWorld is two multi-homed hosts, A and B, on a socktest network with
// a stack on each. Path 1 is 10.0.1.0/24, path 2 is 10.0.2.0/24.
type vnetWorld struct {
	net  *socktest.Network
	a, b *sock.Stack
}

// The hosts' addresses.
var (
	vA1 = netip.MustParseAddr("10.0.1.1")
	vA2 = netip.MustParseAddr("10.0.2.1")
	vB1 = netip.MustParseAddr("10.0.1.2")
	vB2 = netip.MustParseAddr("10.0.2.2")
)

const vnetUDPPort = sock.DefaultUDPPort

// newVnetWorld must run inside a synctest bubble; the network and the
// stacks close at the end of the test.
func newVnetWorld(t *testing.T) *vnetWorld {
	t.Helper()
	n := socktest.NewNetwork(t, socktest.WithSeed(0x9e3779b97f4a7c15), socktest.WithUDPPort(vnetUDPPort))
	return &vnetWorld{
		net: n,
		a:   n.AddHost("a", vA1, vA2).Stack(),
		b:   n.AddHost("b", vB1, vB2).Stack(),
	}
}

// path is the traffic of path p: every packet from an address in
// 10.0.p.0/24, both hosts' (so both directions).
func (w *vnetWorld) path(p int) *socktest.Link {
	return w.net.Link(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(p), 0}), 24), socktest.DefaultPrefix)
}

// setCut cuts (or restores) a path in both directions.
func (w *vnetWorld) setCut(p int, cut bool) { w.path(p).Cut(cut) }

// SetLoss drops the share l of a path's packets, both directions.
func (w *vnetWorld) SetLoss(p int, l float64) { w.path(p).SetLoss(l) }

func TestVnetExchange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newVnetWorld(t)
		server, err := w.b.NewEndpoint([]netip.Addr{vB1, vB2}, 5000, sock.AcceptMax(4))
		require.NoError(t, err)
		client, err := w.a.NewEndpoint([]netip.Addr{vA1, vA2}, 5001)
		require.NoError(t, err)
		ctx := context.Background()
		a, err := client.Connect(ctx, []netip.Addr{vB1, vB2}, 5000, sock.WithRemoteUDPPort(vnetUDPPort))
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
		require.Equal(t, vB1, paths[0].Remote)
		require.Equal(t, vA1, paths[0].Local)
		require.Equal(t, vB2, paths[1].Remote)
		require.Equal(t, vA2, paths[1].Local)
		time.Sleep(time.Minute) // idle: nothing breaks in a minute of fake time
		require.Equal(t, sock.StateEstablished, a.State())
	})
}

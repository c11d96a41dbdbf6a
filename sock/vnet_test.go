package sock

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
	"github.com/stretchr/testify/require"
)

// vnetWorld is two multi-homed hosts on one pion vnet router: host A has
// 10.0.1.1 and 10.0.2.1, host B 10.0.1.2 and 10.0.2.2; "path 1" is the
// 10.0.1.0/24 pair, "path 2" the 10.0.2.0/24 pair. cut drops every packet
// of a path, loss drops a share of them (seeded).
type vnetWorld struct {
	router *vnet.Router
	a, b   *Stack

	mu   sync.Mutex
	cut  map[int]bool
	loss map[int]float64
	rnd  uint64
}

var (
	vA1 = netip.MustParseAddr("10.0.1.1")
	vA2 = netip.MustParseAddr("10.0.2.1")
	vB1 = netip.MustParseAddr("10.0.1.2")
	vB2 = netip.MustParseAddr("10.0.2.2")
)

const vnetUDPPort = 9899

// newVnetWorld must run inside a synctest bubble.
func newVnetWorld(t *testing.T) *vnetWorld {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/8", LoggerFactory: lf})
	require.NoError(t, err)
	w := &vnetWorld{router: router, cut: map[int]bool{}, loss: map[int]float64{}, rnd: 0x9e3779b97f4a7c15}
	router.AddChunkFilter(w.filter)
	hostA, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{vA1.String(), vA2.String()}})
	require.NoError(t, err)
	hostB, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{vB1.String(), vB2.String()}})
	require.NoError(t, err)
	require.NoError(t, router.AddNet(hostA))
	require.NoError(t, router.AddNet(hostB))
	require.NoError(t, router.Start())
	w.a, err = NewStack(WithNet(hostA), WithUDPPort(vnetUDPPort))
	require.NoError(t, err)
	w.b, err = NewStack(WithNet(hostB), WithUDPPort(vnetUDPPort))
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, w.a.Close())
		require.NoError(t, w.b.Close())
		require.NoError(t, router.Stop())
	})
	return w
}

func pathOf(a netip.Addr) int {
	return int(a.As4()[2])
}

func (w *vnetWorld) filter(c vnet.Chunk) bool {
	udp, ok := c.SourceAddr().(*net.UDPAddr)
	if !ok {
		return true
	}
	p := pathOf(udp.AddrPort().Addr().Unmap())
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cut[p] {
		return false
	}
	if l := w.loss[p]; l > 0 {
		// xorshift64*: deterministic under synctest.
		w.rnd ^= w.rnd >> 12
		w.rnd ^= w.rnd << 25
		w.rnd ^= w.rnd >> 27
		if float64((w.rnd*2685821657736338717)>>11)/float64(1<<53) < l {
			return false
		}
	}
	return true
}

func (w *vnetWorld) setCut(path int, cut bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cut[path] = cut
}

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

package sock_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/sock"
)

// On a pion vnet, which cannot choose a wildcard socket's sources, a
// wildcard endpoint is one socket per address of the host (from the
// vnet's interfaces): reached at its second address, it answers from it
// and lists both, and both paths are confirmed.
func TestWildcardVnet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newVnetWorld(t)
		server, err := w.b.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, 5000, append(tuned(), sock.AcceptMax(4))...)
		require.NoError(t, err)
		client, err := w.a.NewEndpoint([]netip.Addr{vA1}, 5001, tuned()...)
		require.NoError(t, err)
		ctx := context.Background()
		a, err := client.Connect(ctx, []netip.Addr{vB2}, 5000, sock.WithRemoteUDPPort(vnetUDPPort))
		require.NoError(t, err)
		waitAllConfirmed(t, a, 2)
		ps := a.Paths()
		require.Equal(t, []netip.Addr{vB2, vB1}, []netip.Addr{ps[0].Remote, ps[1].Remote})
		for _, p := range ps {
			require.NotZero(t, p.PacketsIn, "packets from %v", p.Remote)
		}
		got, err := w.b.Endpoint(vB1, 5000)
		require.NoError(t, err)
		require.Same(t, server, got)
		a.Abort("done")
	})
}

// waitAllConfirmed waits until a has n paths, all active.
func waitAllConfirmed(t *testing.T, a *sock.Association, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		ps := a.Paths()
		done := len(ps) == n
		for _, p := range ps {
			done = done && p.State == sock.PathActive
		}
		if done {
			return
		}
		_, err := a.Endpoint().Event(ctx)
		require.NoError(t, err, "paths not all confirmed: %+v", a.Paths())
	}
}

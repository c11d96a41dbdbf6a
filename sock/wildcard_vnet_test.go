package sock_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/sock"
)

// On a pion vnet, which cannot choose a wildcard socket's sources, a
// wildcard endpoint is one socket per address of the host (from the
// vnet's interfaces): reached at its second address, it answers from it
// and lists both, and both paths are confirmed.
func TestWildcardVnet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := testkit.NewWorld(t, vnetSeed)
		server, err := w.B.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, 5000, append(tuned(), sock.AcceptMax(4))...)
		require.NoError(t, err)
		client, err := w.A.NewEndpoint([]netip.Addr{testkit.A1}, 5001, tuned()...)
		require.NoError(t, err)
		ctx := context.Background()
		a, err := client.Connect(ctx, []netip.Addr{testkit.B2}, 5000, sock.WithRemoteUDPPort(testkit.VnetUDPPort))
		require.NoError(t, err)
		sock.WaitPathsConfirmed(t, a, 2)
		ps := a.Paths()
		require.Equal(t, []netip.Addr{testkit.B2, testkit.B1}, []netip.Addr{ps[0].Remote, ps[1].Remote})
		for _, p := range ps {
			require.NotZero(t, p.PacketsIn, "packets from %v", p.Remote)
		}
		got, err := w.B.Endpoint(testkit.B1, 5000)
		require.NoError(t, err)
		require.Same(t, server, got)
		a.Abort("done")
	})
}

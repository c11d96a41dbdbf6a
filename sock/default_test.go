package sock

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDefaultStack: the package-level calls use one default stack on UDP
// port 9899 (skipped when something else holds that port here).
func TestDefaultStack(t *testing.T) {
	if c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: DefaultUDPPort}); err != nil {
		t.Skipf("UDP port %d is taken here: %v", DefaultUDPPort, err)
	} else {
		_ = c.Close()
	}
	require.Nil(t, Endpoints(), "no default stack yet")
	ep, err := NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	s, err := Default()
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, uint16(DefaultUDPPort), s.UDPPort())
	require.Equal(t, []*Endpoint{ep}, Endpoints())
	got, err := GetEndpoint(lo4, ep.Port())
	require.NoError(t, err)
	require.Same(t, ep, got)
	_, err = GetEndpoint(lo4, ep.Port()+1)
	require.ErrorIs(t, err, ErrNotFound)

	dialer, err := NewEndpoint(nil, 0)
	require.NoError(t, err)
	a, err := dialer.Connect(context.Background(), []netip.Addr{lo4}, ep.Port())
	require.NoError(t, err, "the default remote UDP port is the default stack's own")
	found, err := FindAssociation(lo4, dialer.Port(), lo4, ep.Port())
	require.NoError(t, err)
	require.Same(t, a, found)
}

package multihome

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
)

var (
	lo1  = netip.MustParseAddr("127.0.0.1")
	lo2  = netip.MustParseAddr("127.0.0.2")
	pub1 = netip.MustParseAddr("192.0.2.1")
	pub2 = netip.MustParseAddr("198.51.100.1")
	v6   = netip.MustParseAddr("2001:db8::1")
	lo6  = netip.MustParseAddr("::1")
)

var (
	ll6  = netip.MustParseAddr("fe80::1")
	ll6b = netip.MustParseAddr("fe80::2")
	ll4  = netip.MustParseAddr("169.254.1.1")
	v6b  = netip.MustParseAddr("2001:db8::2")
	v6c  = netip.MustParseAddr("2001:db8:1::3")
)

// many returns n distinct global IPv4 addresses.
func many(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)})
	}
	return out
}

func listed(ps []wire.Param) (addrs []netip.Addr, types []wire.ParamType) {
	for _, p := range ps {
		switch p.Type {
		case wire.ParamIPv4Address, wire.ParamIPv6Address:
			a, _ := p.Addr()
			addrs = append(addrs, a)
		case wire.ParamSupportedAddressTypes:
			types, _ = p.AddressTypes()
		}
	}
	return addrs, types
}

func TestAdvertise(t *testing.T) {
	for _, c := range []struct {
		name      string
		local     []netip.Addr
		peer      netip.Addr
		peerTypes []wire.ParamType
		want      []netip.Addr
		wantTypes []wire.ParamType
	}{
		{"loopback pair to loopback peer", []netip.Addr{lo1, lo2}, lo1, nil, []netip.Addr{lo1, lo2}, []wire.ParamType{wire.ParamIPv4Address}},
		{"no loopback to a remote peer", []netip.Addr{lo1, pub1, pub2}, pub2, nil, []netip.Addr{pub1, pub2}, []wire.ParamType{wire.ParamIPv4Address}},
		{"a lone address is not listed", []netip.Addr{lo1, pub1}, pub2, nil, nil, []wire.ParamType{wire.ParamIPv4Address}},
		{"no IPv6 to an IPv4-only peer", []netip.Addr{pub1, pub2, v6}, pub2, []wire.ParamType{wire.ParamIPv4Address}, []netip.Addr{pub1, pub2}, []wire.ParamType{wire.ParamIPv4Address}},
		{"dual stack", []netip.Addr{pub1, v6}, pub2, nil, []netip.Addr{pub1, v6}, []wire.ParamType{wire.ParamIPv4Address, wire.ParamIPv6Address}},
		{"wildcard lists nothing", []netip.Addr{netip.IPv4Unspecified()}, lo1, nil, nil, []wire.ParamType{wire.ParamIPv4Address}},
		{"IPv6 loopback peer", []netip.Addr{lo6, v6}, lo6, nil, []netip.Addr{lo6, v6}, []wire.ParamType{wire.ParamIPv6Address}},
		{"no link-local to a global peer", []netip.Addr{ll6, v6, v6b}, v6c, nil, []netip.Addr{v6, v6b}, []wire.ParamType{wire.ParamIPv6Address}},
		{"link-local to a link-local peer", []netip.Addr{ll6, v6}, ll6b, nil, []netip.Addr{ll6, v6}, []wire.ParamType{wire.ParamIPv6Address}},
		{"no IPv4 link-local to a global peer", []netip.Addr{ll4, pub1}, pub2, nil, nil, []wire.ParamType{wire.ParamIPv4Address}},
		{"duplicates listed once", []netip.Addr{pub1, pub2, pub1}, pub2, nil, []netip.Addr{pub1, pub2}, []wire.ParamType{wire.ParamIPv4Address}},
		{"at most MaxPeerAddresses", many(MaxPeerAddresses + 5), pub2, nil, many(MaxPeerAddresses), []wire.ParamType{wire.ParamIPv4Address}},
	} {
		t.Run(c.name, func(t *testing.T) {
			addrs, types := listed(Advertise(c.local, c.peer, c.peerTypes))
			require.Equal(t, c.want, addrs)
			require.Equal(t, c.wantTypes, types)
			// For an INIT-ACK: the same addresses, no Supported Address
			// Types (RFC 9260 section 3.3.3).
			ackAddrs, ackTypes := listed(AdvertiseAddrs(c.local, c.peer, c.peerTypes))
			require.Equal(t, c.want, ackAddrs)
			require.Nil(t, ackTypes)
		})
	}
}

func TestPeerAddresses(t *testing.T) {
	init := wire.Init{InitiateTag: 1, ARwnd: 1, OutStreams: 1, InStreams: 1, InitialTSN: 1, Params: []wire.Param{
		wire.AddressParam(pub1),
		wire.AddressParam(pub2),
		wire.AddressParam(pub1),                                   // duplicate
		wire.AddressParam(netip.MustParseAddr("224.0.0.1")),       // multicast
		wire.AddressParam(lo2),                                    // loopback from a remote source
		wire.AddressParam(v6),                                     // no local IPv6
		{Type: wire.ParamType(0xC123), Value: []byte{1, 2, 3, 4}}, // skip and report
		{Type: wire.ParamType(0x4123), Value: []byte{5}},          // stop and report
		wire.AddressParam(netip.MustParseAddr("203.0.113.9")),     // never reached
	}}
	only4 := func(a netip.Addr) bool { return a.Is4() }
	addrs, unrec, excess := PeerAddresses(pub2, &init, only4)
	require.Zero(t, excess)
	require.Equal(t, []netip.Addr{pub2, pub1}, addrs)
	require.Len(t, unrec, 2)
	require.Equal(t, wire.ParamType(0xC123), unrec[0].Type)
	require.Equal(t, wire.ParamType(0x4123), unrec[1].Type)

	// A loopback source may list loopback addresses.
	lo := wire.Init{Params: []wire.Param{wire.AddressParam(lo2)}}
	addrs, _, _ = PeerAddresses(lo1, &lo, nil)
	require.Equal(t, []netip.Addr{lo1, lo2}, addrs)
	// An unknown parameter with action 00: stop silently.
	stop := wire.Init{Params: []wire.Param{{Type: 0x0123}, wire.AddressParam(lo2)}}
	addrs, unrec, _ = PeerAddresses(lo1, &stop, nil)
	require.Equal(t, []netip.Addr{lo1}, addrs)
	require.Empty(t, unrec)
}

// One INIT listing 300 addresses makes no association with 300 paths: the
// source address and the first MaxPeerAddresses-1 listed ones, the rest
// reported as excess; parameters after them are still processed.
func TestPeerAddressesBound(t *testing.T) {
	var in wire.Init
	for i := range 300 {
		in.Params = append(in.Params, wire.AddressParam(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})))
	}
	in.Params = append(in.Params, wire.AddressParam(pub2)) // the source again: no excess
	in.Params = append(in.Params, wire.Param{Type: wire.ParamType(0xC123), Value: []byte{1}})
	addrs, unrec, excess := PeerAddresses(pub2, &in, nil)
	require.Len(t, addrs, MaxPeerAddresses)
	require.Equal(t, pub2, addrs[0])
	require.Equal(t, netip.MustParseAddr("10.1.0.0"), addrs[1])
	require.Equal(t, 300-(MaxPeerAddresses-1), excess)
	require.Len(t, unrec, 1, "parameters past the bound are still read")
}

func TestAddressTypes(t *testing.T) {
	require.Nil(t, AddressTypes(&wire.Init{}))
	in := wire.Init{Params: []wire.Param{wire.SupportedAddressTypesParam(wire.ParamIPv4Address)}}
	require.Equal(t, []wire.ParamType{wire.ParamIPv4Address}, AddressTypes(&in))
}

func TestLocalFor(t *testing.T) {
	local := []netip.Addr{lo1, pub1, v6}
	got, ok := LocalFor(local, lo2)
	require.True(t, ok)
	require.Equal(t, lo1, got)
	got, ok = LocalFor(local, pub2)
	require.True(t, ok)
	require.Equal(t, pub1, got)
	got, ok = LocalFor(local, netip.MustParseAddr("2001:db8::2"))
	require.True(t, ok)
	require.Equal(t, v6, got)
	_, ok = LocalFor([]netip.Addr{lo1}, v6)
	require.False(t, ok)
	// One address per network: the one on the peer's network.
	a1, a2 := netip.MustParseAddr("10.0.1.1"), netip.MustParseAddr("10.0.2.1")
	got, _ = LocalFor([]netip.Addr{a1, a2}, netip.MustParseAddr("10.0.2.2"))
	require.Equal(t, a2, got)
	got, _ = LocalFor([]netip.Addr{a1, a2}, netip.MustParseAddr("10.0.1.2"))
	require.Equal(t, a1, got)
}

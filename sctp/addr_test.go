package sctp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResolveSCTPAddr(t *testing.T) {
	for _, tc := range []struct {
		network, in string
		ips         []string
		port        int
		str         string
	}{
		{"sctp", "127.0.0.1:3868", []string{"127.0.0.1"}, 3868, "127.0.0.1:3868"},
		{"", "10.0.0.1/10.0.0.2:38412", []string{"10.0.0.1", "10.0.0.2"}, 38412, "10.0.0.1/10.0.0.2:38412"},
		{"sctp6", "[::1]/[fe80::1%lo]:2905", []string{"::1", "fe80::1%lo"}, 2905, "[::1]/[fe80::1%lo]:2905"},
		{"sctp4", ":36412", nil, 36412, ":36412"},
		{"sctp", "10.0.0.1/:9", nil, 9, ":9"}, // no host at the end: no addresses, as the original
		{"sctp", "0.0.0.0:0", []string{"0.0.0.0"}, 0, "0.0.0.0:0"},
	} {
		a, err := ResolveSCTPAddr(tc.network, tc.in)
		require.NoError(t, err, tc.in)
		var got []string
		for _, ip := range a.IPAddrs {
			got = append(got, ip.String())
		}
		require.Equal(t, tc.ips, got, tc.in)
		require.Equal(t, tc.port, a.Port, tc.in)
		require.Equal(t, tc.str, a.String(), tc.in)
		require.Equal(t, "sctp", a.Network())
	}
	for _, tc := range []struct{ network, in string }{
		{"tcp", "127.0.0.1:1"},
		{"sctp", "127.0.0.1"},
		{"sctp", "127.0.0.1:99999"},
		{"sctp4", "[::1]:1"},
		{"sctp", "no-such-host.invalid/1.2.3.4:5"},
	} {
		_, err := ResolveSCTPAddr(tc.network, tc.in)
		require.Error(t, err, "%s %s", tc.network, tc.in)
	}
}

func TestSCTPAddrNetip(t *testing.T) {
	a := &SCTPAddr{IPAddrs: []net.IPAddr{{IP: net.ParseIP("127.0.0.1")}, {IP: net.ParseIP("fe80::1"), Zone: "lo"}}, Port: 5}
	ips, err := a.netipAddrs()
	require.NoError(t, err)
	require.Equal(t, []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("fe80::1%lo")}, ips, "4-in-6 unmapped, zone kept")
	p, err := a.port()
	require.NoError(t, err)
	require.Equal(t, uint16(5), p)
	back := fromNetip(ips, 5)
	require.Equal(t, a.String(), back.String())

	_, err = (&SCTPAddr{IPAddrs: []net.IPAddr{{IP: net.IP{1, 2, 3}}}}).netipAddrs()
	require.ErrorIs(t, err, ErrInvalidAddress)
	_, err = (&SCTPAddr{Port: 70000}).port()
	require.ErrorIs(t, err, ErrInvalidAddress)
}

func TestToRawSockAddrBuf(t *testing.T) {
	a := &SCTPAddr{IPAddrs: []net.IPAddr{{IP: net.ParseIP("10.0.0.1")}, {IP: net.ParseIP("::1")}}, Port: 3868}
	b := a.ToRawSockAddrBuf()
	require.Len(t, b, 16+28)
	require.Equal(t, uint16(afInet), binary.NativeEndian.Uint16(b[0:]))
	require.Equal(t, uint16(3868), binary.BigEndian.Uint16(b[2:]))
	require.Equal(t, []byte{10, 0, 0, 1}, b[4:8])
	require.Equal(t, uint16(afInet6), binary.NativeEndian.Uint16(b[16:]))
	require.Equal(t, uint16(3868), binary.BigEndian.Uint16(b[18:]))
	require.Equal(t, net.ParseIP("::1").To16(), net.IP(b[24:40]))

	empty := (&SCTPAddr{Port: 1}).ToRawSockAddrBuf()
	require.Len(t, empty, 16, "no addresses: the IPv4 wildcard")
	require.Equal(t, []byte{0, 0, 0, 0}, empty[4:8])
}

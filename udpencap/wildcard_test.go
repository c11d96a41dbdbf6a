package udpencap

import (
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	lo4b = netip.MustParseAddr("127.0.0.2")
	lo4c = netip.MustParseAddr("127.0.0.3")
)

// otherIPv6 returns a host IPv6 address other than ::1 that is not
// link-local, if the host has one.
func otherIPv6(t *testing.T) (netip.Addr, bool) {
	t.Helper()
	hosts, err := HostAddrs(nil)
	require.NoError(t, err)
	for _, h := range hosts {
		if h.Is6() && !h.IsLoopback() && !h.IsLinkLocalUnicast() {
			return h, true
		}
	}
	return netip.Addr{}, false
}

// A wildcard socket sends each datagram from the address it is sent
// from, not from the one the kernel would pick for the destination: by
// Send and Enqueue, batched or not, and in a burst that the
// send queue segments (runs from two sources alternate, so a segmented
// send must not mix them).
func TestWildcardSendsFromChosenAddress(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("source selection on a wildcard socket is Linux's; elsewhere the wildcard is one socket per address (TestSocketPerAddress)")
	}
	bothModes(t, func(t *testing.T, disable bool) {
		rx := openT(t, Config{DisableBatching: disable})
		tx := openT(t, Config{LocalAddrs: []netip.Addr{netip.IPv4Unspecified()}, DisableBatching: disable})
		require.True(t, tx.Sockets()[0].SourceSelection)
		ch := make(chan got, 512)
		listen(rx, ch)
		to := rx.LocalAddrs()[0] // 127.0.0.1: the kernel's choice of source would be 127.0.0.1 too

		require.NoError(t, tx.Send(makePacket(1, 5000, 1, nil), lo4b, to))
		assert.Equal(t, netip.AddrPortFrom(lo4b, tx.Port()), await(t, ch).meta.Src, "Send")
		require.NoError(t, tx.Send(makePacket(1, 5000, 2, nil), netip.Addr{}, to))
		assert.Equal(t, lo4, await(t, ch).meta.Src.Addr(), "no source: the kernel's")

		const burst = 300
		from := func(i int) netip.Addr {
			if i/50%2 == 0 {
				return lo4b
			}
			return lo4c
		}
		for i := range burst {
			payload := make([]byte, 1000)
			require.NoError(t, tx.Enqueue(makePacket(1, 5000, uint32(100+i), payload), from(i), to))
		}
		for range burst {
			g := await(t, ch)
			i := int(g.hdr.VerificationTag) - 100
			assert.Equal(t, from(i), g.meta.Src.Addr(), "Enqueue, packet %d", i)
		}
		assert.Zero(t, tx.Stats().TxErrors)
	})
}

func TestWildcardSendsFromChosenAddressIPv6(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("source selection on a wildcard socket is Linux's")
	}
	skipNoIPv6(t)
	other, ok := otherIPv6(t)
	if !ok {
		t.Skip("the host has no IPv6 address but ::1 to send from")
	}
	rx := openT(t, Config{LocalAddrs: []netip.Addr{lo6}})
	tx := openT(t, Config{LocalAddrs: []netip.Addr{netip.IPv6Unspecified()}})
	ch := make(chan got, 4)
	listen(rx, ch)
	to := rx.LocalAddrs()[0]
	require.NoError(t, tx.Send(makePacket(1, 5000, 1, nil), other, to))
	assert.Equal(t, other, await(t, ch).meta.Src.Addr())
	require.NoError(t, tx.Enqueue(makePacket(1, 5000, 1, nil), other, to))
	assert.Equal(t, other, await(t, ch).meta.Src.Addr())
}

// Where one wildcard socket cannot choose its sources, a wildcard address
// is bound as one socket per host address; datagrams arrive on and leave
// from each.
func TestSocketPerAddress(t *testing.T) {
	hosts := func() ([]netip.Addr, error) { return []netip.Addr{lo4, lo4b, lo6}, nil }
	tx := openT(t, Config{LocalAddrs: []netip.Addr{netip.IPv4Unspecified()}, SocketPerAddress: true, HostAddrs: hosts})
	port := tx.Port()
	require.Equal(t, []netip.AddrPort{netip.AddrPortFrom(lo4, port), netip.AddrPortFrom(lo4b, port)}, tx.LocalAddrs())
	assert.True(t, tx.Serves(lo4b))
	assert.False(t, tx.Serves(lo4c), "no socket there")
	for _, s := range tx.Sockets() {
		assert.False(t, s.SourceSelection)
	}

	rx := openT(t, Config{})
	ch := make(chan got, 4)
	listen(rx, ch)
	listen(tx, ch)
	require.NoError(t, tx.Send(makePacket(1, 5000, 1, nil), lo4b, rx.LocalAddrs()[0]))
	g := await(t, ch)
	assert.Equal(t, netip.AddrPortFrom(lo4b, port), g.meta.Src)
	require.NoError(t, rx.Send(makePacket(1, 5000, 2, nil), netip.Addr{}, netip.AddrPortFrom(lo4b, port)))
	assert.Equal(t, netip.AddrPortFrom(lo4b, port), await(t, ch).meta.Local)
}

// On Linux a wildcard address is one socket that serves every address of
// its family, the specific ones listed with it included.
func TestWildcardServesItsFamily(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("one wildcard socket for all addresses is Linux's")
	}
	tr := openT(t, Config{LocalAddrs: []netip.Addr{lo4b, netip.IPv4Unspecified()}})
	require.Equal(t, []netip.AddrPort{netip.AddrPortFrom(netip.IPv4Unspecified(), tr.Port())}, tr.LocalAddrs())
	assert.True(t, tr.Serves(lo4b))
	assert.True(t, tr.Serves(lo4c))
	assert.False(t, tr.Serves(lo6), "not the other family")
}

func TestBindPlan(t *testing.T) {
	w4, w6 := netip.IPv4Unspecified(), netip.IPv6Unspecified()
	ll := netip.MustParseAddr("fe80::1")
	g6 := netip.MustParseAddr("2001:db8::1")
	hosts := func() ([]netip.Addr, error) { return []netip.Addr{lo4, lo4b, lo6, ll, g6}, nil }
	for _, c := range []struct {
		name      string
		in        []netip.Addr
		selectSrc bool
		want      []netip.Addr
	}{
		{"specific only", []netip.Addr{lo4, lo6}, false, []netip.Addr{lo4, lo6}},
		{"wildcard selecting sources", []netip.Addr{w4}, true, []netip.Addr{w4}},
		{"wildcard absorbs its family", []netip.Addr{lo4, w4, lo6}, true, []netip.Addr{w4, lo6}},
		{"wildcard per host address", []netip.Addr{w4}, false, []netip.Addr{lo4, lo4b}},
		{"specific kept next to the host addresses", []netip.Addr{lo4c, w4}, false, []netip.Addr{lo4c, lo4, lo4b}},
		{"IPv6 without link-local", []netip.Addr{w6}, false, []netip.Addr{lo6, g6}},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, bindPlan(c.in, c.selectSrc, hosts))
		})
	}
	none := func() ([]netip.Addr, error) { return nil, nil }
	assert.Equal(t, []netip.Addr{w6}, bindPlan([]netip.Addr{w6}, false, none), "no host address: the wildcard itself")
}

// A UDP port another socket holds is reported as ErrAddressInUse.
func TestOpenAddressInUse(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer c.Close()
	port := uint16(c.LocalAddr().(*net.UDPAddr).Port)
	_, err = Open(Config{Receiver: new(relay), Port: port})
	require.ErrorIs(t, err, ErrAddressInUse)
	_, err = Open(Config{Receiver: new(relay), Port: port, LocalAddrs: []netip.Addr{netip.IPv4Unspecified()}})
	require.ErrorIs(t, err, ErrAddressInUse)
}

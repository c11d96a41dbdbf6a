package udpencap

import (
	"bytes"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/usock/usock/internal/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	lo4 = netip.MustParseAddr("127.0.0.1")
	lo6 = netip.MustParseAddr("::1")
)

// makePacket builds an SCTP packet: common header, payload, valid CRC32c.
func makePacket(src, dst uint16, vtag uint32, payload []byte) []byte {
	pkt := make([]byte, wire.CommonHeaderSize+len(payload))
	wire.CommonHeader{SrcPort: src, DstPort: dst, VerificationTag: vtag}.Put(pkt)
	copy(pkt[wire.CommonHeaderSize:], payload)
	wire.SetChecksum(pkt)
	return pkt
}

type got struct {
	pkt  []byte
	hdr  wire.CommonHeader
	meta Meta
}

// relay is the Receiver of the transports openT opens: it copies every
// packet into the channel listen gave it, and drops packets before that.
type relay struct{ ch atomic.Pointer[chan got] }

func (r *relay) ReceivePacket(pkt []byte, meta Meta) {
	ch := r.ch.Load()
	if ch == nil {
		return
	}
	hdr, err := wire.ParseCommonHeader(pkt)
	if err != nil {
		panic(err) // the transport delivers no packet shorter than a header
	}
	*ch <- got{pkt: bytes.Clone(pkt), hdr: hdr, meta: meta}
}

// listen makes the packets tr receives from now on arrive in ch.
func listen(tr *Transport, ch chan got) {
	tr.recv.(*relay).ch.Store(&ch)
}

// await waits for one packet. The timeout only keeps a broken test from
// hanging; no assertion depends on timing.
func await(t *testing.T, ch <-chan got) got {
	t.Helper()
	select {
	case g := <-ch:
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no packet arrived")
		return got{}
	}
}

func openT(t *testing.T, cfg Config) *Transport {
	t.Helper()
	cfg.Receiver = new(relay)
	tr, err := Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, tr.Close()) })
	return tr
}

func wantBatching(disable bool) bool {
	return runtime.GOOS == "linux" && !disable
}

func testExchange(t *testing.T, addr netip.Addr, disable bool) {
	a := openT(t, Config{LocalAddrs: []netip.Addr{addr}, DisableBatching: disable})
	b := openT(t, Config{LocalAddrs: []netip.Addr{addr}, DisableBatching: disable})
	require.NotEqual(t, a.Port(), b.Port())
	for _, s := range append(a.Sockets(), b.Sockets()...) {
		assert.Equal(t, wantBatching(disable), s.Batching)
		if runtime.GOOS == "linux" {
			assert.True(t, s.Meta)
		}
	}

	chA, chB := make(chan got, 4), make(chan got, 4)
	listen(a, chA)
	listen(b, chB)

	aAddr, bAddr := a.LocalAddrs()[0], b.LocalAddrs()[0]
	assert.Equal(t, netip.AddrPortFrom(addr, a.Port()), aAddr)

	// B -> A, with the zero source address (first socket of the family).
	pkt := makePacket(4000, 5000, 0xdeadbeef, []byte("hello from b"))
	sent := bytes.Clone(pkt)
	require.NoError(t, b.Send(pkt, netip.Addr{}, aAddr))
	assert.Equal(t, sent, pkt, "Send must not modify the packet")
	g := await(t, chA)
	assert.Equal(t, pkt, g.pkt)
	assert.Equal(t, wire.CommonHeader{SrcPort: 4000, DstPort: 5000, VerificationTag: 0xdeadbeef, Checksum: g.hdr.Checksum}, g.hdr)
	assert.Equal(t, bAddr, g.meta.Src, "Src must carry the peer's UDP port")
	assert.Equal(t, aAddr, g.meta.Local)
	if runtime.GOOS == "linux" {
		assert.True(t, g.meta.HasTTL)
		assert.NotZero(t, g.meta.TTL)
		assert.True(t, g.meta.HasTOS)
	}

	// A -> B, with an explicit source address.
	pkt = makePacket(5000, 4000, 0x01020304, []byte("reply from a"))
	require.NoError(t, a.Send(pkt, addr, bAddr))
	g = await(t, chB)
	assert.Equal(t, pkt, g.pkt)
	assert.Equal(t, uint32(0x01020304), g.hdr.VerificationTag)
	assert.Equal(t, aAddr, g.meta.Src)
	assert.Equal(t, bAddr, g.meta.Local)

	sa, sb := a.Stats(), b.Stats()
	assert.Equal(t, uint64(1), sa.RxDatagrams)
	assert.Equal(t, uint64(len(pkt)), sa.RxBytes)
	assert.Equal(t, uint64(1), sa.TxDatagrams)
	assert.Equal(t, uint64(1), sb.RxDatagrams)
	assert.Equal(t, uint64(1), sb.TxDatagrams)
	assert.Zero(t, sa.RxBadChecksum+sa.RxTooShort+sa.RxErrors+sa.TxErrors)
}

func TestExchangeIPv4(t *testing.T) {
	t.Run("batched", func(t *testing.T) { testExchange(t, lo4, false) })
	t.Run("unbatched", func(t *testing.T) { testExchange(t, lo4, true) })
}

func skipNoIPv6(t *testing.T) {
	t.Helper()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("cannot bind ::1: %v", err)
	}
	_ = c.Close()
}

func TestExchangeIPv6(t *testing.T) {
	skipNoIPv6(t)
	t.Run("batched", func(t *testing.T) { testExchange(t, lo6, false) })
	t.Run("unbatched", func(t *testing.T) { testExchange(t, lo6, true) })
}

// pair opens a receiving and a sending transport on IPv4 loopback.
func pair(t *testing.T, disable bool) (rx, tx *Transport, to netip.AddrPort) {
	t.Helper()
	rx = openT(t, Config{DisableBatching: disable})
	tx = openT(t, Config{DisableBatching: disable})
	return rx, tx, rx.LocalAddrs()[0]
}

// bothModes runs f with batching enabled and disabled.
func bothModes(t *testing.T, f func(t *testing.T, disable bool)) {
	t.Run("batched", func(t *testing.T) { f(t, false) })
	t.Run("unbatched", func(t *testing.T) { f(t, true) })
}

// Datagrams from one socket to another on loopback arrive in order, and a
// read goroutine finishes a datagram before reading the next, so once a
// good "marker" packet has been delivered the counters reflect everything
// sent before it.

func TestBadChecksumDropped(t *testing.T) {
	bothModes(t, func(t *testing.T, disable bool) {
		rx, tx, to := pair(t, disable)
		ch := make(chan got, 4)
		listen(rx, ch)

		bad := makePacket(1, 5000, 7, []byte("corrupted"))
		bad[len(bad)-1] ^= 0xff
		require.NoError(t, tx.Send(bad, netip.Addr{}, to))
		marker := makePacket(1, 5000, 8, []byte("marker"))
		require.NoError(t, tx.Send(marker, netip.Addr{}, to))

		g := await(t, ch)
		assert.Equal(t, marker, g.pkt, "the corrupted packet must never be delivered")
		st := rx.Stats()
		assert.Equal(t, uint64(1), st.RxBadChecksum)
		assert.Equal(t, uint64(2), st.RxDatagrams)
		assert.Empty(t, ch)
	})
}

// Every SCTP port reaches the one Receiver: which endpoint a packet is for
// is the SCTP layer's lookup.
func TestEveryPortToTheReceiver(t *testing.T) {
	bothModes(t, func(t *testing.T, disable bool) {
		rx, tx, to := pair(t, disable)
		ch := make(chan got, 4)
		listen(rx, ch)
		for _, port := range []uint16{0, 5000, 65535} {
			pkt := makePacket(1, port, 9, []byte("any port"))
			require.NoError(t, tx.Send(pkt, netip.Addr{}, to))
			g := await(t, ch)
			assert.Equal(t, pkt, g.pkt)
			assert.Equal(t, port, g.hdr.DstPort)
			assert.Equal(t, tx.LocalAddrs()[0], g.meta.Src)
		}
		assert.Equal(t, uint64(3), rx.Stats().RxDatagrams)
	})
}

func TestTooShort(t *testing.T) {
	bothModes(t, func(t *testing.T, disable bool) {
		rx, tx, to := pair(t, disable)
		ch := make(chan got, 4)
		listen(rx, ch)

		require.NoError(t, tx.Send([]byte{1, 2, 3, 4, 5}, netip.Addr{}, to))
		require.NoError(t, tx.Send(nil, netip.Addr{}, to)) // empty datagram
		marker := makePacket(1, 5000, 10, []byte("marker"))
		require.NoError(t, tx.Send(marker, netip.Addr{}, to))
		assert.Equal(t, marker, await(t, ch).pkt)
		st := rx.Stats()
		assert.Equal(t, uint64(2), st.RxTooShort)
		assert.Equal(t, uint64(3), st.RxDatagrams)
		assert.Equal(t, uint64(5+len(marker)), st.RxBytes)
	})
}

func TestSendNoSocket(t *testing.T) {
	tr := openT(t, Config{})
	pkt := makePacket(1, 2, 3, nil)
	err := tr.Send(pkt, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddrPort("127.0.0.1:9"))
	assert.ErrorIs(t, err, ErrNoSocket)
	err = tr.Send(pkt, netip.Addr{}, netip.MustParseAddrPort("[::1]:9"))
	assert.ErrorIs(t, err, ErrNoSocket, "no IPv6 socket")
	err = tr.Enqueue(pkt, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddrPort("127.0.0.1:9"))
	assert.ErrorIs(t, err, ErrNoSocket, "Enqueue")
	assert.Equal(t, uint64(3), tr.Stats().TxErrors)
}

func TestCloseAndSendAfterClose(t *testing.T) {
	bothModes(t, func(t *testing.T, disable bool) {
		tr, err := Open(Config{Receiver: new(relay), DisableBatching: disable})
		require.NoError(t, err)
		to := tr.LocalAddrs()[0]
		require.NoError(t, tr.Close())
		require.NoError(t, tr.Close(), "Close is idempotent")
		goleak.VerifyNone(t) // every read goroutine has exited

		err = tr.Send(makePacket(1, 2, 3, nil), netip.Addr{}, to)
		assert.ErrorIs(t, err, net.ErrClosed)
		err = tr.Enqueue(makePacket(1, 2, 3, nil), netip.Addr{}, to)
		assert.ErrorIs(t, err, net.ErrClosed)
	})
}

func TestOpenErrors(t *testing.T) {
	r := new(relay)
	_, err := Open(Config{})
	assert.ErrorIs(t, err, ErrInvalidConfig, "no Receiver")
	_, err = Open(Config{Receiver: r, BatchSize: -1})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = Open(Config{Receiver: r, LocalAddrs: []netip.Addr{{}}})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = Open(Config{Receiver: r, LocalAddrs: []netip.Addr{lo4, lo4}})
	assert.ErrorIs(t, err, ErrInvalidConfig)

	// The port is taken by another transport: nothing stays open.
	a := openT(t, Config{})
	_, err = Open(Config{Receiver: r, Port: a.Port()})
	assert.Error(t, err)
}

func TestSharedPortTwoAddresses(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("binding 127.0.0.2 needs Linux's 127/8 loopback")
	}
	second := netip.MustParseAddr("127.0.0.2")
	tr := openT(t, Config{LocalAddrs: []netip.Addr{lo4, second}})
	la := tr.LocalAddrs()
	require.Len(t, la, 2)
	assert.Equal(t, netip.AddrPortFrom(lo4, tr.Port()), la[0])
	assert.Equal(t, netip.AddrPortFrom(second, tr.Port()), la[1])

	tx := openT(t, Config{})
	ch := make(chan got, 4)
	listen(tr, ch)
	for _, dst := range la {
		require.NoError(t, tx.Send(makePacket(1, 5000, 1, nil), netip.Addr{}, dst))
		assert.Equal(t, dst, await(t, ch).meta.Local)
	}
	// Replies leave from the socket bound to the chosen source.
	chTx := make(chan got, 4)
	listen(tx, chTx)
	require.NoError(t, tr.Send(makePacket(5000, 1, 1, nil), second, tx.LocalAddrs()[0]))
	assert.Equal(t, la[1], await(t, chTx).meta.Src)
}

func TestWildcardLocalFromPktinfo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("PKTINFO parsing is only exercised on Linux")
	}
	bothModes(t, func(t *testing.T, disable bool) {
		rx := openT(t, Config{LocalAddrs: []netip.Addr{netip.IPv4Unspecified()}, DisableBatching: disable})
		tx := openT(t, Config{})
		ch := make(chan got, 4)
		listen(rx, ch)
		to := netip.AddrPortFrom(lo4, rx.Port())
		require.NoError(t, tx.Send(makePacket(1, 5000, 1, nil), netip.Addr{}, to))
		g := await(t, ch)
		assert.Equal(t, to, g.meta.Local, "local address from IP_PKTINFO")
		// Sending from an address without its own socket uses the wildcard.
		listen(tx, ch)
		require.NoError(t, rx.Send(makePacket(5000, 1, 1, nil), lo4, tx.LocalAddrs()[0]))
		assert.Equal(t, to, await(t, ch).meta.Src)
	})
}

func TestVNetTwoAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lf := logging.NewDefaultLoggerFactory()
		router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/16", LoggerFactory: lf})
		require.NoError(t, err)
		hostA, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.1.1", "10.0.2.1"}})
		require.NoError(t, err)
		hostB, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.3.1"}})
		require.NoError(t, err)
		require.NoError(t, router.AddNet(hostA))
		require.NoError(t, router.AddNet(hostB))
		require.NoError(t, router.Start())
		defer func() { assert.NoError(t, router.Stop()) }()

		a1, a2 := netip.MustParseAddr("10.0.1.1"), netip.MustParseAddr("10.0.2.1")
		b1 := netip.MustParseAddr("10.0.3.1")
		a, err := Open(Config{Receiver: new(relay), Net: hostA, LocalAddrs: []netip.Addr{a1, a2}, Port: DefaultPort, LoggerFactory: lf})
		require.NoError(t, err)
		defer func() { assert.NoError(t, a.Close()) }()
		b, err := Open(Config{Receiver: new(relay), Net: hostB, LocalAddrs: []netip.Addr{b1}, Port: 5001, LoggerFactory: lf})
		require.NoError(t, err)
		defer func() { assert.NoError(t, b.Close()) }()

		for _, s := range a.Sockets() {
			assert.False(t, s.Batching, "vnet sockets are read one datagram at a time")
		}
		assert.Equal(t, DefaultPort, a.Port())
		assert.Equal(t, []netip.AddrPort{
			netip.AddrPortFrom(a1, DefaultPort), netip.AddrPortFrom(a2, DefaultPort),
		}, a.LocalAddrs())

		chA, chB := make(chan got, 4), make(chan got, 4)
		listen(a, chA)
		listen(b, chB)

		for i, dst := range a.LocalAddrs() {
			pkt := makePacket(4000, 5000, uint32(i), []byte("to a"))
			require.NoError(t, b.Send(pkt, netip.Addr{}, dst))
			g := <-chA
			assert.Equal(t, pkt, g.pkt)
			assert.Equal(t, dst, g.meta.Local)
			assert.Equal(t, netip.AddrPortFrom(b1, 5001), g.meta.Src)
			assert.False(t, g.meta.HasTOS || g.meta.HasTTL)

			// The reply leaves from the address the request arrived on.
			reply := makePacket(5000, 4000, uint32(i), []byte("to b"))
			require.NoError(t, a.Send(reply, g.meta.Local.Addr(), g.meta.Src))
			r := <-chB
			assert.Equal(t, reply, r.pkt)
			assert.Equal(t, dst, r.meta.Src)
		}

		// Checks and drops behave the same on the virtual network.
		bad := makePacket(4000, 5000, 9, []byte("bad"))
		bad[wire.CommonHeaderSize] ^= 1
		require.NoError(t, b.Send(bad, netip.Addr{}, a.LocalAddrs()[0]))
		require.NoError(t, b.Send([]byte{1}, netip.Addr{}, a.LocalAddrs()[0]))
		require.NoError(t, b.Send(makePacket(4000, 7000, 9, nil), netip.Addr{}, a.LocalAddrs()[0]))
		assert.Equal(t, uint16(7000), (<-chA).hdr.DstPort, "only the good packet arrives, whatever its port")
		synctest.Wait()
		assert.Empty(t, chA)
		st := a.Stats()
		assert.Equal(t, uint64(5), st.RxDatagrams)
		assert.Equal(t, uint64(1), st.RxBadChecksum)
		assert.Equal(t, uint64(1), st.RxTooShort)
		assert.Equal(t, uint64(2), st.TxDatagrams)
	})
}

func TestMetaTOSAndTTL(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("IPv4 TOS is only reported on Linux")
	}
	for _, fam := range []struct {
		name string
		addr netip.Addr
	}{{"IPv4", lo4}, {"IPv6", lo6}} {
		t.Run(fam.name, func(t *testing.T) {
			if fam.addr.Is6() {
				skipNoIPv6(t)
			}
			bothModes(t, func(t *testing.T, disable bool) {
				rx := openT(t, Config{LocalAddrs: []netip.Addr{fam.addr}, DisableBatching: disable})
				tx := openT(t, Config{LocalAddrs: []netip.Addr{fam.addr}})
				uc := tx.socks[0].udp
				if fam.addr.Is4() {
					p := ipv4.NewPacketConn(uc)
					require.NoError(t, p.SetTOS(0x28))
					require.NoError(t, p.SetTTL(17))
				} else {
					p := ipv6.NewPacketConn(uc)
					require.NoError(t, p.SetTrafficClass(0x28))
					require.NoError(t, p.SetHopLimit(17))
				}
				ch := make(chan got, 1)
				listen(rx, ch)
				require.NoError(t, tx.Send(makePacket(1, 5000, 1, nil), netip.Addr{}, rx.LocalAddrs()[0]))
				m := await(t, ch).meta
				assert.True(t, m.HasTOS)
				assert.Equal(t, uint8(0x28), m.TOS)
				assert.True(t, m.HasTTL)
				assert.Equal(t, uint8(17), m.TTL)
				assert.Equal(t, rx.LocalAddrs()[0], m.Local)
			})
		})
	}
}

// TestConcurrentUse runs Send and Enqueue from several goroutines and
// Stats at the same time as the read goroutine delivers; it is meant for
// -race.
func TestConcurrentUse(t *testing.T) {
	var delivered atomic.Int64
	rx, err := Open(Config{Receiver: ReceiverFunc(func([]byte, Meta) { delivered.Add(1) })})
	require.NoError(t, err)
	defer func() { assert.NoError(t, rx.Close()) }()
	tx := openT(t, Config{})
	to := rx.LocalAddrs()[0]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			pkt := makePacket(1, uint16(6000+g%2), uint32(g), []byte("x"))
			for range 50 {
				assert.NoError(t, tx.Send(pkt, netip.Addr{}, to))
				assert.NoError(t, tx.Enqueue(pkt, netip.Addr{}, to))
				assert.NoError(t, tx.Enqueue(pkt, netip.Addr{}, to))
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			_ = rx.Stats()
			_ = tx.Stats()
		}
	})
	wg.Wait()
	require.NoError(t, tx.Close())
	assert.Equal(t, uint64(4*50*3), tx.Stats().TxDatagrams)
}

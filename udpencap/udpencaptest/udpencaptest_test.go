package udpencaptest

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	a1 = netip.MustParseAddr("10.0.0.1")
	a2 = netip.MustParseAddr("10.0.0.2")
	b1 = netip.MustParseAddr("10.0.1.1")
	v6 = netip.MustParseAddr("2001:db8::1")
	w4 = netip.IPv4Unspecified()
)

var _ udpencap.Opener = NewNetwork().Open

// packet builds an SCTP packet with a valid CRC32c.
func packet(src, dst uint16, vtag uint32, payload string) []byte {
	p := wire.NewPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: dst, VerificationTag: vtag})
	return wire.Finish(append(p, payload...))
}

type got struct {
	pkt  []byte
	meta udpencap.Meta
}

// inbox is a Receiver that records copies of what it gets.
type inbox struct{ got []got }

func (in *inbox) ReceivePacket(pkt []byte, meta udpencap.Meta) {
	in.got = append(in.got, got{bytes.Clone(pkt), meta})
}

func open(t *testing.T, n *Network, local []netip.Addr, port uint16, r udpencap.Receiver) *Bind {
	t.Helper()
	if r == nil {
		r = new(inbox)
	}
	b, err := n.Open(local, port, r)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, b.Close()) })
	return b.(*Bind)
}

func TestOpenPorts(t *testing.T) {
	n := NewNetwork()
	x := open(t, n, []netip.Addr{a1}, 0, nil)
	assert.Equal(t, FirstPort, x.Port())
	y := open(t, n, []netip.Addr{a1}, 0, nil)
	assert.Equal(t, FirstPort+1, y.Port(), "the same address: the next free port")
	z := open(t, n, []netip.Addr{b1}, 0, nil)
	assert.Equal(t, FirstPort, z.Port(), "another address: the same port is free")

	_, err := n.Open([]netip.Addr{a1}, FirstPort, new(inbox))
	assert.ErrorIs(t, err, udpencap.ErrAddressInUse)
	_, err = n.Open([]netip.Addr{w4}, FirstPort, new(inbox))
	assert.ErrorIs(t, err, udpencap.ErrAddressInUse, "a wildcard overlaps every address of its family")
	v, err := n.Open([]netip.Addr{v6}, FirstPort, new(inbox))
	require.NoError(t, err, "not the other family")
	require.NoError(t, v.Close())

	_, err = n.Open(nil, 9899, new(inbox))
	assert.ErrorIs(t, err, udpencap.ErrInvalidConfig)
	_, err = n.Open([]netip.Addr{a1, a1}, 9899, new(inbox))
	assert.ErrorIs(t, err, udpencap.ErrInvalidConfig)
	_, err = n.Open([]netip.Addr{a1}, 9899, nil)
	assert.ErrorIs(t, err, udpencap.ErrInvalidConfig)

	require.NoError(t, x.Close())
	again := open(t, n, []netip.Addr{a1}, FirstPort, nil)
	assert.Equal(t, FirstPort, again.Port(), "free again after Close")
}

// Send and Enqueue copy the packet: the caller may change its buffer at
// once. The source is the one asked for, else the Bind's first address of
// the destination's family.
func TestSendCopiesAndChoosesSource(t *testing.T) {
	n := NewNetwork()
	x := open(t, n, []netip.Addr{a1, a2, v6}, 9899, nil)
	to := netip.AddrPortFrom(b1, 9900)
	buf := packet(1, 2, 3, "one")
	want := bytes.Clone(buf)
	require.NoError(t, x.Send(buf, a2, to))
	buf[len(buf)-1] = 'X'
	require.NoError(t, x.Enqueue(buf, netip.Addr{}, to))
	require.NoError(t, x.Send(buf, netip.Addr{}, netip.MustParseAddrPort("[2001:db8::9]:1")))

	assert.Equal(t, 3, n.Pending())
	d, ok := n.Next()
	require.True(t, ok)
	assert.Equal(t, Datagram{Pkt: want, Src: netip.AddrPortFrom(a2, 9899), Dst: to}, d)
	d, _ = n.Next()
	assert.Equal(t, netip.AddrPortFrom(a1, 9899), d.Src, "no source: the first of the family")
	assert.True(t, d.Queued)
	d, _ = n.Next()
	assert.Equal(t, netip.AddrPortFrom(v6, 9899), d.Src)
	_, ok = n.Next()
	assert.False(t, ok)

	assert.ErrorIs(t, x.Send(buf, b1, to), udpencap.ErrNoSocket, "not an address of the Bind")
	y := open(t, n, []netip.Addr{a1}, 9900, nil)
	assert.ErrorIs(t, y.Enqueue(buf, netip.Addr{}, netip.MustParseAddrPort("[2001:db8::9]:1")), udpencap.ErrNoSocket, "no address of the family")
	st := x.Stats()
	assert.Equal(t, uint64(3), st.TxDatagrams)
	assert.Equal(t, uint64(3*len(buf)), st.TxBytes)
	assert.Equal(t, uint64(1), st.TxErrors)
}

// Deliver runs a socket's checks, hands the Receiver the packet with its
// addresses and reuses the buffer: what the Receiver keeps of it is
// overwritten.
func TestDeliver(t *testing.T) {
	n := NewNetwork()
	var kept []byte
	var in inbox
	recv := udpencap.ReceiverFunc(func(pkt []byte, meta udpencap.Meta) {
		kept = pkt
		in.ReceivePacket(pkt, meta)
	})
	x := open(t, n, []netip.Addr{a1}, 9899, recv)
	dst := netip.AddrPortFrom(a1, 9899)
	src := netip.AddrPortFrom(b1, 4000)

	good := packet(1, 5000, 7, "data")
	require.NoError(t, n.Deliver(Datagram{Pkt: good, Src: src, Dst: dst}))
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	require.NoError(t, n.Deliver(Datagram{Pkt: bad, Src: src, Dst: dst}))
	require.NoError(t, n.Deliver(Datagram{Pkt: []byte{1, 2, 3}, Src: src, Dst: dst}))

	require.Len(t, in.got, 1)
	assert.Equal(t, good, in.got[0].pkt)
	assert.Equal(t, udpencap.Meta{Src: src, Local: dst}, in.got[0].meta)
	assert.Equal(t, bytes.Repeat([]byte{poison}, len(good)), kept, "the buffer is the Bind's")
	st := x.Stats()
	assert.Equal(t, uint64(3), st.RxDatagrams)
	assert.Equal(t, uint64(len(good)+len(bad)+3), st.RxBytes)
	assert.Equal(t, uint64(1), st.RxBadChecksum)
	assert.Equal(t, uint64(1), st.RxTooShort)

	err := n.Deliver(Datagram{Pkt: good, Src: src, Dst: netip.AddrPortFrom(a1, 1)})
	assert.ErrorIs(t, err, ErrNoBind, "no Bind on that port")
}

// A wildcard Bind serves every address of its family, a specific Bind on
// the same port winning for its own; the Receiver learns the address the
// datagram was sent to.
func TestWildcard(t *testing.T) {
	n := NewNetwork()
	var win, sin inbox
	w := open(t, n, []netip.Addr{w4}, 9899, &win)
	s := open(t, n, []netip.Addr{a2}, 9900, &sin)
	assert.True(t, w.Serves(a1))
	assert.False(t, w.Serves(v6))
	assert.False(t, s.Serves(a1))
	assert.Same(t, w, n.Lookup(netip.AddrPortFrom(a1, 9899)))
	assert.Nil(t, n.Lookup(netip.AddrPortFrom(netip.MustParseAddr("2001:db8::2"), 9899)))

	pkt := packet(1, 2, 3, "")
	require.NoError(t, n.Deliver(Datagram{Pkt: pkt, Src: netip.AddrPortFrom(b1, 1), Dst: netip.AddrPortFrom(a1, 9899)}))
	require.Len(t, win.got, 1)
	assert.Equal(t, netip.AddrPortFrom(a1, 9899), win.got[0].meta.Local)
	require.NoError(t, w.Send(pkt, a1, netip.AddrPortFrom(b1, 1)))
	d, _ := n.Next()
	assert.Equal(t, netip.AddrPortFrom(a1, 9899), d.Src, "sent from the address asked for")
}

// Flush delivers what the Binds send, replies included, in the order of
// the sends, and counts what no Bind takes.
func TestFlush(t *testing.T) {
	n := NewNetwork()
	var order []string
	var srv *Bind
	echo := udpencap.ReceiverFunc(func(pkt []byte, meta udpencap.Meta) {
		order = append(order, "server "+string(pkt[wire.CommonHeaderSize:]))
		require.NoError(t, srv.Send(packet(2, 1, 0, "re "+string(pkt[wire.CommonHeaderSize:])), meta.Local.Addr(), meta.Src))
	})
	srv = open(t, n, []netip.Addr{a1}, 9899, echo)
	cli := open(t, n, []netip.Addr{b1}, 9899, udpencap.ReceiverFunc(func(pkt []byte, _ udpencap.Meta) {
		order = append(order, "client "+string(pkt[wire.CommonHeaderSize:]))
	}))
	to := netip.AddrPortFrom(a1, 9899)
	require.NoError(t, cli.Send(packet(1, 2, 0, "a"), netip.Addr{}, to))
	require.NoError(t, cli.Enqueue(packet(1, 2, 0, "b"), netip.Addr{}, to))
	require.NoError(t, cli.Send(packet(1, 2, 0, "lost"), netip.Addr{}, netip.AddrPortFrom(a2, 9899)))
	bad := packet(1, 2, 0, "corrupt")
	bad[0] ^= 1
	require.NoError(t, cli.Send(bad, netip.Addr{}, to))

	delivered, lost := n.Flush()
	assert.Equal(t, 4, delivered)
	assert.Equal(t, 2, lost)
	assert.Equal(t, []string{"server a", "server b", "client re a", "client re b"}, order)
	assert.Zero(t, n.Pending())
}

// After Close a Bind sends nothing, gets nothing and frees its port; Close
// returns only after a delivery in progress has.
func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork()
		release := make(chan struct{})
		entered := make(chan struct{})
		b, err := n.Open([]netip.Addr{a1}, 9899, udpencap.ReceiverFunc(func([]byte, udpencap.Meta) {
			close(entered)
			<-release
		}))
		require.NoError(t, err)
		dst := netip.AddrPortFrom(a1, 9899)
		delivering := make(chan error, 1)
		go func() { delivering <- n.Deliver(Datagram{Pkt: packet(1, 2, 3, ""), Dst: dst}) }()
		<-entered
		closed := make(chan struct{})
		go func() {
			assert.NoError(t, b.Close())
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while the Receiver was running")
		default:
		}
		close(release)
		synctest.Wait()
		<-closed
		require.NoError(t, <-delivering)

		assert.NoError(t, b.Close(), "Close is idempotent")
		assert.ErrorIs(t, b.Send(packet(1, 2, 3, ""), netip.Addr{}, dst), net.ErrClosed)
		assert.ErrorIs(t, b.Enqueue(packet(1, 2, 3, ""), netip.Addr{}, dst), net.ErrClosed)
		assert.ErrorIs(t, n.Deliver(Datagram{Pkt: packet(1, 2, 3, ""), Dst: dst}), ErrNoBind)
		assert.Nil(t, n.Lookup(dst))
		c, err := n.Open([]netip.Addr{a1}, 9899, new(inbox))
		require.NoError(t, err, "the port is free again")
		require.NoError(t, c.Close())
	})
}

package sock_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/sock"
	"github.com/usock/usock/udpencap"
	"github.com/usock/usock/udpencap/udpencaptest"
)

var (
	fakeA = netip.MustParseAddr("10.9.0.1")
	fakeB = netip.MustParseAddr("10.9.0.2")
)

// fakeStack is a stack whose Binds are n's.
func fakeStack(t *testing.T, n *udpencaptest.Network) *sock.Stack {
	t.Helper()
	s, err := sock.NewStack(sock.WithBind(n.Open), sock.WithUDPPort(sock.DefaultUDPPort))
	require.NoError(t, err)
	return s
}

// pump delivers what the stacks send until done is closed: each round
// waits until every goroutine of the bubble is blocked, then delivers the
// queue. A round with nothing to deliver before done is closed is a
// failure: nothing else could make progress without a timer.
func pump(t *testing.T, n *udpencaptest.Network, done <-chan struct{}) {
	t.Helper()
	for {
		synctest.Wait()
		if delivered, lost := n.Flush(); delivered+lost > 0 {
			continue
		}
		select {
		case <-done:
			return
		default:
			t.Fatal("nothing to deliver, and the call waited for has not returned")
		}
	}
}

// chunkType is the type of the first chunk of an SCTP packet.
func chunkType(t *testing.T, pkt []byte) wire.ChunkType {
	t.Helper()
	require.Greater(t, len(pkt), wire.CommonHeaderSize)
	return wire.ChunkType(pkt[wire.CommonHeaderSize])
}

// fakeInit is an INIT from SCTP port src to dst with Initiate Tag tag.
func fakeInit(t *testing.T, src, dst uint16, tag uint32) []byte {
	t.Helper()
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: dst})
	pkt, err := wire.Init{InitiateTag: tag, ARwnd: 65535, OutStreams: 1, InStreams: 1, InitialTSN: 1}.Append(pkt, wire.ChunkInit)
	require.NoError(t, err)
	return wire.Finish(pkt)
}

// Two stacks on an in-memory network (sock.WithBind): the handshake's
// first packet is taken out and handed in by the test, the rest flows
// through Flush, and a message arrives, all without a socket or a timer.
func TestFakeBindExchange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udpencaptest.NewNetwork()
		sa, sb := fakeStack(t, n), fakeStack(t, n)
		defer func() { assert.NoError(t, sa.Close()) }()
		defer func() { assert.NoError(t, sb.Close()) }()
		server, err := sb.NewEndpoint([]netip.Addr{fakeB}, 5000, sock.AcceptMax(1))
		require.NoError(t, err)
		client, err := sa.NewEndpoint([]netip.Addr{fakeA}, 5001)
		require.NoError(t, err)

		ctx := context.Background()
		var assoc *sock.Association
		connected := make(chan struct{})
		go func() {
			defer close(connected)
			assoc, err = client.Connect(ctx, []netip.Addr{fakeB}, 5000)
		}()
		synctest.Wait()
		init, ok := n.Next()
		require.True(t, ok, "Connect sent its INIT")
		assert.Equal(t, wire.ChunkInit, chunkType(t, init.Pkt))
		assert.Equal(t, netip.AddrPortFrom(fakeA, sock.DefaultUDPPort), init.Src)
		assert.Equal(t, netip.AddrPortFrom(fakeB, sock.DefaultUDPPort), init.Dst)
		require.NoError(t, n.Deliver(init))
		ack, ok := n.Next()
		require.True(t, ok, "the listener answered at once")
		assert.Equal(t, wire.ChunkInitAck, chunkType(t, ack.Pkt))
		require.NoError(t, n.Deliver(ack))
		pump(t, n, connected)
		require.NoError(t, err)

		sent := make(chan struct{})
		go func() {
			defer close(sent)
			assert.NoError(t, assoc.Send(ctx, []byte("hello"), sock.SendInfo{Stream: 1, PPID: 46}))
		}()
		pump(t, n, sent)
		var msg sock.Message
		received := make(chan struct{})
		go func() {
			defer close(received)
			msg, err = server.Recv(ctx)
		}()
		pump(t, n, received)
		require.NoError(t, err)
		assert.Equal(t, "hello", string(msg.Payload))
		assert.Equal(t, uint32(46), msg.PPID)

		st := sb.Stats().Sockets[fakeB]
		assert.NotZero(t, st.RxDatagrams, "the stack's counters are its Binds'")
		assert.NotZero(t, st.TxDatagrams)
	})
}

// Every SCTP port reaches the stack through its Bind's one Receiver: an
// INIT for a port without an endpoint is out of the blue and answered
// with an ABORT whose Verification Tag "MUST be the Initiate Tag of the
// received INIT chunk" (RFC 9260 section 8.4 rule 3).
func TestFakeBindNoEndpointForPort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udpencaptest.NewNetwork()
		s := fakeStack(t, n)
		defer func() { assert.NoError(t, s.Close()) }()
		_, err := s.NewEndpoint([]netip.Addr{fakeB}, 5000)
		require.NoError(t, err)

		pkt := fakeInit(t, 7, 6000, 0x1234)
		peer := netip.AddrPortFrom(fakeA, 4000)
		require.NoError(t, n.Deliver(udpencaptest.Datagram{Pkt: pkt, Src: peer, Dst: netip.AddrPortFrom(fakeB, sock.DefaultUDPPort)}))
		reply, ok := n.Next()
		require.True(t, ok)
		assert.Equal(t, wire.ChunkAbort, chunkType(t, reply.Pkt))
		assert.Equal(t, peer, reply.Dst)
		hdr, err := wire.ParseCommonHeader(reply.Pkt)
		require.NoError(t, err)
		assert.Equal(t, uint32(0x1234), hdr.VerificationTag, "the INIT's Initiate Tag (section 8.4 rule 3)")
		assert.Equal(t, [2]uint16{7, 6000}, [2]uint16{hdr.DstPort, hdr.SrcPort}, "the ports swapped")
	})
}

// A wildcard endpoint on WithBind's Binds: the specific Bind opened first
// gives way to one wildcard Bind that serves its address too, and a
// specific endpoint created afterwards on another address opens nothing
// and is not probed on the host (its address is no host's): the Bind's
// Serves decides. Each answers an INIT from the address it was sent to.
func TestFakeBindWildcard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udpencaptest.NewNetwork()
		fakeC := netip.MustParseAddr("10.9.0.3")
		s, err := sock.NewStack(sock.WithBind(n.Open), sock.WithUDPPort(sock.DefaultUDPPort),
			sock.WithHostAddrs(func() ([]netip.Addr, error) { return []netip.Addr{fakeB, fakeC}, nil }))
		require.NoError(t, err)
		defer func() { assert.NoError(t, s.Close()) }()
		_, err = s.NewEndpoint([]netip.Addr{fakeB}, 5000, sock.AcceptMax(1))
		require.NoError(t, err)
		specific := n.Lookup(netip.AddrPortFrom(fakeB, sock.DefaultUDPPort))
		require.NotNil(t, specific)
		assert.Equal(t, []netip.Addr{fakeB}, specific.LocalAddrs())

		_, err = s.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, 5001, sock.AcceptMax(1))
		require.NoError(t, err)
		wild := n.Lookup(netip.AddrPortFrom(fakeB, sock.DefaultUDPPort))
		require.NotNil(t, wild)
		assert.Equal(t, []netip.Addr{netip.IPv4Unspecified(), fakeB}, wild.LocalAddrs(), "the wildcard Bind took the specific address over")
		_, err = s.NewEndpoint([]netip.Addr{fakeC}, 5002, sock.AcceptMax(1))
		require.NoError(t, err)
		assert.Same(t, wild, n.Lookup(netip.AddrPortFrom(fakeC, sock.DefaultUDPPort)), "no Bind of its own")

		peer := netip.AddrPortFrom(fakeA, sock.DefaultUDPPort)
		for _, c := range []struct {
			to   netip.Addr
			port uint16
		}{{fakeB, 5000}, {fakeC, 5001}, {fakeC, 5002}} {
			dst := netip.AddrPortFrom(c.to, sock.DefaultUDPPort)
			require.NoError(t, n.Deliver(udpencaptest.Datagram{Pkt: fakeInit(t, 7, c.port, 0x99), Src: peer, Dst: dst}))
			reply, ok := n.Next()
			require.True(t, ok, "%v port %d", c.to, c.port)
			assert.Equal(t, wire.ChunkInitAck, chunkType(t, reply.Pkt), "%v port %d", c.to, c.port)
			assert.Equal(t, dst, reply.Src, "from the address the INIT was sent to")
			assert.Equal(t, peer, reply.Dst)
		}
	})
}

func TestWithBindNil(t *testing.T) {
	_, err := sock.NewStack(sock.WithBind(nil))
	require.ErrorIs(t, err, sock.ErrInvalidOption)
	var open udpencap.Opener
	_, err = sock.NewStack(sock.WithBind(open))
	require.ErrorIs(t, err, sock.ErrInvalidOption)
}

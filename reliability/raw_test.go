package reliability

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/sock"
)

var lo4 = netip.MustParseAddr("127.0.0.1")

// newStack returns a loopback stack on a free UDP port, closed at the end.
func newStack(t testing.TB, opts ...sock.StackOption) *sock.Stack {
	t.Helper()
	s, err := sock.NewStack(append([]sock.StackOption{sock.WithUDPPort(0)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// rawPeer is a hand-driven SCTP peer over a plain UDP socket.
type rawPeer struct {
	t    testing.TB
	conn *net.UDPConn
	to   netip.AddrPort
}

// newRawPeerOn opens a UDP socket on ip:port (port 0: any) towards s.
func newRawPeerOn(t testing.TB, s *sock.Stack, ip netip.Addr, port uint16) *rawPeer {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, port)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &rawPeer{t: t, conn: c, to: netip.AddrPortFrom(lo4, s.UDPPort())}
}

func newRawPeer(t testing.TB, s *sock.Stack) *rawPeer { return newRawPeerOn(t, s, lo4, 0) }

func (r *rawPeer) udpPort() uint16 { return uint16(r.conn.LocalAddr().(*net.UDPAddr).Port) }

func (r *rawPeer) send(pkt []byte) {
	_, err := r.conn.WriteToUDPAddrPort(pkt, r.to)
	require.NoError(r.t, err)
}

// recv returns the next packet, or nil after the timeout.
func (r *rawPeer) recv(timeout time.Duration) []byte {
	_ = r.conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 65536)
	n, _, err := r.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil
	}
	require.True(r.t, wire.VerifyChecksum(buf[:n]), "every packet from the stack has a correct CRC32c")
	return buf[:n]
}

// collect returns the chunks of every packet arriving within d.
func (r *rawPeer) collect(d time.Duration) []wire.Chunk {
	var out []wire.Chunk
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return out
		}
		p := r.recv(left)
		if p == nil {
			return out
		}
		it := wire.NewChunkIter(p[wire.CommonHeaderSize:])
		for it.Next() {
			c := it.Chunk()
			c.Value = append([]byte(nil), c.Value...)
			out = append(out, c)
		}
	}
}

func firstChunk(t testing.TB, pkt []byte) (wire.CommonHeader, wire.Chunk) {
	t.Helper()
	require.NotNil(t, pkt, "expected a packet")
	hdr, err := wire.ParseCommonHeader(pkt)
	require.NoError(t, err)
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	require.True(t, it.Next())
	return hdr, it.Chunk()
}

func packet(src, dst uint16, tag uint32, chunks ...[]byte) []byte {
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: dst, VerificationTag: tag})
	for _, c := range chunks {
		pkt = append(pkt, c...)
	}
	return wire.Finish(pkt)
}

func dataChunk(tsn uint32, stream uint16, payload string) []byte {
	return dataChunkSSN(tsn, stream, 0, payload)
}

func dataChunkSSN(tsn uint32, stream, ssn uint16, payload string) []byte {
	v := make([]byte, 12, 12+len(payload))
	binary.BigEndian.PutUint32(v[0:], tsn)
	binary.BigEndian.PutUint16(v[4:], stream)
	binary.BigEndian.PutUint16(v[6:], ssn)
	binary.BigEndian.PutUint32(v[8:], 51)
	return must(wire.AppendChunk(nil, wire.ChunkData, 0x03, append(v, payload...)))
}

// rawAssoc is an association between a raw peer and an endpoint.
type rawAssoc struct {
	r        *rawPeer
	ep       *sock.Endpoint
	port     uint16 // the raw peer's SCTP port
	peerTag  uint32 // the stack's tag: goes in our packets
	myTag    uint32
	tsn      uint32 // our next TSN
	ack      wire.Init
	assoc    *sock.Association
	stackTSN uint32
	ssn      map[uint16]uint16 // next stream sequence number per stream
}

// establish runs the handshake by hand with the given INIT.
func establish(t testing.TB, r *rawPeer, ep *sock.Endpoint, port uint16, init wire.Init) *rawAssoc {
	t.Helper()
	r.send(packet(port, ep.Port(), 0, must(init.Append(nil, wire.ChunkInit))))
	hdr, c := firstChunk(t, r.recv(5*time.Second))
	require.Equal(t, wire.ChunkInitAck, c.Type)
	require.Equal(t, init.InitiateTag, hdr.VerificationTag)
	ack, err := wire.ParseInit(c.Value)
	require.NoError(t, err)
	ck, ok := ack.Cookie()
	require.True(t, ok)
	r.send(packet(port, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	_, c = firstChunk(t, r.recv(5*time.Second))
	require.Equal(t, wire.ChunkCookieAck, c.Type)
	ra := &rawAssoc{r: r, ep: ep, port: port, peerTag: ack.InitiateTag, myTag: init.InitiateTag, tsn: init.InitialTSN, ack: ack, stackTSN: ack.InitialTSN, ssn: map[uint16]uint16{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ra.assoc == nil {
		ev, err := ep.Event(ctx)
		require.NoError(t, err)
		if ev.Type == sock.EventUp && ev.Association.PeerPort() == port {
			ra.assoc = ev.Association
		}
	}
	return ra
}

func simpleInit(tag uint32) wire.Init {
	return wire.Init{InitiateTag: tag, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1000}
}

// send sends chunks in one packet with the association's tag.
func (ra *rawAssoc) send(chunks ...[]byte) {
	ra.r.send(packet(ra.port, ra.ep.Port(), ra.peerTag, chunks...))
}

// data builds the next DATA chunk; unsend takes it back when the stack
// never processed it.
func (ra *rawAssoc) data(stream uint16, payload string) []byte {
	c := dataChunkSSN(ra.tsn, stream, ra.ssn[stream], payload)
	ra.tsn++
	ra.ssn[stream]++
	return c
}

func (ra *rawAssoc) unsend(stream uint16) {
	ra.tsn--
	ra.ssn[stream]--
}

// recvMsg returns the next message on the endpoint, or false after d.
func recvWithin(ep *sock.Endpoint, d time.Duration) (sock.Message, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := ep.Recv(ctx)
	return m, err == nil
}

// alive checks the association still carries a message from the raw peer.
func (ra *rawAssoc) alive(t testing.TB) {
	t.Helper()
	require.Equal(t, sock.StateEstablished, ra.assoc.State())
	ra.send(ra.data(0, "still alive"))
	m, ok := recvWithin(ra.ep, 5*time.Second)
	require.True(t, ok, "a message after the hostile input")
	require.Equal(t, "still alive", string(m.Payload))
}

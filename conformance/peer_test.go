package conformance

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/sock"
)

var (
	lo1 = netip.MustParseAddr("127.0.0.1")
	lo2 = netip.MustParseAddr("127.0.0.2")
)

const (
	// replyWait bounds the wait for a reply that must come. It is a
	// deadline for a test that would otherwise hang, not a timed
	// assertion.
	replyWait = 3 * time.Second
	// silenceWindow is how long "nothing arrives" is watched.
	silenceWindow = 300 * time.Millisecond
	// peerSCTPPort is the peer's SCTP port.
	peerSCTPPort = 5000
)

// packet is a received packet, its chunks parsed.
type packet struct {
	from   netip.AddrPort
	hdr    wire.CommonHeader
	chunks []wire.Chunk
	raw    []byte
}

func (p packet) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tag %08x from %v:", p.hdr.VerificationTag, p.from)
	for _, c := range p.chunks {
		fmt.Fprintf(&b, " %v(flags %#x, %d bytes)", c.Type, c.Flags, len(c.Value))
	}
	return b.String()
}

// chunk returns the first chunk of type t.
func (p packet) chunk(t wire.ChunkType) (wire.Chunk, bool) {
	for _, c := range p.chunks {
		if c.Type == t {
			return c, true
		}
	}
	return wire.Chunk{}, false
}

// peer is a hand-driven SCTP endpoint over a plain UDP socket: it chooses
// its tags and TSNs, builds every packet and reads what comes back.
type peer struct {
	t    testing.TB
	conn *net.UDPConn
	to   netip.AddrPort // the stack's UDP address

	port     uint16 // our SCTP port
	dstPort  uint16 // the usock endpoint's SCTP port
	myTag    uint32 // our Initiate Tag: usock must put it in its packets
	theirTag uint32 // usock's Initiate Tag: we put it in ours
	nextTSN  uint32 // our next TSN
	theirTSN uint32 // usock's Initial TSN
	ssn      uint16 // next stream sequence number on stream 0
}

// newPeer opens a UDP socket on ip (a free port).
func newPeer(t testing.TB, ip netip.Addr) *peer {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &peer{t: t, conn: c, port: peerSCTPPort, myTag: 0x5eed0001, nextTSN: 1000}
}

// twin is another UDP socket on ip with the same SCTP view as p (tags,
// ports): the same SCTP endpoint seen from another UDP port or address.
// On another address it binds the same UDP port, since the stack sends to
// every peer address at the UDP port it learned (RFC 6951 section 5.4).
func (p *peer) twin(ip netip.Addr) *peer {
	var q *peer
	if ip == p.addr() {
		q = newPeer(p.t, ip)
	} else {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, p.udpPort())))
		require.NoError(p.t, err)
		p.t.Cleanup(func() { _ = c.Close() })
		q = &peer{t: p.t, conn: c}
	}
	q.to, q.port, q.dstPort, q.myTag, q.theirTag, q.nextTSN, q.theirTSN = p.to, p.port, p.dstPort, p.myTag, p.theirTag, p.nextTSN, p.theirTSN
	return q
}

func (p *peer) udpPort() uint16 { return uint16(p.conn.LocalAddr().(*net.UDPAddr).Port) }

func (p *peer) addr() netip.Addr {
	return p.conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr()
}

// send sends one packet with Verification Tag tag carrying chunks.
func (p *peer) send(tag uint32, chunks ...[]byte) {
	p.t.Helper()
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: p.port, DstPort: p.dstPort, VerificationTag: tag})
	for _, c := range chunks {
		pkt = append(pkt, c...)
	}
	p.sendRaw(wire.Finish(pkt))
}

// sendAssoc sends chunks with the association's tag.
func (p *peer) sendAssoc(chunks ...[]byte) { p.t.Helper(); p.send(p.theirTag, chunks...) }

func (p *peer) sendRaw(pkt []byte) {
	p.t.Helper()
	_, err := p.conn.WriteToUDPAddrPort(pkt, p.to)
	require.NoError(p.t, err)
}

// read returns the next packet within d, or false.
func (p *peer) read(d time.Duration) (packet, bool) {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 65536)
	n, from, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return packet{}, false
	}
	raw := buf[:n]
	require.True(p.t, wire.VerifyChecksum(raw), "RFC 9260 section 6.8: every packet carries a correct CRC32c")
	hdr, err := wire.ParseCommonHeader(raw)
	require.NoError(p.t, err)
	pk := packet{from: from, hdr: hdr, raw: raw}
	it := wire.NewChunkIter(raw[wire.CommonHeaderSize:])
	for it.Next() {
		pk.chunks = append(pk.chunks, it.Chunk())
	}
	require.NoError(p.t, it.Err(), "a well-formed packet from the stack")
	return pk, true
}

// expect reads packets until one holds a chunk of type typ and returns it;
// the packets before it are only allowed to hold chunks of the types in
// skip. It fails after replyWait.
func (p *peer) expect(typ wire.ChunkType, skip ...wire.ChunkType) (packet, wire.Chunk) {
	p.t.Helper()
	deadline := time.Now().Add(replyWait)
	var seen []string
	for {
		left := time.Until(deadline)
		if left <= 0 {
			require.FailNowf(p.t, "no reply", "waiting for %v; got %d other packets: %v", typ, len(seen), seen)
		}
		pk, ok := p.read(left)
		if !ok {
			continue
		}
		if c, ok := pk.chunk(typ); ok {
			return pk, c
		}
		for _, c := range pk.chunks {
			require.Containsf(p.t, skip, c.Type, "waiting for %v, got %v", typ, pk)
		}
		seen = append(seen, pk.String())
	}
}

// expectTag is expect that also checks the packet's Verification Tag.
func (p *peer) expectTag(typ wire.ChunkType, tag uint32, skip ...wire.ChunkType) (packet, wire.Chunk) {
	p.t.Helper()
	pk, c := p.expect(typ, skip...)
	require.Equalf(p.t, tag, pk.hdr.VerificationTag, "Verification Tag of the %v: %v", typ, pk)
	return pk, c
}

// silence asserts that no packet arrives in silenceWindow, except packets
// holding only chunks of the types in allow.
func (p *peer) silence(why string, allow ...wire.ChunkType) {
	p.t.Helper()
	deadline := time.Now().Add(silenceWindow)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		pk, ok := p.read(left)
		if !ok {
			return
		}
		for _, c := range pk.chunks {
			if !slices.Contains(allow, c.Type) {
				require.FailNowf(p.t, "expected silence", "%s; got %v", why, pk)
			}
		}
	}
}

// drain reads and discards whatever arrives in silenceWindow.
func (p *peer) drain() {
	for {
		if _, ok := p.read(silenceWindow); !ok {
			return
		}
	}
}

// Chunk builders.

func initValue(tag, tsn uint32, params ...wire.Param) wire.Init {
	return wire.Init{InitiateTag: tag, ARwnd: 1 << 20, OutStreams: 16, InStreams: 16, InitialTSN: tsn, Params: params}
}

func initChunk(tag, tsn uint32, params ...wire.Param) []byte {
	return must(initValue(tag, tsn, params...).Append(nil, wire.ChunkInit))
}

// dataChunk is a whole message on stream with ssn, the I bit set so that
// the receiver acknowledges it at once (RFC 7053).
func dataChunk(tsn uint32, stream, ssn uint16, payload string) []byte {
	v := make([]byte, 12, 12+len(payload))
	binary.BigEndian.PutUint32(v[0:], tsn)
	binary.BigEndian.PutUint16(v[4:], stream)
	binary.BigEndian.PutUint16(v[6:], ssn)
	binary.BigEndian.PutUint32(v[8:], 51)
	return must(wire.AppendChunk(nil, wire.ChunkData, wire.FlagDataBeginning|wire.FlagDataEnd|wire.FlagDataImmediate, append(v, payload...)))
}

// data is the next DATA chunk of the peer on stream 0.
func (p *peer) data(payload string) (tsn uint32, chunk []byte) {
	tsn = p.nextTSN
	chunk = dataChunk(tsn, 0, p.ssn, payload)
	p.nextTSN++
	p.ssn++
	return tsn, chunk
}

func abortChunk(tBit bool, causes ...wire.ErrorCause) []byte {
	return must(wire.Abort{T: tBit, Causes: causes}.Append(nil))
}

func heartbeat(info string) []byte {
	return must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte(info)))
}

// causesOf parses the causes of an ABORT or ERROR chunk.
func causesOf(t testing.TB, c wire.Chunk) []wire.ErrorCause {
	t.Helper()
	causes, err := wire.ParseCauses(c.Value)
	require.NoError(t, err)
	return causes
}

func hasCause(causes []wire.ErrorCause, code wire.CauseCode) bool {
	return slices.ContainsFunc(causes, func(c wire.ErrorCause) bool { return c.Code == code })
}

func causeCodes(causes []wire.ErrorCause) []string {
	var s []string
	for _, c := range causes {
		s = append(s, c.Code.String())
	}
	return s
}

// The usock side.

func newStack(t testing.TB) *sock.Stack {
	t.Helper()
	s, err := sock.NewStack(sock.WithUDPPort(0))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// baseOptions keep the stack quiet: no periodic heartbeats.
func baseOptions(opts ...sock.EndpointOption) []sock.EndpointOption {
	return append([]sock.EndpointOption{sock.WithHeartbeatInterval(0)}, opts...)
}

// server is a listening endpoint on 127.0.0.1.
type server struct {
	stack *sock.Stack
	ep    *sock.Endpoint
}

func newServer(t testing.TB, opts ...sock.EndpointOption) *server {
	t.Helper()
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, baseOptions(append([]sock.EndpointOption{sock.AcceptMax(4)}, opts...)...)...)
	require.NoError(t, err)
	return &server{stack: s, ep: ep}
}

// peerFor returns a peer on ip aimed at the server.
func (s *server) peerFor(t testing.TB, ip netip.Addr) *peer {
	p := newPeer(t, ip)
	p.to = netip.AddrPortFrom(lo1, s.stack.UDPPort())
	p.dstPort = s.ep.Port()
	return p
}

// initAck sends an INIT with our tag and returns the INIT-ACK's value and
// cookie.
func (p *peer) initAck(params ...wire.Param) (wire.Init, []byte) {
	p.t.Helper()
	p.send(0, initChunk(p.myTag, p.nextTSN, params...))
	pk, c := p.expectTag(wire.ChunkInitAck, p.myTag)
	require.Lenf(p.t, pk.chunks, 1, "RFC 9260 section 6.10: an INIT ACK is bundled with no other chunk: %v", pk)
	ack, err := wire.ParseInit(c.Value)
	require.NoError(p.t, err)
	ck, ok := ack.Cookie()
	require.True(p.t, ok, "an INIT ACK carries a State Cookie")
	return ack, ck
}

// associate completes the handshake as initiator and returns the server's
// association.
func (p *peer) associate(s *server, params ...wire.Param) *sock.Association {
	p.t.Helper()
	ack, ck := p.initAck(params...)
	p.theirTag, p.theirTSN = ack.InitiateTag, ack.InitialTSN
	p.send(p.theirTag, must(wire.AppendCookieEcho(nil, ck)))
	p.expectTag(wire.ChunkCookieAck, p.myTag)
	ev := nextEvent(p.t, s.ep, sock.EventUp)
	return ev.Association
}

// established returns a server and a peer on 127.0.0.1 with an
// association between them.
func established(t testing.TB, opts ...sock.EndpointOption) (*server, *peer, *sock.Association) {
	t.Helper()
	s := newServer(t, opts...)
	p := s.peerFor(t, lo1)
	a := p.associate(s)
	return s, p, a
}

// nextEvent waits for the next event of type typ, skipping others.
func nextEvent(t testing.TB, ep *sock.Endpoint, typ sock.EventType) sock.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replyWait)
	defer cancel()
	for {
		ev, err := ep.Event(ctx)
		require.NoErrorf(t, err, "waiting for %v", typ)
		if ev.Type == typ {
			return ev
		}
	}
}

// alive checks the association still answers: a HEARTBEAT with the right
// tag gets its HEARTBEAT ACK.
func (p *peer) alive(a *sock.Association, why string) {
	p.t.Helper()
	require.Equalf(p.t, sock.StateEstablished, a.State(), "%s: the association is still established", why)
	p.sendAssoc(heartbeat("alive?"))
	_, c := p.expectTag(wire.ChunkHeartbeatAck, p.myTag, wire.ChunkSack, wire.ChunkHeartbeat)
	info, err := wire.ParseHeartbeat(c.Value)
	require.NoError(p.t, err)
	require.Equal(p.t, "alive?", string(info))
}

// noMessage asserts nothing is delivered to the endpoint in the window.
func noMessage(t testing.TB, ep *sock.Endpoint, why string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), silenceWindow)
	defer cancel()
	m, err := ep.Recv(ctx)
	if err == nil {
		require.FailNowf(t, "unexpected message", "%s; got %q", why, m.Payload)
	}
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func recvMessage(t testing.TB, ep *sock.Endpoint) sock.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replyWait)
	defer cancel()
	m, err := ep.Recv(ctx)
	require.NoError(t, err, "a message is delivered")
	return m
}

func drops(s *sock.Stack, r sock.DropReason) uint64 { return s.Stats().Drops[r] }

// client is a usock endpoint connecting to a peer.
type client struct {
	stack  *sock.Stack
	ep     *sock.Endpoint
	result chan connectResult
}

type connectResult struct {
	a   *sock.Association
	err error
}

// dial makes a usock endpoint that connects to p, and returns it with the
// INIT it sent (p.to and p.dstPort are learned from it).
func (p *peer) dial(opts ...sock.EndpointOption) (*client, wire.Init) {
	p.t.Helper()
	s := newStack(p.t)
	opts = append([]sock.EndpointOption{sock.WithRTOMin(10 * time.Millisecond), sock.WithRTOInitial(200 * time.Millisecond)}, opts...)
	ep, err := s.NewEndpoint(nil, 0, baseOptions(opts...)...)
	require.NoError(p.t, err)
	c := &client{stack: s, ep: ep, result: make(chan connectResult, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a, err := ep.Connect(ctx, []netip.Addr{p.addr()}, p.port, sock.WithRemoteUDPPort(p.udpPort()))
		c.result <- connectResult{a, err}
	}()
	p.t.Cleanup(func() { cancel(); <-done })
	init := p.expectInit()
	return c, init
}

// expectInit reads the next INIT and learns the stack's address from it.
func (p *peer) expectInit() wire.Init {
	p.t.Helper()
	pk, c := p.expectTag(wire.ChunkInit, 0)
	require.Lenf(p.t, pk.chunks, 1, "RFC 9260 section 6.10: an INIT is bundled with no other chunk: %v", pk)
	init, err := wire.ParseInit(c.Value)
	require.NoError(p.t, err)
	p.to, p.dstPort = pk.from, pk.hdr.SrcPort
	p.theirTag, p.theirTSN = init.InitiateTag, init.InitialTSN
	return init
}

// cookie is the opaque State Cookie the peer hands out.
var cookie = []byte("conformance-peer-state-cookie")

// initAckChunk is the peer's INIT ACK to usock's INIT.
func (p *peer) initAckChunk(params ...wire.Param) []byte {
	ack := initValue(p.myTag, p.nextTSN, append([]wire.Param{wire.StateCookieParam(cookie)}, params...)...)
	return must(ack.Append(nil, wire.ChunkInitAck))
}

// accept completes the handshake as responder after dial.
func (p *peer) accept(c *client) *sock.Association {
	p.t.Helper()
	p.send(p.theirTag, p.initAckChunk())
	_, ce := p.expectTag(wire.ChunkCookieEcho, p.myTag)
	require.Equal(p.t, cookie, ce.Value)
	p.send(p.theirTag, wire.AppendCookieAck(nil))
	r := c.wait(p.t)
	require.NoError(p.t, r.err, "Connect succeeds")
	return r.a
}

// wait waits for Connect to return.
func (c *client) wait(t testing.TB) connectResult {
	t.Helper()
	select {
	case r := <-c.result:
		return r
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Connect did not return")
		return connectResult{}
	}
}

// returned reports whether Connect has returned, without waiting.
func (c *client) returned() (connectResult, bool) {
	select {
	case r := <-c.result:
		c.result <- r
		return r, true
	default:
		return connectResult{}, false
	}
}

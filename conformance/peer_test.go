package conformance

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/testkit"
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

// peer is a hand-driven SCTP endpoint over a plain UDP socket: it chooses
// its tags and TSNs, builds every packet and reads what comes back.
type peer struct {
	*rawpeer.Assoc
	t testing.TB
}

// newPeer opens a UDP socket on ip (a free port).
func newPeer(t testing.TB, ip netip.Addr) *peer {
	t.Helper()
	return newPeerAt(t, netip.AddrPortFrom(ip, 0))
}

func newPeerAt(t testing.TB, at netip.AddrPort) *peer {
	t.Helper()
	r := rawpeer.New(t, at, netip.AddrPort{})
	r.Wait, r.Quiet = replyWait, silenceWindow
	a := rawpeer.NewAssoc(r, peerSCTPPort, 0)
	a.MyTag, a.NextTSN = 0x5eed0001, 1000
	return &peer{Assoc: a, t: t}
}

// twin is another UDP socket on ip with the same SCTP view as p (tags,
// ports): the same SCTP endpoint seen from another UDP port or address.
// On another address it binds the same UDP port, since the stack sends to
// every peer address at the UDP port it learned (RFC 6951 section 5.4).
func (p *peer) twin(ip netip.Addr) *peer {
	at := netip.AddrPortFrom(ip, 0)
	if ip != p.Addr() {
		at = netip.AddrPortFrom(ip, p.UDPPort())
	}
	q := newPeerAt(p.t, at)
	q.To = p.To
	return &peer{Assoc: p.Twin(q.Peer), t: p.t}
}

// Chunk builders.

func initValue(tag, tsn uint32, params ...wire.Param) wire.Init {
	return wire.Init{InitiateTag: tag, ARwnd: 1 << 20, OutStreams: 16, InStreams: 16, InitialTSN: tsn, Params: params}
}

func initChunk(tag, tsn uint32, params ...wire.Param) []byte {
	return must(initValue(tag, tsn, params...).Append(nil, wire.ChunkInit))
}

// data is the next DATA chunk of the peer on stream 0.
func (p *peer) data(payload string) (tsn uint32, chunk []byte) {
	tsn, ssn := p.Next(0)
	return tsn, dataChunk(tsn, 0, ssn, payload)
}

// dataChunk is a whole message on stream with ssn, the I bit set so that
// the receiver acknowledges it at once (RFC 7053).
func dataChunk(tsn uint32, stream, ssn uint16, payload string) []byte {
	return rawpeer.Data(tsn, stream, ssn, wire.FlagDataBeginning|wire.FlagDataEnd|wire.FlagDataImmediate, []byte(payload))
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
	s := testkit.NewStack(t)
	ep, err := s.NewEndpoint(nil, 0, baseOptions(append([]sock.EndpointOption{sock.AcceptMax(4)}, opts...)...)...)
	require.NoError(t, err)
	return &server{stack: s, ep: ep}
}

// peerFor returns a peer on ip aimed at the server.
func (s *server) peerFor(t testing.TB, ip netip.Addr) *peer {
	p := newPeer(t, ip)
	p.To = netip.AddrPortFrom(lo1, s.stack.UDPPort())
	p.DstPort = s.ep.Port()
	return p
}

// initAck sends an INIT with our tag and returns the INIT-ACK's value and
// cookie.
func (p *peer) initAck(params ...wire.Param) (wire.Init, []byte) {
	p.t.Helper()
	return p.InitAck(p.Port, p.DstPort, initValue(p.MyTag, p.NextTSN, params...))
}

// associate completes the handshake as initiator and returns the server's
// association.
func (p *peer) associate(s *server, params ...wire.Param) *sock.Association {
	p.t.Helper()
	a, _ := testkit.RawAssociate(p.t, p.Assoc, s.ep, initValue(p.MyTag, p.NextTSN, params...))
	return a
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
	return testkit.WaitEvent(t, ep, replyWait, testkit.Want{Type: typ})
}

// alive checks the association still answers: a HEARTBEAT with the right
// tag gets its HEARTBEAT ACK.
func (p *peer) alive(a *sock.Association, why string) {
	p.t.Helper()
	require.Equalf(p.t, sock.StateEstablished, a.State(), "%s: the association is still established", why)
	p.SendAssoc(heartbeat("alive?"))
	_, c := p.ExpectTag(wire.ChunkHeartbeatAck, p.MyTag, wire.ChunkSack, wire.ChunkHeartbeat)
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
// INIT it sent (p.To and p.DstPort are learned from it).
func (p *peer) dial(opts ...sock.EndpointOption) (*client, wire.Init) {
	p.t.Helper()
	s := testkit.NewStack(p.t)
	opts = append([]sock.EndpointOption{sock.WithRTOMin(10 * time.Millisecond), sock.WithRTOInitial(200 * time.Millisecond)}, opts...)
	ep, err := s.NewEndpoint(nil, 0, baseOptions(opts...)...)
	require.NoError(p.t, err)
	c := &client{stack: s, ep: ep, result: make(chan connectResult, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a, err := ep.Connect(ctx, []netip.Addr{p.Addr()}, p.Port, sock.WithRemoteUDPPort(p.UDPPort()))
		c.result <- connectResult{a, err}
	}()
	p.t.Cleanup(func() { cancel(); <-done })
	init := p.expectInit()
	return c, init
}

// expectInit reads the next INIT and learns the stack's address from it.
func (p *peer) expectInit() wire.Init {
	p.t.Helper()
	pk, c := p.ExpectTag(wire.ChunkInit, 0)
	require.Lenf(p.t, pk.Chunks, 1, "RFC 9260 section 6.10: an INIT is bundled with no other chunk: %v", pk)
	init, err := wire.ParseInit(c.Value)
	require.NoError(p.t, err)
	p.To, p.DstPort = pk.From, pk.Header.SrcPort
	p.TheirTag, p.TheirTSN = init.InitiateTag, init.InitialTSN
	return init
}

// cookie is the opaque State Cookie the peer hands out.
var cookie = []byte("conformance-peer-state-cookie")

// initAckChunk is the peer's INIT ACK to usock's INIT.
func (p *peer) initAckChunk(params ...wire.Param) []byte {
	ack := initValue(p.MyTag, p.NextTSN, append([]wire.Param{wire.StateCookieParam(cookie)}, params...)...)
	return must(ack.Append(nil, wire.ChunkInitAck))
}

// accept completes the handshake as responder after dial.
func (p *peer) accept(c *client) *sock.Association {
	p.t.Helper()
	p.SendTag(p.TheirTag, p.initAckChunk())
	_, ce := p.ExpectTag(wire.ChunkCookieEcho, p.MyTag)
	require.Equal(p.t, cookie, ce.Value)
	p.SendTag(p.TheirTag, wire.AppendCookieAck(nil))
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

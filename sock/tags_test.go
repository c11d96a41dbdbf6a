package sock

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/handshake"
	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

// Tests of the verification tag rules (RFC 9260 sections 8.5 and 8.5.1),
// the path confirmation of the handshake (section 5.4) and the validation
// of INIT and INIT-ACK (sections 3.2.2, 3.3.2, 3.3.3, 5.1.2, 5.2.2), driven
// by a rawPeer that plays the server, the client or an off-path attacker
// (who knows the addresses and ports, not the tags).

var lo4b = netip.MustParseAddr("127.0.0.2")

// initAckChunk is the INIT-ACK a raw server sends: tag is its Initiate
// Tag, then a State Cookie, then params.
func initAckChunk(tag uint32, params ...wire.Param) []byte {
	ack := wire.Init{InitiateTag: tag, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 500,
		Params: append([]wire.Param{wire.StateCookieParam([]byte("raw server cookie"))}, params...)}
	return must(ack.Append(nil, wire.ChunkInitAck))
}

// rawServerPort is the SCTP port a raw peer plays the server on.
const rawServerPort = 5000

// pendingConnect is a Connect running in the background.
type pendingConnect struct {
	done chan struct{}
	a    *Association
	err  error
}

// fastClient is a client endpoint with short handshake timers.
func fastClient(t testing.TB, s *Stack) *Endpoint {
	t.Helper()
	ep, err := s.NewEndpoint(nil, 0,
		WithRTOMin(10*time.Millisecond), WithRTOInitial(100*time.Millisecond), WithRTOMax(200*time.Millisecond),
		WithMaxInitRetransmits(30))
	require.NoError(t, err)
	return ep
}

// connectTo starts ep.Connect to the raw server r at remote (127.0.0.1
// if none); the association is aborted at the end of the test.
func connectTo(t testing.TB, ep *Endpoint, r *rawpeer.Peer, remote ...netip.Addr) *pendingConnect {
	t.Helper()
	if len(remote) == 0 {
		remote = []netip.Addr{lo4}
	}
	pc := &pendingConnect{done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	go func() {
		defer close(pc.done)
		defer cancel()
		pc.a, pc.err = ep.Connect(ctx, remote, rawServerPort, WithRemoteUDPPort(r.UDPPort()))
	}()
	t.Cleanup(func() {
		cancel() // a Connect still waiting gives up
		<-pc.done
		if pc.a != nil {
			pc.a.Abort("test over")
			<-pc.a.Done()
		}
	})
	return pc
}

// wait waits for the Connect to return.
func (pc *pendingConnect) wait(t testing.TB) (*Association, error) {
	t.Helper()
	select {
	case <-pc.done:
		return pc.a, pc.err
	case <-time.After(25 * time.Second):
		t.Fatal("Connect did not return")
		return nil, nil
	}
}

// returned reports whether the Connect returned already.
func (pc *pendingConnect) returned() bool {
	select {
	case <-pc.done:
		return true
	default:
		return false
	}
}

// paramTLVBytes is a parameter's Type, Length and Value, unpadded.
func paramTLVBytes(p wire.Param) []byte {
	return must(wire.UnrecognizedParam(p)).Value
}

// pathTo returns the association's path to remote.
func pathTo(t testing.TB, a *Association, remote netip.Addr) Path {
	t.Helper()
	for _, p := range a.Paths() {
		if p.Remote == remote {
			return p
		}
	}
	t.Fatalf("no path to %v in %+v", remote, a.Paths())
	return Path{}
}

// TestCookieWaitIgnoresOffPathPackets: in COOKIE-WAIT, and again after a
// Stale Cookie error, the peer's tag is not known, so an ABORT or
// SHUTDOWN COMPLETE with the T bit cannot carry it: RFC 9260 section
// 8.5.1 B, "The receiver of an ABORT chunk MUST accept the packet if the
// Verification Tag field of the packet matches its own tag and the T bit
// is not set OR if it is set to its Peer's Tag and the T bit is set in the
// Chunk Flags. Otherwise, the receiver MUST silently discard the packet
// and take no further action." (rule C says the same of SHUTDOWN
// COMPLETE). Nor does such a packet teach the peer's UDP port (RFC 6951
// section 5.4: only after the verification tag is checked).
func TestCookieWaitIgnoresOffPathPackets(t *testing.T) {
	s := newStack(t)
	ep := fastClient(t, s)
	server := newRawPeer(t, s)
	attacker := newRawPeer(t, s)
	pc := connectTo(t, ep, server)
	_, c := server.Await(wire.ChunkInit)
	init, err := wire.ParseInit(c.Value)
	require.NoError(t, err)
	ourTag := init.InitiateTag

	attack := func() {
		attacker.Send(rawpeer.Encode(rawServerPort, ep.Port(), 0, wire.AppendShutdownComplete(nil, true)))
		attacker.Send(rawpeer.Encode(rawServerPort, ep.Port(), 0, must(wire.Abort{T: true}.Append(nil))))
		// The T bit with our own tag: rule B wants the peer's.
		attacker.Send(rawpeer.Encode(rawServerPort, ep.Port(), ourTag, must(wire.Abort{T: true}.Append(nil))))
		attacker.Send(rawpeer.Encode(rawServerPort, ep.Port(), ourTag, wire.AppendShutdownComplete(nil, true)))
		// The INIT goes on being retransmitted to the server's UDP port.
		server.Await(wire.ChunkInit)
		server.Await(wire.ChunkInit)
		require.False(t, pc.returned(), "Connect goes on")
	}
	attack()

	// INIT-ACK, COOKIE-ECHO, a Stale Cookie error: COOKIE-WAIT again,
	// with no peer tag.
	server.Send(rawpeer.Encode(rawServerPort, ep.Port(), ourTag, initAckChunk(0xfeed0001)))
	server.Await(wire.ChunkCookieEcho)
	server.Send(rawpeer.Encode(rawServerPort, ep.Port(), ourTag, must(wire.AppendErrorChunk(nil, wire.StaleCookieCause(1000)))))
	server.Await(wire.ChunkInit)
	attack()

	server.Send(rawpeer.Encode(rawServerPort, ep.Port(), ourTag, initAckChunk(0xfeed0001)))
	pk, _ := server.Await(wire.ChunkCookieEcho)
	hdr := pk.Header
	require.Equal(t, uint32(0xfeed0001), hdr.VerificationTag)
	server.Send(rawpeer.Encode(rawServerPort, ep.Port(), ourTag, wire.AppendCookieAck(nil)))
	a, err := pc.wait(t)
	require.NoError(t, err)
	require.Equal(t, server.UDPPort(), pathTo(t, a, lo4).RemoteUDPPort)
	require.GreaterOrEqual(t, s.Stats().Drops[DropWrongTag], uint64(8), "every forged packet is counted")
}

// TestWrongTagDiscardedSilently: a packet from the peer's address and port
// with a wrong Verification Tag is not out of the blue (the association
// exists): RFC 9260 section 8.5, "If the received Verification Tag value
// does not match the receiver's own tag value, the receiver MUST silently
// discard the packet and MUST NOT process it any further except for those
// cases listed in Section 8.5.1".
func TestWrongTagDiscardedSilently(t *testing.T) {
	p := newPair(t)
	r := newRawPeer(t, p.server)
	before := p.server.Stats().Drops[DropWrongTag]
	wrong := p.serverAssoc.localTag ^ 0x5a5a5a5a
	chunks := [][]byte{
		wire.AppendShutdown(nil, 0),
		rawpeer.Message(1, 0, 0, "intruder"),
		must(wire.AppendSack(nil, 1, 1000, nil, nil)),
		must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("hb"))),
		must(wire.Abort{}.Append(nil)),
	}
	for _, c := range chunks {
		r.Send(rawpeer.Encode(p.dialer.Port(), p.listener.Port(), wrong, c))
	}
	r.Silence("no reply") // no ABORT as if out of the blue
	require.Eventually(t, func() bool {
		return p.server.Stats().Drops[DropWrongTag] == before+uint64(len(chunks))
	}, 5*time.Second, time.Millisecond)
	ctx := context.Background()
	require.NoError(t, p.clientAssoc.Send(ctx, []byte("legit"), SendInfo{}))
	require.Equal(t, "legit", string(recvCtx(t, p.listener).Payload))
	require.Equal(t, StateEstablished, p.serverAssoc.State())
}

// TestTBitWithOwnTag: an ABORT or SHUTDOWN COMPLETE with the T bit set
// and the receiver's own tag is discarded (RFC 9260 section 8.5.1 rules
// B and C: with the T bit the tag must be the peer's); with the peer's
// tag the ABORT is taken.
func TestTBitWithOwnTag(t *testing.T) {
	p := newPair(t)
	r := newRawPeer(t, p.server)
	own := p.serverAssoc.localTag
	r.Send(rawpeer.Encode(p.dialer.Port(), p.listener.Port(), own, must(wire.Abort{T: true}.Append(nil))))
	r.Send(rawpeer.Encode(p.dialer.Port(), p.listener.Port(), own, wire.AppendShutdownComplete(nil, true)))
	// The peer's tag without the T bit is wrong too.
	r.Send(rawpeer.Encode(p.dialer.Port(), p.listener.Port(), p.serverAssoc.peerTagValue(), must(wire.Abort{}.Append(nil))))
	r.Silence("no reply")
	ctx := context.Background()
	require.NoError(t, p.clientAssoc.Send(ctx, []byte("still up"), SendInfo{}))
	require.Equal(t, "still up", string(recvCtx(t, p.listener).Payload))
	require.Equal(t, StateEstablished, p.serverAssoc.State())

	r.Send(rawpeer.Encode(p.dialer.Port(), p.listener.Port(), p.serverAssoc.peerTagValue(), must(wire.Abort{T: true}.Append(nil))))
	select {
	case <-p.serverAssoc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("an ABORT with the T bit and the peer's tag is taken")
	}
	require.Equal(t, ReasonAbortedByPeer, p.serverAssoc.Reason())
}

// TestCookieEchoFromAnotherAddress: RFC 9260 section 5.4, "For the
// receiver of the COOKIE ECHO, the only confirmed address is the one to
// which the INIT ACK was sent." (the INIT's source, kept in the cookie);
// the COOKIE ECHO's source does not become the confirmed primary.
func TestCookieEchoFromAnotherAddress(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	r1 := newRawPeer(t, s)
	r2 := newRawPeerFrom(t, s, lo4b)
	const peerPort = 4300
	in := wire.Init{InitiateTag: 0x1234, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1000,
		Params: []wire.Param{wire.AddressParam(lo4b)}}
	r1.Send(rawpeer.Encode(peerPort, ep.Port(), 0, must(in.Append(nil, wire.ChunkInit))))
	_, c := r1.Await(wire.ChunkInitAck)
	ack, err := wire.ParseInit(c.Value)
	require.NoError(t, err)
	ck, ok := ack.Cookie()
	require.True(t, ok)
	r2.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	// The COOKIE ACK answers the COOKIE ECHO where it came from (section
	// 6.4); that makes the address no confirmed path.
	r2.Await(wire.ChunkCookieAck)
	require.Eventually(t, func() bool { return len(ep.Associations()) == 1 }, 5*time.Second, time.Millisecond)
	a := ep.Associations()[0]
	defer a.Abort("done")
	first := pathTo(t, a, lo4)
	require.True(t, first.Primary)
	require.Equal(t, PathActive, first.State)
	require.Equal(t, r1.UDPPort(), first.RemoteUDPPort)
	second := pathTo(t, a, lo4b)
	require.False(t, second.Primary)
	require.Equal(t, PathUnconfirmed, second.State, "to be confirmed by a HEARTBEAT")
}

// TestInitAckFromAnotherAddress: RFC 9260 section 5.4, "For the sender of
// the COOKIE ECHO, the only confirmed address is the one to which the INIT
// was sent." An INIT-ACK from another of the peer's addresses leaves that
// one unconfirmed, and the COOKIE ECHO goes to the confirmed one. That
// holds too when Connect was not given the address (section 5.1.2: the
// INIT ACK's source is one of the peer's): with our tag it is taken, not
// dropped as foreign.
func TestInitAckFromAnotherAddress(t *testing.T) {
	for _, c := range []struct {
		name     string
		remote   []netip.Addr // given to Connect
		wildcard bool         // the client endpoint is on 0.0.0.0
	}{
		{"listed", []netip.Addr{lo4, lo4b}, false},
		{"unlisted", []netip.Addr{lo4}, false},
		{"unlisted, wildcard client", []netip.Addr{lo4}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t)
			ep := fastClient(t, s)
			if c.wildcard {
				var err error
				ep, err = s.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, 0,
					WithRTOMin(10*time.Millisecond), WithRTOInitial(100*time.Millisecond), WithRTOMax(200*time.Millisecond),
					WithMaxInitRetransmits(30))
				require.NoError(t, err)
			}
			r1 := newRawPeer(t, s)
			r2 := newRawPeerFrom(t, s, lo4b)
			pc := connectTo(t, ep, r1, c.remote...)
			_, ch := r1.Await(wire.ChunkInit)
			init, err := wire.ParseInit(ch.Value)
			require.NoError(t, err)
			r2.Send(rawpeer.Encode(rawServerPort, ep.Port(), init.InitiateTag, initAckChunk(0xfeed0002)))
			pk, _ := r1.Await(wire.ChunkCookieEcho)
			hdr := pk.Header
			require.Equal(t, uint32(0xfeed0002), hdr.VerificationTag)
			r1.Send(rawpeer.Encode(rawServerPort, ep.Port(), init.InitiateTag, wire.AppendCookieAck(nil)))
			a, err := pc.wait(t)
			require.NoError(t, err)
			first := pathTo(t, a, lo4)
			require.True(t, first.Primary)
			require.Equal(t, PathActive, first.State)
			second := pathTo(t, a, lo4b)
			require.False(t, second.Primary)
			require.Equal(t, PathUnconfirmed, second.State)
			require.Equal(t, r2.UDPPort(), second.RemoteUDPPort)
			require.Equal(t, lo4, second.Local, "the concrete address the INIT-ACK arrived on")
		})
	}
}

// TestInitWithHostName: RFC 9260 section 5.1.2, a Host Name Address in an
// INIT is answered with an ABORT carrying an Unresolvable Address cause;
// no state is kept.
func TestInitWithHostName(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	host := wire.Param{Type: wire.ParamHostNameAddress, Value: []byte("peer.example\x00")}
	in := wire.Init{InitiateTag: 0x4711, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1,
		Params: []wire.Param{host}}
	r.Send(rawpeer.Encode(4400, ep.Port(), 0, must(in.Append(nil, wire.ChunkInit))))
	pk, c := r.Await(wire.ChunkAbort)
	hdr := pk.Header
	require.Equal(t, uint32(0x4711), hdr.VerificationTag, "the INIT's Initiate Tag")
	require.Zero(t, c.Flags&flagT)
	ab, err := wire.ParseAbort(c)
	require.NoError(t, err)
	require.Len(t, ab.Causes, 1)
	require.Equal(t, wire.CauseUnresolvableAddress, ab.Causes[0].Code)
	require.Equal(t, paramTLVBytes(host), ab.Causes[0].Info)
	require.Empty(t, ep.Associations())
}

// TestInitAckWithHostName: the same rule for an INIT-ACK: the peer gets an
// ABORT with an Unresolvable Address cause and Connect fails.
func TestInitAckWithHostName(t *testing.T) {
	s := newStack(t)
	ep := fastClient(t, s)
	r := newRawPeer(t, s)
	pc := connectTo(t, ep, r)
	_, c := r.Await(wire.ChunkInit)
	init, err := wire.ParseInit(c.Value)
	require.NoError(t, err)
	host := wire.Param{Type: wire.ParamHostNameAddress, Value: []byte("server.example\x00")}
	r.Send(rawpeer.Encode(rawServerPort, ep.Port(), init.InitiateTag, initAckChunk(0xfeed0003, host)))
	pk, c := r.Await(wire.ChunkAbort)
	hdr := pk.Header
	require.Equal(t, uint32(0xfeed0003), hdr.VerificationTag, "the INIT-ACK's Initiate Tag")
	require.Zero(t, c.Flags&flagT)
	ab, err := wire.ParseAbort(c)
	require.NoError(t, err)
	require.Len(t, ab.Causes, 1)
	require.Equal(t, wire.CauseUnresolvableAddress, ab.Causes[0].Code)
	require.Equal(t, paramTLVBytes(host), ab.Causes[0].Info)
	_, err = pc.wait(t)
	require.ErrorIs(t, err, ErrProtocolViolation)
	require.ErrorContains(t, err, "Host Name Address")
	require.Empty(t, ep.Associations())
}

// TestInitAckZeroFields: RFC 9260 section 3.3.3, an INIT-ACK with an
// Initiate Tag, OS or MIS of 0 destroys the association attempt; Connect
// reports it at once instead of retrying.
func TestInitAckZeroFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		ack  wire.Init
	}{
		{"Initiate Tag", wire.Init{InitiateTag: 0, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1}},
		{"OS", wire.Init{InitiateTag: 9, ARwnd: 65536, OutStreams: 0, InStreams: 4, InitialTSN: 1}},
		{"MIS", wire.Init{InitiateTag: 9, ARwnd: 65536, OutStreams: 4, InStreams: 0, InitialTSN: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			ep := fastClient(t, s)
			r := newRawPeer(t, s)
			pc := connectTo(t, ep, r)
			_, c := r.Await(wire.ChunkInit)
			init, err := wire.ParseInit(c.Value)
			require.NoError(t, err)
			tc.ack.Params = []wire.Param{wire.StateCookieParam([]byte("cookie"))}
			r.Send(rawpeer.Encode(rawServerPort, ep.Port(), init.InitiateTag, must(tc.ack.Append(nil, wire.ChunkInitAck))))
			_, err = pc.wait(t)
			require.ErrorIs(t, err, ErrProtocolViolation)
			require.ErrorContains(t, err, tc.name)
			require.Empty(t, ep.Associations())
		})
	}
}

// TestRestartWithNewAddress: RFC 9260 section 5.2.2, a restart INIT that
// lists an address the association does not have is answered with an
// ABORT carrying a "Restart of an Association with New Addresses" cause,
// and the association is left as it is.
func TestRestartWithNewAddress(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort = 4500
	ack, ck := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x5151, 1000))
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	r.Await(wire.ChunkCookieAck)
	require.Eventually(t, func() bool { return len(ep.Associations()) == 1 }, 5*time.Second, time.Millisecond)
	a := ep.Associations()[0]
	defer a.Abort("done")

	in := wire.Init{InitiateTag: 0x6363, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 7,
		Params: []wire.Param{wire.AddressParam(lo4b)}}
	r.Send(rawpeer.Encode(peerPort, ep.Port(), 0, must(in.Append(nil, wire.ChunkInit))))
	pk, c := r.Await(wire.ChunkAbort)
	hdr := pk.Header
	require.Equal(t, uint32(0x6363), hdr.VerificationTag, "the INIT's Initiate Tag")
	require.Zero(t, c.Flags&flagT)
	ab, err := wire.ParseAbort(c)
	require.NoError(t, err)
	require.Len(t, ab.Causes, 1)
	require.Equal(t, wire.CauseRestartWithNewAddresses, ab.Causes[0].Code)
	require.Equal(t, paramTLVBytes(wire.AddressParam(lo4b)), ab.Causes[0].Info)
	require.Equal(t, StateEstablished, a.State())
	require.Len(t, a.Paths(), 1, "no path added")
	require.Equal(t, []*Association{a}, ep.Associations())
}

// TestInitAckUnrecognizedParamsReported: RFC 9260 section 3.2.2, the
// unrecognised parameters of an INIT-ACK whose type asks for a report go
// back in an ERROR chunk bundled with the COOKIE ECHO, as many as fit in
// the packet.
func TestInitAckUnrecognizedParamsReported(t *testing.T) {
	s := newStack(t)
	ep := fastClient(t, s)
	r := newRawPeer(t, s)
	pc := connectTo(t, ep, r)
	_, c := r.Await(wire.ChunkInit)
	init, err := wire.ParseInit(c.Value)
	require.NoError(t, err)
	report := wire.Param{Type: 0xC0F0, Value: []byte("report me")}             // 11: skip, report
	silent := wire.Param{Type: 0x80F0, Value: []byte("skip me")}               // 10: skip, no report
	tooBig := wire.Param{Type: 0xC0F1, Value: make([]byte, DefaultPacketSize)} // does not fit
	r.Send(rawpeer.Encode(rawServerPort, ep.Port(), init.InitiateTag, initAckChunk(0xfeed0004, report, silent, tooBig)))
	pk, _ := r.Await(wire.ChunkCookieEcho)
	pkt := pk.Raw
	require.LessOrEqual(t, len(pkt), DefaultPacketSize)
	chunks := rawpeer.Chunks(t, pkt)
	require.Len(t, chunks, 2, "COOKIE ECHO and ERROR")
	require.Equal(t, wire.ChunkError, chunks[1].Type)
	causes, err := wire.ParseErrorChunk(chunks[1].Value)
	require.NoError(t, err)
	require.Len(t, causes, 1)
	require.Equal(t, wire.CauseUnrecognizedParams, causes[0].Code)
	require.Equal(t, paramTLVBytes(report), causes[0].Info)
	r.Send(rawpeer.Encode(rawServerPort, ep.Port(), init.InitiateTag, wire.AppendCookieAck(nil)))
	_, err = pc.wait(t)
	require.NoError(t, err)
}

// TestCollisionConfirmsInitAckDestination: with an INIT collision (RFC
// 9260 section 5.2.4 action B) the peer's COOKIE ECHO confirms the address
// our INIT-ACK went to, not the one the COOKIE ECHO came from (section
// 5.4).
func TestCollisionConfirmsInitAckDestination(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1),
		WithRTOMin(10*time.Millisecond), WithRTOInitial(100*time.Millisecond), WithRTOMax(200*time.Millisecond),
		WithMaxInitRetransmits(30))
	require.NoError(t, err)
	r1 := newRawPeer(t, s)
	r2 := newRawPeerFrom(t, s, lo4b)
	pc := connectTo(t, ep, r1, lo4, lo4b)
	r1.Await(wire.ChunkInit)
	// The peer's INIT crosses ours (section 5.2.1).
	r1.Send(rawpeer.Encode(rawServerPort, ep.Port(), 0, rawpeer.InitChunk(rawpeer.SimpleInit(0x7a7a, 100))))
	_, c := r1.Await(wire.ChunkInitAck)
	ack, err := wire.ParseInit(c.Value)
	require.NoError(t, err)
	ck, ok := ack.Cookie()
	require.True(t, ok)
	r2.Send(rawpeer.Encode(rawServerPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	pk, _ := r2.Await(wire.ChunkCookieAck)
	hdr := pk.Header // where the COOKIE ECHO came from (section 6.4)
	require.Equal(t, uint32(0x7a7a), hdr.VerificationTag)
	a, err := pc.wait(t)
	require.NoError(t, err)
	first := pathTo(t, a, lo4)
	require.True(t, first.Primary)
	require.Equal(t, PathActive, first.State)
	second := pathTo(t, a, lo4b)
	require.False(t, second.Primary)
	require.Equal(t, PathUnconfirmed, second.State)
}

// TestRestartCookieWithNewAddress: a COOKIE ECHO that would restart the
// association (section 5.2.4 action A) with an INIT listing a new address
// is refused as the INIT would be (section 5.2.2), with the cookie's INIT
// tag; the association is left as it is.
func TestRestartCookieWithNewAddress(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort = 4600
	ack, ck := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x5151, 1000))
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	r.Await(wire.ChunkCookieAck)
	require.Eventually(t, func() bool { return len(ep.Associations()) == 1 }, 5*time.Second, time.Millisecond)
	a := ep.Associations()[0]
	defer a.Abort("done")

	// A cookie with the association's tie-tags, as an INIT-ACK answering
	// a restart INIT would carry, for an INIT that lists 127.0.0.2.
	in := wire.Init{InitiateTag: 0x7777, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 9,
		Params: []wire.Param{wire.AddressParam(lo4b)}}
	st := handshake.State{
		LocalTag: 0x1111, LocalTSN: 1, LocalARwnd: 65536, LocalOS: 4, LocalMIS: 4,
		TieLocal: a.localTag, TiePeer: a.peerTagValue(),
		LocalPort: ep.Port(), PeerPort: peerPort,
		Peer: netip.AddrPortFrom(lo4, r.UDPPort()), Local: lo4,
		PeerInit: must(in.Append(nil, wire.ChunkInit))[4:],
	}
	cookie := s.signer.Seal(nil, st.Marshal(nil), time.Now(), time.Minute)
	r.Send(rawpeer.Encode(peerPort, ep.Port(), st.LocalTag, must(wire.AppendCookieEcho(nil, cookie))))
	pk, c := r.Await(wire.ChunkAbort)
	hdr := pk.Header
	require.Equal(t, uint32(0x7777), hdr.VerificationTag)
	ab, err := wire.ParseAbort(c)
	require.NoError(t, err)
	require.Len(t, ab.Causes, 1)
	require.Equal(t, wire.CauseRestartWithNewAddresses, ab.Causes[0].Code)
	require.Equal(t, paramTLVBytes(wire.AddressParam(lo4b)), ab.Causes[0].Info)
	require.Equal(t, StateEstablished, a.State())
	require.Equal(t, []*Association{a}, ep.Associations())
}

// TestShutdownAckInCookieWait: RFC 9260 section 8.5.1 rule E, "If the
// receiver is in COOKIE-ECHOED or COOKIE-WAIT state, the procedures in
// Section 8.4 SHOULD be followed; in other words, it is treated as an Out
// Of The Blue packet.": a SHUTDOWN COMPLETE with the T bit and the tag it
// came with (section 8.4 rule 5); the handshake goes on.
func TestShutdownAckInCookieWait(t *testing.T) {
	s := newStack(t)
	ep := fastClient(t, s)
	r := newRawPeer(t, s)
	pc := connectTo(t, ep, r)
	_, c := r.Await(wire.ChunkInit)
	init, err := wire.ParseInit(c.Value)
	require.NoError(t, err)
	for _, tag := range []uint32{init.InitiateTag, 0x0bad0bad} {
		r.Send(rawpeer.Encode(rawServerPort, ep.Port(), tag, wire.AppendShutdownAck(nil)))
		pk, c := r.Await(wire.ChunkShutdownComplete)
		hdr := pk.Header
		require.Equal(t, tag, hdr.VerificationTag)
		require.Equal(t, uint8(flagT), c.Flags&flagT)
	}
	r.Await(wire.ChunkInit)
	require.False(t, pc.returned())
}

// TestInitTagRules: RFC 9260 section 8.5.1 rule A, "If the Verification
// Tag is not 0, the receiver MUST silently discard the packet" of an INIT,
// and section 6.10, an INIT "MUST NOT be bundled with any other chunk".
func TestInitTagRules(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	before := s.Stats().Drops[DropMalformed]
	r.Send(rawpeer.Encode(4700, ep.Port(), 5, rawpeer.InitChunk(rawpeer.SimpleInit(0x4444, 1))))
	r.Send(rawpeer.Encode(4700, ep.Port(), 0, rawpeer.InitChunk(rawpeer.SimpleInit(0x4444, 1)), wire.AppendCookieAck(nil)))
	r.Silence("no reply")
	require.Equal(t, before+2, s.Stats().Drops[DropMalformed])
	require.Empty(t, ep.Associations())
}

// TestBundledAbortTagRule: rule B applies to an ABORT wherever it sits in
// the packet: after a HEARTBEAT in a packet with our tag, an ABORT with the
// T bit (which claims the peer's tag) is discarded; the HEARTBEAT is
// answered.
func TestBundledAbortTagRule(t *testing.T) {
	p := newPair(t)
	r := newRawPeer(t, p.server)
	r.Send(rawpeer.Encode(p.dialer.Port(), p.listener.Port(), p.serverAssoc.localTag,
		must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("hb"))), must(wire.Abort{T: true}.Append(nil))))
	r.Await(wire.ChunkHeartbeatAck)
	ctx := context.Background()
	require.NoError(t, p.clientAssoc.Send(ctx, []byte("still up"), SendInfo{}))
	require.Equal(t, "still up", string(recvCtx(t, p.listener).Payload))
	require.Equal(t, StateEstablished, p.serverAssoc.State())
}

// TestUDPPortLearnedAfterTagCheck: RFC 6951 section 5.4, the peer's UDP
// port is stored only from a packet whose verification tag was checked;
// the association's receive path checks it itself, whatever hands it the
// packet.
func TestUDPPortLearnedAfterTagCheck(t *testing.T) {
	p := newPair(t)
	a := p.serverAssoc
	port := pathTo(t, a, lo4).RemoteUDPPort
	before := p.server.Stats().Drops[DropWrongTag]
	meta := udpencap.Meta{Src: netip.AddrPortFrom(lo4, port+1), Local: netip.AddrPortFrom(lo4, p.server.UDPPort())}
	for _, pkt := range [][]byte{
		rawpeer.Encode(p.dialer.Port(), p.listener.Port(), a.localTag^1, must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("hb")))),
		rawpeer.Encode(p.dialer.Port(), p.listener.Port(), 0, must(wire.Abort{T: true}.Append(nil))),
		rawpeer.Encode(p.dialer.Port(), p.listener.Port(), a.localTag, must(wire.Abort{T: true}.Append(nil))),
	} {
		a.receive(pkt, meta)
	}
	require.Equal(t, port, pathTo(t, a, lo4).RemoteUDPPort)
	require.Equal(t, before+3, p.server.Stats().Drops[DropWrongTag])
	require.Equal(t, StateEstablished, a.State())
}

// TestInitUnrecognizedParamsBounded: the Unrecognized Parameter report of
// an INIT-ACK (RFC 9260 section 3.2.2) holds what fits in a packet: an
// INIT full of reportable unknown parameters gets an INIT-ACK not much
// bigger than itself (its cookie holds the INIT), and a small one has its
// parameter reported.
func TestInitUnrecognizedParamsBounded(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	unknown := func(i int, size int) wire.Param {
		return wire.Param{Type: wire.ParamType(0xC0F0 + i), Value: make([]byte, size)}
	}
	count := func(ack wire.Init) int {
		n := 0
		for _, p := range ack.Params {
			if p.Type == wire.ParamUnrecognized {
				n++
			}
		}
		return n
	}

	small := wire.Init{InitiateTag: 0x4711, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1,
		Params: []wire.Param{unknown(0, 8)}}
	r.Send(rawpeer.Encode(4800, ep.Port(), 0, must(small.Append(nil, wire.ChunkInit))))
	_, c := r.Await(wire.ChunkInitAck)
	ack, err := wire.ParseInit(c.Value)
	require.NoError(t, err)
	require.Equal(t, 1, count(ack))

	var many []wire.Param
	for i := range 50 {
		many = append(many, unknown(i, 1000))
	}
	big := wire.Init{InitiateTag: 0x4712, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1, Params: many}
	initPkt := rawpeer.Encode(4800, ep.Port(), 0, must(big.Append(nil, wire.ChunkInit)))
	r.Send(initPkt)
	pk, c := r.Await(wire.ChunkInitAck)
	pkt := pk.Raw
	ack, err = wire.ParseInit(c.Value)
	require.NoError(t, err)
	require.Less(t, count(ack), len(many), "only what fits in a packet is reported")
	require.LessOrEqual(t, len(pkt), DefaultPacketSize)
	require.NotZero(t, ep.Stats().UnreportedParams, "the rest are counted")
	require.Zero(t, s.Stats().Drops[DropPanic])
}

// TestStrayShutdownComplete: RFC 9260 section 8.5.1 rule C, "An endpoint
// MUST ignore the SHUTDOWN COMPLETE if it is not in the SHUTDOWN-ACK-SENT
// state": one (or a SHUTDOWN ACK) in ESTABLISHED does not make the
// association think a shutdown started (which would stop its heartbeats).
func TestStrayShutdownComplete(t *testing.T) {
	p := newPair(t)
	r := newRawPeer(t, p.server)
	r.Send(rawpeer.Encode(p.dialer.Port(), p.listener.Port(), p.serverAssoc.localTag, wire.AppendShutdownComplete(nil, false)))
	r.Send(rawpeer.Encode(p.dialer.Port(), p.listener.Port(), p.serverAssoc.localTag, wire.AppendShutdownAck(nil)))
	// The client's message arrives after them on the same socket.
	require.NoError(t, p.clientAssoc.Send(context.Background(), []byte("after"), SendInfo{}))
	require.Equal(t, "after", string(recvCtx(t, p.listener).Payload))
	require.False(t, p.serverAssoc.shuttingDown())
	require.Equal(t, StateEstablished, p.serverAssoc.State())
}

// TestInitAckHasNoSupportedAddressTypes: RFC 9260 section 3.3.3 lists the
// INIT-ACK's optional parameters (IPv4 and IPv6 addresses, Unrecognized
// Parameter, Reserved for ECN Capable, Host Name Address); Supported
// Address Types is an INIT parameter (section 3.3.2) and stays out of the
// INIT-ACK, also for an INIT that carries one.
func TestInitAckHasNoSupportedAddressTypes(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(2))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	for i, params := range [][]wire.Param{nil, {wire.SupportedAddressTypesParam(wire.ParamIPv4Address)}} {
		ack, _ := r.InitAck(uint16(4800+i), ep.Port(), wire.Init{InitiateTag: uint32(0x7100 + i), ARwnd: 65536,
			OutStreams: 4, InStreams: 4, InitialTSN: 1, Params: params})
		_, has := ack.Param(wire.ParamSupportedAddressTypes)
		require.False(t, has, "INIT with params %v", params)
	}
}

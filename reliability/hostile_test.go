package reliability

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/sock"
)

// TestCrossEndpointCookie: a State Cookie made by endpoint X of a stack,
// echoed to endpoint Y of the same stack (same secret), creates nothing.
func TestCrossEndpointCookie(t *testing.T) {
	s := testkit.NewStack(t)
	x, err := s.NewEndpoint(nil, 0, sock.AcceptMax(10))
	require.NoError(t, err)
	y, err := s.NewEndpoint(nil, 0, sock.AcceptMax(10))
	require.NoError(t, err)
	r := testkit.RawPeer(t, s, netip.AddrPortFrom(testkit.Lo4, 0))
	const port = 4200
	for _, c := range []struct {
		name string
		// the COOKIE-ECHO's source and destination ports
		src, dst func() uint16
	}{
		{"to another endpoint", func() uint16 { return port }, y.Port},
		{"to another endpoint from another port", func() uint16 { return port + 1 }, y.Port},
		{"to the right endpoint from another port", func() uint16 { return port + 1 }, x.Port},
	} {
		t.Run(c.name, func(t *testing.T) {
			r.Send(rawpeer.Encode(port, x.Port(), 0, rawpeer.InitChunk(rawpeer.SimpleInit(0x7001, 1000))))
			_, ch := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
			require.Equal(t, wire.ChunkInitAck, ch.Type)
			ack, err := wire.ParseInit(ch.Value)
			require.NoError(t, err)
			ck, ok := ack.Cookie()
			require.True(t, ok)
			r.Send(rawpeer.Encode(c.src(), c.dst(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck)), rawpeer.Message(1000, 0, 0, "smuggled")))
			for _, ch := range r.Collect(300 * time.Millisecond) {
				require.NotEqual(t, wire.ChunkCookieAck, ch.Type, "no COOKIE-ACK for a foreign cookie")
			}
			require.Empty(t, x.Associations())
			require.Empty(t, y.Associations())
			_, got := recvWithin(y, 100*time.Millisecond)
			require.False(t, got)
			_, got = recvWithin(x, 100*time.Millisecond)
			require.False(t, got)
		})
	}
}

// TestForeignSourceAddress: packets with the association's tag and ports
// from an address that is not the peer's are not accepted (RFC 9260
// section 8.5): no DATA delivered, no ABORT or SHUTDOWN taken, the
// association goes on.
func TestForeignSourceAddress(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs 127.0.0.0/8 on lo (Linux)")
	}
	s := testkit.NewStack(t)
	ep, err := s.NewEndpoint(nil, 0, sock.AcceptMax(10))
	require.NoError(t, err)
	r := testkit.RawPeer(t, s, netip.AddrPortFrom(testkit.Lo4, 0))
	ra := establish(t, r, ep, 4300, rawpeer.SimpleInit(0x8001, 1000))
	// Same UDP port, another address.
	intruder := testkit.RawPeer(t, s, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.5"), r.UDPPort()))
	foreign := func(chunks ...[]byte) { intruder.Send(rawpeer.Encode(ra.Port, ep.Port(), ra.TheirTag, chunks...)) }
	for _, c := range []struct {
		name  string
		chunk func() []byte
	}{
		{"DATA", func() []byte { return ra.Data(0, "forged") }},
		{"ABORT", func() []byte { return must(wire.Abort{}.Append(nil)) }},
		{"SHUTDOWN", func() []byte { return wire.AppendShutdown(nil, ra.TheirTSN-1) }},
		{"HEARTBEAT", func() []byte { return must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("probe"))) }},
		{"COOKIE-ECHO", func() []byte { return must(wire.AppendCookieEcho(nil, []byte("junk"))) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := ra.assoc.Stats().DroppedForeign
			ch := c.chunk()
			foreign(ch)
			if c.name != "COOKIE-ECHO" { // that one goes to the endpoint's cookie check
				require.Eventually(t, func() bool { return ra.assoc.Stats().DroppedForeign > before }, 5*time.Second, time.Millisecond)
			}
			_, got := recvWithin(ep, 100*time.Millisecond)
			require.False(t, got, "nothing delivered from a foreign address")
			if c.name == "DATA" {
				ra.Unsend(0) // the forged TSN is free again
			}
			ra.alive(t)
		})
	}
	require.Empty(t, intruder.Collect(100*time.Millisecond), "no reply to the intruder")
}

// TestLyingChunkLengths: chunks whose length fields lie inside an
// established association: the packet (or the chunk) is dropped, nothing
// reaches the user, the association goes on.
func TestLyingChunkLengths(t *testing.T) {
	s := testkit.NewStack(t)
	ep, err := s.NewEndpoint(nil, 0, sock.AcceptMax(100))
	require.NoError(t, err)
	setLen := func(c []byte, n int) []byte { binary.BigEndian.PutUint16(c[2:], uint16(n)); return c }
	for i, c := range []struct {
		name   string
		chunks func(ra *rawAssoc) [][]byte
	}{
		{"DATA longer than the packet", func(ra *rawAssoc) [][]byte {
			return [][]byte{setLen(rawpeer.Message(ra.NextTSN, 0, 0, "abcd"), 200)}
		}},
		{"DATA length below the header", func(ra *rawAssoc) [][]byte {
			return [][]byte{setLen(rawpeer.Message(ra.NextTSN, 0, 0, "abcd"), 8)}
		}},
		{"chunk length 0", func(ra *rawAssoc) [][]byte {
			return [][]byte{setLen(rawpeer.Message(ra.NextTSN, 0, 0, "abcd"), 0)}
		}},
		{"chunk length 3", func(ra *rawAssoc) [][]byte {
			return [][]byte{setLen(rawpeer.Message(ra.NextTSN, 0, 0, "abcd"), 3)}
		}},
		{"second chunk's length overruns", func(ra *rawAssoc) [][]byte {
			return [][]byte{rawpeer.Message(ra.NextTSN, 0, 0, "first"), setLen(rawpeer.Message(ra.NextTSN+1, 0, 0, "second"), 4000)}
		}},
		{"SACK with more gap blocks than bytes", func(ra *rawAssoc) [][]byte {
			sack := must(wire.AppendSack(nil, ra.TheirTSN-1, 65536, nil, nil))
			binary.BigEndian.PutUint16(sack[12:], 1000) // number of gap blocks
			binary.BigEndian.PutUint16(sack[14:], 1000) // number of duplicates
			return [][]byte{sack}
		}},
		{"HEARTBEAT info length overruns", func(ra *rawAssoc) [][]byte {
			hb := must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("12345678")))
			binary.BigEndian.PutUint16(hb[6:], 500) // the parameter's length
			return [][]byte{hb}
		}},
		{"ERROR cause length overruns", func(ra *rawAssoc) [][]byte {
			e := must(wire.AppendErrorChunk(nil, wire.InvalidStreamIDCause(1)))
			binary.BigEndian.PutUint16(e[6:], 300)
			return [][]byte{e}
		}},
		{"FORWARD-TSN with a ragged stream list", func(ra *rawAssoc) [][]byte {
			v := make([]byte, 7)
			binary.BigEndian.PutUint32(v, ra.NextTSN+100)
			return [][]byte{must(wire.AppendChunk(nil, wire.ChunkForwardTSN, 0, v))}
		}},
		{"RE-CONFIG reset request shorter than its fixed fields", func(ra *rawAssoc) [][]byte {
			param := []byte{0, byte(wire.ParamOutgoingResetRequest), 0, 10, 0, 0, 0, 1, 0, 0}
			return [][]byte{must(wire.AppendChunk(nil, wire.ChunkReconfig, 0, param))}
		}},
		{"RE-CONFIG reset request with an overrunning length", func(ra *rawAssoc) [][]byte {
			return [][]byte{must(wire.AppendChunk(nil, wire.ChunkReconfig, 0, resetRequest(ra, 2000)))}
		}},
		{"RE-CONFIG reset request with a ragged stream list", func(ra *rawAssoc) [][]byte {
			return [][]byte{must(wire.AppendChunk(nil, wire.ChunkReconfig, 0, resetRequest(ra, 19)))}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := testkit.RawPeer(t, s, netip.AddrPortFrom(testkit.Lo4, 0))
			ra := establish(t, r, ep, uint16(4400+i), rawpeer.SimpleInit(0x9000+uint32(i), 1000))
			ra.SendAssoc(c.chunks(ra)...)
			for {
				m, got := recvWithin(ep, 200*time.Millisecond)
				if !got {
					break
				}
				// A well-formed first chunk before the lying one may be
				// delivered; nothing else.
				require.Equal(t, "first", string(m.Payload))
				ra.Next(0)
			}
			ra.alive(t)
			ra.assoc.Abort("done")
		})
	}
}

// TestShutdownWrongTag: a SHUTDOWN for another association (wrong tag) is
// ignored (RFC 9260 section 8.5).
func TestShutdownWrongTag(t *testing.T) {
	s := testkit.NewStack(t)
	ep, err := s.NewEndpoint(nil, 0, sock.AcceptMax(10))
	require.NoError(t, err)
	r := testkit.RawPeer(t, s, netip.AddrPortFrom(testkit.Lo4, 0))
	ra := establish(t, r, ep, 4500, rawpeer.SimpleInit(0xa001, 1000))
	for _, tag := range []uint32{ra.TheirTag ^ 1, 0, ra.MyTag} {
		r.Send(rawpeer.Encode(ra.Port, ep.Port(), tag, wire.AppendShutdown(nil, ra.TheirTSN-1)))
		r.Send(rawpeer.Encode(ra.Port, ep.Port(), tag, wire.AppendShutdownAck(nil)))
		for _, c := range r.Collect(200 * time.Millisecond) {
			require.NotEqual(t, wire.ChunkShutdownAck, c.Type, "tag %#x", tag)
			if c.Type == wire.ChunkShutdownComplete {
				// The stray SHUTDOWN-ACK treated as out of the blue
				// (section 8.4 rule 5): allowed, with the T bit.
				require.Equal(t, wire.FlagT, c.Flags&wire.FlagT, "tag %#x", tag)
			}
		}
		require.Equal(t, sock.StateEstablished, ra.assoc.State())
	}
	ra.alive(t)
	// Still sending.
	require.NoError(t, ra.assoc.Send(context.Background(), []byte("out"), sock.SendInfo{}))
	found := false
	for _, c := range r.Collect(300 * time.Millisecond) {
		found = found || c.Type == wire.ChunkData
	}
	require.True(t, found)
}

// TestUnrecognizedChunkActions: an unknown chunk type in an established
// association, bundled before a DATA chunk, with each of the four actions
// of its two high bits (RFC 9260 section 3.2).
func TestUnrecognizedChunkActions(t *testing.T) {
	s := testkit.NewStack(t)
	ep, err := s.NewEndpoint(nil, 0, sock.AcceptMax(10))
	require.NoError(t, err)
	for i, c := range []struct {
		name      string
		typ       wire.ChunkType
		delivered bool // the DATA after it
		reported  bool
	}{
		{"00 stop silently", 0x3e, false, false},
		{"01 stop and report", 0x7e, false, true},
		{"10 skip silently", 0xbe, true, false},
		{"11 skip and report", 0xfe, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.False(t, wire.KnownChunk(c.typ))
			r := testkit.RawPeer(t, s, netip.AddrPortFrom(testkit.Lo4, 0))
			ra := establish(t, r, ep, uint16(4600+i), rawpeer.SimpleInit(0xb000+uint32(i), 1000))
			unknown := must(wire.AppendChunk(nil, c.typ, 0x5a, []byte("unknown body")))
			before := ra.assoc.Stats().Unrecognized
			ra.SendAssoc(unknown, ra.Data(0, "after the unknown chunk"))
			m, got := recvWithin(ep, 500*time.Millisecond)
			require.Equal(t, c.delivered, got, "DATA after the unknown chunk")
			if got {
				require.Equal(t, "after the unknown chunk", string(m.Payload))
			} else {
				ra.Unsend(0) // never processed
			}
			var reports []wire.ErrorCause
			for _, ch := range r.Collect(300 * time.Millisecond) {
				if ch.Type != wire.ChunkError {
					continue
				}
				causes, err := wire.ParseErrorChunk(ch.Value)
				require.NoError(t, err)
				reports = append(reports, causes...)
			}
			if c.reported {
				require.Len(t, reports, 1)
				require.Equal(t, wire.CauseUnrecognizedChunkType, reports[0].Code)
				require.Equal(t, unknown, reports[0].Info, "the whole unrecognised chunk is reported")
			} else {
				require.Empty(t, reports)
			}
			require.Greater(t, ra.assoc.Stats().Unrecognized, before)
			ra.alive(t)
			ra.assoc.Abort("done")
		})
	}
}

// TestPeerStreamsAndWindow: a peer announcing 65535 streams gets the
// stack's own limits; a peer with a zero window makes data wait without
// a hang or a spin, and the data flows when the window opens.
func TestPeerStreamsAndWindow(t *testing.T) {
	s := testkit.NewStack(t)
	ep, err := s.NewEndpoint(nil, 0, sock.AcceptMax(10), sock.WithStreams(8, 10),
		sock.WithRTOMin(10*time.Millisecond), sock.WithRTOInitial(100*time.Millisecond))
	require.NoError(t, err)

	t.Run("65535 streams", func(t *testing.T) {
		r := testkit.RawPeer(t, s, netip.AddrPortFrom(testkit.Lo4, 0))
		init := rawpeer.SimpleInit(0xc001, 1000)
		init.OutStreams, init.InStreams = 65535, 65535
		ra := establish(t, r, ep, 4700, init)
		require.LessOrEqual(t, ra.ack.OutStreams, uint16(8), "INIT-ACK's OS")
		require.LessOrEqual(t, ra.ack.InStreams, uint16(10), "INIT-ACK's MIS")
		out, in := ra.assoc.Streams()
		require.Equal(t, uint16(8), out)
		require.Equal(t, uint16(10), in)
		ctx := context.Background()
		require.ErrorIs(t, ra.assoc.Send(ctx, []byte("x"), sock.SendInfo{Stream: 8}), sock.ErrInvalidStream)
		require.ErrorIs(t, ra.assoc.Send(ctx, []byte("x"), sock.SendInfo{Stream: 65534}), sock.ErrInvalidStream)
		require.NoError(t, ra.assoc.Send(ctx, []byte("x"), sock.SendInfo{Stream: 7}))
		// Inbound on a stream above our MIS: dropped and reported.
		ra.SendAssoc(ra.Data(10, "too high"))
		_, got := recvWithin(ep, 200*time.Millisecond)
		require.False(t, got)
		ra.SendAssoc(ra.Data(9, "highest"))
		m, got := recvWithin(ep, 2*time.Second)
		require.True(t, got)
		require.Equal(t, uint16(9), m.Stream)
		ra.assoc.Abort("done")
	})

	t.Run("zero window", func(t *testing.T) {
		r := testkit.RawPeer(t, s, netip.AddrPortFrom(testkit.Lo4, 0))
		init := rawpeer.SimpleInit(0xc002, 1000)
		init.ARwnd = 0
		ra := establish(t, r, ep, 4701, init)
		// Sends: the first ones are taken (pion queues them); a later
		// one blocks for the window, bounded by its context.
		sent := 0
		for i := range 8 {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			err := ra.assoc.Send(ctx, []byte{byte(i), 'z', 'w'}, sock.SendInfo{Stream: 1})
			cancel()
			if err != nil {
				require.ErrorIs(t, err, context.DeadlineExceeded)
				break
			}
			sent++
		}
		t.Logf("%d messages taken with a zero window", sent)
		// For 3 s the peer says nothing: the stack may probe (one DATA at
		// a time, RFC 9260 section 6.1 rule A) but must not spin.
		var datas []uint32
		packets := 0
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			p := r.Recv(time.Until(deadline))
			if p == nil {
				break
			}
			packets++
			it := wire.NewChunkIter(p[wire.CommonHeaderSize:])
			for it.Next() {
				if tsn, ok := wire.PeekDataTSN(it.Chunk()); ok {
					datas = append(datas, tsn)
				}
			}
		}
		t.Logf("zero window: %d packets, DATA TSNs %v in 3 s", packets, datas)
		require.Less(t, packets, 60, "no spinning against a zero window")
		// The window opens: everything taken arrives.
		got := map[uint32]bool{}
		for _, tsn := range datas {
			got[tsn] = true
		}
		cum := ra.TheirTSN - 1
		for range 50 {
			for got[cum+1] {
				cum++
			}
			if int(cum-(ra.TheirTSN-1)) >= sent {
				break
			}
			ra.SendAssoc(must(wire.AppendSack(nil, cum, 65536, nil, nil)))
			for _, c := range r.Collect(200 * time.Millisecond) {
				if tsn, ok := wire.PeekDataTSN(c); ok {
					got[tsn] = true
				}
			}
		}
		require.GreaterOrEqual(t, int(cum-(ra.TheirTSN-1)), sent, "all %d messages arrive once the window opens", sent)
		ra.alive(t)
		ra.assoc.Abort("done")
	})
}

// TestHeartbeatAckForgedNonce: a HEARTBEAT-ACK with information we never
// sent confirms no path; the genuine one does.
func TestHeartbeatAckForgedNonce(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs 127.0.0.0/8 on lo (Linux)")
	}
	s := testkit.NewStack(t)
	ep, err := s.NewEndpoint(nil, 0, sock.AcceptMax(10), sock.WithHeartbeatInterval(0),
		sock.WithRTOMin(10*time.Millisecond), sock.WithRTOInitial(200*time.Millisecond))
	require.NoError(t, err)
	r := testkit.RawPeer(t, s, netip.AddrPortFrom(testkit.Lo4, 0))
	second := netip.MustParseAddr("127.0.0.6")
	r2 := testkit.RawPeer(t, s, netip.AddrPortFrom(second, r.UDPPort()))
	init := rawpeer.SimpleInit(0xd001, 1000)
	init.Params = []wire.Param{wire.AddressParam(testkit.Lo4), wire.AddressParam(second)}
	ra := establish(t, r, ep, 4800, init)
	pathTo := func(a netip.Addr) sock.Path {
		for _, p := range ra.assoc.Paths() {
			if p.Remote == a {
				return p
			}
		}
		t.Fatalf("no path to %v in %v", a, ra.assoc.Paths())
		return sock.Path{}
	}
	require.Equal(t, sock.PathUnconfirmed, pathTo(second).State)
	// The confirming HEARTBEAT to the second address: keep its info.
	var info []byte
	for _, c := range r2.Collect(2 * time.Second) {
		if c.Type == wire.ChunkHeartbeat {
			info, err = wire.ParseHeartbeat(c.Value)
			require.NoError(t, err)
			break
		}
	}
	require.NotNil(t, info, "a confirming HEARTBEAT to the unconfirmed address")
	rng := rand.New(rand.NewPCG(7, 7))
	forgeries := map[string][]byte{
		"random":   make([]byte, len(info)),
		"short":    []byte("x"),
		"empty":    {},
		"long":     append(append([]byte(nil), info...), make([]byte, 64)...),
		"one byte": append([]byte(nil), info...),
	}
	for i := range forgeries["random"] {
		forgeries["random"][i] = byte(rng.Uint32())
	}
	for i := range len(info) {
		f := append([]byte(nil), info...)
		f[i] ^= 0x01
		forgeries["bit "+string(rune('a'+i%26))+string(rune('0'+i/26))] = f
	}
	forgeries["one byte"][len(info)-1] ^= 0xff
	for name, f := range forgeries {
		hb := must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeatAck, f))
		// From the second address and from the first.
		r2.Send(rawpeer.Encode(ra.Port, ep.Port(), ra.TheirTag, hb))
		r.Send(rawpeer.Encode(ra.Port, ep.Port(), ra.TheirTag, hb))
		time.Sleep(5 * time.Millisecond)
		require.Equal(t, sock.PathUnconfirmed, pathTo(second).State, "forgery %q confirmed the path", name)
	}
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, sock.PathUnconfirmed, pathTo(second).State)
	require.Zero(t, pathTo(second).HeartbeatsAcked)
	// The genuine answer (to the latest HEARTBEAT) confirms it: the test
	// can tell.
	info = nil
	for _, c := range r2.Collect(3 * time.Second) {
		if c.Type == wire.ChunkHeartbeat {
			info, err = wire.ParseHeartbeat(c.Value)
			require.NoError(t, err)
			r2.Send(rawpeer.Encode(ra.Port, ep.Port(), ra.TheirTag, must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeatAck, info))))
			break
		}
	}
	require.NotNil(t, info, "the stack goes on trying to confirm the address")
	t.Logf("paths %+v", ra.assoc.Paths())
	require.Eventually(t, func() bool { return pathTo(second).State == sock.PathActive }, 5*time.Second, time.Millisecond)
	ra.alive(t)
	ra.assoc.Abort("done")
}

// TestOOTBReplySize: whatever comes out of the blue, a reply is never
// bigger than the packet that caused it (no amplification), and at most
// one reply per packet. Random small packets with a correct CRC32c to a
// port with an endpoint that refuses and to one with none. (INIT to an
// accepting endpoint is the handshake, not out of the blue.)
func TestOOTBReplySize(t *testing.T) {
	s := testkit.NewStack(t)
	ep, err := s.NewEndpoint(nil, 0) // refuses INITs: answers ABORT
	require.NoError(t, err)
	r := testkit.RawPeer(t, s, netip.AddrPortFrom(testkit.Lo4, 0))
	rng := rand.New(rand.NewPCG(0x00b, 0x1))
	types := []wire.ChunkType{wire.ChunkData, wire.ChunkInit, wire.ChunkSack, wire.ChunkHeartbeat, wire.ChunkHeartbeatAck,
		wire.ChunkAbort, wire.ChunkShutdown, wire.ChunkShutdownAck, wire.ChunkError, wire.ChunkCookieEcho,
		wire.ChunkCookieAck, wire.ChunkShutdownComplete, wire.ChunkForwardTSN, 0x3e, 0x7e, 0xbe, 0xfe}
	n := 250
	if testing.Short() {
		n = 100
	}
	replies := 0
	for i := range n {
		dst := ep.Port()
		if i%2 == 1 {
			dst++
		}
		var chunks [][]byte
		for range 1 + rng.IntN(3) {
			typ := types[rng.IntN(len(types))]
			body := make([]byte, rng.IntN(24))
			for j := range body {
				body[j] = byte(rng.Uint32())
			}
			if typ == wire.ChunkInit && rng.IntN(2) == 0 {
				chunks = append(chunks, rawpeer.InitChunk(rawpeer.SimpleInit(rng.Uint32()|1, 1000)))
				continue
			}
			chunks = append(chunks, must(wire.AppendChunk(nil, typ, uint8(rng.Uint32()), body)))
		}
		pkt := rawpeer.Encode(uint16(2000+i), dst, rng.Uint32(), chunks...)
		r.Send(pkt)
		got := r.Recv(20 * time.Millisecond)
		if got == nil {
			continue
		}
		replies++
		require.LessOrEqual(t, len(got), len(pkt), "reply %x to %x", got, pkt)
		if extra := r.Recv(5 * time.Millisecond); extra != nil {
			t.Fatalf("two replies to %x: %x", pkt, extra)
		}
	}
	t.Logf("%d packets, %d replies, all no bigger than their cause", n, replies)
	require.NotZero(t, replies)
}

// TestDataWithoutUserData: a DATA chunk with no user data (Length 16) must
// be answered with an ABORT with a No User Data cause (RFC 9260 section
// 6.2, a MUST). The stack acknowledges it instead (SACK with its TSN),
// consumes its stream sequence number and delivers nothing: a zero-length
// message vanishes silently.
func TestDataWithoutUserData(t *testing.T) {
	s := testkit.NewStack(t)
	ep, err := s.NewEndpoint(nil, 0, sock.AcceptMax(10))
	require.NoError(t, err)
	r := testkit.RawPeer(t, s, netip.AddrPortFrom(testkit.Lo4, 0))
	ra := establish(t, r, ep, 4450, rawpeer.SimpleInit(0x9450, 1000))
	empty := ra.Data(0, "")
	require.Len(t, empty, 16)
	ra.SendAssoc(empty)
	var abort *wire.Chunk
	for _, c := range r.Collect(500 * time.Millisecond) {
		if c.Type == wire.ChunkSack {
			sv, err := wire.ParseSackView(c.Value)
			require.NoError(t, err)
			require.Less(t, sv.CumTSNAck(), ra.NextTSN-1, "the empty DATA is not acknowledged")
		}
		if c.Type == wire.ChunkAbort {
			abort = &c
		}
	}
	require.NotNil(t, abort, "ABORT with No User Data")
	causes, err := wire.ParseCauses(abort.Value)
	require.NoError(t, err)
	require.Len(t, causes, 1)
	require.Equal(t, wire.CauseNoUserData, causes[0].Code)
	require.Equal(t, binary.BigEndian.AppendUint32(nil, ra.NextTSN-1), causes[0].Info, "the TSN of the empty DATA")
	<-ra.assoc.Done()
}

// resetRequest is an Outgoing SSN Reset Request parameter (RFC 6525
// section 4.1) with the given length field, a last TSN far ahead (pion
// defers such a request) and a ragged stream list: stream 0 and a stray
// byte.
func resetRequest(ra *rawAssoc, length uint16) []byte {
	param := binary.BigEndian.AppendUint16(nil, uint16(wire.ParamOutgoingResetRequest))
	param = binary.BigEndian.AppendUint16(param, length)
	param = binary.BigEndian.AppendUint32(param, 1)
	param = binary.BigEndian.AppendUint32(param, 0)
	param = binary.BigEndian.AppendUint32(param, ra.NextTSN+5000)
	return append(param, 0, 0, 0)
}

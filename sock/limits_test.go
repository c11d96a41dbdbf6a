package sock

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// bigInitChunk is an INIT chunk with Initiate Tag tag, its fixed fields
// and one parameter of type pt with a value of n bytes.
func bigInitChunk(tag uint32, pt wire.ParamType, n int) []byte {
	in := wire.Init{InitiateTag: tag, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1000,
		Params: []wire.Param{{Type: pt, Value: bytes.Repeat([]byte{0xab}, n)}}}
	return must(in.Append(nil, wire.ChunkInit))
}

// establishRaw completes a handshake from r to ep with an INIT carrying
// tag and returns our tag: the one r puts on its packets.
func establishRaw(t *testing.T, r *rawpeer.Peer, ep *Endpoint, peerPort uint16, tag uint32) uint32 {
	t.Helper()
	return r.Establish(peerPort, ep.Port(), wire.Init{InitiateTag: tag, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1000}).InitiateTag
}

// TestHugeInitBoundedInitAck: an INIT of one whole datagram is answered by
// an INIT-ACK no larger than the endpoint's packet size, whose cookie
// completes the handshake, and nothing panics. RFC 9260 section 3.2.2:
// "If the receiver of an INIT chunk detects unrecognized parameters and
// has to report them according to Section 3.2.1, it MUST put the
// "Unrecognized Parameter" parameter(s) in the INIT ACK chunk sent in
// response to the INIT chunk": the reports go in only as far as the
// INIT-ACK stays within one packet; the rest are counted.
func TestHugeInitBoundedInitAck(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	for i, c := range []struct {
		name       string
		param      wire.ParamType
		size       int
		reported   bool // the Unrecognized Parameter is in the INIT-ACK
		unreported uint64
	}{
		// The State Cookie carried the whole INIT and the report echoed
		// the parameter again: 2 x 33 KB, over the 16-bit Chunk Length.
		{"33 KB reportable parameter", 0xc123, 33000, false, 1},
		// The cookie alone was over 64 KiB.
		{"65 KB silent parameter", 0x8123, 65000, false, 0},
		{"short reportable parameter", 0xc123, 8, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRawPeer(t, s)
			peerPort := uint16(4700 + i)
			tag := uint32(0x9000 + i)
			before := ep.Stats().UnreportedParams
			init := rawpeer.Encode(peerPort, ep.Port(), 0, bigInitChunk(tag, c.param, c.size))
			r.Send(init)
			reply := r.Recv(5 * time.Second) // the checksum is checked there
			require.NotNil(t, reply, "the INIT is answered")
			require.LessOrEqual(t, len(reply), DefaultPacketSize, "the INIT-ACK fits one packet of the endpoint's size")
			hdr, ch := rawpeer.FirstChunk(t, reply)
			require.Equal(t, wire.ChunkInitAck, ch.Type)
			require.Equal(t, tag, hdr.VerificationTag)
			ack, err := wire.ParseInit(ch.Value)
			require.NoError(t, err)
			_, reported := ack.Param(wire.ParamUnrecognized)
			require.Equal(t, c.reported, reported)
			require.Equal(t, before+c.unreported, ep.Stats().UnreportedParams)
			require.Zero(t, s.Stats().Drops[DropPanic])

			ck, ok := ack.Cookie()
			require.True(t, ok)
			r.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
			_, ch = rawpeer.FirstChunk(t, r.Recv(5*time.Second))
			require.Equal(t, wire.ChunkCookieAck, ch.Type, "the trimmed cookie completes the handshake")
			a := ep.lookupPeer(lo4, peerPort)
			require.NotNil(t, a)
			require.Equal(t, tag, a.peerTagValue())
			a.Abort("done")
		})
	}
	// A normal handshake still completes.
	r := newRawPeer(t, s)
	establishRaw(t, r, ep, 4799, 0x9999)
	require.Zero(t, s.Stats().Drops[DropPanic])
}

// headerOnlyChunks is n chunks of type t with no value.
func headerOnlyChunks(t wire.ChunkType, n int) []byte {
	return bytes.Repeat([]byte{byte(t), 0, 0, 4}, n)
}

// TestUnrecognizedChunkFloodBounded: one packet of thousands of unknown
// chunks whose type asks for a report (RFC 9260 section 3.2: "11 - Skip
// this chunk and continue processing, but report in an ERROR chunk using
// the "Unrecognized Chunk Type" cause of error") draws one ERROR no larger
// than the packet nor than the association's packet size; the causes left
// out are counted, and the association lives on.
func TestUnrecognizedChunkFloodBounded(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	const unknown = wire.ChunkType(0xfe)
	require.False(t, wire.KnownChunk(unknown))
	for i, n := range []int{8200, 4000, 3} {
		r := newRawPeer(t, s)
		peerPort := uint16(4800 + i)
		tag := establishRaw(t, r, ep, peerPort, uint32(0xa000+i))
		a := ep.lookupPeer(lo4, peerPort)
		require.NotNil(t, a)
		before := a.Stats()

		// Each header-only chunk takes 4 bytes and its cause 8: past a
		// few chunks the bound decides. Three (with the DATA, a packet of
		// 48 bytes) are all reported.
		pkt := rawpeer.Encode(peerPort, ep.Port(), tag, headerOnlyChunks(unknown, n), rawpeer.Message(1000, 0, 0, "after"))
		r.Send(pkt)
		limit := min(len(pkt)+replySlack, DefaultPacketSize)
		wantCauses := min(n, (limit-wire.CommonHeaderSize-wire.ChunkHeaderSize)/8)
		var causes []wire.ErrorCause
		for len(causes) == 0 {
			reply := r.Recv(5 * time.Second)
			require.NotNil(t, reply, "an ERROR for %d unknown chunks", n)
			_, c := rawpeer.FirstChunk(t, reply)
			if c.Type != wire.ChunkError {
				continue // the SACK for the DATA
			}
			require.LessOrEqual(t, len(reply), limit, "no larger than the packet nor the packet size")
			causes, err = wire.ParseErrorChunk(c.Value)
			require.NoError(t, err)
		}
		require.Len(t, causes, wantCauses)
		for _, c := range causes {
			require.Equal(t, wire.CauseUnrecognizedChunkType, c.Code)
			require.Equal(t, []byte{byte(unknown), 0, 0, 4}, c.Info)
		}
		m := recvCtx(t, ep)
		require.Equal(t, "after", string(m.Payload), "the DATA after the unknown chunks is delivered")
		st := a.Stats()
		require.Equal(t, before.Unrecognized+uint64(n), st.Unrecognized)
		require.Equal(t, before.Unreported+uint64(n-wantCauses), st.Unreported)
		require.Zero(t, s.Stats().Drops[DropPanic])
		a.Abort("done")
	}
}

// TestInvalidStreamReportsBounded: a packet of many DATA chunks on a stream
// that does not exist (RFC 9260 section 6.5: "the endpoint MUST
// acknowledge the reception of the DATA chunk following the normal
// procedure, immediately send an ERROR chunk with cause set to "Invalid
// Stream Identifier"") draws one ERROR within the reply bound.
func TestInvalidStreamReportsBounded(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort = 4900
	tag := establishRaw(t, r, ep, peerPort, 0xb100)
	var chunks []byte
	const n = 400 // 400 x 20 bytes: 8 KB of DATA on stream 9 (of 4)
	for i := range n {
		chunks = append(chunks, rawpeer.Message(1000+uint32(i), 9, 0, "x")...)
	}
	pkt := rawpeer.Encode(peerPort, ep.Port(), tag, chunks)
	r.Send(pkt)
	for {
		reply := r.Recv(5 * time.Second)
		require.NotNil(t, reply, "an ERROR")
		_, c := rawpeer.FirstChunk(t, reply)
		if c.Type != wire.ChunkError {
			continue
		}
		require.LessOrEqual(t, len(reply), DefaultPacketSize)
		causes, err := wire.ParseErrorChunk(c.Value)
		require.NoError(t, err)
		require.Len(t, causes, (DefaultPacketSize-wire.CommonHeaderSize-wire.ChunkHeaderSize)/8)
		require.Equal(t, wire.CauseInvalidStreamID, causes[0].Code)
		break
	}
	a := ep.lookupPeer(lo4, peerPort)
	require.NotNil(t, a)
	require.Equal(t, uint64(n-(DefaultPacketSize-16)/8), a.Stats().Unreported)
	a.Abort("done")
}

// TestHeartbeatFloodOneReply: a packet of many HEARTBEATs draws one packet
// of HEARTBEAT ACKs no larger than itself (RFC 9260 section 8.3: "The
// receiver of the HEARTBEAT chunk SHOULD immediately respond with a
// HEARTBEAT ACK chunk"), not one packet per HEARTBEAT.
func TestHeartbeatFloodOneReply(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort = 4901
	tag := establishRaw(t, r, ep, peerPort, 0xb200)
	hb := must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("info")))
	pkt := rawpeer.Encode(peerPort, ep.Port(), tag, bytes.Repeat(hb, 1000))
	r.Send(pkt)
	reply := r.Recv(5 * time.Second)
	require.NotNil(t, reply)
	require.LessOrEqual(t, len(reply), DefaultPacketSize)
	it := wire.NewChunkIter(reply[wire.CommonHeaderSize:])
	acks := 0
	for it.Next() {
		require.Equal(t, wire.ChunkHeartbeatAck, it.Chunk().Type)
		info, err := wire.ParseHeartbeat(it.Chunk().Value)
		require.NoError(t, err)
		require.Equal(t, "info", string(info))
		acks++
	}
	require.NoError(t, it.Err())
	require.Equal(t, (DefaultPacketSize-wire.CommonHeaderSize)/len(hb), acks)
	r.Silence("no reply")
	a := ep.lookupPeer(lo4, peerPort)
	require.NotNil(t, a)
	require.Equal(t, uint64(1000-acks), a.Stats().Unreported)
	require.Equal(t, uint64(acks), a.Stats().HeartbeatsIn)
	a.Abort("done")
}

// TestAbortReasonBounded: a user abort reason longer than a packet is cut
// to what one packet of the association's size carries (RFC 9260 section
// 3.3.10.12: the Upper Layer Abort Reason is "transported by SCTP
// transparently"), and the ABORT goes out; it used to be a panic past
// 64 KiB.
func TestAbortReasonBounded(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	for i, n := range []int{70000, 5000, 10} {
		r := newRawPeer(t, s)
		peerPort := uint16(4950 + i)
		establishRaw(t, r, ep, peerPort, uint32(0xc000+i))
		a := ep.lookupPeer(lo4, peerPort)
		require.NotNil(t, a)
		reason := bytes.Repeat([]byte{'r'}, n)
		a.Abort(string(reason))
		for {
			reply := r.Recv(5 * time.Second)
			require.NotNil(t, reply, "an ABORT")
			_, c := rawpeer.FirstChunk(t, reply)
			if c.Type != wire.ChunkAbort {
				continue
			}
			require.LessOrEqual(t, len(reply), DefaultPacketSize)
			ab, err := wire.ParseAbort(c)
			require.NoError(t, err)
			require.Len(t, ab.Causes, 1)
			require.Equal(t, wire.CauseUserInitiatedAbort, ab.Causes[0].Code)
			want := reason[:min(n, DefaultPacketSize-wire.CommonHeaderSize-wire.ChunkHeaderSize-wire.ParamHeaderSize)]
			require.Equal(t, want, ab.Causes[0].Info)
			break
		}
	}
}

// TestLoneUnknownChunkReported: a packet of one header-only unrecognised
// chunk whose type asks for a report draws its report (RFC 9260 section
// 3.2, "report in an ERROR chunk"), 8 bytes larger than the packet, within
// the reply slack.
func TestLoneUnknownChunkReported(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort = 4960
	tag := establishRaw(t, r, ep, peerPort, 0xd000)
	a := ep.lookupPeer(lo4, peerPort)
	require.NotNil(t, a)
	pkt := rawpeer.Encode(peerPort, ep.Port(), tag, headerOnlyChunks(0xfe, 1))
	r.Send(pkt)
	reply := r.Recv(5 * time.Second)
	_, c := rawpeer.FirstChunk(t, reply)
	require.Equal(t, wire.ChunkError, c.Type)
	causes, err := wire.ParseErrorChunk(c.Value)
	require.NoError(t, err)
	require.Len(t, causes, 1)
	require.Equal(t, wire.CauseUnrecognizedChunkType, causes[0].Code)
	require.LessOrEqual(t, len(reply), len(pkt)+replySlack)
	require.Equal(t, uint64(1), a.Stats().Unrecognized)
	require.Zero(t, a.Stats().Unreported)
	a.Abort("done")
}

package handshake

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
)

const (
	ootbSrc  = 5000
	ootbDst  = 6000
	ootbVTag = 0x0badcafe
	initTag  = 0x12345678
)

// chunkFn appends one chunk to a packet.
type chunkFn func([]byte) []byte

// packet builds a finished packet from ootbSrc to ootbDst with vtag.
func packet(vtag uint32, chunks ...chunkFn) []byte {
	p := wire.NewPacket(nil, wire.CommonHeader{SrcPort: ootbSrc, DstPort: ootbDst, VerificationTag: vtag})
	for _, c := range chunks {
		p = c(p)
	}
	return wire.Finish(p)
}

func dataChunk(b []byte) []byte {
	v := make([]byte, 12, 12+5)
	binary.BigEndian.PutUint32(v[0:], 100) // TSN
	binary.BigEndian.PutUint32(v[8:], 51)  // PPID
	v = append(v, "hello"...)
	return must(wire.AppendChunk(b, wire.ChunkData, wire.FlagDataBeginning|wire.FlagDataEnd, v))
}

func sackChunk(b []byte) []byte {
	return must(wire.AppendSack(b, 99, 65536, []wire.GapAckBlock{{Start: 2, End: 3}}, []uint32{98}))
}

func heartbeatChunk(b []byte) []byte {
	return must(wire.AppendHeartbeat(b, wire.ChunkHeartbeat, []byte("heartbeat info")))
}

func heartbeatAckChunk(b []byte) []byte {
	return must(wire.AppendHeartbeat(b, wire.ChunkHeartbeatAck, []byte("info")))
}

func cookieEchoChunk(b []byte) []byte {
	return must(wire.AppendCookieEcho(b, []byte("a state cookie with a MAC")))
}

func cookieAckChunk(b []byte) []byte { return wire.AppendCookieAck(b) }

func abortChunk(b []byte) []byte {
	return must(wire.Abort{Causes: []wire.ErrorCause{wire.UserInitiatedAbortCause([]byte("bye"))}}.Append(b))
}

func abortTChunk(b []byte) []byte { return must(wire.AppendChunk(b, wire.ChunkAbort, wire.FlagT, nil)) }

func errorChunk(b []byte) []byte {
	return must(wire.AppendErrorChunk(b, wire.InvalidStreamIDCause(7)))
}

func staleCookieChunk(b []byte) []byte {
	return must(wire.AppendErrorChunk(b, wire.StaleCookieCause(1000)))
}

func shutdownChunk(b []byte) []byte          { return wire.AppendShutdown(b, 99) }
func shutdownAckChunk(b []byte) []byte       { return wire.AppendShutdownAck(b) }
func shutdownCompleteChunk(b []byte) []byte  { return wire.AppendShutdownComplete(b, false) }
func shutdownCompleteTChunk(b []byte) []byte { return wire.AppendShutdownComplete(b, true) }

func unknownChunk(t wire.ChunkType) chunkFn {
	return func(b []byte) []byte { return must(wire.AppendChunk(b, t, 0x5a, []byte{1, 2, 3, 4, 5})) }
}

func sampleInit(tag uint32) wire.Init {
	return wire.Init{
		InitiateTag: tag, ARwnd: 131072, OutStreams: 10, InStreams: 10, InitialTSN: 4242,
		Params: []wire.Param{
			wire.SupportedAddressTypesParam(wire.ParamIPv4Address, wire.ParamIPv6Address),
			wire.SupportedExtensionsParam(wire.ChunkReconfig, wire.ChunkForwardTSN),
			wire.ForwardTSNSupportedParam(),
		},
	}
}

func initChunk(tag uint32) chunkFn {
	return func(b []byte) []byte { return must(sampleInit(tag).Append(b, wire.ChunkInit)) }
}

func initAckChunk(b []byte) []byte {
	in := sampleInit(initTag)
	in.Params = append(in.Params, wire.StateCookieParam([]byte("cookie")))
	return must(in.Append(b, wire.ChunkInitAck))
}

// rawChunk appends a chunk header with the given declared length followed
// by body, without any check.
func rawChunk(t wire.ChunkType, length uint16, body []byte) chunkFn {
	return func(b []byte) []byte {
		b = append(b, byte(t), 0)
		b = binary.BigEndian.AppendUint16(b, length)
		return append(b, body...)
	}
}

// checkReply asserts the invariants every non-nil reply keeps and returns
// its header and only chunk.
func checkReply(t *testing.T, pkt, reply []byte) (wire.CommonHeader, wire.Chunk) {
	t.Helper()
	require.LessOrEqual(t, len(reply), len(pkt), "reply bigger than the packet")
	require.True(t, wire.VerifyChecksum(reply), "reply checksum")
	h, err := wire.ParseCommonHeader(reply)
	require.NoError(t, err)
	it := wire.NewChunkIter(reply[wire.CommonHeaderSize:])
	require.True(t, it.Next(), "reply has no chunk")
	c := it.Chunk()
	require.Empty(t, c.Value)
	require.Contains(t, []wire.ChunkType{wire.ChunkAbort, wire.ChunkShutdownComplete}, c.Type)
	require.False(t, it.Next(), "reply has more than one chunk")
	require.NoError(t, it.Err())
	// Exactly one packet: nothing follows the one four-byte chunk.
	require.Len(t, reply, wire.CommonHeaderSize+wire.ChunkHeaderSize)
	return h, c
}

func TestOOTBReply(t *testing.T) {
	type want struct {
		typ   wire.ChunkType
		flags uint8
		vtag  uint32
	}
	abortT := &want{wire.ChunkAbort, wire.FlagT, ootbVTag}
	cases := []struct {
		name        string
		pkt         []byte
		initHandled bool
		want        *want // nil: no reply
	}{
		// Rule 2: ABORT, anywhere, means silence.
		{"ABORT alone", packet(ootbVTag, abortChunk), false, nil},
		{"ABORT with T bit", packet(ootbVTag, abortTChunk), false, nil},
		{"ABORT after DATA", packet(ootbVTag, dataChunk, abortChunk), false, nil},
		{"ABORT after SHUTDOWN-ACK", packet(ootbVTag, shutdownAckChunk, abortChunk), false, nil},
		{"ABORT before DATA", packet(ootbVTag, abortChunk, dataChunk), false, nil},
		{"ABORT then malformed", packet(ootbVTag, abortChunk, rawChunk(wire.ChunkData, 2, nil)), false, nil},
		{"ABORT vtag 0", packet(0, abortChunk), false, nil},

		// Rule 6: SHUTDOWN COMPLETE.
		{"SHUTDOWN-COMPLETE", packet(ootbVTag, shutdownCompleteChunk), false, nil},
		{"SHUTDOWN-COMPLETE with T bit", packet(ootbVTag, shutdownCompleteTChunk), false, nil},
		{"SHUTDOWN-COMPLETE after DATA", packet(ootbVTag, dataChunk, shutdownCompleteChunk), false, nil},

		// Rule 7: COOKIE ACK and ERROR (stale cookie or any other).
		{"COOKIE-ACK", packet(ootbVTag, cookieAckChunk), false, nil},
		{"COOKIE-ACK after SACK", packet(ootbVTag, sackChunk, cookieAckChunk), false, nil},
		{"ERROR", packet(ootbVTag, errorChunk), false, nil},
		{"ERROR stale cookie", packet(ootbVTag, staleCookieChunk), false, nil},
		{"ERROR after SHUTDOWN-ACK", packet(ootbVTag, shutdownAckChunk, errorChunk), false, nil},

		// Rule 5: SHUTDOWN ACK gets SHUTDOWN COMPLETE with the T bit.
		{"SHUTDOWN-ACK", packet(ootbVTag, shutdownAckChunk), false, &want{wire.ChunkShutdownComplete, wire.FlagT, ootbVTag}},
		{"SHUTDOWN-ACK initHandled", packet(ootbVTag, shutdownAckChunk), true, &want{wire.ChunkShutdownComplete, wire.FlagT, ootbVTag}},
		{"SHUTDOWN-ACK then DATA", packet(ootbVTag, shutdownAckChunk, dataChunk), false, &want{wire.ChunkShutdownComplete, wire.FlagT, ootbVTag}},
		// Rule 5 precedes rule 8 whatever the order of the chunks.
		{"DATA then SHUTDOWN-ACK", packet(ootbVTag, dataChunk, shutdownAckChunk), false, &want{wire.ChunkShutdownComplete, wire.FlagT, ootbVTag}},
		{"SHUTDOWN-ACK vtag 0", packet(0, shutdownAckChunk), false, nil},

		// Rule 3: INIT.
		{"INIT", packet(0, initChunk(initTag)), false, &want{wire.ChunkAbort, 0, initTag}},
		{"INIT tag all ones", packet(0, initChunk(0xffffffff)), false, &want{wire.ChunkAbort, 0, 0xffffffff}},
		{"INIT minimal", packet(0, func(b []byte) []byte {
			return must(wire.Init{InitiateTag: initTag, OutStreams: 1, InStreams: 1}.Append(b, wire.ChunkInit))
		}), false, &want{wire.ChunkAbort, 0, initTag}},
		{"INIT initHandled", packet(0, initChunk(initTag)), true, nil},
		{"INIT non-zero vtag", packet(ootbVTag, initChunk(initTag)), false, nil},
		{"INIT non-zero vtag initHandled", packet(ootbVTag, initChunk(initTag)), true, nil},
		{"INIT Initiate Tag 0", packet(0, initChunk(0)), false, nil},
		{"INIT value too short", packet(0, func(b []byte) []byte {
			return must(wire.AppendChunk(b, wire.ChunkInit, 0, []byte{0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1}))
		}), false, nil},
		{"INIT with malformed parameter area", packet(0, func(b []byte) []byte {
			return must(wire.AppendChunk(b, wire.ChunkInit, 0, append(must(sampleInit(initTag).Append(nil, wire.ChunkInit))[4:20], 0, 5, 0, 2)))
		}), false, &want{wire.ChunkAbort, 0, initTag}},
		// Section 8.5.1 A: an INIT must be alone in its packet.
		{"INIT then DATA", packet(0, initChunk(initTag), dataChunk), false, nil},
		{"DATA then INIT", packet(0, dataChunk, initChunk(initTag)), false, nil},
		{"INIT twice", packet(0, initChunk(initTag), initChunk(initTag)), false, nil},
		{"INIT then ABORT", packet(0, initChunk(initTag), abortChunk), false, nil},
		{"INIT then malformed", packet(0, initChunk(initTag), rawChunk(wire.ChunkData, 3, nil)), false, nil},

		// Rule 8: everything else gets an ABORT with the T bit.
		{"DATA", packet(ootbVTag, dataChunk), false, abortT},
		{"DATA initHandled", packet(ootbVTag, dataChunk), true, abortT},
		{"SACK", packet(ootbVTag, sackChunk), false, abortT},
		{"HEARTBEAT", packet(ootbVTag, heartbeatChunk), false, abortT},
		{"HEARTBEAT-ACK", packet(ootbVTag, heartbeatAckChunk), false, abortT},
		{"COOKIE-ECHO", packet(ootbVTag, cookieEchoChunk), false, abortT},
		{"COOKIE-ECHO then DATA", packet(ootbVTag, cookieEchoChunk, dataChunk), false, abortT},
		{"INIT-ACK", packet(ootbVTag, initAckChunk), false, abortT},
		{"SHUTDOWN", packet(ootbVTag, shutdownChunk), false, abortT},
		{"DATA SACK HEARTBEAT", packet(ootbVTag, dataChunk, sackChunk, heartbeatChunk), false, abortT},
		{"unknown chunk type 0x3f", packet(ootbVTag, unknownChunk(0x3f)), false, abortT},
		{"unknown chunk type 0x7f", packet(ootbVTag, unknownChunk(0x7f)), false, abortT},
		{"unknown chunk type 0xbf", packet(ootbVTag, unknownChunk(0xbf)), false, abortT},
		{"unknown chunk type 0xff", packet(ootbVTag, unknownChunk(0xff)), false, abortT},
		{"RE-CONFIG", packet(ootbVTag, unknownChunk(wire.ChunkReconfig)), false, abortT},
		{"FORWARD-TSN", packet(ootbVTag, unknownChunk(wire.ChunkForwardTSN)), false, abortT},
		{"I-DATA", packet(ootbVTag, unknownChunk(wire.ChunkIData)), false, abortT},
		{"vtag all ones", packet(0xffffffff, dataChunk), false, &want{wire.ChunkAbort, wire.FlagT, 0xffffffff}},
		// Section 8.5.1 A: a packet with tag 0 that is not a lone INIT.
		{"DATA vtag 0", packet(0, dataChunk), false, nil},
		{"COOKIE-ECHO vtag 0", packet(0, cookieEchoChunk), false, nil},
		{"unknown chunk vtag 0", packet(0, unknownChunk(0x3f)), false, nil},

		// Malformed chunk lengths: silence.
		{"chunk length 0", packet(ootbVTag, rawChunk(wire.ChunkData, 0, nil)), false, nil},
		{"chunk length 3", packet(ootbVTag, rawChunk(wire.ChunkData, 3, nil)), false, nil},
		{"chunk length past the end", packet(ootbVTag, rawChunk(wire.ChunkData, 100, make([]byte, 20))), false, nil},
		{"SHUTDOWN-ACK length past the end", packet(ootbVTag, rawChunk(wire.ChunkShutdownAck, 8, nil)), false, nil},
		{"INIT length past the end", packet(0, rawChunk(wire.ChunkInit, 200, make([]byte, 16))), false, nil},
		{"DATA then bad length", packet(ootbVTag, dataChunk, rawChunk(wire.ChunkSack, 1, nil)), false, nil},
		{"DATA then stray bytes", packet(ootbVTag, dataChunk, func(b []byte) []byte { return append(b, 0, 0) }), false, nil},
		{"SHUTDOWN-ACK then stray bytes", packet(ootbVTag, shutdownAckChunk, func(b []byte) []byte { return append(b, 8) }), false, nil},
		{"partial chunk header", packet(ootbVTag, func(b []byte) []byte { return append(b, 0, 0, 0) }), false, nil},

		// No chunk at all.
		{"no chunk", packet(ootbVTag), false, nil},
		{"no chunk vtag 0", packet(0), false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig := append([]byte(nil), tc.pkt...)
			reply := OOTBReply(tc.pkt, tc.initHandled)
			require.Equal(t, orig, tc.pkt, "OOTBReply changed its input")
			if tc.want == nil {
				require.Nil(t, reply)
				return
			}
			require.NotNil(t, reply)
			h, c := checkReply(t, tc.pkt, reply)
			require.Equal(t, uint16(ootbDst), h.SrcPort, "ports swapped")
			require.Equal(t, uint16(ootbSrc), h.DstPort, "ports swapped")
			require.Equal(t, tc.want.vtag, h.VerificationTag)
			require.Equal(t, tc.want.typ, c.Type)
			require.Equal(t, tc.want.flags, c.Flags)
		})
	}
}

// TestOOTBReplyExactBytes pins the encoding of each kind of reply.
func TestOOTBReplyExactBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  []byte
		want []byte
	}{
		{"ABORT T", packet(0x01020304, dataChunk), []byte{0x17, 0x70, 0x13, 0x88, 1, 2, 3, 4, 0, 0, 0, 0, 6, 1, 0, 4}},
		{"ABORT to INIT", packet(0, initChunk(0x0a0b0c0d)), []byte{0x17, 0x70, 0x13, 0x88, 10, 11, 12, 13, 0, 0, 0, 0, 6, 0, 0, 4}},
		{"SHUTDOWN-COMPLETE T", packet(0x01020304, shutdownAckChunk), []byte{0x17, 0x70, 0x13, 0x88, 1, 2, 3, 4, 0, 0, 0, 0, 14, 1, 0, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := wire.Finish(tc.want)
			require.Equal(t, want, OOTBReply(tc.pkt, false))
		})
	}
}

// TestOOTBReplyIgnoresChecksum: checking the CRC32c is the caller's job;
// the reply is the same whatever the checksum field holds.
func TestOOTBReplyIgnoresChecksum(t *testing.T) {
	p := packet(ootbVTag, dataChunk)
	want := OOTBReply(p, false)
	require.NotNil(t, want)
	p[8] ^= 0xff
	require.Equal(t, want, OOTBReply(p, false))
}

// TestOOTBReplyShortPackets: anything shorter than a common header plus a
// chunk header gets no reply, so the reply can never be bigger.
func TestOOTBReplyShortPackets(t *testing.T) {
	full := packet(ootbVTag, abortTChunk)
	full[wire.CommonHeaderSize] = byte(wire.ChunkData) // a 4-byte DATA chunk
	full = wire.Finish(full)
	require.NotNil(t, OOTBReply(full, false))
	for n := range len(full) {
		require.Nil(t, OOTBReply(full[:n], false), "length %d", n)
	}
	require.Nil(t, OOTBReply(nil, false))
}

// TestOOTBReplyMissingFinalPadding: the last chunk's padding may be absent.
func TestOOTBReplyMissingFinalPadding(t *testing.T) {
	p := packet(ootbVTag, unknownChunk(0x3f)) // 5-byte value, 3 bytes padding
	p = wire.Finish(p[:len(p)-3])
	reply := OOTBReply(p, false)
	require.NotNil(t, reply)
	checkReply(t, p, reply)
}

// TestOOTBReplyLongPacket: a packet with a big DATA chunk still gets a
// 16-byte reply.
func TestOOTBReplyLongPacket(t *testing.T) {
	p := packet(ootbVTag, func(b []byte) []byte {
		return must(wire.AppendChunk(b, wire.ChunkData, 3, make([]byte, 60000)))
	})
	reply := OOTBReply(p, false)
	h, c := checkReply(t, p, reply)
	require.Equal(t, uint32(ootbVTag), h.VerificationTag)
	require.Equal(t, wire.ChunkAbort, c.Type)
	require.Equal(t, wire.FlagT, c.Flags)
}

func FuzzOOTBReply(f *testing.F) {
	seeds := [][]byte{
		packet(ootbVTag, abortChunk),
		packet(ootbVTag, dataChunk, abortChunk),
		packet(ootbVTag, shutdownCompleteChunk),
		packet(ootbVTag, cookieAckChunk),
		packet(ootbVTag, errorChunk),
		packet(ootbVTag, staleCookieChunk),
		packet(ootbVTag, shutdownAckChunk),
		packet(ootbVTag, dataChunk, shutdownAckChunk),
		packet(0, initChunk(initTag)),
		packet(0, initChunk(0)),
		packet(ootbVTag, initChunk(initTag)),
		packet(0, initChunk(initTag), dataChunk),
		packet(ootbVTag, dataChunk),
		packet(ootbVTag, sackChunk),
		packet(ootbVTag, heartbeatChunk),
		packet(ootbVTag, cookieEchoChunk),
		packet(ootbVTag, initAckChunk),
		packet(ootbVTag, unknownChunk(0xff)),
		packet(0, dataChunk),
		packet(ootbVTag, rawChunk(wire.ChunkData, 0, nil)),
		packet(ootbVTag, rawChunk(wire.ChunkData, 100, make([]byte, 20))),
		packet(ootbVTag, dataChunk, func(b []byte) []byte { return append(b, 0, 0) }),
		packet(ootbVTag),
		{},
		{1, 2, 3},
	}
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, pkt []byte, initHandled bool) {
		orig := append([]byte(nil), pkt...)
		reply := OOTBReply(pkt, initHandled)
		require.True(t, bytes.Equal(orig, pkt), "OOTBReply changed its input")
		if reply == nil {
			return
		}
		h, c := checkReply(t, pkt, reply)
		in, err := wire.ParseCommonHeader(pkt)
		require.NoError(t, err)
		require.Equal(t, in.SrcPort, h.DstPort)
		require.Equal(t, in.DstPort, h.SrcPort)
		require.NotZero(t, h.VerificationTag)
		switch {
		case c.Type == wire.ChunkAbort && c.Flags == 0:
			// Only ever to a lone INIT with tag 0, carrying its Initiate Tag.
			require.False(t, initHandled)
			require.Zero(t, in.VerificationTag)
			require.Equal(t, byte(wire.ChunkInit), pkt[wire.CommonHeaderSize])
			require.Equal(t, binary.BigEndian.Uint32(pkt[wire.CommonHeaderSize+4:]), h.VerificationTag)
		default:
			require.Equal(t, wire.FlagT, c.Flags)
			require.Equal(t, in.VerificationTag, h.VerificationTag)
		}
	})
}

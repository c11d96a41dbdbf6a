package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStrings(t *testing.T) {
	assert.Equal(t, "INIT-ACK", ChunkInitAck.String())
	assert.Equal(t, "I-FORWARD-TSN", ChunkIForwardTSN.String())
	assert.Equal(t, "ChunkType(63)", ChunkType(63).String())
	assert.Equal(t, "Zero Checksum Acceptable", ParamZeroChecksum.String())
	assert.Equal(t, "ParamType(65535)", ParamType(0xffff).String())
	assert.Equal(t, "Protocol Violation", CauseProtocolViolation.String())
	assert.Equal(t, "CauseCode(14)", CauseCode(14).String())

	// Every named constant has a name of its own.
	for i := range 256 {
		s := ChunkType(i).String()
		assert.NotEmpty(t, s)
	}
	for c := CauseCode(1); c <= 13; c++ {
		assert.NotContains(t, c.String(), "CauseCode(")
	}
}

func TestUnrecognizedActions(t *testing.T) {
	cases := []struct {
		chunk ChunkType
		param ParamType
		want  UnrecognizedAction
	}{
		{0x3f, 0x3fff, UnrecognizedAction{Stop: true, Report: false}},
		{0x00, 0x0000, UnrecognizedAction{Stop: true, Report: false}},
		{0x40, 0x4000, UnrecognizedAction{Stop: true, Report: true}},
		{0x7f, 0x7fff, UnrecognizedAction{Stop: true, Report: true}},
		{0x80, 0x8000, UnrecognizedAction{Stop: false, Report: false}},
		{0xbf, 0xbfff, UnrecognizedAction{Stop: false, Report: false}},
		{0xc0, 0xc000, UnrecognizedAction{Stop: false, Report: true}},
		{0xff, 0xffff, UnrecognizedAction{Stop: false, Report: true}},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, ChunkAction(tc.chunk), "chunk %#x", uint8(tc.chunk))
		assert.Equal(t, tc.want, ParamAction(tc.param), "param %#x", uint16(tc.param))
	}
	// Examples from the registries: PAD (132) is skipped silently, FORWARD-TSN
	// (192) skipped and reported, Forward-TSN-Supported (0xC000) skipped and
	// reported, ECN (0x8000) skipped.
	assert.Equal(t, UnrecognizedAction{}, ChunkAction(ChunkPad))
	assert.Equal(t, UnrecognizedAction{Report: true}, ChunkAction(ChunkForwardTSN))
	assert.Equal(t, UnrecognizedAction{Report: true}, ParamAction(ParamForwardTSNSupported))
	assert.Equal(t, UnrecognizedAction{}, ParamAction(ParamECN))
}

func TestKnownChunk(t *testing.T) {
	known := []ChunkType{ChunkData, ChunkInit, ChunkInitAck, ChunkSack, ChunkHeartbeat,
		ChunkHeartbeatAck, ChunkAbort, ChunkShutdown, ChunkShutdownAck, ChunkError,
		ChunkCookieEcho, ChunkCookieAck, ChunkShutdownComplete, ChunkIData, ChunkReconfig,
		ChunkForwardTSN, ChunkIForwardTSN}
	n := 0
	for i := range 256 {
		if KnownChunk(ChunkType(i)) {
			n++
		}
	}
	assert.Equal(t, len(known), n)
	for _, c := range known {
		assert.True(t, KnownChunk(c), "%v", c)
	}
	for _, c := range []ChunkType{ChunkAuth, ChunkAsconf, ChunkAsconfAck, ChunkPad, 12, 13, 255} {
		assert.False(t, KnownChunk(c), "%v", c)
	}
}

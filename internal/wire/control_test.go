package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHeartbeat(t *testing.T) {
	cases := []struct {
		name string
		in   string
		info string
		err  error
	}{
		{"empty info", "00010004", "", nil},
		{"aligned info", "00010008 01020304", "01020304", nil},
		{"unpadded info", "00010009 0102030405", "0102030405", nil},
		{"padded info", "00010009 0102030405 000000", "0102030405", nil},
		{"no parameter", "", "", ErrBadChunk},
		{"wrong parameter", "00070008 01020304", "", ErrBadChunk},
		{"two parameters", "00010004 00010004", "", ErrBadChunk},
		{"info then other", "00010004 80000004", "", ErrBadChunk},
		{"zero length", "00010000", "", ErrBadLength},
		{"length past end", "0001000c 01020304", "", ErrShort},
		{"trailing bytes", "00010004 00", "", ErrShort},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := ParseHeartbeat(mustHex(tc.in))
			assertErrIs(t, tc.err, err)
			if tc.err == nil {
				assert.Equal(t, tc.info, hexString(info))
			} else {
				assert.Nil(t, info)
			}
		})
	}
}

func TestAppendHeartbeat(t *testing.T) {
	assert.Equal(t, mustHex("0400000d 00010009 aabbccddee 000000"),
		must(AppendHeartbeat(nil, ChunkHeartbeat, mustHex("aabbccddee"))))
	assert.Equal(t, mustHex("05000008 00010004"), must(AppendHeartbeat(nil, ChunkHeartbeatAck, nil)))

	for n := range 9 {
		info := make([]byte, n)
		for i := range info {
			info[i] = byte(0xa0 + i)
		}
		out := must(AppendHeartbeat(nil, ChunkHeartbeatAck, info))
		it := NewChunkIter(out)
		require.True(t, it.Next())
		c := it.Chunk()
		assert.Equal(t, ChunkHeartbeatAck, c.Type)
		got, err := ParseHeartbeat(c.Value)
		require.NoError(t, err)
		assert.Equal(t, info, got)
	}
}

func TestHeartbeatAllocs(t *testing.T) {
	pkt := must(AppendHeartbeat(nil, ChunkHeartbeat, []byte("some heartbeat info")))
	buf := make([]byte, 0, 128)
	allocs := testing.AllocsPerRun(100, func() {
		it := NewChunkIter(pkt)
		for it.Next() {
			info, err := ParseHeartbeat(it.Chunk().Value)
			if err != nil {
				panic(err)
			}
			buf = must(AppendHeartbeat(buf[:0], ChunkHeartbeatAck, info))
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, ChunkHeartbeatAck, ChunkType(buf[0]))
}

func TestSmallChunks(t *testing.T) {
	assert.Equal(t, mustHex("0a000007 616263 00"), must(AppendCookieEcho(nil, []byte("abc"))))
	assert.Equal(t, mustHex("0b000004"), AppendCookieAck(nil))
	assert.Equal(t, mustHex("07000008 01020304"), AppendShutdown(nil, 0x01020304))
	assert.Equal(t, mustHex("08000004"), AppendShutdownAck(nil))
	assert.Equal(t, mustHex("0e000004"), AppendShutdownComplete(nil, false))
	assert.Equal(t, mustHex("0e010004"), AppendShutdownComplete(nil, true))

	tsn, err := ParseShutdown(mustHex("01020304"))
	require.NoError(t, err)
	assert.Equal(t, uint32(0x01020304), tsn)
	_, err = ParseShutdown(mustHex("010203"))
	assertErrIs(t, ErrBadChunk, err)
	_, err = ParseShutdown(mustHex("0102030405"))
	assertErrIs(t, ErrBadChunk, err)
}

func TestPacketBuilder(t *testing.T) {
	h := CommonHeader{SrcPort: 5000, DstPort: 5001, VerificationTag: 0xcafebabe, Checksum: 0x12345678}
	pkt := NewPacket(make([]byte, 0, 64), h)
	assert.Equal(t, mustHex("13881389 cafebabe 00000000"), pkt, "checksum field zeroed")
	pkt = AppendCookieAck(pkt)
	pkt = AppendShutdownComplete(pkt, true)
	pkt = Finish(pkt)
	assert.True(t, VerifyChecksum(pkt))
	got, err := ParseCommonHeader(pkt)
	require.NoError(t, err)
	assert.Equal(t, Checksum(pkt), got.Checksum)

	// A packet appended after other bytes starts at the old length.
	prefix := []byte{1, 2, 3}
	out := NewPacket(prefix, h)
	out = Finish(AppendCookieAck(out)[len(prefix):])
	assert.True(t, VerifyChecksum(out))
}

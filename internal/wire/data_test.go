package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPeekData(t *testing.T) {
	dataValue := mustHex("01020304 0506 0708 090a0b0c 41")
	iDataValue := mustHex("01020304 0506 0000 0708090a 0b0c0d0e 41")
	cases := []struct {
		name string
		c    Chunk
		tsn  uint32
		sid  uint16
		ok   bool
	}{
		{"DATA", Chunk{Type: ChunkData, Value: dataValue}, 0x01020304, 0x0506, true},
		{"DATA without user data", Chunk{Type: ChunkData, Value: dataValue[:12]}, 0x01020304, 0x0506, true},
		{"DATA short", Chunk{Type: ChunkData, Value: dataValue[:11]}, 0, 0, false},
		{"DATA empty", Chunk{Type: ChunkData}, 0, 0, false},
		{"I-DATA", Chunk{Type: ChunkIData, Value: iDataValue}, 0x01020304, 0x0506, true},
		{"I-DATA fixed only", Chunk{Type: ChunkIData, Value: iDataValue[:16]}, 0x01020304, 0x0506, true},
		{"I-DATA short", Chunk{Type: ChunkIData, Value: iDataValue[:15]}, 0, 0, false},
		{"SACK", Chunk{Type: ChunkSack, Value: dataValue}, 0, 0, false},
		{"FORWARD-TSN", Chunk{Type: ChunkForwardTSN, Value: dataValue}, 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tsn, ok := PeekDataTSN(tc.c)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.tsn, tsn)
			sid, ok := PeekDataStream(tc.c)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.sid, sid)
		})
	}
}

func TestPeekAllocs(t *testing.T) {
	pkt := readHex(t, "pion-cookie-echo-data.hex")
	var sum uint32
	allocs := testing.AllocsPerRun(100, func() {
		it := NewChunkIter(pkt[CommonHeaderSize:])
		for it.Next() {
			c := it.Chunk()
			if tsn, ok := PeekDataTSN(c); ok {
				sum += tsn
			}
			if sid, ok := PeekDataStream(c); ok {
				sum += uint32(sid)
			}
		}
	})
	assert.Zero(t, allocs)
	assert.NotZero(t, sum)
}

func TestSackView(t *testing.T) {
	gaps := []GapAckBlock{{2, 3}, {5, 9}, {0xfff0, 0xffff}}
	dups := []uint32{7, 0xfffffffe}
	out := must(AppendSack([]byte{0xee}, 0x80000001, 65536, gaps, dups))
	it := NewChunkIter(out[1:])
	require.True(t, it.Next())
	c := it.Chunk()
	assert.Equal(t, ChunkSack, c.Type)
	assert.Len(t, c.Value, 12+4*3+4*2)

	s, err := ParseSackView(c.Value)
	require.NoError(t, err)
	assert.Equal(t, uint32(0x80000001), s.CumTSNAck())
	assert.Equal(t, uint32(65536), s.ARwnd())
	require.Equal(t, 3, s.NumGapBlocks())
	for i, g := range gaps {
		start, end := s.GapBlock(i)
		assert.Equal(t, g, GapAckBlock{start, end})
	}
	require.Equal(t, 2, s.NumDupTSNs())
	assert.Equal(t, dups[0], s.DupTSN(0))
	assert.Equal(t, dups[1], s.DupTSN(1))
	assert.Panics(t, func() { s.GapBlock(3) })
	assert.Panics(t, func() { s.GapBlock(-1) })
	assert.Panics(t, func() { s.DupTSN(2) })

	assert.Equal(t, mustHex("03000010 00000005 00001000 0000 0000"), must(AppendSack(nil, 5, 4096, nil, nil)))
}

func TestParseSackViewErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
		err  error
	}{
		{"empty", "", ErrShort},
		{"11 bytes", "00000001 00001000 000000", ErrShort},
		{"no blocks", "00000001 00001000 0000 0000", nil},
		{"one gap missing", "00000001 00001000 0001 0000", ErrShort},
		{"one gap half", "00000001 00001000 0001 0000 0002", ErrShort},
		{"one gap", "00000001 00001000 0001 0000 0002 0003", nil},
		{"one dup missing", "00000001 00001000 0000 0001", ErrShort},
		{"gap and dup, dup missing", "00000001 00001000 0001 0001 0002 0003", ErrShort},
		{"gap and dup", "00000001 00001000 0001 0001 0002 0003 00000009", nil},
		{"huge counts", "00000001 00001000 ffff ffff", ErrShort},
		{"extra bytes", "00000001 00001000 0000 0000 00", ErrBadChunk},
		{"extra word", "00000001 00001000 0000 0000 00000000", ErrBadChunk},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSackView(mustHex(tc.in))
			assertErrIs(t, tc.err, err)
		})
	}
}

func TestSackAllocs(t *testing.T) {
	out := must(AppendSack(nil, 100, 1<<16, []GapAckBlock{{2, 3}, {5, 9}}, []uint32{50}))
	value := out[4:]
	buf := make([]byte, 0, 64)
	var sum int
	allocs := testing.AllocsPerRun(100, func() {
		s, err := ParseSackView(value)
		if err != nil {
			panic(err)
		}
		sum += int(s.CumTSNAck()) + int(s.ARwnd())
		for i := range s.NumGapBlocks() {
			start, end := s.GapBlock(i)
			sum += int(start) + int(end)
		}
		for i := range s.NumDupTSNs() {
			sum += int(s.DupTSN(i))
		}
		buf = must(AppendSack(buf[:0], 1, 2, nil, nil))
	})
	assert.Zero(t, allocs)
	assert.NotZero(t, sum)
}

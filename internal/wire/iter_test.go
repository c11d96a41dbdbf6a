package wire

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// iterCase is one input to the chunk and parameter iterators. The same
// bytes are read as chunks and as parameters; the length rules are the
// same, only the header fields differ.
type iterCase struct {
	name   string
	in     string // hex
	values []string
	err    error
}

var iterCases = []iterCase{
	{name: "empty", in: ""},
	{name: "header only", in: "0b000004", values: []string{""}},
	{name: "aligned value", in: "01000008 11223344", values: []string{"11223344"}},
	{name: "one byte value padded", in: "00000005 aa000000", values: []string{"aa"}},
	{name: "two byte value padded", in: "00000006 aabb0000", values: []string{"aabb"}},
	{name: "three byte value padded", in: "00000007 aabbcc00", values: []string{"aabbcc"}},
	{name: "final padding missing", in: "00000005 aa", values: []string{"aa"}},
	{name: "final padding partly missing", in: "00000005 aa00", values: []string{"aa"}},
	{name: "non-zero padding ignored", in: "00000005 aaffffff", values: []string{"aa"}},
	{name: "two records", in: "00000005 aa000000 0b000004", values: []string{"aa", ""}},
	{name: "two records, last unpadded", in: "0b000004 00000005 aa", values: []string{"", "aa"}},
	{name: "three records", in: "01000008 11223344 00000006 aabb0000 0e000004",
		values: []string{"11223344", "aabb", ""}},
	{name: "missing padding between records", in: "00000005 aa 0b000004",
		values: []string{"aa"}, err: ErrShort},
	{name: "zero length", in: "01000000", err: ErrBadLength},
	{name: "zero length after good record", in: "0b000004 00000000", values: []string{""}, err: ErrBadLength},
	{name: "length 1", in: "01000001", err: ErrBadLength},
	{name: "length 3", in: "01000003 000000", err: ErrBadLength},
	{name: "length past end by one", in: "01000009 11223344", err: ErrShort},
	{name: "length 5 past end", in: "01000005", err: ErrShort},
	{name: "second length past end", in: "0b000004 01000010 11223344", values: []string{""}, err: ErrShort},
	{name: "maximum length past end", in: "0100ffff 11223344", err: ErrShort},
	{name: "truncated header 1", in: "01", err: ErrShort},
	{name: "truncated header 3", in: "010000", err: ErrShort},
	{name: "1 trailing byte", in: "0b000004 ff", values: []string{""}, err: ErrShort},
	{name: "2 trailing bytes", in: "0b000004 ffff", values: []string{""}, err: ErrShort},
	{name: "3 trailing bytes", in: "0b000004 ffffff", values: []string{""}, err: ErrShort},
	{name: "3 trailing zero bytes", in: "0b000004 000000", values: []string{""}, err: ErrShort},
	{name: "3 trailing bytes after padding", in: "00000005 aa000000 ffffff", values: []string{"aa"}, err: ErrShort},
	{name: "4 trailing zero bytes", in: "0b000004 00000000", values: []string{""}, err: ErrBadLength},
}

func TestChunkIter(t *testing.T) {
	for _, tc := range iterCases {
		t.Run(tc.name, func(t *testing.T) {
			in := mustHex(tc.in)
			it := NewChunkIter(in)
			var values []string
			for it.Next() {
				c := it.Chunk()
				raw := it.Raw()
				assert.Equal(t, ChunkType(raw[0]), c.Type)
				assert.Equal(t, raw[1], c.Flags)
				assert.Equal(t, raw[4:], c.Value)
				assert.Equal(t, len(c.Value), cap(c.Value), "value capacity is limited")
				values = append(values, hexString(c.Value))
			}
			assert.Equal(t, tc.values, values)
			assertErrIs(t, tc.err, it.Err())
			assert.False(t, it.Next(), "Next after the end stays false")
			assert.Equal(t, Chunk{}, it.Chunk())
		})
	}
}

func TestParamIter(t *testing.T) {
	for _, tc := range iterCases {
		t.Run(tc.name, func(t *testing.T) {
			in := mustHex(tc.in)
			it := NewParamIter(in)
			var values []string
			for it.Next() {
				p := it.Param()
				raw := it.Raw()
				assert.Equal(t, ParamType(raw[0])<<8|ParamType(raw[1]), p.Type)
				assert.Equal(t, raw[4:], p.Value)
				values = append(values, hexString(p.Value))
			}
			assert.Equal(t, tc.values, values)
			assertErrIs(t, tc.err, it.Err())
			assert.False(t, it.Next())
		})
	}
}

// TestCausesLengthRules runs the same table through ParseCauses, which
// returns nothing at all on error.
func TestCausesLengthRules(t *testing.T) {
	for _, tc := range iterCases {
		t.Run(tc.name, func(t *testing.T) {
			causes, err := ParseCauses(mustHex(tc.in))
			assertErrIs(t, tc.err, err)
			if tc.err != nil {
				assert.Nil(t, causes)
				return
			}
			var values []string
			for _, c := range causes {
				values = append(values, hexString(c.Info))
			}
			assert.Equal(t, tc.values, values)
		})
	}
}

func assertErrIs(t *testing.T, want, got error) {
	t.Helper()
	if want == nil {
		assert.NoError(t, got)
		return
	}
	require.Error(t, got)
	assert.True(t, errors.Is(got, want), "error %q is not %q", got, want)
	for _, other := range []error{ErrShort, ErrBadLength, ErrBadChecksum, ErrBadChunk} {
		if other != want {
			assert.False(t, errors.Is(got, other), "error %q is also %q", got, other)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

func TestAppendChunkPadding(t *testing.T) {
	for n := range 9 {
		value := make([]byte, n)
		for i := range value {
			value[i] = byte(i + 1)
		}
		out := AppendChunk([]byte{0xee}, ChunkCookieEcho, 0x5a, value)
		require.Len(t, out, 1+4+n+padLen(n), "n=%d", n)
		assert.Equal(t, []byte{0xee, 10, 0x5a, 0, byte(4 + n)}, out[:5])
		assert.Equal(t, value, out[5:5+n])
		assert.Equal(t, make([]byte, padLen(n)), out[5+n:], "zero padding")

		it := NewChunkIter(out[1:])
		require.True(t, it.Next())
		assert.Equal(t, Chunk{Type: ChunkCookieEcho, Flags: 0x5a, Value: value}, it.Chunk())
		assert.False(t, it.Next())
		assert.NoError(t, it.Err())
	}
}

func TestAppendParamPadding(t *testing.T) {
	out := AppendParam(nil, ParamSupportedExtensions, []byte{0x82, 0xc0, 0x40})
	assert.Equal(t, mustHex("8008 0007 82c040 00"), out)
	out = AppendParam(out, ParamForwardTSNSupported, nil)
	assert.Equal(t, mustHex("8008 0007 82c040 00 c000 0004"), out)
}

func TestAppendTooLong(t *testing.T) {
	assert.Panics(t, func() { AppendChunk(nil, ChunkData, 0, make([]byte, 0xffff-3)) })
	assert.NotPanics(t, func() { AppendChunk(nil, ChunkData, 0, make([]byte, 0xffff-4)) })
	assert.Panics(t, func() { AppendParam(nil, ParamStateCookie, make([]byte, 0xffff-3)) })
}

func TestIterAllocs(t *testing.T) {
	pkt := readHex(t, "usrsctp-init-ack.hex")
	chunks := pkt[CommonHeaderSize:]
	var n int
	allocs := testing.AllocsPerRun(100, func() {
		it := NewChunkIter(chunks)
		for it.Next() {
			c := it.Chunk()
			if len(c.Value) < initFixedSize {
				continue
			}
			pit := NewParamIter(c.Value[initFixedSize:])
			for pit.Next() {
				n += len(pit.Param().Value)
			}
			if pit.Err() != nil {
				panic(pit.Err())
			}
		}
		if it.Err() != nil {
			panic(it.Err())
		}
	})
	assert.Zero(t, allocs)
	assert.NotZero(t, n)
}

package wire

import (
	"errors"
	"slices"
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
		out := must(AppendChunk([]byte{0xee}, ChunkCookieEcho, 0x5a, value))
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
	out := must(AppendParam(nil, ParamSupportedExtensions, []byte{0x82, 0xc0, 0x40}))
	assert.Equal(t, mustHex("8008 0007 82c040 00"), out)
	out = must(AppendParam(out, ParamForwardTSNSupported, nil))
	assert.Equal(t, mustHex("8008 0007 82c040 00 c000 0004"), out)
}

// TestAppendTooLong checks that every encoder refuses what its 16-bit
// length field cannot say with an error, not a panic, and leaves dst as it
// was: what they encode often comes from the network.
func TestAppendTooLong(t *testing.T) {
	prefix := []byte{0xee}
	big := make([]byte, 0xffff-3)
	check := func(name string, out []byte, err error) {
		t.Helper()
		assert.ErrorIs(t, err, ErrTooLong, name)
		assert.Equal(t, prefix, out, name)
	}

	out, err := AppendChunk(prefix, ChunkData, 0, big)
	check("chunk", out, err)
	out, err = AppendChunk(prefix, ChunkData, 0, big[:MaxChunkValue])
	require.NoError(t, err)
	assert.Len(t, out, 1+0xffff+1)

	out, err = AppendParam(prefix, ParamStateCookie, big)
	check("parameter", out, err)
	out, err = AppendCauses(prefix, OutOfResourceCause(), ProtocolViolationCause(big))
	check("causes", out, err)
	half := ProtocolViolationCause(big[:0x8000])
	out, err = AppendErrorChunk(prefix, half, half)
	check("ERROR of two causes that fit alone", out, err)
	out, err = Abort{Causes: []ErrorCause{half, half}}.Append(prefix)
	check("ABORT", out, err)
	out, err = AppendHeartbeat(prefix, ChunkHeartbeat, big[:0xffff-8+1])
	check("HEARTBEAT", out, err)
	out, err = AppendCookieEcho(prefix, big)
	check("COOKIE ECHO", out, err)
	out, err = AppendSack(prefix, 1, 2, make([]GapAckBlock, 0x4000), nil)
	check("SACK", out, err)
	out, err = AppendSack(prefix, 1, 2, nil, make([]uint32, 0x10000))
	check("SACK duplicates", out, err)
	in := Init{InitiateTag: 1, Params: []Param{{Type: 0x8123, Value: big[:0x8000]}, {Type: 0x8124, Value: big[:0x8000]}}}
	out, err = in.Append(prefix, ChunkInitAck)
	check("INIT ACK", out, err)
	in.Params = []Param{{Type: 0x8123, Value: big}}
	out, err = in.Append(prefix, ChunkInit)
	check("INIT parameter", out, err)

	_, err = UnrecognizedParam(Param{Type: 0x8123, Value: big[:0xffff-8+1]})
	assert.ErrorIs(t, err, ErrTooLong)
	_, err = UnrecognizedParam(Param{Type: 0x8123, Value: big[:0xffff-8]})
	assert.NoError(t, err)
	_, err = UnrecognizedParamsCause(Param{Type: 0x8123, Value: big[:0x8000]}, Param{Type: 0x8124, Value: big[:0x8000]})
	assert.ErrorIs(t, err, ErrTooLong)
}

// TestFitCauses checks the budget of an ERROR or ABORT chunk, padding
// included.
func TestFitCauses(t *testing.T) {
	causes := []ErrorCause{OutOfResourceCause(), UserInitiatedAbortCause([]byte("x")), OutOfResourceCause()}
	// Sizes on the wire: 4 (header), 4, 8 (5 padded), 4.
	assert.Equal(t, 0, FitCauses(7, causes))
	assert.Equal(t, 1, FitCauses(8, causes))
	assert.Equal(t, 1, FitCauses(15, causes))
	assert.Equal(t, 2, FitCauses(16, causes))
	assert.Equal(t, 3, FitCauses(20, causes))
	assert.Equal(t, 3, FitCauses(1<<20, causes))
	n := FitCauses(1<<20, slices.Repeat([]ErrorCause{ProtocolViolationCause(make([]byte, 1000))}, 100))
	assert.Equal(t, (0xffff-4)/1004, n)
	out := must(AppendErrorChunk(nil, causes[:FitCauses(16, causes)]...))
	assert.Len(t, out, 16)
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

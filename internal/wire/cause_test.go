package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCauseConstructors(t *testing.T) {
	cases := []struct {
		name  string
		cause ErrorCause
		want  string // the cause TLV with padding, hex
	}{
		{"invalid stream", InvalidStreamIDCause(0x0102), "0001 0008 0102 0000"},
		{"missing mandatory", MissingMandatoryParamCause(ParamStateCookie), "0002 000a 00000001 0007 0000"},
		{"missing mandatory two", MissingMandatoryParamCause(ParamStateCookie, ParamIPv4Address),
			"0002 000c 00000002 0007 0005"},
		{"stale cookie", StaleCookieCause(1000), "0003 0008 000003e8"},
		{"out of resource", OutOfResourceCause(), "0004 0004"},
		{"unrecognized chunk", UnrecognizedChunkCause(mustHex("ff000005 aa")), "0006 0009 ff000005 aa 000000"},
		{"invalid mandatory", InvalidMandatoryParamCause(), "0007 0004"},
		{"unrecognized params", must(UnrecognizedParamsCause(
			Param{Type: 0x8123, Value: []byte{1}},
			Param{Type: 0xc123, Value: []byte{2, 3}})),
			"0008 0012 8123 0005 01 000000 c123 0006 0203 0000"},
		{"no user data", NoUserDataCause(0xdeadbeef), "0009 0008 deadbeef"},
		{"user abort", UserInitiatedAbortCause([]byte("bye")), "000c 0007 627965 00"},
		{"protocol violation", ProtocolViolationCause(nil), "000d 0004"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, mustHex(tc.want), must(AppendCauses(nil, tc.cause)))
		})
	}
}

// TestPionErrorVector decodes and re-encodes the ERROR chunk of pion's
// TestChunkErrorUnrecognizedChunkType.
func TestPionErrorVector(t *testing.T) {
	orig := mustHex("c0000008 00000003")
	raw := mustHex("09000010 0006000c c0000008 00000003")
	it := NewChunkIter(raw)
	require.True(t, it.Next())
	c := it.Chunk()
	causes, err := ParseErrorChunk(c.Value)
	require.NoError(t, err)
	require.Len(t, causes, 1)
	assert.Equal(t, CauseUnrecognizedChunkType, causes[0].Code)
	assert.Equal(t, orig, causes[0].Info)
	assert.Equal(t, raw, must(AppendErrorChunk(nil, UnrecognizedChunkCause(orig))))
}

func TestAbortRoundTrip(t *testing.T) {
	for _, a := range []Abort{
		{},
		{T: true},
		{Causes: []ErrorCause{UserInitiatedAbortCause([]byte("x"))}},
		{T: true, Causes: []ErrorCause{ProtocolViolationCause([]byte("bad")), OutOfResourceCause(), {Code: 0xffff}}},
	} {
		out := must(a.Append(nil))
		require.Zero(t, len(out)%4)
		it := NewChunkIter(out)
		require.True(t, it.Next())
		c := it.Chunk()
		assert.Equal(t, ChunkAbort, c.Type)
		assert.True(t, canonicalTLVs(c.Value), "last cause padding outside the Chunk Length")
		got, err := ParseAbort(c)
		require.NoError(t, err)
		assert.True(t, a.Equal(got), "%+v != %+v", a, got)
		require.False(t, it.Next())
		require.NoError(t, it.Err())
	}
	assert.Equal(t, mustHex("06010004"), must(Abort{T: true}.Append(nil)))
	assert.Equal(t, mustHex("06000009 000c0005 78 000000"),
		must(Abort{Causes: []ErrorCause{UserInitiatedAbortCause([]byte("x"))}}.Append(nil)))
}

func TestAbortErrors(t *testing.T) {
	_, err := ParseAbort(Chunk{Type: ChunkError})
	assertErrIs(t, ErrBadChunk, err)
	_, err = ParseAbort(Chunk{Type: ChunkAbort, Value: mustHex("000c0002")})
	assertErrIs(t, ErrBadLength, err)
	_, err = ParseAbort(Chunk{Type: ChunkAbort, Value: mustHex("000c0009 00")})
	assertErrIs(t, ErrShort, err)
	a, err := ParseAbort(Chunk{Type: ChunkAbort, Flags: 0xfe})
	require.NoError(t, err)
	assert.False(t, a.T, "only bit 0 is T")
}

func TestErrorChunk(t *testing.T) {
	_, err := ParseErrorChunk(nil)
	assertErrIs(t, ErrBadChunk, err)
	_, err = ParseErrorChunk(mustHex("0001"))
	assertErrIs(t, ErrShort, err)
	causes := []ErrorCause{InvalidStreamIDCause(3), StaleCookieCause(12)}
	out := must(AppendErrorChunk(nil, causes...))
	it := NewChunkIter(out)
	require.True(t, it.Next())
	got, err := ParseErrorChunk(it.Chunk().Value)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.True(t, causes[0].Equal(got[0]))
	assert.True(t, causes[1].Equal(got[1]))
}

func TestParseCausesDoesNotAlias(t *testing.T) {
	v := mustHex("000d0007 616263")
	causes, err := ParseCauses(v)
	require.NoError(t, err)
	v[4] = 'z'
	assert.Equal(t, "abc", string(causes[0].Info))
}

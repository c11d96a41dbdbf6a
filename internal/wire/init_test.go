package wire

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseInitErrors(t *testing.T) {
	const fixed = "11223344 00010000 000a 0800 55667788"
	cases := []struct {
		name string
		in   string
		err  error
	}{
		{"empty", "", ErrShort},
		{"15 bytes", fixed[:len(fixed)-2], ErrShort},
		{"zero Initiate Tag", "00000000 00010000 000a 0800 55667788", ErrBadChunk},
		{"zero OS", "11223344 00010000 0000 0800 55667788", ErrBadChunk},
		{"zero MIS", "11223344 00010000 000a 0000 55667788", ErrBadChunk},
		{"param length 0", fixed + "c0000000", ErrBadLength},
		{"param length 2", fixed + "c0000002", ErrBadLength},
		{"param past end", fixed + "00070010 aabbccdd", ErrShort},
		{"trailing 2 bytes", fixed + "c0000004 0000", ErrShort},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := ParseInit(mustHex(tc.in))
			assertErrIs(t, tc.err, err)
			assert.True(t, in.Equal(Init{}), "zero Init on error")
		})
	}
}

func TestInitRoundTrip(t *testing.T) {
	v4 := netip.MustParseAddr("198.51.100.7")
	v6 := netip.MustParseAddr("2001:db8::1")
	in := Init{
		InitiateTag: 0x01020304,
		ARwnd:       1 << 20,
		OutStreams:  1024,
		InStreams:   0xffff,
		InitialTSN:  0xfffffff0,
		Params: []Param{
			AddressParam(v4),
			AddressParam(v6),
			SupportedAddressTypesParam(ParamIPv4Address, ParamIPv6Address),
			ForwardTSNSupportedParam(),
			ZeroChecksumParam(EDMIDDTLS),
			must(UnrecognizedParam(Param{Type: 0xbeef, Value: []byte{1, 2, 3}})),
			StateCookieParam([]byte("cookie!")),
			SupportedExtensionsParam(ChunkReconfig, ChunkForwardTSN, ChunkIData),
		},
	}
	for _, typ := range []ChunkType{ChunkInit, ChunkInitAck} {
		out := must(in.Append([]byte{0xff}, typ))
		require.Zero(t, (len(out)-1)%4, "padded to four bytes")
		it := NewChunkIter(out[1:])
		require.True(t, it.Next())
		c := it.Chunk()
		assert.Equal(t, typ, c.Type)
		require.False(t, it.Next())
		require.NoError(t, it.Err())

		// The last parameter (Supported Extensions, 3 bytes) is not
		// padded inside the Chunk Length; the chunk padding follows.
		assert.Equal(t, len(out)-1-1, 4+len(c.Value))

		got, err := ParseInit(c.Value)
		require.NoError(t, err)
		assert.True(t, in.Equal(got), "round trip:\n%+v\n%+v", in, got)

		addrs, err := got.Addresses()
		require.NoError(t, err)
		assert.Equal(t, []netip.Addr{v4, v6}, addrs)
		p, ok := got.Param(ParamSupportedAddressTypes)
		require.True(t, ok)
		types, err := p.AddressTypes()
		require.NoError(t, err)
		assert.Equal(t, []ParamType{ParamIPv4Address, ParamIPv6Address}, types)
		p, ok = got.Param(ParamZeroChecksum)
		require.True(t, ok)
		edmid, err := p.EDMID()
		require.NoError(t, err)
		assert.Equal(t, EDMIDDTLS, edmid)
		p, ok = got.Param(ParamUnrecognized)
		require.True(t, ok)
		inner, err := p.Unrecognized()
		require.NoError(t, err)
		assert.Equal(t, Param{Type: 0xbeef, Value: []byte{1, 2, 3}}, inner)
		cookie, ok := got.Cookie()
		require.True(t, ok)
		assert.Equal(t, "cookie!", string(cookie))
		exts, err := got.SupportedExtensions()
		require.NoError(t, err)
		assert.Equal(t, []ChunkType{ChunkReconfig, ChunkForwardTSN, ChunkIData}, exts)
	}
}

func TestInitExactBytes(t *testing.T) {
	in := Init{
		InitiateTag: 0xa1a2a3a4, ARwnd: 0x10000, OutStreams: 1, InStreams: 2, InitialTSN: 7,
		Params: []Param{SupportedExtensionsParam(ChunkReconfig)},
	}
	want := mustHex(`
		01 00 0019
		a1a2a3a4 00010000 0001 0002 00000007
		8008 0005 82
		000000`)
	assert.Equal(t, want, must(in.Append(nil, ChunkInit)))

	// No parameters at all.
	in.Params = nil
	assert.Equal(t, mustHex("02000014 a1a2a3a4 00010000 0001 0002 00000007"), must(in.Append(nil, ChunkInitAck)))
}

// TestInitFinalPaddingInLength accepts a chunk whose length counts the last
// parameter's padding, which RFC 9260 section 3.2 asks receivers to accept.
func TestInitFinalPaddingInLength(t *testing.T) {
	v := mustHex("a1a2a3a4 00010000 0001 0002 00000007 8008 0005 82 000000")
	in, err := ParseInit(v)
	require.NoError(t, err)
	require.Len(t, in.Params, 1)
	assert.Equal(t, []byte{0x82}, in.Params[0].Value)
	// Re-encoding gives the canonical form, one padding shorter in the length.
	assert.Equal(t, v[:len(v)-3], must(in.Append(nil, ChunkInit))[4:4+len(v)-3])
}

func TestParseInitDoesNotAlias(t *testing.T) {
	pkt := readHex(t, "chrome-init-ack.hex")
	it := NewChunkIter(pkt[CommonHeaderSize:])
	require.True(t, it.Next())
	value := it.Chunk().Value
	in, err := ParseInit(value)
	require.NoError(t, err)
	before := must(in.Append(nil, ChunkInitAck))
	for i := range value {
		value[i] = 0x5a
	}
	assert.Equal(t, before, must(in.Append(nil, ChunkInitAck)))
}

func TestParamDecoderErrors(t *testing.T) {
	_, err := Param{Type: ParamIPv4Address, Value: make([]byte, 16)}.Addr()
	assertErrIs(t, ErrBadChunk, err)
	_, err = Param{Type: ParamIPv6Address, Value: make([]byte, 4)}.Addr()
	assertErrIs(t, ErrBadChunk, err)
	_, err = Param{Type: ParamStateCookie, Value: make([]byte, 4)}.Addr()
	assertErrIs(t, ErrBadChunk, err)
	_, err = Param{Type: ParamSupportedAddressTypes, Value: []byte{0, 5, 0}}.AddressTypes()
	assertErrIs(t, ErrBadChunk, err)
	_, err = Param{Type: ParamRandom}.Extensions()
	assertErrIs(t, ErrBadChunk, err)
	_, err = Param{Type: ParamZeroChecksum, Value: []byte{0, 0, 1}}.EDMID()
	assertErrIs(t, ErrBadChunk, err)
	_, err = Param{Type: ParamUnrecognized}.Unrecognized()
	assertErrIs(t, ErrShort, err)
	_, err = Param{Type: ParamUnrecognized, Value: []byte{0, 1, 0, 2}}.Unrecognized()
	assertErrIs(t, ErrBadLength, err)
	_, err = Param{Type: ParamStateCookie}.Unrecognized()
	assertErrIs(t, ErrBadChunk, err)

	in := Init{InitiateTag: 1, OutStreams: 1, InStreams: 1,
		Params: []Param{{Type: ParamIPv6Address, Value: []byte{1}}}}
	_, err = in.Addresses()
	assertErrIs(t, ErrBadChunk, err)
}

func TestAddressParam(t *testing.T) {
	assert.Equal(t, Param{Type: ParamIPv4Address, Value: []byte{192, 0, 2, 1}},
		AddressParam(netip.MustParseAddr("192.0.2.1")))
	p := AddressParam(netip.MustParseAddr("::ffff:192.0.2.1"))
	assert.Equal(t, ParamIPv6Address, p.Type, "a mapped address stays IPv6")
	a, err := p.Addr()
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddr("::ffff:192.0.2.1"), a)
	p = AddressParam(netip.MustParseAddr("fe80::1%eth0"))
	a, err = p.Addr()
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddr("fe80::1"), a, "zone dropped")
	assert.Panics(t, func() { AddressParam(netip.Addr{}) })
}

func TestConstructorsCopy(t *testing.T) {
	b := []byte{1, 2, 3}
	p := StateCookieParam(b)
	h := HeartbeatInfoParam(b)
	c := UnrecognizedChunkCause(b)
	b[0] = 9
	assert.Equal(t, []byte{1, 2, 3}, p.Value)
	assert.Equal(t, []byte{1, 2, 3}, h.Value)
	assert.Equal(t, []byte{1, 2, 3}, c.Info)
}

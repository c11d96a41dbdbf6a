package wire

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// initVector describes what a captured INIT or INIT ACK packet holds.
type initVector struct {
	file      string
	typ       ChunkType
	hdr       CommonHeader // Checksum not compared
	init      Init         // Params not compared
	types     []ParamType  // parameter types in wire order
	addrs     []netip.Addr
	exts      []ChunkType
	cookieLen int // -1: no cookie
}

var initVectors = []initVector{
	{
		file: "usrsctp-init.hex", typ: ChunkInit,
		hdr:  CommonHeader{SrcPort: 0xfd76, DstPort: 5001, VerificationTag: 0},
		init: Init{InitiateTag: 0x9d72c9e7, ARwnd: 0x20000, OutStreams: 10, InStreams: 2048, InitialTSN: 0xc210be30},
		types: []ParamType{ParamECN, ParamForwardTSNSupported, ParamSupportedExtensions, ParamRandom,
			ParamRequestedHMAC, ParamChunkList, ParamSupportedAddressTypes, ParamIPv4Address, ParamIPv4Address},
		addrs:     []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("127.0.0.1")},
		exts:      []ChunkType{ChunkForwardTSN, ChunkAuth, ChunkAsconf, ChunkAsconfAck, ChunkReconfig},
		cookieLen: -1,
	},
	{
		file: "usrsctp-init-ack.hex", typ: ChunkInitAck,
		hdr:  CommonHeader{SrcPort: 5001, DstPort: 0xfd76, VerificationTag: 0x9d72c9e7},
		init: Init{InitiateTag: 0xc6b7f877, ARwnd: 0x20000, OutStreams: 10, InStreams: 2048, InitialTSN: 0x9271d63e},
		types: []ParamType{ParamECN, ParamForwardTSNSupported, ParamSupportedExtensions, ParamRandom,
			ParamRequestedHMAC, ParamChunkList, ParamIPv4Address, ParamIPv4Address, ParamStateCookie},
		addrs:     []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("127.0.0.1")},
		exts:      []ChunkType{ChunkForwardTSN, ChunkAuth, ChunkAsconf, ChunkAsconfAck, ChunkReconfig},
		cookieLen: 356,
	},
	{
		file: "pion-init.hex", typ: ChunkInit,
		hdr:       CommonHeader{SrcPort: 5000, DstPort: 5000, VerificationTag: 0},
		init:      Init{InitiateTag: 0x9dd14c54, ARwnd: 0x100000, OutStreams: 0xffff, InStreams: 0xffff, InitialTSN: 0xa48d860c},
		types:     []ParamType{ParamSupportedExtensions},
		exts:      []ChunkType{ChunkReconfig, ChunkForwardTSN, ChunkIData, ChunkIForwardTSN},
		cookieLen: -1,
	},
	{
		file: "pion-init-ack.hex", typ: ChunkInitAck,
		hdr:       CommonHeader{SrcPort: 5000, DstPort: 5000, VerificationTag: 0x9dd14c54},
		init:      Init{InitiateTag: 0xfeba6d8b, ARwnd: 0x100000, OutStreams: 0xffff, InStreams: 0xffff, InitialTSN: 0xdf506de4},
		types:     []ParamType{ParamStateCookie, ParamSupportedExtensions},
		exts:      []ChunkType{ChunkReconfig, ChunkForwardTSN, ChunkIData, ChunkIForwardTSN},
		cookieLen: 32,
	},
	{
		file: "chrome-init.hex", typ: ChunkInit,
		hdr:  CommonHeader{SrcPort: 5000, DstPort: 5000, VerificationTag: 0},
		init: Init{InitiateTag: 0xce1579a2, ARwnd: 0x20000, OutStreams: 1024, InStreams: 2048, InitialTSN: 0x945795c0},
		types: []ParamType{ParamForwardTSNSupported, ParamSupportedExtensions, ParamRandom,
			ParamRequestedHMAC, ParamChunkList},
		exts:      []ChunkType{ChunkForwardTSN, ChunkAuth, ChunkAsconf, ChunkAsconfAck, ChunkReconfig},
		cookieLen: -1,
	},
	{
		file: "chrome-init-ack.hex", typ: ChunkInitAck,
		hdr:  CommonHeader{SrcPort: 5000, DstPort: 5000, VerificationTag: 0xce1579a2},
		init: Init{InitiateTag: 0x9bd5b36f, ARwnd: 0x20000, OutStreams: 1024, InStreams: 2048, InitialTSN: 0xefb47287},
		types: []ParamType{ParamForwardTSNSupported, ParamSupportedExtensions, ParamRandom,
			ParamRequestedHMAC, ParamChunkList, ParamStateCookie},
		exts:      []ChunkType{ChunkForwardTSN, ChunkAuth, ChunkAsconf, ChunkAsconfAck, ChunkReconfig},
		cookieLen: 308,
	},
}

// TestInitVectors decodes INIT and INIT ACK packets written by usrsctp,
// Chrome and pion, checks their fields and re-encodes them byte for byte,
// checksum included.
func TestInitVectors(t *testing.T) {
	for _, v := range initVectors {
		t.Run(v.file, func(t *testing.T) {
			pkt := readHex(t, v.file)
			require.True(t, VerifyChecksum(pkt), "CRC32c of the captured packet")

			hdr, err := ParseCommonHeader(pkt)
			require.NoError(t, err)
			hdr.Checksum = 0
			assert.Equal(t, v.hdr, hdr)

			it := NewChunkIter(pkt[CommonHeaderSize:])
			require.True(t, it.Next(), "first chunk: %v", it.Err())
			c := it.Chunk()
			require.False(t, it.Next(), "a single chunk")
			require.NoError(t, it.Err())
			assert.Equal(t, v.typ, c.Type)
			assert.Equal(t, uint8(0), c.Flags)

			in, err := ParseInit(c.Value)
			require.NoError(t, err)
			assert.Equal(t, v.init.InitiateTag, in.InitiateTag, "Initiate Tag")
			assert.Equal(t, v.init.ARwnd, in.ARwnd, "a_rwnd")
			assert.Equal(t, v.init.OutStreams, in.OutStreams, "OS")
			assert.Equal(t, v.init.InStreams, in.InStreams, "MIS")
			assert.Equal(t, v.init.InitialTSN, in.InitialTSN, "Initial TSN")

			var types []ParamType
			for _, p := range in.Params {
				types = append(types, p.Type)
			}
			assert.Equal(t, v.types, types)

			addrs, err := in.Addresses()
			require.NoError(t, err)
			assert.Equal(t, v.addrs, addrs)

			exts, err := in.SupportedExtensions()
			require.NoError(t, err)
			assert.Equal(t, v.exts, exts)

			cookie, ok := in.Cookie()
			if v.cookieLen < 0 {
				assert.False(t, ok, "no State Cookie in an INIT")
			} else {
				assert.True(t, ok, "State Cookie")
				assert.Len(t, cookie, v.cookieLen)
			}

			// Re-encode the whole packet: header, chunk, checksum.
			out := NewPacket(nil, hdr)
			out = must(in.Append(out, c.Type))
			out = Finish(out)
			assert.Equal(t, pkt, out, "re-encoded packet")
		})
	}
}

// TestUsrsctpInitDetails checks the individual parameters of the usrsctp
// INIT beyond what TestInitVectors covers.
func TestUsrsctpInitDetails(t *testing.T) {
	pkt := readHex(t, "usrsctp-init.hex")
	it := NewChunkIter(pkt[CommonHeaderSize:])
	require.True(t, it.Next())
	in, err := ParseInit(it.Chunk().Value)
	require.NoError(t, err)

	p, ok := in.Param(ParamSupportedAddressTypes)
	require.True(t, ok)
	types, err := p.AddressTypes()
	require.NoError(t, err)
	assert.Equal(t, []ParamType{ParamIPv4Address}, types)

	p, ok = in.Param(ParamForwardTSNSupported)
	require.True(t, ok)
	assert.Empty(t, p.Value)
	assert.True(t, p.Equal(ForwardTSNSupportedParam()))

	p, ok = in.Param(ParamRandom)
	require.True(t, ok)
	assert.Len(t, p.Value, 32)

	_, ok = in.Param(ParamZeroChecksum)
	assert.False(t, ok)

	// The usrsctp INIT ACK's cookie starts with usrsctp's signature.
	pkt = readHex(t, "usrsctp-init-ack.hex")
	it = NewChunkIter(pkt[CommonHeaderSize:])
	require.True(t, it.Next())
	ack, err := ParseInit(it.Chunk().Value)
	require.NoError(t, err)
	cookie, ok := ack.Cookie()
	require.True(t, ok)
	assert.Equal(t, "KAME-BSD 1.1", string(cookie[:12]))
}

// TestOtherVectors decodes the SACK and the COOKIE ECHO + DATA packets
// from pion's tests.
func TestOtherVectors(t *testing.T) {
	pkt := readHex(t, "pion-sack.hex")
	it := NewChunkIter(pkt[CommonHeaderSize:])
	require.True(t, it.Next())
	c := it.Chunk()
	require.Equal(t, ChunkSack, c.Type)
	s, err := ParseSackView(c.Value)
	require.NoError(t, err)
	assert.Equal(t, uint32(0x8773bda4), s.CumTSNAck())
	assert.Equal(t, uint32(0x1fe74), s.ARwnd())
	require.Equal(t, 1, s.NumGapBlocks())
	start, end := s.GapBlock(0)
	assert.Equal(t, [2]uint16{2, 2}, [2]uint16{start, end})
	assert.Equal(t, 0, s.NumDupTSNs())
	assert.False(t, it.Next())
	assert.NoError(t, it.Err())
	// Re-encode.
	out := must(AppendSack(NewPacket(nil, mustHeader(t, pkt)), s.CumTSNAck(), s.ARwnd(), []GapAckBlock{{2, 2}}, nil))
	assert.Equal(t, pkt[8:], Finish(out)[8:], "SACK re-encoded (checksum included)")

	pkt = readHex(t, "pion-cookie-echo-data.hex")
	it = NewChunkIter(pkt[CommonHeaderSize:])
	require.True(t, it.Next())
	c = it.Chunk()
	assert.Equal(t, ChunkCookieEcho, c.Type)
	assert.Len(t, c.Value, 32)
	_, ok := PeekDataTSN(c)
	assert.False(t, ok, "COOKIE ECHO is not DATA")
	require.True(t, it.Next())
	c = it.Chunk()
	assert.Equal(t, ChunkData, c.Type)
	assert.Equal(t, FlagDataBeginning|FlagDataEnd, c.Flags)
	tsn, ok := PeekDataTSN(c)
	assert.True(t, ok)
	assert.Equal(t, uint32(0xa879a1c7), tsn)
	sid, ok := PeekDataStream(c)
	assert.True(t, ok)
	assert.Equal(t, uint16(1), sid)
	assert.Len(t, c.Value, 0x1f-4)
	assert.False(t, it.Next())
	assert.NoError(t, it.Err(), "final chunk padding present")
}

func mustHeader(t *testing.T, pkt []byte) CommonHeader {
	t.Helper()
	h, err := ParseCommonHeader(pkt)
	require.NoError(t, err)
	return h
}

package handshake

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/pion/sctp"
	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
)

// parseToken decodes a SNAP token as a whole INIT chunk with wire.
func parseToken(t *testing.T, tok []byte) wire.Init {
	t.Helper()
	require.GreaterOrEqual(t, len(tok), wire.ChunkHeaderSize+16)
	require.Equal(t, byte(wire.ChunkInit), tok[0], "chunk type")
	it := wire.NewChunkIter(tok)
	require.True(t, it.Next())
	c := it.Chunk()
	require.False(t, it.Next(), "token holds more than one chunk")
	require.NoError(t, it.Err())
	require.Equal(t, wire.ChunkInit, c.Type)
	in, err := wire.ParseInit(c.Value)
	require.NoError(t, err)
	return in
}

// checkPionParsable applies the checks pion's chunkInit.unmarshal makes
// (pion/sctp v1.12.1 chunkheader.go, chunk_init.go, chunk_init_common.go,
// paramheader.go), since that function is not exported: an INIT chunk
// with zero flags, a length covering at least the 16-byte fixed part, at
// most three bytes of zero padding after it (or four or more bytes of
// anything), and parameters whose lengths are at least 4 and stay inside
// the chunk.
func checkPionParsable(t *testing.T, tok []byte) {
	t.Helper()
	require.GreaterOrEqual(t, len(tok), 4)
	require.Equal(t, byte(1), tok[0], "pion: type INIT")
	require.Zero(t, tok[1], "pion: INIT flags must be 0")
	length := int(binary.BigEndian.Uint16(tok[2:]))
	require.GreaterOrEqual(t, length, 4+16, "pion: INIT value at least 16 bytes")
	require.LessOrEqual(t, length, len(tok), "pion: chunk length past the token")
	after := len(tok) - length
	if after < 4 {
		for _, b := range tok[length:] {
			require.Zero(t, b, "pion: padding must be zero")
		}
	}
	raw := tok[4:length]
	off := 16
	for remaining := len(raw) - off; remaining > 4; {
		plen := int(binary.BigEndian.Uint16(raw[off+2:]))
		require.GreaterOrEqual(t, plen, 4, "pion: parameter length")
		require.LessOrEqual(t, plen, len(raw)-off, "pion: parameter past the chunk")
		step := plen + (4-plen%4)%4
		off += step
		remaining -= step
	}
}

func localInit() *wire.Init {
	return &wire.Init{
		InitiateTag: 0x11223344, ARwnd: 1 << 20, OutStreams: 1024, InStreams: 2048, InitialTSN: 0x55667788,
		Params: []wire.Param{
			wire.AddressParam(netip.MustParseAddr("192.0.2.1")),
			wire.StateCookieParam([]byte("cookie")),
			wire.SupportedExtensionsParam(wire.ChunkReconfig, wire.ChunkForwardTSN, wire.ChunkAsconf),
		},
	}
}

func peerInit(params ...wire.Param) *wire.Init {
	return &wire.Init{
		InitiateTag: 0x99aabbcc, ARwnd: 65535, OutStreams: 7, InStreams: 9, InitialTSN: 0xddeeff00,
		Params: params,
	}
}

// fullPeer announces everything, as usrsctp or Linux might, with addresses.
func fullPeer() *wire.Init {
	return peerInit(
		wire.AddressParam(netip.MustParseAddr("198.51.100.1")),
		wire.AddressParam(netip.MustParseAddr("2001:db8::1")),
		wire.SupportedAddressTypesParam(wire.ParamIPv4Address, wire.ParamIPv6Address),
		wire.Param{Type: wire.ParamECN},
		wire.ForwardTSNSupportedParam(),
		wire.SupportedExtensionsParam(wire.ChunkAsconf, wire.ChunkAsconfAck, wire.ChunkAuth,
			wire.ChunkForwardTSN, wire.ChunkReconfig, wire.ChunkIData, wire.ChunkIForwardTSN, wire.ChunkPad),
		wire.ZeroChecksumParam(7),
		wire.Param{Type: 0x8123, Value: []byte{1, 2, 3}},
	)
}

func TestExtensions(t *testing.T) {
	require.Equal(t, []wire.ChunkType{wire.ChunkReconfig, wire.ChunkForwardTSN}, Extensions(false))
	require.Equal(t, []wire.ChunkType{wire.ChunkReconfig, wire.ChunkForwardTSN, wire.ChunkIData, wire.ChunkIForwardTSN}, Extensions(true))
	// A fresh slice each time: appending to one does not alter the next.
	e := Extensions(false)
	_ = append(e[:1], wire.ChunkAuth)
	require.Equal(t, []wire.ChunkType{wire.ChunkReconfig, wire.ChunkForwardTSN}, Extensions(false))
}

func TestPionTokens(t *testing.T) {
	for _, interleaving := range []bool{false, true} {
		name := "no interleaving"
		if interleaving {
			name = "interleaving"
		}
		t.Run(name, func(t *testing.T) {
			local, peer := localInit(), fullPeer()
			lt, rt, err := PionTokens(local, peer, interleaving)
			require.NoError(t, err)
			checkPionParsable(t, lt)
			checkPionParsable(t, rt)
			require.Zero(t, len(lt)%4, "local token padded to four bytes")
			require.Zero(t, len(rt)%4, "remote token padded to four bytes")

			l := parseToken(t, lt)
			require.Equal(t, local.InitiateTag, l.InitiateTag)
			require.Equal(t, local.ARwnd, l.ARwnd)
			require.Equal(t, local.OutStreams, l.OutStreams)
			require.Equal(t, local.InStreams, l.InStreams)
			require.Equal(t, local.InitialTSN, l.InitialTSN)
			require.Equal(t, []wire.Param{wire.SupportedExtensionsParam(Extensions(interleaving)...)}, l.Params)
			ext, err := l.SupportedExtensions()
			require.NoError(t, err)
			require.Contains(t, ext, wire.ChunkReconfig)
			require.Contains(t, ext, wire.ChunkForwardTSN)
			require.Equal(t, interleaving, len(ext) == 4)

			r := parseToken(t, rt)
			require.Equal(t, peer.InitiateTag, r.InitiateTag)
			require.Equal(t, peer.ARwnd, r.ARwnd)
			require.Equal(t, peer.OutStreams, r.OutStreams)
			require.Equal(t, peer.InStreams, r.InStreams)
			require.Equal(t, peer.InitialTSN, r.InitialTSN)
			// Only the Supported Extensions, normalised to what pion
			// implements in our order of discovery, and Zero Checksum
			// Acceptable with EDMID 1 whatever the peer said.
			require.Len(t, r.Params, 2)
			require.Equal(t, wire.SupportedExtensionsParam(wire.ChunkForwardTSN, wire.ChunkReconfig, wire.ChunkIData, wire.ChunkIForwardTSN), r.Params[0])
			require.Equal(t, wire.ParamZeroChecksum, r.Params[1].Type)
			edmid, err := r.Params[1].EDMID()
			require.NoError(t, err)
			require.Equal(t, uint32(1), edmid)
			require.Equal(t, wire.EDMIDDTLS, edmid)

			for _, in := range []wire.Init{l, r} {
				addrs, err := in.Addresses()
				require.NoError(t, err)
				require.Empty(t, addrs, "no address parameters")
				_, ok := in.Cookie()
				require.False(t, ok, "no state cookie")
				_, ok = in.Param(wire.ParamForwardTSNSupported)
				require.False(t, ok)
			}
			_, ok := l.Param(wire.ParamZeroChecksum)
			require.False(t, ok, "local token announces no zero checksum")
		})
	}
}

func TestPionTokensPeerWithoutExtensions(t *testing.T) {
	peer := peerInit(wire.AddressParam(netip.MustParseAddr("192.0.2.9")))
	_, rt, err := PionTokens(localInit(), peer, false)
	require.NoError(t, err)
	checkPionParsable(t, rt)
	r := parseToken(t, rt)
	// No empty Supported Extensions parameter: only Zero Checksum.
	require.Equal(t, []wire.Param{wire.ZeroChecksumParam(1)}, r.Params)
}

func TestPionTokensForwardTSNOnly(t *testing.T) {
	peer := peerInit(wire.ForwardTSNSupportedParam())
	_, rt, err := PionTokens(localInit(), peer, true)
	require.NoError(t, err)
	checkPionParsable(t, rt)
	r := parseToken(t, rt)
	require.Equal(t, []wire.Param{
		wire.SupportedExtensionsParam(wire.ChunkForwardTSN),
		wire.ZeroChecksumParam(1),
	}, r.Params)
}

func TestPionTokensDoNotAliasInputs(t *testing.T) {
	local, peer := localInit(), fullPeer()
	lt, rt, err := PionTokens(local, peer, true)
	require.NoError(t, err)
	lt2, rt2 := append([]byte(nil), lt...), append([]byte(nil), rt...)
	local.InitiateTag, peer.InitiateTag = 1, 2
	for _, p := range peer.Params {
		for i := range p.Value {
			p.Value[i] = 0xee
		}
	}
	require.Equal(t, lt2, lt)
	require.Equal(t, rt2, rt)
	// And the inputs were not modified by the call.
	local, peer = localInit(), fullPeer()
	lc, pc := *local, *peer
	_, _, err = PionTokens(local, peer, true)
	require.NoError(t, err)
	require.True(t, lc.Equal(*local))
	require.True(t, pc.Equal(*peer))
}

// TestPionTokensMatchPionOwn compares our tokens with the ones pion itself
// generates (sctp.GenerateOutOfBandToken, which starts nothing): the same
// parameters in the same layout, apart from the fields.
func TestPionTokensMatchPionOwn(t *testing.T) {
	for _, interleaving := range []bool{false, true} {
		for _, zero := range []bool{false, true} {
			own, err := sctp.GenerateOutOfBandToken(sctp.WithEnableInterleaving(interleaving), sctp.WithEnableZeroChecksum(zero))
			require.NoError(t, err)
			checkPionParsable(t, own)
			p := parseToken(t, own)

			// pion's token as our peer: what we hand back to pion is what
			// pion generated, zero checksum included.
			_, rt, err := PionTokens(localInit(), &p, interleaving)
			require.NoError(t, err)
			r := parseToken(t, rt)
			want := p
			if !zero {
				want.Params = append(want.Params, wire.ZeroChecksumParam(1))
			}
			require.True(t, want.Equal(r), "interleaving %v zero %v:\npion %+v\nours %+v", interleaving, zero, want, r)
			if zero {
				requireSameChunk(t, own, rt)
			}

			// Our local token has the parameter list pion puts in its own
			// token without zero checksum.
			if !zero {
				lt, _, err := PionTokens(&p, &p, interleaving)
				require.NoError(t, err)
				requireSameChunk(t, own, lt)
			}
			require.Equal(t, interleaving, Interleaving(true, &p))
		}
	}
}

// requireSameChunk checks that ours is pion's token byte for byte, but for
// the final chunk padding, which pion leaves out and we write (RFC 9260
// section 3.2: the sender MUST pad; pion accepts up to three zero bytes).
func requireSameChunk(t *testing.T, pions, ours []byte) {
	t.Helper()
	require.GreaterOrEqual(t, len(ours), len(pions))
	require.Equal(t, pions, ours[:len(pions)])
	require.Less(t, len(ours)-len(pions), 4)
	for _, b := range ours[len(pions):] {
		require.Zero(t, b)
	}
}

func TestPeerExtensions(t *testing.T) {
	cases := []struct {
		name string
		peer *wire.Init
		want []wire.ChunkType
	}{
		{"nothing", peerInit(), nil},
		{"addresses only", peerInit(wire.AddressParam(netip.MustParseAddr("192.0.2.1"))), nil},
		{"Forward-TSN-Supported only", peerInit(wire.ForwardTSNSupportedParam()), []wire.ChunkType{wire.ChunkForwardTSN}},
		{"Forward-TSN-Supported and FORWARD-TSN listed", peerInit(
			wire.SupportedExtensionsParam(wire.ChunkForwardTSN), wire.ForwardTSNSupportedParam(),
		), []wire.ChunkType{wire.ChunkForwardTSN}},
		{"Forward-TSN-Supported first, RE-CONFIG listed", peerInit(
			wire.ForwardTSNSupportedParam(), wire.SupportedExtensionsParam(wire.ChunkReconfig),
		), []wire.ChunkType{wire.ChunkReconfig, wire.ChunkForwardTSN}},
		{"unknown types filtered", peerInit(wire.SupportedExtensionsParam(
			wire.ChunkAsconf, wire.ChunkAsconfAck, wire.ChunkAuth, wire.ChunkPad, 0x42, 0xff, wire.ChunkData,
		)), nil},
		{"unknown filtered, known kept in order", peerInit(wire.SupportedExtensionsParam(
			wire.ChunkAuth, wire.ChunkIForwardTSN, wire.ChunkAsconf, wire.ChunkReconfig, 0x42,
		)), []wire.ChunkType{wire.ChunkIForwardTSN, wire.ChunkReconfig}},
		{"duplicates removed", peerInit(wire.SupportedExtensionsParam(
			wire.ChunkForwardTSN, wire.ChunkReconfig, wire.ChunkForwardTSN, wire.ChunkReconfig, wire.ChunkIData, wire.ChunkIData,
		)), []wire.ChunkType{wire.ChunkForwardTSN, wire.ChunkReconfig, wire.ChunkIData}},
		{"empty Supported Extensions", peerInit(wire.SupportedExtensionsParam()), nil},
		{"only the first Supported Extensions counts", peerInit(
			wire.SupportedExtensionsParam(wire.ChunkReconfig), wire.SupportedExtensionsParam(wire.ChunkIData),
		), []wire.ChunkType{wire.ChunkReconfig}},
		{"everything", fullPeer(), []wire.ChunkType{wire.ChunkForwardTSN, wire.ChunkReconfig, wire.ChunkIData, wire.ChunkIForwardTSN}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := PeerExtensions(tc.peer)
			require.Equal(t, tc.want, got)
			for _, e := range got {
				require.Contains(t, Extensions(true), e)
			}
		})
	}
}

func TestInterleaving(t *testing.T) {
	withIData := peerInit(wire.SupportedExtensionsParam(wire.ChunkIData, wire.ChunkIForwardTSN))
	withoutIData := peerInit(wire.SupportedExtensionsParam(wire.ChunkForwardTSN, wire.ChunkIForwardTSN))
	require.True(t, Interleaving(true, withIData))
	require.False(t, Interleaving(false, withIData), "local side off")
	require.False(t, Interleaving(true, withoutIData), "peer has no I-DATA")
	require.False(t, Interleaving(false, withoutIData))
	require.False(t, Interleaving(true, peerInit()))
	require.False(t, Interleaving(true, peerInit(wire.ForwardTSNSupportedParam())))
	require.True(t, Interleaving(true, fullPeer()))
}

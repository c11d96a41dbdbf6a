package handshake

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/multihome"
	"github.com/usock/usock/internal/wire"
)

// bigInit is a PeerInit as big as an INIT chunk value can be.
func bigInit() []byte {
	b := make([]byte, 0xffff-4)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func sampleStates() map[string]State {
	base := State{
		LocalTag: 0x01020304, LocalTSN: 0x05060708, LocalARwnd: 0x090a0b0c,
		LocalOS: 0x0d0e, LocalMIS: 0x0f10,
		TieLocal: 0x11121314, TiePeer: 0x15161718,
		LocalPort: 5000, PeerPort: 5001,
	}
	with := func(f func(*State)) State {
		s := base
		f(&s)
		return s
	}
	return map[string]State{
		"ipv4": with(func(s *State) {
			s.Peer = netip.MustParseAddrPort("192.0.2.1:9899")
			s.Local = netip.MustParseAddr("198.51.100.7")
			s.PeerInit = []byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 0xff, 0xff, 0, 10, 0, 10, 1, 2, 3, 4}
		}),
		"ipv6": with(func(s *State) {
			s.Peer = netip.MustParseAddrPort("[2001:db8::1]:9899")
			s.Local = netip.MustParseAddr("2001:db8:ffff::42")
			s.PeerInit = []byte{1, 2, 3}
		}),
		"mixed v4 peer v6 local": with(func(s *State) {
			s.Peer = netip.MustParseAddrPort("203.0.113.9:1")
			s.Local = netip.MustParseAddr("::1")
			s.PeerInit = []byte{9}
		}),
		"ipv4-mapped ipv6": with(func(s *State) {
			s.Peer = netip.MustParseAddrPort("[::ffff:192.0.2.1]:65535")
			s.Local = netip.MustParseAddr("::ffff:10.0.0.1")
			s.PeerInit = []byte{1, 2, 3, 4, 5}
		}),
		"empty PeerInit": with(func(s *State) {
			s.Peer = netip.MustParseAddrPort("192.0.2.1:9899")
			s.Local = netip.MustParseAddr("192.0.2.2")
		}),
		"big PeerInit": with(func(s *State) {
			s.Peer = netip.MustParseAddrPort("[2001:db8::1]:443")
			s.Local = netip.MustParseAddr("2001:db8::2")
			s.PeerInit = bigInit()
		}),
		"no addresses": with(func(s *State) {
			s.PeerInit = []byte{1, 2, 3, 4}
		}),
		"no address, peer port only": with(func(s *State) {
			s.Peer = netip.AddrPortFrom(netip.Addr{}, 77)
		}),
		"all ones": {
			LocalTag: ^uint32(0), LocalTSN: ^uint32(0), LocalARwnd: ^uint32(0),
			LocalOS: ^uint16(0), LocalMIS: ^uint16(0),
			TieLocal: ^uint32(0), TiePeer: ^uint32(0),
			LocalPort: ^uint16(0), PeerPort: ^uint16(0),
			Peer:     netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
			Local:    netip.MustParseAddr("255.255.255.255"),
			PeerInit: bytes.Repeat([]byte{0xff}, 33),
		},
		"zero": {},
	}
}

// normState makes an empty PeerInit nil, which is what Unmarshal produces.
func normState(s State) State {
	if len(s.PeerInit) == 0 {
		s.PeerInit = nil
	}
	return s
}

// addrLen is the encoded size of an address: a length byte and the bytes.
func addrLen(a netip.Addr) int {
	return 1 + len(a.AsSlice())
}

// headerLen is the size of the encoding of s without PeerInit.
func headerLen(s State) int {
	return stateFixed + addrLen(s.Peer.Addr()) + 2 + addrLen(s.Local)
}

func TestStateRoundTrip(t *testing.T) {
	for name, s := range sampleStates() {
		t.Run(name, func(t *testing.T) {
			enc := s.Marshal(nil)
			require.Len(t, enc, headerLen(s)+len(s.PeerInit))

			var got State
			require.NoError(t, got.Unmarshal(enc))
			require.Equal(t, normState(s), got)
			require.True(t, bytes.Equal(s.PeerInit, got.PeerInit))

			// Encoding is canonical: re-marshal gives the same bytes.
			require.Equal(t, enc, got.Marshal(nil))
		})
	}
}

func TestStateMarshalLayout(t *testing.T) {
	s := State{
		LocalTag: 0x01020304, LocalTSN: 0x05060708, LocalARwnd: 0x090a0b0c,
		LocalOS: 0x0d0e, LocalMIS: 0x0f10,
		TieLocal: 0x11121314, TiePeer: 0x15161718,
		LocalPort: 0x191a, PeerPort: 0x1b1c,
		Peer:     netip.MustParseAddrPort("192.0.2.1:4660"),
		Local:    netip.MustParseAddr("::1"),
		PeerInit: []byte{0xaa, 0xbb},
	}
	want := []byte{
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, // tag, TSN, a_rwnd
		13, 14, 15, 16, // OS, MIS
		17, 18, 19, 20, 21, 22, 23, 24, // tie-tags
		25, 26, 27, 28, // ports
		4, 192, 0, 2, 1, // peer address
		0x12, 0x34, // peer UDP port
		16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // local address
		0xaa, 0xbb, // PeerInit
	}
	require.Equal(t, want, s.Marshal(nil))
	require.Equal(t, 28, stateFixed)
}

func TestStateMarshalAppends(t *testing.T) {
	s := sampleStates()["ipv4"]
	prefix := []byte("prefix")
	enc := s.Marshal(append([]byte(nil), prefix...))
	require.Equal(t, prefix, enc[:len(prefix)])
	require.Equal(t, s.Marshal(nil), enc[len(prefix):])
}

func TestStateUnmarshalCopiesPeerInit(t *testing.T) {
	s := sampleStates()["ipv6"]
	enc := s.Marshal(nil)
	var got State
	require.NoError(t, got.Unmarshal(enc))
	for i := range enc {
		enc[i] ^= 0xff
	}
	require.Equal(t, normState(s), got)
}

func TestStateUnmarshalOverwrites(t *testing.T) {
	src := sampleStates()["zero"]
	dst := sampleStates()["all ones"]
	require.NoError(t, dst.Unmarshal(src.Marshal(nil)))
	require.Equal(t, normState(src), dst)
}

// TestStateUnmarshalTruncated cuts a valid encoding at every length. Any cut
// into the fixed fields or the addresses is an error wrapping ErrBadState.
// PeerInit runs to the end of the buffer and has no length of its own (the
// cookie's MAC protects it), so a cut inside it decodes to a shorter
// PeerInit.
func TestStateUnmarshalTruncated(t *testing.T) {
	for name, s := range sampleStates() {
		t.Run(name, func(t *testing.T) {
			enc := s.Marshal(nil)
			hl := headerLen(s)
			for n := range hl {
				var got State
				err := got.Unmarshal(enc[:n])
				require.Error(t, err, "length %d of %d", n, len(enc))
				require.ErrorIs(t, err, ErrBadState, "length %d", n)
			}
			step := 1
			if len(s.PeerInit) > 1000 {
				step = 997
			}
			for n := hl; n <= len(enc); n += step {
				var got State
				require.NoError(t, got.Unmarshal(enc[:n]), "length %d", n)
				want := s
				want.PeerInit = s.PeerInit[:n-hl]
				require.Equal(t, normState(want), got)
			}
		})
	}
}

func TestStateUnmarshalBadAddress(t *testing.T) {
	s := sampleStates()["ipv4"]
	enc := s.Marshal(nil)
	for _, n := range []byte{1, 3, 5, 15, 17, 255} {
		b := append([]byte(nil), enc...)
		b[stateFixed] = n // peer address length
		var got State
		require.ErrorIs(t, got.Unmarshal(b), ErrBadState, "peer address length %d", n)
	}
	localAt := headerLen(s) - addrLen(s.Local)
	for _, n := range []byte{2, 6, 200} {
		b := append([]byte(nil), enc...)
		b[localAt] = n // local address length
		var got State
		require.ErrorIs(t, got.Unmarshal(b), ErrBadState, "local address length %d", n)
	}

	// A peer address declared as 16 bytes swallows the rest: the IPv4 peer
	// address, port and local address are 5+2+5 = 12 bytes, too short.
	b := append([]byte(nil), enc[:headerLen(s)]...)
	b[stateFixed] = 16
	var got State
	require.ErrorIs(t, got.Unmarshal(b), ErrBadState)
}

func TestStateUnmarshalEmpty(t *testing.T) {
	var got State
	require.ErrorIs(t, got.Unmarshal(nil), ErrBadState)
	require.ErrorIs(t, got.Unmarshal([]byte{}), ErrBadState)
}

func FuzzStateUnmarshal(f *testing.F) {
	for _, s := range sampleStates() {
		if len(s.PeerInit) > 100 {
			s.PeerInit = s.PeerInit[:100]
		}
		enc := s.Marshal(nil)
		f.Add(enc)
		f.Add(enc[:len(enc)/2])
		f.Add(enc[:headerLen(s)])
	}
	f.Add([]byte{})
	f.Add(make([]byte, stateFixed))
	f.Add(append(make([]byte, stateFixed), 255, 1, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s State
		if err := s.Unmarshal(b); err != nil {
			require.ErrorIs(t, err, ErrBadState)
			return
		}
		enc := s.Marshal(nil)
		// The encoding is canonical: every decodable input re-encodes to
		// itself.
		require.Equal(t, b, enc)
		var again State
		require.NoError(t, again.Unmarshal(enc))
		require.Equal(t, s, again)
	})
}

// TestCookieInit checks that the INIT a cookie keeps holds the fixed
// fields and what the stack reads later, in at most MaxCookieInit bytes,
// whatever the peer's INIT holds.
func TestCookieInit(t *testing.T) {
	in := wire.Init{InitiateTag: 0xa1b2c3d4, ARwnd: 70000, OutStreams: 9, InStreams: 11, InitialTSN: 77}
	var addrs []netip.Addr
	for i := range 40 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)})
		addrs = append(addrs, a)
		in.Params = append(in.Params, wire.AddressParam(a))
	}
	// Thousands of parameters the stack does not read, long lists in the
	// ones it does.
	for range 3000 {
		in.Params = append(in.Params, wire.Param{Type: 0xc123, Value: []byte{1, 2, 3, 4, 5, 6, 7, 8}})
	}
	in.Params = append(in.Params,
		wire.SupportedAddressTypesParam(slices.Repeat([]wire.ParamType{wire.ParamIPv6Address, 0x7777, wire.ParamIPv4Address}, 5000)...),
		wire.SupportedExtensionsParam(slices.Repeat([]wire.ChunkType{wire.ChunkIData, 0x99, wire.ChunkReconfig}, 5000)...),
		wire.ForwardTSNSupportedParam(),
		wire.SupportedExtensionsParam(wire.ChunkForwardTSN), // not the first: not read
	)
	got, err := CookieInit(&in, addrs)
	require.NoError(t, err)
	require.LessOrEqual(t, len(got), MaxCookieInit)
	back, err := wire.ParseInit(got)
	require.NoError(t, err)
	require.Equal(t, in.InitiateTag, back.InitiateTag)
	require.Equal(t, in.ARwnd, back.ARwnd)
	require.Equal(t, in.OutStreams, back.OutStreams)
	require.Equal(t, in.InStreams, back.InStreams)
	require.Equal(t, in.InitialTSN, back.InitialTSN)
	kept, err := back.Addresses()
	require.NoError(t, err)
	require.Equal(t, addrs[:multihome.MaxPeerAddresses], kept)
	require.Equal(t, []wire.ParamType{wire.ParamIPv6Address, wire.ParamIPv4Address}, multihome.AddressTypes(&back))
	require.Equal(t, PeerExtensions(&in), PeerExtensions(&back))
	require.True(t, Interleaving(true, &back))

	// An INIT with nothing optional keeps nothing optional; a malformed
	// Supported Address Types is left out, as multihome.AddressTypes
	// ignores it.
	bare := wire.Init{InitiateTag: 5, OutStreams: 1, InStreams: 1, Params: []wire.Param{{Type: wire.ParamSupportedAddressTypes, Value: []byte{0}}}}
	got, err = CookieInit(&bare, nil)
	require.NoError(t, err)
	back, err = wire.ParseInit(got)
	require.NoError(t, err)
	require.Empty(t, back.Params)
	require.Nil(t, multihome.AddressTypes(&back))
}

// Package handshake holds the protocol logic of association set-up that
// needs no socket: the State Cookie payload (RFC 9260 section 5.1.3), the
// decision table for an INIT or COOKIE-ECHO that meets an existing
// association (section 5.2), the out-of-the-blue replies (section 8.4) and
// the conversion of wire INIT chunks into the tokens pion's SNAP mode takes.
package handshake

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/usock/usock/internal/multihome"
	"github.com/usock/usock/internal/wire"
)

// ErrBadState means a cookie payload does not decode. A cookie that
// verified under our secret never produces it unless the format changed.
var ErrBadState = errors.New("handshake: malformed cookie state")

// State is what the listening side keeps about a handshake between the
// INIT-ACK and the COOKIE-ECHO, inside the State Cookie and nowhere else.
//
// RFC 9260 section 5.1.3: "The State Cookie ... MUST contain the
// information necessary for the sender of the INIT ACK to create the
// association."
type State struct {
	// LocalTag is the Initiate Tag of our INIT-ACK: the tag the peer puts
	// on every packet it sends us.
	LocalTag uint32
	// LocalTSN is the initial TSN of our INIT-ACK.
	LocalTSN uint32
	// LocalARwnd, LocalOS and LocalMIS are the other fields of our INIT-ACK.
	LocalARwnd        uint32
	LocalOS, LocalMIS uint16
	// TieLocal and TiePeer are the tie-tags of section 5.2.2: the tags of the
	// association that existed when the INIT-ACK was sent, zero otherwise.
	TieLocal, TiePeer uint32
	// LocalPort and PeerPort are the SCTP ports.
	LocalPort, PeerPort uint16
	// Peer is the source address and UDP port of the INIT.
	Peer netip.AddrPort
	// Local is the local address the INIT arrived on.
	Local netip.Addr
	// PeerInit is the value of the peer's INIT chunk (after the chunk header).
	PeerInit []byte
}

const stateFixed = 4*3 + 2*2 + 4*2 + 2*2

// Marshal appends the encoded state to dst.
func (s *State) Marshal(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, s.LocalTag)
	dst = binary.BigEndian.AppendUint32(dst, s.LocalTSN)
	dst = binary.BigEndian.AppendUint32(dst, s.LocalARwnd)
	dst = binary.BigEndian.AppendUint16(dst, s.LocalOS)
	dst = binary.BigEndian.AppendUint16(dst, s.LocalMIS)
	dst = binary.BigEndian.AppendUint32(dst, s.TieLocal)
	dst = binary.BigEndian.AppendUint32(dst, s.TiePeer)
	dst = binary.BigEndian.AppendUint16(dst, s.LocalPort)
	dst = binary.BigEndian.AppendUint16(dst, s.PeerPort)
	dst = appendAddr(dst, s.Peer.Addr())
	dst = binary.BigEndian.AppendUint16(dst, s.Peer.Port())
	dst = appendAddr(dst, s.Local)
	return append(dst, s.PeerInit...)
}

func appendAddr(dst []byte, a netip.Addr) []byte {
	b := a.AsSlice()
	dst = append(dst, byte(len(b)))
	return append(dst, b...)
}

func readAddr(b []byte) (netip.Addr, []byte, error) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return netip.Addr{}, nil, ErrBadState
	}
	n := int(b[0])
	if n == 0 {
		return netip.Addr{}, b[1:], nil
	}
	a, ok := netip.AddrFromSlice(b[1 : 1+n])
	if !ok {
		return netip.Addr{}, nil, fmt.Errorf("%w: address of %d bytes", ErrBadState, n)
	}
	return a, b[1+n:], nil
}

// Unmarshal decodes a state; PeerInit is copied.
func (s *State) Unmarshal(b []byte) error {
	if len(b) < stateFixed {
		return fmt.Errorf("%w: %d bytes", ErrBadState, len(b))
	}
	s.LocalTag = binary.BigEndian.Uint32(b[0:])
	s.LocalTSN = binary.BigEndian.Uint32(b[4:])
	s.LocalARwnd = binary.BigEndian.Uint32(b[8:])
	s.LocalOS = binary.BigEndian.Uint16(b[12:])
	s.LocalMIS = binary.BigEndian.Uint16(b[14:])
	s.TieLocal = binary.BigEndian.Uint32(b[16:])
	s.TiePeer = binary.BigEndian.Uint32(b[20:])
	s.LocalPort = binary.BigEndian.Uint16(b[24:])
	s.PeerPort = binary.BigEndian.Uint16(b[26:])
	peer, rest, err := readAddr(b[28:])
	if err != nil {
		return err
	}
	if len(rest) < 2 {
		return fmt.Errorf("%w: no peer port", ErrBadState)
	}
	s.Peer = netip.AddrPortFrom(peer, binary.BigEndian.Uint16(rest))
	s.Local, rest, err = readAddr(rest[2:])
	if err != nil {
		return err
	}
	s.PeerInit = append([]byte(nil), rest...)
	return nil
}

// CookieInit returns what a State Cookie keeps of the peer's INIT: the
// value of an INIT chunk with the fixed fields and only the parameters the
// stack reads after the COOKIE-ECHO (multihome.PeerAddresses,
// multihome.AddressTypes, PeerExtensions and PionTokens):
//
//   - peerAddrs, the peer's addresses as multihome.PeerAddresses found them
//     in init (which applies the rules on unrecognised parameters and
//     usable addresses), as address parameters: at most
//     multihome.MaxPeerAddresses of them, the first ones;
//   - the first Supported Address Types parameter, with only the IPv4, IPv6
//     and Host Name types, each once;
//   - the first Supported Extensions parameter, with only the extensions
//     pion implements, each once;
//   - Forward-TSN-Supported.
//
// RFC 9260 section 5.1.3 asks the State Cookie to hold "all the
// information necessary for it to establish the association", not the
// INIT itself: the peer's INIT may be close to 64 KiB, and the INIT-ACK
// that carries the cookie must not be. What CookieInit returns is at most
// MaxCookieInit bytes whatever the INIT, so an INIT-ACK's cookie does not
// grow with the INIT.
func CookieInit(init *wire.Init, peerAddrs []netip.Addr) ([]byte, error) {
	out := wire.Init{
		InitiateTag: init.InitiateTag, ARwnd: init.ARwnd,
		OutStreams: init.OutStreams, InStreams: init.InStreams, InitialTSN: init.InitialTSN,
	}
	for _, a := range peerAddrs[:min(len(peerAddrs), multihome.MaxPeerAddresses)] {
		if a.IsValid() {
			out.Params = append(out.Params, wire.AddressParam(a))
		}
	}
	if p, ok := init.Param(wire.ParamSupportedAddressTypes); ok {
		// A malformed one is left out: multihome.AddressTypes reads it as
		// absent.
		if types, err := p.AddressTypes(); err == nil {
			var kept []wire.ParamType
			for _, t := range types {
				if (t == wire.ParamIPv4Address || t == wire.ParamIPv6Address || t == wire.ParamHostNameAddress) && !slices.Contains(kept, t) {
					kept = append(kept, t)
				}
			}
			out.Params = append(out.Params, wire.SupportedAddressTypesParam(kept...))
		}
	}
	if p, ok := init.Param(wire.ParamSupportedExtensions); ok {
		ext, _ := p.Extensions()
		var kept []wire.ChunkType
		for _, t := range ext {
			if slices.Contains(Extensions(true), t) && !slices.Contains(kept, t) {
				kept = append(kept, t)
			}
		}
		out.Params = append(out.Params, wire.SupportedExtensionsParam(kept...))
	}
	if _, ok := init.Param(wire.ParamForwardTSNSupported); ok {
		out.Params = append(out.Params, wire.ForwardTSNSupportedParam())
	}
	chunk, err := out.Append(nil, wire.ChunkInit)
	if err != nil {
		return nil, fmt.Errorf("handshake: the INIT kept in a cookie: %w", err)
	}
	n := int(binary.BigEndian.Uint16(chunk[2:]))
	return chunk[wire.ChunkHeaderSize:n], nil
}

// MaxCookieInit is the most bytes CookieInit returns: the fixed fields,
// multihome.MaxPeerAddresses IPv6 addresses, three address types, four
// extensions and Forward-TSN-Supported.
const MaxCookieInit = 16 + multihome.MaxPeerAddresses*20 + 12 + 8 + 4

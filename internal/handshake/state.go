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

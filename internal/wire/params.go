package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
)

// The constructors in this file copy their byte arguments, so the Param
// they return does not alias them.

// AddressParam returns an IPv4 Address (type 5) or IPv6 Address (type 6)
// parameter for a (RFC 9260 section 3.3.2.1). An IPv4-mapped IPv6 address
// stays an IPv6 Address parameter (call Unmap first to send it as IPv4) and
// any zone is dropped. It panics if a is the zero Addr.
//
//	IPv4 Address: 32 bits (unsigned integer)
//	   Contains an IPv4 address of the sending endpoint. It is binary
//	   encoded.
//
//	IPv6 Address: 128 bits (unsigned integer)
//	   Contains an IPv6 [RFC8200] address of the sending endpoint. It is
//	   binary encoded.
func AddressParam(a netip.Addr) Param {
	if !a.IsValid() {
		panic("wire: AddressParam of an invalid netip.Addr")
	}
	if a.Is4() {
		b := a.As4()
		return Param{Type: ParamIPv4Address, Value: b[:]}
	}
	b := a.As16()
	return Param{Type: ParamIPv6Address, Value: b[:]}
}

// Addr decodes an IPv4 Address or IPv6 Address parameter. Any other type,
// or a value of the wrong size, is an error wrapping ErrBadChunk.
func (p Param) Addr() (netip.Addr, error) {
	switch {
	case p.Type == ParamIPv4Address && len(p.Value) == 4:
		return netip.AddrFrom4([4]byte(p.Value)), nil
	case p.Type == ParamIPv6Address && len(p.Value) == 16:
		return netip.AddrFrom16([16]byte(p.Value)), nil
	}
	return netip.Addr{}, fmt.Errorf("%v parameter with %d-byte value is not an address: %w", p.Type, len(p.Value), ErrBadChunk)
}

// SupportedAddressTypesParam returns a Supported Address Types parameter
// (type 12, RFC 9260 section 3.3.2.1) listing types, normally
// ParamIPv4Address, ParamIPv6Address and ParamHostNameAddress.
//
//	Address Type: 16 bits (unsigned integer)
//	   This is filled with the type value of the corresponding address
//	   TLV (e.g., IPv4 = 5, IPv6 = 6, Host name = 11).
func SupportedAddressTypesParam(types ...ParamType) Param {
	v := make([]byte, 0, 2*len(types))
	for _, t := range types {
		v = binary.BigEndian.AppendUint16(v, uint16(t))
	}
	return Param{Type: ParamSupportedAddressTypes, Value: v}
}

// AddressTypes decodes a Supported Address Types parameter. A value of odd
// length or another parameter type is an error wrapping ErrBadChunk.
func (p Param) AddressTypes() ([]ParamType, error) {
	if p.Type != ParamSupportedAddressTypes || len(p.Value)%2 != 0 {
		return nil, fmt.Errorf("%v parameter with %d-byte value is not a list of address types: %w", p.Type, len(p.Value), ErrBadChunk)
	}
	types := make([]ParamType, len(p.Value)/2)
	for i := range types {
		types[i] = ParamType(binary.BigEndian.Uint16(p.Value[2*i:]))
	}
	return types, nil
}

// SupportedExtensionsParam returns a Supported Extensions parameter
// (type 0x8008, RFC 5061 section 4.2.7) listing chunk types, one byte each.
func SupportedExtensionsParam(types ...ChunkType) Param {
	v := make([]byte, len(types))
	for i, t := range types {
		v[i] = byte(t)
	}
	return Param{Type: ParamSupportedExtensions, Value: v}
}

// Extensions decodes a Supported Extensions parameter. Another parameter
// type is an error wrapping ErrBadChunk.
func (p Param) Extensions() ([]ChunkType, error) {
	if p.Type != ParamSupportedExtensions {
		return nil, fmt.Errorf("%v parameter is not Supported Extensions: %w", p.Type, ErrBadChunk)
	}
	types := make([]ChunkType, len(p.Value))
	for i, b := range p.Value {
		types[i] = ChunkType(b)
	}
	return types, nil
}

// ForwardTSNSupportedParam returns the Forward-TSN-Supported parameter
// (type 0xC000, RFC 3758 section 3.1), which has an empty value.
func ForwardTSNSupportedParam() Param {
	return Param{Type: ParamForwardTSNSupported}
}

// StateCookieParam returns a State Cookie parameter (type 7, RFC 9260
// section 3.3.3.1) carrying cookie.
//
//	State Cookie: variable size
//	   This parameter value MUST contain all the necessary state and
//	   parameter information required for the sender of this INIT ACK
//	   chunk to create the association, along with a Message
//	   Authentication Code (MAC).
func StateCookieParam(cookie []byte) Param {
	return Param{Type: ParamStateCookie, Value: slices.Clone(cookie)}
}

// UnrecognizedParam returns an Unrecognized Parameter (type 8) wrapping the
// whole TLV of p, without p's padding. An INIT ACK carries one for each
// reportable parameter of the INIT that was not recognised (RFC 9260
// section 3.3.3):
//
//	Unrecognized Parameter: variable size
//	   This parameter is returned to the originator of the INIT chunk
//	   when the INIT chunk contains an unrecognized parameter that has a
//	   type that indicates it SHOULD be reported to the sender. This
//	   parameter value field will contain unrecognized parameters copied
//	   from the INIT chunk complete with Parameter Type, Length, and
//	   Value fields.
//
// A p too long to be wrapped (a value over 65527 bytes) is an error
// wrapping ErrTooLong.
func UnrecognizedParam(p Param) (Param, error) {
	if n := 2*ParamHeaderSize + len(p.Value); n > maxTLVLength {
		return Param{}, fmt.Errorf("unrecognized parameter of %d bytes wrapping %v: %w", n, p.Type, ErrTooLong)
	}
	v := binary.BigEndian.AppendUint16(nil, uint16(p.Type))
	v = binary.BigEndian.AppendUint16(v, uint16(ParamHeaderSize+len(p.Value)))
	v = append(v, p.Value...)
	return Param{Type: ParamUnrecognized, Value: v}, nil
}

// Unrecognized decodes an Unrecognized Parameter and returns the parameter
// it wraps, whose value aliases p.Value. Only the first wrapped TLV is
// returned; its padding may be present or not. A malformed value or another
// parameter type is an error wrapping ErrBadChunk, ErrShort or
// ErrBadLength.
func (p Param) Unrecognized() (Param, error) {
	if p.Type != ParamUnrecognized {
		return Param{}, fmt.Errorf("%v parameter is not Unrecognized Parameter: %w", p.Type, ErrBadChunk)
	}
	it := NewParamIter(p.Value)
	if !it.Next() {
		if err := it.Err(); err != nil {
			return Param{}, fmt.Errorf("unrecognized parameter: %w", err)
		}
		return Param{}, fmt.Errorf("unrecognized parameter: empty: %w", ErrShort)
	}
	return it.Param(), nil
}

// EDMIDDTLS is the Error Detection Method Identifier for SCTP over DTLS
// (RFC 9653 section 7).
const EDMIDDTLS uint32 = 1

// ZeroChecksumParam returns a Zero Checksum Acceptable parameter (type
// 0x8001, RFC 9653 section 3) announcing the Error Detection Method
// Identifier edmid.
func ZeroChecksumParam(edmid uint32) Param {
	return Param{Type: ParamZeroChecksum, Value: binary.BigEndian.AppendUint32(nil, edmid)}
}

// EDMID decodes a Zero Checksum Acceptable parameter. Another type or a
// value that is not four bytes is an error wrapping ErrBadChunk.
func (p Param) EDMID() (uint32, error) {
	if p.Type != ParamZeroChecksum || len(p.Value) != 4 {
		return 0, fmt.Errorf("%v parameter with %d-byte value is not Zero Checksum Acceptable: %w", p.Type, len(p.Value), ErrBadChunk)
	}
	return binary.BigEndian.Uint32(p.Value), nil
}

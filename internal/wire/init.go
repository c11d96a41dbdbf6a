package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
)

// initFixedSize is the size of the fixed part of an INIT or INIT ACK value:
// Initiate Tag, a_rwnd, OS, MIS and Initial TSN.
const initFixedSize = 16

// Init is the value of an INIT or INIT ACK chunk (RFC 9260 sections 3.3.2
// and 3.3.3), which share a layout:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Type = 1    |  Chunk Flags  |      Chunk Length             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Initiate Tag                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Advertised Receiver Window Credit (a_rwnd)           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Number of Outbound Streams   |  Number of Inbound Streams    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Initial TSN                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	\                                                               \
//	/              Optional/Variable-Length Parameters              /
//	\                                                               \
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Params holds every parameter in wire order, recognised or not, so that a
// decoded chunk re-encodes to the same bytes.
type Init struct {
	InitiateTag uint32
	ARwnd       uint32
	OutStreams  uint16 // OS, Number of Outbound Streams
	InStreams   uint16 // MIS, Number of Inbound Streams
	InitialTSN  uint32
	Params      []Param
}

// ParseInit decodes the value of an INIT or INIT ACK chunk (the chunk
// without its four-byte header). The parameter values are copied, so the
// result does not alias value.
//
// Errors wrap ErrShort or ErrBadLength for a malformed layout and
// ErrBadChunk for a zero Initiate Tag, OS or MIS, which RFC 9260 section
// 3.3.2 forbids:
//
//	The Initiate Tag is allowed to have any value except 0. [...]
//	If the value of the Initiate Tag in a received INIT chunk is found
//	to be 0, the receiver MUST silently discard the packet.
//
//	Number of Outbound Streams (OS): [...] The value of 0 MUST NOT be
//	used.
//	Note: A receiver of an INIT chunk with the OS value set to 0 MUST
//	discard the packet, SHOULD send a packet in response containing an
//	ABORT chunk and using the Initiate Tag as the Verification Tag, and
//	MUST NOT change the state of any existing association.
//
//	Number of Inbound Streams (MIS): [...] The value 0 MUST NOT be
//	used.
//
// and section 3.3.3 says the same of the INIT ACK ("The Initiate Tag MUST
// NOT take the value 0"). What to send back is the caller's decision.
func ParseInit(value []byte) (Init, error) {
	if len(value) < initFixedSize {
		return Init{}, fmt.Errorf("INIT: value of %d bytes, need %d: %w", len(value), initFixedSize, ErrShort)
	}
	in := Init{
		InitiateTag: binary.BigEndian.Uint32(value[0:]),
		ARwnd:       binary.BigEndian.Uint32(value[4:]),
		OutStreams:  binary.BigEndian.Uint16(value[8:]),
		InStreams:   binary.BigEndian.Uint16(value[10:]),
		InitialTSN:  binary.BigEndian.Uint32(value[12:]),
	}
	switch {
	case in.InitiateTag == 0:
		return Init{}, fmt.Errorf("INIT: Initiate Tag is 0: %w", ErrBadChunk)
	case in.OutStreams == 0:
		return Init{}, fmt.Errorf("INIT: Number of Outbound Streams is 0: %w", ErrBadChunk)
	case in.InStreams == 0:
		return Init{}, fmt.Errorf("INIT: Number of Inbound Streams is 0: %w", ErrBadChunk)
	}

	// Validate and count first, then copy the parameter area once and
	// point the parameters into the copy: two allocations in all.
	params := value[initFixedSize:]
	n := 0
	it := NewParamIter(params)
	for it.Next() {
		n++
	}
	if err := it.Err(); err != nil {
		return Init{}, fmt.Errorf("INIT: %w", err)
	}
	if n == 0 {
		return in, nil
	}
	owned := slices.Clone(params)
	in.Params = make([]Param, 0, n)
	it = NewParamIter(owned)
	for it.Next() {
		in.Params = append(in.Params, it.Param())
	}
	return in, nil
}

// Append appends in as a complete chunk of type t (ChunkInit or
// ChunkInitAck), header and padding included, to dst. Every parameter is
// padded; the Chunk Length counts the padding of all but the last
// parameter, as RFC 9260 section 3.2 prescribes. Append does not validate
// the fields. A chunk over 65535 bytes is an error wrapping ErrTooLong, and
// dst is returned unchanged.
func (in Init) Append(dst []byte, t ChunkType) ([]byte, error) {
	dst, start := beginChunk(dst, t, 0)
	dst = binary.BigEndian.AppendUint32(dst, in.InitiateTag)
	dst = binary.BigEndian.AppendUint32(dst, in.ARwnd)
	dst = binary.BigEndian.AppendUint16(dst, in.OutStreams)
	dst = binary.BigEndian.AppendUint16(dst, in.InStreams)
	dst = binary.BigEndian.AppendUint32(dst, in.InitialTSN)
	pad := 0
	for _, p := range in.Params {
		var err error
		dst, pad, err = appendTLV(dst, uint16(p.Type), p.Value)
		if err != nil {
			return dst[:start], fmt.Errorf("%v: %w", t, err)
		}
	}
	return endChunk(dst, start, pad)
}

// Equal reports whether in and o have the same fields and the same
// parameters in the same order.
func (in Init) Equal(o Init) bool {
	return in.InitiateTag == o.InitiateTag &&
		in.ARwnd == o.ARwnd &&
		in.OutStreams == o.OutStreams &&
		in.InStreams == o.InStreams &&
		in.InitialTSN == o.InitialTSN &&
		slices.EqualFunc(in.Params, o.Params, Param.Equal)
}

// Param returns the first parameter of type t.
func (in Init) Param(t ParamType) (Param, bool) {
	for _, p := range in.Params {
		if p.Type == t {
			return p, true
		}
	}
	return Param{}, false
}

// Cookie returns the value of the State Cookie parameter, which an INIT ACK
// must carry (RFC 9260 section 3.3.3: "State Cookie [...] Mandatory").
func (in Init) Cookie() ([]byte, bool) {
	p, ok := in.Param(ParamStateCookie)
	return p.Value, ok
}

// Addresses returns the IPv4 and IPv6 Address parameters in order. A
// malformed address parameter is an error wrapping ErrBadChunk.
func (in Init) Addresses() ([]netip.Addr, error) {
	var addrs []netip.Addr
	for _, p := range in.Params {
		if p.Type != ParamIPv4Address && p.Type != ParamIPv6Address {
			continue
		}
		a, err := p.Addr()
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// SupportedExtensions returns the chunk types listed in the Supported
// Extensions parameter (RFC 5061 section 4.2.7), or nil if there is none.
func (in Init) SupportedExtensions() ([]ChunkType, error) {
	p, ok := in.Param(ParamSupportedExtensions)
	if !ok {
		return nil, nil
	}
	return p.Extensions()
}

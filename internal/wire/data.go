package wire

import (
	"encoding/binary"
	"fmt"
)

// Sizes of the fixed headers in front of the user data, chunk header
// excluded: DATA has TSN, Stream Identifier, Stream Sequence Number and
// Payload Protocol Identifier (RFC 9260 section 3.3.1); I-DATA has TSN,
// Stream Identifier, Reserved, Message Identifier and PPID/FSN (RFC 8260
// section 2.1).
const (
	dataFixedSize  = 12
	iDataFixedSize = 16
)

// dataFixed returns the size of the fixed header of c if c is a DATA or
// I-DATA chunk whose value holds it, and 0 otherwise.
func dataFixed(c Chunk) int {
	n := 0
	switch c.Type {
	case ChunkData:
		n = dataFixedSize
	case ChunkIData:
		n = iDataFixedSize
	}
	if len(c.Value) < n {
		return 0
	}
	return n
}

// PeekDataTSN returns the TSN of a DATA or I-DATA chunk without decoding
// the rest. ok is false for any other chunk type and for a value too short
// to hold the chunk's fixed header. It does not allocate.
//
// RFC 9260 section 3.3.1: "TSN: 32 bits (unsigned integer) This value
// represents the TSN for this DATA chunk."
func PeekDataTSN(c Chunk) (tsn uint32, ok bool) {
	if dataFixed(c) == 0 {
		return 0, false
	}
	return binary.BigEndian.Uint32(c.Value), true
}

// PeekDataStream returns the Stream Identifier of a DATA or I-DATA chunk
// (the 16 bits after the TSN in both), with the same rules as PeekDataTSN.
func PeekDataStream(c Chunk) (stream uint16, ok bool) {
	if dataFixed(c) == 0 {
		return 0, false
	}
	return binary.BigEndian.Uint16(c.Value[4:]), true
}

// sackFixedSize is the size of the fixed part of a SACK value: Cumulative
// TSN Ack, a_rwnd and the two counts.
const sackFixedSize = 12

// SackView reads a SACK chunk value (RFC 9260 section 3.3.4) in place,
// without copying or allocating:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Type = 3    |  Chunk Flags  |         Chunk Length          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Cumulative TSN Ack                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Advertised Receiver Window Credit (a_rwnd)           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Number of Gap Ack Blocks = N  |  Number of Duplicate TSNs = M |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|    Gap Ack Block #1 Start     |     Gap Ack Block #1 End      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	/                                                               /
//	\                              ...                              \
//	/                                                               /
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|    Gap Ack Block #N Start     |     Gap Ack Block #N End      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Duplicate TSN 1                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	/                                                               /
//	\                              ...                              \
//	/                                                               /
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Duplicate TSN M                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The view aliases the value it was made from; the zero SackView is not
// usable. Its accessors assume the
// lengths ParseSackView checked and do no checks of their own; GapBlock and
// DupTSN panic on an index out of range, like slice indexing.
type SackView struct {
	v []byte
}

// ParseSackView checks that value is a SACK value whose length is exactly
// 12 + 4*N + 4*M bytes for its N Gap Ack Blocks and M Duplicate TSNs, and
// returns a view of it. A value shorter than that is an error wrapping
// ErrShort, a longer one an error wrapping ErrBadChunk. It does not
// allocate on success.
//
// The view does not judge the contents: gap block offsets are returned as
// sent, since RFC 9260 section 3.3.4 leaves their interpretation to the
// receiver ("Gap Ack Blocks: These fields contain the Gap Ack Blocks. They
// are repeated for each Gap Ack Block up to the number of Gap Ack Blocks
// defined in the Number of Gap Ack Blocks field.").
func ParseSackView(value []byte) (SackView, error) {
	if len(value) < sackFixedSize {
		return SackView{}, fmt.Errorf("SACK: value of %d bytes, need %d: %w", len(value), sackFixedSize, ErrShort)
	}
	n := int(binary.BigEndian.Uint16(value[8:]))
	m := int(binary.BigEndian.Uint16(value[10:]))
	want := sackFixedSize + 4*n + 4*m
	switch {
	case len(value) < want:
		return SackView{}, fmt.Errorf("SACK: %d gap blocks and %d duplicate TSNs need %d bytes, have %d: %w",
			n, m, want, len(value), ErrShort)
	case len(value) > want:
		return SackView{}, fmt.Errorf("SACK: %d gap blocks and %d duplicate TSNs need %d bytes, have %d: %w",
			n, m, want, len(value), ErrBadChunk)
	}
	return SackView{v: value}, nil
}

// CumTSNAck returns the Cumulative TSN Ack: "The largest TSN, such that all
// TSNs smaller than or equal to it have been received and the next one has
// not been received."
func (s SackView) CumTSNAck() uint32 {
	return binary.BigEndian.Uint32(s.v[0:])
}

// ARwnd returns the Advertised Receiver Window Credit: "This field
// indicates the updated receive buffer space in bytes of the sender of this
// SACK chunk".
func (s SackView) ARwnd() uint32 {
	return binary.BigEndian.Uint32(s.v[4:])
}

// NumGapBlocks returns the Number of Gap Ack Blocks.
func (s SackView) NumGapBlocks() int {
	return int(binary.BigEndian.Uint16(s.v[8:]))
}

// NumDupTSNs returns the Number of Duplicate TSNs.
func (s SackView) NumDupTSNs() int {
	return int(binary.BigEndian.Uint16(s.v[10:]))
}

// GapBlock returns the start and end offsets of Gap Ack Block i, counted
// from 0. RFC 9260 section 3.3.4: "To calculate the actual TSN number the
// Cumulative TSN Ack is added to this offset number. This calculated TSN
// identifies the first TSN in this Gap Ack Block that has been received."
// (and the same for the end, the last TSN received).
func (s SackView) GapBlock(i int) (start, end uint16) {
	if i < 0 || i >= s.NumGapBlocks() {
		panic(fmt.Sprintf("wire: gap block %d of %d", i, s.NumGapBlocks()))
	}
	off := sackFixedSize + 4*i
	return binary.BigEndian.Uint16(s.v[off:]), binary.BigEndian.Uint16(s.v[off+2:])
}

// DupTSN returns Duplicate TSN i, counted from 0: "Indicates the number of
// times a TSN was received in duplicate since the last SACK chunk was
// sent." (one entry per duplicate).
func (s SackView) DupTSN(i int) uint32 {
	if i < 0 || i >= s.NumDupTSNs() {
		panic(fmt.Sprintf("wire: duplicate TSN %d of %d", i, s.NumDupTSNs()))
	}
	return binary.BigEndian.Uint32(s.v[sackFixedSize+4*s.NumGapBlocks()+4*i:])
}

// GapAckBlock is one Gap Ack Block of a SACK: offsets from the Cumulative
// TSN Ack of the first and last TSN of a run of received TSNs.
type GapAckBlock struct {
	Start, End uint16
}

// AppendSack appends a complete SACK chunk to dst. More than 65535 gap
// blocks or duplicate TSNs, or a chunk over 65535 bytes, is an error
// wrapping ErrTooLong, and dst is returned unchanged.
func AppendSack(dst []byte, cumTSNAck, arwnd uint32, gaps []GapAckBlock, dups []uint32) ([]byte, error) {
	if len(gaps) > 0xffff || len(dups) > 0xffff {
		return dst, fmt.Errorf("SACK with %d gap blocks and %d duplicate TSNs: %w", len(gaps), len(dups), ErrTooLong)
	}
	dst, start := beginChunk(dst, ChunkSack, 0)
	dst = binary.BigEndian.AppendUint32(dst, cumTSNAck)
	dst = binary.BigEndian.AppendUint32(dst, arwnd)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(gaps)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(dups)))
	for _, g := range gaps {
		dst = binary.BigEndian.AppendUint16(dst, g.Start)
		dst = binary.BigEndian.AppendUint16(dst, g.End)
	}
	for _, d := range dups {
		dst = binary.BigEndian.AppendUint32(dst, d)
	}
	return endChunk(dst, start, 0)
}

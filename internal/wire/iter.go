package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// ChunkHeaderSize is the size of the Chunk Type, Chunk Flags and Chunk
// Length fields that start every chunk (RFC 9260 section 3.2).
const ChunkHeaderSize = 4

// ParamHeaderSize is the size of the Parameter Type and Parameter Length
// fields that start every parameter (RFC 9260 section 3.2.1). Error causes
// (section 3.3.10) use the same four-byte header.
const ParamHeaderSize = 4

// maxTLVLength is the largest value a 16-bit length field can hold.
const maxTLVLength = 0xffff

// padLen returns how many zero bytes follow a record of n bytes to bring it
// to a multiple of four.
func padLen(n int) int {
	return (4 - n&3) & 3
}

// tlvIter walks the type-length-value records shared by chunks, parameters
// and error causes. All three put a 16-bit length covering the four-byte
// header and the value, but not the padding, at bytes 2..3.
//
// RFC 9260 section 3.2 (Chunk Length):
//
//	This value represents the size of the chunk in bytes, including the
//	Chunk Type, Chunk Flags, Chunk Length, and Chunk Value fields.
//	Therefore, if the Chunk Value field is zero-length, the Length field
//	will be set to 4. The Chunk Length field does not count any chunk
//	padding. However, it does include any padding of variable-length
//	parameters other than the last parameter in the chunk.
//
//	Note: A robust implementation is expected to accept the chunk
//	whether or not the final padding has been included in the Chunk
//	Length.
//
// and on padding:
//
//	The total length of a chunk (including Type, Length, and Value fields)
//	MUST be a multiple of 4 bytes. If the length of the chunk is not a
//	multiple of 4 bytes, the sender MUST pad the chunk with all zero
//	bytes, and this padding is not included in the Chunk Length field.
//	The sender MUST NOT pad with more than 3 bytes. The receiver MUST
//	ignore the padding bytes.
//
// So a record's padding is skipped without looking at it, the padding of
// the last record may be absent (or cut short) at the end of the buffer,
// and anything left after the last record's padding must be another whole
// record: one to three stray bytes are an error.
type tlvIter struct {
	buf  []byte
	off  int    // start of the next record
	n    int    // records returned so far
	cur  []byte // current record, header included, padding excluded
	err  error
	what string // "chunk", "parameter" or "error cause", for messages
}

func (t *tlvIter) next() bool {
	if t.err != nil || t.off >= len(t.buf) {
		t.cur = nil
		return false
	}
	rest := t.buf[t.off:]
	if len(rest) < 4 {
		t.fail(fmt.Errorf("%s %d at offset %d: %d trailing bytes, less than a header: %w",
			t.what, t.n, t.off, len(rest), ErrShort))
		return false
	}
	n := int(binary.BigEndian.Uint16(rest[2:]))
	if n < 4 {
		t.fail(fmt.Errorf("%s %d at offset %d: length %d below header size: %w",
			t.what, t.n, t.off, n, ErrBadLength))
		return false
	}
	if n > len(rest) {
		t.fail(fmt.Errorf("%s %d at offset %d: length %d runs past the %d bytes left: %w",
			t.what, t.n, t.off, n, len(rest), ErrShort))
		return false
	}
	// Limit the capacity so that an append to a value cannot overwrite the
	// record that follows it.
	t.cur = rest[:n:n]
	t.off += min(n+padLen(n), len(rest))
	t.n++
	return true
}

func (t *tlvIter) fail(err error) {
	t.err = err
	t.cur = nil
}

// Chunk is one chunk of a packet (RFC 9260 section 3.2). Value aliases the
// packet buffer; it excludes the four-byte chunk header and the padding.
type Chunk struct {
	Type  ChunkType
	Flags uint8
	Value []byte
}

// ChunkIter iterates over the chunks of a packet without allocating. Use it
// as
//
//	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
//	for it.Next() {
//		c := it.Chunk()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
//
// Every chunk length is checked before it is used: a length below 4 is
// ErrBadLength, a length running past the buffer is ErrShort, and one to
// three bytes left over after the last chunk's padding are ErrShort. The
// final chunk's padding may be missing. Chunks returned before an error
// were well formed; what to do with them is the caller's decision.
type ChunkIter struct {
	t tlvIter
}

// NewChunkIter returns an iterator over the chunks in b, which is the
// packet after its common header.
func NewChunkIter(b []byte) ChunkIter {
	return ChunkIter{t: tlvIter{buf: b, what: "chunk"}}
}

// Next advances to the next chunk and reports whether there is one. It
// returns false at the end of the buffer and after an error.
func (it *ChunkIter) Next() bool {
	return it.t.next()
}

// Chunk returns the current chunk. Its Value aliases the buffer.
func (it *ChunkIter) Chunk() Chunk {
	r := it.t.cur
	if r == nil {
		return Chunk{}
	}
	return Chunk{Type: ChunkType(r[0]), Flags: r[1], Value: r[4:]}
}

// Raw returns the whole current chunk, header included and padding
// excluded, aliasing the buffer. The "Unrecognized Chunk Type" error cause
// carries exactly these bytes.
func (it *ChunkIter) Raw() []byte {
	return it.t.cur
}

// Err returns the error that stopped the iteration, or nil if it ran to the
// end of the buffer (or has not finished).
func (it *ChunkIter) Err() error {
	return it.t.err
}

// MaxChunkValue is the longest value a chunk can carry: the 16-bit Chunk
// Length counts the four-byte header too.
const MaxChunkValue = maxTLVLength - ChunkHeaderSize

// AppendChunk appends a chunk with the given type, flags and value to dst,
// followed by zero padding to a multiple of four bytes. A value longer than
// MaxChunkValue is an error wrapping ErrTooLong, and dst is returned
// unchanged.
func AppendChunk(dst []byte, t ChunkType, flags uint8, value []byte) ([]byte, error) {
	dst, start := beginChunk(dst, t, flags)
	dst = append(dst, value...)
	return endChunk(dst, start, 0)
}

// appendFixedChunk is AppendChunk for the chunks whose value has a fixed
// size of a few bytes, which always fit.
func appendFixedChunk(dst []byte, t ChunkType, flags uint8, value []byte) []byte {
	dst, start := beginChunk(dst, t, flags)
	dst = append(dst, value...)
	binary.BigEndian.PutUint16(dst[start+2:], uint16(len(dst)-start))
	return appendPad(dst, len(dst)-start)
}

// beginChunk appends a chunk header whose length is filled in by endChunk
// and returns the offset of the chunk in dst.
func beginChunk(dst []byte, t ChunkType, flags uint8) ([]byte, int) {
	start := len(dst)
	return append(dst, byte(t), flags, 0, 0), start
}

// endChunk stores the length of the chunk that starts at dst[start:], not
// counting the last trailPad bytes, and pads dst to a multiple of four
// bytes past start. trailPad is the padding of the chunk's last parameter
// or error cause, which RFC 9260 section 3.2 leaves out of the Chunk
// Length. A chunk longer than the 16-bit Chunk Length can say is an error
// wrapping ErrTooLong; dst is then cut back to start, so that a caller
// never sends half a chunk.
func endChunk(dst []byte, start, trailPad int) ([]byte, error) {
	n := len(dst) - start - trailPad
	if n > maxTLVLength {
		return dst[:start], fmt.Errorf("%v chunk of %d bytes: %w", ChunkType(dst[start]), n, ErrTooLong)
	}
	binary.BigEndian.PutUint16(dst[start+2:], uint16(n))
	return appendPad(dst, len(dst)-start), nil
}

// appendPad appends the zero padding that follows a record of n bytes.
func appendPad(dst []byte, n int) []byte {
	var zero [3]byte
	return append(dst, zero[:padLen(n)]...)
}

// appendTLV appends a parameter or error cause record with zero padding and
// returns the number of padding bytes written. A record longer than its
// 16-bit length can say is an error wrapping ErrTooLong, and dst is
// returned unchanged.
func appendTLV(dst []byte, typ uint16, value []byte) ([]byte, int, error) {
	n := ParamHeaderSize + len(value)
	if n > maxTLVLength {
		return dst, 0, fmt.Errorf("record of type %#04x and %d bytes: %w", typ, n, ErrTooLong)
	}
	dst = binary.BigEndian.AppendUint16(dst, typ)
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	dst = append(dst, value...)
	return appendPad(dst, n), padLen(n), nil
}

// tlvSize is the size a record with a value of n bytes takes in a chunk,
// padding included.
func tlvSize(n int) int {
	n += ParamHeaderSize
	return n + padLen(n)
}

// Param is an optional or variable-length parameter (RFC 9260 section
// 3.2.1). Value excludes the four-byte header and the padding.
type Param struct {
	Type  ParamType
	Value []byte
}

// Equal reports whether p and o have the same type and value bytes; a nil
// and an empty value are equal.
func (p Param) Equal(o Param) bool {
	return p.Type == o.Type && bytes.Equal(p.Value, o.Value)
}

// ParamIter iterates over a sequence of parameters without allocating, with
// the same length rules as ChunkIter: a length below 4 is ErrBadLength, a
// length past the end of the buffer or one to three stray bytes at the end
// are ErrShort, and the last parameter's padding may be missing.
//
// RFC 9260 section 3.2.1 (Parameter Length):
//
//	The Parameter Length field contains the size of the parameter in
//	bytes, including the Parameter Type, Parameter Length, and Parameter
//	Value fields. Thus, a parameter with a zero-length Parameter Value
//	field would have a Parameter Length field of 4. The Parameter Length
//	does not include any padding bytes.
type ParamIter struct {
	t tlvIter
}

// NewParamIter returns an iterator over the parameters in b.
func NewParamIter(b []byte) ParamIter {
	return ParamIter{t: tlvIter{buf: b, what: "parameter"}}
}

// Next advances to the next parameter and reports whether there is one. It
// returns false at the end of the buffer and after an error.
func (it *ParamIter) Next() bool {
	return it.t.next()
}

// Param returns the current parameter. Its Value aliases the buffer.
func (it *ParamIter) Param() Param {
	r := it.t.cur
	if r == nil {
		return Param{}
	}
	return Param{Type: ParamType(binary.BigEndian.Uint16(r)), Value: r[4:]}
}

// Raw returns the whole current parameter, header included and padding
// excluded, aliasing the buffer.
func (it *ParamIter) Raw() []byte {
	return it.t.cur
}

// Err returns the error that stopped the iteration, or nil.
func (it *ParamIter) Err() error {
	return it.t.err
}

// Size is the number of bytes p takes in a chunk: header, value and
// padding.
func (p Param) Size() int {
	return tlvSize(len(p.Value))
}

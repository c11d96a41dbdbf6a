package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
)

// ErrorCause is one error cause of an ABORT or ERROR chunk (RFC 9260
// section 3.3.10):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Cause Code           |         Cause Length          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	/                    Cause-Specific Information                 /
//	\                                                               \
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Info is the cause-specific information without padding.
type ErrorCause struct {
	Code CauseCode
	Info []byte
}

// Equal reports whether c and o have the same code and information bytes.
func (c ErrorCause) Equal(o ErrorCause) bool {
	return c.Code == o.Code && bytes.Equal(c.Info, o.Info)
}

// ParseCauses decodes a list of error causes, the value of an ABORT or
// ERROR chunk. Causes follow the parameter length rules of ParamIter. The
// information bytes are copied, so the result does not alias value. An
// empty value yields no causes and no error.
func ParseCauses(value []byte) ([]ErrorCause, error) {
	it := tlvIter{buf: value, what: "error cause"}
	n := 0
	for it.next() {
		n++
	}
	if it.err != nil {
		return nil, it.err
	}
	if n == 0 {
		return nil, nil
	}
	owned := slices.Clone(value)
	causes := make([]ErrorCause, 0, n)
	it = tlvIter{buf: owned, what: "error cause"}
	for it.next() {
		causes = append(causes, ErrorCause{
			Code: CauseCode(binary.BigEndian.Uint16(it.cur)),
			Info: it.cur[ParamHeaderSize:],
		})
	}
	return causes, nil
}

// Size is the number of bytes c takes in an ABORT or ERROR chunk: header,
// information and padding.
func (c ErrorCause) Size() int {
	return tlvSize(len(c.Info))
}

// appendCauses is AppendCauses that also returns the last cause's padding.
func appendCauses(dst []byte, causes []ErrorCause) ([]byte, int, error) {
	start := len(dst)
	pad := 0
	for _, c := range causes {
		var err error
		dst, pad, err = appendTLV(dst, uint16(c.Code), c.Info)
		if err != nil {
			return dst[:start], 0, fmt.Errorf("%v cause: %w", c.Code, err)
		}
	}
	return dst, pad, nil
}

// appendCauseChunk appends a chunk of type t carrying causes.
func appendCauseChunk(dst []byte, t ChunkType, flags uint8, causes []ErrorCause) ([]byte, error) {
	dst, start := beginChunk(dst, t, flags)
	dst, pad, err := appendCauses(dst, causes)
	if err != nil {
		return dst[:start], fmt.Errorf("%v: %w", t, err)
	}
	return endChunk(dst, start, pad)
}

// Abort is an ABORT chunk (RFC 9260 section 3.3.7):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Type = 6    |  Reserved   |T|            Length             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	\                                                               \
//	/                   zero or more Error Causes                   /
//	\                                                               \
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Abort struct {
	// T is the T bit: "The T bit is set to 0 if the sender filled in the
	// Verification Tag expected by the peer. If the Verification Tag is
	// reflected, the T bit MUST be set to 1."
	T      bool
	Causes []ErrorCause
}

// ParseAbort decodes an ABORT chunk. A chunk of another type is an error
// wrapping ErrBadChunk. The causes do not alias c.Value.
func ParseAbort(c Chunk) (Abort, error) {
	if c.Type != ChunkAbort {
		return Abort{}, fmt.Errorf("ABORT: chunk type is %v: %w", c.Type, ErrBadChunk)
	}
	causes, err := ParseCauses(c.Value)
	if err != nil {
		return Abort{}, fmt.Errorf("ABORT: %w", err)
	}
	return Abort{T: c.Flags&FlagT != 0, Causes: causes}, nil
}

// Append appends a as a complete ABORT chunk to dst. Causes that do not
// fit one chunk (65535 bytes) are an error wrapping ErrTooLong, and dst is
// returned unchanged.
func (a Abort) Append(dst []byte) ([]byte, error) {
	var flags uint8
	if a.T {
		flags = FlagT
	}
	return appendCauseChunk(dst, ChunkAbort, flags, a.Causes)
}

// Equal reports whether a and o have the same T bit and causes.
func (a Abort) Equal(o Abort) bool {
	return a.T == o.T && slices.EqualFunc(a.Causes, o.Causes, ErrorCause.Equal)
}

// ParseErrorChunk decodes the value of an ERROR chunk (RFC 9260 section
// 3.3.10), which carries "one or more Error Causes"; an empty value is an
// error wrapping ErrBadChunk. The causes do not alias value.
func ParseErrorChunk(value []byte) ([]ErrorCause, error) {
	causes, err := ParseCauses(value)
	if err != nil {
		return nil, fmt.Errorf("ERROR: %w", err)
	}
	if len(causes) == 0 {
		return nil, fmt.Errorf("ERROR: no error causes: %w", ErrBadChunk)
	}
	return causes, nil
}

// AppendErrorChunk appends a complete ERROR chunk carrying causes to dst.
// RFC 9260 requires at least one cause; AppendErrorChunk does not check.
// Causes that do not fit one chunk (65535 bytes) are an error wrapping
// ErrTooLong, and dst is returned unchanged; FitCauses picks the causes
// that fit a budget.
func AppendErrorChunk(dst []byte, causes ...ErrorCause) ([]byte, error) {
	return appendCauseChunk(dst, ChunkError, 0, causes)
}

// FitCauses returns how many of causes, taken in order, fit in an ABORT or
// ERROR chunk of at most limit bytes (chunk header and padding included).
// A limit above the largest chunk (65535 bytes) counts as that.
func FitCauses(limit int, causes []ErrorCause) int {
	limit = min(limit, maxTLVLength)
	size := ChunkHeaderSize
	for i, c := range causes {
		size += c.Size()
		// The last cause's padding is not in the Chunk Length, but the
		// chunk is padded on the wire: counting it keeps the limit a
		// limit on bytes sent.
		if size > limit {
			return i
		}
	}
	return len(causes)
}

// The constructors below build the causes this stack sends. Each follows
// the layout of RFC 9260 section 3.3.10.N and copies its byte arguments.

// InvalidStreamIDCause returns an Invalid Stream Identifier cause (section
// 3.3.10.1): "Indicates endpoint received a DATA chunk sent to a
// nonexistent stream." The information is the Stream Identifier followed
// by 16 reserved bits, set to 0.
func InvalidStreamIDCause(stream uint16) ErrorCause {
	info := binary.BigEndian.AppendUint16(nil, stream)
	info = append(info, 0, 0)
	return ErrorCause{Code: CauseInvalidStreamID, Info: info}
}

// StaleCookieCause returns a Stale Cookie Error cause (section 3.3.10.3):
// "Indicates the receipt of a valid State Cookie that has expired." The
// information is the Measure of Staleness: "This field contains the
// difference, in microseconds, between the current time and the time the
// State Cookie expired."
func StaleCookieCause(staleness uint32) ErrorCause {
	return ErrorCause{Code: CauseStaleCookie, Info: binary.BigEndian.AppendUint32(nil, staleness)}
}

// OutOfResourceCause returns an Out of Resource cause (section 3.3.10.4):
// "Indicates that the sender is out of resource. This is usually sent in
// combination with or within an ABORT chunk." It has no information.
func OutOfResourceCause() ErrorCause {
	return ErrorCause{Code: CauseOutOfResource}
}

// UnrecognizedChunkCause returns an Unrecognized Chunk Type cause (section
// 3.3.10.6): "This error cause is returned to the originator of the chunk
// if the receiver does not understand the chunk and the upper bits of the
// 'Chunk Type' are set to 01 or 11." chunk is the whole unrecognised chunk,
// "complete with Chunk Type, Chunk Flags, and Chunk Length" (see
// ChunkIter.Raw).
func UnrecognizedChunkCause(chunk []byte) ErrorCause {
	return ErrorCause{Code: CauseUnrecognizedChunkType, Info: slices.Clone(chunk)}
}

// UnrecognizedParamsCause returns an Unrecognized Parameters cause (section
// 3.3.10.8): "This error cause is returned to the originator of the INIT
// ACK chunk if the receiver does not recognize one or more Optional TLV
// parameters in the INIT ACK chunk." The information is the parameters,
// "copied from the INIT ACK chunk complete with TLV", each padded except
// the last (whose padding is that of the cause). Parameters that do not
// fit one cause (65535 bytes) are an error wrapping ErrTooLong.
func UnrecognizedParamsCause(params ...Param) (ErrorCause, error) {
	var info []byte
	pad := 0
	for _, p := range params {
		var err error
		info, pad, err = appendTLV(info, uint16(p.Type), p.Value)
		if err != nil {
			return ErrorCause{}, fmt.Errorf("unrecognized parameters cause: %w", err)
		}
	}
	info = info[:len(info)-pad]
	if ParamHeaderSize+len(info) > maxTLVLength {
		return ErrorCause{}, fmt.Errorf("unrecognized parameters cause of %d bytes: %w", ParamHeaderSize+len(info), ErrTooLong)
	}
	return ErrorCause{Code: CauseUnrecognizedParams, Info: info}, nil
}

// NoUserDataCause returns a No User Data cause (section 3.3.10.9): "This
// error cause is returned to the originator of a DATA chunk if a received
// DATA chunk has no user data." The information is the TSN of that chunk.
func NoUserDataCause(tsn uint32) ErrorCause {
	return ErrorCause{Code: CauseNoUserData, Info: binary.BigEndian.AppendUint32(nil, tsn)}
}

// UserInitiatedAbortCause returns a User-Initiated Abort cause (section
// 3.3.10.12): "This error cause MAY be included in ABORT chunks that are
// sent because of an upper-layer request. The upper layer can specify an
// Upper Layer Abort Reason that is transported by SCTP transparently".
func UserInitiatedAbortCause(reason []byte) ErrorCause {
	return ErrorCause{Code: CauseUserInitiatedAbort, Info: slices.Clone(reason)}
}

// ProtocolViolationCause returns a Protocol Violation cause (section
// 3.3.10.13): "This error cause MAY be included in ABORT chunks that are
// sent because an SCTP endpoint detects a protocol violation of the peer
// that is not covered by the error causes described in Sections 3.3.10.1
// to 3.3.10.12. An implementation MAY provide additional information
// specifying what kind of protocol violation has been detected."
func ProtocolViolationCause(info []byte) ErrorCause {
	return ErrorCause{Code: CauseProtocolViolation, Info: slices.Clone(info)}
}

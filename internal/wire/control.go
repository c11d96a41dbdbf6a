package wire

import (
	"encoding/binary"
	"fmt"
)

// ParseHeartbeat decodes the value of a HEARTBEAT or HEARTBEAT ACK chunk
// and returns the Heartbeat Information, which aliases value: a HEARTBEAT
// ACK is normally built from it at once, and a caller that keeps it must
// copy it.
//
// RFC 9260 section 3.3.5:
//
//	Heartbeat Information: variable length
//	   Defined as a variable-length parameter using the format described
//	   in Section 3.2.1 [...]
//	   The Sender-Specific Heartbeat Info field SHOULD normally include
//	   information about the sender's current time when this HEARTBEAT
//	   chunk is sent and the destination transport address to which this
//	   HEARTBEAT chunk is sent.
//
// and section 3.3.6, of the HEARTBEAT ACK: "This field MUST contain the
// Heartbeat Information parameter of the Heartbeat Request to which this
// Heartbeat Acknowledgement is responding."
//
// The value must hold exactly one parameter, of type Heartbeat Info;
// anything else is an error wrapping ErrBadChunk (or ErrShort or
// ErrBadLength for a malformed parameter).
func ParseHeartbeat(value []byte) ([]byte, error) {
	it := NewParamIter(value)
	if !it.Next() {
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("HEARTBEAT: %w", err)
		}
		return nil, fmt.Errorf("HEARTBEAT: no Heartbeat Info parameter: %w", ErrBadChunk)
	}
	p := it.Param()
	if p.Type != ParamHeartbeatInfo {
		return nil, fmt.Errorf("HEARTBEAT: %v parameter instead of Heartbeat Info: %w", p.Type, ErrBadChunk)
	}
	if it.Next() {
		return nil, fmt.Errorf("HEARTBEAT: more than one parameter: %w", ErrBadChunk)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("HEARTBEAT: %w", err)
	}
	return p.Value, nil
}

// AppendHeartbeat appends a complete HEARTBEAT or HEARTBEAT ACK chunk (t is
// ChunkHeartbeat or ChunkHeartbeatAck) carrying info in a Heartbeat Info
// parameter to dst. The Chunk Length leaves out the parameter's padding.
// Information longer than 65527 bytes is an error wrapping ErrTooLong, and
// dst is returned unchanged.
func AppendHeartbeat(dst []byte, t ChunkType, info []byte) ([]byte, error) {
	dst, start := beginChunk(dst, t, 0)
	dst, pad, err := appendTLV(dst, uint16(ParamHeartbeatInfo), info)
	if err != nil {
		return dst[:start], fmt.Errorf("%v: %w", t, err)
	}
	return endChunk(dst, start, pad)
}

// AppendCookieEcho appends a complete COOKIE ECHO chunk to dst (RFC 9260
// section 3.3.11): "This field MUST contain the exact cookie received in
// the State Cookie parameter from the previous INIT ACK chunk." The chunk's
// value is the cookie itself, so a received cookie is Chunk.Value. A
// cookie longer than MaxChunkValue is an error wrapping ErrTooLong, and dst
// is returned unchanged.
func AppendCookieEcho(dst []byte, cookie []byte) ([]byte, error) {
	return AppendChunk(dst, ChunkCookieEcho, 0, cookie)
}

// AppendCookieAck appends a COOKIE ACK chunk (RFC 9260 section 3.3.12),
// which has no value, to dst.
func AppendCookieAck(dst []byte) []byte {
	return appendFixedChunk(dst, ChunkCookieAck, 0, nil)
}

// ParseShutdown decodes the value of a SHUTDOWN chunk (RFC 9260 section
// 3.3.8), which is exactly the 32-bit Cumulative TSN Ack, read like that of
// a SACK (see SackView.CumTSNAck). Any other length is an error wrapping
// ErrBadChunk.
func ParseShutdown(value []byte) (cumTSNAck uint32, err error) {
	if len(value) != 4 {
		return 0, fmt.Errorf("SHUTDOWN: value of %d bytes, want 4: %w", len(value), ErrBadChunk)
	}
	return binary.BigEndian.Uint32(value), nil
}

// AppendShutdown appends a SHUTDOWN chunk carrying cumTSNAck to dst.
func AppendShutdown(dst []byte, cumTSNAck uint32) []byte {
	var v [4]byte
	binary.BigEndian.PutUint32(v[:], cumTSNAck)
	return appendFixedChunk(dst, ChunkShutdown, 0, v[:])
}

// AppendShutdownAck appends a SHUTDOWN ACK chunk (RFC 9260 section 3.3.9),
// which has no value, to dst.
func AppendShutdownAck(dst []byte) []byte {
	return appendFixedChunk(dst, ChunkShutdownAck, 0, nil)
}

// AppendShutdownComplete appends a SHUTDOWN COMPLETE chunk (RFC 9260
// section 3.3.13) to dst. tBit sets the T flag: "The T bit is set to 0 if
// the sender filled in the Verification Tag expected by the peer. If the
// Verification Tag is reflected, the T bit MUST be set to 1." On receipt,
// read the bit as c.Flags&FlagT != 0.
func AppendShutdownComplete(dst []byte, tBit bool) []byte {
	var flags uint8
	if tBit {
		flags = FlagT
	}
	return appendFixedChunk(dst, ChunkShutdownComplete, flags, nil)
}

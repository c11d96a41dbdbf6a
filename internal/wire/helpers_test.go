package wire

import (
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readHex reads a testdata file of hex digits; lines starting with # are
// comments and white space is ignored.
func readHex(tb testing.TB, name string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	var sb strings.Builder
	for line := range strings.Lines(string(raw)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return b
}

// mustHex decodes a hex string, ignoring spaces.
func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// vectorFiles lists every packet capture under testdata.
var vectorFiles = []string{
	"usrsctp-init.hex",
	"usrsctp-init-ack.hex",
	"pion-init.hex",
	"pion-init-ack.hex",
	"chrome-init.hex",
	"chrome-init-ack.hex",
	"pion-sack.hex",
	"pion-cookie-echo-data.hex",
}

// vectorChunks returns every chunk of every capture, for fuzz seeds.
func vectorChunks(tb testing.TB) []Chunk {
	var out []Chunk
	for _, name := range vectorFiles {
		pkt := readHex(tb, name)
		it := NewChunkIter(pkt[CommonHeaderSize:])
		for it.Next() {
			out = append(out, it.Chunk())
		}
		if err := it.Err(); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
	}
	return out
}

// canonicalTLVs reports whether b is a sequence of TLV records exactly as
// this package encodes them: every record but the last followed by zero
// padding, the last one not padded at all.
func canonicalTLVs(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 4 {
			return false
		}
		n := int(b[2])<<8 | int(b[3])
		if n < 4 || n > len(b) {
			return false
		}
		if n == len(b) {
			return true
		}
		p := padLen(n)
		if n+p > len(b) {
			return false
		}
		for _, x := range b[n : n+p] {
			if x != 0 {
				return false
			}
		}
		b = b[n+p:]
		if len(b) == 0 {
			// The last record was followed by padding.
			return p == 0
		}
	}
	return true
}

// must returns v, or panics with err: for encoders whose input a test
// knows to fit.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// AppendCauses appends each cause, padded to a multiple of four bytes, to
// dst. A cause longer than its 16-bit Cause Length can say (65535 bytes) is
// an error wrapping ErrTooLong, and dst is returned unchanged.
func AppendCauses(dst []byte, causes ...ErrorCause) ([]byte, error) {
	dst, _, err := appendCauses(dst, causes)
	return dst, err
}

// InvalidMandatoryParamCause returns an Invalid Mandatory Parameter cause
// (section 3.3.10.7): "This error cause is returned to the originator of an
// INIT or INIT ACK chunk when one of the mandatory parameters is set to an
// invalid value." It has no information.
func InvalidMandatoryParamCause() ErrorCause {
	return ErrorCause{Code: CauseInvalidMandatoryParam}
}

// MissingMandatoryParamCause returns a Missing Mandatory Parameter cause
// (section 3.3.10.2): "Indicates that one or more mandatory TLV parameters
// are missing in a received INIT or INIT ACK chunk." The information is the
// 32-bit number of missing parameters followed by their 16-bit types.
func MissingMandatoryParamCause(types ...ParamType) ErrorCause {
	info := binary.BigEndian.AppendUint32(nil, uint32(len(types)))
	for _, t := range types {
		info = binary.BigEndian.AppendUint16(info, uint16(t))
	}
	return ErrorCause{Code: CauseMissingMandatoryParam, Info: info}
}

// AppendParam appends a parameter with type t and the given value to dst,
// followed by zero padding to a multiple of four bytes. A value longer than
// a parameter can carry (65531 bytes) is an error wrapping ErrTooLong, and
// dst is returned unchanged.
func AppendParam(dst []byte, t ParamType, value []byte) ([]byte, error) {
	dst, _, err := appendTLV(dst, uint16(t), value)
	return dst, err
}

// HeartbeatInfoParam returns a Heartbeat Info parameter (type 1, RFC 9260
// section 3.3.5) carrying info, which is opaque to the peer.
func HeartbeatInfoParam(info []byte) Param {
	return Param{Type: ParamHeartbeatInfo, Value: slices.Clone(info)}
}

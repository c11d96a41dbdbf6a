package wire

import (
	"encoding/hex"
	"os"
	"path/filepath"
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

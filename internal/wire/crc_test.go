package wire

import (
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rfc3720Vectors are the CRC32c examples of RFC 3720 Appendix B.4.
var rfc3720Vectors = []struct {
	name string
	data []byte
	crc  uint32
}{
	{"32 bytes of zeros", make([]byte, 32), 0x8a9136aa},
	{"32 bytes of ones", func() []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = 0xff
		}
		return b
	}(), 0x62a8ab43},
	{"32 bytes incrementing", func() []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}(), 0x46dd794e},
	{"32 bytes decrementing", func() []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = byte(31 - i)
		}
		return b
	}(), 0x113fdb5c},
	{"iSCSI read command PDU", mustHex(`
		01c00000 00000000 00000000 00000000
		14000000 00000400 00000014 00000018
		28000000 00000000 02000000 00000000`), 0xd9963a56},
}

func TestCRC32cVectors(t *testing.T) {
	for _, v := range rfc3720Vectors {
		t.Run(v.name, func(t *testing.T) {
			// The table and algorithm Checksum relies on.
			require.Equal(t, v.crc, crc32.Checksum(v.data, crc32.MakeTable(crc32.Castagnoli)))

			// Checksum over a packet whose bytes other than the checksum
			// field are the vector: the field is taken as zero, so the
			// result must match the CRC of the vector with four zero bytes
			// spliced in at offset 8.
			if len(v.data) < CommonHeaderSize {
				return
			}
			pkt := append([]byte(nil), v.data...)
			copy(pkt[8:12], []byte{0xde, 0xad, 0xbe, 0xef})
			zeroed := append([]byte(nil), v.data...)
			copy(zeroed[8:12], make([]byte, 4))
			assert.Equal(t, crc32.Checksum(zeroed, crc32.MakeTable(crc32.Castagnoli)), Checksum(pkt))
			if v.name == "32 bytes of zeros" {
				// With the field already zero this is the vector itself.
				assert.Equal(t, uint32(0x8a9136aa), Checksum(v.data))
			}
		})
	}
}

func TestSetVerifyChecksum(t *testing.T) {
	// pion's header-only vector: CRC32c stored least significant byte
	// first (RFC 9260 Appendix A).
	headerOnly := mustHex("13881388 00000000 06a900e1")
	assert.True(t, VerifyChecksum(headerOnly))

	pkt := NewPacket(nil, CommonHeader{SrcPort: 1, DstPort: 2, VerificationTag: 3})
	pkt = AppendCookieAck(pkt)
	assert.False(t, VerifyChecksum(pkt), "zero checksum field")
	SetChecksum(pkt)
	assert.True(t, VerifyChecksum(pkt))
	pkt[len(pkt)-1] ^= 1
	assert.False(t, VerifyChecksum(pkt))
	assert.False(t, VerifyChecksum(pkt[:11]))
	_, err := ParseCommonHeader(pkt[:11])
	assertErrIs(t, ErrShort, err)
}

func TestChecksumAllocs(t *testing.T) {
	pkt := readHex(t, "usrsctp-init-ack.hex")
	var ok bool
	allocs := testing.AllocsPerRun(100, func() {
		ok = VerifyChecksum(pkt)
	})
	assert.Zero(t, allocs)
	assert.True(t, ok)
}

// TestSetChecksumShort: a buffer shorter than the common header is left
// alone, not a panic.
func TestSetChecksumShort(t *testing.T) {
	b := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}
	SetChecksum(b)
	if string(b) != string([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("changed: %x", b)
	}
	if VerifyChecksum(b) {
		t.Fatal("a short buffer verified")
	}
}

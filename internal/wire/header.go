package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// CommonHeaderSize is the size of the SCTP common header (RFC 9260 section 3.1).
const CommonHeaderSize = 12

// Errors returned by the decoders; wrap-compatible with errors.Is.
var (
	// ErrShort means the input ends before a field or a declared length.
	ErrShort = errors.New("wire: packet too short")
	// ErrBadLength means a length field is impossible (below its minimum).
	ErrBadLength = errors.New("wire: bad length field")
	// ErrBadChecksum means the CRC32c in the common header does not match.
	ErrBadChecksum = errors.New("wire: bad CRC32c checksum")
	// ErrBadChunk means a chunk's content does not match its type.
	ErrBadChunk = errors.New("wire: malformed chunk")
	// ErrTooLong means an encoder was asked for a chunk, parameter or
	// error cause longer than its 16-bit length field can say, or for
	// output past a limit its caller set. Encoders return it instead of
	// panicking: what they encode often comes from the network.
	ErrTooLong = errors.New("wire: too long to encode")
)

// CommonHeader is the SCTP common header (RFC 9260 section 3.1).
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Source Port Number        |     Destination Port Number   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Verification Tag                         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           Checksum                            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type CommonHeader struct {
	SrcPort         uint16
	DstPort         uint16
	VerificationTag uint32
	Checksum        uint32
}

// ParseCommonHeader reads the common header at the start of pkt. It does not
// verify the checksum; see VerifyChecksum.
func ParseCommonHeader(pkt []byte) (CommonHeader, error) {
	if len(pkt) < CommonHeaderSize {
		return CommonHeader{}, fmt.Errorf("common header: %d bytes: %w", len(pkt), ErrShort)
	}
	return CommonHeader{
		SrcPort:         binary.BigEndian.Uint16(pkt[0:]),
		DstPort:         binary.BigEndian.Uint16(pkt[2:]),
		VerificationTag: binary.BigEndian.Uint32(pkt[4:]),
		Checksum:        binary.LittleEndian.Uint32(pkt[8:]),
	}, nil
}

// Put writes h into the first CommonHeaderSize bytes of b, which must be
// long enough. The checksum is written as given; see SetChecksum.
func (h CommonHeader) Put(b []byte) {
	_ = b[CommonHeaderSize-1]
	binary.BigEndian.PutUint16(b[0:], h.SrcPort)
	binary.BigEndian.PutUint16(b[2:], h.DstPort)
	binary.BigEndian.PutUint32(b[4:], h.VerificationTag)
	binary.LittleEndian.PutUint32(b[8:], h.Checksum)
}

// SetPorts rewrites the source and destination ports of a packet in place.
// pkt must hold at least a common header.
func SetPorts(pkt []byte, src, dst uint16) {
	binary.BigEndian.PutUint16(pkt[0:], src)
	binary.BigEndian.PutUint16(pkt[2:], dst)
}

// castagnoli is the CRC32c table; hash/crc32 uses the SSE4.2 or ARMv8 CRC
// instructions for it where the CPU has them.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// zeroChecksumField stands in for the checksum field while the CRC32c is
// computed. It is a package variable so that Checksum does not allocate: a
// local array escapes to the heap through hash/crc32.
var zeroChecksumField [4]byte

// Checksum computes the CRC32c of pkt as RFC 9260 Appendix A defines it: over
// the whole packet with the checksum field taken as zero. pkt is not changed.
func Checksum(pkt []byte) uint32 {
	if len(pkt) < CommonHeaderSize {
		return 0
	}
	c := crc32.Update(0, castagnoli, pkt[:8])
	c = crc32.Update(c, castagnoli, zeroChecksumField[:])
	return crc32.Update(c, castagnoli, pkt[CommonHeaderSize:])
}

// SetChecksum computes the CRC32c of pkt and stores it in the common header
// (RFC 9260 section 6.8). The checksum is stored least significant byte
// first, the byte order the CRC32c algorithm of Appendix A produces. A
// pkt shorter than the common header is left as it is.
func SetChecksum(pkt []byte) {
	if len(pkt) < CommonHeaderSize {
		return
	}
	binary.LittleEndian.PutUint32(pkt[8:], Checksum(pkt))
}

// VerifyChecksum reports whether the checksum field of pkt matches its
// CRC32c. A packet shorter than the common header never verifies.
func VerifyChecksum(pkt []byte) bool {
	if len(pkt) < CommonHeaderSize {
		return false
	}
	return binary.LittleEndian.Uint32(pkt[8:]) == Checksum(pkt)
}

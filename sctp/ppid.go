package sctp

import (
	"encoding/binary"
	"math/bits"
)

// kernelOrder converts between a PPID as it is on the wire (RFC 9260
// section 3.3.1: a 32-bit number in network byte order) and the value a
// Linux program reads from the kernel's sinfo_ppid, which holds the wire's
// bytes unchanged: the number read in host byte order. On a little-endian
// host that swaps the bytes (wire 60 is 0x3c000000), on a big-endian host
// it is the number itself. The conversion is its own inverse.
func kernelOrder(ppid uint32) uint32 {
	if hostBigEndian {
		return ppid
	}
	return bits.ReverseBytes32(ppid)
}

var hostBigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

//go:build linux

package udpencap

import (
	"encoding/binary"
	"net"

	"golang.org/x/sys/unix"
)

// maxGSOSegments is the most datagrams one UDP_SEGMENT send may carry
// (UDP_MAX_SEGMENTS is 64 in Linux before 6.x and 128 after; the lower
// value works everywhere).
const maxGSOSegments = 64

// maxGSOBytes bounds the payload of one UDP_SEGMENT send: the largest
// UDP payload over IPv6 (65535 - 8), rounded down for IPv4 headers.
const maxGSOBytes = 65000

// gsoControlSize is the room one UDP_SEGMENT control message takes.
var gsoControlSize = unix.CmsgSpace(2)

// enableOffload asks the kernel, where it can, for UDP generic receive
// offload (UDP_GRO: datagrams of one sender that arrive together are read
// as one buffer with their segment size attached) and reports whether
// generic segmentation offload (UDP_SEGMENT on send) is available.
// Both are optional: failure means one datagram per buffer.
func enableOffload(c *net.UDPConn) (gso, gro bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return false, false
	}
	_ = rc.Control(func(fd uintptr) {
		if _, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT); err == nil {
			gso = true
		}
		if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1); err == nil {
			gro = true
		}
	})
	return gso, gro
}

// putGSOControl writes a UDP_SEGMENT control message for segments of
// size bytes into b (at least gsoControlSize long) and returns it.
func putGSOControl(b []byte, size int) []byte {
	b = b[:gsoControlSize]
	clear(b)
	putCmsgHeader(b, unix.IPPROTO_UDP, unix.UDP_SEGMENT, 2)
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
	return b
}

//go:build linux

package udpencap

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// batchSupported: Linux has recvmmsg and sendmmsg, which x/net's
// ReadBatch and WriteBatch use.
const batchSupported = true

// oobSize is the control message buffer per datagram: room for
// IP_PKTINFO + IP_TOS + IP_TTL, or IPV6_PKTINFO + IPV6_TCLASS +
// IPV6_HOPLIMIT, with headers and padding (at most 88 bytes on 64-bit).
const oobSize = 128

// enableMeta asks the kernel to attach the destination address, TOS or
// traffic class and TTL or hop limit to every received datagram. x/net's
// ipv4 package has no flag for IP_RECVTOS, so the options are set
// directly.
func enableMeta(c *net.UDPConn, is4 bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	level, opts := unix.IPPROTO_IPV6, [3]int{unix.IPV6_RECVPKTINFO, unix.IPV6_RECVTCLASS, unix.IPV6_RECVHOPLIMIT}
	if is4 {
		level, opts = unix.IPPROTO_IP, [3]int{unix.IP_PKTINFO, unix.IP_RECVTOS, unix.IP_RECVTTL}
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		for _, o := range opts {
			if e := unix.SetsockoptInt(int(fd), level, o, 1); e != nil {
				serr = errors.Join(serr, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// cmsgAlign rounds n up to the alignment of control messages (the size of
// a long on Linux).
func cmsgAlign(n int) int {
	const a = bits.UintSize / 8
	return (n + a - 1) &^ (a - 1)
}

// parseOOB reads the control messages enabled by enableMeta into m without
// allocating, and returns the segment size of a datagram the kernel
// coalesced (UDP_GRO, see enableOffload), or 0. Unknown or malformed
// messages are ignored.
func parseOOB(b []byte, m *Meta, is4 bool, port uint16) (segSize int) {
	const hdrLen = unix.SizeofCmsghdr
	for len(b) >= hdrLen {
		var l int
		var level, typ int32
		if hdrLen == 16 { // size_t cmsg_len (64-bit)
			l = int(binary.NativeEndian.Uint64(b))
			level = int32(binary.NativeEndian.Uint32(b[8:]))
			typ = int32(binary.NativeEndian.Uint32(b[12:]))
		} else {
			l = int(binary.NativeEndian.Uint32(b))
			level = int32(binary.NativeEndian.Uint32(b[4:]))
			typ = int32(binary.NativeEndian.Uint32(b[8:]))
		}
		if l < hdrLen || l > len(b) {
			return segSize
		}
		data := b[cmsgAlign(hdrLen):l]
		switch {
		case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= 12:
			// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
			m.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(data[8:12])), port)
		case level == unix.IPPROTO_IP && typ == unix.IP_TOS && len(data) >= 1:
			m.TOS, m.HasTOS = data[0], true
		case level == unix.IPPROTO_IP && typ == unix.IP_TTL && len(data) >= 4:
			m.TTL, m.HasTTL = uint8(binary.NativeEndian.Uint32(data)), true
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= 20:
			// struct in6_pktinfo { in6_addr addr; int ifindex; }
			a := netip.AddrFrom16([16]byte(data[:16]))
			if is4 {
				a = a.Unmap()
			}
			m.Local = netip.AddrPortFrom(a, port)
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_TCLASS && len(data) >= 4:
			m.TOS, m.HasTOS = uint8(binary.NativeEndian.Uint32(data)), true
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_HOPLIMIT && len(data) >= 4:
			m.TTL, m.HasTTL = uint8(binary.NativeEndian.Uint32(data)), true
		case level == unix.IPPROTO_UDP && typ == unix.UDP_GRO && len(data) >= 4:
			segSize = int(binary.NativeEndian.Uint32(data))
		}
		next := cmsgAlign(l)
		if next >= len(b) {
			return segSize
		}
		b = b[next:]
	}
	return segSize
}

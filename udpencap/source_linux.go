//go:build linux

package udpencap

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// sourceSelectSupported: Linux takes the source address of a datagram
// sent on a wildcard socket from an IP_PKTINFO (ipi_spec_dst) or
// IPV6_PKTINFO (ipi6_addr) control message (ip(7), ipv6(7)).
const sourceSelectSupported = true

// srcControlSize is the room the source address control message may take
// (CMSG_SPACE of struct in6_pktinfo is 40 bytes on 64-bit Linux).
const srcControlSize = 64

// putCmsgHeader writes a control message header for dataLen bytes of
// data of level and typ at the start of b.
func putCmsgHeader(b []byte, level, typ int32, dataLen int) {
	if unix.SizeofCmsghdr == 16 { // size_t cmsg_len (64-bit)
		binary.NativeEndian.PutUint64(b, uint64(unix.CmsgLen(dataLen)))
		binary.NativeEndian.PutUint32(b[8:], uint32(level))
		binary.NativeEndian.PutUint32(b[12:], uint32(typ))
		return
	}
	binary.NativeEndian.PutUint32(b, uint32(unix.CmsgLen(dataLen)))
	binary.NativeEndian.PutUint32(b[4:], uint32(level))
	binary.NativeEndian.PutUint32(b[8:], uint32(typ))
}

// putSourceControl writes into b (at least srcControlSize long) the
// control message that makes a datagram leave from src, and returns it:
// struct in_pktinfo with ipi_spec_dst = src and no interface, or struct
// in6_pktinfo with ipi6_addr = src and no interface, so that routing
// still picks the interface.
func putSourceControl(b []byte, src netip.Addr, is4 bool) []byte {
	if is4 {
		b = b[:unix.CmsgSpace(unix.SizeofInet4Pktinfo)]
		clear(b)
		putCmsgHeader(b, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
		a := src.Unmap().As4()
		copy(b[unix.CmsgLen(0)+4:], a[:]) // ipi_ifindex (int), then ipi_spec_dst
		return b
	}
	b = b[:unix.CmsgSpace(unix.SizeofInet6Pktinfo)]
	clear(b)
	putCmsgHeader(b, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
	a := src.As16()
	copy(b[unix.CmsgLen(0):], a[:]) // ipi6_addr, then ipi6_ifindex 0
	return b
}

//go:build !linux

package udpencap

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchSupported: outside Linux x/net's ReadBatch and WriteBatch move one
// datagram per call, so the plain ReadMsgUDPAddrPort/WriteToUDPAddrPort
// path, which does not allocate, is used instead.
const batchSupported = false

// oobSize is the control message buffer per datagram.
const oobSize = 128

// enableMeta asks for the destination address and TTL or hop limit (and
// the IPv6 traffic class) through x/net, which knows each platform's
// socket options. It fails where x/net has no control messages (Windows);
// Meta then carries only addresses.
func enableMeta(c *net.UDPConn, is4 bool) error {
	if is4 {
		return ipv4.NewPacketConn(c).SetControlMessage(ipv4.FlagDst|ipv4.FlagTTL, true)
	}
	return ipv6.NewPacketConn(c).SetControlMessage(ipv6.FlagDst|ipv6.FlagHopLimit|ipv6.FlagTrafficClass, true)
}

// parseOOB reads the control messages enabled by enableMeta. It uses x/net's
// parser, which allocates; the IPv4 TOS is not available here. There is no
// receive offload outside Linux, so the segment size is always 0.
func parseOOB(b []byte, m *Meta, is4 bool, port uint16) (segSize int) {
	if is4 {
		var cm ipv4.ControlMessage
		if cm.Parse(b) != nil {
			return 0
		}
		if a, ok := netip.AddrFromSlice(cm.Dst); ok && !a.IsUnspecified() {
			m.Local = netip.AddrPortFrom(a.Unmap(), port)
		}
		if cm.TTL > 0 {
			m.TTL, m.HasTTL = uint8(cm.TTL), true
		}
		return 0
	}
	var cm ipv6.ControlMessage
	if cm.Parse(b) != nil {
		return 0
	}
	if a, ok := netip.AddrFromSlice(cm.Dst); ok && !a.IsUnspecified() {
		m.Local = netip.AddrPortFrom(a, port)
	}
	if cm.HopLimit > 0 {
		m.TTL, m.HasTTL = uint8(cm.HopLimit), true
	}
	m.TOS, m.HasTOS = uint8(cm.TrafficClass), true
	return 0
}

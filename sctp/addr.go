package sctp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// SCTPAddr is the address of an SCTP endpoint: all of its IP addresses
// (an SCTP endpoint may be multi-homed, RFC 9260 section 1.3) and one port.
type SCTPAddr struct {
	IPAddrs []net.IPAddr
	Port    int
}

// Network returns "sctp".
func (a *SCTPAddr) Network() string { return "sctp" }

// String returns the addresses separated by "/", then ":" and the port:
// "10.0.0.1/10.0.0.2:3868", "[::1]/[fe80::1%eth0]:38412". ResolveSCTPAddr
// reads this form back.
func (a *SCTPAddr) String() string {
	if a == nil {
		return "<nil>"
	}
	var b strings.Builder
	for i, ip := range a.IPAddrs {
		if i > 0 {
			b.WriteByte('/')
		}
		switch {
		case ip.IP.To4() != nil:
			b.WriteString(ip.String())
		case ip.IP.To16() != nil:
			b.WriteByte('[')
			b.WriteString(ip.String())
			b.WriteByte(']')
		}
	}
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(a.Port))
	return b.String()
}

// ResolveSCTPAddr parses addrs, "host:port" or several hosts separated by
// "/" before the port ("10.0.0.1/10.0.0.2:3868"), resolving host names.
// network is "sctp", "sctp4", "sctp6" or empty (as "sctp"). A last element
// without a host ("10.0.0.1/:3868", ":3868") gives an address with no
// IPs, which Listen and Dial take as the wildcard address.
func ResolveSCTPAddr(network, addrs string) (*SCTPAddr, error) {
	var tcpnet string
	switch network {
	case "", "sctp":
		tcpnet = "tcp"
	case "sctp4":
		tcpnet = "tcp4"
	case "sctp6":
		tcpnet = "tcp6"
	default:
		return nil, fmt.Errorf("invalid net: %s", network)
	}
	elems := strings.Split(addrs, "/")
	ips := make([]net.IPAddr, 0, len(elems))
	for _, host := range elems[:len(elems)-1] {
		ta, err := net.ResolveTCPAddr(tcpnet, host+":")
		if err != nil {
			return nil, err
		}
		ips = append(ips, net.IPAddr{IP: ta.IP, Zone: ta.Zone})
	}
	last, err := net.ResolveTCPAddr(tcpnet, elems[len(elems)-1])
	if err != nil {
		return nil, err
	}
	if last.IP == nil {
		ips = nil
	} else {
		ips = append(ips, net.IPAddr{IP: last.IP, Zone: last.Zone})
	}
	return &SCTPAddr{IPAddrs: ips, Port: last.Port}, nil
}

// netipAddrs converts the addresses for package sock; IPv4-mapped IPv6
// addresses become IPv4 ones.
func (a *SCTPAddr) netipAddrs() ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(a.IPAddrs))
	for _, ip := range a.IPAddrs {
		na, ok := netip.AddrFromSlice(ip.IP)
		if !ok {
			return nil, fmt.Errorf("sctp: address %q: %w", ip.String(), ErrInvalidAddress)
		}
		na = na.Unmap()
		if ip.Zone != "" && na.Is6() {
			na = na.WithZone(ip.Zone)
		}
		out = append(out, na)
	}
	return out, nil
}

// port checks the port for package sock.
func (a *SCTPAddr) port() (uint16, error) {
	if a.Port < 0 || a.Port > 65535 {
		return 0, fmt.Errorf("sctp: port %d: %w", a.Port, ErrInvalidAddress)
	}
	return uint16(a.Port), nil
}

// fromNetip builds an SCTPAddr from package sock's addresses.
func fromNetip(ips []netip.Addr, port uint16) *SCTPAddr {
	a := &SCTPAddr{IPAddrs: make([]net.IPAddr, 0, len(ips)), Port: int(port)}
	for _, ip := range ips {
		a.IPAddrs = append(a.IPAddrs, net.IPAddr{IP: net.IP(ip.AsSlice()), Zone: ip.Zone()})
	}
	return a
}

// Linux socket address families, as the kernel writes them in the
// sockaddr structures of notifications and SCTP_STATUS.
const (
	afInet  = 2
	afInet6 = 10
)

const (
	sockaddrIn6Size = 28
	sockaddrInSize  = 16
)

// ToRawSockAddrBuf returns the addresses as the packed array of
// sockaddr_in / sockaddr_in6 structures that Linux's sctp_bindx and
// sctp_connectx take (RFC 6458 section 9.1): the family in host byte
// order, the port in network byte order. No IPs give the IPv4 wildcard.
func (a *SCTPAddr) ToRawSockAddrBuf() []byte {
	if len(a.IPAddrs) == 0 {
		return appendSockaddr(nil, netip.IPv4Unspecified(), uint16(a.Port))
	}
	var buf []byte
	for _, ip := range a.IPAddrs {
		na, ok := netip.AddrFromSlice(ip.IP)
		if !ok {
			na = netip.IPv4Unspecified()
		}
		na = na.Unmap()
		if ip.Zone != "" && na.Is6() {
			na = na.WithZone(ip.Zone)
		}
		buf = appendSockaddr(buf, na, uint16(a.Port))
	}
	return buf
}

// appendSockaddr appends ip and port as Linux's sockaddr_in (16 bytes) or
// sockaddr_in6 (28 bytes; the scope ID is the index of the zone's
// interface, 0 when it has none).
func appendSockaddr(b []byte, ip netip.Addr, port uint16) []byte {
	if ip.Is4() {
		b = binary.NativeEndian.AppendUint16(b, afInet)
		b = binary.BigEndian.AppendUint16(b, port)
		a4 := ip.As4()
		b = append(b, a4[:]...)
		return append(b, make([]byte, 8)...) // sin_zero
	}
	b = binary.NativeEndian.AppendUint16(b, afInet6)
	b = binary.BigEndian.AppendUint16(b, port)
	b = binary.BigEndian.AppendUint32(b, 0) // sin6_flowinfo
	a16 := ip.As16()
	b = append(b, a16[:]...)
	var scope uint32
	if z := ip.Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			scope = uint32(ifi.Index)
		} else if n, err := strconv.ParseUint(z, 10, 32); err == nil {
			scope = uint32(n)
		}
	}
	return binary.NativeEndian.AppendUint32(b, scope)
}

package udpencap

import (
	"net"
	"net/netip"
	"slices"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// HostAddrs returns the unicast addresses of the host's interfaces that
// are up, without zones: through net.Interfaces on the real network (n
// nil or a *stdnet.Net, whose own list is a snapshot taken when it was
// made), else through n.Interfaces (pion's vnet).
func HostAddrs(n transport.Net) ([]netip.Addr, error) {
	var out []netip.Addr
	add := func(flags net.Flags, addrs []net.Addr) {
		if flags&net.FlagUp == 0 {
			return
		}
		for _, ad := range addrs {
			var ip net.IP
			switch v := ad.(type) {
			case *net.IPNet:
				ip = v.IP
			case *net.IPAddr:
				ip = v.IP
			default:
				continue
			}
			a, ok := netip.AddrFromSlice(ip)
			if !ok {
				continue
			}
			a = a.Unmap()
			if a.IsUnspecified() || a.IsMulticast() || slices.Contains(out, a) {
				continue
			}
			out = append(out, a)
		}
	}
	if _, std := n.(*stdnet.Net); n == nil || std {
		ifs, err := net.Interfaces()
		if err != nil {
			return nil, err
		}
		for _, ifc := range ifs {
			addrs, err := ifc.Addrs()
			if err != nil {
				continue // the interface went away meanwhile
			}
			add(ifc.Flags, addrs)
		}
		return out, nil
	}
	ifs, err := n.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		add(ifc.Flags, addrs)
	}
	return out, nil
}

// selectsSource reports whether a wildcard socket opened with cfg can
// choose the source address of each datagram it sends (IP_PKTINFO /
// IPV6_PKTINFO on send): only on the real network, on a platform that
// has it, unless Config.SocketPerAddress says otherwise.
func selectsSource(cfg Config) bool {
	_, std := cfg.Net.(*stdnet.Net)
	return sourceSelectSupported && std && !cfg.SocketPerAddress
}

// bindPlan turns the configured addresses into the addresses to bind. A
// wildcard address stays one socket where its datagrams' source can be
// chosen (selectSrc); the specific addresses of its family are then
// served by it and get no socket of their own (they could not bind the
// same port next to it anyway). Elsewhere a wildcard address becomes one
// socket per host address of its family (link-local IPv6 addresses, which
// need a zone, left out), next to the specific ones; with no such host
// address it stays the wildcard, whose datagrams leave from the address
// the kernel picks.
func bindPlan(addrs []netip.Addr, selectSrc bool, host func() ([]netip.Addr, error)) []netip.Addr {
	wild4 := slices.Contains(addrs, netip.IPv4Unspecified())
	wild6 := slices.Contains(addrs, netip.IPv6Unspecified())
	var hosts []netip.Addr
	if !selectSrc && (wild4 || wild6) && host != nil {
		hosts, _ = host() // no list: the wildcard is bound as it is
	}
	var out []netip.Addr
	add := func(a netip.Addr) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, a := range addrs {
		if !a.IsUnspecified() {
			if selectSrc && ((a.Is4() && wild4) || (a.Is6() && wild6)) {
				continue // served by the wildcard socket
			}
			add(a)
			continue
		}
		if selectSrc {
			add(a)
			continue
		}
		n := len(out)
		for _, h := range hosts {
			if h.Is4() == a.Is4() && !h.IsUnspecified() && !h.IsMulticast() && h.Zone() == "" && !(h.Is6() && h.IsLinkLocalUnicast()) {
				add(h)
			}
		}
		if len(out) == n {
			add(a)
		}
	}
	return out
}

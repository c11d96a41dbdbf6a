package sock

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/usock/usock/internal/multihome"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

// WithHostAddrs sets how the stack learns the host's addresses: a wildcard
// endpoint (0.0.0.0 or ::) lists them in its INIT and INIT-ACK chunks
// (RFC 9260 section 5.1.2), and where one wildcard socket cannot choose
// its datagrams' source address each gets a socket of its own. The
// default asks the stack's network: net.Interfaces on the host's,
// Interfaces on a pion vnet. f must be safe for concurrent use; its
// answer is kept for hostAddrsTTL.
func WithHostAddrs(f func() ([]netip.Addr, error)) StackOption {
	return func(c *stackConfig) error {
		if f == nil {
			return fmt.Errorf("sock: %w: nil host address function", ErrInvalidOption)
		}
		c.hostAddrs = f
		return nil
	}
}

// withSocketPerAddress makes the stack bind a wildcard address as one
// socket per host address (udpencap.Config.SocketPerAddress), as it does
// where the platform cannot choose a wildcard socket's source addresses.
func withSocketPerAddress() StackOption {
	return func(c *stackConfig) error {
		c.socketPerAddress = true
		return nil
	}
}

// hostAddrsTTL is how long the stack keeps the host's address list: an
// INIT costs no interface dump (a netlink round trip on Linux) while the
// list is fresh, and an address added to the host is listed a second
// later at most.
const hostAddrsTTL = time.Second

// hostAddrCache is the stack's copy of the host's addresses. Its lock is
// its own: the receive path (INITs on any socket's read goroutine) and
// Connect read it.
type hostAddrCache struct {
	mu    sync.Mutex
	addrs []netip.Addr
	at    time.Time
}

// hostAddrList returns the host's addresses, from the cache while it is
// fresh. A failure to list them is logged and lists none: a wildcard
// endpoint then lists no address, and its peers know only the source
// address of its packets.
func (s *Stack) hostAddrList() []netip.Addr {
	c := &s.hosts
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < hostAddrsTTL {
		return c.addrs
	}
	addrs, err := s.cfg.hostAddrs()
	if err != nil {
		s.log.Warn("cannot list the host's addresses", "err", err)
		addrs = nil
	}
	norm := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		if a.IsValid() && !slices.Contains(norm, a) {
			norm = append(norm, a)
		}
	}
	c.addrs, c.at = norm, time.Now()
	return c.addrs
}

// wildcard reports whether the endpoint has a wildcard address.
func (e *Endpoint) wildcard() bool {
	return slices.ContainsFunc(e.addrs, netip.Addr.IsUnspecified)
}

// serves reports whether the endpoint owns the local address a: one of
// its addresses, or any address of a family it has the wildcard of.
func (e *Endpoint) serves(a netip.Addr) bool {
	return slices.Contains(e.addrs, a) || (!a.IsUnspecified() && slices.Contains(e.addrs, wildcardOf(a)))
}

// listedAddrs are the addresses the endpoint lists in its INIT and
// INIT-ACK chunks, before the scoping of multihome.Advertise: its own,
// each wildcard standing for the host's addresses of its family (RFC 9260
// section 5.1.2 lets an endpoint bound to all addresses list them; a host
// with one usable address lists none, as Advertise does for any lone
// address).
func (e *Endpoint) listedAddrs() []netip.Addr {
	if !e.wildcard() {
		return e.addrs
	}
	hosts := e.stack.hostAddrList()
	out := make([]netip.Addr, 0, len(hosts)+len(e.addrs))
	for _, a := range e.addrs {
		if !a.IsUnspecified() {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
			continue
		}
		for _, h := range hosts {
			if h.Is4() == a.Is4() && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// pathLocal is the local address a new path to remote starts sending from
// (the path's arrival address replaces it once the peer's packets come in
// on it): multihome.LocalFor's choice among the endpoint's addresses, or,
// where that is a wildcard, known, the concrete address the handshake's
// packet arrived on, if of remote's family: an address the peer has in
// the association, where the kernel's choice for remote might be one it
// does not know (one the scoping left out of the lists). false when the
// endpoint has no address of remote's family.
func (e *Endpoint) pathLocal(remote, known netip.Addr) (netip.Addr, bool) {
	l, ok := multihome.LocalFor(e.addrs, remote)
	if ok && l.IsUnspecified() && known.IsValid() && !known.IsUnspecified() && known.Is4() == remote.Is4() {
		return known, true
	}
	return l, ok
}

// endpointFor finds the endpoint a packet that arrived on local for SCTP
// port hdr.DstPort from src belongs to. The endpoint on the specific
// address wins over a wildcard one on the same port, but for the packets
// of an association the wildcard endpoint has with src and the specific
// one has not (made before the specific endpoint was): those stay the
// wildcard's, so that creating an endpoint does not cut associations off.
func (s *Stack) endpointFor(local netip.Addr, hdr wire.CommonHeader, src netip.AddrPort) *Endpoint {
	spec := s.endpointAt(netip.AddrPortFrom(local, hdr.DstPort))
	if local.IsUnspecified() {
		return spec
	}
	wild := s.endpointAt(netip.AddrPortFrom(wildcardOf(local), hdr.DstPort))
	switch {
	case spec == nil:
		return wild
	case wild == nil:
		return spec
	}
	if wild.lookupPeer(src.Addr(), hdr.SrcPort) != nil && spec.lookupPeer(src.Addr(), hdr.SrcPort) == nil {
		return wild
	}
	return spec
}

// servingLocked returns the transport that sends and receives for local
// address a: its own, or a wildcard one of its family that serves it
// (udpencap.Bind.Serves); nil if none. The caller holds s.mu.
func (s *Stack) servingLocked(a netip.Addr) udpencap.Bind {
	if tr := s.transports[a]; tr != nil {
		return tr
	}
	if a.IsUnspecified() {
		return nil
	}
	if w := s.transports[wildcardOf(a)]; w != nil && w.Serves(a) {
		return w
	}
	return nil
}

// probeLocal checks that a specific address a wildcard socket serves is
// one of the host's, as binding a socket of its own would: a UDP socket
// on (a, any port) is bound and closed at once. An address served by a
// socket bound to it passed that check when it was bound. WithBind's Binds
// are not probed: their Serves decides.
func (s *Stack) probeLocal(a netip.Addr) error {
	if a.IsUnspecified() || s.transports[a] != nil || s.cfg.ownBind {
		return nil
	}
	network := "udp6"
	if a.Is4() {
		network = "udp4"
	}
	c, err := s.cfg.net.ListenUDP(network, &net.UDPAddr{IP: a.AsSlice()})
	if err != nil {
		return fmt.Errorf("sock: local address %v: %w", a, err)
	}
	_ = c.Close()
	return nil
}

// openWildcardLocked opens the transport for the wildcard address w. The
// specific transports of w's family give way to it: one UDP socket cannot
// be bound to the wildcard next to sockets on specific addresses of the
// same port (without SO_REUSEADDR, which would let any other process
// bind the port too). They are closed and their addresses handed to the
// new transport, which serves them (one socket with source selection on
// Linux; one socket per address elsewhere). Datagrams arriving for them
// meanwhile are lost, as on a broken path, and retransmitted by SCTP. If
// the wildcard cannot be opened, the specific transports are opened
// again. The caller holds s.mu and setupMu; mu is released while the old
// transports close (their read goroutines may be waiting for it).
func (s *Stack) openWildcardLocked(w netip.Addr) error {
	var old []netip.Addr
	for a := range s.transports {
		if a != w && a.Is4() == w.Is4() {
			old = append(old, a)
		}
	}
	slices.SortFunc(old, netip.Addr.Compare)
	if len(old) > 0 {
		var detached []udpencap.Bind
		for _, a := range old {
			detached = append(detached, s.detachTransportLocked(a))
		}
		s.mu.Unlock()
		closeTransports(detached)
		s.mu.Lock()
		if s.closed {
			return fmt.Errorf("sock: new endpoint: %w", ErrClosed)
		}
	}
	err := s.openTransportLocked(w, old...)
	if err != nil {
		for _, a := range old {
			if rerr := s.openTransportLocked(a); rerr != nil {
				s.log.Error("socket lost while opening a wildcard socket", "addr", a, "err", rerr)
			}
		}
	}
	return err
}

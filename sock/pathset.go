package sock

import (
	"net/netip"
	"sync/atomic"

	"github.com/usock/usock/internal/multihome"
	"github.com/usock/usock/pathmgr"
)

// The association's paths, one per peer address (RFC 9260 section 6.4),
// and the primary. Only this file touches the fields of pathSet and
// path; the other files of the engine call their methods.

// pathSet is the association's paths, in the order they were added, and
// its primary path. It is guarded by Association.mu: the socket reader
// (pathFor), pion's writer (routing, through the path driver's IDs),
// the path timer, the connecting goroutine and user calls (Paths,
// SetPrimary, SetPathLocal) take a.mu to read or change it.
type pathSet struct {
	list    []*path
	primary *path
}

// all returns the paths. The caller holds a.mu and does not change the
// slice.
func (s *pathSet) all() []*path { return s.list }

// main returns the primary path, nil before there is one.
func (s *pathSet) main() *path { return s.primary }

// setMain makes p the primary path.
func (s *pathSet) setMain(p *path) { s.primary = p }

// find returns the path to remote, nil if there is none.
func (s *pathSet) find(remote netip.Addr) *path {
	for _, p := range s.list {
		if p.remote == remote {
			return p
		}
	}
	return nil
}

// add adds a path to remote from local (if new; confirming it when
// confirmed) and returns it; nil when the association has
// multihome.MaxPeerAddresses paths already (the caller counts the drop).
func (s *pathSet) add(remote, local netip.Addr, udpPort uint16, confirmed bool) *path {
	if p := s.find(remote); p != nil {
		if confirmed {
			p.confirmed = true
		}
		return p
	}
	if len(s.list) >= multihome.MaxPeerAddresses {
		return nil
	}
	p := &path{remote: remote, local: local, confirmed: confirmed}
	p.udpPort.Store(uint32(udpPort))
	s.list = append(s.list, p)
	return p
}

// remotes returns the peer's addresses, the primary's first when
// primaryFirst.
func (s *pathSet) remotes(primaryFirst bool) []netip.Addr {
	out := make([]netip.Addr, 0, len(s.list))
	if primaryFirst && s.primary != nil {
		out = append(out, s.primary.remote)
	}
	for _, p := range s.list {
		if !primaryFirst || p != s.primary {
			out = append(out, p.remote)
		}
	}
	return out
}

// path is the association's view of one peer address (RFC 9260 section
// 1.3 "transport address"): where to send, from where, and its counters.
// id and confirmed are guarded by Association.mu (id is set once, when
// the paths start); the UDP port, the local addresses and the counters
// are atomics that the socket reader and pion's writer use without it.
type path struct {
	id      pathmgr.PathID
	remote  netip.Addr
	local   netip.Addr
	udpPort atomic.Uint32 // the peer's UDP encapsulation port
	// arrival is the local address the peer's packets from remote arrive
	// on; once known the path sends from it, so that both directions of
	// a path use the same pair of addresses.
	arrival atomic.Pointer[netip.Addr]
	pinned  atomic.Pointer[netip.Addr] // set by SetPathLocal; wins

	confirmed bool

	packetsOut, bytesOut, packetsIn, bytesIn atomic.Uint64
}

// pathID is the path's ID in the path driver.
func (p *path) pathID() pathmgr.PathID { return p.id }

// setPathID gives the path its ID in the path driver. The caller holds
// a.mu.
func (p *path) setPathID(id pathmgr.PathID) { p.id = id }

// remoteAddr is the peer's address on the path.
func (p *path) remoteAddr() netip.Addr { return p.remote }

// isConfirmed reports whether the path is confirmed (RFC 9260 section
// 5.4). The caller holds a.mu.
func (p *path) isConfirmed() bool { return p.confirmed }

// confirm marks the path confirmed. The caller holds a.mu.
func (p *path) confirm() { p.confirmed = true }

// setUDPPort records the peer's UDP encapsulation port on the path.
func (p *path) setUDPPort(port uint16) { p.udpPort.Store(uint32(port)) }

// peerUDPPort is the peer's UDP encapsulation port on the path.
func (p *path) peerUDPPort() uint16 { return uint16(p.udpPort.Load()) }

// arrived records a packet of n bytes from the peer that arrived on
// local address l (invalid or unspecified when unknown).
func (p *path) arrived(l netip.Addr, n int) {
	if l.IsValid() && !l.IsUnspecified() {
		if cur := p.arrival.Load(); cur == nil || *cur != l {
			at := l // only a change moves an address to the heap
			p.arrival.Store(&at)
		}
	}
	p.packetsIn.Add(1)
	p.bytesIn.Add(uint64(n))
}

// receivedOn is the local address the peer's packets arrive on, or the
// path's configured local address before one arrived.
func (p *path) receivedOn() netip.Addr {
	if l := p.arrival.Load(); l != nil {
		return *l
	}
	return p.local
}

// pin makes the path send from local, whatever the peer's packets arrive
// on (SetPathLocal).
func (p *path) pin(local netip.Addr) { p.pinned.Store(&local) }

// from is the local address the path sends from.
func (p *path) from() netip.Addr {
	if l := p.pinned.Load(); l != nil {
		return *l
	}
	return p.receivedOn()
}

// to is the peer's address and UDP encapsulation port on the path.
func (p *path) to() netip.AddrPort {
	return netip.AddrPortFrom(p.remote, p.peerUDPPort())
}

// countSent counts a packet handed to the socket.
func (p *path) countSent(pkt []byte, err error) {
	if err == nil {
		p.packetsOut.Add(1)
		p.bytesOut.Add(uint64(len(pkt)))
	}
}

// counters returns the path's packet and byte counts, each way.
func (p *path) counters() (packetsOut, bytesOut, packetsIn, bytesIn uint64) {
	return p.packetsOut.Load(), p.bytesOut.Load(), p.packetsIn.Load(), p.bytesIn.Load()
}

// Package udpencaptest is an in-memory udpencap.Bind for tests.
//
// A Network holds fake Binds (Network.Open is a udpencap.Opener, for
// sock.WithBind) and one queue of the datagrams they sent, in the order of
// the Send and Enqueue calls. Nothing moves by itself: the test takes a
// datagram out (Next) to look at it or drop it, hands one in (Deliver),
// written by hand or taken from the queue, or delivers the whole queue
// (Flush). Every delivery runs the Receiver on the calling goroutine.
// The package starts no goroutine and reads no clock, so it runs as it is
// inside a testing/synctest bubble, and what a test sees depends only on
// what the stacks send, not on scheduling between deliveries.
//
// A fake Bind keeps the contract of udpencap.Bind: Send and Enqueue copy
// the packet (so neither keeps the caller's buffer); a delivery checks the
// length and the CRC32c as a socket's read goroutine does, hands the
// Receiver a buffer of the Bind's own and overwrites it when the Receiver
// returns, so that a Receiver keeping it sees garbage rather than a
// packet; one delivery at a time reaches a Bind, as from one read
// goroutine; Close waits for a delivery in progress and none starts after
// it.
package udpencaptest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

// ErrNoBind means a datagram was delivered to an address and port no open
// Bind of the Network serves.
var ErrNoBind = errors.New("udpencaptest: no bind for the destination")

// FirstPort is the port a Network gives the first Bind opened with port
// zero; later ones get the next free ports.
const FirstPort uint16 = 49152

// poison is what a delivery's buffer is overwritten with after the
// Receiver returns.
const poison = 0xa5

// Datagram is one UDP datagram on a Network.
type Datagram struct {
	// Pkt is the SCTP packet, a copy the Datagram owns.
	Pkt []byte
	// Src is the sender's address and UDP port: the source the Bind was
	// asked for, or the first of its addresses of Dst's family.
	Src netip.AddrPort
	// Dst is the destination address and UDP port.
	Dst netip.AddrPort
	// Queued reports that the datagram was sent by Enqueue, not Send.
	Queued bool
}

// Network is a set of fake Binds and the queue of what they sent. Its
// methods are safe for concurrent use; mu guards binds and pending and
// is never held while a Receiver runs.
type Network struct {
	mu      sync.Mutex
	binds   []*Bind
	pending []Datagram
}

// NewNetwork returns an empty Network.
func NewNetwork() *Network { return &Network{} }

// Open opens a fake Bind on the local addresses, all on UDP port port
// (zero: the first free one from FirstPort), delivering to recv. It is a
// udpencap.Opener. A wildcard address serves every address of its family.
// A port an open Bind of the Network already has on an overlapping
// address (the same one, or a wildcard of its family either way) is an
// error wrapping udpencap.ErrAddressInUse.
func (n *Network) Open(local []netip.Addr, port uint16, recv udpencap.Receiver) (udpencap.Bind, error) {
	if recv == nil {
		return nil, fmt.Errorf("udpencaptest: open: %w: no Receiver", udpencap.ErrInvalidConfig)
	}
	if len(local) == 0 {
		return nil, fmt.Errorf("udpencaptest: open: %w: no local address", udpencap.ErrInvalidConfig)
	}
	addrs := make([]netip.Addr, 0, len(local))
	for _, a := range local {
		a = a.Unmap()
		if !a.IsValid() || slices.Contains(addrs, a) {
			return nil, fmt.Errorf("udpencaptest: open %v: %w: invalid or repeated address", local, udpencap.ErrInvalidConfig)
		}
		addrs = append(addrs, a)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if port == 0 {
		for p := uint32(FirstPort); p <= 0xffff; p++ {
			if !n.takenLocked(addrs, uint16(p)) {
				port = uint16(p)
				break
			}
		}
		if port == 0 {
			return nil, fmt.Errorf("udpencaptest: open %v: no free port: %w", local, udpencap.ErrAddressInUse)
		}
	} else if n.takenLocked(addrs, port) {
		return nil, fmt.Errorf("udpencaptest: open %v port %d: %w", local, port, udpencap.ErrAddressInUse)
	}
	b := &Bind{net: n, local: addrs, port: port, recv: recv, rx: make(chan struct{}, 1)}
	n.binds = append(n.binds, b)
	return b, nil
}

// takenLocked reports whether an open Bind has port on an address that
// overlaps one of addrs. The caller holds n.mu.
func (n *Network) takenLocked(addrs []netip.Addr, port uint16) bool {
	for _, b := range n.binds {
		if b.port != port {
			continue
		}
		for _, a := range addrs {
			for _, l := range b.local {
				if a == l || (a.Is4() == l.Is4() && (a.IsUnspecified() || l.IsUnspecified())) {
					return true
				}
			}
		}
	}
	return false
}

// Lookup returns the open Bind a datagram to dst reaches: one with dst's
// port bound to dst's address, else one with the wildcard of its family;
// nil if none.
func (n *Network) Lookup(dst netip.AddrPort) *Bind {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lookupLocked(dst)
}

func (n *Network) lookupLocked(dst netip.AddrPort) *Bind {
	a := dst.Addr().Unmap()
	var wild *Bind
	for _, b := range n.binds {
		if b.port != dst.Port() {
			continue
		}
		if slices.Contains(b.local, a) {
			return b
		}
		if wild == nil && !a.IsUnspecified() && slices.Contains(b.local, wildcardOf(a)) {
			wild = b
		}
	}
	return wild
}

// Pending returns how many sent datagrams wait in the queue.
func (n *Network) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.pending)
}

// Next takes the oldest sent datagram out of the queue; false if the
// queue is empty. What the test does not Deliver is lost.
func (n *Network) Next() (Datagram, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.pending) == 0 {
		return Datagram{}, false
	}
	d := n.pending[0]
	n.pending[0] = Datagram{}
	n.pending = n.pending[1:]
	return d, true
}

// Deliver hands d to the open Bind serving d.Dst (see Lookup), on the
// calling goroutine, and returns once its Receiver has (or the datagram
// was dropped by the length or checksum check, counted in the Bind's
// Stats). The Receiver sees Meta.Src d.Src and Meta.Local d.Dst. The
// error wraps ErrNoBind if no open Bind serves d.Dst, net.ErrClosed if it
// closed meanwhile. Deliver must not be called from within a Receiver of
// the same Bind.
func (n *Network) Deliver(d Datagram) error {
	b := n.Lookup(d.Dst)
	if b == nil {
		return fmt.Errorf("udpencaptest: deliver to %v: %w", d.Dst, ErrNoBind)
	}
	return b.deliver(d)
}

// Flush delivers the queued datagrams, oldest first, and those their
// Receivers send meanwhile, until the queue is empty. It returns how many
// reached a Receiver and how many were lost: no open Bind for their
// destination, or dropped by the length or checksum check.
func (n *Network) Flush() (delivered, lost int) {
	for {
		d, ok := n.Next()
		if !ok {
			return delivered, lost
		}
		b := n.Lookup(d.Dst)
		if b == nil {
			lost++
			continue
		}
		if took, err := b.take(d); err == nil && took {
			delivered++
		} else {
			lost++
		}
	}
}

// Bind is one fake udpencap.Bind of a Network.
//
// rx, a one-slot channel used as a lock (so that a goroutine waiting for
// it is durably blocked in a synctest bubble, which one waiting for a
// sync.Mutex is not), serializes deliveries as one read goroutine does
// and guards buf; it is held while the Receiver runs, so Close waits for
// a delivery in progress by taking it. mu guards closed and stats and is
// never held while a Receiver runs. Lock order: rx, then mu, then the
// Network's.
type Bind struct {
	net   *Network
	local []netip.Addr // immutable
	port  uint16       // immutable
	recv  udpencap.Receiver

	rx  chan struct{}
	buf []byte

	mu     sync.Mutex
	closed bool
	stats  udpencap.Stats
}

// LocalAddrs returns the Bind's local addresses, as opened.
func (b *Bind) LocalAddrs() []netip.Addr { return slices.Clone(b.local) }

// Port returns the Bind's UDP port.
func (b *Bind) Port() uint16 { return b.port }

// Serves reports whether a is one of the Bind's addresses or has the
// wildcard of its family among them.
func (b *Bind) Serves(a netip.Addr) bool {
	a = a.Unmap()
	return slices.Contains(b.local, a) || (!a.IsUnspecified() && slices.Contains(b.local, wildcardOf(a)))
}

// Send copies pkt into the Network's queue as a datagram from from (an
// address the Bind serves; invalid or unspecified: its first address of
// to's family) to to. The error wraps udpencap.ErrNoSocket when the Bind
// cannot send from from (or has no address of to's family), net.ErrClosed
// after Close.
func (b *Bind) Send(pkt []byte, from netip.Addr, to netip.AddrPort) error {
	return b.send(pkt, from, to, false)
}

// Enqueue is Send; the datagram is marked Queued. The fake copies pkt at
// once, so it keeps no more than Send does.
func (b *Bind) Enqueue(pkt []byte, from netip.Addr, to netip.AddrPort) error {
	return b.send(pkt, from, to, true)
}

func (b *Bind) send(pkt []byte, from netip.Addr, to netip.AddrPort, queued bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		b.stats.TxErrors++
		return fmt.Errorf("udpencaptest: send: %w", net.ErrClosed)
	}
	src, ok := b.source(from, to.Addr().Unmap())
	if !ok {
		b.stats.TxErrors++
		return fmt.Errorf("udpencaptest: send from %v to %v: %w", from, to, udpencap.ErrNoSocket)
	}
	b.stats.TxDatagrams++
	b.stats.TxBytes += uint64(len(pkt))
	d := Datagram{Pkt: slices.Clone(pkt), Src: netip.AddrPortFrom(src, b.port), Dst: to, Queued: queued}
	if d.Pkt == nil {
		d.Pkt = []byte{}
	}
	b.net.mu.Lock()
	b.net.pending = append(b.net.pending, d)
	b.net.mu.Unlock()
	return nil
}

// source is the source address of a datagram sent from from to to.
func (b *Bind) source(from, to netip.Addr) (netip.Addr, bool) {
	if from.IsValid() && !from.IsUnspecified() {
		from = from.Unmap()
		return from, b.Serves(from)
	}
	for _, l := range b.local {
		if l.Is4() == to.Is4() {
			return l, true
		}
	}
	return netip.Addr{}, false
}

// Stats returns the Bind's counters: datagrams and bytes sent and
// delivered, the drops of the receive checks and the send errors.
func (b *Bind) Stats() udpencap.Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// Close closes the Bind: it leaves the Network (its port is free again),
// later sends fail with net.ErrClosed and deliveries with ErrNoBind, and
// Close returns after a delivery in progress has. It always returns nil.
// Close must not be called from within the Bind's Receiver.
func (b *Bind) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	n := b.net
	n.mu.Lock()
	n.binds = slices.DeleteFunc(n.binds, func(o *Bind) bool { return o == b })
	n.mu.Unlock()
	b.rx <- struct{}{} // a delivery in progress ends first
	<-b.rx
	return nil
}

// deliver is Deliver to b.
func (b *Bind) deliver(d Datagram) error {
	_, err := b.take(d)
	return err
}

// take runs a socket's receive checks on d and hands it to the Receiver;
// took is false for a datagram the checks dropped.
func (b *Bind) take(d Datagram) (took bool, err error) {
	b.rx <- struct{}{}
	defer func() { <-b.rx }()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false, fmt.Errorf("udpencaptest: deliver to %v: %w", d.Dst, net.ErrClosed)
	}
	b.stats.RxDatagrams++
	b.stats.RxBytes += uint64(len(d.Pkt))
	switch {
	case len(d.Pkt) < wire.CommonHeaderSize:
		b.stats.RxTooShort++
	case !wire.VerifyChecksum(d.Pkt):
		b.stats.RxBadChecksum++
	default:
		took = true
	}
	b.mu.Unlock()
	if !took {
		return false, nil
	}
	if cap(b.buf) < len(d.Pkt) {
		b.buf = make([]byte, len(d.Pkt))
	}
	pkt := b.buf[:len(d.Pkt)]
	copy(pkt, d.Pkt)
	meta := udpencap.Meta{Src: unmap(d.Src), Local: unmap(d.Dst)}
	defer func() {
		for i := range pkt {
			pkt[i] = poison
		}
	}()
	b.recv.ReceivePacket(pkt, meta)
	return true, nil
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func wildcardOf(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

var _ udpencap.Bind = (*Bind)(nil)

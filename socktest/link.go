package socktest

import (
	"container/heap"
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/pion/transport/v5/vnet"
)

// Counters count what a Link (or the whole Network) did to packets. A
// packet delayed or duplicated is counted once, when it first crosses
// the router, not again when its copies come back.
type Counters struct {
	// Packets is how many UDP datagrams the Link matched (a Link made
	// after one that dropped a datagram does not see it).
	Packets uint64
	// Cut, Lost and TooBig are the datagrams dropped because the Link was
	// cut, by its loss, or (in the Network's counters only) for exceeding
	// the network's MTU (WithMTU).
	Cut, Lost, TooBig uint64
	// Delayed is how many got the Link's delay (SetDelay), Reordered how
	// many were held back by SetReorder.
	Delayed, Reordered uint64
	// Duplicated is how many were delivered twice, Corrupted how many had
	// one bit of their UDP payload flipped.
	Duplicated, Corrupted uint64
}

// linkKey identifies a Link: the same selection gives the same Link.
type linkKey struct {
	from, to netip.Prefix
	both     bool
}

// Link is a rule of a Network: the impairments it applies to the UDP
// datagrams it selects, by source and destination address. Every setting
// can be changed at any time and applies to the packets crossing the
// router from then on; the zero settings (a new Link) let every packet
// through untouched.
//
// When several Links select a packet, each applies in the order the Links
// were made: a drop by one ends it, delays add up.
//
// What happens to a datagram is drawn from a generator seeded with the
// network's seed, the Link's selection, the datagram's addresses, ports
// and bytes, and how many equal datagrams came before it: not from one
// stream shared by every packet, so that a packet's fate does not depend
// on the order in which concurrent senders hand packets to the network
// (which goroutine scheduling decides, also under testing/synctest).
//
// A Link's fields are guarded by its Network's mu.
type Link struct {
	n   *Network
	key linkKey

	cut                    bool
	loss                   float64
	delayMin, delayMax     time.Duration
	reorder                float64
	reorderMin, reorderMax time.Duration
	duplicate              float64
	duplicateMax           time.Duration
	corrupt                float64
	counters               Counters
	salt                   uint64 // from the network's seed and key
}

// Path returns the Link of the datagrams from one address to another, one
// way. Calling it again with the same addresses returns the same Link.
func (n *Network) Path(from, to netip.Addr) *Link {
	return n.link(linkKey{from: netip.PrefixFrom(from.Unmap(), 32), to: netip.PrefixFrom(to.Unmap(), 32)})
}

// Link returns the Link of the datagrams from any address in from to any
// address in to, one way. Calling it again with the same prefixes returns
// the same Link.
func (n *Network) Link(from, to netip.Prefix) *Link {
	return n.link(linkKey{from: from.Masked(), to: to.Masked()})
}

// Between returns the Link of the datagrams between a and b, both ways:
// from an address in a to one in b and from b to a. Between(p, p) is the
// traffic inside p. Calling it again with the same prefixes, in either
// order, returns the same Link.
func (n *Network) Between(a, b netip.Prefix) *Link {
	a, b = a.Masked(), b.Masked()
	if b.Addr().Less(a.Addr()) || (a.Addr() == b.Addr() && b.Bits() < a.Bits()) {
		a, b = b, a
	}
	return n.link(linkKey{from: a, to: b, both: true})
}

func (n *Network) link(k linkKey) *Link {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.linkKey[k]; l != nil {
		return l
	}
	l := &Link{n: n, key: k, salt: k.salt(n.cfg.seed)}
	n.links = append(n.links, l)
	n.linkKey[k] = l
	return l
}

func (l *Link) match(src, dst netip.Addr) bool {
	if l.key.from.Contains(src) && l.key.to.Contains(dst) {
		return true
	}
	return l.key.both && l.key.from.Contains(dst) && l.key.to.Contains(src)
}

// Cut drops every datagram of the Link (on) or stops doing so (off).
// Packets already delayed still arrive.
func (l *Link) Cut(on bool) {
	l.n.mu.Lock()
	defer l.n.mu.Unlock()
	l.cut = on
}

// SetLoss drops the share p (0 to 1) of the Link's datagrams, each with
// probability p.
func (l *Link) SetLoss(p float64) {
	l.n.mu.Lock()
	defer l.n.mu.Unlock()
	l.loss = clamp01(p)
}

// SetDelay holds back every datagram of the Link by a delay drawn
// uniformly from min to max: a fixed latency when they are equal, jitter
// (and so reordering) when they are not. Delays are rounded up to the
// millisecond. SetDelay(0, 0) turns it off.
func (l *Link) SetDelay(min, max time.Duration) {
	l.n.mu.Lock()
	defer l.n.mu.Unlock()
	l.delayMin, l.delayMax = order(min, max)
}

// SetReorder holds back the share p of the Link's datagrams by a further
// delay drawn uniformly from min to max, so that the packets behind them
// overtake them. SetReorder(0, 0, 0) turns it off.
func (l *Link) SetReorder(p float64, min, max time.Duration) {
	l.n.mu.Lock()
	defer l.n.mu.Unlock()
	l.reorder = clamp01(p)
	l.reorderMin, l.reorderMax = order(min, max)
}

// SetDuplicate delivers the share p of the Link's datagrams twice, the
// copy up to maxDelay after the original.
func (l *Link) SetDuplicate(p float64, maxDelay time.Duration) {
	l.n.mu.Lock()
	defer l.n.mu.Unlock()
	l.duplicate = clamp01(p)
	l.duplicateMax = max(maxDelay, 0)
}

// SetCorrupt flips one random bit of the UDP payload of the share p of
// the Link's datagrams (the SCTP checksum is expected to catch it).
func (l *Link) SetCorrupt(p float64) {
	l.n.mu.Lock()
	defer l.n.mu.Unlock()
	l.corrupt = clamp01(p)
}

// Reset turns every impairment of the Link off (its counters stay).
func (l *Link) Reset() {
	l.n.mu.Lock()
	defer l.n.mu.Unlock()
	l.cut, l.loss, l.reorder, l.duplicate, l.corrupt = false, 0, 0, 0, 0
	l.delayMin, l.delayMax, l.reorderMin, l.reorderMax, l.duplicateMax = 0, 0, 0, 0, 0
}

// Counters returns what the Link did so far.
func (l *Link) Counters() Counters {
	l.n.mu.Lock()
	defer l.n.mu.Unlock()
	return l.counters
}

func clamp01(p float64) float64 { return min(max(p, 0), 1) }

func order(a, b time.Duration) (time.Duration, time.Duration) {
	a, b = max(a, 0), max(b, 0)
	return min(a, b), max(a, b)
}

// salt is the part of a Link's seeds that identifies its selection.
func (k linkKey) salt(seed uint64) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	for _, p := range []netip.Prefix{k.from, k.to} {
		pb, _ := p.MarshalBinary()
		h.Write(pb)
	}
	if k.both {
		h.Write([]byte{1})
	}
	return h.Sum64()
}

// packetHash identifies a datagram by its ends and its bytes.
func packetHash(src, dst netip.AddrPort, payload []byte) uint64 {
	h := fnv.New64a()
	for _, ap := range []netip.AddrPort{src, dst} {
		ab, _ := ap.MarshalBinary()
		h.Write(ab)
	}
	h.Write(payload)
	return h.Sum64()
}

// between draws a duration uniformly in [lo, hi].
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// filter is the router's chunk filter: it runs on the router's goroutine
// for every packet, returns false to drop it (or to hold it back: delayed
// packets are put back into the router by fire).
func (n *Network) filter(c vnet.Chunk) bool {
	src, ok1 := udpAddrPort(c.SourceAddr())
	dst, ok2 := udpAddrPort(c.DestinationAddr())
	if !ok1 || !ok2 {
		return true // not UDP
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if k := n.reinject[c.Tag()]; k > 0 {
		// A delayed or duplicated copy coming back: it passes.
		if k == 1 {
			delete(n.reinject, c.Tag())
		} else {
			n.reinject[c.Tag()] = k - 1
		}
		return true
	}
	if n.closed {
		return false
	}
	n.counters.Packets++
	if n.cfg.mtu > 0 && len(c.UserData())+udpIPv4Overhead > n.cfg.mtu {
		n.counters.TooBig++
		return false
	}
	var delay, dupDelay time.Duration
	dup := false
	// The datagram's identity, for its random draws (see Link).
	h := packetHash(src, dst, c.UserData())
	n.occurrences[h]++
	id := h ^ uint64(n.occurrences[h])*0x9e3779b97f4a7c15
	for _, l := range n.links {
		if !l.match(src.Addr(), dst.Addr()) {
			continue
		}
		l.counters.Packets++
		if l.cut {
			l.counters.Cut++
			n.counters.Cut++
			return false
		}
		r := rand.New(rand.NewPCG(l.salt^id, id))
		if l.loss > 0 && r.Float64() < l.loss {
			l.counters.Lost++
			n.counters.Lost++
			return false
		}
		if l.corrupt > 0 && r.Float64() < l.corrupt {
			if ud := c.UserData(); len(ud) > 0 {
				bit := r.IntN(len(ud) * 8)
				ud[bit/8] ^= 1 << (bit % 8)
				l.counters.Corrupted++
				n.counters.Corrupted++
			}
		}
		if l.delayMax > 0 {
			delay += between(r, l.delayMin, l.delayMax)
			l.counters.Delayed++
			n.counters.Delayed++
		}
		if l.reorder > 0 && r.Float64() < l.reorder {
			delay += between(r, l.reorderMin, l.reorderMax)
			l.counters.Reordered++
			n.counters.Reordered++
		}
		if l.duplicate > 0 && r.Float64() < l.duplicate {
			dup = true
			dupDelay = max(dupDelay, between(r, 0, l.duplicateMax))
			l.counters.Duplicated++
			n.counters.Duplicated++
		}
	}
	if dup {
		n.schedule(c.Clone(), delay+dupDelay)
	}
	if delay > 0 {
		n.schedule(c, delay)
		return false
	}
	return true
}

// delayed is a packet held back until due; seq keeps the packets due at
// the same instant in the order they came.
type delayed struct {
	due time.Time
	seq uint64
	c   vnet.Chunk
}

// delayQueue is a min-heap of delayed packets by (due, seq).
type delayQueue []delayed

func (q delayQueue) Len() int { return len(q) }
func (q delayQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].seq < q[j].seq
}
func (q delayQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *delayQueue) Push(x any)   { *q = append(*q, x.(delayed)) }
func (q *delayQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// schedule puts c back into the router after d; n.mu held. One timer
// serves the whole queue, so that packets due together go back in order.
func (n *Network) schedule(c vnet.Chunk, d time.Duration) {
	n.seq++
	n.reinject[c.Tag()]++
	heap.Push(&n.queue, delayed{due: time.Now().Add(d), seq: n.seq, c: c})
	if n.queue[0].seq != n.seq {
		return // an earlier packet's timer is set
	}
	if n.timer == nil {
		n.timer = time.AfterFunc(d, n.fire)
	} else {
		n.timer.Reset(d)
	}
}

// fire runs on the timer's goroutine: it sends the packets that are due
// back into the router, in order, and sets the timer for the next.
func (n *Network) fire() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	now := time.Now()
	var due []vnet.Chunk
	for len(n.queue) > 0 && !n.queue[0].due.After(now) {
		due = append(due, heap.Pop(&n.queue).(delayed).c)
	}
	if len(n.queue) > 0 {
		n.timer.Reset(n.queue[0].due.Sub(now))
	}
	n.mu.Unlock()
	for _, c := range due {
		n.injectFn(c) // copies c back into the router (within a millisecond)
	}
}

package udpencap

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// queued is one datagram in a send queue: the packet, the source address
// its datagram must carry (see socket.source) and the destination.
type queued struct {
	Pkt  []byte
	From netip.Addr
	To   netip.AddrPort
}

// sendQueueLimit is how many packets may wait in one socket's send queue;
// Enqueue blocks past it, so a sender faster than the socket is slowed
// down instead of growing memory.
const sendQueueLimit = 1024

// sendQueue holds the packets given to Enqueue for one socket until a
// flusher goroutine writes them. At most one flusher runs per socket; it
// starts with the first packet of a burst and ends when the queue is
// empty, so an idle socket has none. Packets that pile up while the
// flusher is in a system call leave together in the next one.
type sendQueue struct {
	mu      sync.Mutex
	shrunk  sync.Cond // signalled when the flusher takes the queue
	pending []queued
	spare   []queued
	running bool
	scratch *offloadScratch // the flusher's; one flusher at a time

	last  time.Time // when the last packet was queued or written inline
	quick int       // packets in a row that came within the burst gap
}

// DefaultBurstGap (Config.BurstGap) and burstLen tell a burst from a lone
// packet: the packets of a
// pion write burst come back to back, microseconds apart (measured from
// the end of the previous packet's system call), and only from
// the burstLen-th of them on are they queued for the flusher. A lone
// packet or a pair (a SACK and the DATA of a reply) is written at once by
// the caller, without waking another goroutine: that hand-off would cost
// a request-response exchange more than the system calls it saves.
const (
	DefaultBurstGap = 50 * time.Microsecond
	burstLen        = 3
)

// Enqueue sends pkt like Send, but asynchronously where the socket for
// from is in batching mode: the packet waits in the socket's queue and
// leaves with the packets queued behind it in as few system calls as
// possible, equal-sized packets to one destination as one UDP_SEGMENT
// (generic segmentation offload) send where the kernel has it. pkt is
// retained until it is written and must not be modified after the call.
// Elsewhere (vnet, other systems) Enqueue is Send.
//
// Enqueue returns an error only for what it can tell at once (no socket,
// transport closed); write errors are counted in Stats.TxErrors. It
// blocks while the socket's queue is full. Packets queued before Close
// are written before Close returns.
func (t *Transport) Enqueue(pkt []byte, from netip.Addr, to netip.AddrPort) error {
	s, err := t.sender(from, to)
	if err != nil {
		return err
	}
	if s.batch == nil {
		return s.send(pkt, from, to)
	}
	if s.is4 {
		to = unmapAddrPort(to)
	}
	// Only a source the datagram must carry is kept, so that the packets
	// of a specific socket all compare equal in segmentRun.
	from = s.source(from)
	q := &s.q
	now := time.Now()
	// Close sets t.closed and then takes every queue's lock once, so with
	// the flag checked under q.mu no flusher starts after Close waits.
	q.mu.Lock()
	if now.Sub(q.last) < t.burstGap {
		q.quick++
	} else {
		q.quick = 0
	}
	q.last = now
	if !q.running && len(q.pending) == 0 && q.quick < burstLen-1 && !t.closed.Load() {
		return s.sendInline(pkt, from, to)
	}
	for len(q.pending) >= sendQueueLimit && !t.closed.Load() {
		q.shrunk.Wait()
	}
	if t.closed.Load() {
		q.mu.Unlock()
		s.ctr.txErrors.Add(1)
		return fmt.Errorf("udpencap: send: %w", net.ErrClosed)
	}
	q.pending = append(q.pending, queued{Pkt: pkt, From: from, To: to})
	if !q.running {
		q.running = true
		t.flushers.Add(1)
		go s.flush()
	}
	q.mu.Unlock()
	return nil
}

// sendInline writes pkt on the calling goroutine; q.mu is held on entry
// and released. It counts as the queue's flusher meanwhile, so packets
// enqueued during the system call wait and are handed to a flusher after.
func (s *socket) sendInline(pkt []byte, from netip.Addr, to netip.AddrPort) error {
	q := &s.q
	q.running = true
	s.t.flushers.Add(1)
	q.mu.Unlock()
	err := s.send(pkt, from, to)
	q.mu.Lock()
	q.last = time.Now()
	if len(q.pending) > 0 {
		go s.flush() // takes over the count in flushers
	} else {
		q.running = false
		s.t.flushers.Done()
	}
	q.mu.Unlock()
	return err
}

// stopQueues wakes senders blocked on full queues and waits for the
// flushers to write what is queued.
func (t *Transport) stopQueues() {
	for _, s := range t.socks {
		s.q.mu.Lock()
		s.q.shrunk.Broadcast()
		s.q.mu.Unlock()
	}
	t.flushers.Wait()
}

// flush writes the socket's queue until it is empty.
func (s *socket) flush() {
	defer s.t.flushers.Done()
	q := &s.q
	for {
		q.mu.Lock()
		batch := q.pending
		if len(batch) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.pending, q.spare = q.spare[:0], nil
		q.shrunk.Broadcast()
		if q.scratch == nil {
			q.scratch = newOffloadScratch(s.t.batchSize)
		}
		sc := q.scratch
		q.mu.Unlock()

		s.writeQueued(sc, batch)
		clear(batch)

		q.mu.Lock()
		if q.spare == nil {
			q.spare = batch[:0]
		}
		q.mu.Unlock()
	}
}

// offloadScratch is the reusable state of one flusher's writes: messages,
// their buffer lists (one per packet, several for a segmented send),
// destination addresses and control messages (UDP_SEGMENT, and the source
// address on a wildcard socket), ctlRoom bytes per message.
type offloadScratch struct {
	msgs  []ipv4.Message
	iov   [][]byte
	segs  []int // packets per message
	addrs []net.UDPAddr
	ips   [][16]byte
	oob   []byte
}

func newOffloadScratch(n int) *offloadScratch {
	sc := &offloadScratch{
		msgs:  make([]ipv4.Message, n),
		iov:   make([][]byte, 0, n*maxGSOSegments),
		segs:  make([]int, n),
		addrs: make([]net.UDPAddr, n),
		ips:   make([][16]byte, n),
		oob:   make([]byte, n*ctlRoom),
	}
	for i := range sc.msgs {
		sc.msgs[i].Addr = &sc.addrs[i]
	}
	return sc
}

// ctlRoom is the control message room of one queued message: a
// UDP_SEGMENT and a source address.
var ctlRoom = gsoControlSize + srcControlSize

// segmentRun counts the packets from batch[0] that can leave as one
// segmented send: the same destination, source and size, but for a last
// one that may be shorter (the kernel cuts the buffer every size bytes).
// The source is one control message for the whole send, so packets with
// an explicit source batch and segment like the others.
func segmentRun(batch []queued, gso bool) int {
	if !gso || len(batch) < 2 {
		return 1
	}
	size := len(batch[0].Pkt)
	total := size
	n := 1
	for n < len(batch) && n < maxGSOSegments {
		p := batch[n]
		if p.To != batch[0].To || p.From != batch[0].From || len(p.Pkt) > size || total+len(p.Pkt) > maxGSOBytes {
			break
		}
		total += len(p.Pkt)
		n++
		if len(p.Pkt) < size {
			break
		}
	}
	return n
}

// writeQueued writes batch with as few WriteBatch calls (sendmmsg) as
// possible, each message a run of packets segmented by the kernel.
func (s *socket) writeQueued(sc *offloadScratch, batch []queued) {
	for len(batch) > 0 {
		k, used := 0, 0
		for k < len(sc.msgs) && used < len(batch) {
			n := segmentRun(batch[used:], s.gso.Load())
			m := &sc.msgs[k]
			start := len(sc.iov)
			for _, o := range batch[used : used+n] {
				sc.iov = append(sc.iov, o.Pkt)
			}
			m.Buffers = sc.iov[start:len(sc.iov):len(sc.iov)]
			room := sc.oob[k*ctlRoom : (k+1)*ctlRoom]
			ctl := 0
			if n > 1 {
				ctl += len(putGSOControl(room, len(batch[used].Pkt)))
			}
			if src := batch[used].From; src.IsValid() {
				ctl += len(putSourceControl(room[ctl:], src, s.is4))
			}
			m.OOB = nil
			if ctl > 0 {
				m.OOB = room[:ctl]
			}
			fillAddr(&sc.addrs[k], &sc.ips[k], batch[used].To)
			sc.segs[k] = n
			used += n
			k++
		}
		s.writeMessages(sc, batch[:used], k)
		// Drop the references to the packets written, and only those.
		for i := range k {
			sc.msgs[i].Buffers = nil
		}
		clear(sc.iov)
		sc.iov = sc.iov[:0]
		batch = batch[used:]
	}
}

// writeMessages writes the k prepared messages carrying pkts. A failed
// segmented send turns segmentation off for the socket (a device or
// kernel that refuses it answers EIO or EINVAL) and its packets are sent
// one by one; any other failed message is counted and skipped.
func (s *socket) writeMessages(sc *offloadScratch, pkts []queued, k int) {
	off, pkt := 0, 0
	for off < k {
		n, err := s.batch.WriteBatch(sc.msgs[off:k], 0)
		n = max(n, 0)
		for i := off; i < off+n; i++ {
			var nbytes uint64
			for _, o := range pkts[pkt : pkt+sc.segs[i]] {
				nbytes += uint64(len(o.Pkt))
			}
			s.ctr.txDatagrams.Add(uint64(sc.segs[i]))
			if sc.segs[i] > 1 {
				s.ctr.txSegmented.Add(1)
			}
			s.ctr.txBytes.Add(nbytes)
			pkt += sc.segs[i]
		}
		off += n
		if off == k {
			return
		}
		if err == nil {
			err = errors.New("WriteBatch made no progress")
		}
		segs := sc.segs[off]
		if segs > 1 && !errors.Is(err, net.ErrClosed) {
			if s.gso.Swap(false) {
				s.t.log.Warnf("udpencap: %s: segmentation offload off: %v", s.local, err)
			}
			for _, o := range pkts[pkt : pkt+segs] {
				_ = s.send(o.Pkt, o.From, o.To)
			}
		} else {
			s.ctr.txErrors.Add(uint64(segs))
			s.t.log.Debugf("udpencap: send %s -> %s: %v", s.local, pkts[pkt].To, err)
		}
		pkt += segs
		off++
	}
}

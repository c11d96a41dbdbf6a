package pathdriver

import (
	"slices"
	"time"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/pathmgr"
)

// outstanding remembers the DATA the association sent and the peer has not
// acknowledged, by path: what pathmgr needs to run a retransmission timer
// per path (RFC 9260 section 6.3.2) from what the stack observed, and what
// the Driver re-sends itself on another path when one fails (sections
// 6.3.3 and 6.4.1) instead of waiting for pion's backed-off timer. Memory
// is bounded by the peer's window: pion never has more in flight.
type outstanding struct {
	byTSN map[uint32]*outPacket
	pkts  []*outPacket // in the order sent
	// onPath counts, per path, the packets outstanding there with a TSN
	// not yet acknowledged. A packet marked for retransmission (path
	// pathmgr.NoPath) counts nowhere.
	onPath map[pathmgr.PathID]int
	// lostOn lists, for a TSN sent more than once and not yet
	// acknowledged, the paths its earlier copies went to: pion (RACK, a
	// tail-loss probe, T3-rtx) or the Driver's own re-send took those
	// copies for lost. See credited for what its acknowledgement
	// credits, and pathmgr.RetransmitPath for where a retransmission
	// goes. At most one entry per path for each TSN in byTSN.
	lostOn map[uint32][]pathmgr.PathID
	// cum is the highest cumulative TSN ack seen (valid with haveCum): a
	// SACK then visits only the TSNs it newly acknowledges.
	cum     uint32
	haveCum bool
	// highest is the highest TSN sent: the initial TSN minus one until
	// the first DATA.
	highest uint32
	// ackedBuf is the array of ack's result, reused: the caller is done
	// with it before the next ack.
	ackedBuf []ackedPath
}

// outPacket is one packet of DATA chunks: what went out, without the other
// chunks pion bundled with them. A packet of DATA chunks only is kept as
// it is (pion allocates every packet afresh and never touches it after
// writing it); its checksum is the one the caller set. Otherwise it is a
// copy whose checksum is computed only when it is sent again. Its TSNs are
// read back from pkt when needed (a re-send, rare), not kept beside it.
type outPacket struct {
	pkt  []byte
	left int // TSNs not yet acknowledged
	// path is where the last copy went; pathmgr.NoPath once the packet
	// is marked for retransmission (RFC 9260 section 6.3.3: DATA sent to
	// a failed path that the Driver did not re-send at once; it goes as
	// SACKs arrive, or with pion's own retransmission).
	path   pathmgr.PathID
	sentAt time.Time
	rtx    bool // retransmitted: no RTT sample (Karn's rule, section 6.3.1 C5)
	copied bool // pkt is a copy, its checksum still to be set
}

func newOutstanding(initialTSN uint32) *outstanding {
	return &outstanding{
		byTSN:   map[uint32]*outPacket{},
		onPath:  map[pathmgr.PathID]int{},
		lostOn:  map[uint32][]pathmgr.PathID{},
		highest: initialTSN - 1,
	}
}

// dataTSNs appends the TSNs of the DATA and I-DATA chunks of pkt to dst.
func dataTSNs(dst []uint32, pkt []byte) []uint32 {
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	for it.Next() {
		if tsn, ok := wire.PeekDataTSN(it.Chunk()); ok {
			dst = append(dst, tsn)
		}
	}
	return dst
}

// sent records the TSNs of a DATA packet going out, for highest.
func (o *outstanding) sent(tsns []uint32) {
	for _, t := range tsns {
		if !serialLE(t, o.highest) {
			o.highest = t
		}
	}
}

// unsentAcked returns a TSN that SACK s acknowledges although it was
// never sent (its Cumulative TSN Ack or the end of a Gap Ack Block beyond
// the highest TSN sent), and false when there is none. Malformed Gap Ack
// Blocks (start 0, or end before start) acknowledge nothing.
func (o *outstanding) unsentAcked(s wire.SackView) (uint32, bool) {
	cum := s.CumTSNAck()
	if !serialLE(cum, o.highest) {
		return cum, true
	}
	for i := range s.NumGapBlocks() {
		start, end := s.GapBlock(i)
		if start == 0 || end < start {
			continue
		}
		if t := cum + uint32(end); !serialLE(t, o.highest) {
			return t, true
		}
	}
	return 0, false
}

// isRetransmission reports whether any TSN was sent before, and then the
// path of its last copy (pathmgr.NoPath if it is marked for
// retransmission) and the paths earlier copies of any of them were lost on.
func (o *outstanding) isRetransmission(tsns []uint32) (last pathmgr.PathID, lost []pathmgr.PathID, rtx bool) {
	last = pathmgr.NoPath
	for _, t := range tsns {
		if p, ok := o.byTSN[t]; ok && !rtx {
			last, rtx = p.path, true
		}
		for _, l := range o.lostOn[t] {
			if !slices.Contains(lost, l) {
				lost = append(lost, l)
			}
		}
	}
	return last, lost, rtx
}

// noteLost records that the copy of tsn sent on p is taken for lost.
func (o *outstanding) noteLost(tsn uint32, p pathmgr.PathID) {
	if p == pathmgr.NoPath {
		return
	}
	if l := o.lostOn[tsn]; !slices.Contains(l, p) {
		o.lostOn[tsn] = append(l, p)
	}
}

// unacked removes from tsns, in place, the TSNs at or below the highest
// cumulative ack seen: the peer has them, and no SACK would acknowledge
// them again.
func (o *outstanding) unacked(tsns []uint32) []uint32 {
	if !o.haveCum {
		return tsns
	}
	return slices.DeleteFunc(tsns, func(t uint32) bool { return serialLE(t, o.cum) })
}

// add records a packet pion sent with DATA chunks tsns on path p.
func (o *outstanding) add(pkt []byte, tsns []uint32, p pathmgr.PathID, now time.Time, rtx bool) {
	kept := dataOnly(pkt)
	op := &outPacket{pkt: kept, path: p, sentAt: now, rtx: rtx,
		copied: len(kept) == 0 || &kept[0] != &pkt[0]}
	for _, t := range tsns {
		if old, ok := o.byTSN[t]; ok {
			// pion retransmitted it: the new copy replaces the old one,
			// which it took for lost.
			o.noteLost(t, old.path)
			o.forget(old, t)
		}
		o.byTSN[t] = op
		op.left++
	}
	o.pkts = append(o.pkts, op)
	o.onPath[p]++
}

// forget drops tsn, acknowledged or sent again, from op.
func (o *outstanding) forget(op *outPacket, tsn uint32) {
	delete(o.byTSN, tsn)
	op.left--
	if op.left == 0 && op.path != pathmgr.NoPath {
		o.onPath[op.path]--
	}
}

// ackedPath is what a SACK did for one path.
type ackedPath struct {
	path    pathmgr.PathID
	rtt     time.Duration
	hasRTT  bool
	allDone bool
}

// credited reports whether the acknowledgement of a TSN whose last copy
// went to p, and earlier copies to the paths lost, is credited to p
// (RFC 9260 section 8.2 clears the error counter of "the destination
// transport address to which the DATA chunk was last sent", which is
// unknown once copies went several ways). It never is when a copy was
// lost on p: crediting it would hide a dead path whose DATA pion keeps
// re-sending elsewhere within a few round trips (RACK, tail-loss probes).
// DATA marked for retransmission (p is pathmgr.NoPath) credits no path.
func credited(p pathmgr.PathID, lost []pathmgr.PathID) bool {
	return p != pathmgr.NoPath && !slices.Contains(lost, p)
}

// ack applies a SACK (RFC 9260 section 3.3.4): every TSN up to cum and
// every TSN in a gap block is acknowledged. It returns, per path credited
// with DATA acknowledged, an RTT sample from a packet sent once and
// whether nothing is left outstanding on it; and the size of the packets
// the SACK acknowledged the last TSNs of. The paths are valid until the
// next ack.
func (o *outstanding) ack(s wire.SackView, now time.Time) (out []ackedPath, bytes int) {
	cum := s.CumTSNAck()
	out = o.ackedBuf[:0]
	defer func() {
		if !o.haveCum || !serialLE(cum, o.cum) {
			o.cum, o.haveCum = cum, true
		}
		if cap(out) > 0 {
			o.ackedBuf = out[:0]
		}
		if len(out) == 0 {
			out = nil
		}
	}()
	if len(o.byTSN) == 0 {
		return nil, 0
	}
	note := func(op *outPacket) {
		for i := range out {
			if out[i].path == op.path {
				if !op.rtx && !out[i].hasRTT {
					out[i].rtt, out[i].hasRTT = now.Sub(op.sentAt), true
				}
				return
			}
		}
		out = append(out, ackedPath{path: op.path, rtt: now.Sub(op.sentAt), hasRTT: !op.rtx})
	}
	// take removes an acknowledged TSN and credits its path (see
	// credited).
	take := func(op *outPacket, t uint32) {
		o.forget(op, t)
		if op.left == 0 {
			bytes += len(op.pkt)
		}
		lost := o.lostOn[t]
		delete(o.lostOn, t)
		if credited(op.path, lost) {
			note(op)
		}
	}
	acked := func(t uint32) {
		if op, ok := o.byTSN[t]; ok {
			take(op, t)
		}
	}
	switch {
	case o.haveCum && serialLE(cum, o.cum):
		// Nothing new below cum (an old or repeated SACK).
	case o.haveCum && cum-o.cum <= uint32(2*len(o.byTSN)):
		for t := o.cum + 1; serialLE(t, cum); t++ {
			acked(t)
		}
	default:
		for t, op := range o.byTSN {
			if serialLE(t, cum) {
				take(op, t)
			}
		}
	}
	for i := range s.NumGapBlocks() {
		start, end := s.GapBlock(i)
		if start == 0 || end < start {
			continue // malformed block
		}
		if int(end-start)+1 > len(o.byTSN) {
			// A block wider than what is outstanding (a peer may claim
			// any range): visit the outstanding TSNs instead.
			for t, op := range o.byTSN {
				if off := t - cum; off >= uint32(start) && off <= uint32(end) {
					take(op, t)
				}
			}
			continue
		}
		for off := uint32(start); off <= uint32(end); off++ {
			acked(cum + off)
		}
	}
	o.compact()
	for i := range out {
		out[i].allDone = o.onPath[out[i].path] == 0
	}
	return out, bytes
}

// compact drops fully acknowledged packets from the send-order list.
func (o *outstanding) compact() {
	n := 0
	for _, op := range o.pkts {
		if op.left > 0 {
			o.pkts[n] = op
			n++
		}
	}
	clear(o.pkts[n:])
	o.pkts = o.pkts[:n]
}

// firstTSN returns the lowest TSN of op not yet acknowledged.
func (o *outstanding) firstTSN(op *outPacket) uint32 {
	var buf [32]uint32
	first, ok := uint32(0), false
	for _, t := range dataTSNs(buf[:0], op.pkt) {
		if o.byTSN[t] == op && (!ok || serialLE(t, first)) {
			first, ok = t, true
		}
	}
	return first
}

// candidates returns the packets outstanding for which from says yes,
// lowest TSN first (RFC 9260 section 6.3.3 E3: "the earliest (i.e., lowest
// TSN) outstanding DATA chunks").
func (o *outstanding) candidates(from func(pathmgr.PathID) bool) []*outPacket {
	var out []*outPacket
	for _, op := range o.pkts {
		if op.left > 0 && from(op.path) {
			out = append(out, op)
		}
	}
	firsts := make(map[*outPacket]uint32, len(out))
	for _, op := range out {
		firsts[op] = o.firstTSN(op)
	}
	slices.SortStableFunc(out, func(a, b *outPacket) int {
		switch fa, fb := firsts[a], firsts[b]; {
		case fa == fb:
			return 0
		case serialLE(fa, fb):
			return -1
		}
		return 1
	})
	return out
}

// leave takes op off its path: its current copy is taken for lost. It
// reports whether that left the path with nothing outstanding.
func (o *outstanding) leave(op *outPacket) (emptied bool) {
	if op.path == pathmgr.NoPath {
		return false
	}
	var buf [32]uint32
	for _, t := range dataTSNs(buf[:0], op.pkt) {
		if o.byTSN[t] == op {
			o.noteLost(t, op.path)
		}
	}
	o.onPath[op.path]--
	emptied = o.onPath[op.path] == 0
	op.path = pathmgr.NoPath
	return emptied
}

// resend puts op on path to, sent again now, and returns the packet to
// send (its checksum set).
func (o *outstanding) resend(op *outPacket, to pathmgr.PathID, now time.Time) []byte {
	op.path, op.sentAt, op.rtx = to, now, true
	o.onPath[to]++
	if op.copied {
		wire.SetChecksum(op.pkt)
		op.copied = false
	}
	return op.pkt
}

// serialLE is a <= b in serial number arithmetic (RFC 1982), as TSNs wrap.
func serialLE(a, b uint32) bool { return int32(a-b) <= 0 }

// dataOnly returns pkt if it holds DATA / I-DATA chunks only, otherwise a
// copy of its common header and those chunks (checksum not set).
func dataOnly(pkt []byte) []byte {
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	only := true
	for it.Next() {
		if t := it.Chunk().Type; t != wire.ChunkData && t != wire.ChunkIData {
			only = false
			break
		}
	}
	if only {
		return pkt
	}
	out := make([]byte, wire.CommonHeaderSize, len(pkt))
	copy(out, pkt[:wire.CommonHeaderSize])
	it = wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	for it.Next() {
		if t := it.Chunk().Type; t == wire.ChunkData || t == wire.ChunkIData {
			raw := it.Raw()
			out = append(out, raw...)
			for i := len(raw); i%4 != 0; i++ {
				out = append(out, 0)
			}
		}
	}
	return out
}

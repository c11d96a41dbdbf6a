package sock

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/pathmgr"
)

// outstanding remembers the DATA the association sent and the peer has not
// acknowledged, by path: what pathmgr needs to run a retransmission timer
// per path (RFC 9260 section 6.3.2) from what the stack observed, and what
// the shim re-sends at once on another path when one fails (section 6.4.1)
// instead of waiting for pion's backed-off timer. Memory is bounded by the
// peer's window: pion never has more in flight.
type outstanding struct {
	byTSN  map[uint32]*outPacket
	pkts   []*outPacket // in the order sent
	onPath map[pathmgr.PathID]int
	// lostOn lists, for a TSN sent more than once and not yet
	// acknowledged, the paths its earlier copies went to: pion (RACK, a
	// tail-loss probe, T3-rtx) or the stack's own re-send took those
	// copies for lost. Its acknowledgement is not credited to them (the
	// copy that arrived may have gone any other way: RFC 9260 section 8.2
	// clears the error counter of "the destination transport address to
	// which the DATA chunk was last sent", which is unknown once copies
	// went several ways), and a retransmission avoids them
	// (pathmgr.RetransmitPath). At most one entry per path for each TSN
	// in byTSN.
	lostOn map[uint32][]pathmgr.PathID
	// cum is the highest cumulative TSN ack seen (valid with haveCum): a
	// SACK then visits only the TSNs it newly acknowledges.
	cum     uint32
	haveCum bool
	// highest is the highest TSN sent: the initial TSN minus one until
	// the first DATA (set by the caller).
	highest uint32
}

// outPacket is one packet of DATA chunks: what went out, without the other
// chunks pion bundled with them. A packet of DATA chunks only is kept as
// it is (pion allocates every packet afresh and never touches it after
// writing it); its checksum is the one the shim set. Otherwise it is a
// copy whose checksum is computed only when it is sent again.
type outPacket struct {
	pkt    []byte
	tsns   []uint32
	left   int // TSNs not yet acknowledged
	path   pathmgr.PathID
	sentAt time.Time
	rtx    bool // retransmitted: no RTT sample (Karn's rule, section 6.3.1 C5)
	copied bool // pkt is a copy, its checksum still to be set
}

func newOutstanding() *outstanding {
	return &outstanding{byTSN: map[uint32]*outPacket{}, onPath: map[pathmgr.PathID]int{}, lostOn: map[uint32][]pathmgr.PathID{}}
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
// path of its last copy and the paths earlier copies of any of them were
// lost on.
func (o *outstanding) isRetransmission(tsns []uint32) (last pathmgr.PathID, lost []pathmgr.PathID, rtx bool) {
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
	op := &outPacket{pkt: kept, tsns: append([]uint32(nil), tsns...), path: p, sentAt: now, rtx: rtx,
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

func (o *outstanding) forget(op *outPacket, tsn uint32) {
	delete(o.byTSN, tsn)
	op.left--
	if op.left == 0 {
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

// ack applies a SACK (RFC 9260 section 3.3.4): every TSN up to cum and
// every TSN in a gap block is acknowledged. It returns, per path that had
// DATA acknowledged, an RTT sample from a packet sent once and whether
// nothing is left outstanding on it.
func (o *outstanding) ack(s wire.SackView, now time.Time) []ackedPath {
	if len(o.byTSN) == 0 {
		return nil
	}
	cum := s.CumTSNAck()
	var out []ackedPath
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
	// take removes an acknowledged TSN and credits its path, unless a
	// copy of the TSN was lost there before.
	take := func(op *outPacket, t uint32) {
		o.forget(op, t)
		lost := o.lostOn[t]
		delete(o.lostOn, t)
		if !slices.Contains(lost, op.path) {
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
	if !o.haveCum || !serialLE(cum, o.cum) {
		o.cum, o.haveCum = cum, true
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
	return out
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

// move re-assigns to path to the packets outstanding on from (on any
// other path than to, with anyPath) and returns them, to be sent again at
// once, and the paths left with nothing outstanding.
func (o *outstanding) move(from, to pathmgr.PathID, anyPath bool, now time.Time) (out [][]byte, emptied []pathmgr.PathID) {
	for _, op := range o.pkts {
		switch {
		case op.left == 0:
			continue
		case anyPath && op.path == to:
			continue
		case !anyPath && op.path != from:
			continue
		}
		o.onPath[op.path]--
		if o.onPath[op.path] == 0 && !slices.Contains(emptied, op.path) {
			emptied = append(emptied, op.path)
		}
		for _, t := range op.tsns {
			if o.byTSN[t] == op {
				o.noteLost(t, op.path)
			}
		}
		op.path, op.sentAt, op.rtx = to, now, true
		o.onPath[to]++
		if op.copied {
			wire.SetChecksum(op.pkt)
			op.copied = false
		}
		out = append(out, op.pkt)
	}
	return out, emptied
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
			out = appendPadded(out, it.Raw())
		}
	}
	return out
}

// heartbeatInfo is the stack's Heartbeat Info (RFC 9260 section 3.3.5: the
// sender's own, opaque to the peer): the 64-bit nonce of section 5.4, the
// send time, and the destination address the heartbeat went to.
func heartbeatInfo(nonce uint64, sent time.Time, to netip.Addr) []byte {
	b := make([]byte, 0, 8+8+1+16)
	b = binary.BigEndian.AppendUint64(b, nonce)
	b = binary.BigEndian.AppendUint64(b, uint64(sent.UnixNano()))
	a := to.AsSlice()
	b = append(b, byte(len(a)))
	return append(b, a...)
}

func parseHeartbeatInfo(b []byte) (nonce uint64, sent time.Time, to netip.Addr, ok bool) {
	if len(b) < 17 || len(b) != 17+int(b[16]) {
		return 0, time.Time{}, netip.Addr{}, false
	}
	to, ok = netip.AddrFromSlice(b[17:])
	return binary.BigEndian.Uint64(b), time.Unix(0, int64(binary.BigEndian.Uint64(b[8:]))), to, ok
}

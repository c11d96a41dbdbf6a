package sock

import (
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/usock/usock/internal/wire"
)

// Sent messages and what became of them: EventSendFailed and
// EventSenderDry.
//
// pion reports neither which messages it acknowledged nor which it
// abandoned (PR-SCTP, RFC 3758): Stream.BufferedAmount falls when pion
// releases a message's bytes (Stream.onBufferReleased, called from
// Association.processSelectiveAck), and it does so alike for the
// acknowledged and, once the peer's SACK passed the FORWARD-TSN, the
// abandoned. The stack sees more than that: every DATA chunk pion writes
// passes the shim (Association.output) with its TSN, stream, U, B and E
// bits, every SACK passes the shim before pion reads it, and every
// FORWARD-TSN pion writes says which TSNs it gave up. The tracker ties each
// message Send hands pion to the TSNs pion gives it and follows those TSNs:
//
//   - Binding. Per stream, pion sends ordered messages in the order of their
//     writes and unordered ones in the order of theirs (its pending queue
//     keeps one FIFO of ordered and one of unordered chunks, in write order,
//     and never interleaves a message's fragments with another's: without
//     I-DATA a message has consecutive TSNs, RFC 9260 section 6.9). Send
//     writes a stream's messages one at a time (stream.lock). So the first
//     DATA chunk with a new TSN and the B bit on stream s, ordered or not,
//     is the oldest message of Send on s with that ordering that has no TSN
//     yet; the chunks after it up to the one with the E bit are its
//     fragments.
//   - Acknowledged: a SACK (or a SHUTDOWN's Cumulative TSN Ack, RFC 9260
//     section 9.2) whose cumulative ack covers the message's last TSN. The
//     message is forgotten.
//   - Abandoned: a FORWARD-TSN whose New Cumulative TSN covers the message
//     while no SACK had acknowledged it: pion moves its Advanced.Peer.Ack.
//     Point only over abandoned chunks (RFC 3758 section 3.5 C2), whole
//     messages. EventSendFailed, unless every TSN of the message was
//     acknowledged by Gap Ack Blocks: the peer holds it whole and delivers
//     it (RFC 3758 section 3.6), so it is taken as delivered.
//   - Still held when the association goes down (abort by either side,
//     communication lost, peer restart, a shutdown that timed out):
//     EventSendFailed for each, those pion transmitted first (in TSN order)
//     then those it never did.
//
// It is apart from path management's record of outstanding DATA
// (outstanding.go), which keeps packets by path to time and re-send them,
// forgets what pion retransmits and knows no messages.
//
// The tracker holds what pion's send buffer holds and no more: a record per
// message from its Send until acknowledged, abandoned or reported, with a
// copy of its payload (the kernel keeps the data too, to return it in
// SCTP_SEND_FAILED_EVENT). pion holds at most one write that has not gone
// out (Send blocks until pion's pending queue drains) plus what is in
// flight, so the records double the memory of unacknowledged data.
//
// Owner: the Association (Association.tx). Its lock mu is entered by
// Send (queue, sendDone), pion's write loop (dataOut, through output),
// the receive path (acked), finish (down) and the establishment (up); it
// never calls pion nor takes another lock but the counters' while held.
type sendTracker struct {
	mu sync.Mutex
	// queued are the messages without a TSN yet, by streamKey, in the
	// order of their Sends; nQueued counts them.
	queued  smallMap[uint32, []*sendRecord]
	nQueued int
	started bool // init ran
	// flight are the messages with TSNs, in TSN order; open is the last of
	// them while its last fragment is still to come.
	flight []*sendRecord
	open   *sendRecord
	// highest is the highest TSN sent, cum the highest cumulative TSN ack
	// seen: equal when everything sent is acknowledged.
	highest, cum uint32
	dry          bool   // the last EventSenderDry state: true until a message is queued
	closed       bool   // down: records are reported, no new ones are kept
	why          string // once closed: why the association went down (downReason)
}

// sendRecord is one message Send handed to pion.
type sendRecord struct {
	stream        uint16
	unordered     bool
	ppid, context uint32
	payload       []byte
	// inSend: Send has not returned yet; on an association going down
	// meanwhile, Send reports the message itself if pion took it.
	inSend bool
	// first and last are its TSNs once bound (ended: last is known);
	// gapAcked: every TSN of it was in one Gap Ack Block.
	first, last     uint32
	ended, gapAcked bool
	reported        bool // its EventSendFailed is raised
}

func streamKey(stream uint16, unordered bool) uint32 {
	k := uint32(stream) << 1
	if unordered {
		k |= 1
	}
	return k
}

// init starts the tracker with pion's initial TSN.
func (t *sendTracker) init(initialTSN uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.highest, t.cum = initialTSN-1, initialTSN-1
	t.dry = true
	t.started = true
}

// queue records a message Send is about to write to pion, with a copy of
// payload; nil once the association is down.
func (t *sendTracker) queue(payload []byte, info SendInfo) *sendRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || !t.started {
		return nil
	}
	r := &sendRecord{stream: info.Stream, unordered: info.Unordered, ppid: info.PPID, context: info.Context,
		payload: append([]byte(nil), payload...), inSend: true}
	k := streamKey(info.Stream, info.Unordered)
	q, _ := t.queued.get(k)
	t.queued.set(k, append(q, r))
	t.nQueued++
	t.dry = false
	return r
}

// sendDone ends Send's hold on r: taken says whether pion took the
// message. A message pion did not take is forgotten (Send returns the
// error); one it took after the association went down is reported now.
func (t *sendTracker) sendDone(a *Association, r *sendRecord, taken bool) {
	if r == nil {
		return
	}
	t.mu.Lock()
	r.inSend = false
	var evs []Event
	switch {
	case !taken:
		t.unqueueLocked(r)
		evs = t.dryLocked(a)
	case t.closed && !r.reported:
		// Queued when down ran: not bound, so pion did not send it.
		evs = append(evs, a.sendFailed(r, downDetail("unsent", t.why)))
	}
	t.mu.Unlock()
	a.pushEvents(evs)
}

func (t *sendTracker) unqueueLocked(r *sendRecord) {
	k := streamKey(r.stream, r.unordered)
	q, _ := t.queued.get(k)
	if i := slices.Index(q, r); i >= 0 {
		q = slices.Delete(q, i, i+1)
		t.nQueued--
		if len(q) == 0 {
			t.queued.del(k)
		} else {
			t.queued.set(k, q)
		}
	}
}

// dataOut follows a packet pion wrote: its new DATA chunks bind queued
// messages to TSNs, a FORWARD-TSN abandons messages.
func (t *sendTracker) dataOut(a *Association, pkt []byte) {
	const flagEnd, flagBegin, flagU = 0x01, 0x02, 0x04
	var evs []Event
	t.mu.Lock()
	if t.closed || !t.started {
		t.mu.Unlock()
		return
	}
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	for it.Next() {
		c := it.Chunk()
		switch c.Type {
		case wire.ChunkData:
			tsn, ok := wire.PeekDataTSN(c)
			if !ok || serialLE(tsn, t.highest) {
				continue // a retransmission
			}
			t.highest = tsn
			sid, _ := wire.PeekDataStream(c)
			if c.Flags&flagBegin != 0 {
				if r := t.open; r != nil {
					// A message's fragments have consecutive TSNs: one
					// that did not end does at the TSN before.
					r.last, r.ended = tsn-1, true
					t.open = nil
				}
				k := streamKey(sid, c.Flags&flagU != 0)
				q, _ := t.queued.get(k)
				if len(q) == 0 {
					continue // not a message of Send's: cannot happen
				}
				r := q[0]
				q[0] = nil
				if len(q) == 1 {
					t.queued.set(k, keepSmall(q))
				} else {
					t.queued.set(k, q[1:])
				}
				t.nQueued--
				r.first = tsn
				t.flight = append(t.flight, r)
				t.open = r
			}
			if r := t.open; r != nil && r.stream == sid && c.Flags&flagEnd != 0 {
				r.last, r.ended = tsn, true
				t.open = nil
			}
		case wire.ChunkForwardTSN:
			if len(c.Value) < 4 {
				continue
			}
			evs = t.abandonLocked(a, uint32(c.Value[0])<<24|uint32(c.Value[1])<<16|uint32(c.Value[2])<<8|uint32(c.Value[3]), evs)
		}
	}
	t.mu.Unlock()
	a.pushEvents(evs)
}

// abandonLocked applies a FORWARD-TSN pion sends with New Cumulative TSN
// newCum (RFC 3758 section 3.5): the messages it skips were abandoned.
func (t *sendTracker) abandonLocked(a *Association, newCum uint32, evs []Event) []Event {
	n := 0
	for _, r := range t.flight {
		if !serialLE(r.first, newCum) {
			break
		}
		n++
		if r == t.open {
			t.open = nil
		}
		if r.ended && r.gapAcked {
			continue // the peer holds it whole: delivered
		}
		evs = append(evs, a.sendFailed(r, "abandoned (PR-SCTP)"))
	}
	t.retireLocked(n)
	return evs
}

// retireLocked forgets the first n messages in flight.
func (t *sendTracker) retireLocked(n int) {
	if n == 0 {
		return
	}
	clear(t.flight[:n])
	if n == len(t.flight) {
		t.flight = keepSmall(t.flight)
	} else {
		t.flight = t.flight[n:]
	}
}

// keptRecords is the largest backing array of records a drained queue
// keeps for the next message: one message at a time (a request and its
// answer) then allocates no new one, and an idle association holds at
// most this many pointers per queue.
const keptRecords = 8

// keepSmall returns the drained queue q (its elements cleared) emptied
// with its backing array when that is small, else nil, letting a burst's
// array go.
func keepSmall(q []*sendRecord) []*sendRecord {
	if cap(q) > keptRecords {
		return nil
	}
	return q[:0]
}

// acked applies the Cumulative TSN Ack and the Gap Ack Blocks (none for a
// SHUTDOWN) of a SACK the shim let through (sackArrived checked it) or of a
// SHUTDOWN (RFC 9260 sections 3.3.4 and 3.3.8). An old one (cumulative ack
// below the last seen) changes nothing, as pion drops it; one beyond the
// highest TSN sent too (a SACK like that aborts the association first).
func (t *sendTracker) acked(a *Association, cum uint32, v *wire.SackView) {
	t.mu.Lock()
	if t.closed || !t.started || !serialLE(t.cum, cum) || !serialLE(cum, t.highest) {
		t.mu.Unlock()
		return
	}
	t.cum = cum
	n := 0
	for _, r := range t.flight {
		if !r.ended || !serialLE(r.last, cum) {
			break
		}
		n++
	}
	t.retireLocked(n)
	if v != nil {
		// RFC 9260 section 3.3.4: the blocks are in increasing order and
		// do not overlap. One that does not follow the one before marks
		// nothing, so that a SACK visits each message once at most,
		// whatever a peer puts in it.
		prev := uint16(0)
		for i := range v.NumGapBlocks() {
			s, e := v.GapBlock(i)
			if s == 0 || e < s || s <= prev {
				continue // malformed or out of order: acknowledges nothing here
			}
			prev = e
			lo, hi := cum+uint32(s), cum+uint32(e)
			j := sort.Search(len(t.flight), func(j int) bool { return serialLE(lo, t.flight[j].first) })
			for ; j < len(t.flight) && t.flight[j].ended && serialLE(t.flight[j].last, hi); j++ {
				t.flight[j].gapAcked = true
			}
		}
	}
	evs := t.dryLocked(a)
	t.mu.Unlock()
	a.pushEvents(evs)
}

// dryLocked returns EventSenderDry on the transition to dry: nothing
// queued, nothing in flight, everything sent cumulatively acknowledged.
func (t *sendTracker) dryLocked(a *Association) []Event {
	if t.dry || t.closed || t.nQueued > 0 || len(t.flight) > 0 || t.cum != t.highest {
		return nil
	}
	t.dry = true
	if !a.ep.cfg.senderDry {
		return nil
	}
	return []Event{{Type: EventSenderDry, Association: a}}
}

// up returns the EventSenderDry of an association just established, for
// an endpoint that asked for them (RFC 6458 section 6.1.9: at
// subscription, when nothing is outstanding).
func (t *sendTracker) up(a *Association) []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !a.ep.cfg.senderDry || !t.dry || t.closed {
		return nil
	}
	return []Event{{Type: EventSenderDry, Association: a}}
}

// down closes the tracker as the association goes down and returns an
// EventSendFailed for each message still held: in flight, in TSN order,
// then those never sent, stream by stream in the order of their Sends.
// A message whose Send has not returned is Send's to report.
func (t *sendTracker) down(a *Association) []Event {
	reason := a.downReason()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed, t.why = true, reason
	var evs []Event
	for _, r := range t.flight {
		evs = append(evs, a.sendFailed(r, downDetail("unacknowledged", reason)))
	}
	t.flight, t.open = nil, nil
	keys := t.queued.keys()
	slices.Sort(keys)
	for _, k := range keys {
		q, _ := t.queued.get(k)
		for _, r := range q {
			if !r.inSend {
				evs = append(evs, a.sendFailed(r, downDetail("unsent", reason)))
			}
		}
	}
	t.queued, t.nQueued = smallMap[uint32, []*sendRecord]{}, 0
	return evs
}

// sendFailed is the EventSendFailed of r. The caller holds t.mu.
func (a *Association) sendFailed(r *sendRecord, detail string) Event {
	r.reported = true
	a.count(&a.stats.sendFailed)
	return Event{Type: EventSendFailed, Association: a, Stream: r.stream, PPID: r.ppid, Context: r.context,
		Payload: r.payload, Detail: detail}
}

// downDetail is the Detail of a message's EventSendFailed when the
// association went down: what became of it ("unsent": pion never
// transmitted it; "unacknowledged": transmitted, the peer may have it)
// and why the association went down.
func downDetail(what, reason string) string {
	return fmt.Sprintf("%s: association down (%s)", what, reason)
}

// downReason says why the association went down, for downDetail: its
// DownReason and the detail of its EventDown.
func (a *Association) downReason() string {
	ce := a.life.err()
	if ce == nil {
		return ReasonNone.String()
	}
	if ce.Detail == "" {
		return ce.Reason.String()
	}
	return ce.Reason.String() + ": " + ce.Detail
}

func (a *Association) pushEvents(evs []Event) {
	for _, ev := range evs {
		a.ep.raise(ev)
	}
}

package sock

import (
	"encoding/binary"
	"sync"

	"github.com/usock/usock/internal/wire"
)

// The receive side of the shim: what inbound DATA pion may hold.
//
// pion enforces no window of its own against a peer that ignores it
// (Association.acceptPayloadData takes any TSN below the highest received
// when its buffer is full), does not check the size of a message it
// reassembles, never reports duplicate TSNs (receivePayloadQueue.canPush
// refuses them before push records them) and gives every new stream
// identifier a stream. So the shim decides, chunk by chunk and before pion
// sees the packet, which DATA pion gets:
//
//   - pion's buffer is the advertised window plus rxReserve; the shim
//     takes rxReserve off the a_rwnd of every SACK pion writes, so the
//     peer sees our window, and pion, never full, takes every chunk the
//     shim hands it. The held bytes pion reports in each SACK are exact.
//   - the shim hands pion a new chunk only if the bytes pion held at its
//     last SACK, plus those handed since that the SACK does not show yet,
//     plus the chunk fit the window; a chunk that does not fit still goes
//     in when it is the only one in flight (a zero-window probe, RFC 9260
//     section 6.1 rule A) or fills the cumulative TSN gap, up to the
//     reserve. Anything else is dropped and replaced by a duplicate of the
//     cumulative TSN with the I bit, so that pion sends the SACK section
//     6.2 asks for.
//   - fragments of a message have consecutive TSNs (section 6.9), so the
//     shim counts a message's bytes in TSN order as its chunks become
//     contiguous, and aborts the association past the maximum message
//     size instead of letting the message fill the window for good.
//   - duplicates are listed in the next SACK pion writes.
//   - a DATA chunk too large for pion to read goes to it with a marker in
//     place of its data, which the tracker stashes and the stream's reader
//     puts back (rxlarge.go); the window counts the stashed data.
//   - pion's memory per chunk held (some 250 bytes of heap, a
//     chunkPayloadData and its place in the reassembly queue) does not
//     depend on the chunk's size, so the window charges every chunk pion
//     holds at least rxChunkCost bytes: a chunk of size bytes costs
//     max(size, rxChunkCost). The chunks pion holds are then at most
//     rxChunkBudget(window). The charge beyond the bytes (extra) of an E
//     chunk is returned when a reader reads a message of its stream (each
//     message read took one E chunk out of pion); that of the non-final
//     chunks of a message complete in TSN order when no E chunk of its
//     stream is left in pion (each one read: then the whole message was
//     read too, see readDone); what remains (fragments of messages that
//     cannot complete) when pion holds nothing at all. Compliant peers
//     fragment at the path MTU, so only their messages of less than
//     rxChunkCost bytes pay a charge, returned when they are read.

const (
	// pionReadSize is the largest packet pion reads (its receiveMTU, the
	// buffer of Association.readLoop); the shim splits larger ones at chunk
	// boundaries, which pion would cut short.
	pionReadSize = 8192
	// rxReserve is pion's buffer beyond the advertised window: one
	// packet.
	rxReserve = pionReadSize
	// rxTSNRange is how far above the cumulative TSN the shim takes DATA:
	// pion's smallest TSN range (its minTSNOffset, 2000, rounded up to 64),
	// so pion never refuses a TSN the shim handed it.
	rxTSNRange = 2048
	// maxReportedDups bounds the duplicate TSNs kept for the next SACK.
	maxReportedDups = 32
	// rxChunkCost is the least a chunk pion holds costs in the window.
	rxChunkCost = 256
	// sinkStream is the stream of pion's that DATA on an invalid stream
	// identifier goes to (rewritten as a one-byte unordered message): it is
	// invalid whatever the negotiated count, which is at most 65535.
	sinkStream = 0xffff
)

// fitsEngine reports whether a chunk of n bytes (unpadded; its padding
// counted as the most it can be, 3) fits a packet for pion that holds used
// bytes so far.
func fitsEngine(used, n int) bool { return used+n+3 <= pionReadSize }

type rxVerdict int

const (
	rxAccept     rxVerdict = iota // hand the chunk to pion
	rxDuplicate                   // pion has it (or had it): hand it on, it is acknowledged again
	rxOverWindow                  // beyond the window: drop it, make pion send a SACK
	rxOversized                   // its message exceeds the maximum message size: abort
)

// rxChunkBudget is the most chunks pion holds with the given window: the
// window and the reserve at rxChunkCost a chunk.
func rxChunkBudget(window int) int { return (window + rxReserve) / rxChunkCost }

// rxExtra is what a chunk of size bytes costs beyond its bytes.
func rxExtra(size int) int { return max(0, rxChunkCost-size) }

// Ring entry flags: the chunk's E, B and U flags, as in the DATA chunk
// (RFC 9260 section 3.3.1), and the entry is in use.
const (
	rxEntryEnd       = 0x01
	rxEntryBegin     = 0x02
	rxEntryUnordered = 0x04
	rxEntryPresent   = 0x80
)

// rxEntry is a chunk handed to pion, as the tracker counts it.
type rxEntry struct {
	size   uint16 // as the window counts it: the chunk's user data, stashed or not
	stream uint16
	ssn    uint16
	flags  uint8
}

var rxRingPool = sync.Pool{New: func() any { r := make([]rxEntry, rxTSNRange); return &r }}

// rxEnds is, for one stream, what pion holds of it that the tracker
// returns the charge of as messages are read.
type rxEnds struct {
	count int // E chunks handed less messages read
	extra int // their charge beyond their bytes, less what reads returned
	frags int // the charge of the non-final chunks of its messages complete in TSN order
}

// rxOpen is the message in progress at base, in TSN order.
type rxOpen struct {
	active    bool
	unordered bool
	stream    uint16
	ssn       uint16
	extra     int // the charge of its chunks so far
}

type rxHanded struct {
	tsn  uint32
	size int
}

// rxTracker is the per-association state of the rules above. All methods
// are safe for concurrent use (the receive path and pion's writer).
type rxTracker struct {
	mu sync.Mutex

	window     int // the advertised receive window
	maxMessage int

	// From the latest SACK pion wrote: its Cumulative TSN Ack and the
	// bytes pion held then (its buffer less its a_rwnd).
	cum  uint32
	held int
	// Chunks handed to pion that the latest SACK does not show yet, and
	// their bytes.
	unshown []rxHanded
	pending int

	// The shim's own view in TSN order: every TSN up to base was handed to
	// pion (or is behind pion's cumulative TSN); ring holds the chunks
	// handed above base (nil when there are none), above counts them.
	base  uint32
	ring  *[]rxEntry
	above int
	// msgBytes counts the message in progress at base, msgCost its cost
	// in the window.
	msgBytes int
	msgCost  int
	open     rxOpen

	// extra is the charge beyond their bytes of the chunks pion may
	// still hold (see rxChunkCost); ends the part of it per stream that
	// reads return; reading counts the reads under way.
	extra   int
	ends    smallMap[uint16, rxEnds]
	reading int
	// recent is the size of the chunks the peer sends, for the advertised
	// window (see sacked): the smallest taken since the latest SACK, or
	// twice the previous figure if that is less, at most rxChunkCost;
	// smallest the smallest since the latest SACK (0: none).
	recent, smallest int

	// large is the stash of the chunks too large for pion (see rxLarge).
	large rxLarge

	// dups are the duplicate TSNs for the next SACK, at most
	// maxReportedDups; its array is made at the first duplicate.
	dups []uint32

	// The window update (see windowUpdate): the a_rwnd of the latest SACK
	// pion wrote, the bytes readers took out of pion since, and whether
	// an update was asked for since.
	lastArwnd  uint32
	readSince  int
	updateSent bool
}

func (r *rxTracker) init(cum uint32, window, maxMessage int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cum, r.base = cum, cum
	r.window, r.maxMessage = window, maxMessage
	r.recent = rxChunkCost
	r.lastArwnd = uint32(window)
}

// admit decides what becomes of a DATA chunk with TSN tsn and size bytes
// of user data (as pion will hold it), e its stream, Stream Sequence
// Number and B, E and U flags.
// It returns the latest cumulative TSN pion acknowledged (for the SACK
// probe of a drop) and, for rxOversized, the message's bytes so far.
func (r *rxTracker) admit(tsn uint32, size int, e rxEntry) (v rxVerdict, cum uint32, msgBytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.admitLocked(tsn, size, e, nil)
}

// admitLarge is admit for a DATA chunk too large for pion (see
// rxLarge), with its user data, which the tracker stashes when the chunk
// is accepted. It appends to dst what pion gets instead of the chunk raw:
// the chunk with a marker for its data, for rxAccept and rxDuplicate (with
// the I bit, so that pion answers the duplicate at once).
func (r *rxTracker) admitLarge(dst, raw []byte, tsn uint32, data []byte, e rxEntry) (out []byte, v rxVerdict, cum uint32, msgBytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, cum, msgBytes = r.admitLocked(tsn, len(data), e, data)
	switch v {
	case rxAccept, rxDuplicate:
		dst = r.large.appendLargeData(dst, raw, tsn, v == rxDuplicate)
	}
	return dst, v, cum, msgBytes
}

// splice puts the stashed data of the chunks too large for pion back into
// msg, a message a reader took out of pion (between readStarted and
// readDone).
func (r *rxTracker) splice(msg []byte) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.large.splice(msg)
}

func (r *rxTracker) admitLocked(tsn uint32, size int, e rxEntry, large []byte) (v rxVerdict, cum uint32, msgBytes int) {
	if serialLE(tsn, r.base) || r.hasLocked(tsn) {
		// RFC 9260 section 3.3.4: "Every time a receiver gets a duplicate
		// TSN (before sending the SACK chunk), it adds it to the list of
		// duplicates."
		if len(r.dups) < maxReportedDups {
			if r.dups == nil {
				r.dups = make([]uint32, 0, maxReportedDups)
			}
			r.dups = append(r.dups, tsn)
		}
		return rxDuplicate, r.cum, 0
	}
	if !serialLE(tsn, r.cum+rxTSNRange) {
		return rxOverWindow, r.cum, 0
	}
	// RFC 9260 section 6.2: "When the receiver's advertised window is 0,
	// the receiver MUST drop any new incoming DATA chunk with a TSN larger
	// than the largest TSN received so far. If the new incoming DATA chunk
	// holds a TSN value less than the largest TSN received so far, then the
	// receiver SHOULD drop the largest TSN held for reordering and accept
	// the new incoming DATA chunk." pion cannot drop what it holds, so the
	// shim keeps a reserve of one packet for the one chunk in flight at a
	// time (section 6.1 rule A) and for the chunk that fills the gap at the
	// cumulative TSN, without which nothing held could ever be delivered.
	//
	// Every chunk costs at least rxChunkCost (see above). A message whose
	// chunks cost more than the window and the reserve could never be
	// taken whole: it aborts (as countLocked decides) rather than being
	// dropped for good.
	held, cost := r.held+r.pending+r.extra+r.large.held(), max(size, rxChunkCost)
	if tsn == r.base+1 && r.continuesLocked(e) && r.msgCost+cost > r.window+rxReserve {
		return rxOversized, r.cum, r.msgBytes
	}
	if held+cost > r.window {
		exempt := r.pending == 0 || tsn == r.cum+1
		if !exempt || held+cost > r.window+rxReserve {
			return rxOverWindow, r.cum, 0
		}
	}
	handed := size // what pion holds of it: a stashed chunk's marker
	if large != nil {
		r.large.put(tsn, large)
		handed = largeMarkerSize
	}
	r.unshown = append(r.unshown, rxHanded{tsn: tsn, size: handed})
	r.pending += handed
	r.extra += rxExtra(size)
	if r.smallest == 0 || size < r.smallest {
		r.smallest = size
	}
	if e.flags&rxEntryEnd != 0 {
		s, _ := r.ends.get(e.stream)
		s.count++
		s.extra += rxExtra(size)
		r.ends.set(e.stream, s)
	}
	e.size = uint16(size)
	e.flags |= rxEntryPresent
	if tsn != r.base+1 {
		if r.ring == nil {
			r.ring = rxRingPool.Get().(*[]rxEntry)
		}
		(*r.ring)[tsn%rxTSNRange] = e
		r.above++
		return rxAccept, r.cum, 0
	}
	r.base = tsn
	if !r.countLocked(e) {
		return rxOversized, r.cum, r.msgBytes
	}
	if !r.advanceLocked(true) {
		return rxOversized, r.cum, r.msgBytes
	}
	return rxAccept, r.cum, 0
}

func (r *rxTracker) hasLocked(tsn uint32) bool {
	return r.ring != nil && !serialLE(tsn, r.base) && serialLE(tsn, r.base+rxTSNRange) &&
		(*r.ring)[tsn%rxTSNRange].flags&rxEntryPresent != 0
}

// continuesLocked reports whether chunk e, at base+1, continues the
// message in progress (see countLocked).
func (r *rxTracker) continuesLocked(e rxEntry) bool {
	o := &r.open
	unordered := e.flags&rxEntryUnordered != 0
	return e.flags&rxEntryBegin == 0 && o.active && e.stream == o.stream && unordered == o.unordered &&
		(unordered || e.ssn == o.ssn)
}

// countLocked adds chunk e at base to the message in progress; false when
// the message exceeds the maximum size, or costs more than the window and
// the reserve can ever hold (fragments far smaller than rxChunkCost).
//
// A message is complete in TSN order, as pion reassembles it, when its
// chunks from a B to an E have consecutive TSNs (RFC 9260 section 6.9:
// "the TSNs for each fragment of a fragmented user message MUST be
// strictly sequential"), the same stream, the same U flag and, ordered,
// the same Stream Sequence Number. The charge of the non-final chunks of
// a complete message goes to its stream (rxEnds.frags); that of a message
// that cannot complete any more stays until pion holds nothing.
func (r *rxTracker) countLocked(e rxEntry) bool {
	size := int(e.size)
	begin, end := e.flags&rxEntryBegin != 0, e.flags&rxEntryEnd != 0
	unordered := e.flags&rxEntryUnordered != 0
	o := &r.open
	if !r.continuesLocked(e) {
		o.active = false
	}
	if begin {
		r.msgBytes, r.msgCost = 0, 0
		*o = rxOpen{active: true, unordered: unordered, stream: e.stream, ssn: e.ssn}
	}
	r.msgBytes += size
	r.msgCost += max(size, rxChunkCost)
	if r.msgBytes > r.maxMessage || r.msgCost > r.window+rxReserve {
		return false
	}
	if !end {
		if o.active {
			o.extra += rxExtra(size)
		}
		return true
	}
	r.msgBytes, r.msgCost = 0, 0
	if o.active {
		if s, ok := r.ends.get(e.stream); ok && s.count > 0 {
			s.frags += o.extra
			r.ends.set(e.stream, s)
		} else {
			// Read already (an unordered message pion delivered above
			// the cumulative TSN): pion holds none of it.
			r.extra -= o.extra
		}
		o.active = false
	}
	return true
}

// advanceLocked moves base over the chunks held contiguously above it,
// counting their messages if count; false when one exceeds the maximum
// size.
func (r *rxTracker) advanceLocked(count bool) bool {
	for r.ring != nil {
		i := (r.base + 1) % rxTSNRange
		e := (*r.ring)[i]
		if e.flags&rxEntryPresent == 0 {
			break
		}
		(*r.ring)[i] = rxEntry{}
		r.above--
		r.base++
		if r.above == 0 {
			rxRingPool.Put(r.ring)
			r.ring = nil
		}
		if count && !r.countLocked(e) {
			return false
		}
	}
	return true
}

// sacked takes a SACK pion wrote: its cumulative TSN and a_rwnd, with
// pion's buffer pionBuffer. It returns the a_rwnd the peer gets (pion's
// less the reserve) and copies into dups the duplicates to add to it
// (their count).
func (r *rxTracker) sacked(s wire.SackView, pionBuffer int, dups []uint32) (arwnd uint32, ndups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cum, pionRwnd := s.CumTSNAck(), int(s.ARwnd())
	r.cum = cum
	r.held = max(0, pionBuffer-pionRwnd)
	kept, pending := r.unshown[:0], 0
	for _, h := range r.unshown {
		if !serialLE(h.tsn, cum) && !inGapBlocks(s, cum, h.tsn) {
			kept = append(kept, h)
			pending += h.size
		}
	}
	r.unshown, r.pending = kept, pending
	if len(kept) == 0 && cap(kept) > 256 {
		r.unshown = nil // let a burst's list go
	}
	if !serialLE(cum, r.base) {
		// pion's cumulative TSN passed ours: the peer abandoned DATA
		// (FORWARD-TSN, RFC 3758). Forget what lies behind it.
		if r.ring != nil {
			for t := r.base + 1; serialLE(t, cum) && r.above > 0 && t-r.base <= rxTSNRange; t++ {
				if e := &(*r.ring)[t%rxTSNRange]; e.flags&rxEntryPresent != 0 {
					*e = rxEntry{}
					r.above--
				}
			}
			if r.above == 0 {
				rxRingPool.Put(r.ring)
				r.ring = nil
			}
		}
		r.base = cum
		r.msgBytes, r.msgCost = 0, 0
		r.open.active = false
		r.advanceLocked(false)
	}
	if r.held == 0 && len(r.unshown) == 0 && r.reading == 0 {
		// pion holds no chunk (each has a byte at least) and no read is
		// under way that could return a charge taken before now: nothing
		// is charged any more, whatever pion discarded on its own
		// (FORWARD-TSN, a stream reset, a repeated Stream Sequence Number),
		// and no marker of a stashed chunk can come out of pion.
		r.extra, r.open.extra = 0, 0
		r.ends.clear()
		r.large.clear()
	}
	ndups = copy(dups, r.dups)
	// "The duplicate count is reinitialized to zero after sending each
	// SACK chunk."
	r.dups = r.dups[:0]
	// The peer sees the window less the charge of the small chunks. The
	// peer counts the window in bytes (RFC 9260 section 6.2.1), so a peer
	// sending chunks of n < rxChunkCost bytes gets the window in bytes of
	// such chunks, n/rxChunkCost of it: it then sends what fits instead of
	// what would be dropped and retransmitted after its timer. A peer
	// that mixes small messages with large ones gets the window of the
	// small ones for a while (recent doubles back each SACK).
	if r.smallest > 0 {
		r.recent = max(1, min(r.smallest, 2*r.recent, rxChunkCost))
		r.smallest = 0
	}
	arwnd = uint32(max(0, pionRwnd-rxReserve-r.extra-r.large.held()))
	if r.recent < rxChunkCost {
		arwnd = uint32(uint64(arwnd) * uint64(r.recent) / rxChunkCost)
	}
	r.lastArwnd, r.readSince, r.updateSent = arwnd, 0, false
	return arwnd, ndups
}

// windowUpdate reports whether the peer should get a SACK now to see the
// window open again, and the cumulative TSN for the SACK probe that
// makes pion write it. pion writes a SACK only for DATA it receives, so
// a peer that saw our window closed learns that it opened only from its
// next zero window probe, after its retransmission timer, which backs
// off up to RTO.Max while the window stays closed (RFC 9260 section 6.1
// rule A): an application that reads again after a pause would wait up
// to a minute for data. RFC 9260 section 6.2 allows a SACK "to update the
// offered window as the receiving application consumes new data". One
// goes when the latest SACK offered less than a packet (packetSize) and
// readers took at least a packet's bytes (or half the window) out of
// pion since; at most one per SACK pion writes.
func (r *rxTracker) windowUpdate(packetSize int) (cum uint32, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.updateSent || r.lastArwnd >= uint32(packetSize) || r.readSince < min(packetSize, r.window/2) {
		return 0, false
	}
	r.updateSent = true
	return r.cum, true
}

// readStarted is called by a stream's reader before it takes a message
// out of pion, readDone after, with the stream and the message's size
// when it took one.
func (r *rxTracker) readStarted() {
	r.mu.Lock()
	r.reading++
	r.mu.Unlock()
}

// readDone: a message of size bytes read on stream took one E chunk out
// of pion, whose charge was at least rxExtra(size) (that of a one-chunk
// message exactly). Once as many messages were read on the stream as E
// chunks were handed, each read took exactly one E chunk, so every
// message that was complete in TSN order on the stream was read whole
// (pion delivers only chunks from a B to an E with consecutive TSNs), and
// the charge of their non-final chunks returns too. A message pion merged
// or discarded leaves the count above zero: the charge then stays until
// pion holds nothing, never returns early.
func (r *rxTracker) readDone(stream uint16, size int, took bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reading--
	if !took {
		return
	}
	r.readSince += size
	s, ok := r.ends.get(stream)
	if !ok {
		return
	}
	s.count--
	back := min(s.extra, rxExtra(size))
	s.extra -= back
	r.extra -= back
	if s.count <= 0 {
		r.extra -= s.extra + s.frags
		r.ends.del(stream)
		return
	}
	r.ends.set(stream, s)
}

// inGapBlocks reports whether tsn is in one of the SACK's Gap Ack Blocks.
func inGapBlocks(s wire.SackView, cum, tsn uint32) bool {
	off := tsn - cum
	for i := range s.NumGapBlocks() {
		start, end := s.GapBlock(i)
		if off >= uint32(start) && off <= uint32(end) {
			return true
		}
	}
	return false
}

// appendSinkData appends DATA chunk tsn rewritten as a one-byte unordered
// message on sinkStream, with the I bit of its flags: pion acknowledges
// its TSN as usual and the sink's reader discards it, so an invalid
// stream identifier costs no reader and one byte of pion's buffer until
// then.
func appendSinkData(dst []byte, tsn uint32, flags byte) []byte {
	const flagsUBE, flagI = 0x07, 0x08
	return appendOneByteData(dst, flagsUBE|flags&flagI, tsn)
}

// appendSackProbe appends a DATA chunk that pion takes for a duplicate
// (cum is at or below pion's cumulative TSN) with the I bit (RFC 7053),
// so that pion answers it with a SACK at once and holds nothing: what a
// dropped chunk is replaced with.
func appendSackProbe(dst []byte, cum uint32) []byte {
	const flagsIBE = 0x0b
	return appendOneByteData(dst, flagsIBE, cum)
}

func appendOneByteData(dst []byte, flags byte, tsn uint32) []byte {
	dst = append(dst, byte(wire.ChunkData), flags, 0, 17)
	dst = binary.BigEndian.AppendUint32(dst, tsn)
	// Stream Identifier, Stream Sequence Number 0, PPID 0, one byte of
	// user data, three of padding.
	return append(dst, sinkStream>>8, sinkStream&0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}

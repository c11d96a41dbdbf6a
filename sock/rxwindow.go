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

const (
	// pionReadSize is the largest packet pion reads (its receiveMTU, the
	// buffer of Association.readLoop); the shim drops larger ones, which
	// pion would cut short.
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
	// sinkStream is the stream of pion's that DATA on an invalid stream
	// identifier goes to (rewritten as a one-byte unordered message): it is
	// invalid whatever the negotiated count, which is at most 65535.
	sinkStream = 0xffff
)

type rxVerdict int

const (
	rxAccept     rxVerdict = iota // hand the chunk to pion
	rxDuplicate                   // pion has it (or had it): hand it on, it is acknowledged again
	rxOverWindow                  // beyond the window: drop it, make pion send a SACK
	rxOversized                   // its message exceeds the maximum message size: abort
)

// Ring entries: a chunk's user data size and its B and E flags.
const (
	rxEntryBegin   = 1 << 16
	rxEntryEnd     = 1 << 17
	rxEntryPresent = 1 << 18
)

var rxRingPool = sync.Pool{New: func() any { r := make([]uint32, rxTSNRange); return &r }}

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
	ring  *[]uint32
	above int
	// msgBytes counts the message in progress at base.
	msgBytes int

	dups  [maxReportedDups]uint32
	ndups int
}

func (r *rxTracker) init(cum uint32, window, maxMessage int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cum, r.base = cum, cum
	r.window, r.maxMessage = window, maxMessage
}

// admit decides what becomes of a DATA chunk with TSN tsn and size bytes
// of user data (as pion will hold it), begin and end its B and E flags.
// It returns the latest cumulative TSN pion acknowledged (for the SACK
// probe of a drop) and, for rxOversized, the message's bytes so far.
func (r *rxTracker) admit(tsn uint32, size int, begin, end bool) (v rxVerdict, cum uint32, msgBytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if serialLE(tsn, r.base) || r.hasLocked(tsn) {
		// RFC 9260 section 3.3.4: "Every time a receiver gets a duplicate
		// TSN (before sending the SACK chunk), it adds it to the list of
		// duplicates."
		if r.ndups < len(r.dups) {
			r.dups[r.ndups] = tsn
			r.ndups++
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
	held := r.held + r.pending
	if held+size > r.window {
		exempt := r.pending == 0 || tsn == r.cum+1
		if !exempt || held+size > r.window+rxReserve {
			return rxOverWindow, r.cum, 0
		}
	}
	r.unshown = append(r.unshown, rxHanded{tsn: tsn, size: size})
	r.pending += size
	if tsn != r.base+1 {
		if r.ring == nil {
			r.ring = rxRingPool.Get().(*[]uint32)
		}
		e := uint32(size) | rxEntryPresent
		if begin {
			e |= rxEntryBegin
		}
		if end {
			e |= rxEntryEnd
		}
		(*r.ring)[tsn%rxTSNRange] = e
		r.above++
		return rxAccept, r.cum, 0
	}
	r.base = tsn
	if !r.countLocked(size, begin, end) {
		return rxOversized, r.cum, r.msgBytes
	}
	if !r.advanceLocked(true) {
		return rxOversized, r.cum, r.msgBytes
	}
	return rxAccept, r.cum, 0
}

func (r *rxTracker) hasLocked(tsn uint32) bool {
	return r.ring != nil && !serialLE(tsn, r.base) && serialLE(tsn, r.base+rxTSNRange) &&
		(*r.ring)[tsn%rxTSNRange]&rxEntryPresent != 0
}

// countLocked adds a chunk at base to the message in progress; false when
// the message exceeds the maximum size.
func (r *rxTracker) countLocked(size int, begin, end bool) bool {
	if begin {
		r.msgBytes = 0
	}
	r.msgBytes += size
	if r.msgBytes > r.maxMessage {
		return false
	}
	if end {
		r.msgBytes = 0
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
		if e&rxEntryPresent == 0 {
			break
		}
		(*r.ring)[i] = 0
		r.above--
		r.base++
		if r.above == 0 {
			rxRingPool.Put(r.ring)
			r.ring = nil
		}
		if count && !r.countLocked(int(e&0xffff), e&rxEntryBegin != 0, e&rxEntryEnd != 0) {
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
				if e := &(*r.ring)[t%rxTSNRange]; *e&rxEntryPresent != 0 {
					*e = 0
					r.above--
				}
			}
			if r.above == 0 {
				rxRingPool.Put(r.ring)
				r.ring = nil
			}
		}
		r.base = cum
		r.msgBytes = 0
		r.advanceLocked(false)
	}
	ndups = copy(dups, r.dups[:r.ndups])
	// "The duplicate count is reinitialized to zero after sending each
	// SACK chunk."
	r.ndups = 0
	return uint32(max(0, pionRwnd-rxReserve)), ndups
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

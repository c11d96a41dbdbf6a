package sock

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"

	"github.com/usock/usock/internal/wire"
)

// DATA chunks larger than pion reads.
//
// pion reads at most pionReadSize bytes of a packet (the buffer of
// Association.readLoop, its receiveMTU) and cuts off the rest. The shim
// splits larger packets at chunk boundaries (Association.receive), but a
// single DATA chunk can be larger still: a peer fragments its messages at
// its path MTU (RFC 9260 section 6.9), and the Linux kernel on a 9000-byte
// or 65535-byte link sends DATA chunks of nearly that size. No parameter
// of the INIT tells a peer the largest packet we take (the path MTU is the
// sender's to find, section 7.3), and splitting such a chunk into two for
// pion would need TSNs the peer never sent.
//
// So pion gets the chunk with its user data replaced by a marker: a nonce
// of the association's that no peer ever sees, and the TSN. The tracker
// keeps the user data (the stash) until pion delivers the message that
// holds the marker; the stream's reader then puts the data back in its
// place (splice). pion acknowledges, orders and reassembles the chunk as
// any other; the window counts the data the stash holds (rxTracker.sacked),
// so the stash is bounded by the receive window like pion's own buffer.
// A message pion never delivers (its fragments abandoned by a FORWARD-TSN)
// leaves its data stashed until pion holds nothing at all, when no marker
// can come out of pion any more and the stash is emptied.

const (
	// largeNonceSize is the size of the marker's nonce: 128 random bits,
	// so that user data never holds it by chance.
	largeNonceSize = 16
	// largeMarkerSize is the user data of the chunk pion gets instead:
	// the nonce and the TSN.
	largeMarkerSize = largeNonceSize + 4
	// largeChunkSize is that chunk's size: the DATA chunk's fixed fields
	// (RFC 9260 section 3.3.1) and the marker, a multiple of 4.
	largeChunkSize = 16 + largeMarkerSize
)

// rxLarge is the stash of the user data of DATA chunks too large for
// pion, by TSN. It belongs to its rxTracker and is guarded by its mutex.
type rxLarge struct {
	nonce [largeNonceSize]byte // zero until the first chunk is stashed
	parts map[uint32][]byte
	// extra is what the stash holds beyond the markers pion holds in its
	// place: the bytes pion's a_rwnd does not count.
	extra int
}

// tooLargeForEngine reports whether DATA chunk raw (unpadded) alone makes
// a packet larger than pion reads.
func tooLargeForEngine(raw []byte) bool {
	return !fitsEngine(wire.CommonHeaderSize, len(raw))
}

// put stashes the user data of the chunk with TSN tsn (copied), unless it
// is stashed already (a retransmission pion had not taken yet).
func (l *rxLarge) put(tsn uint32, data []byte) {
	if _, ok := l.parts[tsn]; ok {
		return
	}
	if l.parts == nil {
		l.parts = make(map[uint32][]byte)
		if l.nonce == ([largeNonceSize]byte{}) {
			rand.Read(l.nonce[:]) // never fails (crypto/rand.Read)
		}
	}
	l.parts[tsn] = append([]byte(nil), data...)
	l.extra += len(data) - largeMarkerSize
}

// held is what the stash holds beyond the markers in pion: the bytes of
// the window that pion's a_rwnd does not count.
func (l *rxLarge) held() int { return l.extra }

// clear empties the stash: pion holds no chunk that could carry a marker.
func (l *rxLarge) clear() {
	l.parts, l.extra = nil, 0
}

// appendMarker appends the marker for TSN tsn.
func (l *rxLarge) appendMarker(dst []byte, tsn uint32) []byte {
	dst = append(dst, l.nonce[:]...)
	return binary.BigEndian.AppendUint32(dst, tsn)
}

// splice returns msg, a message pion delivered, with each marker in it
// replaced by the data stashed for it, and drops those from the stash.
// msg is returned as is when nothing is stashed.
func (l *rxLarge) splice(msg []byte) []byte {
	if len(l.parts) == 0 {
		return msg
	}
	var out []byte
	rest := msg
	for {
		i := bytes.Index(rest, l.nonce[:])
		if i < 0 || len(rest)-i < largeMarkerSize {
			break
		}
		tsn := binary.BigEndian.Uint32(rest[i+largeNonceSize:])
		data, ok := l.parts[tsn]
		if !ok {
			// Not a marker of ours: every chunk pion delivers with a
			// marker was stashed when it was handed to pion, and stays
			// until read (or until pion holds nothing). The nonce is in
			// the peer's data (a chance of 2^-128 per position).
			out = append(out, rest[:i+1]...)
			rest = rest[i+1:]
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(msg)+len(data)-largeMarkerSize)
		}
		out = append(out, rest[:i]...)
		out = append(out, data...)
		rest = rest[i+largeMarkerSize:]
		delete(l.parts, tsn)
		l.extra -= len(data) - largeMarkerSize
	}
	if out == nil {
		return msg
	}
	return append(out, rest...)
}

// appendLargeData appends DATA chunk raw (too large for pion, see above)
// with its user data replaced by the marker for its TSN, and the I bit
// set when setI.
func (l *rxLarge) appendLargeData(dst, raw []byte, tsn uint32, setI bool) []byte {
	const flagI = 0x08
	at := len(dst)
	dst = append(dst, raw[:16]...) // type, flags, length and the fixed fields
	binary.BigEndian.PutUint16(dst[at+2:], largeChunkSize)
	if setI {
		dst[at+1] |= flagI
	}
	return l.appendMarker(dst, tsn)
}

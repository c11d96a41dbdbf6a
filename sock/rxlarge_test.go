package sock

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// largeData is n bytes of a pattern that starts at seed.
func largeData(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// TestRxLargeStashAndSplice: a DATA chunk too large for pion goes to pion
// with a marker in place of its data; the window counts the stashed data;
// the message pion delivers gets the data back in place; a duplicate
// stashes nothing more.
func TestRxLargeStashAndSplice(t *testing.T) {
	const window = 1 << 20
	var r rxTracker
	r.init(999, window, window)
	first, second := largeData(10000, 1), largeData(30000, 2)
	chunkB := rawpeer.Data(1000, 0, 0, fragBegin, first)
	chunkE := rawpeer.Data(1001, 0, 0, fragEnd, second)
	require.True(t, tooLargeForEngine(chunkB))

	out, v, _, _ := r.admitLarge(nil, chunkB, 1000, first, entry(0, true, false))
	require.Equal(t, rxAccept, v)
	require.Len(t, out, largeChunkSize)
	require.Equal(t, chunkB[:4:4][0], out[0], "still a DATA chunk")
	require.Equal(t, uint16(largeChunkSize), binary.BigEndian.Uint16(out[2:]))
	require.Equal(t, chunkB[4:16], out[4:16], "TSN, stream, SSN and PPID as the peer sent them")
	out, v, _, _ = r.admitLarge(out, chunkE, 1001, second, entry(0, false, true))
	require.Equal(t, rxAccept, v)
	require.Len(t, out, 2*largeChunkSize)

	// pion holds the two markers; the peer sees the window less the whole
	// of both chunks.
	var dups [maxReportedDups]uint32
	arwnd, _ := r.sacked(pionSack(t, 1001, window+rxReserve-2*largeMarkerSize), window+rxReserve, dups[:])
	require.Equal(t, uint32(window-len(first)-len(second)), arwnd)

	// A retransmission of 1000: a duplicate with the I bit, nothing stashed.
	dup, v, _, _ := r.admitLarge(nil, chunkB, 1000, first, entry(0, true, false))
	require.Equal(t, rxDuplicate, v)
	require.Equal(t, byte(fragBegin|sackNow), dup[1])
	require.Len(t, r.large.parts, 2)

	// The message as pion delivers it: both markers, in TSN order.
	msg := append(append([]byte(nil), out[16:largeChunkSize]...), out[largeChunkSize+16:]...)
	r.readStarted()
	got := r.splice(msg)
	r.readDone(0, len(got), true)
	require.Equal(t, append(append([]byte(nil), first...), second...), got)
	require.Empty(t, r.large.parts)
	require.Zero(t, r.large.extra)
	arwnd, _ = r.sacked(pionSack(t, 1001, window+rxReserve), window+rxReserve, dups[:])
	require.Equal(t, uint32(window), arwnd, "the window is whole again once the message is read")
}

// TestRxLargeBoundedByWindow: stashed data counts against the window, so
// a peer cannot stash more than the window holds.
func TestRxLargeBoundedByWindow(t *testing.T) {
	const window = 50000
	var r rxTracker
	r.init(999, window, window)
	data := largeData(20000, 3)
	tsn := uint32(1000)
	for ; ; tsn++ {
		chunk := rawpeer.Data(tsn, 0, uint16(tsn), fragWhole, data)
		_, v, _, _ := r.admitLarge(nil, chunk, tsn, data, entry(0, true, true))
		if v != rxAccept {
			require.Equal(t, rxOverWindow, v)
			break
		}
	}
	require.Equal(t, uint32(1002), tsn, "two chunks of 20,000 bytes fit a window of 50,000, a third does not")
	require.LessOrEqual(t, r.large.extra+2*largeMarkerSize, window)
}

// TestRxLargeStashEmptiedWhenPionHoldsNothing: data stashed for a message
// pion never delivers (its chunks abandoned by FORWARD-TSN, RFC 3758) is
// let go once pion holds nothing, and the window opens again.
func TestRxLargeStashEmptiedWhenPionHoldsNothing(t *testing.T) {
	const window = 1 << 20
	var r rxTracker
	r.init(999, window, window)
	data := largeData(9000, 4)
	_, v, _, _ := r.admitLarge(nil, rawpeer.Data(1001, 0, 0, fragBegin, data), 1001, data, entry(0, true, false))
	require.Equal(t, rxAccept, v)
	var dups [maxReportedDups]uint32
	arwnd, _ := r.sacked(pionSack(t, 999, window+rxReserve-largeMarkerSize, wire.GapAckBlock{Start: 2, End: 2}), window+rxReserve, dups[:])
	require.Equal(t, uint32(window-len(data)), arwnd)
	// The peer abandoned 1000 and 1001; pion dropped the fragment.
	arwnd, _ = r.sacked(pionSack(t, 1001, window+rxReserve), window+rxReserve, dups[:])
	require.Equal(t, uint32(window), arwnd)
	require.Empty(t, r.large.parts)
}

// TestRxLargeSpliceLeavesOtherBytes: a message without markers comes back
// as it is, and bytes that hold the nonce but no stashed TSN stay.
func TestRxLargeSpliceLeavesOtherBytes(t *testing.T) {
	var l rxLarge
	plain := []byte("no marker here")
	require.Equal(t, plain, l.splice(plain))
	data := largeData(9000, 5)
	l.put(7, data)
	stray := l.appendMarker([]byte("a"), 8) // not stashed
	marker := l.appendMarker(nil, 7)
	msg := bytes.Join([][]byte{stray, marker, []byte("z")}, nil)
	got := l.splice(msg)
	require.Equal(t, bytes.Join([][]byte{stray, data, []byte("z")}, nil), got)
	require.Empty(t, l.parts)
}

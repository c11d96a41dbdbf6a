package sock

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
)

// entry is a chunk on stream with SSN 0, with the B and E flags given.
func entry(stream uint16, begin, end bool) rxEntry {
	e := rxEntry{stream: stream}
	if begin {
		e.flags |= rxEntryBegin
	}
	if end {
		e.flags |= rxEntryEnd
	}
	return e
}

func pionSack(t *testing.T, cum, arwnd uint32, gaps ...wire.GapAckBlock) wire.SackView {
	t.Helper()
	c := must(wire.AppendSack(nil, cum, arwnd, gaps, nil))
	v, err := wire.ParseSackView(c[wire.ChunkHeaderSize:])
	require.NoError(t, err)
	return v
}

// TestRxTrackerForwardTSN: when pion's cumulative TSN passes TSNs the
// shim never handed it (the peer abandoned them with FORWARD-TSN, RFC 3758
// section 3.6), the tracker forgets them and goes on from there, counting
// messages afresh.
func TestRxTrackerForwardTSN(t *testing.T) {
	const window = 1 << 20
	var r rxTracker
	r.init(999, window, 100)
	v, _, _ := r.admit(1003, 10, entry(0, true, false)) // above a gap: held out of order
	require.Equal(t, rxAccept, v)
	var dups [maxReportedDups]uint32
	// pion skipped 1000..1002 and took 1003.
	arwnd, n := r.sacked(pionSack(t, 1003, window+rxReserve-10), window+rxReserve, dups[:])
	require.Equal(t, uint32((window-10-rxExtra(10))*10/rxChunkCost), arwnd,
		"the peer sees our window, not pion's, less the charge of the small chunk, in bytes of such chunks")
	require.Zero(t, n)
	v, _, _ = r.admit(1002, 10, entry(0, true, true))
	require.Equal(t, rxDuplicate, v, "behind the cumulative TSN")
	v, _, _ = r.admit(1004, 50, entry(0, false, true))
	require.Equal(t, rxAccept, v, "the message that began at 1003 was forgotten with it")
	v, _, msg := r.admit(1005, 101, entry(0, true, true))
	require.Equal(t, rxOversized, v)
	require.Equal(t, 101, msg)
}

// TestRxTrackerWindow: new DATA beyond the window is refused unless it is
// the only chunk in flight or fills the cumulative TSN gap, and never
// beyond the reserve.
func TestRxTrackerWindow(t *testing.T) {
	const window = 4000
	var r rxTracker
	r.init(999, window, window)
	for tsn := uint32(1001); tsn <= 1004; tsn++ { // 1000 missing
		v, _, _ := r.admit(tsn, 1000, entry(0, true, true))
		require.Equal(t, rxAccept, v)
	}
	v, _, _ := r.admit(1005, 1000, entry(0, true, true))
	require.Equal(t, rxOverWindow, v, "four chunks in flight fill the window")
	var dups [maxReportedDups]uint32
	gap := wire.GapAckBlock{Start: 2, End: 5}
	arwnd, _ := r.sacked(pionSack(t, 999, window+rxReserve-4000, gap), window+rxReserve, dups[:])
	require.Zero(t, arwnd)
	v, _, _ = r.admit(1005, 1000, entry(0, true, true))
	require.Equal(t, rxAccept, v, "a zero-window probe: nothing else in flight")
	v, _, _ = r.admit(1006, 1000, entry(0, true, true))
	require.Equal(t, rxOverWindow, v, "one probe at a time")
	v, _, _ = r.admit(1000, 1000, entry(0, true, true))
	require.Equal(t, rxAccept, v, "the chunk at the cumulative TSN gap")
	v, _, _ = r.admit(1005, 1000, entry(0, true, true))
	require.Equal(t, rxDuplicate, v)
	_, n := r.sacked(pionSack(t, 1005, window+rxReserve-6000), window+rxReserve, dups[:])
	require.Equal(t, 1, n)
	require.Equal(t, uint32(1005), dups[0])
	v, _, _ = r.admit(1006, rxReserve, entry(0, true, true))
	require.Equal(t, rxOverWindow, v, "not beyond the reserve")
	v, _, _ = r.admit(1006+rxTSNRange, 1, entry(0, true, true))
	require.Equal(t, rxOverWindow, v, "beyond the TSN range")
}

// TestRxTrackerNoAllocation: in steady state (DATA in order, a SACK every
// other chunk) the tracker allocates nothing per chunk.
func TestRxTrackerNoAllocation(t *testing.T) {
	const window = 1 << 20
	var r rxTracker
	r.init(999, window, window)
	var dups [maxReportedDups]uint32
	sack := must(wire.AppendSack(nil, 0, window+rxReserve, nil, nil))
	value := sack[wire.ChunkHeaderSize:]
	tsn := uint32(1000)
	step := func() {
		for range 2 {
			if v, _, _ := r.admit(tsn, 1000, entry(0, true, true)); v != rxAccept {
				t.Fatalf("TSN %d: %v", tsn, v)
			}
			tsn++
		}
		binary.BigEndian.PutUint32(value, tsn-1)
		v, err := wire.ParseSackView(value)
		if err != nil {
			t.Fatal(err)
		}
		r.sacked(v, window+rxReserve, dups[:])
	}
	step() // the list of chunks handed gets its capacity
	require.Zero(t, testing.AllocsPerRun(100, step))
}

// TestRxTrackerChunkCharge: every chunk costs at least rxChunkCost in the
// window; the charge of a one-chunk message returns when it is read, that
// of a fragmented message once every message ended on its stream was
// read, the rest once pion holds nothing, and the peer sees the window
// less the charge.
func TestRxTrackerChunkCharge(t *testing.T) {
	const window, buffer = 4096, 4096 + rxReserve
	var r rxTracker
	r.init(999, window, window)
	var dups [maxReportedDups]uint32
	// sack returns the window left in cost.
	sack := func(cum uint32, held int) uint32 {
		arwnd, _ := r.sacked(pionSack(t, cum, uint32(buffer-held)), buffer, dups[:])
		left := window - held - r.extra
		require.Equal(t, uint32(left*r.recent/rxChunkCost), arwnd, "the peer sees it in bytes of the latest chunk's size")
		return uint32(left)
	}
	read := func(stream uint16, size int) {
		r.readStarted()
		r.readDone(stream, size, true)
	}
	for tsn := uint32(1000); tsn < 1004; tsn++ {
		v, _, _ := r.admit(tsn, 1, entry(0, true, true))
		require.Equal(t, rxAccept, v)
	}
	require.Equal(t, uint32(window-4*rxChunkCost), sack(1003, 4), "four one-byte messages cost 256 bytes each")
	read(0, 1)
	require.Equal(t, uint32(window-3*rxChunkCost), sack(1003, 3), "a message read returns its charge")

	// A message of two one-byte fragments on stream 1.
	v, _, _ := r.admit(1004, 1, entry(1, true, false))
	require.Equal(t, rxAccept, v)
	v, _, _ = r.admit(1005, 1, entry(1, false, true))
	require.Equal(t, rxAccept, v)
	require.Equal(t, uint32(window-5*rxChunkCost), sack(1005, 5))
	read(1, 2)
	require.Equal(t, uint32(window-3*rxChunkCost), sack(1005, 3), "the last message of its stream read: both fragments return")

	// Two messages on stream 2 that pion delivers as one (a repeated
	// Stream Sequence Number): one read leaves a message counted, so the
	// fragments' charge stays.
	for i, f := range []rxEntry{entry(2, true, false), entry(2, false, true), entry(2, true, false), entry(2, false, true)} {
		v, _, _ := r.admit(1006+uint32(i), 1, f)
		require.Equal(t, rxAccept, v)
	}
	read(2, 4)
	require.Equal(t, uint32(window-3*rxChunkCost-4*rxChunkCost+4+rxExtra(4)), sack(1009, 3),
		"only the charge the read message surely had returns")

	// An orphan fragment: its charge stays until pion holds nothing.
	v, _, _ = r.admit(1010, 1, entry(3, true, false))
	require.Equal(t, rxAccept, v)
	read(0, 1)
	read(0, 1)
	read(0, 1)
	require.Less(t, sack(1010, 1), uint32(window-rxChunkCost))
	r.readStarted()
	require.Less(t, sack(1010, 0), uint32(window), "a read under way: the charge stays")
	r.readDone(3, 0, false)
	require.Equal(t, uint32(window), sack(1010, 0), "pion holds nothing: nothing is charged")
}

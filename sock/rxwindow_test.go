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
	c := wire.AppendSack(nil, cum, arwnd, gaps, nil)
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
	require.Equal(t, uint32(window-10-rxExtra(10)), arwnd, "the peer sees our window, not pion's, less the charge of the small chunk")
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
	sack := wire.AppendSack(nil, 0, window+rxReserve, nil, nil)
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

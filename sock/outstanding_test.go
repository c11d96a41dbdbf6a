package sock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/pathmgr"
)

func sackView(t *testing.T, cum uint32, gaps ...wire.GapAckBlock) wire.SackView {
	t.Helper()
	c := must(wire.AppendSack(nil, cum, 1000, gaps, nil))
	it := wire.NewChunkIter(c)
	require.True(t, it.Next())
	v, err := wire.ParseSackView(it.Chunk().Value)
	require.NoError(t, err)
	return v
}

func TestOutstanding(t *testing.T) {
	t0 := time.Unix(1000, 0)
	o := newOutstanding()
	const p1, p2 = pathmgr.PathID(1), pathmgr.PathID(2)
	add := func(tsns []uint32, p pathmgr.PathID, at time.Duration) {
		var chunks [][]byte
		for _, tsn := range tsns {
			chunks = append(chunks, rawpeer.Message(tsn, 0, 0, "x"))
		}
		pkt := rawpeer.Encode(1, 2, 3, append([][]byte{must(wire.AppendSack(nil, 9, 100, nil, nil))}, chunks...)...)
		got := dataTSNs(nil, pkt)
		require.Equal(t, tsns, got)
		_, _, rtx := o.isRetransmission(tsns)
		o.add(pkt, tsns, p, t0.Add(at), rtx)
	}
	add([]uint32{0xfffffffe, 0xffffffff}, p1, 0) // TSNs wrap
	add([]uint32{0, 1}, p1, time.Millisecond)
	add([]uint32{2}, p2, 2*time.Millisecond)
	require.Len(t, o.pkts, 3)
	require.Equal(t, 2, o.onPath[p1])
	// The stored copies carry DATA only.
	it := wire.NewChunkIter(o.pkts[0].pkt[wire.CommonHeaderSize:])
	for it.Next() {
		require.Equal(t, wire.ChunkData, it.Chunk().Type)
	}
	// A packet of DATA only is kept as sent, without a copy.
	lone := rawpeer.Encode(1, 2, 3, rawpeer.Message(99, 0, 0, "y"))
	require.Same(t, &lone[0], &dataOnly(lone)[0])

	// Cumulative ack of the first packet, a gap block for TSN 1.
	acks := o.ack(sackView(t, 0xffffffff, wire.GapAckBlock{Start: 2, End: 2}), t0.Add(10*time.Millisecond))
	require.Equal(t, []ackedPath{{path: p1, rtt: 10 * time.Millisecond, hasRTT: true, allDone: false}}, acks)
	require.Equal(t, 1, o.onPath[p1], "TSN 0 is still out on path 1")

	// pion retransmits TSN 0: no RTT sample from it (Karn).
	_, _, rtx := o.isRetransmission([]uint32{0})
	require.True(t, rtx)
	add([]uint32{0}, p2, 20*time.Millisecond)
	require.Zero(t, o.onPath[p1])
	require.Equal(t, 2, o.onPath[p2])

	// Failover: everything not on path 1 moves there.
	moved, emptied := o.move(0, p1, true, t0.Add(30*time.Millisecond))
	require.Len(t, moved, 2)
	require.Equal(t, []pathmgr.PathID{p2}, emptied, "path 2 has nothing outstanding left")
	for _, m := range moved {
		require.True(t, wire.VerifyChecksum(m), "a packet sent again has its checksum")
	}
	require.Equal(t, 2, o.onPath[p1])
	require.Zero(t, o.onPath[p2])

	acks = o.ack(sackView(t, 2), t0.Add(40*time.Millisecond))
	require.Equal(t, []ackedPath{{path: p1, rtt: 10 * time.Millisecond, hasRTT: false, allDone: true}}, acks)
	require.Empty(t, o.pkts)
	require.Empty(t, o.byTSN)
	require.Nil(t, o.ack(sackView(t, 5), t0), "nothing outstanding")
}

// A retransmission pion wrote before it read the SACK the shim already
// applied is not outstanding: no later SACK acknowledges it again.
func TestOutstandingLateRetransmission(t *testing.T) {
	t0 := time.Unix(1000, 0)
	o := newOutstanding()
	const p1, p2 = pathmgr.PathID(1), pathmgr.PathID(2)
	send := func(p pathmgr.PathID, tsns ...uint32) {
		var chunks [][]byte
		for _, tsn := range tsns {
			chunks = append(chunks, rawpeer.Message(tsn, 0, 0, "x"))
		}
		pkt := rawpeer.Encode(1, 2, 3, chunks...)
		tsns = o.unacked(dataTSNs(nil, pkt))
		if len(tsns) == 0 {
			return
		}
		_, _, rtx := o.isRetransmission(tsns)
		o.add(pkt, tsns, p, t0, rtx)
	}
	require.Equal(t, []uint32{5}, o.unacked([]uint32{5}), "nothing acknowledged yet")
	send(p1, 10, 11, 12)
	// The T3-rtx timer of path 1 expired: the shim re-sent the packet on
	// path 2, and the peer acknowledged it all.
	moved, _ := o.move(p1, p2, false, t0)
	require.Len(t, moved, 1)
	acks := o.ack(sackView(t, 12), t0.Add(time.Millisecond))
	require.Equal(t, []ackedPath{{path: p2, rtt: time.Millisecond, allDone: true}}, acks)
	// pion's own retransmission of TSNs 10 to 12, built before it read
	// that SACK, goes out now; one with a new TSN too.
	send(p2, 10, 11, 12)
	require.Empty(t, o.byTSN)
	require.Zero(t, o.onPath[p2])
	send(p2, 12, 13)
	require.Len(t, o.byTSN, 1)
	require.Equal(t, 1, o.onPath[p2])
	acks = o.ack(sackView(t, 13), t0.Add(2*time.Millisecond))
	require.Len(t, acks, 1)
	require.True(t, acks[0].allDone, "nothing stays outstanding on path 2")
	require.Empty(t, o.byTSN)
	require.Empty(t, o.pkts)
}

func TestHeartbeatInfo(t *testing.T) {
	now := time.Unix(5, 6)
	for _, to := range []string{"10.0.0.1", "2001:db8::1"} {
		info := heartbeatInfo(0x0102030405060708, now, mustAddr(to))
		nonce, sent, addr, ok := parseHeartbeatInfo(info)
		require.True(t, ok)
		require.Equal(t, uint64(0x0102030405060708), nonce)
		require.True(t, sent.Equal(now))
		require.Equal(t, mustAddr(to), addr)
		for n := range len(info) {
			_, _, _, ok := parseHeartbeatInfo(info[:n])
			require.False(t, ok, "truncated to %d", n)
		}
	}
}

// A TSN re-sent by pion comes back as a retransmission with the paths its
// earlier copies went to; its acknowledgement is credited to no path a
// copy was lost on, so a dead path whose DATA is re-sent elsewhere within
// a few round trips (RACK, tail-loss probes) keeps its error counter and
// its running T3-rtx timer (RFC 9260 section 8.2).
func TestOutstandingNoCreditForLostCopies(t *testing.T) {
	t0 := time.Unix(1000, 0)
	o := newOutstanding()
	const p1, p2 = pathmgr.PathID(1), pathmgr.PathID(2)
	send := func(p pathmgr.PathID, at time.Duration, tsns ...uint32) {
		var chunks [][]byte
		for _, tsn := range tsns {
			chunks = append(chunks, rawpeer.Message(tsn, 0, 0, "x"))
		}
		pkt := rawpeer.Encode(1, 2, 3, chunks...)
		_, _, rtx := o.isRetransmission(tsns)
		o.add(pkt, tsns, p, t0.Add(at), rtx)
	}
	send(p1, 0, 5)
	send(p1, 0, 6)
	send(p2, time.Millisecond, 5) // pion took the copy on path 1 for lost
	last, lost, rtx := o.isRetransmission([]uint32{5})
	require.True(t, rtx)
	require.Equal(t, p2, last)
	require.Equal(t, []pathmgr.PathID{p1}, lost)
	send(p1, 2*time.Millisecond, 5) // and a second re-send went back to path 1
	_, lost, _ = o.isRetransmission([]uint32{5})
	require.ElementsMatch(t, []pathmgr.PathID{p1, p2}, lost)

	// The copy on path 2 arrived: TSN 5 is acknowledged, path 1 gets no
	// credit for it. TSN 6, sent once on path 1, is still outstanding.
	acks := o.ack(sackView(t, 4, wire.GapAckBlock{Start: 1, End: 1}), t0.Add(10*time.Millisecond))
	require.Empty(t, acks)
	require.Empty(t, o.lostOn[5], "forgotten with the TSN")
	// TSN 6 acknowledged: credited to path 1 where its only copy went.
	acks = o.ack(sackView(t, 6), t0.Add(11*time.Millisecond))
	require.Equal(t, []ackedPath{{path: p1, rtt: 11 * time.Millisecond, hasRTT: true, allDone: true}}, acks)

	// The stack's own re-send (T3-rtx, failover) marks the copy it moves
	// away from as lost too.
	send(p1, 20*time.Millisecond, 7)
	moved, _ := o.move(p1, p2, false, t0.Add(30*time.Millisecond))
	require.Len(t, moved, 1)
	_, lost, _ = o.isRetransmission([]uint32{7})
	require.Equal(t, []pathmgr.PathID{p1}, lost)
	require.Empty(t, o.lostOn[6])
}

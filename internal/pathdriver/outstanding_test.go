package pathdriver

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/pathmgr"
)

// The rules for crediting an acknowledgement to the path of the TSN's last
// copy, given the paths earlier copies were lost on.
func TestCredited(t *testing.T) {
	for _, tc := range []struct {
		name string
		last pathmgr.PathID
		lost []pathmgr.PathID
		want bool
	}{
		{"sent once", p0, nil, true},
		{"re-sent away from a lost copy", p1, []pathmgr.PathID{p0}, true},
		{"back to a path a copy was lost on", p0, []pathmgr.PathID{p0, p1}, false},
		{"every copy on one path", p0, []pathmgr.PathID{p0}, false},
		{"marked for retransmission", pathmgr.NoPath, []pathmgr.PathID{p0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, credited(tc.last, tc.lost))
		})
	}
}

// recordSent records a packet of DATA chunks tsns that pion sent on path
// p at t0+at, as the driver's Route does.
func recordSent(o *outstanding, p pathmgr.PathID, at time.Duration, tsns ...uint32) {
	var chunks [][]byte
	for _, tsn := range tsns {
		chunks = append(chunks, dataChunk(tsn, 1))
	}
	o.sent(tsns)
	_, _, rtx := o.isRetransmission(tsns)
	o.add(packet(chunks...), tsns, p, t0.Add(at), rtx)
}

// A TSN re-sent by pion comes back as a retransmission with the paths its
// earlier copies went to; its acknowledgement is credited to no path a
// copy was lost on, so a dead path
// whose DATA is re-sent elsewhere within a few round trips (RACK,
// tail-loss probes) keeps its error counter and its running T3-rtx timer
// (RFC 9260 section 8.2).
func TestOutstandingNoCreditForLostCopies(t *testing.T) {
	o := newOutstanding(5)
	send := func(p pathmgr.PathID, at time.Duration, tsns ...uint32) { recordSent(o, p, at, tsns...) }
	send(p0, 0, 5)
	send(p0, 0, 6)
	send(p1, time.Millisecond, 5) // pion took the copy on path 0 for lost
	last, lost, rtx := o.isRetransmission([]uint32{5})
	require.True(t, rtx)
	require.Equal(t, p1, last)
	require.Equal(t, []pathmgr.PathID{p0}, lost)
	send(p0, 2*time.Millisecond, 5) // and a second re-send went back to path 0
	_, lost, _ = o.isRetransmission([]uint32{5})
	require.ElementsMatch(t, []pathmgr.PathID{p0, p1}, lost)

	// A copy arrived: TSN 5 is acknowledged, path 0 gets no credit for
	// it. TSN 6, sent once on path 0, is still outstanding.
	acks, _ := o.ack(sack(t, 4, 1000, wire.GapAckBlock{Start: 1, End: 1}), t0.Add(10*time.Millisecond))
	require.Empty(t, acks)
	require.Empty(t, o.lostOn[5], "forgotten with the TSN")
	// TSN 6 acknowledged: credited to path 0 where its only copy went.
	acks, _ = o.ack(sack(t, 6, 1000), t0.Add(11*time.Millisecond))
	require.Equal(t, []ackedPath{{path: p0, rtt: 11 * time.Millisecond, hasRTT: true, allDone: true}}, acks)

	// The Driver's own re-send marks the copy it moves away from as lost
	// too.
	send(p0, 20*time.Millisecond, 7)
	op := o.byTSN[7]
	require.True(t, o.leave(op), "path 0 has nothing outstanding left")
	require.True(t, wire.VerifyChecksum(o.resend(op, p1, t0.Add(30*time.Millisecond))))
	_, lost, _ = o.isRetransmission([]uint32{7})
	require.Equal(t, []pathmgr.PathID{p0}, lost)
	require.Equal(t, 1, o.onPath[p1])
	require.Zero(t, o.onPath[p0])
}

// The record keeps DATA chunks only; a packet of DATA only without a copy.
func TestOutstandingKeepsData(t *testing.T) {
	sackChunk, err := wire.AppendSack(nil, 9, 100, nil, nil)
	require.NoError(t, err)
	o := newOutstanding(1)
	mixed := packet(sackChunk, dataChunk(1, 3), dataChunk(2, 5))
	o.add(mixed, dataTSNs(nil, mixed), p0, t0, false)
	kept := o.byTSN[1].pkt
	it := wire.NewChunkIter(kept[wire.CommonHeaderSize:])
	n := 0
	for it.Next() {
		require.Equal(t, wire.ChunkData, it.Chunk().Type)
		n++
	}
	require.Equal(t, 2, n)
	require.True(t, o.byTSN[1].copied, "its checksum is set when it is sent again")
	require.True(t, wire.VerifyChecksum(o.resend(o.byTSN[1], p1, t0)))
	lone := packet(dataChunk(3, 1))
	require.Same(t, &lone[0], &dataOnly(lone)[0])
}

// unsentAcked works in serial number arithmetic: TSNs wrap.
func TestUnsentAckedWraps(t *testing.T) {
	o := newOutstanding(0xffffffff) // nothing sent yet
	_, bad := o.unsentAcked(sack(t, 0xfffffffe, 1000))
	require.False(t, bad, "the ack point before any DATA")
	tsn, bad := o.unsentAcked(sack(t, 0xffffffff, 1000))
	require.True(t, bad)
	require.Equal(t, uint32(0xffffffff), tsn)
	o.sent([]uint32{0xffffffff, 0, 1})
	require.Equal(t, uint32(1), o.highest)
	_, bad = o.unsentAcked(sack(t, 0xffffffff, 1000, wire.GapAckBlock{Start: 2, End: 2}))
	require.False(t, bad, "TSN 1 was sent")
	tsn, bad = o.unsentAcked(sack(t, 0xffffffff, 1000, wire.GapAckBlock{Start: 2, End: 3}))
	require.True(t, bad)
	require.Equal(t, uint32(2), tsn)
	_, bad = o.unsentAcked(sack(t, 0xfffffff0, 1000))
	require.False(t, bad, "an old SACK is no violation")
	_, bad = o.unsentAcked(sack(t, 0, 1000, wire.GapAckBlock{Start: 5, End: 1}))
	require.False(t, bad, "a malformed block acknowledges nothing")
}

// The candidates for a re-send come lowest TSN first, across a wrap.
func TestOutstandingCandidatesLowestFirst(t *testing.T) {
	o := newOutstanding(0xfffffffe)
	for _, tsn := range []uint32{1, 0xffffffff, 0xfffffffe, 0} {
		pkt := packet(dataChunk(tsn, 1))
		o.sent([]uint32{tsn})
		o.add(pkt, []uint32{tsn}, p0, t0, false)
	}
	var got []uint32
	for _, op := range o.candidates(func(p pathmgr.PathID) bool { return p == p0 }) {
		got = append(got, o.firstTSN(op))
	}
	require.Equal(t, []uint32{0xfffffffe, 0xffffffff, 0, 1}, got)
}

func TestHeartbeatInfo(t *testing.T) {
	now := time.Unix(5, 6)
	for _, to := range []string{"10.0.0.1", "2001:db8::1"} {
		addr := netip.MustParseAddr(to)
		info := heartbeatInfo(0x0102030405060708, now, addr)
		nonce, sent, got, ok := parseHeartbeatInfo(info)
		require.True(t, ok)
		require.Equal(t, uint64(0x0102030405060708), nonce)
		require.True(t, sent.Equal(now))
		require.Equal(t, addr, got)
		for n := range len(info) {
			_, _, _, ok := parseHeartbeatInfo(info[:n])
			require.False(t, ok, "truncated to %d", n)
		}
	}
}

// A SACK acknowledges the TSNs up to its Cumulative TSN Ack and those in
// its Gap Ack Blocks, across a TSN wrap, and gives each path credited an
// RTT sample from DATA sent once (Karn's rule).
func TestOutstandingAck(t *testing.T) {
	o := newOutstanding(0xfffffffe)
	add := func(p pathmgr.PathID, at time.Duration, tsns ...uint32) { recordSent(o, p, at, tsns...) }
	add(p0, 0, 0xfffffffe, 0xffffffff) // TSNs wrap
	add(p0, time.Millisecond, 0, 1)
	add(p1, 2*time.Millisecond, 2)
	require.Equal(t, 2, o.onPath[p0])

	// The first packet, and TSN 1 by a gap block.
	acks, _ := o.ack(sack(t, 0xffffffff, 1000, wire.GapAckBlock{Start: 2, End: 2}), t0.Add(10*time.Millisecond))
	require.Equal(t, []ackedPath{{path: p0, rtt: 10 * time.Millisecond, hasRTT: true}}, acks)
	require.Equal(t, 1, o.onPath[p0], "TSN 0 is still out on path 0")
	acks, bytes := o.ack(sack(t, 0xfffffff0, 1000), t0)
	require.Nil(t, acks, "an old SACK acknowledges nothing new")
	require.Zero(t, bytes)

	// pion re-sends TSN 0 on path 1: no RTT sample from it.
	add(p1, 20*time.Millisecond, 0)
	require.Zero(t, o.onPath[p0])
	require.Equal(t, 2, o.onPath[p1])
	acks, _ = o.ack(sack(t, 0, 1000, wire.GapAckBlock{Start: 1, End: 0xffff}), t0.Add(40*time.Millisecond))
	require.Equal(t, []ackedPath{{path: p1, rtt: 38 * time.Millisecond, hasRTT: true, allDone: true}}, acks,
		"a gap block wider than what is outstanding; the sample from TSN 2, sent once")
	require.Empty(t, o.pkts)
	require.Empty(t, o.byTSN)
	acks, _ = o.ack(sack(t, 2, 1000), t0)
	require.Nil(t, acks, "nothing outstanding")
}

package pathdriver

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/pathmgr"
)

const p0, p1 = pathmgr.PathID(0), pathmgr.PathID(1)

// TestDriver runs the places where pion's retransmissions and the
// Driver's own meet, each under a fake clock.
func TestDriver(t *testing.T) {
	for _, tc := range []struct {
		name  string
		paths int
		cfg   func(*pathmgr.Config)
		run   func(t *testing.T, h *harness)
	}{{
		// pion re-sends a TSN a SACK's gap block showed missing (RACK):
		// the copy goes to the other path, its acknowledgement is not
		// credited to the path the first copy was lost on, whose T3-rtx
		// goes on running and expires one RTO after the loss.
		name: "pion retransmission after a SACK", paths: 2,
		run: func(t *testing.T, h *harness) {
			require.Equal(t, p0, h.send(100, 1))
			require.Equal(t, p0, h.send(100, 2))
			h.now = h.now.Add(100 * time.Millisecond)
			out := h.sack(0, wire.GapAckBlock{Start: 2, End: 2})
			require.Empty(t, out.Events)
			require.Equal(t, p1, h.send(100, 1), "the retransmission avoids the path of the lost copy")
			h.now = h.now.Add(100 * time.Millisecond)
			h.sack(2)
			require.True(t, h.path(p0).T3Running, "no credit for the copy lost on path 0")
			require.False(t, h.path(p1).T3Running, "all acknowledged on path 1 (R2)")
			// A retransmission pion wrote before reading that SACK is not
			// outstanding: nothing of it starts a timer.
			require.Equal(t, p0, h.send(100, 2))
			require.False(t, h.path(p0).T3Running && h.path(p1).T3Running)
			require.False(t, h.path(p1).T3Running)
			// pathmgr restarted path 0's T3-rtx at the first SACK (R3).
			out = h.tick(rto - 100*time.Millisecond)
			require.Equal(t, []Event{{Kind: PathPotentiallyFailed, Path: p0}, {Kind: DataPathChanged, Path: p1}}, out.Events)
			require.Empty(t, out.Resends, "nothing outstanding to re-send")
			require.Equal(t, 1, h.path(p0).ErrorCount)
			require.Equal(t, p1, h.send(100, 3), "new DATA goes to path 1")
		},
	}, {
		// The data path fails over: the DATA outstanding on the failed
		// path goes again on the new one at once, lowest TSN first,
		// within its initial window (RFC 9260 section 7.2.1); the rest
		// is marked, and pion's re-sends of it go to the new path too
		// and are credited to it alone.
		name: "failover re-send", paths: 2,
		run: func(t *testing.T, h *harness) {
			for tsn := uint32(1); tsn <= 6; tsn++ {
				require.Equal(t, p0, h.send(1000, tsn))
			}
			out := h.tick(rto)
			require.Equal(t, []Event{{Kind: PathPotentiallyFailed, Path: p0}, {Kind: DataPathChanged, Path: p1}}, out.Events)
			// 4380 bytes of initial window: four packets of 1044 bytes.
			require.Equal(t, [][]uint32{{1}, {2}, {3}, {4}}, resent(t, out, p1))
			require.False(t, h.path(p0).T3Running, "nothing is outstanding on path 0 any more")
			require.True(t, h.path(p1).T3Running, "R1 on the path the re-send went to")
			require.Equal(t, 2*rto, h.path(p0).RTO, "E2 backs off the failed path's RTO")
			// pion's own retransmission of what did not fit.
			require.Equal(t, p1, h.send(1000, 5))
			require.Equal(t, p1, h.send(1000, 6))
			h.now = h.now.Add(50 * time.Millisecond)
			out = h.sack(6)
			require.Empty(t, out.Events)
			require.Equal(t, 1, h.path(p0).ErrorCount, "no credit for copies lost on path 0")
			require.False(t, h.path(p1).T3Running)
		},
	}, {
		// What a failover or T3-rtx re-send left marked goes out as SACKs
		// free room for it (slow start, RFC 9260 sections 6.3.3 and
		// 7.2.1), within the peer's window, before pion's own T3-rtx.
		name: "marked DATA on SACKs", paths: 2,
		run: func(t *testing.T, h *harness) {
			for tsn := uint32(1); tsn <= 9; tsn++ {
				require.Equal(t, p0, h.send(1000, tsn))
			}
			out := h.tick(rto)
			require.Equal(t, [][]uint32{{1}, {2}, {3}, {4}}, resent(t, out, p1))
			h.now = h.now.Add(10 * time.Millisecond)
			out = h.sack(1)
			require.Equal(t, [][]uint32{{5}, {6}}, resent(t, out, p1), "the acked bytes and as many again")
			out, err := h.d.OnSack(sack(t, 2, 0), h.now)
			require.NoError(t, err)
			require.Empty(t, out.Resends, "no room in the peer's window")
			out, err = h.d.OnSack(sack(t, 3, 1500), h.now)
			require.NoError(t, err)
			require.Equal(t, [][]uint32{{7}, {8}}, resent(t, out, p1), "the last packet may overshoot (section 6.1 rule B)")
			require.Equal(t, p1, h.send(1000, 9), "pion's re-send of the rest")
			out = h.sack(9)
			require.Empty(t, out.Resends)
			require.False(t, h.path(p1).T3Running)
			require.Equal(t, 1, h.path(p0).ErrorCount)
		},
	}, {
		// RFC 7829 with PotentiallyFailed.Max.Retrans 0: the first T3-rtx
		// expiry makes the path PF and moves new DATA away; an
		// acknowledgement of DATA sent there brings it back (switchback),
		// and the DATA outstanding on the active path is not re-sent.
		name: "PF with threshold 0", paths: 2,
		run: func(t *testing.T, h *harness) {
			require.Equal(t, p0, h.send(100, 1))
			out := h.tick(rto)
			require.Equal(t, pathmgr.PotentiallyFailed, h.path(p0).State)
			require.Equal(t, [][]uint32{{1}}, resent(t, out, p1))
			// A PF path is probed at once, then once per RTO.
			require.Len(t, out.Heartbeats, 1)
			require.Equal(t, p0, out.Heartbeats[0].Path)
			require.Equal(t, p1, h.send(100, 2))
			_, out, err := h.d.OnHeartbeatAck(out.Heartbeats[0].Info, h.now)
			require.NoError(t, err)
			require.Equal(t, []Event{{Kind: PathUp, Path: p0}, {Kind: DataPathChanged, Path: p0}}, out.Events)
			out = h.tick(0)
			require.Empty(t, out.Resends, "DATA on an active path stays there")
			require.Equal(t, p0, h.send(100, 3))
		},
	}, {
		// With PF off (threshold PathMaxRetrans) the path stays active
		// after a timeout: the T3-rtx re-send alone goes to the
		// alternate path, one packet, the lowest TSN (section 6.3.3 E3);
		// the rest is marked for pion to re-send.
		name: "T3 without failover", paths: 2,
		cfg: func(c *pathmgr.Config) { c.PFThreshold = c.PathMaxRetrans },
		run: func(t *testing.T, h *harness) {
			require.Equal(t, p0, h.send(100, 3))
			require.Equal(t, p0, h.send(100, 1, 2))
			out := h.tick(rto)
			require.Empty(t, out.Events)
			require.Equal(t, [][]uint32{{1, 2}}, resent(t, out, p1), "one packet: the one with the lowest TSN")
			require.False(t, h.path(p0).T3Running)
			require.Equal(t, p1, h.send(100, 3), "pion's re-send of the rest avoids path 0")
			require.Equal(t, p0, h.send(100, 4), "new DATA stays on the active primary")
			out = h.sack(4)
			require.Equal(t, 0, h.path(p0).ErrorCount, "TSN 4, sent once on path 0, clears its counter")
		},
	}, {
		// A single path: the re-send goes back to it, one packet; the
		// acknowledgement of a TSN whose copy was lost there is not
		// credited to it, that of new DATA is.
		name: "T3 on a single path", paths: 1,
		run: func(t *testing.T, h *harness) {
			for tsn := uint32(1); tsn <= 3; tsn++ {
				require.Equal(t, p0, h.send(100, tsn))
			}
			out := h.tick(rto)
			require.Equal(t, []Event{{Kind: PathPotentiallyFailed, Path: p0}}, out.Events)
			require.Equal(t, [][]uint32{{1}}, resent(t, out, p0))
			require.True(t, h.path(p0).T3Running, "restarted by the re-send (E4)")
			require.Equal(t, 2*rto, h.path(p0).RTO)
			require.Equal(t, p0, h.send(100, 2), "the PF path is the only one")
			h.now = h.now.Add(10 * time.Millisecond)
			out = h.sack(2)
			require.Empty(t, out.Events)
			require.Equal(t, 1, h.path(p0).ErrorCount, "no credit for copies lost on the path")
			require.Equal(t, [][]uint32{{3}}, resent(t, out, p0), "the marked DATA goes as the SACK frees room")
			require.True(t, h.path(p0).T3Running, "R1 for it")
			require.Equal(t, p0, h.send(100, 3), "pion's own re-send")
			require.Equal(t, p0, h.send(100, 4))
			out = h.sack(4)
			require.Equal(t, []Event{{Kind: PathUp, Path: p0}}, out.Events, "TSN 4, sent once, is credited")
			require.Equal(t, 0, h.path(p0).ErrorCount)
			require.Zero(t, h.d.pm.AssocErrors())
			require.False(t, h.path(p0).T3Running)
		},
	}, {
		// Association.Max.Retrans consecutive timeouts fail the
		// association (section 8.1).
		name: "association failure", paths: 1,
		cfg: func(c *pathmgr.Config) { c.AssocMaxRetrans, c.PathMaxRetrans, c.PFThreshold = 1, 1, 0 },
		run: func(t *testing.T, h *harness) {
			h.send(100, 1)
			out := h.tick(rto)
			require.False(t, out.Failed)
			require.Len(t, out.Resends, 1)
			out = h.tick(2 * rto)
			require.True(t, out.Failed)
			_, ok := h.d.NextDeadline()
			require.False(t, ok)
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newHarness(t, tc.paths, tc.cfg))
		})
	}
}

// A HEARTBEAT ACK confirms a path only with the nonce sent to its
// address (RFC 9260 section 5.4).
func TestDriverHeartbeatAck(t *testing.T) {
	d, err := New(Config{Paths: testConfig(nil), InitialTSN: 1, MTU: mtu},
		[]Path{{Remote: remote(0), Confirmed: true}, {Remote: remote(1)}}, 0, t0)
	require.NoError(t, err)
	out := d.Tick(t0)
	require.Len(t, out.Heartbeats, 1)
	hb := out.Heartbeats[0]
	require.Equal(t, p1, hb.Path)
	nonce, _, to, ok := parseHeartbeatInfo(hb.Info)
	require.True(t, ok)
	require.Equal(t, remote(1), to)
	for _, tc := range []struct {
		name string
		info []byte
		want error
	}{
		{"forged nonce", heartbeatInfo(nonce+1, t0, remote(1)), ErrHeartbeatNonce},
		{"nonce of another path", heartbeatInfo(nonce, t0, remote(0)), ErrHeartbeatNonce},
		{"unknown address", heartbeatInfo(nonce, t0, remote(7)), ErrHeartbeatInfo},
		{"not our info", []byte("hello"), ErrHeartbeatInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, out, err := d.OnHeartbeatAck(tc.info, t0)
			require.True(t, errors.Is(err, tc.want), "%v", err)
			require.Empty(t, out.Events)
			require.Equal(t, pathmgr.Unconfirmed, d.Paths()[p1].State)
		})
	}
	id, out, err := d.OnHeartbeatAck(hb.Info, t0.Add(20*time.Millisecond))
	require.NoError(t, err)
	require.Equal(t, p1, id)
	require.Equal(t, []Event{{Kind: PathConfirmed, Path: p1}}, out.Events)
	require.Equal(t, 20*time.Millisecond, d.Paths()[p1].SRTT)
	_, _, err = d.OnHeartbeatAck(hb.Info, t0.Add(30*time.Millisecond))
	require.ErrorIs(t, err, ErrHeartbeatNonce, "a replayed ack is stale")
}

// A SACK acknowledging a TSN never sent changes nothing and is reported
// (RFC 9260 section 12.4).
func TestDriverSackUnsentTSN(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.send(100, 1)
	_, err := h.d.OnSack(sack(t, 2, 1000), h.now)
	require.ErrorIs(t, err, ErrUnsentTSN)
	require.Contains(t, err.Error(), "TSN 2 (highest TSN sent 1)")
	require.True(t, h.path(p0).T3Running, "TSN 1 is still outstanding")
	h.sack(1)
	require.False(t, h.path(p0).T3Running)
}

// A SetPrimary moves new DATA at once and re-sends nothing: the old
// primary is active and its DATA will be acknowledged there.
func TestDriverSetPrimary(t *testing.T) {
	h := newHarness(t, 2, nil)
	require.Equal(t, p0, h.send(100, 1))
	out, err := h.d.SetPrimary(p1)
	require.NoError(t, err)
	require.Equal(t, []Event{{Kind: DataPathChanged, Path: p1}}, out.Events)
	require.Empty(t, h.tick(0).Resends)
	require.Equal(t, p1, h.send(100, 2))
	_, err = h.d.SetPrimary(5)
	require.ErrorIs(t, err, pathmgr.ErrUnknownPath)
}

package pathdriver

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/pathmgr"
)

// t0 is the start of every fake clock.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// rto is the RTO every path starts with in the tests.
const rto = time.Second

// mtu is the tests' packet size (the stack's default).
const mtu = 1232

// remote returns the peer address of path i.
func remote(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}) }

// dataChunk returns a DATA chunk with TSN tsn and n bytes of user data.
func dataChunk(tsn uint32, n int) []byte {
	v := make([]byte, 12+n)
	binary.BigEndian.PutUint32(v, tsn)
	c, err := wire.AppendChunk(nil, wire.ChunkData, 0x03, v)
	if err != nil {
		panic(err)
	}
	return c
}

// packet returns a finished packet of chunks.
func packet(chunks ...[]byte) []byte {
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: 1, DstPort: 2, VerificationTag: 3})
	for _, c := range chunks {
		pkt = append(pkt, c...)
	}
	return wire.Finish(pkt)
}

// sack returns the view of a SACK chunk.
func sack(t *testing.T, cum uint32, arwnd uint32, gaps ...wire.GapAckBlock) wire.SackView {
	t.Helper()
	c, err := wire.AppendSack(nil, cum, arwnd, gaps, nil)
	require.NoError(t, err)
	it := wire.NewChunkIter(c)
	require.True(t, it.Next())
	v, err := wire.ParseSackView(it.Chunk().Value)
	require.NoError(t, err)
	return v
}

// testConfig returns pathmgr's defaults with an RTO of rto, a fixed
// heartbeat jitter and a sequence of nonces, changed by cfg if not nil.
func testConfig(cfg func(*pathmgr.Config)) pathmgr.Config {
	c := pathmgr.DefaultConfig()
	c.RTOInitial, c.RTOMin = rto, rto
	c.Rand = func() float64 { return 0.5 }
	nonce := uint64(0x100)
	c.Nonce = func() uint64 { nonce += 2; return nonce }
	if cfg != nil {
		cfg(&c)
	}
	return c
}

// harness drives a Driver under a fake clock: no sockets, no goroutines.
type harness struct {
	t   *testing.T
	d   *Driver
	now time.Time
	// hb is the Heartbeat Info of the last heartbeat asked for, per path.
	hb map[pathmgr.PathID][]byte
}

// newHarness returns a Driver with n paths, the first one confirmed and
// primary, and confirms the others through their heartbeats. The Driver's
// first DATA has TSN 1.
func newHarness(t *testing.T, n int, cfg func(*pathmgr.Config)) *harness {
	t.Helper()
	c := testConfig(cfg)
	var paths []Path
	for i := range n {
		paths = append(paths, Path{Remote: remote(i), Confirmed: i == 0})
	}
	d, err := New(Config{Paths: c, InitialTSN: 1, MTU: mtu}, paths, 0, t0)
	require.NoError(t, err)
	h := &harness{t: t, d: d, now: t0, hb: map[pathmgr.PathID][]byte{}}
	for i := 1; i < n; i++ {
		out := h.tick(0)
		require.Len(t, out.Heartbeats, 1, "one confirmation heartbeat at a time (HB.Max.Burst 1)")
		id, out, err := d.OnHeartbeatAck(out.Heartbeats[0].Info, h.now)
		require.NoError(t, err)
		require.Equal(t, pathmgr.PathID(i), id)
		require.Equal(t, []Event{{Kind: PathConfirmed, Path: id}}, out.Events)
	}
	h.tick(0) // queued actions of the confirmations
	return h
}

// tick advances the clock by d and ticks.
func (h *harness) tick(d time.Duration) Output {
	h.now = h.now.Add(d)
	out := h.d.Tick(h.now)
	for _, hb := range out.Heartbeats {
		h.hb[hb.Path] = hb.Info
	}
	return out
}

// send has pion write a packet of one DATA chunk with n bytes of user data
// per TSN and returns where the Driver routed it.
func (h *harness) send(n int, tsns ...uint32) pathmgr.PathID {
	h.t.Helper()
	var chunks [][]byte
	for _, tsn := range tsns {
		chunks = append(chunks, dataChunk(tsn, n))
	}
	p, data := h.d.Route(packet(chunks...), h.now)
	require.True(h.t, data)
	return p
}

// sack applies a SACK.
func (h *harness) sack(cum uint32, gaps ...wire.GapAckBlock) Output {
	h.t.Helper()
	out, err := h.d.OnSack(sack(h.t, cum, 65536, gaps...), h.now)
	require.NoError(h.t, err)
	return out
}

// path returns pathmgr's snapshot of path id.
func (h *harness) path(id pathmgr.PathID) pathmgr.PathInfo {
	return h.d.Paths()[id]
}

// resent returns the TSNs of each re-sent packet, and checks that each
// is complete with its checksum and goes to path to.
func resent(t *testing.T, out Output, to pathmgr.PathID) [][]uint32 {
	t.Helper()
	var got [][]uint32
	for _, r := range out.Resends {
		require.Equal(t, to, r.Path)
		require.True(t, wire.VerifyChecksum(r.Packet), "a packet sent again has its checksum")
		got = append(got, dataTSNs(nil, r.Packet))
	}
	return got
}

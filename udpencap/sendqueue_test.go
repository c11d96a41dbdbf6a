package udpencap

import (
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// offloadPair is pair with offload on or off.
func offloadPair(t *testing.T, disable bool) (rx, tx *Transport, to netip.AddrPort) {
	t.Helper()
	rx = openT(t, Config{DisableOffload: disable})
	tx = openT(t, Config{DisableOffload: disable})
	return rx, tx, rx.LocalAddrs()[0]
}

// Runs of equal-sized packets, a shorter last one, and packets of other
// sizes in between all arrive whole, in order and counted once each,
// whether the kernel segments and coalesces them or not.
func TestEnqueueDeliversEveryPacket(t *testing.T) {
	for _, disable := range []bool{false, true} {
		t.Run(map[bool]string{false: "offload", true: "no-offload"}[disable], func(t *testing.T) {
			rx, tx, to := offloadPair(t, disable)
			const n = 300
			ch := make(chan got, n)
			listen(rx, ch)

			pkts := make([][]byte, n)
			for i := range pkts {
				size := 1000
				switch {
				case i%100 == 99:
					size = 10 // the short last one of a run
				case i >= 200:
					size = 20 + i%7 // no two neighbours alike
				}
				payload := make([]byte, size)
				payload[size-1] = byte(i)
				pkts[i] = makePacket(1, 5000, uint32(i), payload)
			}
			for _, p := range pkts {
				require.NoError(t, tx.Enqueue(p, netip.Addr{}, to))
			}
			for i := range n {
				g := await(t, ch)
				require.Equal(t, uint32(i), g.hdr.VerificationTag, "in order")
				require.Equal(t, pkts[i], g.pkt)
			}
			st, rst := tx.Stats(), rx.Stats()
			assert.Equal(t, uint64(n), st.TxDatagrams)
			assert.Equal(t, uint64(n), rst.RxDatagrams)
			assert.Zero(t, st.TxErrors)
			if disable || runtime.GOOS != "linux" {
				assert.Zero(t, st.TxSegmented)
				assert.Zero(t, rst.RxCoalesced)
				assert.False(t, tx.Sockets()[0].Segmentation)
				return
			}
			require.True(t, tx.Sockets()[0].Segmentation, "Linux has had UDP_SEGMENT since 4.18")
			assert.NotZero(t, st.TxSegmented, "runs of equal sizes go out as one send")
			if rx.Sockets()[0].Coalescing {
				assert.NotZero(t, rst.RxCoalesced, "loopback hands a segmented send to a UDP_GRO socket whole")
			}
		})
	}
}

// Close writes what is queued before it returns, and Enqueue fails with
// net.ErrClosed after it.
func TestEnqueueFlushedByClose(t *testing.T) {
	rx, _, to := offloadPair(t, false)
	tx, err := Open(Config{Receiver: new(relay)})
	require.NoError(t, err)
	const n = 500
	ch := make(chan got, n)
	listen(rx, ch)
	for i := range n {
		require.NoError(t, tx.Enqueue(makePacket(1, 5000, uint32(i), make([]byte, 200)), netip.Addr{}, to))
	}
	require.NoError(t, tx.Close())
	assert.Equal(t, uint64(n), tx.Stats().TxDatagrams)
	for i := range n {
		assert.Equal(t, uint32(i), await(t, ch).hdr.VerificationTag)
	}
	assert.ErrorIs(t, tx.Enqueue(makePacket(1, 5000, 1, nil), netip.Addr{}, to), net.ErrClosed)
}

func TestSegmentRun(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:1")
	b := netip.MustParseAddrPort("127.0.0.1:2")
	o := func(to netip.AddrPort, n int) queued { return queued{Pkt: make([]byte, n), To: to} }
	for _, tc := range []struct {
		name  string
		batch []queued
		want  int
	}{
		{"one", []queued{o(a, 100)}, 1},
		{"equal", []queued{o(a, 100), o(a, 100), o(a, 100)}, 3},
		{"short last ends the run", []queued{o(a, 100), o(a, 50), o(a, 50)}, 2},
		{"larger ends the run", []queued{o(a, 100), o(a, 100), o(a, 101)}, 2},
		{"other destination", []queued{o(a, 100), o(b, 100)}, 1},
		{"byte limit", []queued{o(a, 40000), o(a, 40000)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if runtime.GOOS != "linux" {
				t.Skip("segmentation is Linux only")
			}
			assert.Equal(t, tc.want, segmentRun(tc.batch, true))
			assert.Equal(t, 1, segmentRun(tc.batch, false))
		})
	}
	many := make([]queued, 200)
	for i := range many {
		many[i] = o(a, 100)
	}
	if runtime.GOOS == "linux" {
		assert.Equal(t, maxGSOSegments, segmentRun(many, true))
	}
}

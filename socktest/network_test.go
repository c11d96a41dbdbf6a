package socktest_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/transport/v5"
	"github.com/stretchr/testify/require"

	"github.com/usock/usock/socktest"
)

var (
	a1 = netip.MustParseAddr("10.0.1.1")
	a2 = netip.MustParseAddr("10.0.2.1")
	b1 = netip.MustParseAddr("10.0.1.2")
	b2 = netip.MustParseAddr("10.0.2.2")
)

func host32(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, 32) }

// arrival is one datagram a receiver got.
type arrival struct {
	seq  int
	at   time.Time
	from netip.AddrPort
	data []byte
}

// receiver reads datagrams on one address of a host until stop.
type receiver struct {
	conn transport.UDPConn
	wg   sync.WaitGroup
	mu   sync.Mutex
	got  []arrival
}

func listen(t *testing.T, h *socktest.Host, a netip.Addr) *receiver {
	t.Helper()
	c, err := h.Net().ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 7000)))
	require.NoError(t, err)
	r := &receiver{conn: c}
	r.wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			ap := from.(*net.UDPAddr).AddrPort()
			r.mu.Lock()
			r.got = append(r.got, arrival{seq: int(binary.BigEndian.Uint32(buf)), at: time.Now(), from: ap, data: bytes.Clone(buf[:n])})
			r.mu.Unlock()
		}
	})
	t.Cleanup(r.stop)
	return r
}

// stop closes the socket and returns what arrived.
func (r *receiver) stop() {
	_ = r.conn.Close()
	r.wg.Wait()
}

func (r *receiver) arrivals() []arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *receiver) seqs() []int {
	var out []int
	for _, a := range r.arrivals() {
		out = append(out, a.seq)
	}
	return out
}

// sender sends numbered datagrams from one address of a host.
type sender struct {
	conn transport.UDPConn
	seq  int
}

func dial(t *testing.T, h *socktest.Host, a netip.Addr) *sender {
	t.Helper()
	c, err := h.Net().ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 7001)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &sender{conn: c}
}

// send sends n datagrams of size bytes to to, one per gap.
func (s *sender) send(t *testing.T, to netip.Addr, n, size int, gap time.Duration) {
	t.Helper()
	for range n {
		b := make([]byte, max(size, 4))
		binary.BigEndian.PutUint32(b, uint32(s.seq))
		s.seq++
		_, err := s.conn.WriteTo(b, net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, 7000)))
		require.NoError(t, err)
		if gap > 0 {
			time.Sleep(gap)
		}
	}
}

func twoHosts(t *testing.T, opts ...socktest.Option) (*socktest.Network, *socktest.Host, *socktest.Host) {
	n := socktest.NewNetwork(t, opts...)
	return n, n.AddHost("a", a1, a2), n.AddHost("b", b1, b2)
}

// settle lets every packet in flight arrive (simulated time).
func settle() { time.Sleep(time.Second) }

func TestDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, ha, hb := twoHosts(t)
		require.Equal(t, []netip.Addr{a1, a2}, ha.Addrs())
		require.Equal(t, "b", hb.Name())
		require.Same(t, hb, n.Host("b"))
		r1, r2 := listen(t, hb, b1), listen(t, hb, b2)
		s := dial(t, ha, a2)
		s.send(t, b1, 3, 10, 0)
		s.send(t, b2, 2, 10, 0)
		settle()
		require.Equal(t, []int{0, 1, 2}, r1.seqs())
		require.Equal(t, []int{3, 4}, r2.seqs())
		require.Equal(t, netip.AddrPortFrom(a2, 7001), r1.arrivals()[0].from, "the exact source")
		require.Equal(t, uint64(5), n.Counters().Packets)
	})
}

func TestCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, ha, hb := twoHosts(t)
		rb, ra := listen(t, hb, b1), listen(t, ha, a1)
		sa, sb := dial(t, ha, a1), dial(t, hb, b1)
		path := n.Path(a1, b1)
		require.Same(t, path, n.Path(a1, b1), "one Link per selection")
		path.Cut(true)
		sa.send(t, b1, 5, 10, 0) // dropped
		sb.send(t, a1, 5, 10, 0) // the other way passes
		settle()
		require.Empty(t, rb.seqs())
		require.Len(t, ra.seqs(), 5)
		path.Cut(false)
		sa.send(t, b1, 1, 10, 0)
		settle()
		require.Equal(t, []int{5}, rb.seqs(), "restored")

		both := n.Between(host32(b1), host32(a1))
		require.Same(t, both, n.Between(host32(a1), host32(b1)), "either order")
		both.Cut(true)
		sa.send(t, b1, 1, 10, 0)
		sb.send(t, a1, 1, 10, 0)
		settle()
		require.Equal(t, []int{5}, rb.seqs())
		require.Len(t, ra.seqs(), 5)
		require.Equal(t, socktest.Counters{Packets: 7, Cut: 5}, path.Counters(), "the Links in order: path passed the last one, both cut it")
		require.Equal(t, socktest.Counters{Packets: 2, Cut: 2}, both.Counters())
		require.Equal(t, uint64(7), n.Counters().Cut)
	})
}

func TestSubnetLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, ha, hb := twoHosts(t)
		r1, r2 := listen(t, hb, b1), listen(t, hb, b2)
		s1, s2 := dial(t, ha, a1), dial(t, ha, a2)
		// Everything from 10.0.1.0/24, whatever the destination.
		n.Link(netip.MustParsePrefix("10.0.1.0/24"), socktest.DefaultPrefix).Cut(true)
		s1.send(t, b1, 1, 10, 0)
		s1.send(t, b2, 1, 10, 0)
		s2.send(t, b1, 1, 10, 0)
		s2.send(t, b2, 1, 10, 0)
		settle()
		require.Len(t, r1.seqs(), 1)
		require.Len(t, r2.seqs(), 1)
		require.Equal(t, netip.AddrPortFrom(a2, 7001), r1.arrivals()[0].from)
	})
}

// lossRun sends 1000 datagrams over a lossy path and returns the ones
// that arrived and the path's counters.
func lossRun(t *testing.T, seed uint64) ([]int, socktest.Counters) {
	var got []int
	var c socktest.Counters
	synctest.Test(t, func(t *testing.T) {
		n, ha, hb := twoHosts(t, socktest.WithSeed(seed))
		r := listen(t, hb, b1)
		s := dial(t, ha, a1)
		n.Path(a1, b1).SetLoss(0.3)
		s.send(t, b1, 1000, 10, time.Millisecond)
		settle()
		got, c = r.seqs(), n.Path(a1, b1).Counters()
	})
	return got, c
}

func TestLossSeeded(t *testing.T) {
	got, c := lossRun(t, 42)
	require.Equal(t, uint64(1000), c.Packets)
	require.Equal(t, 1000-int(c.Lost), len(got), "every packet not counted lost arrived")
	require.InDelta(t, 300, int(c.Lost), 60, "about 30%")
	require.True(t, slices.IsSorted(got), "loss does not reorder")
	again, _ := lossRun(t, 42)
	require.Equal(t, got, again, "same seed, same packets lost")
	other, _ := lossRun(t, 43)
	require.NotEqual(t, got, other, "another seed, other packets")
}

func TestDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, ha, hb := twoHosts(t)
		r := listen(t, hb, b1)
		s := dial(t, ha, a1)
		n.Path(a1, b1).SetDelay(50*time.Millisecond, 50*time.Millisecond)
		start := time.Now()
		s.send(t, b1, 3, 10, 0)
		settle()
		require.Equal(t, []int{0, 1, 2}, r.seqs(), "a fixed delay keeps the order")
		for _, a := range r.arrivals() {
			require.Equal(t, 50*time.Millisecond, a.at.Sub(start), "simulated time: exact")
		}
		require.Equal(t, uint64(3), n.Path(a1, b1).Counters().Delayed)

		// Jitter: every packet 0-20 ms late, sent 1 ms apart: reordered.
		n.Path(a1, b1).SetDelay(0, 20*time.Millisecond)
		s.send(t, b1, 100, 10, time.Millisecond)
		settle()
		got := r.seqs()[3:]
		require.Len(t, got, 100)
		require.False(t, slices.IsSorted(got), "jitter reorders")

		n.Path(a1, b1).SetDelay(0, 0)
		start = time.Now()
		s.send(t, b1, 1, 10, 0)
		settle()
		require.Equal(t, time.Duration(0), r.arrivals()[len(r.arrivals())-1].at.Sub(start), "delay off")
	})
}

func TestReorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, ha, hb := twoHosts(t)
		r := listen(t, hb, b1)
		s := dial(t, ha, a1)
		l := n.Path(a1, b1)
		l.SetReorder(0.1, 5*time.Millisecond, 10*time.Millisecond)
		s.send(t, b1, 200, 10, time.Millisecond)
		settle()
		got := r.seqs()
		sorted := slices.Sorted(slices.Values(got))
		require.Equal(t, 200, len(got), "nothing lost")
		require.Equal(t, 199, sorted[199])
		require.NotEqual(t, sorted, got, "reordered")
		c := l.Counters()
		require.InDelta(t, 20, int(c.Reordered), 15)
		require.Zero(t, c.Delayed)
	})
}

func TestDuplicate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, ha, hb := twoHosts(t)
		r := listen(t, hb, b1)
		s := dial(t, ha, a1)
		n.Between(host32(a1), host32(b1)).SetDuplicate(1, 10*time.Millisecond)
		s.send(t, b1, 10, 10, 0)
		settle()
		got := r.seqs()
		require.Len(t, got, 20)
		slices.Sort(got)
		for i := range 10 {
			require.Equal(t, []int{i, i}, got[2*i:2*i+2], "each twice")
		}
		require.Equal(t, uint64(10), n.Counters().Duplicated)
	})
}

func TestCorrupt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, ha, hb := twoHosts(t)
		r := listen(t, hb, b1)
		s := dial(t, ha, a1)
		n.Path(a1, b1).SetCorrupt(1)
		s.send(t, b1, 50, 100, 0)
		settle()
		require.Len(t, r.arrivals(), 50)
		for i, a := range r.arrivals() {
			want := make([]byte, 100)
			binary.BigEndian.PutUint32(want, uint32(i))
			flipped := 0
			for j := range want {
				flipped += popcount(want[j] ^ a.data[j])
			}
			// The flip may hit the sequence number: compare bits, not seq.
			require.Equal(t, 1, flipped, "one bit flipped")
		}
		require.Equal(t, uint64(50), n.Counters().Corrupted)
	})
}

func popcount(b byte) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n
}

func TestMTU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, ha, hb := twoHosts(t, socktest.WithMTU(1280))
		r := listen(t, hb, b1)
		s := dial(t, ha, a1)
		s.send(t, b1, 1, 1280-28, 0)
		s.send(t, b1, 1, 1280-28+1, 0)
		settle()
		require.Equal(t, []int{0}, r.seqs(), "the datagram of a 1281-byte IP packet is dropped")
		require.Equal(t, uint64(1), n.Counters().TooBig)
	})
}

func TestReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, ha, hb := twoHosts(t)
		r := listen(t, hb, b1)
		s := dial(t, ha, a1)
		l := n.Path(a1, b1)
		l.SetLoss(1)
		l.SetDelay(time.Second, time.Second)
		l.Reset()
		s.send(t, b1, 1, 10, 0)
		synctest.Wait()
		require.Equal(t, []int{0}, r.seqs(), "delivered at once")
		require.Equal(t, uint64(1), l.Counters().Packets)
	})
}

func TestAddHostErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := socktest.NewNetwork(nil)
		defer func() { require.NoError(t, n.Close()) }()
		n.AddHost("a", a1)
		for name, addrs := range map[string][]netip.Addr{
			"a": {a2},                                 // name taken
			"b": {a1},                                 // address taken
			"c": {},                                   // no address
			"d": {netip.MustParseAddr("192.0.2.1")},   // outside 10.0.0.0/8
			"e": {netip.MustParseAddr("2001:db8::1")}, // IPv6
			"f": {b1, b1},                             // twice
		} {
			func() {
				defer func() {
					err, _ := recover().(error)
					require.ErrorIs(t, err, socktest.ErrNetwork, name)
				}()
				n.AddHost(name, addrs...)
			}()
		}
	})
}

func TestPrefix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := netip.MustParsePrefix("192.168.0.0/16")
		n := socktest.NewNetwork(t, socktest.WithPrefix(p))
		x := n.AddHost("x", netip.MustParseAddr("192.168.1.1"))
		y := n.AddHost("y", netip.MustParseAddr("192.168.2.1"))
		r := listen(t, y, netip.MustParseAddr("192.168.2.1"))
		dial(t, x, netip.MustParseAddr("192.168.1.1")).send(t, netip.MustParseAddr("192.168.2.1"), 1, 10, 0)
		settle()
		require.Len(t, r.seqs(), 1)
	})
	require.Panics(t, func() { socktest.NewNetwork(nil, socktest.WithPrefix(netip.MustParsePrefix("fd00::/8"))) }, "IPv6")
}

func TestCloseStopsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, ha, hb := twoHosts(t)
		r := listen(t, hb, b1)
		s := dial(t, ha, a1)
		n.Path(a1, b1).SetDelay(time.Minute, time.Minute)
		s.send(t, b1, 1, 10, 0)
		st := ha.Stack()
		require.NoError(t, n.Close())
		require.NoError(t, n.Close(), "twice is fine")
		_, err := st.NewEndpoint([]netip.Addr{a1}, 5000)
		require.Error(t, err, "Close closed the host's stacks")
		time.Sleep(2 * time.Minute)
		require.Empty(t, r.seqs(), "the delayed packet was dropped")
		// The bubble ends only when every goroutine of the network has.
	})
}

// TestParallelNetworks: networks built by parallel tests do not race (run
// with -race).
func TestParallelNetworks(t *testing.T) {
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				n, ha, hb := twoHosts(t)
				r := listen(t, hb, b1)
				dial(t, ha, a1).send(t, b1, 1, 10, 0)
				settle()
				require.Len(t, r.seqs(), 1)
				require.Equal(t, uint64(1), n.Counters().Packets)
			})
		})
	}
}

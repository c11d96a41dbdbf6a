package bench

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/usock/usock/bench/internal/harness"
	"github.com/usock/usock/sock"
	"github.com/usock/usock/socktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// setting is a set of timer options under test.
type setting struct {
	name string
	opts []sock.EndpointOption
}

var settings = []setting{
	{"defaults", nil},
	{"tuned", harness.TunedFailover()},
}

// failoverOnce makes a server endpoint on saddrs and a client endpoint on
// caddrs and returns harness.MeasureFailover between them.
func failoverOnce(tb testing.TB, cs, ss *sock.Stack, caddrs, saddrs []netip.Addr, opts []sock.EndpointOption, cut func()) time.Duration {
	tb.Helper()
	sep, err := ss.NewEndpoint(saddrs, 5000, append(opts, sock.AcceptMax(1))...)
	if err != nil {
		tb.Fatal(err)
	}
	cep, err := cs.NewEndpoint(caddrs, 5001, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d, err := harness.MeasureFailover(ctx, cep, sep, saddrs, ss.UDPPort(), cut)
	if err != nil {
		tb.Fatal(err)
	}
	if err := cep.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := sep.Close(); err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestFailoverSimulated measures failover in simulated time on the vnet
// world: exact for a given setting.
func TestFailoverSimulated(t *testing.T) {
	for _, s := range settings {
		t.Run(s.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := socktest.NewNetwork(t, socktest.WithSeed(1))
				a1, a2 := netip.MustParseAddr("10.0.1.1"), netip.MustParseAddr("10.0.2.1")
				b1, b2 := netip.MustParseAddr("10.0.1.2"), netip.MustParseAddr("10.0.2.2")
				cs := n.AddHost("a", a1, a2).Stack()
				ss := n.AddHost("b", b1, b2).Stack()
				// Path 1: every packet from 10.0.1.0/24, both ways.
				path1 := n.Link(netip.MustParsePrefix("10.0.1.0/24"), socktest.DefaultPrefix)
				d := failoverOnce(t, cs, ss, []netip.Addr{a1, a2}, []netip.Addr{b1, b2},
					s.opts, func() { path1.Cut(true) })
				t.Logf("%s: cut to first delivery on the other path: %v (simulated time)", s.name, d)
			})
		})
	}
}

// BenchmarkFailoverLoopback measures failover in wall time on real
// loopback sockets (127.0.0.1/.2 to 127.0.0.3/.4), the path cut by the
// client stack's fault filter. One iteration is one failover; the metric
// is failover-ms.
func BenchmarkFailoverLoopback(b *testing.B) {
	caddrs := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}
	saddrs := []netip.Addr{netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4")}
	probe, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		b.Fatal(err)
	}
	_, err = probe.NewEndpoint(saddrs[1:], 0)
	_ = probe.Close()
	if err != nil {
		b.Skipf("127.0.0.4 is not a local address here (Linux has all of 127.0.0.0/8): %v", err)
	}
	for _, s := range settings {
		b.Run(s.name, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				cs, err := sock.NewStack(sock.WithUDPPort(0))
				if err != nil {
					b.Fatal(err)
				}
				ss, err := sock.NewStack(sock.WithUDPPort(0))
				if err != nil {
					b.Fatal(err)
				}
				total += failoverOnce(b, cs, ss, caddrs, saddrs, s.opts, func() {
					cs.SetFaultFilter(func(_ netip.Addr, remote netip.AddrPort, _ bool) bool { return remote.Addr() == saddrs[0] })
				})
				_ = cs.Close()
				_ = ss.Close()
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "failover-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

package socktest_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/usock/usock/sock"
	"github.com/usock/usock/socktest"
)

// appTimers are an application's telecom-style timers (RFC 9260 section 16
// leaves them to the deployment): RTO.Initial 100 ms, RTO.Min 10 ms,
// RTO.Max 1 s, HB.interval 100 ms.
var appTimers = []sock.EndpointOption{
	sock.WithRTOInitial(100 * time.Millisecond), sock.WithRTOMin(10 * time.Millisecond),
	sock.WithRTOMax(time.Second), sock.WithHeartbeatInterval(100 * time.Millisecond),
}

// failover is an application's failover scenario on n: two hosts with two
// addresses each, an association between them, the primary path cut. It
// returns what the application saw, in order, and how long after the cut
// its message arrived over the other path.
func failover(ctx context.Context, n *socktest.Network) (seen []string, took time.Duration, err error) {
	a1, a2 := netip.MustParseAddr("10.0.1.1"), netip.MustParseAddr("10.0.2.1")
	b1, b2 := netip.MustParseAddr("10.0.1.2"), netip.MustParseAddr("10.0.2.2")
	client := n.AddHost("client", a1, a2).Stack()
	server := n.AddHost("server", b1, b2).Stack()

	sep, err := server.NewEndpoint([]netip.Addr{b1, b2}, 3868, append(appTimers, sock.AcceptMax(1))...)
	if err != nil {
		return nil, 0, err
	}
	cep, err := client.NewEndpoint([]netip.Addr{a1, a2}, 3868, appTimers...)
	if err != nil {
		return nil, 0, err
	}
	assoc, err := cep.Connect(ctx, []netip.Addr{b1, b2}, 3868)
	if err != nil {
		return nil, 0, err
	}
	// waitFor returns the client's next event of type typ on path.
	waitFor := func(typ sock.EventType, path netip.Addr) error {
		for {
			ev, err := cep.Event(ctx)
			if err != nil {
				return fmt.Errorf("waiting for %v %v: %w", typ, path, err)
			}
			if ev.Type == typ && ev.Path == path {
				seen = append(seen, fmt.Sprintf("event: %v %v", ev.Type, ev.Path))
				return nil
			}
		}
	}
	exchange := func(text string) error {
		if err := assoc.Send(ctx, []byte(text), sock.SendInfo{}); err != nil {
			return err
		}
		m, err := sep.Recv(ctx)
		if err != nil {
			return err
		}
		seen = append(seen, fmt.Sprintf("server received %q", m.Payload))
		return nil
	}

	if err := waitFor(sock.EventPathConfirmed, b2); err != nil {
		return nil, 0, err
	}
	if err := exchange("before the cut"); err != nil {
		return nil, 0, err
	}
	n.Between(netip.PrefixFrom(a1, 32), netip.PrefixFrom(b1, 32)).Cut(true)
	cut := time.Now()
	seen = append(seen, "cut 10.0.1.1 <-> 10.0.1.2")
	if err := exchange("after the cut"); err != nil {
		return nil, 0, err
	}
	took = time.Since(cut)
	if err := waitFor(sock.EventPrimaryChanged, b2); err != nil {
		return nil, 0, err
	}
	if err := waitFor(sock.EventPathDown, b1); err != nil {
		return nil, 0, err
	}
	return seen, took, nil
}

// An application's failover test. Example functions get no *testing.T, so
// this one runs on the wall clock (socktest.NewNetwork(nil)): in a test,
// run it in synctest.Test with the bubble's t, as
// TestFailoverInSimulatedTime does, and the same failover takes simulated
// milliseconds and can be held to exact bounds.
func Example() {
	n := socktest.NewNetwork(nil)
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen, _, err := failover(ctx, n)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range seen {
		fmt.Println(s)
	}
	// Output:
	// event: path confirmed 10.0.2.2
	// server received "before the cut"
	// cut 10.0.1.1 <-> 10.0.1.2
	// server received "after the cut"
	// event: primary changed 10.0.2.2
	// event: path down 10.0.1.2
}

// TestFailoverInSimulatedTime runs the Example's scenario in a synctest
// bubble: the application sees the same things, its message arrives
// within RTO.Initial of the cut (with a PF threshold of 0 the first T3
// expiry moves the data to the other path, RFC 7829 section 5.1 and RFC
// 9260 section 6.4.1), and the seconds of retransmissions before the path
// is declared down (Path.Max.Retrans, section 8.2) cost no wall time.
func TestFailoverInSimulatedTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := socktest.NewNetwork(t)
		start := time.Now()
		seen, took, err := failover(t.Context(), n)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"event: path confirmed 10.0.2.2",
			`server received "before the cut"`,
			"cut 10.0.1.1 <-> 10.0.1.2",
			`server received "after the cut"`,
			"event: primary changed 10.0.2.2",
			"event: path down 10.0.1.2",
		}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Fatalf("saw %q, want %q", seen, want)
		}
		if took > 100*time.Millisecond {
			t.Errorf("the message took %v after the cut, more than RTO.Initial (100 ms)", took)
		}
		t.Logf("failover %v, path down after %v (simulated)", took, time.Since(start))
	})
}

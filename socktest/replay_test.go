package socktest_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/cryptotest"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/sock"
	"github.com/usock/usock/socktest"
)

// telecom are short timers, so that a failover takes simulated
// milliseconds.
func telecom() []sock.EndpointOption {
	return []sock.EndpointOption{
		sock.WithRTOMin(10 * time.Millisecond), sock.WithRTOInitial(100 * time.Millisecond), sock.WithRTOMax(time.Second),
		sock.WithHeartbeatInterval(100 * time.Millisecond),
	}
}

// entry is one thing a scenario saw, at a simulated time since its start.
type entry struct {
	at   time.Duration
	what string
}

// canonical orders entries by time, and the ones at one instant by text:
// within one simulated instant the stack's goroutines (a timer, a packet
// arriving) may run in either order, so only the set of things at each
// instant is reproducible, not their order.
func canonical(log []entry) []string {
	slices.SortStableFunc(log, func(a, b entry) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return strings.Compare(a.what, b.what)
	})
	out := make([]string, len(log))
	for i, e := range log {
		out[i] = fmt.Sprintf("%v %s", e.at, e.what)
	}
	return out
}

// failoverScenario runs, in a bubble, an association over two paths, the
// second losing 20% of its packets, then cuts the first (and ends the
// loss) halfway through a stream of messages. It returns what the
// client's endpoint saw (events) and the server received (messages), with
// their simulated times since the start.
func failoverScenario(t *testing.T, seed uint64) []string {
	var log []entry
	synctest.Test(t, func(t *testing.T) {
		cryptotest.SetGlobalRandom(t, seed)
		start := time.Now()
		n := socktest.NewNetwork(t, socktest.WithSeed(seed))
		sa := n.AddHost("a", a1, a2).Stack()
		sb := n.AddHost("b", b1, b2).Stack()
		sep, err := sb.NewEndpoint([]netip.Addr{b1, b2}, 5000, append(telecom(), sock.AcceptMax(1))...)
		require.NoError(t, err)
		cep, err := sa.NewEndpoint([]netip.Addr{a1, a2}, 5001, telecom()...)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var mu sync.Mutex
		record := func(s string) {
			mu.Lock()
			defer mu.Unlock()
			log = append(log, entry{time.Since(start), s})
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		wg.Go(func() {
			for {
				ev, err := cep.Event(ctx)
				if err != nil {
					return
				}
				record(fmt.Sprintf("event %v %v", ev.Type, ev.Path))
			}
		})
		// Set before Connect: a setting changed while packets fly applies
		// from a point that goroutine scheduling decides.
		lossy := n.Between(socktest.DefaultPrefix, netip.PrefixFrom(b2, 32))
		lossy.SetLoss(0.2)
		client, err := cep.Connect(ctx, []netip.Addr{b1, b2}, 5000)
		require.NoError(t, err)
		time.Sleep(time.Second)
		const msgs = 200
		wg.Go(func() {
			for i := range msgs {
				if i == msgs/2 {
					n.Between(netip.PrefixFrom(a1, 32), netip.PrefixFrom(b1, 32)).Cut(true)
					lossy.SetLoss(0)
					record("cut")
				}
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], uint32(i))
				if err := client.Send(ctx, b[:], sock.SendInfo{}); err != nil {
					t.Errorf("send %d: %v", i, err)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
		for i := range msgs {
			m, err := sep.Recv(ctx)
			require.NoError(t, err)
			require.Equal(t, uint32(i), binary.BigEndian.Uint32(m.Payload), "in order, once")
			record(fmt.Sprintf("message %d", i))
		}
		time.Sleep(time.Second)
		c := n.Counters()
		t.Logf("counters %+v", c)
		require.NotZero(t, c.Lost, "the loss is on")
	})
	return canonical(log)
}

// TestReplay: the same scenario with the same seeds, in two bubbles, gives
// the same events and deliveries at the same simulated instants (the
// heartbeats lost on the second path, the failover, the path's failure);
// another seed gives another run.
func TestReplay(t *testing.T) {
	first := failoverScenario(t, 11)
	second := failoverScenario(t, 11)
	require.Equal(t, first, second)
	require.Contains(t, fmt.Sprint(first), "event path down 10.0.1.2", "the scenario fails over")
	require.NotEqual(t, first, failoverScenario(t, 12))
	for _, l := range first {
		t.Log(l)
	}
}

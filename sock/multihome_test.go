package sock_test

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/sock"
)

// tuned is the telecom-style setting of the multi-homing tests.
func tuned() []sock.EndpointOption {
	return []sock.EndpointOption{
		sock.WithRTOMin(10 * time.Millisecond), sock.WithRTOInitial(100 * time.Millisecond), sock.WithRTOMax(time.Second),
		sock.WithHeartbeatInterval(100 * time.Millisecond), sock.WithPFThreshold(0),
	}
}

// mhPair connects a two-address client on host A to a two-address server on
// host B and waits until both sides have confirmed both paths.
func mhPair(t *testing.T, w *testkit.World, opts ...sock.EndpointOption) (client, server *sock.Association, cep, sep *sock.Endpoint) {
	t.Helper()
	p := w.Connect(t, opts...)
	for _, a := range []*sock.Association{p.Client, p.Server} {
		for _, pa := range a.Paths() {
			require.Equal(t, sock.PathActive, pa.State, "%v", pa)
		}
	}
	return p.Client, p.Server, p.ClientEP, p.ServerEP
}

func TestMultihomePathsConfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := testkit.NewWorld(t, vnetSeed)
		client, server, _, _ := mhPair(t, w, tuned()...)
		paths := client.Paths()
		require.Len(t, paths, 2)
		require.True(t, paths[0].Primary)
		require.Equal(t, testkit.A2, paths[1].Local, "sent from the address on the peer's network")
		require.NotZero(t, paths[1].HeartbeatsAcked)
		require.Len(t, server.Paths(), 2)
	})
}

// stream sends n ordered messages (numbered) at one per interval and
// returns when all are queued; recvAll checks they arrive once, in order.
func streamMessages(t *testing.T, a *sock.Association, n int, interval time.Duration, onSent func(i int)) {
	ctx := context.Background()
	for i := range n {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		if err := a.Send(ctx, b[:], sock.SendInfo{Stream: 1}); err != nil {
			t.Errorf("send %d: %v", i, err)
			return
		}
		if onSent != nil {
			onSent(i)
		}
		time.Sleep(interval)
	}
}

type arrival struct {
	seq  int
	at   time.Time
	path netip.Addr
}

func recvAll(t *testing.T, ep *sock.Endpoint, n int) []arrival {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out []arrival
	for len(out) < n {
		m, err := ep.Recv(ctx)
		require.NoError(t, err, "after %d messages", len(out))
		seq := int(binary.BigEndian.Uint64(m.Payload))
		require.Equal(t, len(out), seq, "exactly once and in order")
		out = append(out, arrival{seq: seq, at: m.Time})
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	_, err := ep.Recv(ctx2)
	require.ErrorIs(t, err, context.DeadlineExceeded, "nothing delivered twice")
	return out
}

func TestFailoverNothingLost(t *testing.T) {
	for _, c := range []struct {
		name  string
		opts  []sock.EndpointOption
		bound func() time.Duration
	}{
		// Tuned: PF threshold 0, so the first T3 expiry on the primary
		// (RTO, at most RTO.Initial as the path measured a near-zero RTT
		// and the RTO sits at RTO.Min) moves the data: bound RTO.Initial.
		{"tuned", tuned(), func() time.Duration { return 100 * time.Millisecond }},
		// Defaults: RTO.Min = RTO.Initial = 1 s: one second, plus the
		// same for the receiver's SACKs, which follow the DATA.
		{"defaults", nil, func() time.Duration { return 2 * sock.DefaultRTOInitial }},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := testkit.NewWorld(t, vnetSeed)
				client, _, _, sep := mhPair(t, w, c.opts...)
				const n = 600
				var cutAt time.Time
				done := make(chan struct{})
				go func() {
					defer close(done)
					streamMessages(t, client, n, 5*time.Millisecond, func(i int) {
						if i == n/2 {
							w.SetCut(1, true)
							cutAt = time.Now()
						}
					})
				}()
				got := recvAll(t, sep, n)
				<-done
				var first time.Time
				for _, a := range got {
					if a.at.After(cutAt) {
						first = a.at
						break
					}
				}
				require.False(t, first.IsZero(), "messages arrived after the cut")
				failover := first.Sub(cutAt)
				t.Logf("%s: cut to first delivery on the other path: %v (bound %v)", c.name, failover, c.bound())
				require.LessOrEqual(t, failover, c.bound())
				paths := client.Paths()
				require.NotEqual(t, sock.PathActive, paths[0].State, "the cut path is no longer active")
				require.True(t, paths[1].InUse, "data moved to the other path")
				require.True(t, paths[0].Primary, "the user's primary is unchanged")
			})
		})
	}
}

func TestPathRestoreSwitchback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := testkit.NewWorld(t, vnetSeed)
		client, _, cep, _ := mhPair(t, w, append(tuned(), sock.WithPrimarySwitchback(true))...)
		w.SetCut(1, true)
		require.NoError(t, client.Send(context.Background(), []byte("x"), sock.SendInfo{}))
		testkit.WaitEvent(t, cep, testkit.FakeWait, testkit.Want{Type: sock.EventPrimaryChanged, Path: testkit.B2})
		w.SetCut(1, false)
		testkit.WaitEvent(t, cep, testkit.FakeWait, testkit.Want{Type: sock.EventPathUp, Path: testkit.B1})
		testkit.WaitEvent(t, cep, testkit.FakeWait, testkit.Want{Type: sock.EventPrimaryChanged, Path: testkit.B1})
		require.True(t, client.Paths()[0].Primary)
		require.Equal(t, sock.PathActive, client.Paths()[0].State)
	})
}

func TestAllPathsCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := testkit.NewWorld(t, vnetSeed)
		client, server, cep, sep := mhPair(t, w, tuned()...)
		w.SetCut(1, true)
		w.SetCut(2, true)
		require.NoError(t, client.Send(context.Background(), []byte("into the void"), sock.SendInfo{}))
		ev := testkit.WaitEvent(t, cep, testkit.FakeWait, testkit.Want{Type: sock.EventDown})
		require.Equal(t, sock.ReasonCommunicationLost, ev.Reason)
		ev = testkit.WaitEvent(t, sep, testkit.FakeWait, testkit.Want{Type: sock.EventDown})
		require.Equal(t, sock.ReasonCommunicationLost, ev.Reason, "the peer finds out by its heartbeats")
		<-client.Done()
		<-server.Done()
	})
}

func TestLossOnOnePath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := testkit.NewWorld(t, vnetSeed)
		client, _, _, sep := mhPair(t, w, tuned()...)
		w.SetLoss(1, 0.2)
		const n = 1000
		go streamMessages(t, client, n, time.Millisecond, nil)
		recvAll(t, sep, n)
	})
}

func TestFlappingPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := testkit.NewWorld(t, vnetSeed)
		client, _, cep, sep := mhPair(t, w, append(tuned(), sock.WithPrimarySwitchback(true))...)
		const n = 2000
		go streamMessages(t, client, n, time.Millisecond, func(i int) {
			if i%50 == 0 {
				w.SetCut(1, i%100 == 0) // 50 ms cut, 50 ms up
			}
		})
		recvAll(t, sep, n)
		w.SetCut(1, false)
		// Data moves only when a path times out (away from it) or answers
		// again (back to it, with switchback): at most one move away and
		// one back per cut, however fast the path flaps.
		changes := 0
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			ev, err := cep.Event(ctx)
			cancel()
			if err != nil {
				break
			}
			if ev.Type == sock.EventPrimaryChanged {
				changes++
			}
		}
		cuts := n / 100
		t.Logf("%d primary changes in %d cuts", changes, cuts)
		require.LessOrEqual(t, changes, 2*cuts+2)
	})
}

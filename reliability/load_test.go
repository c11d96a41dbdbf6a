package reliability

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/sock"
)

// settle collects garbage and returns the goroutine count and heap in use.
func settle() (int, uint64) {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapInuse
}

// TestSlowReaderBoundedHeap: a receiver that does not read makes the
// sender block; while it is blocked, pushing on costs no memory on either
// side (one process: one heap). Then everything arrives in order.
func TestSlowReaderBoundedHeap(t *testing.T) {
	const size = 16 * 1024
	p := testkit.NewLoopPair(t, sock.WithRecvQueue(64), sock.WithReceiveBuffer(256*1024))
	_, h0 := settle()
	sent := 0
	blocked := 0
	msg := make([]byte, size)
	// Try to push 256 MiB; the sender must block long before.
	for sent < 256<<20/size && blocked < 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		binary.BigEndian.PutUint32(msg, uint32(sent))
		err := p.Client.Send(ctx, msg, sock.SendInfo{Stream: 1})
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			blocked++
			continue
		}
		require.NoError(t, err)
		sent++
	}
	require.Equal(t, 10, blocked, "the sender blocked")
	_, h1 := settle()
	grown := int64(h1) - int64(h0)
	t.Logf("sender blocked after %d messages of %d bytes (%d KiB); heap in use %d -> %d KiB (%+d KiB)",
		sent, size, sent*size/1024, h0/1024, h1/1024, grown/1024)
	// The bound: the receive queue (64 messages), the two windows and
	// pion's buffers: a few MiB; 32 MiB of slack, far below what an
	// unbounded sender would hold.
	require.Less(t, grown, int64(32<<20))
	require.Less(t, sent*size, 32<<20, "the sender blocked within bounded memory")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range sent {
		m, err := p.Listener.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, uint32(i), binary.BigEndian.Uint32(m.Payload))
	}
}

// TestAssociationChurn: many associations opened, used for one message and
// closed, in concurrent batches; goroutines and heap come back.
func TestAssociationChurn(t *testing.T) {
	total, batch := 10_000, 100
	if testing.Short() {
		total, batch = 500, 50
	} else if raceEnabled {
		total = 3_000 // the race detector makes each handshake ~10x dearer
	}
	server := testkit.NewStack(t)
	client := testkit.NewStack(t)
	listener, err := server.NewEndpoint(nil, 0, sock.AcceptMax(2*batch))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var received atomic.Int64
	rctx, rcancel := context.WithCancel(ctx)
	var rwg sync.WaitGroup
	rwg.Go(func() {
		for {
			m, err := listener.Recv(rctx)
			if err != nil {
				return
			}
			if string(m.Payload) == "churn" {
				received.Add(1)
			}
		}
	})
	// Events pile up otherwise; drain them.
	rwg.Go(func() {
		for {
			if _, err := listener.Event(rctx); err != nil {
				return
			}
		}
	})
	one := func() error {
		ep, err := client.NewEndpoint(nil, 0)
		if err != nil {
			return err
		}
		defer ep.Close()
		a, err := ep.Connect(ctx, []netip.Addr{testkit.Lo4}, listener.Port(), sock.WithRemoteUDPPort(server.UDPPort()))
		if err != nil {
			return err
		}
		if err := a.Send(ctx, []byte("churn"), sock.SendInfo{}); err != nil {
			return err
		}
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		defer scancel()
		return a.Shutdown(sctx)
	}
	// Warm up once so that lazily made things exist before the baseline.
	require.NoError(t, one())
	require.Eventually(t, func() bool { return received.Load() == 1 }, 10*time.Second, time.Millisecond)
	g0, h0 := settle()
	start := time.Now()
	for done := 0; done < total; done += batch {
		var wg sync.WaitGroup
		errs := make(chan error, batch)
		for range batch {
			wg.Go(func() {
				if err := one(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "after %d associations", done)
		}
	}
	require.Eventually(t, func() bool { return received.Load() == int64(total+1) }, 30*time.Second, 10*time.Millisecond,
		"every association's message arrives")
	require.Eventually(t, func() bool { return len(listener.Associations()) == 0 }, 30*time.Second, 10*time.Millisecond)
	var g1 int
	var h1 uint64
	require.Eventually(t, func() bool {
		g1, h1 = settle()
		return g1 <= g0+5
	}, 10*time.Second, 50*time.Millisecond, "goroutines back near the start")
	t.Logf("%d associations in %v; goroutines %d -> %d; heap in use %d -> %d KiB", total, time.Since(start).Round(time.Millisecond), g0, g1, h0/1024, h1/1024)
	require.Less(t, int64(h1)-int64(h0), int64(16<<20), "heap back near the start")
	rcancel()
	rwg.Wait()
}

// TestCloseRaces: Close, Shutdown and Abort (of the association, the
// endpoint, the stack) racing with Send and Recv from many goroutines: no
// panic, no deadlock (everything returns within its context), nothing
// left behind.
func TestCloseRaces(t *testing.T) {
	rounds := 24
	if testing.Short() {
		rounds = 8
	}
	rng := rand.New(rand.NewPCG(0xc105e, 1))
	closers := []string{"assoc.Close", "assoc.Abort", "assoc.Shutdown", "peer.Shutdown", "ep.Close", "ep.Shutdown", "peer ep.Close", "stack.Close"}
	for round := range rounds {
		closer := closers[round%len(closers)]
		delay := time.Duration(rng.IntN(20)) * time.Millisecond
		t.Run(fmt.Sprintf("%d-%s", round, closer), func(t *testing.T) {
			p := testkit.NewLoopPair(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for i := range 8 {
				a := p.Client
				if i%2 == 1 {
					a = p.Server
				}
				wg.Go(func() {
					for j := 0; ctx.Err() == nil; j++ {
						sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
						err := a.Send(sctx, []byte(fmt.Sprintf("m%d-%d", i, j)), sock.SendInfo{Stream: uint16(i % 4), Unordered: j%3 == 0})
						scancel()
						if err != nil {
							return
						}
					}
				})
			}
			for _, ep := range []*sock.Endpoint{p.Listener, p.Dialer, p.Listener, p.Dialer} {
				wg.Go(func() {
					for {
						rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
						_, err := ep.Recv(rctx)
						rcancel()
						if err != nil {
							return
						}
					}
				})
			}
			wg.Go(func() {
				for {
					ectx, ecancel := context.WithTimeout(ctx, 2*time.Second)
					_, err := p.Dialer.Event(ectx)
					ecancel()
					if err != nil {
						return
					}
				}
			})
			time.Sleep(delay)
			// The closer and a second one at once.
			var cwg sync.WaitGroup
			for _, c := range []string{closer, closers[(round+3)%len(closers)]} {
				cwg.Go(func() {
					sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
					defer scancel()
					switch c {
					case "assoc.Close":
						_ = p.Client.Close()
					case "assoc.Abort":
						p.Client.Abort("race")
					case "assoc.Shutdown":
						_ = p.Client.Shutdown(sctx)
					case "peer.Shutdown":
						_ = p.Server.Shutdown(sctx)
					case "ep.Close":
						_ = p.Dialer.Close()
					case "ep.Shutdown":
						_ = p.Dialer.Shutdown(sctx)
					case "peer ep.Close":
						_ = p.Listener.Close()
					case "stack.Close":
						_ = p.ClientStack.Close()
					}
				})
			}
			cwg.Wait()
			// Whatever the closer did, the association on both sides ends.
			p.Client.Abort("end")
			p.Server.Abort("end")
			_ = p.Dialer.Close()
			_ = p.Listener.Close()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				buf := make([]byte, 1<<20)
				t.Fatalf("senders/receivers stuck after close:\n%s", buf[:runtime.Stack(buf, true)])
			}
			<-p.Client.Done()
			<-p.Server.Done()
		})
	}
}

// TestVanishingPeer: all paths cut; both sides give up after the
// configured limits, every association is gone and the goroutines come
// back.
func TestVanishingPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := testkit.NewWorld(t, baseSeed(t))
		opts := append(tuned(), sock.WithPathMaxRetrans(2), sock.WithAssociationMaxRetrans(4))
		synctest.Wait() // the world settled: its goroutines started
		g0 := testkit.BubbleGoroutines(t)
		p := w.Connect(t, opts...)
		ctx := context.Background()
		for i := range 50 {
			require.NoError(t, p.Client.Send(ctx, []byte{byte(i)}, sock.SendInfo{Stream: uint16(i % numStreams)}))
			_, err := p.ServerEP.Recv(ctx)
			require.NoError(t, err)
		}
		gUp := testkit.BubbleGoroutines(t)
		cut := time.Now()
		w.SetCut(1, true)
		w.SetCut(2, true)
		// Data in flight on the client; the server is idle (heartbeats).
		require.NoError(t, p.Client.Send(ctx, []byte("into the void"), sock.SendInfo{}))
		ev := testkit.WaitEvent(t, p.ClientEP, testkit.FakeWait, testkit.Want{Type: sock.EventDown})
		require.Equal(t, sock.ReasonCommunicationLost, ev.Reason)
		clientDown := time.Since(cut)
		ev = testkit.WaitEvent(t, p.ServerEP, testkit.FakeWait, testkit.Want{Type: sock.EventDown})
		require.Equal(t, sock.ReasonCommunicationLost, ev.Reason)
		serverDown := time.Since(cut)
		<-p.Client.Done()
		<-p.Server.Done()
		// Association.Max.Retrans 4 timeouts at most RTO.Max (1 s) apart,
		// plus an HB interval: the bound with room for jitter.
		bound := 5*time.Second + 5*100*time.Millisecond
		t.Logf("down after %v (client) and %v (server); bound %v", clientDown, serverDown, bound)
		require.LessOrEqual(t, clientDown, bound)
		require.LessOrEqual(t, serverDown, bound)
		require.Empty(t, p.ClientEP.Associations())
		require.Empty(t, p.ServerEP.Associations())
		require.ErrorIs(t, p.Client.Send(ctx, []byte("x"), sock.SendInfo{}), sock.ErrClosed)
		time.Sleep(time.Second)
		synctest.Wait()
		g1 := testkit.BubbleGoroutines(t)
		t.Logf("goroutines: %d before, %d up, %d after", g0, gUp, g1)
		// The stacks' socket readers (two addresses on each of two
		// stacks) started with the first endpoints and live with the
		// stacks; everything of the association is gone.
		require.LessOrEqual(t, g1, g0+4, "every goroutine of the association ended")
		require.NoError(t, p.ClientEP.Close())
		require.NoError(t, p.ServerEP.Close())
	})
}

// Command soak runs multi-homed associations on loopback for a long time
// under random loss and random path cuts (the stack's fault filter) and
// checks every message: numbered per stream, each carries a checksum; the
// receiver counts duplicates, out-of-order deliveries and, once everything
// is drained at the end, messages lost (accepted by Send, never delivered).
// It exits non-zero on any loss, duplicate, out-of-order delivery,
// corrupted payload or association lost.
//
//	go run ./bench/soak -duration 10m -associations 8 -loss 0.02 -cut-interval 5s
//
// The server's addresses are 127.0.0.1 and 127.0.0.2, the client's
// 127.0.0.3 and 127.0.0.4 (Linux routes all of 127.0.0.0/8 to loopback).
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usock/usock/sock"
)

// Config is a soak run's setting.
type Config struct {
	Duration     time.Duration
	Associations int
	Streams      int
	Seed         uint64
	Loss         float64       // share of packets the fault filter drops
	CutInterval  time.Duration // 0: no cuts
	Rate         int           // messages per second per association
	Progress     time.Duration
	Drain        time.Duration
}

// Summary is what a run found.
type Summary struct {
	Sent, Delivered, Duplicates, OutOfOrder, Lost, Corrupt uint64
	Failovers, Cuts, FaultDrops                            uint64
	AssociationsLost                                       uint64
	// Unconfirmed counts messages delivered whose Send had returned an
	// error (a context cancelled at the end of the run): not a loss, but
	// worth knowing (see the report on Association.Send).
	Unconfirmed               uint64
	MaxHeap                   uint64
	Goroutines, GoroutinesEnd int
	Elapsed                   time.Duration
}

// OK says whether the run found nothing wrong.
func (s Summary) OK() bool {
	return s.Lost == 0 && s.Duplicates == 0 && s.OutOfOrder == 0 && s.Corrupt == 0 && s.AssociationsLost == 0 && s.Sent > 0
}

func (s Summary) String() string {
	return fmt.Sprintf("elapsed %v: sent %d delivered %d duplicates %d out-of-order %d lost %d corrupt %d; "+
		"failovers %d cuts %d fault drops %d associations lost %d; delivered after a failed Send %d; max heap %.1f MiB goroutines %d (end %d)",
		s.Elapsed.Round(time.Second), s.Sent, s.Delivered, s.Duplicates, s.OutOfOrder, s.Lost, s.Corrupt,
		s.Failovers, s.Cuts, s.FaultDrops, s.AssociationsLost, s.Unconfirmed, float64(s.MaxHeap)/(1<<20), s.Goroutines, s.GoroutinesEnd)
}

var (
	server1 = netip.MustParseAddr("127.0.0.1")
	server2 = netip.MustParseAddr("127.0.0.2")
	client1 = netip.MustParseAddr("127.0.0.3")
	client2 = netip.MustParseAddr("127.0.0.4")
)

// bitmap records which sequence numbers arrived.
type bitmap []uint64

func (b *bitmap) testAndSet(i uint64) bool {
	w := i / 64
	for uint64(len(*b)) <= w {
		*b = append(*b, 0)
	}
	was := (*b)[w]&(1<<(i%64)) != 0
	(*b)[w] |= 1 << (i % 64)
	return was
}

// streamState is one stream of one association, at the receiver.
type streamState struct {
	seen      bitmap
	next      uint64
	delivered uint64
}

type soak struct {
	cfg     Config
	out     io.Writer
	sent    [][]atomic.Uint64 // [assoc][stream]: messages Send accepted
	mu      sync.Mutex
	recv    [][]streamState
	sum     Summary
	maxHeap atomic.Uint64

	fmu  sync.Mutex
	rng  *rand.Rand
	cut  [3]bool // by server path 1, 2
	loss float64
}

// message: assoc (4) | stream (2) | seq (8) | filler | crc32 (4).
func message(rng *rand.Rand, assoc, stream int, seq uint64) []byte {
	n := 18 + rng.IntN(300)
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b, uint32(assoc))
	binary.BigEndian.PutUint16(b[4:], uint16(stream))
	binary.BigEndian.PutUint64(b[6:], seq)
	for i := 14; i < n-4; i++ {
		b[i] = byte(rng.Uint32())
	}
	binary.BigEndian.PutUint32(b[n-4:], crc32.ChecksumIEEE(b[:n-4]))
	return b
}

func (s *soak) filter(local netip.Addr, remote netip.AddrPort, inbound bool) bool {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	path := 0
	switch remote.Addr() {
	case server1:
		path = 1
	case server2:
		path = 2
	}
	if s.cut[path] {
		return true
	}
	return s.loss > 0 && s.rng.Float64() < s.loss
}

func (s *soak) receive(m sock.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := m.Payload
	if len(b) < 18 || crc32.ChecksumIEEE(b[:len(b)-4]) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		s.sum.Corrupt++
		return
	}
	a, st, seq := int(binary.BigEndian.Uint32(b)), int(binary.BigEndian.Uint16(b[4:])), binary.BigEndian.Uint64(b[6:])
	if a >= len(s.recv) || st >= len(s.recv[a]) || int(m.Stream) != st {
		s.sum.Corrupt++
		return
	}
	ss := &s.recv[a][st]
	if ss.seen.testAndSet(seq) {
		s.sum.Duplicates++
		return
	}
	ss.delivered++
	s.sum.Delivered++
	if seq != ss.next {
		s.sum.OutOfOrder++
	}
	ss.next = max(ss.next, seq+1)
}

func (s *soak) totals() (sent, delivered uint64) {
	for a := range s.sent {
		for st := range s.sent[a] {
			sent += s.sent[a][st].Load()
		}
	}
	s.mu.Lock()
	delivered = s.sum.Delivered
	s.mu.Unlock()
	return sent, delivered
}

func (s *soak) sampleHeap() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for {
		old := s.maxHeap.Load()
		if ms.HeapInuse <= old || s.maxHeap.CompareAndSwap(old, ms.HeapInuse) {
			return
		}
	}
}

// Run runs a soak and returns its summary.
func Run(ctx context.Context, cfg Config, out io.Writer) (Summary, error) {
	if cfg.Associations < 1 || cfg.Streams < 1 || cfg.Rate < 1 {
		return Summary{}, errors.New("associations, streams and rate must be at least 1")
	}
	start := time.Now()
	s := &soak{cfg: cfg, out: out, rng: rand.New(rand.NewPCG(cfg.Seed, 0x50a4)), loss: cfg.Loss}
	s.sent = make([][]atomic.Uint64, cfg.Associations)
	s.recv = make([][]streamState, cfg.Associations)
	for i := range cfg.Associations {
		s.sent[i] = make([]atomic.Uint64, cfg.Streams)
		s.recv[i] = make([]streamState, cfg.Streams)
	}
	g0 := runtime.NumGoroutine()

	server, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		return Summary{}, err
	}
	defer server.Close()
	client, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		return Summary{}, err
	}
	defer client.Close()
	opts := []sock.EndpointOption{
		sock.WithRTOMin(10 * time.Millisecond), sock.WithRTOInitial(100 * time.Millisecond), sock.WithRTOMax(time.Second),
		sock.WithHeartbeatInterval(100 * time.Millisecond), sock.WithStreams(cfg.Streams, cfg.Streams),
		// Random loss on the surviving path while the other is cut must
		// not end the association: room for many consecutive timeouts.
		sock.WithAssociationMaxRetrans(30),
	}
	sep, err := server.NewEndpoint([]netip.Addr{server1, server2}, 0, append(opts, sock.AcceptMax(cfg.Associations))...)
	if err != nil {
		return Summary{}, fmt.Errorf("server endpoint (needs 127.0.0.2 on loopback): %w", err)
	}
	client.SetFaultFilter(s.filter)

	var wg sync.WaitGroup
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	// The receiver.
	wg.Go(func() {
		for {
			m, err := sep.Recv(runCtx)
			if err != nil {
				return
			}
			s.receive(m)
		}
	})
	var failovers, lostAssocs atomic.Uint64
	var closing atomic.Bool
	watch := func(ep *sock.Endpoint) {
		wg.Go(func() {
			for {
				ev, err := ep.Event(runCtx)
				if err != nil {
					return
				}
				switch ev.Type {
				case sock.EventPrimaryChanged:
					failovers.Add(1)
				case sock.EventDown:
					if ev.Reason == sock.ReasonCommunicationLost || ev.Reason == sock.ReasonAbortedByPeer {
						if closing.Load() {
							fmt.Fprintf(out, "during the final shutdown: %v\n", ev)
						} else {
							lostAssocs.Add(1)
							fmt.Fprintf(out, "%v: association lost: %v\n", time.Since(start).Round(time.Millisecond), ev)
						}
					}
				}
			}
		})
	}
	watch(sep)
	assocs := make([]*sock.Association, cfg.Associations)
	for i := range cfg.Associations {
		cep, err := client.NewEndpoint([]netip.Addr{client1, client2}, 0, opts...)
		if err != nil {
			return Summary{}, err
		}
		defer cep.Close()
		watch(cep)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		assocs[i], err = cep.Connect(cctx, []netip.Addr{server1, server2}, sep.Port(), sock.WithRemoteUDPPort(server.UDPPort()))
		cancel()
		if err != nil {
			return Summary{}, fmt.Errorf("association %d: %w", i, err)
		}
	}

	// Senders: Rate messages a second, round robin over the streams.
	sendCtx, stopSend := context.WithCancel(runCtx)
	var swg sync.WaitGroup
	for i, a := range assocs {
		swg.Go(func() {
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			perTick := max(1, cfg.Rate/100)
			st := 0
			for {
				select {
				case <-sendCtx.Done():
					return
				case <-tick.C:
				}
				for range perTick {
					seq := s.sent[i][st].Load()
					if err := a.Send(sendCtx, message(rng, i, st, seq), sock.SendInfo{Stream: uint16(st), PPID: 46}); err != nil {
						if sendCtx.Err() == nil {
							fmt.Fprintf(out, "association %d: send: %v\n", i, err)
						}
						return
					}
					s.sent[i][st].Add(1)
					st = (st + 1) % cfg.Streams
				}
			}
		})
	}
	// Cuts: every CutInterval, cut one path at random or restore.
	var cuts atomic.Uint64
	if cfg.CutInterval > 0 {
		swg.Go(func() {
			tick := time.NewTicker(cfg.CutInterval)
			defer tick.Stop()
			for {
				select {
				case <-sendCtx.Done():
					return
				case <-tick.C:
				}
				s.fmu.Lock()
				if s.cut[1] || s.cut[2] {
					s.cut = [3]bool{}
				} else {
					s.cut[1+s.rng.IntN(2)] = true
					cuts.Add(1)
				}
				s.fmu.Unlock()
			}
		})
	}
	progress := time.NewTicker(cfg.Progress)
	defer progress.Stop()
	deadline := time.NewTimer(cfg.Duration)
	defer deadline.Stop()
	heapTick := time.NewTicker(time.Second)
	defer heapTick.Stop()
	report := func(what string) {
		sent, delivered := s.totals()
		s.mu.Lock()
		dup, ooo, bad := s.sum.Duplicates, s.sum.OutOfOrder, s.sum.Corrupt
		s.mu.Unlock()
		fmt.Fprintf(out, "%s %v: sent %d delivered %d duplicates %d out-of-order %d corrupt %d failovers %d cuts %d fault drops %d heap %.1f MiB goroutines %d\n",
			what, time.Since(start).Round(time.Second), sent, delivered, dup, ooo, bad, failovers.Load(), cuts.Load(),
			client.Stats().FaultDrops, float64(s.maxHeap.Load())/(1<<20), runtime.NumGoroutine())
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-deadline.C:
			break loop
		case <-heapTick.C:
			s.sampleHeap()
		case <-progress.C:
			report("progress")
		}
	}
	stopSend()
	swg.Wait()
	// Drain: the network heals; everything Send took must arrive.
	s.fmu.Lock()
	s.cut = [3]bool{}
	s.loss = 0
	s.fmu.Unlock()
	drainEnd := time.Now().Add(cfg.Drain)
	for time.Now().Before(drainEnd) {
		sent, delivered := s.totals()
		if delivered >= sent {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // late duplicates
	s.sampleHeap()
	goroutines := runtime.NumGoroutine()
	report("drained")
	closing.Store(true)
	for _, a := range assocs {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		t0 := time.Now()
		if err := a.Shutdown(sctx); err != nil {
			fmt.Fprintf(out, "shutdown of %v after %v: %v\n", a, time.Since(t0).Round(time.Millisecond), err)
		}
		cancel()
	}
	stop()
	wg.Wait()

	s.mu.Lock()
	sum := s.sum
	s.mu.Unlock()
	for a := range s.sent {
		for st := range s.sent[a] {
			if n, d := s.sent[a][st].Load(), s.recv[a][st].delivered; n > d {
				sum.Lost += n - d
			} else {
				sum.Unconfirmed += d - n
			}
			sum.Sent += s.sent[a][st].Load()
		}
	}
	sum.Failovers = failovers.Load()
	sum.Cuts = cuts.Load()
	sum.FaultDrops = client.Stats().FaultDrops
	sum.AssociationsLost = lostAssocs.Load()
	sum.MaxHeap = s.maxHeap.Load()
	sum.Goroutines = goroutines
	_ = client.Close()
	_ = server.Close()
	time.Sleep(100 * time.Millisecond)
	sum.GoroutinesEnd = runtime.NumGoroutine() - g0
	sum.Elapsed = time.Since(start)
	return sum, nil
}

func main() {
	var cfg Config
	flag.DurationVar(&cfg.Duration, "duration", time.Minute, "how long to send")
	flag.IntVar(&cfg.Associations, "associations", 4, "associations, each with its own client endpoint")
	flag.IntVar(&cfg.Streams, "streams", 4, "ordered streams per association")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of the loss, the cuts and the payloads")
	flag.Float64Var(&cfg.Loss, "loss", 0.01, "share of packets dropped (both directions, both paths)")
	flag.DurationVar(&cfg.CutInterval, "cut-interval", 5*time.Second, "every interval, cut one path at random or restore it (0: never)")
	flag.IntVar(&cfg.Rate, "rate", 1000, "messages per second per association")
	flag.DurationVar(&cfg.Progress, "progress", 10*time.Second, "progress line interval")
	flag.DurationVar(&cfg.Drain, "drain", time.Minute, "how long to wait at the end for everything sent to arrive")
	flag.Parse()
	if cfg.Loss < 0 || cfg.Loss >= 1 {
		fmt.Fprintln(os.Stderr, "soak: -loss must be in [0, 1)")
		os.Exit(2)
	}
	fmt.Printf("soak: duration %v associations %d streams %d seed %d loss %.3f cut-interval %v rate %d/s\n",
		cfg.Duration, cfg.Associations, cfg.Streams, cfg.Seed, cfg.Loss, cfg.CutInterval, cfg.Rate)
	sum, err := Run(context.Background(), cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	fmt.Println("summary:", sum)
	if !sum.OK() {
		fmt.Println("FAIL")
		os.Exit(1)
	}
	fmt.Println("OK")
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/usock/usock/bench/internal/harness"
	"github.com/usock/usock/sock"
)

// spec tells a worker process (this binary re-executed with "worker" as
// its first argument) what to do.
type spec struct {
	Role   string `json:"role"` // server, client, memserver, memclient, pionmem, failover
	Sys    string `json:"sys"`  // usock, usocknb, usock1p, pion, tcp, udp
	Mode   string `json:"mode,omitempty"`
	Test   string `json:"test,omitempty"` // tput, rtt, hs
	Size   int    `json:"size,omitempty"`
	PS     int    `json:"ps,omitempty"`
	Dur    int64  `json:"dur_ns,omitempty"`
	Warmup int64  `json:"warmup_ns,omitempty"`
	Par    int    `json:"par,omitempty"`
	N      int    `json:"n,omitempty"`
	// the server: its UDP port and SCTP port (or TCP/UDP port)
	UDP  uint16 `json:"udp,omitempty"`
	Port uint16 `json:"port,omitempty"`
	// pion over connected UDP: the client's UDP port, chosen beforehand
	Peer    uint16 `json:"peer,omitempty"`
	Setting string `json:"setting,omitempty"` // failover: defaults or tuned
}

// stackOptions are the stack options of this stack's systems: "usocknb"
// is "usock" without batched UDP I/O, to show what batching does.
func (s spec) stackOptions() []sock.StackOption {
	if s.Sys == "usocknb" {
		return []sock.StackOption{sock.WithUDPBatching(false)}
	}
	return nil
}

// ready is a server's first line.
type ready struct {
	UDP  uint16 `json:"udp"`
	Port uint16 `json:"port"`
}

// memStat is a server's answer to "mem".
type memStat struct {
	Bytes      uint64 `json:"bytes"` // heap and stacks in use
	Stack      uint64 `json:"stack"` // stacks in use
	Goroutines int    `json:"goroutines"`
}

func worker(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "worker: want one JSON argument")
		return 2
	}
	var s spec
	if err := json.Unmarshal([]byte(args[0]), &s); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	if dir := os.Getenv(profileEnv); dir != "" {
		if s.Role == "memserver" {
			// Every allocation in the heap profile, not one per 512 KiB:
			// the idle associations' structures are a few hundred bytes.
			runtime.MemProfileRate = 1
		}
		stop, err := startProfile(dir, s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 2
		}
		defer stop()
	}
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, a ...any) {
		fmt.Fprintf(out, format+"\n", a...)
		_ = out.Flush()
	}
	var err error
	switch s.Role {
	case "server", "memserver":
		err = runServer(s, say)
	case "client", "memclient", "pionmem", "failover":
		var smp harness.Sample
		smp, err = runClient(s, say)
		if err == nil {
			b, _ := json.Marshal(smp)
			say("RESULT %s", b)
			if s.Role == "memclient" { // hold the associations until told
				_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
			}
		}
	default:
		err = fmt.Errorf("unknown role %q", s.Role)
	}
	if err != nil {
		say("ERROR %v", strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	return 0
}

// writeHeapProfile writes, when compare's -profile is set, a heap
// profile of this worker next to its CPU profile: the memory server's,
// asked for its memory after the idle associations were made, shows what
// each of them holds. Every call overwrites the last.
func writeHeapProfile(s spec) error {
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return nil
	}
	name := fmt.Sprintf("%s-%s-%s-%d.heap.pprof", s.Role, s.Sys, s.Test, os.Getpid())
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}

// profileEnv names the directory, passed from compare's -profile to its
// workers, where each worker writes its CPU profile (and a memory server
// its heap profile).
const profileEnv = "USOCK_COMPARE_PROFILE"

// startProfile starts a CPU profile of this worker into a file of dir
// named for its role, system and test, and returns what ends it.
func startProfile(dir string, s spec) (func(), error) {
	name := fmt.Sprintf("%s-%s-%s-par%d-%d.cpu.pprof", s.Role, s.Sys, s.Test, s.Par, os.Getpid())
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

func measureMem() memStat {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memStat{Bytes: ms.HeapInuse + ms.StackInuse, Stack: ms.StackInuse, Goroutines: runtime.NumGoroutine()}
}

// runServer serves until its standard input ends, answering "rusage" and
// "mem".
func runServer(s spec, say func(string, ...any)) error {
	so := s.stackOptions()
	var (
		r       ready
		h       = &harness.Handler{Mode: s.Mode}
		closeFn func()
	)
	switch s.Sys {
	case "usock", "usocknb":
		n := max(s.N+16, 16)
		srv, err := harness.StartUsockServer(s.Mode, n, so, sock.WithPacketSize(s.PS))
		if err != nil {
			return err
		}
		h = srv.H
		r = ready{UDP: srv.Stack.UDPPort(), Port: srv.EP.Port()}
		closeFn = srv.Close
	case "pion":
		c, err := harness.ListenUDP(0)
		if err != nil {
			return err
		}
		r.UDP = uint16(c.LocalAddr().(*net.UDPAddr).Port)
		if s.Test == "hs" { // many clients: one association per source
			m := &harness.PionMux{C: c, MTU: s.PS, H: h}
			go m.ServeMux()
		} else {
			if err := harness.ConnectUDP(c, netip.AddrPortFrom(harness.Loopback, s.Peer)); err != nil {
				return err
			}
			go func() { _ = harness.ServePion(c, s.PS, h, false) }()
		}
		closeFn = func() { _ = c.Close() }
	case "tcp":
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		r.Port = uint16(l.Addr().(*net.TCPAddr).Port)
		go harness.ServeTCP(l, h)
		closeFn = func() { _ = l.Close() }
	case "udp":
		c, err := harness.ListenUDP(0)
		if err != nil {
			return err
		}
		r.Port = uint16(c.LocalAddr().(*net.UDPAddr).Port)
		go harness.ServeUDP(c)
		closeFn = func() { _ = c.Close() }
	default:
		return fmt.Errorf("no server for %q", s.Sys)
	}
	b, _ := json.Marshal(r)
	say("READY %s", b)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "rusage":
			say("RUSAGE %d %d", h.FlushCPU().Nanoseconds(), harness.CPUTime().Nanoseconds())
		case "mem":
			b, _ := json.Marshal(measureMem())
			if err := writeHeapProfile(s); err != nil {
				return err
			}
			say("MEM %s", b)
		}
	}
	// The process ends here: no orderly close needed, but do it quickly.
	done := make(chan struct{})
	go func() { closeFn(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	return nil
}

func runClient(s spec, say func(string, ...any)) (harness.Sample, error) {
	so := s.stackOptions()
	d, warm := time.Duration(s.Dur), time.Duration(s.Warmup)
	ctx, cancel := context.WithTimeout(context.Background(), d+warm+60*time.Second)
	defer cancel()
	switch s.Role {
	case "memclient":
		mctx, mcancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer mcancel()
		return usockMemClient(mctx, s)
	case "pionmem":
		return pionMem(s)
	case "failover":
		return failover(s)
	}
	if s.Test == "hs" {
		return handshakes(ctx, s)
	}
	var (
		c   harness.Conn
		err error
	)
	switch s.Sys {
	case "usock", "usocknb":
		c, err = harness.DialUsock(ctx, nil, so, s.UDP, s.Port, sock.WithPacketSize(s.PS))
	case "usock1p":
		srv, err := harness.StartUsockServer(s.Mode, 16, so, sock.WithPacketSize(s.PS))
		if err != nil {
			return harness.Sample{}, err
		}
		defer srv.Close()
		c, err = harness.DialUsock(ctx, nil, so, srv.Stack.UDPPort(), srv.EP.Port(), sock.WithPacketSize(s.PS))
		if err != nil {
			return harness.Sample{}, err
		}
	case "pion":
		u, err := harness.ListenUDP(int(s.Peer))
		if err != nil {
			return harness.Sample{}, err
		}
		if err := harness.ConnectUDP(u, netip.AddrPortFrom(harness.Loopback, s.UDP)); err != nil {
			return harness.Sample{}, err
		}
		c, err = harness.DialPion(u, s.PS)
		if err != nil {
			return harness.Sample{}, err
		}
	case "tcp":
		var tc net.Conn
		tc, err = net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", s.Port))
		if err == nil {
			c = harness.NewTCPConn(tc)
		}
	case "udp":
		var uc *net.UDPConn
		uc, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(s.Port)})
		if err == nil {
			c = &harness.UDPConn{C: uc}
		}
	default:
		return harness.Sample{}, fmt.Errorf("no client for %q", s.Sys)
	}
	if err != nil {
		return harness.Sample{}, err
	}
	defer c.Close() //nolint:errcheck
	switch s.Test {
	case "tput":
		return harness.Throughput(c, s.Size, warm, d)
	case "rtt":
		return harness.PingPong(c, s.Size, warm, d)
	}
	return harness.Sample{}, fmt.Errorf("unknown test %q", s.Test)
}

// handshakes connects and aborts associations in a loop with s.Par
// workers.
func handshakes(ctx context.Context, s spec) (harness.Sample, error) {
	so := s.stackOptions()
	par := max(s.Par, 1)
	switch s.Sys {
	case "usock", "usocknb":
		st, err := sock.NewStack(sock.WithUDPPort(0))
		if err != nil {
			return harness.Sample{}, err
		}
		defer st.Close() //nolint:errcheck
		return harness.Handshakes(par, time.Duration(s.Dur), func() error {
			c, err := harness.DialUsock(ctx, st, so, s.UDP, s.Port, sock.WithPacketSize(s.PS))
			if err != nil {
				return err
			}
			return c.Close()
		})
	case "pion":
		server := netip.AddrPortFrom(harness.Loopback, s.UDP)
		return harness.Handshakes(par, time.Duration(s.Dur), func() error {
			u, err := harness.ListenUDP(0)
			if err != nil {
				return err
			}
			if err := harness.ConnectUDP(u, server); err != nil {
				_ = u.Close()
				return err
			}
			c, err := harness.DialPion(u, s.PS)
			if err != nil {
				return err
			}
			return c.Close()
		})
	}
	return harness.Sample{}, fmt.Errorf("no handshake test for %q", s.Sys)
}

// usockMemClient sets up s.N associations, each from its own endpoint of
// one stack, to the server; each sends a message and waits for its echo.
func usockMemClient(ctx context.Context, s spec) (harness.Sample, error) {
	so := s.stackOptions()
	st, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		return harness.Sample{}, err
	}
	// Not closed: the process ends when the orchestrator is done, and
	// closing 10,000 associations one by one only costs time.
	var (
		mu    sync.Mutex
		conns []*harness.UsockConn
		first error
		next  int
	)
	t0 := time.Now()
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			for {
				mu.Lock()
				if next >= s.N || first != nil {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				c, err := harness.DialUsock(ctx, st, so, s.UDP, s.Port)
				if err == nil {
					if err = c.Send([]byte("hello")); err == nil {
						_, err = c.Recv()
					}
				}
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if c != nil {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		return harness.Sample{}, fmt.Errorf("%d of %d associations: %w", len(conns), s.N, first)
	}
	return harness.Sample{Assocs: len(conns), Handshakes: int64(len(conns)), Seconds: time.Since(t0).Seconds()}, nil
}

// pionMem sets up s.N pion association pairs in this process, each over
// its own pair of connected UDP sockets, exchanges a message on each and
// returns the memory and goroutines per association (both ends counted).
func pionMem(s spec) (harness.Sample, error) {
	before := measureMem()
	h := &harness.Handler{Mode: harness.ModeEcho}
	var conns []*harness.PionConn
	var socks []*net.UDPConn
	for range s.N {
		a, b, err := harness.UDPPair()
		if err != nil {
			return harness.Sample{}, err
		}
		socks = append(socks, a, b)
		go func() { _ = harness.ServePion(a, s.PS, h, true) }()
		c, err := harness.DialPion(b, s.PS)
		if err != nil {
			return harness.Sample{}, err
		}
		if err := c.Send([]byte("hello")); err != nil {
			return harness.Sample{}, err
		}
		if _, err := c.Recv(); err != nil {
			return harness.Sample{}, err
		}
		c.DropBuffer()
		conns = append(conns, c)
	}
	time.Sleep(100 * time.Millisecond)
	after := measureMem()
	n := float64(2 * s.N)
	smp := harness.Sample{
		Assocs:           2 * s.N,
		BytesPerAssoc:    float64(after.Bytes-before.Bytes) / n,
		StackPerAssoc:    (float64(after.Stack) - float64(before.Stack)) / n,
		GoroutinesPerAsc: float64(after.Goroutines-before.Goroutines) / n,
	}
	runtime.KeepAlive(conns)
	runtime.KeepAlive(socks)
	return smp, nil
}

// failover is the loopback failover measurement of bench/failover_test.go
// (BenchmarkFailoverLoopback): 127.0.0.1/.2 to 127.0.0.3/.4, a message a
// millisecond, the primary path cut by the client stack's fault filter;
// the time from the cut to the first message delivered after it.
func failover(s spec) (harness.Sample, error) {
	caddrs := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}
	saddrs := []netip.Addr{netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4")}
	var opts []sock.EndpointOption
	if s.Setting == "tuned" {
		opts = harness.TunedFailover()
	}
	cs, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		return harness.Sample{}, err
	}
	defer cs.Close() //nolint:errcheck
	ss, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		return harness.Sample{}, err
	}
	defer ss.Close() //nolint:errcheck
	sep, err := ss.NewEndpoint(saddrs, 0, append(opts, sock.AcceptMax(1))...)
	if err != nil {
		return harness.Sample{}, fmt.Errorf("127.0.0.3/.4 (Linux has all of 127.0.0.0/8): %w", err)
	}
	cep, err := cs.NewEndpoint(caddrs, 0, opts...)
	if err != nil {
		return harness.Sample{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := harness.MeasureFailover(ctx, cep, sep, saddrs, ss.UDPPort(), func() {
		cs.SetFaultFilter(func(_ netip.Addr, remote netip.AddrPort, _ bool) bool { return remote.Addr() == saddrs[0] })
	})
	if err != nil {
		return harness.Sample{}, err
	}
	return harness.Sample{FailoverMs: float64(d.Microseconds()) / 1000}, nil
}

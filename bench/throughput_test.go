package bench

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/usock/usock/bench/internal/harness"
	"github.com/usock/usock/sock"
)

// The benchmarks here run both ends in this process on loopback; the
// side-by-side comparison with separate processes, usrsctp and medians
// over rounds is bench/compare:
//
//	go test ./bench -run '^$' -bench 'Throughput|MessageRate|PingPong|Handshake'
//	go run ./bench/compare

// system makes a connection to a fresh server of one system, answering in
// mode; the cleanup ends both.
type system struct {
	name string
	dial func(tb testing.TB, mode string) harness.Conn
}

var systems = []system{
	{"usock", func(tb testing.TB, mode string) harness.Conn {
		srv, err := harness.StartUsockServer(mode, 16, nil)
		if err != nil {
			tb.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := harness.DialUsock(ctx, nil, nil, srv.Stack.UDPPort(), srv.EP.Port())
		if err != nil {
			srv.Close()
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = c.Close(); srv.Close() })
		return c
	}},
	{"pion", func(tb testing.TB, mode string) harness.Conn {
		a, b, err := harness.UDPPair()
		if err != nil {
			tb.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			_ = harness.ServePion(a, sock.DefaultPacketSize, &harness.Handler{Mode: mode}, false)
			close(done)
		}()
		c, err := harness.DialPion(b, sock.DefaultPacketSize)
		if err != nil {
			_ = a.Close()
			<-done
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = c.Close(); <-done })
		return c
	}},
	{"tcp", func(tb testing.TB, mode string) harness.Conn {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		done := make(chan struct{})
		go func() { harness.ServeTCP(l, &harness.Handler{Mode: mode}); close(done) }()
		tc, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		c := harness.NewTCPConn(tc)
		tb.Cleanup(func() { _ = c.Close(); _ = l.Close(); <-done })
		return c
	}},
}

// bulk sends b.N size-byte messages and waits until the server has them.
func bulk(b *testing.B, size int) {
	for _, s := range systems {
		b.Run(s.name, func(b *testing.B) {
			c := s.dial(b, harness.ModeSink)
			p := harness.Payload(size)
			b.SetBytes(int64(size))
			cpu0 := harness.CPUTime()
			b.ResetTimer()
			for range b.N {
				if err := c.Send(p); err != nil {
					b.Fatal(err)
				}
			}
			if err := c.Send([]byte{harness.FlushByte, 0, 0, 0, 0, 0, 0, 0}); err != nil {
				b.Fatal(err)
			}
			for {
				m, err := c.Recv()
				if err != nil {
					b.Fatal(err)
				}
				if string(m) == string(harness.Ack) {
					break
				}
			}
			b.StopTimer()
			cpu := harness.CPUTime() - cpu0
			b.ReportMetric(cpu.Seconds()/(float64(b.N)*float64(size)/1e9), "cpu-s/GB")
		})
	}
}

func BenchmarkThroughput1KiB(b *testing.B)  { bulk(b, 1024) }
func BenchmarkThroughput16KiB(b *testing.B) { bulk(b, 16384) }
func BenchmarkMessageRate64B(b *testing.B)  { bulk(b, 64) }

func BenchmarkPingPong64B(b *testing.B) {
	udp := system{"udp", func(tb testing.TB, _ string) harness.Conn {
		srv, err := harness.ListenUDP(0)
		if err != nil {
			tb.Fatal(err)
		}
		done := make(chan struct{})
		go func() { harness.ServeUDP(srv); close(done) }()
		c, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = c.Close(); _ = srv.Close(); <-done })
		return &harness.UDPConn{C: c}
	}}
	for _, s := range append(systems[:len(systems):len(systems)], udp) {
		b.Run(s.name, func(b *testing.B) {
			c := s.dial(b, harness.ModeEcho)
			p := harness.Payload(64)
			b.ResetTimer()
			for range b.N {
				if err := c.Send(p); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Recv(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHandshake: one iteration is one association set up (four-way
// handshake) and aborted.
func BenchmarkHandshake(b *testing.B) {
	b.Run("usock", func(b *testing.B) {
		srv, err := harness.StartUsockServer(harness.ModeSink, 1<<20, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		st, err := sock.NewStack(sock.WithUDPPort(0))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close() //nolint:errcheck
		ctx := context.Background()
		b.ResetTimer()
		for range b.N {
			c, err := harness.DialUsock(ctx, st, nil, srv.Stack.UDPPort(), srv.EP.Port())
			if err != nil {
				b.Fatal(err)
			}
			_ = c.Close()
		}
	})
	b.Run("pion", func(b *testing.B) {
		for range b.N {
			a, c, err := harness.UDPPair()
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan struct{})
			go func() { _ = harness.ServePion(a, sock.DefaultPacketSize, &harness.Handler{}, false); close(done) }()
			pc, err := harness.DialPion(c, sock.DefaultPacketSize)
			if err != nil {
				b.Fatal(err)
			}
			_ = pc.Close()
			_ = a.Close()
			<-done
		}
	})
}

// TestCompareQuick builds bench/compare and runs it with -quick: every
// metric and system must be in its JSON, this stack's with figures. It
// checks that the harness works, not how fast anything is.
func TestCompareQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs bench/compare")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the comparison harness runs on Linux (getrusage, 127.0.0.0/8)")
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		t.Skipf("no go command: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "compare")
	if out, err := exec.Command(gobin, "build", "-o", bin, "./compare").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	js := filepath.Join(dir, "out.json")
	cmd := exec.Command(bin, "-quick", "-duration", "50ms", "-out", js)
	cmd.Dir = ".." // the module root, where bench/usrsctp-bench/bench.c is
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("compare -quick: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Metrics map[string]struct {
			Unit    string
			Systems map[string]struct {
				Median  float64
				Rounds  []float64
				Extra   map[string]float64
				Skipped string
				Error   string
			}
		}
		Machine map[string]string
		Config  map[string]any
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"throughput_1KiB":   {"usock", "usock-nobatch", "usock-1p", "pion", "usrsctp", "usock-cli", "usock@1452", "usock@8000", "tcp"},
		"throughput_16KiB":  {"usock", "usock-nobatch", "usock-1p", "pion", "usrsctp", "usock@1452", "usock@8000", "tcp"},
		"rate_64B":          {"usock", "usock-nobatch", "usock-1p", "pion", "usrsctp", "tcp"},
		"rtt_64B":           {"usock", "usock-nobatch", "usock-1p", "usock-cli", "pion", "usrsctp", "tcp", "udp"},
		"handshakes_seq":    {"usock", "pion", "usrsctp"},
		"handshakes_par100": {"usock", "pion", "usrsctp"},
		"idle_50":           {"usock", "pion"},
		"idle_200":          {"usock", "pion"},
		"failover":          {"usock tuned"},
	}
	for m, syss := range want {
		got, ok := rep.Metrics[m]
		if !ok {
			t.Errorf("metric %s missing", m)
			continue
		}
		if got.Unit == "" {
			t.Errorf("%s: no unit", m)
		}
		for _, s := range syss {
			e, ok := got.Systems[s]
			switch {
			case !ok:
				t.Errorf("%s: system %s missing", m, s)
			case e.Skipped == "" && e.Error == "" && len(e.Rounds) == 0:
				t.Errorf("%s %s: neither figures nor a reason", m, s)
			case (s == "usock" || s == "usock-nobatch" || s == "usock-1p" || s == "usock-cli") && (len(e.Rounds) == 0 || e.Median <= 0):
				t.Errorf("%s %s: no figure (%s)", m, s, e.Error)
			}
		}
	}
	// The tails of the round trip and the CPU per message, with and
	// without batched UDP I/O.
	extras := map[string][]string{"rtt_64B": {"p99_us", "p99.9_us", "client_cpu_us_per_rt"}, "rate_64B": {"cpu_us_per_msg"}}
	for m, keys := range extras {
		for _, s := range []string{"usock", "usock-nobatch"} {
			for _, k := range keys {
				if v := rep.Metrics[m].Systems[s].Extra[k]; v <= 0 {
					t.Errorf("%s %s: %s is %v", m, s, k, v)
				}
			}
		}
	}
	if rep.Machine["cpus"] == "" || rep.Config["rounds"] == nil {
		t.Errorf("machine or config missing: %v %v", rep.Machine, rep.Config)
	}
}

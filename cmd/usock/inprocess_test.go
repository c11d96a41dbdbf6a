package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usock/usock/cmd/usock/internal/admin"
)

// TestCLIInProcess runs listen, connect, stat and bench as functions, so
// that the race detector and goleak see them.
func TestCLIInProcess(t *testing.T) {
	udp := strconv.Itoa(freeUDPPort(t))
	adminAddr := freeTCPAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lout, lerr := newLines(), newLines()
	listenDone := make(chan error, 1)
	go func() {
		listenDone <- listen(ctx, []string{"-echo", "-port", "5000", "-udp-port", udp, "-admin", adminAddr},
			stdio{in: strings.NewReader(""), out: lout, err: lerr})
	}()
	lerr.waitFor(t, "listening on", 10*time.Second)

	tctx, tcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer tcancel()
	cout, cerr := newLines(), newLines()
	err := connect(tctx, []string{"-port", "5000", "-remote-udp-port", udp, "-wait", "5s"},
		stdio{in: strings.NewReader("a\nb\n\nno newline"), out: cout, err: cerr})
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, cerr)
	}
	if got, want := cout.String(), "a\nb\n\nno newline\n"; got != want {
		t.Errorf("connect got %q, want %q", got, want)
	}
	lout.waitFor(t, "no newline\n", 5*time.Second)
	if got, want := lout.String(), "a\nb\n\nno newline\n"; got != want {
		t.Errorf("listen printed %q, want %q", got, want)
	}

	sout := newLines()
	if err := stat(tctx, []string{"-json", "-admin", adminAddr}, stdio{out: sout, err: sout}); err != nil {
		t.Fatal(err)
	}
	var snap admin.Snapshot
	if err := json.Unmarshal([]byte(sout.String()), &snap); err != nil || snap.Stack.Sockets[0].RxDatagrams == 0 {
		t.Errorf("stat -json: %v\n%s", err, sout)
	}

	for _, mode := range []string{"throughput", "rate", "rtt"} {
		bout, berr := newLines(), newLines()
		err := bench(tctx, []string{"-port", "5000", "-remote-udp-port", udp, "-duration", "500ms", "-interval", "200ms", "-mode", mode, "-size", "200"},
			stdio{out: bout, err: berr})
		if err != nil {
			t.Fatalf("bench %s: %v\n%s", mode, err, berr)
		}
		if !strings.HasPrefix(bout.String(), mode+": ") || !strings.Contains(bout.String(), "msgs/s") {
			t.Errorf("bench %s summary: %q", mode, bout)
		}
		if readCPU().ok && !strings.Contains(bout.String(), "% of a core") {
			t.Errorf("bench %s summary without the CPU time: %q", mode, bout)
		}
		if mode != "throughput" && !strings.Contains(bout.String(), " p99.9 ") {
			t.Errorf("bench %s summary without p99.9: %q", mode, bout)
		}
		if !strings.Contains(berr.String(), "Mbit/s") {
			t.Errorf("bench %s progress: %q", mode, berr)
		}
	}

	cancel()
	select {
	case err := <-listenDone:
		if err != nil {
			t.Errorf("listen: %v\n%s", err, lerr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("listen did not end")
	}
}

func TestCLIErrors(t *testing.T) {
	ctx := context.Background()
	std := stdio{in: strings.NewReader(""), out: newLines(), err: newLines()}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"listen port 0", listen(ctx, []string{"-port", "0"}, std), "-port 0"},
		{"connect bad addr", connect(ctx, []string{"-addr", "x"}, std), `"x" is not an IP address`},
		{"connect refused", connect(ctx, []string{"-port", "7", "-remote-udp-port", strconv.Itoa(freeUDPPort(t)), "-timeout", "300ms"}, std), "connect:"},
		{"bench small rtt", bench(ctx, []string{"-mode", "rtt", "-size", "8"}, std), "at least 16 bytes"},
		{"stat nothing", stat(ctx, []string{"-admin", freeTCPAddr(t)}, std), "stat:"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) || strings.Contains(tc.err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line with %q", tc.name, tc.err, tc.want)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usock/usock/cmd/usock/internal/admin"
)

// freeUDPPort and freeTCPAddr pick free ports by binding port 0.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func freeTCPAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lines collects the lines written to it and lets a test wait for one.
type lines struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	cond chan struct{}
}

func newLines() *lines { return &lines{cond: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	select {
	case l.cond <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor waits until the output contains s.
func (l *lines) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for !strings.Contains(l.String(), s) {
		select {
		case <-l.cond:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no %q after %v in:\n%s", s, d, l.String())
		}
	}
}

// buildUsock builds the command into a temporary directory.
func buildUsock(t *testing.T) string {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Skip("no go tool to build the command")
		}
	}
	bin := filepath.Join(t.TempDir(), "usock")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBin runs the binary to the end and returns its stdout, stderr and
// exit code.
func runBin(t *testing.T, bin string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func TestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	bin := buildUsock(t)

	t.Run("Demo", func(t *testing.T) {
		out, errOut, code := runBin(t, bin, "", "demo", "-messages", "2")
		if code != 0 || !strings.Contains(out, `client got "answer 1"`) || !strings.Contains(out, "done") {
			t.Errorf("demo: exit %d\n%s\n%s", code, out, errOut)
		}
	})

	t.Run("Help", func(t *testing.T) {
		for _, cmd := range []string{"demo", "listen", "connect", "bench", "stat"} {
			out, errOut, code := runBin(t, bin, "", cmd, "-h")
			if code != 0 {
				t.Errorf("%s -h: exit %d: %s", cmd, code, errOut)
			}
			if !strings.Contains(out, "usage: usock "+cmd) || !strings.Contains(out, "example") || !strings.Contains(out, "usock "+cmd+" -") {
				t.Errorf("%s -h: no usage with an example:\n%s", cmd, out)
			}
		}
		out, _, code := runBin(t, bin, "", "-h")
		if code != 0 || !strings.Contains(out, "listen") || !strings.Contains(out, "bench") {
			t.Errorf("usock -h: exit %d\n%s", code, out)
		}
	})

	t.Run("BadFlag", func(t *testing.T) {
		for _, args := range [][]string{
			{"demo", "-nope"}, {"listen", "-nope"}, {"connect", "-port", "70000"},
			{"bench", "-mode", "fast"}, {"stat", "-json=maybe"}, {"listen", "-addr", "not-an-ip"},
			{"connect", "extra-argument"},
		} {
			out, errOut, code := runBin(t, bin, "", args...)
			if code != 1 {
				t.Errorf("%v: exit %d, want 1", args, code)
			}
			if out != "" {
				t.Errorf("%v: stdout %q", args, out)
			}
			if lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "usock: ") {
				t.Errorf("%v: stderr is not one usock: line: %q", args, errOut)
			}
		}
		if _, errOut, code := runBin(t, bin, "", "stat", "-admin", freeTCPAddr(t)); code != 1 || strings.Count(errOut, "\n") != 1 {
			t.Errorf("stat of nothing: exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("ListenConnectBenchStat", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("needs SIGINT")
		}
		testSession(t, bin)
	})
}

func testSession(t *testing.T, bin string) {
	udp := strconv.Itoa(freeUDPPort(t))
	adminAddr := freeTCPAddr(t)
	listenOut, err := os.Create(filepath.Join(t.TempDir(), "listen.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer listenOut.Close()
	listenErr := newLines()
	listener := exec.Command(bin, "listen", "-echo", "-port", "5000", "-udp-port", udp, "-admin", adminAddr)
	listener.Stdout, listener.Stderr = listenOut, listenErr
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	listenDone := make(chan struct{})
	go func() { exited <- listener.Wait(); close(listenDone) }()
	defer func() { // kill it if the test failed half-way
		select {
		case <-listenDone:
		default:
			_ = listener.Process.Kill()
			<-listenDone
		}
	}()
	listenErr.waitFor(t, "listening on 127.0.0.1:5000", 10*time.Second)

	// connect: three lines through stdin, echoed back on stdout; it stays
	// up (stdin open) while stat looks at both sides.
	connAdmin := freeTCPAddr(t)
	conn := exec.Command(bin, "connect", "-addr", "127.0.0.1", "-port", "5000", "-local-port", "5001",
		"-remote-udp-port", udp, "-stream", "3", "-ppid", "46", "-admin", connAdmin)
	stdin, err := conn.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := conn.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	connErr := newLines()
	conn.Stderr = connErr
	if err := conn.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	connDone := make(chan struct{})
	// Wait closes the stdout pipe only after the process exits, which it
	// does after stdin is closed, once the echoes are read.
	go func() { waited <- conn.Wait(); close(connDone) }()
	defer func() {
		select {
		case <-connDone:
		default:
			_ = conn.Process.Kill()
			<-connDone
		}
	}()
	sent := []string{"hello", "diameter-ish line 2", "three"}
	for _, l := range sent {
		if _, err := io.WriteString(stdin, l+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan []string, 1)
	go func() {
		var ls []string
		sc := bufio.NewScanner(stdout)
		for len(ls) < 3 && sc.Scan() {
			ls = append(ls, sc.Text())
		}
		got <- ls
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case ls := <-got:
		if strings.Join(ls, "|") != strings.Join(sent, "|") {
			t.Errorf("connect got %q, want %q", ls, sent)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no echoes; connect stderr:\n%s\nlisten stderr:\n%s", connErr, listenErr)
	}

	// stat: the table lists the association, on both sides.
	out, errOut, code := runBin(t, bin, "", "stat", "-admin", adminAddr)
	if code != 0 {
		t.Fatalf("stat: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"ENDPOINT", "127.0.0.1:5000", ":5000-127.0.0.1:5001)", "ESTABLISHED", "PATH TO", "active", "127.0.0.1:" + udp} {
		if !strings.Contains(out, want) {
			t.Errorf("stat table lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runBin(t, bin, "", "stat", "-admin", connAdmin)
	if code != 0 || !strings.Contains(out, ":5001-127.0.0.1:5000)") {
		t.Errorf("stat of connect: exit %d\n%s", code, out)
	}
	out, errOut, code = runBin(t, bin, "", "stat", "-json", "-admin", adminAddr)
	if code != 0 {
		t.Fatalf("stat -json: exit %d: %s", code, errOut)
	}
	var snap admin.Snapshot
	if err := json.Unmarshal([]byte(out), &snap); err != nil {
		t.Fatalf("stat -json: %v\n%s", err, out)
	}
	if len(snap.Endpoints) != 1 || len(snap.Endpoints[0].Associations) != 1 {
		t.Fatalf("stat -json: want one endpoint with one association: %+v", snap)
	}
	a := snap.Endpoints[0].Associations[0]
	if a.State != "ESTABLISHED" || a.PeerPort != 5001 || a.Stats.MessagesIn != 3 || a.Stats.MessagesOut != 3 ||
		len(a.Paths) != 1 || a.Paths[0].State != "active" || !a.Paths[0].Primary {
		t.Errorf("stat -json: association %+v", a)
	}
	var generic map[string]any
	if err := json.Unmarshal([]byte(out), &generic); err != nil || generic["Endpoints"] == nil {
		t.Errorf("stat -json: not the expected JSON object: %v", err)
	}

	// End of stdin: connect shuts down and exits 0.
	stdin.Close()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("connect: %v\n%s", err, connErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("connect did not end after stdin closed")
	}
	listenErr.waitFor(t, "down (shutdown)", 10*time.Second)

	// bench against the echoing listener.
	out, errOut, code = runBin(t, bin, "", "bench", "-addr", "127.0.0.1", "-port", "5000",
		"-remote-udp-port", udp, "-duration", "2s", "-size", "100")
	summary := regexp.MustCompile(`(?m)^throughput: (\d+) messages of 100 bytes in 2\.\d\ds: ([0-9.]+) Mbit/s, (\d+) msgs/s`)
	if m := summary.FindStringSubmatch(out); code != 0 || m == nil || m[1] == "0" {
		t.Errorf("bench: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "[   1.0s]") {
		t.Errorf("bench: no progress line on stderr:\n%s", errOut)
	}
	out, errOut, code = runBin(t, bin, "", "bench", "-port", "5000", "-remote-udp-port", udp,
		"-duration", "1s", "-mode", "rtt", "-size", "64", "-interval", "0")
	if !regexp.MustCompile(`^rtt: [1-9]\d* round trips of 64 bytes .* RTT median [0-9.]+ms p99 [0-9.]+ms`).MatchString(out) || code != 0 {
		t.Errorf("bench rtt: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// A second connect stays up until the listener's Ctrl-C ends it.
	last := exec.Command(bin, "connect", "-addr", "127.0.0.1", "-port", "5000", "-local-port", "5002",
		"-remote-udp-port", udp)
	lastIn, err := last.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	lastErr := newLines()
	last.Stderr = lastErr
	if err := last.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lastIn.Close(); _ = last.Process.Kill(); _ = last.Wait() }()
	listenErr.waitFor(t, ":5000-127.0.0.1:5002) up", 10*time.Second)

	// Ctrl-C: the listener shuts down and exits 0; the events of that
	// shutdown still go to stderr, as its help says.
	if err := listener.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("listen: %v\n%s", err, listenErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("listen did not end after SIGINT")
	}
	_, after, ok := strings.Cut(listenErr.String(), "shutting down")
	if !ok || !strings.Contains(after, ":5000-127.0.0.1:5002) shutdown complete") {
		t.Errorf("listen stderr, no shutdown event after Ctrl-C:\n%s", listenErr)
	}
	b, err := os.ReadFile(listenOut.Name())
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(sent, "\n") + "\n"; !strings.HasPrefix(string(b), want) {
		t.Errorf("listen stdout starts %q, want %q", b[:min(len(b), 100)], want)
	}
}

//go:build interop

package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/internal/usrsctpbuild"
	"github.com/usock/usock/sock"
)

var lo1 = netip.MustParseAddr("127.0.0.1")

// buildPeer compiles usrsctp-peer/peer.c into the test's temporary
// directory, or skips the test when cc, usrsctp.h or libusrsctp is missing.
func buildPeer(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("usrsctp-peer", "peer.c"))
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "usrsctp-peer")
	err = usrsctpbuild.Build(src, bin, "-O1", "-Wall")
	if errors.Is(err, usrsctpbuild.ErrNoCompiler) || errors.Is(err, usrsctpbuild.ErrNoLibrary) {
		t.Skipf("interop: %v", err)
	}
	require.NoError(t, err, "building the usrsctp peer")
	return bin
}

var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

// freeUDPPort returns a UDP port free on the IPv4 and IPv6 wildcard
// addresses (usrsctp binds both), not handed out before in this process.
func freeUDPPort(t *testing.T) uint16 {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		c4, err := net.ListenUDP("udp4", &net.UDPAddr{})
		require.NoError(t, err)
		p := c4.LocalAddr().(*net.UDPAddr).Port
		c6, err6 := net.ListenUDP("udp6", &net.UDPAddr{Port: p})
		c4.Close()
		if err6 == nil {
			c6.Close()
		}
		if (err6 == nil || !isAddrInUse(err6)) && !ports[p] {
			ports[p] = true
			return uint16(p)
		}
	}
	t.Fatal("no free UDP port")
	return 0
}

func isAddrInUse(err error) bool { return strings.Contains(err.Error(), "address already in use") }

// freeSCTPPort returns an SCTP port number for a usrsctp server; SCTP
// ports live in the usrsctp process only, so any unused number will do.
func freeSCTPPort(t *testing.T) uint16 { return freeUDPPort(t) }

// peer is a running usrsctp peer with its stdout lines.
type peer struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	mu     sync.Mutex
	all    []string
	stderr bytes.Buffer
	exited chan struct{}
	err    error
}

// startPeer starts the peer binary with args; the cleanup ends it and logs
// its output when the test failed.
func startPeer(t *testing.T, bin, name string, args ...string) *peer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &peer{t: t, name: name, lines: make(chan string, 4096), exited: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Stderr = &p.stderr
	var err error
	p.stdin, err = p.cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	t.Logf("%s: %s %s", name, filepath.Base(bin), strings.Join(args, " "))
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l := sc.Text()
			p.mu.Lock()
			p.all = append(p.all, l)
			p.mu.Unlock()
			p.lines <- l
		}
		p.err = p.cmd.Wait()
		close(p.lines)
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.stdin.Close() // servers quit at the end of their input
		select {
		case <-p.exited:
		case <-time.After(3 * time.Second):
			cancel()
			<-p.exited
		}
		cancel()
		if t.Failed() || testing.Verbose() {
			t.Logf("%s output:\n%s\n%s stderr:\n%s", name, strings.Join(p.output(), "\n"), name, p.stderr.String())
		}
	})
	return p
}

func (p *peer) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.all...)
}

// expect reads lines until one matches re and returns its submatches; a
// line matching one of the fail patterns, the end of the output or the
// timeout fail the test.
func (p *peer) expect(re string, timeout time.Duration, fail ...string) []string {
	p.t.Helper()
	return testkit.ExpectLine(p.t, p.name, p.lines, re, timeout, func() string { return fmt.Sprintf("exited (%v)", p.err) }, fail...)
}

// command writes a command line to a server peer.
func (p *peer) command(c string) {
	p.t.Helper()
	_, err := fmt.Fprintln(p.stdin, c)
	require.NoError(p.t, err)
}

// wait waits for the peer to exit and returns its error (nil: exit 0).
func (p *peer) wait(timeout time.Duration) error {
	p.t.Helper()
	for {
		select {
		case _, ok := <-p.lines:
			if ok {
				continue
			}
			<-p.exited
			return p.err
		case <-time.After(timeout):
			p.t.Fatalf("%s did not exit in %v", p.name, timeout)
		}
	}
}

// startServer starts a usrsctp server (echo or discard) and waits for it
// to listen. It returns the peer, its UDP port and its SCTP port.
func startServer(t *testing.T, bin, mode string, remoteUDP uint16, extra ...string) (*peer, uint16, uint16) {
	t.Helper()
	udp, sctpPort := freeUDPPort(t), freeSCTPPort(t)
	if !slices.Contains(extra, "-bind") {
		// Bound to the wildcard, usrsctp lists every interface address
		// in its INIT-ACK, loopback peer or not (docs/INTEROP.md).
		extra = append(extra, "-bind", "127.0.0.1")
	}
	args := append([]string{"-mode", mode, "-udp", fmt.Sprint(udp), "-rudp", fmt.Sprint(remoteUDP),
		"-port", fmt.Sprint(sctpPort)}, extra...)
	p := startPeer(t, bin, "usrsctp "+mode, args...)
	p.expect(`^LISTEN `, 10*time.Second, `^ERROR`)
	return p, udp, sctpPort
}

// newStack returns one of our stacks on a free UDP port.
func newStack(t *testing.T, opts ...sock.StackOption) *sock.Stack {
	t.Helper()
	return testkit.NewStack(t, append([]sock.StackOption{sock.WithUDPPort(freeUDPPort(t))}, opts...)...)
}

func newEndpoint(t *testing.T, s *sock.Stack, addrs []netip.Addr, opts ...sock.EndpointOption) *sock.Endpoint {
	t.Helper()
	ep, err := s.NewEndpoint(addrs, 0, opts...)
	require.NoError(t, err)
	return ep
}

// waitEvent returns the endpoint's next event of type typ, skipping others.
func waitEvent(t *testing.T, ep *sock.Endpoint, typ sock.EventType, timeout time.Duration) sock.Event {
	t.Helper()
	return testkit.WaitEvent(t, ep, timeout, testkit.Want{Type: typ})
}

// testMsg is one message of a test exchange.
type testMsg struct {
	stream    uint16
	ppid      uint32
	unordered bool
	payload   []byte
}

// messages returns n messages cycling through sizes, streams and PPIDs,
// every other one unordered; seed makes the contents of different
// associations differ.
func messages(seed, n int, sizes []int, streams int) []testMsg {
	var out []testMsg
	for i := range n {
		size := sizes[i%len(sizes)]
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(seed*101 + i*37 + j*13 + j>>8)
		}
		out = append(out, testMsg{stream: uint16(i % streams), ppid: uint32(46 + i%5), unordered: i%2 == 1, payload: b})
	}
	return out
}

var allSizes = []int{1, 2, 100, 1000, 1180, 1231, 1232, 1233, 4000, 16384, 65535, 65536}

// exchange sends msgs on a (in a goroutine: the echoes are read
// meanwhile) and checks that the echoes received on ep are the same bytes
// on the same stream with the same PPID, and that the ordered messages of
// each stream come back in order.
func exchange(t *testing.T, a *sock.Association, ep *sock.Endpoint, msgs []testMsg) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sendErr := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if err := a.Send(ctx, m.payload, sock.SendInfo{Stream: m.stream, PPID: m.ppid, Unordered: m.unordered}); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}()
	matched := make([]bool, len(msgs))
	lastOrdered := map[uint16]int{}
	for range msgs {
		m, err := ep.Recv(ctx)
		require.NoError(t, err, "receiving echoes")
		require.Same(t, a, m.Association)
		found := -1
		for i, w := range msgs {
			if !matched[i] && w.stream == m.Stream && w.ppid == m.PPID && bytes.Equal(w.payload, m.Payload) {
				found = i
				break
			}
		}
		require.GreaterOrEqual(t, found, 0, "an echo no message matches: stream %d ppid %d %d bytes", m.Stream, m.PPID, len(m.Payload))
		matched[found] = true
		if !msgs[found].unordered {
			if last, ok := lastOrdered[m.Stream]; ok {
				require.Greater(t, found, last, "ordered messages of stream %d out of order", m.Stream)
			}
			lastOrdered[m.Stream] = found
		}
	}
	require.NoError(t, <-sendErr)
}

// echo answers every message received on ep with the same bytes, stream
// and PPID, until ctx is done.
func echo(ctx context.Context, t *testing.T, ep *sock.Endpoint) {
	for {
		m, err := ep.Recv(ctx)
		if err != nil {
			return
		}
		if err := m.Association.Send(ctx, m.Payload, sock.SendInfo{Stream: m.Stream, PPID: m.PPID}); err != nil {
			if ctx.Err() == nil && !errors.Is(err, sock.ErrClosed) {
				t.Errorf("echo send: %v", err)
			}
			return
		}
	}
}

// addLoopbackAddr adds addr/32 to lo for the test (usrsctp binds only
// addresses that exist on an interface) and removes it afterwards; it
// skips the test when that is not permitted.
func addLoopbackAddr(t *testing.T, addr string) {
	t.Helper()
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("multi-homed interop: no ip command (iproute2) to add " + addr + " to lo")
	}
	out, err := exec.Command(ip, "addr", "add", addr+"/32", "dev", "lo").CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "File exists") || strings.Contains(string(out), "Address already assigned") {
			return // there already; not ours to remove
		}
		t.Skipf("multi-homed interop: cannot add %s to lo (needs root or CAP_NET_ADMIN): %v %s", addr, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(ip, "addr", "del", addr+"/32", "dev", "lo").CombinedOutput(); err != nil {
			t.Errorf("removing %s from lo: %v %s", addr, err, out)
		}
	})
}

func envDuration(name string, def time.Duration) (time.Duration, bool) {
	v := os.Getenv(name)
	if v == "" {
		return 0, false
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, true
	}
	return def, true
}

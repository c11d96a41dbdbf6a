//go:build kernel

package kernel

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/sock"
)

// newStack makes a stack on the host side, on the kernel's UDP port.
func newStack(t *testing.T) *sock.Stack {
	t.Helper()
	return testkit.NewStack(t, sock.WithUDPPort(kernelUDPPort))
}

// message is what a case sends: message i of a run.
type message struct {
	payload   []byte
	stream    uint16
	ppid      uint32
	unordered bool
}

// messages makes n messages cycling over sizes and 16 streams, PPIDs
// 40..46, every third one unordered.
func messages(n int, sizes ...int) []message {
	out := make([]message, n)
	for i := range out {
		p := make([]byte, sizes[i%len(sizes)])
		for k := range p {
			p[k] = byte(i*31 + k*7)
		}
		out[i] = message{payload: p, stream: uint16(i % 16), ppid: uint32(40 + i%7), unordered: i%3 == 2}
	}
	return out
}

// TestUsockClientKernelServer: this stack connects to the kernel's echo
// server and checks every echo: 1 B to 64 KiB, streams 0 to 15, ordered
// and unordered, PPIDs; the kernel's lines show it saw the unordered flag
// and the PPID of each.
func TestUsockClientKernelServer(t *testing.T) {
	checkWire(t)
	t.Cleanup(func() { vm.killPeers(t) })
	srv := kernelServer(t, "-mode echo -port 5001")
	ep, a := connect(t, newStack(t), []netip.Addr{host1}, []netip.Addr{guest1}, 5001)
	srv.expect(t, `^UP assoc=`, 10*time.Second)

	msgs := messages(48, 1, 100, 1000, 1452, 8000, 16384, 65536)
	go sendAll(t, a, msgs)
	checkEchoes(t, ep, msgs)
	// The kernel's view of each message: its stream, PPID and U bit.
	seen := map[string]int{}
	for range msgs {
		m := srv.expect(t, `^MSG assoc=\d+ stream=(\d+) ppid=(\d+) len=(\d+) unordered=(\d)`, 10*time.Second)
		seen[m[1]+"/"+m[2]+"/"+m[3]+"/"+m[4]]++
	}
	for _, m := range msgs {
		k := fmt.Sprintf("%d/%d/%d/%d", m.stream, m.ppid, len(m.payload), b2i(m.unordered))
		if seen[k] == 0 {
			t.Errorf("the kernel did not report a message stream/ppid/len/unordered %s", k)
		}
		seen[k]--
	}
	if err := a.Shutdown(waitCtx(t, 10*time.Second)); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	srv.expect(t, `^SHUTDOWN assoc=`, 10*time.Second)
	srv.expect(t, `^(DOWN|CLOSED) assoc=`, 10*time.Second)
}

// TestKernelClientUsockServer: the kernel connects to this stack's echo
// endpoint, sends every size on 16 streams and verifies each echo byte for
// byte, then shuts down.
func TestKernelClientUsockServer(t *testing.T) {
	checkWire(t)
	t.Cleanup(func() { vm.killPeers(t) })
	echoEndpoint(t, newStack(t), 5002, 8, 64)
	cl := vm.start(t, "kpeer -mode client -connect "+host1.String()+" -rport 5002 -n 96 -streams 16 -sizes 1,100,1000,1452,8000,16384,65536")
	cl.expect(t, `^VERIFIED n=96`, 60*time.Second, `^FAIL`)
	if code := cl.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("kernel client exited %d", code)
	}
}

// kernelServer starts kpeer in the guest with args (a server mode) and
// waits until it listens.
func kernelServer(t *testing.T, args string) *proc {
	t.Helper()
	srv := vm.start(t, "kpeer "+args)
	srv.expect(t, `^LISTEN`, 10*time.Second)
	return srv
}

// echoEndpoint makes an endpoint of s on host1 at port that accepts up to
// acceptMax associations with streams streams each way and echoes every
// message until the test ends.
func echoEndpoint(t *testing.T, s *sock.Stack, port uint16, acceptMax, streams int) *sock.Endpoint {
	t.Helper()
	ep, err := s.NewEndpoint([]netip.Addr{host1}, port, sock.AcceptMax(acceptMax), sock.WithStreams(streams, streams))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go echo(ctx, ep)
	return ep
}

// echo sends every message ep receives back on its association, stream
// and PPID, until ctx is done.
func echo(ctx context.Context, ep *sock.Endpoint) {
	for {
		m, err := ep.Recv(ctx)
		if err != nil {
			return
		}
		// The U bit is not reported on receive (pion's Stream.ReadSCTP
		// has no flags): the echo goes ordered.
		_ = m.Association.Send(ctx, m.Payload, sock.SendInfo{Stream: m.Stream, PPID: m.PPID})
	}
}

// echoWait bounds the wait for a case's echoes: generous, for a guest
// under TCG on a loaded machine; it measures nothing.
const echoWait = 300 * time.Second

// checkEchoes receives len(msgs) echoes on ep and matches each to a sent
// message by stream, PPID and content (collectEchoes).
func checkEchoes(t *testing.T, ep *sock.Endpoint, msgs []message) {
	t.Helper()
	if err := collectEchoes(ep, msgs); err != nil {
		t.Fatal(err)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// waitEvent waits for an event of type typ on ep (of association a when
// a is not nil) and returns it; events of other types are skipped.
func waitEvent(t *testing.T, ep *sock.Endpoint, a *sock.Association, typ sock.EventType, d time.Duration) sock.Event {
	t.Helper()
	return testkit.WaitEvent(t, ep, d, testkit.Want{Type: typ, Association: a})
}

// connect makes an endpoint on the host's addresses and connects it to
// the kernel at port.
func connect(t *testing.T, s *sock.Stack, local, remote []netip.Addr, port uint16, opts ...sock.EndpointOption) (*sock.Endpoint, *sock.Association) {
	t.Helper()
	ep, a, err := dial(s, local, remote, port, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ep, a
}

// dial is connect for goroutines other than the test's: it returns the
// error instead of failing the test.
func dial(s *sock.Stack, local, remote []netip.Addr, port uint16, opts ...sock.EndpointOption) (*sock.Endpoint, *sock.Association, error) {
	ep, err := s.NewEndpoint(local, 0, append([]sock.EndpointOption{sock.WithStreams(16, 16)}, opts...)...)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := ep.Connect(ctx, remote, port, sock.WithRemoteUDPPort(kernelUDPPort))
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	return ep, a, nil
}

// sendAll sends msgs on a, failing the test on the first error.
func sendAll(t *testing.T, a *sock.Association, msgs []message) {
	for _, m := range msgs {
		if err := a.Send(context.Background(), m.payload, sock.SendInfo{Stream: m.stream, PPID: m.ppid, Unordered: m.unordered}); err != nil {
			t.Errorf("send: %v", err)
			return
		}
	}
}

// TestBulk: thousands of messages each way at once, 1 KiB and 16 KiB:
// the kernel's client sends and verifies its echoes while this stack's
// client does the same against the kernel's echo server.
func TestBulk(t *testing.T) {
	checkWire(t)
	t.Cleanup(func() { vm.killPeers(t) })
	kernelServer(t, "-mode echo -q -port 5011")
	s := newStack(t)
	echoEndpoint(t, s, 5012, 8, 16)
	cl := vm.start(t, "kpeer -mode client -connect "+host1.String()+" -rport 5012 -n 2000 -streams 8 -sizes 1024,16384 -timeout 300")

	ep, a := connect(t, s, []netip.Addr{host1}, []netip.Addr{guest1}, 5011)
	msgs := messages(2000, 1024, 16384)
	go sendAll(t, a, msgs)
	checkEchoes(t, ep, msgs)
	cl.expect(t, `^VERIFIED n=2000`, 300*time.Second, `^FAIL`)
	if code := cl.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("kernel client exited %d", code)
	}
}

// TestConcurrentAssociations: four associations of this stack to the
// kernel's server and four of the kernel's clients to this stack's, all
// at once.
func TestConcurrentAssociations(t *testing.T) {
	checkWire(t)
	t.Cleanup(func() { vm.killPeers(t) })
	kernelServer(t, "-mode echo -port 5021")
	s := newStack(t)
	echoEndpoint(t, s, 5022, 8, 16)
	var clients []*proc
	for range 4 {
		clients = append(clients, vm.start(t, "kpeer -mode client -connect "+host1.String()+" -rport 5022 -n 200 -streams 16 -sizes 1,500,4000"))
	}
	// The goroutines report to the test's, which alone may fail the test.
	done := make(chan error, 4)
	for i := range 4 {
		go func() {
			ep, a, err := dial(s, []netip.Addr{host1}, []netip.Addr{guest1}, 5021)
			if err != nil {
				done <- err
				return
			}
			msgs := messages(200+i, 1, 700, 3000)
			go sendAll(t, a, msgs)
			done <- collectEchoes(ep, msgs)
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	for _, cl := range clients {
		cl.expect(t, `^VERIFIED n=200`, 60*time.Second, `^FAIL`)
	}
}

// TestEnds: a shutdown and an abort started by either side, each seen
// with the right reason on both (RFC 9260 sections 9.1 and 9.2).
func TestEnds(t *testing.T) {
	checkWire(t)
	for i, tc := range []struct {
		name   string
		kernel string          // kpeer's -close after 4 messages ("": it does not end it)
		usock  string          // what this stack does after the echoes: shutdown, abort
		reason sock.DownReason // what this stack reports
		kline  string          // the kernel's line for the end
	}{
		{"usock-shutdown", "", "shutdown", sock.ReasonShutdown, `^SHUTDOWN assoc=`},
		{"usock-abort", "", "abort", sock.ReasonAborted, `^ABORT assoc=\d+ error=`},
		{"kernel-shutdown", "shutdown", "", sock.ReasonShutdown, `^(DOWN|CLOSED) assoc=`},
		{"kernel-abort", "abort", "", sock.ReasonAbortedByPeer, `^CLOSED assoc=`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(func() { vm.killPeers(t) })
			port := 5030 + i
			cmd := fmt.Sprintf("-mode echo -port %d -n 4", port)
			if tc.kernel != "" {
				cmd += " -close " + tc.kernel
			}
			srv := kernelServer(t, cmd)
			s := newStack(t)
			ep, a := connect(t, s, []netip.Addr{host1}, []netip.Addr{guest1}, uint16(port))
			msgs := messages(4, 10, 20)
			sendAll(t, a, msgs)
			checkEchoes(t, ep, msgs)
			switch tc.usock {
			case "shutdown":
				if err := a.Shutdown(waitCtx(t, 10*time.Second)); err != nil {
					t.Fatalf("shutdown: %v", err)
				}
			case "abort":
				a.Abort("test")
			}
			ev := waitEvent(t, ep, a, sock.EventDown, 20*time.Second)
			if ev.Reason != tc.reason {
				t.Errorf("this stack reports %v, want %v", ev.Reason, tc.reason)
			}
			srv.expect(t, tc.kline, 20*time.Second)
		})
	}
}

// TestMultihomedConfirmed: two addresses on each side; each side confirms
// both of the other's (RFC 9260 section 5.4) and reports them.
func TestMultihomedConfirmed(t *testing.T) {
	checkWire(t)
	t.Cleanup(func() { vm.killPeers(t) })
	srv := kernelServer(t, "-mode echo -port 5041 -bind "+guest1.String()+" -bind "+guest2.String())
	s := newStack(t)
	ep, a := connect(t, s, []netip.Addr{host1, host2}, []netip.Addr{guest1}, 5041, sock.WithHeartbeatInterval(time.Second))
	ev := waitEvent(t, ep, a, sock.EventPathConfirmed, 30*time.Second)
	if ev.Path != guest2 {
		t.Errorf("confirmed %v, want %v", ev.Path, guest2)
	}
	srv.expect(t, `^PADDR assoc=\d+ addr=`+regexp.QuoteMeta(host2.String())+` state=confirmed`, 60*time.Second)
	for _, p := range a.Paths() {
		if p.State != sock.PathActive {
			t.Errorf("path %v is %v, want active", p.Remote, p.State)
		}
	}
	msgs := messages(64, 1, 1000, 9000)
	go sendAll(t, a, msgs)
	checkEchoes(t, ep, msgs)
}

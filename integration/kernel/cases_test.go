//go:build kernel

package kernel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/usock/usock/sock"
)

// newStack makes a stack on the host side, on the kernel's UDP port.
func newStack(t *testing.T) *sock.Stack {
	t.Helper()
	s, err := sock.NewStack(sock.WithUDPPort(kernelUDPPort))
	if err != nil {
		t.Fatalf("stack: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
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
	t.Cleanup(func() { vm.killPeers(t) })
	srv := vm.start(t, "kpeer -mode echo -port 5001")
	srv.expect(t, `^LISTEN`, 10*time.Second)

	s := newStack(t)
	ep, err := s.NewEndpoint([]netip.Addr{host1}, 0, sock.WithStreams(16, 16))
	if err != nil {
		t.Fatal(err)
	}
	a, err := ep.Connect(waitCtx(t, 30*time.Second), []netip.Addr{guest1}, 5001, sock.WithRemoteUDPPort(kernelUDPPort))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	srv.expect(t, `^UP assoc=`, 10*time.Second)

	msgs := messages(48, 1, 100, 1000, 1452, 8000, 16384, 65536)
	go func() {
		for _, m := range msgs {
			if err := a.Send(context.Background(), m.payload, sock.SendInfo{Stream: m.stream, PPID: m.ppid, Unordered: m.unordered}); err != nil {
				t.Errorf("send: %v", err)
				return
			}
		}
	}()
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
	t.Cleanup(func() { vm.killPeers(t) })
	s := newStack(t)
	ep, err := s.NewEndpoint([]netip.Addr{host1}, 5002, sock.AcceptMax(8), sock.WithStreams(64, 64))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go echo(ctx, ep)
	cl := vm.start(t, "kpeer -mode client -connect "+host1.String()+" -rport 5002 -n 96 -streams 16 -sizes 1,100,1000,1452,8000,16384,65536")
	cl.expect(t, `^VERIFIED n=96`, 60*time.Second, `^FAIL`)
	if code := cl.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("kernel client exited %d", code)
	}
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

// checkEchoes receives len(msgs) echoes on ep and matches each to a sent
// message by stream, PPID and content.
func checkEchoes(t *testing.T, ep *sock.Endpoint, msgs []message) {
	t.Helper()
	pending := map[int]bool{}
	for i := range msgs {
		pending[i] = true
	}
	ctx := waitCtx(t, 60*time.Second)
	for len(pending) > 0 {
		m, err := ep.Recv(ctx)
		if err != nil {
			t.Fatalf("recv with %d echoes missing: %v", len(pending), errors.Unwrap(err))
		}
		found := false
		for i := range msgs {
			if pending[i] && msgs[i].stream == m.Stream && msgs[i].ppid == m.PPID && bytes.Equal(msgs[i].payload, m.Payload) {
				delete(pending, i)
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("unexpected echo: stream %d ppid %d len %d", m.Stream, m.PPID, len(m.Payload))
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

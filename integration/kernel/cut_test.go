//go:build kernel

package kernel

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usock/usock/sock"
)

// direction is which way a cut drops packets on a tap.
type direction int

const (
	toGuest   direction = 1 << iota // host to guest: the tap's egress
	fromGuest                       // guest to host: the tap's ingress
	both      = toGuest | fromGuest
)

func (d direction) String() string {
	switch d {
	case toGuest:
		return "to-guest"
	case fromGuest:
		return "from-guest"
	case both:
		return "both"
	}
	return fmt.Sprintf("direction(%d)", int(d))
}

// cut silently drops every packet on tap in the direction d, by a tc
// filter that redirects them into the blackhole device bh0 (run.sh), until
// the returned function restores the path (also at the test's end).
func cut(t *testing.T, tap string, d direction) (restore func()) {
	t.Helper()
	tc(t, "qdisc", "replace", "dev", tap, "clsact")
	var hooks []string
	if d&toGuest != 0 {
		hooks = append(hooks, "egress")
	}
	if d&fromGuest != 0 {
		hooks = append(hooks, "ingress")
	}
	for _, h := range hooks {
		tc(t, "filter", "add", "dev", tap, h, "u32", "match", "u32", "0", "0",
			"action", "mirred", "egress", "redirect", "dev", "bh0")
	}
	done := false
	restore = func() {
		if done {
			return
		}
		done = true
		tc(t, "qdisc", "del", "dev", tap, "clsact")
	}
	t.Cleanup(restore)
	return restore
}

func tc(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("tc", args...).CombinedOutput(); err != nil {
		t.Fatalf("tc %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestDeadPrimaryPaced: this stack's client sends one message every 20 ms
// on a multi-homed association while its primary path is cut silently in
// both directions for 9 s. The path must go potentially failed while the
// cut lasts (RFC 7829 with the PF threshold 0: at its first timeout,
// about one RTO), the kernel must see the same, nothing may be lost or
// duplicated, and the path must come back once restored.
func TestDeadPrimaryPaced(t *testing.T) {
	checkWire(t)
	t.Cleanup(func() { vm.killPeers(t) })
	// pf_expose 2 (SCTP_PF_EXPOSE_ENABLE): the kernel reports the PF state.
	vm.sh(t, "sysctl -q -w net.sctp.pf_expose=2")
	srv := kernelServer(t, "-mode echo -q -port 5051 -bind "+guest1.String()+" -bind "+guest2.String())
	s := newStack(t)
	ep, a := connect(t, s, []netip.Addr{host1, host2}, []netip.Addr{guest1}, 5051, sock.WithHeartbeatInterval(time.Second))
	waitEvent(t, ep, a, sock.EventPathConfirmed, 30*time.Second)

	const n = 800 // 16 s at one message every 20 ms
	msgs := messages(n, 200)
	echoes := make(chan error, 1)
	go func() { echoes <- collectEchoes(ep, msgs) }()
	events := make(chan sock.Event, 64)
	go func() {
		for {
			ev, err := ep.Event(context.Background())
			if err != nil {
				close(events)
				return
			}
			events <- ev
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var restore func()
	var cutAt time.Time
	for i, m := range msgs {
		<-tick.C
		switch i {
		case 150:
			restore = cut(t, "tap0", both)
			cutAt = time.Now()
		case 600:
			restore()
		}
		if err := a.Send(context.Background(), m.payload, sock.SendInfo{Stream: m.stream, PPID: m.ppid}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := <-echoes; err != nil { // collectEchoes: not on the test goroutine
		t.Fatal(err)
	}
	var pf, up time.Duration
	for pf == 0 || up == 0 {
		select {
		case ev := <-events:
			t.Logf("%v at +%v", ev, ev.Time.Sub(cutAt).Round(time.Millisecond))
			if ev.Path == guest1 && ev.Type == sock.EventPathPotentiallyFailed && pf == 0 {
				pf = ev.Time.Sub(cutAt)
			}
			if ev.Path == guest1 && ev.Type == sock.EventPathUp && pf != 0 {
				up = ev.Time.Sub(cutAt)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("path %v: potentially failed at +%v, back at +%v (0: never)", guest1, pf, up)
		}
	}
	if pf > 9*time.Second {
		t.Errorf("path %v went potentially failed only %v after the cut, after it was restored", guest1, pf)
	}
	srv.expect(t, `^PADDR assoc=\d+ addr=`+regexp.QuoteMeta(host1.String())+` state=(pf|unreachable)`, 10*time.Second)
}

// collectEchoes receives the echoes of msgs on ep, each exactly once.
func collectEchoes(ep *sock.Endpoint, msgs []message) error {
	pending := map[int]bool{}
	for i := range msgs {
		pending[i] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), echoWait)
	defer cancel()
	for len(pending) > 0 {
		m, err := ep.Recv(ctx)
		if err != nil {
			return fmt.Errorf("recv with %d of %d echoes missing: %w", len(pending), len(msgs), err)
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
			return fmt.Errorf("unexpected (duplicate?) echo: stream %d ppid %d len %d", m.Stream, m.PPID, len(m.Payload))
		}
	}
	return nil
}

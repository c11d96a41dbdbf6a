//go:build kernel

package kernel

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usock/usock/sock"
)

// TestOneWayCut: a multi-homed association (this stack's client on host1
// and host2, the kernel's echo server on guest1 and guest2) whose path
// host1-guest1 on tap0 is cut while messages flow, to the guest only, from
// the guest only and both ways, each a subtest. Both sides send DATA: this
// stack one message every 40 ms, the kernel the echo of each.
//
// What each side must report follows from where acknowledgements go:
// RFC 9260 section 6.4 sends a SACK "to the same destination transport
// address from which it received the DATA", section 8.3 a HEARTBEAT ACK
// to the source address of the HEARTBEAT, and each side sends to host1 or
// guest1 from the other address of that pair (the path's local address,
// the kernel's route). So every round trip that starts on tap0 crosses
// tap0 both ways, and a cut in either direction breaks all of them:
//
//   - to-guest: this stack's DATA and HEARTBEATs to guest1 are lost. The
//     kernel's DATA and HEARTBEATs to host1 arrive, but this stack's SACKs
//     (pion never bundles a SACK with DATA, gatherOutboundSackPackets
//     makes a packet of it alone, which goes to the source of the last
//     DATA, guest1) and HEARTBEAT ACKs go back to guest1 and are lost too.
//   - from-guest: the mirror image. The kernel's sends to host1 are lost;
//     this stack's to guest1 arrive, but the kernel acknowledges them to
//     host1 (Linux bundles a SACK only with DATA to the address the DATA
//     came from, sctp_packet_bundle_sack), from guest1, and the
//     acknowledgements are lost.
//   - both: everything on tap0 is lost.
//
// A path whose own sends are acknowledged must not fail (section 8.3: an
// acknowledged TSN clears the error counter of the address it was last
// sent to), but here no send on tap0 is acknowledged while the cut lasts,
// whatever its direction: neither by a SACK (a TSN the peer acknowledges
// through host2-guest2 was moved there by the T3-rtx expiry, section
// 6.3.3 E3, and is credited to that path) nor by a HEARTBEAT ACK. Hence,
// in all three cases:
//
//   - this stack: guest1 goes potentially failed at its first timeout (RFC
//     7829 with the PF threshold 0), at most RTO.Max after the first
//     unacknowledged send; data moves to guest2, which stays active and
//     reports nothing; once restored, guest1 is active again at the first
//     HEARTBEAT sent to it after the restore (a PF path is probed once per
//     RTO, RFC 7829 section 5.1), within RTO.Max.
//   - the kernel: host1 goes potentially failed the same way (pf_expose 2
//     reports it), host2 stays active, and host1 is available again within
//     1.5 RTO.Max of the restore (Linux jitters the PF heartbeat by up to
//     half an RTO).
//   - nothing is lost or duplicated: every message comes back once, and
//     the kernel received each exactly once.
//
// Both sides run with RTO.Max 3 s and the cut lasts 6 s: the first timeouts
// come at RTO.Min (1 s on both), and with Path.Max.Retrans 5 the path
// cannot become inactive before the restore, so the states are exact.
func TestOneWayCut(t *testing.T) {
	for i, d := range []direction{toGuest, fromGuest, both} {
		t.Run(d.String(), func(t *testing.T) { oneWayCut(t, d, uint16(5061+i)) })
	}
}

// rtoMax is RTO.Max on both sides of the cut cases.
const rtoMax = 3 * time.Second

// slack is what the bounds of the cut cases allow beyond the RTO rules,
// for a guest under TCG on a loaded machine.
const slack = 2 * time.Second

func oneWayCut(t *testing.T, d direction, port uint16) {
	checkWire(t)
	t.Cleanup(func() { vm.killPeers(t) })
	// pf_expose 2 (SCTP_PF_EXPOSE_ENABLE): the kernel reports the PF state.
	vm.sh(t, "sysctl -q -w net.sctp.pf_expose=2")
	srv := kernelServer(t, fmt.Sprintf("-mode echo -port %d -rtomax %d -bind %v -bind %v", port, rtoMax.Milliseconds(), guest1, guest2))
	klog := newKernelLog(srv)
	s := newStack(t)
	ep, a := connect(t, s, []netip.Addr{host1, host2}, []netip.Addr{guest1}, port,
		sock.WithHeartbeatInterval(time.Second), sock.WithRTOMax(rtoMax))
	waitEvent(t, ep, a, sock.EventPathConfirmed, 30*time.Second)
	klog.wait(t, paddr(host2, "confirmed"), time.Time{}, 60*time.Second)

	// 300 messages, one every 40 ms: the cut from message 50 (2 s) to
	// message 200 (6 s later), 4 s more after it.
	const n, cutAt, restoreAt = 300, 50, 200
	msgs := messages(n, 200)
	echoes := make(chan error, 1)
	go func() { echoes <- collectEchoes(ep, msgs) }()
	events := make(chan sock.Event, 256)
	go func() {
		defer close(events)
		for {
			ev, err := ep.Event(context.Background())
			if err != nil {
				return
			}
			events <- ev
		}
	}()
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	var restore func()
	var cutTime, restoreTime time.Time
	var ours []sock.Path
	var theirs map[string]string
	for i, m := range msgs {
		<-tick.C
		switch i {
		case cutAt:
			restore = cut(t, "tap0", d)
			cutTime = time.Now()
		case restoreAt:
			// Both sides' view while the cut lasts.
			ours = a.Paths()
			theirs = klog.paths(t)
			restore()
			restoreTime = time.Now()
		}
		if err := a.Send(context.Background(), m.payload, sock.SendInfo{Stream: m.stream, PPID: m.ppid}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := <-echoes; err != nil { // collectEchoes: not on the test goroutine
		t.Fatal(err)
	}

	// This stack: the states while cut.
	for _, p := range ours {
		t.Logf("this stack during the cut: %v %v errors %d rto %v in use %v", p.Remote, p.State, p.ErrorCount, p.RTO, p.InUse)
		switch {
		case p.Remote == guest1 && p.State != sock.PathPotentiallyFailed:
			t.Errorf("this stack: path %v is %v during the cut, want potentially failed", p.Remote, p.State)
		case p.Remote == guest2 && (p.State != sock.PathActive || !p.InUse):
			t.Errorf("this stack: path %v is %v (in use %v) during the cut, want active and in use", p.Remote, p.State, p.InUse)
		}
	}
	// This stack: its events, until guest1 is back.
	var pf, up time.Time
	for up.IsZero() {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("this stack: the endpoint's events ended")
			}
			t.Logf("this stack: %v at cut+%v", ev, ev.Time.Sub(cutTime).Round(time.Millisecond))
			switch {
			case ev.Path == guest2 && (ev.Type == sock.EventPathPotentiallyFailed || ev.Type == sock.EventPathDown):
				t.Errorf("this stack: the uncut path %v: %v", guest2, ev.Type)
			case ev.Path == guest1 && ev.Type == sock.EventPathDown:
				t.Errorf("this stack: path %v inactive after %v of cut (Path.Max.Retrans cannot be reached)", guest1, ev.Time.Sub(cutTime))
			case ev.Path == guest1 && ev.Type == sock.EventPathPotentiallyFailed && pf.IsZero():
				pf = ev.Time
			case ev.Path == guest1 && ev.Type == sock.EventPathUp && ev.Time.Before(restoreTime):
				t.Errorf("this stack: path %v active again while still cut", guest1)
			case ev.Path == guest1 && ev.Type == sock.EventPathUp && !pf.IsZero():
				up = ev.Time
			}
		case <-time.After(rtoMax + slack + 30*time.Second):
			t.Fatalf("this stack: path %v potentially failed at %v, back at %v (zero: never)", guest1, pf, up)
		}
	}
	if pf.After(restoreTime) {
		t.Fatalf("this stack: path %v went potentially failed only after the restore", guest1)
	}
	if got := pf.Sub(cutTime); got > rtoMax+slack {
		t.Errorf("this stack: path %v potentially failed %v after the cut, want at most RTO.Max %v (+%v)", guest1, got, rtoMax, slack)
	}
	if got := up.Sub(restoreTime); got > rtoMax+slack {
		t.Errorf("this stack: path %v back %v after the restore, want at most RTO.Max %v (+%v)", guest1, got, rtoMax, slack)
	}
	t.Logf("this stack: %v potentially failed at cut+%v, active at restore+%v", guest1,
		pf.Sub(cutTime).Round(time.Millisecond), up.Sub(restoreTime).Round(time.Millisecond))

	// The kernel: the states while cut, its notifications, and its state
	// once restored.
	t.Logf("the kernel during the cut: %v", theirs)
	if theirs[host1.String()] != "pf" {
		t.Errorf("the kernel: path %v is %q during the cut, want pf", host1, theirs[host1.String()])
	}
	if theirs[host2.String()] != "active" {
		t.Errorf("the kernel: path %v is %q during the cut, want active", host2, theirs[host2.String()])
	}
	kpf := klog.wait(t, paddr(host1, "pf"), cutTime, 10*time.Second)
	if kpf.at.After(restoreTime) {
		t.Errorf("the kernel: path %v potentially failed only after the restore", host1)
	}
	kup := klog.wait(t, paddr(host1, "available"), restoreTime, 3*rtoMax/2+slack+10*time.Second)
	if got := kup.at.Sub(restoreTime); got > 3*rtoMax/2+slack {
		t.Errorf("the kernel: path %v back %v after the restore, want at most 1.5 RTO.Max (+%v)", host1, got, slack)
	}
	t.Logf("the kernel: %v potentially failed at cut+%v, available at restore+%v", host1,
		kpf.at.Sub(cutTime).Round(time.Millisecond), kup.at.Sub(restoreTime).Round(time.Millisecond))
	after := klog.paths(t)
	for _, h := range []netip.Addr{host1, host2} {
		if after[h.String()] != "active" {
			t.Errorf("the kernel: path %v is %q after the restore, want active", h, after[h.String()])
		}
	}
	for _, l := range klog.before(paddrRx) {
		if strings.Contains(l, "addr="+host2.String()+" ") && !strings.HasSuffix(l, "state=confirmed") {
			t.Errorf("the kernel: the uncut path: %s", l)
		}
	}
	// Every echo came back once (collectEchoes); the kernel read every
	// message once: its MSG lines come before the report just made.
	if got := len(klog.before(msgRx)); got != n {
		t.Errorf("the kernel received %d messages, want %d", got, n)
	}
	for _, p := range a.Paths() {
		if p.State != sock.PathActive {
			t.Errorf("this stack: path %v is %v after the restore, want active", p.Remote, p.State)
		}
	}
}

var (
	paddrRx = regexp.MustCompile(`^PADDR `)
	msgRx   = regexp.MustCompile(`^MSG `)
)

// paddr matches the kernel's SCTP_PEER_ADDR_CHANGE line for addr in state.
func paddr(addr netip.Addr, state string) string {
	return `^PADDR assoc=\d+ addr=` + regexp.QuoteMeta(addr.String()) + ` state=` + state + `$`
}

// stamped is a line of a guest command with the time the host read it.
type stamped struct {
	at   time.Time
	line string
}

// kernelLog reads every line of a guest command as it comes, with its
// time, so that a case can look at notifications that came while it was
// busy sending. Its lines channel is written by one goroutine, which ends
// with the command; seen belongs to the test goroutine.
type kernelLog struct {
	lines chan stamped
	seen  []stamped
}

func newKernelLog(p *proc) *kernelLog {
	k := &kernelLog{lines: make(chan stamped, 65536)}
	go func() {
		defer close(k.lines)
		for l := range p.lines {
			k.lines <- stamped{time.Now(), l}
		}
	}()
	return k
}

// wait returns the first line read at or after since that matches re,
// reading more lines for up to d; none fails the test.
func (k *kernelLog) wait(t *testing.T, re string, since time.Time, d time.Duration) stamped {
	t.Helper()
	rx := regexp.MustCompile(re)
	for _, s := range k.seen {
		if !s.at.Before(since) && rx.MatchString(s.line) {
			return s
		}
	}
	deadline := time.After(d)
	for {
		select {
		case s, ok := <-k.lines:
			if !ok {
				t.Fatalf("the kernel's peer ended before a line matching %q", re)
			}
			k.seen = append(k.seen, s)
			if !s.at.Before(since) && rx.MatchString(s.line) {
				return s
			}
		case <-deadline:
			t.Fatalf("the kernel: no line matching %q in %v", re, d)
		}
	}
}

// before returns the lines read so far that match rx.
func (k *kernelLog) before(rx *regexp.Regexp) []string {
	var out []string
	for _, s := range k.seen {
		if rx.MatchString(s.line) {
			out = append(out, s.line)
		}
	}
	return out
}

var pathRx = regexp.MustCompile(`^PATH assoc=\d+ addr=(\S+) state=(\w+)`)

// paths asks kpeer for its paths (SIGUSR1) and returns each peer address's
// state.
func (k *kernelLog) paths(t *testing.T) map[string]string {
	t.Helper()
	asked := time.Now()
	vm.sh(t, "killall -USR1 kpeer")
	end := k.wait(t, `^PATHS n=\d+$`, asked, 30*time.Second)
	out := map[string]string{}
	for _, s := range k.seen {
		if s.at.Before(asked) || s.at.After(end.at) {
			continue
		}
		if m := pathRx.FindStringSubmatch(s.line); m != nil {
			out[m[1]] = m[2]
		}
	}
	return out
}

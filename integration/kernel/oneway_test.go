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
// What each side must report follows from where acknowledgements go.
// RFC 9260 section 8.3 sends a HEARTBEAT ACK to the source address of the
// HEARTBEAT, section 6.4 a SACK "to the same destination transport address
// from which it received the DATA", and each side sends to host1 or guest1
// from the other address of that pair (the path's local address, the
// kernel's route), so a round trip that starts on tap0 crosses tap0 both
// ways. This stack follows 6.4 always: pion sends each SACK alone
// (gatherOutboundSackPackets makes a packet of it) and the shim sends it to
// the source of the last DATA, whatever that path's state. Linux does too,
// except that a SACK for a destination that is potentially failed,
// inactive or unconfirmed goes to its active path instead
// (sctp_outq_select_transport; HEARTBEAT ACKs excepted).
//
//   - to-guest: this stack's DATA and HEARTBEATs to guest1 are lost. The
//     kernel's DATA and HEARTBEATs to host1 arrive, but this stack's SACKs
//     and HEARTBEAT ACKs go back to guest1 and are lost: no send on tap0
//     is acknowledged, and both sides must fail it. The acknowledgement
//     that comes through host2-guest2 once the kernel moved its data there
//     covers TSNs the kernel's T3-rtx expiry moved with it (section 6.3.3
//     E3), credited to the path they were last sent to.
//   - from-guest: the kernel's sends to host1 are lost, so the kernel must
//     fail host1. This stack's sends to guest1 arrive; their SACKs go to
//     host1 and are lost until the kernel's host1 is potentially failed
//     (about 1 s, its first T3-rtx expiry), then to host2, and arrive. So
//     this stack's guest1 is acknowledged again after about one RTO, and
//     whether its own first T3-rtx expiry (also about 1 s, at RTO.Min)
//     comes before is a race of two timers; pion's RACK and tail-loss
//     probes re-send TSNs to guest2 in between, and those count against
//     guest1 (docs/ARCHITECTURE.md, Paths). Both outcomes follow the
//     rules: guest1 potentially failed (its sends went unacknowledged for
//     an RTO) and back after the restore, or guest1 active throughout, its
//     sends acknowledged (a path whose own sends are acknowledged must not
//     fail: section 8.3, an acknowledged TSN clears the error counter of
//     the address it was last sent to). Its HEARTBEAT ACKs come back to
//     host1 and are lost, but an active path carrying data is not idle and
//     gets no HEARTBEATs.
//   - both: everything on tap0 is lost; both sides must fail it.
//
// Hence:
//
//   - this stack: guest1 goes potentially failed at its first timeout (RFC
//     7829 with the PF threshold 0), at most RTO.Max after the first
//     unacknowledged send (from-guest: or stays active); data moves to
//     guest2, which stays active and reports nothing; once restored,
//     guest1 is active again at the first HEARTBEAT sent to it after the
//     restore (a PF path is probed once per RTO, RFC 7829 section 5.1),
//     within RTO.Max.
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

	// This stack: the states while cut. From the guest only, guest1 may
	// also have stayed active, its sends acknowledged through guest2.
	held := false
	for _, p := range ours {
		t.Logf("this stack during the cut: %v %v errors %d rto %v in use %v", p.Remote, p.State, p.ErrorCount, p.RTO, p.InUse)
		switch {
		case p.Remote == guest1 && d == fromGuest && p.State == sock.PathActive:
			held = true
			t.Logf("this stack: path %v stayed active, its sends acknowledged through %v", guest1, guest2)
		case p.Remote == guest1 && p.State != sock.PathPotentiallyFailed:
			t.Errorf("this stack: path %v is %v during the cut, want potentially failed", p.Remote, p.State)
		case p.Remote == guest2 && p.State != sock.PathActive:
			t.Errorf("this stack: path %v is %v during the cut, want active", p.Remote, p.State)
		case p.Remote == guest2 && !p.InUse && !held:
			t.Errorf("this stack: path %v is not in use during the cut", p.Remote)
		}
	}
	// This stack: its events, until guest1 is back, or (held) those
	// queued by now, all of them after the restore.
	var pf, up time.Time
	for up.IsZero() {
		var ev sock.Event
		var ok bool
		if held && pf.IsZero() {
			select {
			case ev, ok = <-events:
			default:
			}
			if !ok && ev.Type == 0 {
				break
			}
		} else {
			select {
			case ev, ok = <-events:
			case <-time.After(rtoMax + slack + 30*time.Second):
				t.Fatalf("this stack: path %v potentially failed at %v, back at %v (zero: never)", guest1, pf, up)
			}
		}
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
	}
	if held && pf.IsZero() {
		t.Logf("this stack: %v active throughout the cut", guest1)
	} else {
		checkBack(t, pf, up, cutTime, restoreTime)
	}
	kernelSide(t, klog, cutTime, restoreTime, theirs)
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

// checkBack checks that this stack's guest1 went potentially failed (at
// pf) within RTO.Max of the cut and came back (at up) within RTO.Max of
// the restore.
func checkBack(t *testing.T, pf, up, cutTime, restoreTime time.Time) {
	t.Helper()
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
}

// kernelSide checks the kernel's view of the cut path host1 and of host2:
// theirs (its report while cut), its notifications and its report after
// the restore.
func kernelSide(t *testing.T, klog *kernelLog, cutTime, restoreTime time.Time, theirs map[string]string) {
	t.Helper()

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

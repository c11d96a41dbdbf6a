//go:build kernel

package kernel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usock/usock/internal/testkit"
)

// guest is the running kernel guest: a QEMU process whose second serial
// port is the control console of guest/init (commands in, their output
// lines out), the first the kernel's console, kept in a file.
//
// Its state is owned by the reader goroutine (lines from the console,
// dispatched to procs under mu) and by the test goroutines that start
// commands (under mu).
type guest struct {
	cmd     *exec.Cmd
	ctl     io.WriteCloser
	console string
	accel   string
	booted  time.Duration
	ready   chan string // the GUEST READY line, once

	mu     sync.Mutex
	procs  map[int]*proc
	nextID int
	stray  []string // control lines no proc claimed
	exited chan struct{}
}

// proc is one command running in the guest, with its output lines.
type proc struct {
	g     *guest
	id    int
	cmd   string
	lines chan string // its output lines; closed after its EXIT line
	mu    sync.Mutex
	all   []string
	code  int
}

// guestConfig is how the guest is booted.
type guestConfig struct {
	dir   string   // holds vmlinuz and initrd.gz (build-guest.sh)
	taps  []string // host tap devices, one per guest interface (eth0, eth1, ...)
	addrs []string // the guest's address on each, ADDR/LEN
	mtu   int
}

// bootGuest starts the guest with KVM when KVM works here, else under
// TCG, and waits for its init to be ready. KVM on a machine that is itself
// a guest may abort (an MSR QEMU cannot set) or hang: a boot that is not
// ready within kvmWait falls back to TCG.
func bootGuest(cfg guestConfig) (*guest, error) {
	const kvmWait = 30 * time.Second
	const tcgWait = 120 * time.Second
	var errs []error
	if _, err := os.Stat("/dev/kvm"); err == nil && os.Getenv("USOCK_GUEST_ACCEL") != "tcg" {
		g, err := startGuest(cfg, "kvm", kvmWait)
		if err == nil {
			return g, nil
		}
		errs = append(errs, fmt.Errorf("kvm: %w", err))
	}
	g, err := startGuest(cfg, "tcg", tcgWait)
	if err == nil {
		return g, nil
	}
	errs = append(errs, fmt.Errorf("tcg: %w", err))
	return nil, errors.Join(errs...)
}

func startGuest(cfg guestConfig, accel string, wait time.Duration) (*guest, error) {
	console := filepath.Join(cfg.dir, "console-"+accel+".log")
	args := []string{
		"-m", "384", "-smp", "1", "-nodefaults", "-display", "none", "-no-reboot",
		"-kernel", filepath.Join(cfg.dir, "vmlinuz"),
		"-initrd", filepath.Join(cfg.dir, "initrd.gz"),
		"-append", fmt.Sprintf("console=ttyS0 panic=-1 usock.addrs=%s usock.mtu=%d",
			strings.Join(cfg.addrs, ","), cfg.mtu),
		"-serial", "file:" + console, "-serial", "stdio",
	}
	if accel == "kvm" {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		args = append(args, "-accel", "tcg")
	}
	for i, tap := range cfg.taps {
		// csum=off: without checksum offload the guest's virtio-net has
		// no scatter-gather, hence no GSO. Linux 6.1 cannot segment its
		// own GSO batches of SCTP over UDP (sctp_gso_segment returns
		// -EINVAL and the batch is dropped; docs/INTEROP.md).
		args = append(args,
			"-netdev", fmt.Sprintf("tap,id=n%d,ifname=%s,script=no,downscript=no", i, tap),
			"-device", fmt.Sprintf("virtio-net-pci,netdev=n%d,romfile=,csum=off,mac=52:54:00:00:00:%02x", i, i+1))
	}
	g := &guest{console: console, accel: accel, procs: map[int]*proc{}, ready: make(chan string, 1), exited: make(chan struct{})}
	g.cmd = exec.Command("qemu-system-x86_64", args...)
	var err error
	if g.ctl, err = g.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := g.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &strings.Builder{}
	g.cmd.Stderr = stderr
	start := time.Now()
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting qemu: %w", err)
	}
	go g.read(out)
	select {
	case <-g.ready:
		g.booted = time.Since(start)
		return g, nil
	case <-g.exited:
		_ = g.cmd.Wait() // its end is the end of the copy into stderr
		return nil, fmt.Errorf("qemu exited before the guest was ready: %s", strings.TrimSpace(stderr.String()))
	case <-time.After(wait):
		g.stop()
		return nil, fmt.Errorf("guest not ready in %v (console: %s)", wait, tail(console, 5))
	}
}

var lineRx = regexp.MustCompile(`^(\d+) (.*)$`)

// read dispatches the control console's lines to the procs that print
// them; it ends when QEMU exits.
func (g *guest) read(r io.Reader) {
	defer close(g.exited)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(l, "GUEST READY") {
			select {
			case g.ready <- l:
			default:
			}
			continue
		}
		m := lineRx.FindStringSubmatch(l)
		if m == nil {
			g.logStray(l)
			continue
		}
		id, _ := strconv.Atoi(m[1])
		g.mu.Lock()
		p := g.procs[id]
		g.mu.Unlock()
		if p == nil {
			g.logStray(l)
			continue
		}
		if code, ok := strings.CutPrefix(m[2], "EXIT "); ok {
			p.code, _ = strconv.Atoi(code)
			g.mu.Lock()
			delete(g.procs, id)
			g.mu.Unlock()
			close(p.lines)
			continue
		}
		p.mu.Lock()
		p.all = append(p.all, m[2])
		p.mu.Unlock()
		select {
		case p.lines <- m[2]:
		default: // a proc whose lines nobody reads keeps them in all
		}
	}
	g.mu.Lock()
	for id, p := range g.procs {
		delete(g.procs, id)
		close(p.lines)
	}
	g.mu.Unlock()
}

// logStray keeps a control line no proc claims, for the failure report.
func (g *guest) logStray(l string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.stray) < 1000 {
		g.stray = append(g.stray, l)
	}
}

// stop powers the guest off.
func (g *guest) stop() {
	_, _ = fmt.Fprintln(g.ctl, "0 poweroff -f")
	_ = g.ctl.Close()
	select {
	case <-g.exited:
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
	}
	_ = g.cmd.Wait()
}

// start runs a shell command line in the guest.
func (g *guest) start(t testing.TB, cmd string) *proc {
	t.Helper()
	g.mu.Lock()
	g.nextID++
	p := &proc{g: g, id: g.nextID, cmd: cmd, lines: make(chan string, 65536), code: -1}
	g.procs[p.id] = p
	g.mu.Unlock()
	if _, err := fmt.Fprintf(g.ctl, "%d %s\n", p.id, cmd); err != nil {
		t.Fatalf("guest: sending %q: %v", cmd, err)
	}
	t.Logf("guest[%d]: %s", p.id, cmd)
	return p
}

// sh runs a shell command in the guest and returns its output; a non-zero
// status fails the test.
func (g *guest) sh(t testing.TB, cmd string) string {
	t.Helper()
	p := g.start(t, cmd)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("guest: %q exited %d:\n%s", cmd, code, strings.Join(p.output(), "\n"))
	}
	return strings.Join(p.output(), "\n")
}

func (p *proc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.all...)
}

// expect reads the proc's lines until one matches re and returns its
// submatches; a line matching one of fail, the end of the proc or the
// timeout fail the test.
func (p *proc) expect(t testing.TB, re string, timeout time.Duration, fail ...string) []string {
	t.Helper()
	name := fmt.Sprintf("guest[%d] %q", p.id, p.cmd)
	return testkit.ExpectLine(t, name, p.lines, re, timeout, func() string {
		return fmt.Sprintf("exit %d, output:\n%s", p.code, strings.Join(p.output(), "\n"))
	}, fail...)
}

// wait waits for the proc's end and returns its exit status.
func (p *proc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-p.lines:
			if !ok {
				return p.code
			}
		case <-deadline:
			p.g.mu.Lock()
			stray := strings.Join(p.g.stray, "\n")
			p.g.mu.Unlock()
			t.Fatalf("guest[%d] %q still running after %v:\n%s\nstray control lines:\n%s\nconsole: %s",
				p.id, p.cmd, timeout, strings.Join(p.output(), "\n"), stray, tail(p.g.console, 10))
		}
	}
}

// killPeers ends every kpeer in the guest (all of them are the tests'
// own).
func (g *guest) killPeers(t testing.TB) {
	t.Helper()
	g.sh(t, "killall -9 kpeer 2>/dev/null; true")
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// waitCtx is a context for one step of a case.
func waitCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usock/usock/internal/quantile"
	"github.com/usock/usock/sock"
)

const benchUsage = `usage: usock bench [flags]

Measure an association to a peer, iperf-like. Start the peer first, for
example "usock listen -echo -q -port 5000" (-q: it does not print what it
gets).

modes:
  throughput  send -size byte messages as fast as the association takes them;
              the peer may echo them or not. Reports Mbit/s and messages/s.
  rate        keep -window messages in flight and count the echoes: round
              trips per second (needs an echoing peer).
  rtt         one message in flight at a time: round-trip time median, p99,
              p99.9 (needs an echoing peer).

A progress line goes to stderr every -interval, the summary to stdout. The
summary ends with the CPU time (user + system) this process used while
sending, and that time per message or round trip.

examples:
  usock bench -addr 127.0.0.1 -port 5000 -duration 10s
  usock bench -addr 127.0.0.1 -port 5000 -mode rate -size 200 -window 32
  usock bench -addr 127.0.0.1 -port 5000 -mode rtt -size 64 -duration 5s`

// benchHeader is the sequence number and send time (ns since the start)
// that rate and rtt messages begin with.
const benchHeader = 16

func bench(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	addrs := fs.String("addr", "127.0.0.1", "the peer's `addresses`, comma-separated")
	port := portFlag(fs, "port", 5000, "the peer's SCTP `port`")
	locals := fs.String("local", "", "local `addresses`, comma-separated (default: loopback for a loopback peer, else the wildcard)")
	udpPort := portFlag(fs, "udp-port", 0, "local UDP encapsulation `port` (0: a free one)")
	remoteUDP := portFlag(fs, "remote-udp-port", sock.DefaultUDPPort, "the peer's UDP encapsulation `port`")
	size := fs.Int("size", 1024, "message size in `bytes`")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	mode := fs.String("mode", "throughput", "throughput, rate or rtt")
	window := fs.Int("window", 64, "messages in flight in rate mode")
	stream := fs.Uint("stream", 0, "`stream` of the messages")
	ppid := u32Flag(fs, "ppid", 0, "payload protocol `identifier` of the messages")
	interval := fs.Duration("interval", time.Second, "time between progress lines (0: none)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up setting the association up after this long")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed phase to this `file` (go tool pprof)")
	if err := parseFlags(fs, args, std.out, benchUsage); err != nil {
		return err
	}
	remote, err := parseAddrs("addr", *addrs)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	local := localFor(remote)
	if *locals != "" {
		if local, err = parseAddrs("local", *locals); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	inflight := *window
	switch *mode {
	case "throughput":
		if *size < 1 {
			return fmt.Errorf("bench: -size %d: at least 1 byte", *size)
		}
	case "rate", "rtt":
		if *size < benchHeader {
			return fmt.Errorf("bench: -size %d: at least %d bytes in %s mode", *size, benchHeader, *mode)
		}
		if *mode == "rtt" {
			inflight = 1
		}
		if inflight < 1 {
			return fmt.Errorf("bench: -window %d: at least 1", *window)
		}
	default:
		return fmt.Errorf("bench: -mode %q: throughput, rate or rtt", *mode)
	}
	if *size > sock.DefaultMaxMessageSize {
		return fmt.Errorf("bench: -size %d: at most %d bytes", *size, sock.DefaultMaxMessageSize)
	}
	if *port == 0 || *duration <= 0 || *stream > 65535 {
		return fmt.Errorf("bench: need -port, a positive -duration and a -stream below 65536")
	}

	stack, err := newStack(*udpPort, false, std.err)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer stack.Close()
	ep, err := stack.NewEndpoint(local, 0)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	assoc, err := ep.Connect(cctx, remote, *port, sock.WithRemoteUDPPort(*remoteUDP))
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("bench: %w", err)
	}
	fmt.Fprintf(std.err, "bench %s: %v, %d-byte messages for %v\n", *mode, assoc, *size, *duration)

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	b := &benchRun{mode: *mode, size: *size, start: time.Now(), cpu0: readCPU()}
	end := b.start.Add(*duration)
	rctx, stopRun := context.WithDeadline(ctx, end)
	defer stopRun()
	var wg sync.WaitGroup
	// The sends use a context that cannot end: with one that can,
	// sock's Association.Send arms and clears a write deadline in pion
	// around every message (a timer and a context callback each), work
	// an application that sends without a deadline does not do. The run
	// ends by the clock instead, and watchSend aborts the association if a
	// Send is still blocked long after the end or Ctrl-C (a peer that
	// keeps its receive window shut).
	sendCtx := context.Background()
	sending := make(chan struct{})
	stuck := make(chan struct{})
	wg.Go(func() {
		watchSend(rctx, sending, shutdownTimeout, func() {
			close(stuck)
			assoc.Abort("bench: the peer takes no data")
		})
	})
	if *interval > 0 {
		wg.Go(func() { b.progress(rctx, *interval, std) })
	}
	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	info := sock.SendInfo{Stream: uint16(*stream), PPID: *ppid}
	var sendErr error
	switch *mode {
	case "rtt":
		// One goroutine sends and receives, as an application waiting for
		// each answer would: no hand-off to a second goroutine per echo.
		sendErr = b.pingPong(rctx, sendCtx, ep, assoc, payload, info)
	default:
		sendErr = b.stream(rctx, sendCtx, ep, assoc, payload, info, inflight, &wg)
	}
	elapsed := time.Since(b.start)
	b.cpu1 = readCPU()
	close(sending)
	stopRun()
	if *mode != "rtt" && ctx.Err() == nil && sendErr == nil {
		// Give the last echoes a moment (at most one RTT-ish).
		time.Sleep(min(50*time.Millisecond, *duration/10))
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	serr := assoc.Shutdown(sctx)
	_ = ep.Close()
	wg.Wait()
	select {
	case <-stuck:
		return fmt.Errorf("bench: a send was still blocked %v after the end: association aborted", shutdownTimeout)
	default:
	}
	if sendErr != nil {
		return fmt.Errorf("bench: %w", sendErr)
	}
	fmt.Fprintln(std.out, b.summary(elapsed))
	if *mode != "throughput" && b.echoed.Load() == 0 {
		return errors.New("bench: no echoes: is the peer echoing (usock listen -echo)?")
	}
	if serr != nil && assoc.Reason() != sock.ReasonShutdown && ctx.Err() == nil {
		return fmt.Errorf("bench: shutdown: %w", serr)
	}
	return nil
}

// sendFailed reports whether err, returned by a Send of the run that
// ends with rctx, is a failure rather than the end of the run.
func sendFailed(rctx context.Context, err error) bool {
	end, _ := rctx.Deadline()
	return rctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, os.ErrDeadlineExceeded) && time.Until(end) > 100*time.Millisecond
}

// stream runs the throughput and rate modes until rctx ends: it sends
// messages as fast as the association takes them (rate: with at most
// inflight unanswered), while a goroutine of wg counts what comes back
// (throughput: drains the echoes, if any).
func (b *benchRun) stream(rctx, sendCtx context.Context, ep *sock.Endpoint, assoc *sock.Association,
	payload []byte, info sock.SendInfo, inflight int, wg *sync.WaitGroup) error {
	echo := b.mode != "throughput"
	tokens := make(chan struct{}, inflight)
	wg.Go(func() {
		for {
			m, err := ep.Recv(context.Background()) // ends when the endpoint closes
			if err != nil {
				return
			}
			b.echoed.Add(1)
			b.echoBytes.Add(int64(len(m.Payload)))
			if echo && len(m.Payload) >= benchHeader {
				sentAt := time.Duration(binary.BigEndian.Uint64(m.Payload[8:]))
				b.addRTT(time.Since(b.start) - sentAt)
				select {
				case <-tokens:
				default:
				}
			}
		}
	})
	for seq := uint64(0); rctx.Err() == nil; seq++ {
		if echo {
			select {
			case tokens <- struct{}{}:
			case <-rctx.Done():
				return nil
			}
			b.stamp(payload, seq)
		}
		if done, err := b.sendOne(rctx, sendCtx, assoc, payload, info); done {
			return err
		}
	}
	return nil
}

// sendOne sends payload and counts it; done means the run is over (rctx
// ended, or the association went away), with err what failed.
func (b *benchRun) sendOne(rctx, sendCtx context.Context, assoc *sock.Association, payload []byte,
	info sock.SendInfo) (done bool, err error) {
	if err := assoc.Send(sendCtx, payload, info); err != nil {
		if sendFailed(rctx, err) {
			return true, err
		}
		return true, nil
	}
	b.sent.Add(1)
	b.sentBytes.Add(int64(len(payload)))
	return false, nil
}

// pingPong runs the rtt mode until rctx ends: one message at a time, the
// next sent when the echo of the last one is back.
func (b *benchRun) pingPong(rctx, sendCtx context.Context, ep *sock.Endpoint, assoc *sock.Association,
	payload []byte, info sock.SendInfo) error {
	for seq := uint64(0); rctx.Err() == nil; seq++ {
		b.stamp(payload, seq)
		if done, err := b.sendOne(rctx, sendCtx, assoc, payload, info); done {
			return err
		}
		for {
			m, err := ep.Recv(rctx)
			if err != nil {
				if rctx.Err() == nil && !errors.Is(err, sock.ErrClosed) {
					return err
				}
				return nil
			}
			b.echoed.Add(1)
			b.echoBytes.Add(int64(len(m.Payload)))
			if len(m.Payload) >= benchHeader && binary.BigEndian.Uint64(m.Payload) == seq {
				sentAt := time.Duration(binary.BigEndian.Uint64(m.Payload[8:]))
				b.addRTT(time.Since(b.start) - sentAt)
				break
			}
		}
	}
	return nil
}

// stamp writes the sequence number and the send time into p's header.
func (b *benchRun) stamp(p []byte, seq uint64) {
	binary.BigEndian.PutUint64(p, seq)
	binary.BigEndian.PutUint64(p[8:], uint64(time.Since(b.start)))
}

// watchSend calls abort if the sending loop has not closed sending grace
// after ctx ended.
func watchSend(ctx context.Context, sending <-chan struct{}, grace time.Duration, abort func()) {
	select {
	case <-sending:
		return
	case <-ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-sending:
	case <-t.C:
		select {
		case <-sending: // ended as the time ran out
		default:
			abort()
		}
	}
}

type benchRun struct {
	mode  string
	size  int
	start time.Time
	// The process's CPU time at the start and at the end of the run.
	cpu0, cpu1 cpuTime

	sent, sentBytes, echoed, echoBytes atomic.Int64

	mu       sync.Mutex
	rtts     []time.Duration // all of them
	interval []time.Duration // since the last progress line
}

func (b *benchRun) addRTT(d time.Duration) {
	b.mu.Lock()
	b.rtts = append(b.rtts, d)
	b.interval = append(b.interval, d)
	b.mu.Unlock()
}

func mbits(bytes int64, d time.Duration) float64 {
	return float64(bytes) * 8 / d.Seconds() / 1e6
}

func (b *benchRun) progress(ctx context.Context, every time.Duration, std stdio) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := b.start
	var lastSent, lastSentBytes, lastEchoed int64
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			d := now.Sub(last)
			s, sb, e := b.sent.Load(), b.sentBytes.Load(), b.echoed.Load()
			line := fmt.Sprintf("[%6.1fs] %9.2f Mbit/s %9.0f msgs/s", now.Sub(b.start).Seconds(),
				mbits(sb-lastSentBytes, d), float64(s-lastSent)/d.Seconds())
			if b.mode != "throughput" {
				b.mu.Lock()
				iv := b.interval
				b.interval = nil
				b.mu.Unlock()
				line += fmt.Sprintf(" %9.0f echoes/s  rtt median %v", float64(e-lastEchoed)/d.Seconds(), fmtDur(quantileOf(iv, 500)))
			}
			fmt.Fprintln(std.err, line)
			last, lastSent, lastSentBytes, lastEchoed = now, s, sb, e
		}
	}
}

// quantileOf sorts ds and returns its pm/1000 quantile (quantile.Of).
func quantileOf(ds []time.Duration, pm int) time.Duration {
	slices.Sort(ds)
	return quantile.Of(ds, pm)
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
}

// summary is the one line the bench prints to stdout.
func (b *benchRun) summary(elapsed time.Duration) string {
	s, sb, e, eb := b.sent.Load(), b.sentBytes.Load(), b.echoed.Load(), b.echoBytes.Load()
	secs := elapsed.Seconds()
	switch b.mode {
	case "throughput":
		line := fmt.Sprintf("throughput: %d messages of %d bytes in %.2fs: %.2f Mbit/s, %.0f msgs/s",
			s, b.size, secs, mbits(sb, elapsed), float64(s)/secs)
		if e > 0 {
			line += fmt.Sprintf(" (%d echoed, %.2f Mbit/s back)", e, mbits(eb, elapsed))
		}
		return line + cpuSummary(b.cpu0, b.cpu1, elapsed, s, "message")
	default:
		b.mu.Lock()
		rtts := slices.Clone(b.rtts)
		b.mu.Unlock()
		var lo, hi time.Duration
		if len(rtts) > 0 {
			lo, hi = slices.Min(rtts), slices.Max(rtts)
		}
		return fmt.Sprintf("%s: %d round trips of %d bytes in %.2fs: %.0f msgs/s, %.2f Mbit/s each way, RTT median %s p99 %s p99.9 %s (min %s, max %s)",
			b.mode, e, b.size, secs, float64(e)/secs, mbits(eb, elapsed),
			fmtDur(quantileOf(rtts, 500)), fmtDur(quantileOf(rtts, 990)), fmtDur(quantileOf(rtts, 999)),
			fmtDur(lo), fmtDur(hi)) + cpuSummary(b.cpu0, b.cpu1, elapsed, e, "round trip")
	}
}

// cpuTime is the CPU time the process has used; ok is false where the
// system does not say.
type cpuTime struct {
	user, sys time.Duration
	ok        bool
}

// cpuSummary describes the CPU time the process used between c0 and c1,
// a wall time of elapsed in which n units of work were done: ", CPU 1.20s
// (user 0.80s, sys 0.40s): 60% of a core, 12.0 µs per message". It is ""
// when the CPU time is not known.
func cpuSummary(c0, c1 cpuTime, elapsed time.Duration, n int64, unit string) string {
	if !c0.ok || !c1.ok || elapsed <= 0 {
		return ""
	}
	user, sys := c1.user-c0.user, c1.sys-c0.sys
	total := user + sys
	line := fmt.Sprintf(", CPU %.2fs (user %.2fs, sys %.2fs): %.0f%% of a core", total.Seconds(), user.Seconds(),
		sys.Seconds(), 100*total.Seconds()/elapsed.Seconds())
	if n > 0 {
		line += fmt.Sprintf(", %.1f µs per %s", float64(total.Microseconds())/float64(n), unit)
	}
	return line
}

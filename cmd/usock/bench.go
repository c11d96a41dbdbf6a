package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
  rtt         one message in flight at a time: round-trip time median, p99
              (needs an echoing peer).

A progress line goes to stderr every -interval, the summary to stdout.

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

	b := &benchRun{mode: *mode, size: *size, start: time.Now()}
	rctx, stopRun := context.WithTimeout(ctx, *duration)
	defer stopRun()
	var wg sync.WaitGroup
	tokens := make(chan struct{}, inflight)
	echo := *mode != "throughput"
	wg.Go(func() { // receive echoes (also in throughput mode: drain them)
		for {
			m, err := ep.Recv(context.Background())
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
	if *interval > 0 {
		wg.Go(func() { b.progress(rctx, *interval, std) })
	}

	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	info := sock.SendInfo{Stream: uint16(*stream), PPID: *ppid}
	var sendErr error
	for seq := uint64(0); rctx.Err() == nil; seq++ {
		if echo {
			select {
			case tokens <- struct{}{}:
			case <-rctx.Done():
				continue
			}
			binary.BigEndian.PutUint64(payload, seq)
			binary.BigEndian.PutUint64(payload[8:], uint64(time.Since(b.start)))
		}
		if err := assoc.Send(rctx, payload, info); err != nil {
			// The send deadline may fire a moment before rctx's own.
			end, _ := rctx.Deadline()
			if rctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) &&
				!errors.Is(err, os.ErrDeadlineExceeded) && time.Until(end) > 100*time.Millisecond {
				sendErr = err
			}
			break
		}
		b.sent.Add(1)
		b.sentBytes.Add(int64(len(payload)))
	}
	elapsed := time.Since(b.start)
	stopRun()
	if ctx.Err() == nil && sendErr == nil {
		// Give the last echoes a moment (at most one RTT-ish).
		time.Sleep(min(50*time.Millisecond, *duration/10))
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	serr := assoc.Shutdown(sctx)
	_ = ep.Close()
	wg.Wait()
	if sendErr != nil {
		return fmt.Errorf("bench: %w", sendErr)
	}
	fmt.Fprintln(std.out, b.summary(elapsed))
	if echo && b.echoed.Load() == 0 {
		return errors.New("bench: no echoes: is the peer echoing (usock listen -echo)?")
	}
	if serr != nil && assoc.Reason() != sock.ReasonShutdown && ctx.Err() == nil {
		return fmt.Errorf("bench: shutdown: %w", serr)
	}
	return nil
}

type benchRun struct {
	mode  string
	size  int
	start time.Time

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
				line += fmt.Sprintf(" %9.0f echoes/s  rtt median %v", float64(e-lastEchoed)/d.Seconds(), fmtDur(percentile(iv, 50)))
			}
			fmt.Fprintln(std.err, line)
			last, lastSent, lastSentBytes, lastEchoed = now, s, sb, e
		}
	}
}

// percentile returns the p-th percentile (nearest rank) of ds, sorting it.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds))*p/100+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
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
		return line
	default:
		b.mu.Lock()
		rtts := slices.Clone(b.rtts)
		b.mu.Unlock()
		var lo, hi time.Duration
		if len(rtts) > 0 {
			lo, hi = slices.Min(rtts), slices.Max(rtts)
		}
		return fmt.Sprintf("%s: %d round trips of %d bytes in %.2fs: %.0f msgs/s, %.2f Mbit/s each way, RTT median %s p99 %s (min %s, max %s)",
			b.mode, e, b.size, secs, float64(e)/secs, mbits(eb, elapsed),
			fmtDur(percentile(rtts, 50)), fmtDur(percentile(rtts, 99)), fmtDur(lo), fmtDur(hi))
	}
}

package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usock/usock/sock"
)

const connectUsage = `usage: usock connect [flags]

Set up an SCTP association (over UDP encapsulation, RFC 6951) with a peer,
send each line of stdin as one message (with its newline) and write every
received message to stdout: the payload as it is, then a newline unless it
ends in one. At the end of stdin it waits up to -wait for replies to what it
sent, then shuts the association down gracefully; so does Ctrl-C.

examples:
  usock connect -addr 127.0.0.1 -port 5000
  printf 'one\ntwo\nthree\n' | usock connect -addr 127.0.0.1 -port 5000 -remote-udp-port 9899
  usock connect -addr 10.0.0.1,10.0.1.1 -port 3868 -local 10.0.0.2,10.0.1.2 -stream 1 -ppid 46 -admin 127.0.0.1:8081`

func connect(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	addrs := fs.String("addr", "127.0.0.1", "the peer's `addresses`, comma-separated")
	port := portFlag(fs, "port", 5000, "the peer's SCTP `port`")
	locals := fs.String("local", "", "local `addresses`, comma-separated (default: loopback for a loopback peer, else the wildcard)")
	localPort := portFlag(fs, "local-port", 0, "local SCTP `port` (0: a free one)")
	udpPort := portFlag(fs, "udp-port", 0, "local UDP encapsulation `port` (0: a free one)")
	remoteUDP := portFlag(fs, "remote-udp-port", sock.DefaultUDPPort, "the peer's UDP encapsulation `port`")
	stream := fs.Uint("stream", 0, "`stream` of the messages sent")
	ppid := u32Flag(fs, "ppid", 0, "payload protocol `identifier` of the messages sent")
	wait := fs.Duration("wait", time.Second, "at the end of stdin, wait this long at most for replies")
	timeout := fs.Duration("timeout", 10*time.Second, "give up setting the association up after this long")
	adminAddr := fs.String("admin", "", "serve GET /stats (JSON) and /metrics (Prometheus) on this TCP `address`")
	verbose := fs.Bool("v", false, "log the stack's debug messages to stderr")
	if err := parseFlags(fs, args, std.out, connectUsage); err != nil {
		return err
	}
	remote, err := parseAddrs("addr", *addrs)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	local := localFor(remote)
	if *locals != "" {
		if local, err = parseAddrs("local", *locals); err != nil {
			return fmt.Errorf("connect: %w", err)
		}
	}
	if *port == 0 {
		return fmt.Errorf("connect: -port 0: need the peer's SCTP port")
	}
	if *stream > 65535 {
		return fmt.Errorf("connect: -stream %d: not a stream identifier", *stream)
	}

	stack, err := newStack(*udpPort, *verbose, std.err)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer stack.Close()
	ep, err := stack.NewEndpoint(local, *localPort)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	stopAdmin, err := startAdmin(*adminAddr, stack, std)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer stopAdmin()
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	assoc, err := ep.Connect(cctx, remote, *port, sock.WithRemoteUDPPort(*remoteUDP))
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted
		}
		return fmt.Errorf("connect: %w", err)
	}
	out, in := assoc.Streams()
	fmt.Fprintf(std.err, "connected: %v, %d streams out, %d in\n", assoc, out, in)
	if uint16(*stream) >= out && *stream > 0 {
		assoc.Abort("bad stream")
		return fmt.Errorf("connect: -stream %d: the association has %d outbound streams", *stream, out)
	}

	var (
		sent, received atomic.Int64
		got            = make(chan struct{}, 1)
		down           = make(chan sock.Event, 1)
		stdinDone      = make(chan error, 1)
		wg             sync.WaitGroup
	)
	w := bufio.NewWriterSize(std.out, 64*1024)
	wg.Go(func() {
		_ = recvLoop(context.Background(), ep, w, func(m sock.Message) error {
			received.Add(1)
			select {
			case got <- struct{}{}:
			default:
			}
			return writePayload(w, m.Payload)
		})
	})
	wg.Go(func() {
		for {
			ev, err := ep.Event(context.Background())
			if err != nil {
				return
			}
			if ev.Type == sock.EventDown {
				fmt.Fprintln(std.err, ev)
				down <- ev
				return
			}
			if *verbose {
				fmt.Fprintln(std.err, ev)
			}
		}
	})
	maxMsg := sock.DefaultMaxMessageSize
	go func() { // not waited for: a read from a terminal cannot be interrupted
		stdinDone <- readLines(std.in, maxMsg, func(line []byte) error {
			if err := assoc.Send(ctx, line, sock.SendInfo{Stream: uint16(*stream), PPID: *ppid}); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			sent.Add(1)
			return nil
		})
	}()

	finish := func(runErr error) error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		serr := assoc.Shutdown(sctx)
		_ = ep.Close()
		wg.Wait()
		if err := w.Flush(); err != nil && runErr == nil {
			runErr = fmt.Errorf("writing stdout: %w", err)
		}
		if runErr != nil {
			return fmt.Errorf("connect: %w", runErr)
		}
		if serr != nil && assoc.Reason() != sock.ReasonShutdown {
			return fmt.Errorf("connect: shutdown: %w", serr)
		}
		return nil
	}
	downErr := func(ev sock.Event) error {
		_ = ep.Close()
		wg.Wait()
		_ = w.Flush()
		if ev.Reason == sock.ReasonShutdown {
			return nil // the peer shut down: a normal end
		}
		return fmt.Errorf("connect: association %v", ev.Reason)
	}

	select {
	case <-ctx.Done():
		return finish(nil)
	case ev := <-down:
		return downErr(ev)
	case err := <-stdinDone:
		if err != nil && ctx.Err() == nil {
			return finish(err)
		}
	}
	// End of stdin: wait for the replies.
	deadline := time.NewTimer(*wait)
	defer deadline.Stop()
	for received.Load() < sent.Load() {
		select {
		case <-got:
		case <-deadline.C:
			return finish(nil)
		case <-ctx.Done():
			return finish(nil)
		case ev := <-down:
			return downErr(ev)
		}
	}
	return finish(nil)
}

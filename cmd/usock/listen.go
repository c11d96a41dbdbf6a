package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/usock/usock/metrics"
	"github.com/usock/usock/sock"
)

const listenUsage = `usage: usock listen [flags]

Accept SCTP associations (over UDP encapsulation, RFC 6951) and write every
received message to stdout: the payload as it is, then a newline unless it
ends in one. With -echo every message goes back on its association, stream
and PPID. Lines typed on stdin are sent to the most recent association.
Association events go to stderr. Ctrl-C shuts the associations down
gracefully.

examples:
  usock listen -port 5000
  usock listen -echo -addr 127.0.0.1,127.0.0.2 -port 3868 -ppid 46
  usock listen -echo -port 5000 -udp-port 9899 -admin 127.0.0.1:8080
      (then: usock stat -admin 127.0.0.1:8080, or curl 127.0.0.1:8080/metrics)`

func listen(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	addrs := fs.String("addr", "127.0.0.1", "local `addresses`, comma-separated")
	port := portFlag(fs, "port", 5000, "SCTP `port`")
	udpPort := portFlag(fs, "udp-port", sock.DefaultUDPPort, "local UDP encapsulation `port` (0: a free one)")
	echo := fs.Bool("echo", false, "send every received message back on its stream and PPID")
	stream := fs.Uint("stream", 0, "`stream` of the messages read from stdin")
	ppid := u32Flag(fs, "ppid", 0, "payload protocol `identifier` of the messages read from stdin")
	maxAssocs := fs.Int("max", 16, "accept at most `n` associations at once")
	adminAddr := fs.String("admin", "", "serve GET /stats (JSON) and /metrics (Prometheus) on this TCP `address`")
	quiet := fs.Bool("q", false, "do not write received messages to stdout")
	verbose := fs.Bool("v", false, "log the stack's debug messages to stderr")
	if err := parseFlags(fs, args, std.out, listenUsage); err != nil {
		return err
	}
	local, err := parseAddrs("addr", *addrs)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if *port == 0 {
		return fmt.Errorf("listen: -port 0: a listener needs a port its peers know")
	}
	if *maxAssocs < 1 {
		return fmt.Errorf("listen: -max %d: must be at least 1", *maxAssocs)
	}
	if *stream > 65535 {
		return fmt.Errorf("listen: -stream %d: not a stream identifier", *stream)
	}

	stack, err := newStack(*udpPort, *verbose, std.err)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer stack.Close()
	ep, err := stack.NewEndpoint(local, *port, sock.AcceptMax(*maxAssocs))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	stopAdmin, err := startAdmin(*adminAddr, stack, std)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer stopAdmin()
	fmt.Fprintf(std.err, "listening on %s (UDP port %d)\n", metrics.EndpointLabel(ep), stack.UDPPort())
	cpu0, t0 := readCPU(), time.Now()

	var (
		mu     sync.Mutex
		latest *sock.Association // the most recent association, for stdin
		wg     sync.WaitGroup
		errc   = make(chan error, 2)
	)
	wg.Go(func() { // events: to stderr, and the most recent association
		// Not ended by Ctrl-C: the events of the shutdown that follows go
		// to stderr too; the loop ends when the endpoint closes.
		evctx := context.WithoutCancel(ctx)
		for {
			ev, err := ep.Event(evctx)
			if err != nil {
				return
			}
			fmt.Fprintln(std.err, ev)
			mu.Lock()
			switch ev.Type {
			case sock.EventUp, sock.EventRestart:
				latest = ev.Association
			case sock.EventDown:
				if latest == ev.Association {
					latest = nil
					if as := ep.Associations(); len(as) > 0 {
						latest = as[len(as)-1]
					}
				}
			}
			mu.Unlock()
		}
	})
	out := bufio.NewWriterSize(std.out, 64*1024)
	var echoFailed *sock.Association
	wg.Go(func() { // messages: to stdout, and back with -echo
		err := recvLoop(ctx, ep, out, func(m sock.Message) error {
			if !*quiet {
				if err := writePayload(out, m.Payload); err != nil {
					return fmt.Errorf("writing stdout: %w", err)
				}
			}
			if *echo {
				// A context that cannot end: sock then sets no write
				// deadline in pion per message. A Send blocked on a full
				// window still ends at Ctrl-C, when shutdownAll and the
				// stack's Close end the association.
				err := m.Association.Send(context.Background(), m.Payload, sock.SendInfo{Stream: m.Stream, PPID: m.PPID})
				// Once per association: a peer that shuts down while
				// messages are on their way fails every echo after.
				// A peer that started its shutdown takes no more data:
				// not worth a line.
				if err != nil && ctx.Err() == nil && m.Association != echoFailed && m.Association.State() == sock.StateEstablished &&
					!errors.Is(err, sock.ErrNotEstablished) {
					echoFailed = m.Association
					fmt.Fprintf(std.err, "echo on %v: %v\n", m.Association, err)
				}
			}
			return nil
		})
		if err != nil {
			errc <- err
		}
	})
	// stdin: not waited for (a read from a terminal cannot be interrupted);
	// it ends with the process.
	go func() {
		err := readLines(std.in, sock.DefaultMaxMessageSize, func(line []byte) error {
			mu.Lock()
			a := latest
			mu.Unlock()
			if a == nil {
				fmt.Fprintln(std.err, "no association: line not sent")
				return nil
			}
			if err := a.Send(ctx, line, sock.SendInfo{Stream: uint16(*stream), PPID: *ppid}); err != nil && ctx.Err() == nil {
				fmt.Fprintf(std.err, "send on %v: %v\n", a, err)
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(std.err, err)
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	fmt.Fprintln(std.err, "shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := shutdownAll(sctx, ep); err != nil {
		// Not the command's failure: what was left is aborted.
		fmt.Fprintln(std.err, "shutdown:", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	_ = stack.Close()
	wg.Wait()
	if c := cpuSummary(cpu0, readCPU(), time.Since(t0), 0, ""); c != "" {
		fmt.Fprintf(std.err, "listened for %.2fs%s\n", time.Since(t0).Seconds(), c)
	}
	if ferr := out.Flush(); runErr == nil && ferr != nil {
		runErr = fmt.Errorf("writing stdout: %w", ferr)
	}
	if runErr != nil {
		return fmt.Errorf("listen: %w", runErr)
	}
	return nil
}

// shutdownAll shuts the endpoint's established associations down
// gracefully (those already shutting down finish on their own), waiting
// at most until ctx is done, then closes the endpoint.
func shutdownAll(ctx context.Context, ep *sock.Endpoint) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, a := range ep.Associations() {
		if a.State() != sock.StateEstablished {
			continue
		}
		wg.Go(func() {
			err := a.Shutdown(ctx)
			if err != nil && a.Reason() != sock.ReasonShutdown && !errors.Is(err, sock.ErrClosed) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%v: %w", a, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Give associations that were shutting down already a moment.
	for _, a := range ep.Associations() {
		select {
		case <-a.Done():
		case <-ctx.Done():
		}
	}
	return errors.Join(append(errs, ep.Close())...)
}

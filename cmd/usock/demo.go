package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/usock/usock/sock"
)

// demo runs two stacks on loopback, each with a multi-homed endpoint (two
// addresses, where the host has them: all of 127.0.0.0/8 is loopback on
// Linux): an association, messages both ways, the paths confirmed by
// heartbeat, then a path cut by the stack's fault filter while messages
// flow, the failover, the path's recovery, and a summary.
func demo(ctx context.Context, out io.Writer, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 50*time.Second)
	defer cancel()
	clientAddrs := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}
	serverAddrs := []netip.Addr{netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4")}
	if !loopbackRange() {
		fmt.Fprintln(out, "note: this host has only 127.0.0.1 on loopback; the demo runs single-homed")
		clientAddrs, serverAddrs = clientAddrs[:1], clientAddrs[:1]
	}
	multi := len(serverAddrs) > 1

	server, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		return err
	}
	defer server.Close()
	client, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		return err
	}
	defer client.Close()

	// Telecom-style timers, so that failover shows in well under a second.
	opts := []sock.EndpointOption{
		sock.WithRTOMin(20 * time.Millisecond), sock.WithRTOInitial(200 * time.Millisecond), sock.WithRTOMax(time.Second),
		sock.WithHeartbeatInterval(200 * time.Millisecond), sock.WithPrimarySwitchback(true),
	}
	listener, err := server.NewEndpoint(serverAddrs, 0, append(opts, sock.AcceptMax(4))...)
	if err != nil {
		return err
	}
	dialer, err := client.NewEndpoint(clientAddrs, 0, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "server stack: UDP encapsulation port %d, endpoint %v\n", server.UDPPort(), listener)
	fmt.Fprintf(out, "client stack: UDP encapsulation port %d, endpoint %v\n", client.UDPPort(), dialer)

	start := time.Now()
	assoc, err := dialer.Connect(ctx, serverAddrs, listener.Port(), sock.WithRemoteUDPPort(server.UDPPort()))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	ev, err := listener.Event(ctx)
	if err != nil {
		return err
	}
	out1, in1 := assoc.Streams()
	fmt.Fprintf(out, "association up in %v: %v, %d streams out, %d in; server saw: %v\n",
		time.Since(start).Round(time.Microsecond), assoc, out1, in1, ev)
	peer := ev.Association

	for i := range n {
		msg := fmt.Sprintf("request %d", i)
		if err := assoc.Send(ctx, []byte(msg), sock.SendInfo{Stream: uint16(i % 4), PPID: 46}); err != nil {
			return err
		}
		m, err := listener.Recv(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  server got %q on stream %d (PPID %d)\n", m.Payload, m.Stream, m.PPID)
		if err := peer.Send(ctx, []byte(fmt.Sprintf("answer %d", i)), sock.SendInfo{Stream: m.Stream, PPID: m.PPID}); err != nil {
			return err
		}
		r, err := dialer.Recv(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  client got %q on stream %d\n", r.Payload, r.Stream)
	}

	if multi {
		if err := failoverDemo(ctx, out, client, assoc, dialer, listener, serverAddrs[0]); err != nil {
			return err
		}
	} else {
		printPaths(out, assoc)
	}

	if err := assoc.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	for {
		ev, err := listener.Event(ctx)
		if err != nil {
			return err
		}
		if ev.Type == sock.EventDown {
			fmt.Fprintf(out, "server saw: %v\n", ev)
			break
		}
	}
	st := server.Stats()
	for a, s := range st.Sockets {
		fmt.Fprintf(out, "server socket %v: %d datagrams in, %d out, %d bad checksum, %d too short\n",
			a, s.RxDatagrams, s.TxDatagrams, s.RxBadChecksum, s.RxTooShort)
	}
	fmt.Fprintln(out, "done")
	return nil
}

// failoverDemo streams numbered messages while it cuts the primary path
// with the client stack's fault filter and restores it, printing the path
// table and the events as they happen.
func failoverDemo(ctx context.Context, out io.Writer, client *sock.Stack, assoc *sock.Association,
	dialer, listener *sock.Endpoint, cutAddr netip.Addr) error {
	// Both paths confirmed by heartbeat (RFC 9260 section 5.4).
	for !allActive(assoc) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("paths not confirmed: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	fmt.Fprintln(out, "both paths confirmed by heartbeat:")
	printPaths(out, assoc)

	var mu sync.Mutex
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, args...)
	}
	evCtx, stopEvents := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var cutAt atomic.Int64
	wg.Go(func() {
		for {
			ev, err := dialer.Event(evCtx)
			if err != nil {
				return
			}
			since := ""
			if c := cutAt.Load(); c != 0 {
				since = fmt.Sprintf(" (+%v after the cut)", time.Since(time.Unix(0, c)).Round(time.Millisecond))
			}
			logf("  event: %v%s\n", ev.Type, pathSuffix(ev)+since)
		}
	})

	// A sender: one message every 10 ms; the receiver checks order.
	const total = 300
	sendErr := make(chan error, 1)
	wg.Go(func() {
		for i := range total {
			var b [4]byte
			b[0], b[1], b[2], b[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
			if err := assoc.Send(ctx, b[:], sock.SendInfo{Stream: 5}); err != nil {
				sendErr <- err
				return
			}
			switch i {
			case 100:
				logf("cutting the path to %v (the primary) in both directions\n", cutAddr)
				client.SetFaultFilter(func(local netip.Addr, remote netip.AddrPort, inbound bool) bool {
					return remote.Addr() == cutAddr
				})
				cutAt.Store(time.Now().UnixNano())
			case 200:
				logf("restoring the path to %v\n", cutAddr)
				client.SetFaultFilter(nil)
			}
			time.Sleep(10 * time.Millisecond)
		}
		sendErr <- nil
	})
	var failover time.Duration
	dups, outOfOrder := 0, 0
	next := 0
	for next < total {
		m, err := listener.Recv(ctx)
		if err != nil {
			stopEvents()
			wg.Wait()
			return fmt.Errorf("receiving: %w", err)
		}
		if m.Stream != 5 {
			continue
		}
		seq := int(m.Payload[0])<<24 | int(m.Payload[1])<<16 | int(m.Payload[2])<<8 | int(m.Payload[3])
		switch {
		case seq < next:
			dups++
		case seq > next:
			outOfOrder++
			next = seq + 1
		default:
			next++
		}
		if c := cutAt.Load(); c != 0 && failover == 0 && m.Time.UnixNano() > c {
			failover = m.Time.Sub(time.Unix(0, c))
		}
		if seq == 150 {
			logf("while cut:\n")
			mu.Lock()
			printPaths(out, assoc)
			mu.Unlock()
		}
	}
	err := <-sendErr
	time.Sleep(500 * time.Millisecond) // let the switchback show
	stopEvents()
	wg.Wait()
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "after the path came back:")
	printPaths(out, assoc)
	fmt.Fprintf(out, "summary: %d messages sent, %d delivered in order, %d duplicates, %d out of order; "+
		"cut to first delivery on the other path: %v; fault filter dropped %d packets\n",
		total, next, dups, outOfOrder, failover.Round(time.Millisecond), client.Stats().FaultDrops)
	return nil
}

func pathSuffix(ev sock.Event) string {
	if ev.Path.IsValid() {
		return " " + ev.Path.String()
	}
	return ""
}

func allActive(a *sock.Association) bool {
	for _, p := range a.Paths() {
		if p.State != sock.PathActive {
			return false
		}
	}
	return true
}

func printPaths(out io.Writer, a *sock.Association) {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  remote\tlocal\tUDP port\tstate\tprimary\tin use\tSRTT\tRTO\terrors\tHB sent/acked\tpackets out/in")
	for _, p := range a.Paths() {
		fmt.Fprintf(tw, "  %v\t%v\t%d\t%v\t%v\t%v\t%v\t%v\t%d\t%d/%d\t%d/%d\n", p.Remote, p.Local, p.RemoteUDPPort, p.State,
			p.Primary, p.InUse, p.SRTT.Round(time.Microsecond), p.RTO.Round(time.Millisecond), p.ErrorCount,
			p.HeartbeatsSent, p.HeartbeatsAcked, p.PacketsOut, p.PacketsIn)
	}
	tw.Flush()
}

// loopbackRange reports whether 127.0.0.2 can be bound (Linux routes all
// of 127.0.0.0/8 to the loopback interface; other systems need an alias).
func loopbackRange() bool {
	s, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		return false
	}
	defer s.Close()
	_, err = s.NewEndpoint([]netip.Addr{netip.MustParseAddr("127.0.0.2")}, 0)
	return err == nil
}

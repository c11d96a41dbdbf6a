package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"
	"time"

	"github.com/usock/usock/sock"
)

// demo runs two stacks on loopback: a listening endpoint on one, a
// connecting endpoint on the other, an association, messages both ways,
// the paths and counters, and a graceful shutdown.
func demo(ctx context.Context, out io.Writer, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	lo := netip.MustParseAddr("127.0.0.1")

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

	listener, err := server.NewEndpoint([]netip.Addr{lo}, 0, sock.AcceptMax(4))
	if err != nil {
		return err
	}
	dialer, err := client.NewEndpoint([]netip.Addr{lo}, 0)
	if err != nil {
		return err
	}
	// The listener's socket opens with its endpoint; only then is the
	// stack's UDP port known.
	fmt.Fprintf(out, "server stack: UDP encapsulation port %d, endpoint %v\n", server.UDPPort(), listener)
	fmt.Fprintf(out, "client stack: UDP encapsulation port %d, endpoint %v\n", client.UDPPort(), dialer)

	start := time.Now()
	assoc, err := dialer.Connect(ctx, []netip.Addr{lo}, listener.Port(), sock.WithRemoteUDPPort(server.UDPPort()))
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
		reply := fmt.Sprintf("answer %d", i)
		if err := peer.Send(ctx, []byte(reply), sock.SendInfo{Stream: m.Stream, PPID: m.PPID}); err != nil {
			return err
		}
		r, err := dialer.Recv(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  client got %q on stream %d\n", r.Payload, r.Stream)
	}

	fmt.Fprintln(out, "paths of the client's association:")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  remote\tlocal\tUDP port\tstate\tprimary\tpackets out\tpackets in")
	for _, p := range assoc.Paths() {
		fmt.Fprintf(tw, "  %v\t%v\t%d\t%v\t%v\t%d\t%d\n", p.Remote, p.Local, p.RemoteUDPPort, p.State, p.Primary, p.PacketsOut, p.PacketsIn)
	}
	tw.Flush()

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
		fmt.Fprintf(out, "server socket %v: %d datagrams in, %d out, %d bad checksum, %d too short, %d for no endpoint\n",
			a, s.RxDatagrams, s.TxDatagrams, s.RxBadChecksum, s.RxTooShort, s.RxNoReceiver)
	}
	fmt.Fprintln(out, "done")
	return nil
}

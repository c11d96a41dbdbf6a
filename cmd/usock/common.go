package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/usock/usock/cmd/usock/internal/admin"
	"github.com/usock/usock/sock"
)

// shutdownTimeout bounds the graceful shutdown at the end of a command.
const shutdownTimeout = 5 * time.Second

// parseAddrs parses a comma-separated list of IP addresses.
func parseAddrs(flagName, s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		a, err := netip.ParseAddr(strings.Trim(f, "[]"))
		if err != nil {
			return nil, fmt.Errorf("-%s: %q is not an IP address", flagName, f)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-%s: no address", flagName)
	}
	return out, nil
}

// localFor returns the default local addresses for the remote ones: the
// loopback address of the family when every remote address is a loopback
// one, else the wildcard address of the family.
func localFor(remote []netip.Addr) []netip.Addr {
	loop := true
	for _, r := range remote {
		loop = loop && r.IsLoopback()
	}
	v6 := remote[0].Unmap().Is6()
	switch {
	case loop && v6:
		return []netip.Addr{netip.IPv6Loopback()}
	case loop:
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	case v6:
		return []netip.Addr{netip.IPv6Unspecified()}
	default:
		return []netip.Addr{netip.IPv4Unspecified()}
	}
}

// port16 is a flag.Value for a port number.
type port16 uint16

func (p *port16) String() string { return fmt.Sprint(uint16(*p)) }

func (p *port16) Set(s string) error {
	var v uint
	if _, err := fmt.Sscan(s, &v); err != nil || v > 65535 || fmt.Sprint(v) != s {
		return fmt.Errorf("not a port number (0-65535)")
	}
	*p = port16(v)
	return nil
}

func portFlag(fs *flag.FlagSet, name string, def uint16, usage string) *uint16 {
	p := port16(def)
	fs.Var(&p, name, usage)
	return (*uint16)(&p)
}

// u32 is a flag.Value for a uint32 (PPIDs).
type u32 uint32

func (v *u32) String() string { return fmt.Sprint(uint32(*v)) }

func (v *u32) Set(s string) error {
	var x uint64
	if _, err := fmt.Sscan(s, &x); err != nil || x > 1<<32-1 || fmt.Sprint(x) != s {
		return fmt.Errorf("not a 32-bit unsigned number")
	}
	*v = u32(x)
	return nil
}

func u32Flag(fs *flag.FlagSet, name string, def uint32, usage string) *uint32 {
	v := u32(def)
	fs.Var(&v, name, usage)
	return (*uint32)(&v)
}

// newStack creates the command's stack, logging warnings (everything with
// verbose) to w.
func newStack(udpPort uint16, verbose bool, w io.Writer) (*sock.Stack, error) {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	return sock.NewStack(sock.WithUDPPort(udpPort), sock.WithLogger(log))
}

// startAdmin starts the admin endpoint when addr is set; the returned
// function stops it.
func startAdmin(addr string, s *sock.Stack, std stdio) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	srv, err := admin.Serve(addr, s)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(std.err, "admin: http://%v/stats and /metrics\n", srv.Addr())
	return func() { _ = srv.Close() }, nil
}

// recvLoop receives messages from ep until it is closed or ctx is done,
// and hands each to handle. Output is flushed whenever no further message
// is waiting.
func recvLoop(ctx context.Context, ep *sock.Endpoint, w *bufio.Writer, handle func(sock.Message) error) error {
	done, cancel := context.WithCancel(context.Background())
	cancel() // Recv with a done context takes only what is queued
	for {
		m, err := ep.Recv(done)
		if err != nil {
			if ferr := w.Flush(); ferr != nil {
				return ferr
			}
			m, err = ep.Recv(ctx)
		}
		if err != nil {
			return nil // closed or interrupted
		}
		if err := handle(m); err != nil {
			return err
		}
	}
}

// writePayload writes p as writeMessage does, without flushing.
func writePayload(w *bufio.Writer, p []byte) error {
	if _, err := w.Write(p); err != nil {
		return err
	}
	if len(p) == 0 || p[len(p)-1] != '\n' {
		return w.WriteByte('\n')
	}
	return nil
}

// readLines calls send for each line of r (with its newline), splitting
// lines longer than max bytes, until r ends or send fails.
func readLines(r io.Reader, max int, send func([]byte) error) error {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadBytes('\n')
		for len(line) > 0 {
			n := min(len(line), max)
			if serr := send(line[:n]); serr != nil {
				return serr
			}
			line = line[n:]
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
	}
}

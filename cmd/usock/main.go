// Command usock is the command-line tool of the usock SCTP stack.
//
//	usock demo      two stacks on loopback, an association, messages both ways
//	usock listen    accept associations, print what arrives, optionally echo it
//	usock connect   set up an association, send stdin's lines, print what arrives
//	usock bench     measure throughput, message rate or round-trip time
//	usock stat      show a running instance's endpoints, associations and paths
//
// Run "usock <command> -h" for the flags of a command, with examples.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	if err := runIO(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		// One line: joined errors become "; "-separated.
		fmt.Fprintln(os.Stderr, "usock:", strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: usock <command> [flags]

commands:
  demo      run two stacks on loopback and show an association at work
  listen    accept associations; print received messages, optionally echo them
  connect   connect to a peer; stdin lines become messages, replies go to stdout
  bench     measure throughput, message rate or round-trip time against a peer
  stat      show the endpoints, associations and paths of a running listen or
            connect (started with -admin)

examples:
  usock listen -echo -port 5000 -admin 127.0.0.1:8080
  echo hello | usock connect -addr 127.0.0.1 -port 5000
  usock bench -addr 127.0.0.1 -port 5000 -duration 5s
  usock stat -admin 127.0.0.1:8080

Run "usock <command> -h" for the flags of a command.`)
}

// run runs the command line args with the process's standard input and
// error output and out as standard output.
func run(args []string, out io.Writer) error {
	return runIO(args, os.Stdin, out, os.Stderr)
}

// stdio are a command's standard streams.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

func runIO(args []string, in io.Reader, out, errOut io.Writer) error {
	if len(args) == 0 {
		usage(errOut)
		return fmt.Errorf("no command")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C shuts down gracefully; a second one kills.
	context.AfterFunc(ctx, stop)
	std := stdio{in: in, out: out, err: errOut}
	var err error
	switch args[0] {
	case "demo":
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		n := fs.Int("messages", 5, "messages to send each way")
		if err := parseFlags(fs, args[1:], out, "usage: usock demo [-messages N]\n\nTwo stacks on loopback, each on its own UDP encapsulation port, with a\nmulti-homed endpoint each (127.0.0.1+127.0.0.2 and 127.0.0.3+127.0.0.4):\nan association, messages both ways, both paths confirmed by heartbeat,\nthen the primary path cut by the fault filter while messages flow, the\nfailover, the recovery and a summary, then a graceful shutdown.\n\nexample:\n  usock demo -messages 10"); err != nil {
			return helpOK(err)
		}
		return demo(ctx, out, *n)
	case "listen":
		err = listen(ctx, args[1:], std)
	case "connect":
		err = connect(ctx, args[1:], std)
	case "bench":
		err = bench(ctx, args[1:], std)
	case "stat":
		err = stat(ctx, args[1:], std)
	case "-h", "-help", "--help", "help":
		usage(out)
		return nil
	default:
		usage(errOut)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return helpOK(err)
}

// errHelp is returned by parseFlags after printing a command's usage for
// -h: the command then ends successfully.
var errHelp = errors.New("help shown")

func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// parseFlags parses a command's flags. -h prints text and the flags'
// defaults to out and returns errHelp; a bad flag returns a one-line error
// and prints nothing.
func parseFlags(fs *flag.FlagSet, args []string, out io.Writer, text string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(out, text)
		fmt.Fprintln(out, "\nflags:")
		fs.SetOutput(out)
		fs.PrintDefaults()
		return errHelp
	case err != nil:
		return fmt.Errorf("%s: %v (see usock %s -h)", fs.Name(), err, fs.Name())
	case fs.NArg() > 0:
		return fmt.Errorf("%s: unexpected argument %q (see usock %s -h)", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

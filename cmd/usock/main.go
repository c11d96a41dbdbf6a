// Command usock is the command-line tool of the usock SCTP stack.
//
//	usock demo    two stacks on loopback, an association, messages both ways
//
// Run "usock demo -h" for its flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "usock:", err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: usock <command> [flags]

commands:
  demo    run two stacks on loopback and show an association at work

Run "usock <command> -h" for the flags of a command.`)
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		usage(out)
		return fmt.Errorf("no command")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch args[0] {
	case "demo":
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		fs.SetOutput(out)
		n := fs.Int("messages", 5, "messages to send each way")
		fs.Usage = func() {
			fmt.Fprintln(out, "usage: usock demo [-messages N]\n\nTwo stacks on loopback, each on its own UDP encapsulation port;\nan endpoint on each, an association, messages both ways, the paths\nand the counters, then a graceful shutdown.\n\nexample:\n  usock demo -messages 10")
			fs.PrintDefaults()
		}
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return demo(ctx, out, *n)
	case "-h", "-help", "--help", "help":
		usage(out)
		return nil
	default:
		usage(out)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

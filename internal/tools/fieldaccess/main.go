// Command fieldaccess measures how the state of a package's struct types
// is spread over its files: for each named struct type, the number of
// fields and methods, and for each field the files whose code reads or
// writes it (selectors and composite-literal keys, resolved with go/types,
// so promoted fields and method values count where they are written).
//
// Usage:
//
//	go run ./internal/tools/fieldaccess [-tests] DIR
//
// DIR is a package directory; test files are left out unless -tests is
// given. The output is plain text, one type per block, sorted by name,
// and is meant to be diffed between two versions of the package.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	tests := flag.Bool("tests", false, "include _test.go files of the package (not external test packages)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: fieldaccess [-tests] DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(os.Stdout, flag.Arg(0), *tests); err != nil {
		fmt.Fprintln(os.Stderr, "fieldaccess:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, dir string, tests bool) error {
	rep, err := Measure(dir, tests)
	if err != nil {
		return err
	}
	return rep.Write(w)
}

// Package usrsctpbuild compiles the C programs that run on libusrsctp
// (integration/usrsctp-peer/peer.c for the interop tests,
// bench/usrsctp-bench/bench.c for the comparison harness) with the
// system's cc, this directory's usrsctp_glue.h on the include path.
//
// It is used only by tests and the benchmark tools, from a checkout of
// the module: it finds the header next to its own source.
package usrsctpbuild

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

var (
	// ErrNoCompiler is the error of Build when cc is not on PATH.
	ErrNoCompiler = errors.New("no C compiler (cc) on PATH; install gcc or clang")
	// ErrNoLibrary is the error of Build when usrsctp.h or libusrsctp
	// is missing.
	ErrNoLibrary = errors.New("libusrsctp is not installed (apt-get install libusrsctp-dev)")
)

// Build compiles the C program src into the executable bin with cc and
// the flags (such as "-O2"), linked with libusrsctp and pthreads. The
// error matches ErrNoCompiler or ErrNoLibrary when the tools are missing
// and carries the compiler's output.
func Build(src, bin string, flags ...string) error {
	cc, err := exec.LookPath("cc")
	if err != nil {
		return fmt.Errorf("build %s: %w", filepath.Base(src), ErrNoCompiler)
	}
	args := append(append([]string{}, flags...), "-I", includeDir(), "-o", bin, src, "-lusrsctp", "-lpthread")
	out, err := exec.Command(cc, args...).CombinedOutput()
	if err == nil {
		return nil
	}
	s := strings.TrimSpace(string(out))
	if strings.Contains(s, "usrsctp.h") || strings.Contains(s, "-lusrsctp") {
		return fmt.Errorf("build %s: %w:\n%s", filepath.Base(src), ErrNoLibrary, s)
	}
	return fmt.Errorf("build %s: %w:\n%s", filepath.Base(src), err, s)
}

// includeDir is the directory of usrsctp_glue.h: this source's.
func includeDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

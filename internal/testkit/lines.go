package testkit

import (
	"regexp"
	"testing"
	"time"
)

// ExpectLine reads a process's output lines until one matches re and
// returns its submatches. A line matching one of the fail patterns, the
// end of the lines (the channel closed) or the timeout fail the test;
// name says which process in the message, and state, called then, says
// how it stands (its exit status, its output).
func ExpectLine(t testing.TB, name string, lines <-chan string, re string, timeout time.Duration, state func() string, fail ...string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var fx []*regexp.Regexp
	for _, f := range fail {
		fx = append(fx, regexp.MustCompile(f))
	}
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s ended before a line matching %q: %s", name, re, state())
			}
			for _, f := range fx {
				if f.MatchString(l) {
					t.Fatalf("%s: %q while waiting for %q", name, l, re)
				}
			}
			if m := rx.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("%s: no line matching %q in %v: %s", name, re, timeout, state())
		}
	}
}

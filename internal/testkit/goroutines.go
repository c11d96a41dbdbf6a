package testkit

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
)

// BubbleGoroutines returns how many goroutines belong to the caller's
// testing/synctest bubble (the caller's and synctest's own included),
// read from the
// goroutine headers of runtime.Stack ("goroutine N [state, synctest
// bubble B]:"). Unlike runtime.NumGoroutine it does not count the test
// binary's goroutines outside the bubble, which come and go on their own
// schedule (the testing package's, an earlier test's that are still
// ending). Called outside a bubble, it fails the test.
func BubbleGoroutines(t testing.TB) int {
	t.Helper()
	buf := make([]byte, 1<<16)
	own := buf[:runtime.Stack(buf, false)]
	header, _, _ := bytes.Cut(own, []byte("\n"))
	i := bytes.Index(header, []byte(", synctest bubble "))
	if i < 0 {
		t.Fatalf("BubbleGoroutines outside a synctest bubble: %s", header)
	}
	tag := header[i : bytes.IndexByte(header[i:], ']')+i+1] // ", synctest bubble B]"
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for line := range bytes.Lines(buf) {
		if bytes.HasPrefix(line, []byte("goroutine ")) && bytes.Contains(line, tag) {
			count++
		}
	}
	if count == 0 {
		panic(fmt.Sprintf("testkit: no goroutine of %q in the dump", tag))
	}
	return count
}

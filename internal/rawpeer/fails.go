package rawpeer

import (
	"fmt"
	"testing"
)

// fatalRecorder is a testing.TB whose Fatal and Fatalf record the message
// and end only the function under check, not the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(r)
}

func (r *fatalRecorder) Fatal(args ...any) {
	r.msg = fmt.Sprint(args...)
	panic(r)
}

// Fails runs f with a testing.TB that stands for t but records a Fatal or
// Fatalf instead of ending t, and returns the recorded message ("" when f
// did not fail). It is for the tests of test helpers: that they fail when
// they should.
func Fails(t testing.TB, f func(tb testing.TB)) string {
	t.Helper()
	r := &fatalRecorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != nil && p != r {
				panic(p)
			}
		}()
		f(r)
	}()
	return r.msg
}

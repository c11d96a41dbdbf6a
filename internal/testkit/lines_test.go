package testkit

import (
	"slices"
	"testing"
	"time"

	"github.com/usock/usock/internal/rawpeer"
)

func feed(ls ...string) chan string {
	c := make(chan string, len(ls))
	for _, l := range ls {
		c <- l
	}
	return c
}

func TestExpectLine(t *testing.T) {
	state := func() string { return "state" }
	m := ExpectLine(t, "p", feed("noise", "port 4242 up"), `port (\d+) up`, time.Minute, state, "^error")
	if !slices.Equal(m, []string{"port 4242 up", "4242"}) {
		t.Fatalf("submatches %q", m)
	}
	if msg := rawpeer.Fails(t, func(tb testing.TB) {
		ExpectLine(tb, "p", feed("error: boom", "port 1 up"), `port`, time.Minute, state, "^error")
	}); msg != `p: "error: boom" while waiting for "port"` {
		t.Fatalf("fail pattern: %q", msg)
	}
	if msg := rawpeer.Fails(t, func(tb testing.TB) {
		c := feed("noise")
		close(c)
		ExpectLine(tb, "p", c, `port`, time.Minute, state)
	}); msg != `p ended before a line matching "port": state` {
		t.Fatalf("end of output: %q", msg)
	}
	if msg := rawpeer.Fails(t, func(tb testing.TB) {
		ExpectLine(tb, "p", feed(), `port`, time.Millisecond, state)
	}); msg != `p: no line matching "port" in 1ms: state` {
		t.Fatalf("timeout: %q", msg)
	}
}

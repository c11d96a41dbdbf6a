// Package testkit holds the helpers that the tests of several packages
// (sock's external tests, reliability, conformance, integration) share:
// a stack on loopback, waiting for an event, the two-host multi-homed
// world on a socktest network, a loopback pair, raw peers aimed at a
// stack, and the line matcher for the output of the peer programs the
// interop and kernel suites run.
//
// Its files are ordinary .go files so that those tests can share them;
// only tests import it. Package sock's own (package sock) tests cannot
// import it, since it imports sock; they keep their few helpers and use
// internal/rawpeer directly. The public test kit for applications is
// package socktest.
//
// Every helper fails the test it is given through testing.TB, so it runs
// on that test's goroutine.
package testkit

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/sock"
)

// Lo4 is 127.0.0.1.
var Lo4 = netip.MustParseAddr("127.0.0.1")

// NewStack returns a stack on a free UDP port (opts may set another),
// closed at the end of the test.
func NewStack(t testing.TB, opts ...sock.StackOption) *sock.Stack {
	t.Helper()
	s, err := sock.NewStack(append([]sock.StackOption{sock.WithUDPPort(0)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// Want says which event WaitEvent waits for: one of type Type and, when
// they are set, on path Path and of association Association.
type Want struct {
	Type        sock.EventType
	Path        netip.Addr
	Association *sock.Association
}

// Match reports whether ev is the event w wants.
func (w Want) Match(ev sock.Event) bool {
	return ev.Type == w.Type &&
		(!w.Path.IsValid() || ev.Path == w.Path) &&
		(w.Association == nil || ev.Association == w.Association)
}

// WaitEvent returns the next event of ep that want matches, skipping (and
// logging) others; it fails the test after d, a deadline for a test that
// would otherwise hang (in a synctest bubble, in fake time).
func WaitEvent(t testing.TB, ep *sock.Endpoint, d time.Duration, want Want) sock.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		ev, err := ep.Event(ctx)
		require.NoError(t, err, "waiting for %+v", want)
		if want.Match(ev) {
			return ev
		}
		t.Logf("event skipped: %v", ev)
	}
}

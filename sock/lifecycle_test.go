package sock

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
)

func TestAssociationStateString(t *testing.T) {
	for s, want := range map[AssociationState]string{
		StateCookieWait:      "COOKIE-WAIT",
		StateCookieEchoed:    "COOKIE-ECHOED",
		StateEstablished:     "ESTABLISHED",
		StateShuttingDown:    "SHUTTING-DOWN",
		StateClosed:          "CLOSED",
		0:                    "AssociationState(0)",
		StateClosed + 1:      "AssociationState(6)",
		AssociationState(-1): "AssociationState(-1)",
	} {
		require.Equal(t, want, s.String())
	}
}

func TestCloseErrorIs(t *testing.T) {
	for _, tc := range []struct {
		reason  DownReason
		aborted bool
	}{
		{ReasonShutdown, false},
		{ReasonAbortedByPeer, true},
		{ReasonAborted, true},
		{ReasonCommunicationLost, true},
	} {
		err := error(&CloseError{Reason: tc.reason})
		require.ErrorIs(t, err, ErrClosed, "%v", tc.reason)
		require.Equal(t, tc.aborted, errors.Is(err, ErrAborted), "%v", tc.reason)
		require.NotErrorIs(t, err, ErrTimeout)
	}
	require.Equal(t, "association down: aborted by peer: User-Initiated Abort",
		(&CloseError{Reason: ReasonAbortedByPeer, Detail: "User-Initiated Abort"}).Error())
	require.Equal(t, "association down: shutdown", (&CloseError{Reason: ReasonShutdown}).Error())
}

// After the peer aborts, calls on the association return its CloseError:
// the reason and the peer's cause.
func TestCallsAfterPeerAbortReturnCloseError(t *testing.T) {
	p := newPair(t)
	require.NoError(t, p.clientAssoc.Err())
	p.serverAssoc.Abort("going away")
	<-p.clientAssoc.Done()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.clientAssoc.Send(ctx, []byte("late"), SendInfo{})
	require.ErrorIs(t, err, ErrAborted)
	require.ErrorIs(t, err, ErrClosed)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ReasonAbortedByPeer, ce.Reason)
	require.Equal(t, uint16(wire.CauseUserInitiatedAbort), ce.PeerCause)
	require.Contains(t, ce.Detail, "going away")
	require.Equal(t, 1, strings.Count(err.Error(), "sock:"), "the package is named once: %q", err)
	require.Equal(t, ReasonAbortedByPeer, p.clientAssoc.Reason())
	require.Equal(t, StateClosed, p.clientAssoc.State())

	err = p.clientAssoc.Shutdown(ctx)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ReasonAbortedByPeer, ce.Reason)
	require.ErrorAs(t, p.clientAssoc.Err(), &ce)
	err = p.clientAssoc.ResetStream(0)
	require.ErrorIs(t, err, ErrNotEstablished)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ReasonAbortedByPeer, ce.Reason)

	// The side that aborted has its own reason and no peer cause.
	<-p.serverAssoc.Done()
	err = p.serverAssoc.Send(ctx, []byte("late"), SendInfo{})
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ReasonAborted, ce.Reason)
	require.Equal(t, "going away", ce.Detail)
	require.Zero(t, ce.PeerCause)
}

func TestMustHold(t *testing.T) {
	a := newAssociation(&Endpoint{cfg: endpointConfig{}}, 1)
	require.Panics(t, func() { a.handshakeDoneLocked() }, "a.mu not held")
	a.mu.Lock()
	require.NotPanics(t, func() { a.handshakeDoneLocked() })
	a.mu.Unlock()
}

// Error texts name the package once, however deep the wrapping.
func TestErrorTextsDoNotStutter(t *testing.T) {
	p := newPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := map[string]error{
		"empty message":  p.clientAssoc.Send(ctx, nil, SendInfo{}),
		"invalid stream": p.clientAssoc.Send(ctx, []byte("x"), SendInfo{Stream: 60000}),
		"reset stream":   p.clientAssoc.ResetStream(60000),
	}
	_, errs["connect without addresses"] = p.dialer.Connect(ctx, nil, 1)
	require.NoError(t, p.dialer.Close())
	_, errs["connect on a closed endpoint"] = p.dialer.Connect(ctx, []netip.Addr{lo4}, p.listener.Port(), WithRemoteUDPPort(p.server.UDPPort()))
	_, errs["recv on a closed endpoint"] = p.dialer.Recv(ctx)
	for what, err := range errs {
		require.Error(t, err, what)
		require.Equal(t, 1, strings.Count(err.Error(), "sock:"), "%s: %q", what, err)
	}
}

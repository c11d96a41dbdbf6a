package sock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// perAssoc is a RecvPerAssociation listening endpoint on one stack and a
// RecvPerAssociation dialing endpoint on another.
type perAssoc struct {
	server, client   *Stack
	listener, dialer *Endpoint
}

func newPerAssoc(t testing.TB, serverOpts ...EndpointOption) *perAssoc {
	t.Helper()
	p := &perAssoc{server: newStack(t), client: newStack(t)}
	var err error
	p.listener, err = p.server.NewEndpoint(nil, 0,
		append([]EndpointOption{AcceptMax(1000), WithRecvMode(RecvPerAssociation)}, serverOpts...)...)
	require.NoError(t, err)
	p.dialer, err = p.client.NewEndpoint(nil, 0, WithRecvMode(RecvPerAssociation))
	require.NoError(t, err)
	return p
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect makes an association from the dialer and returns both ends.
func (p *perAssoc) connect(t testing.TB) (client, server *Association) {
	t.Helper()
	ctx := testCtx(t)
	client, err := p.dialer.Connect(ctx, []netip.Addr{lo4}, p.listener.Port(), WithRemoteUDPPort(p.server.UDPPort()))
	require.NoError(t, err)
	server, err = p.listener.Accept(ctx)
	require.NoError(t, err)
	return client, server
}

func recvOn(t testing.TB, a *Association) Message {
	t.Helper()
	m, err := a.Recv(testCtx(t))
	require.NoError(t, err)
	return m
}

// TestPerAssociationExchange: in RecvPerAssociation mode each side reads
// its association's messages with Association.Recv, in both directions.
func TestPerAssociationExchange(t *testing.T) {
	p := newPerAssoc(t)
	client, server := p.connect(t)
	ctx := testCtx(t)
	require.Equal(t, RecvPerAssociation, p.listener.RecvMode())
	require.NoError(t, client.Send(ctx, []byte("ping"), SendInfo{Stream: 2, PPID: 46}))
	m := recvOn(t, server)
	require.Equal(t, "ping", string(m.Payload))
	require.Equal(t, uint16(2), m.Stream)
	require.Equal(t, uint32(46), m.PPID)
	require.Same(t, server, m.Association)
	require.NoError(t, server.Send(ctx, []byte("pong"), SendInfo{Stream: 1}))
	require.Equal(t, "pong", string(recvOn(t, client).Payload))
}

// TestRecvModeMismatch: the calls of the other mode fail with ErrRecvMode
// instead of splitting the messages silently between two readers.
func TestRecvModeMismatch(t *testing.T) {
	s := newStack(t)
	perEP, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	perAS, err := s.NewEndpoint(nil, 0, AcceptMax(1), WithRecvMode(RecvPerAssociation))
	require.NoError(t, err)
	_, err = s.NewEndpoint(nil, 0, WithRecvMode(RecvMode(7)))
	require.ErrorIs(t, err, ErrInvalidOption)

	pe := newPair(t) // per endpoint
	ctx := testCtx(t)
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"Endpoint.Recv per association", func() error { _, err := perAS.Recv(ctx); return err }},
		{"Endpoint.Accept per endpoint", func() error { _, err := perEP.Accept(ctx); return err }},
		{"Association.Recv per endpoint", func() error { _, err := pe.serverAssoc.Recv(ctx); return err }},
		{"NewConn per endpoint", func() error { _, err := NewConn(pe.serverAssoc, SendInfo{}); return err }},
		{"NewListener per endpoint", func() error { _, err := NewListener(perEP, SendInfo{}); return err }},
		{"Dialer per endpoint", func() error {
			_, err := (&Dialer{Endpoint: pe.dialer}).DialContext(ctx, []netip.Addr{lo4}, pe.listener.Port())
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorIs(t, c.call(), ErrRecvMode)
		})
	}
	// The per-endpoint model is unchanged.
	require.NoError(t, pe.clientAssoc.Send(ctx, []byte("x"), SendInfo{}))
	require.Equal(t, "x", string(recvCtx(t, pe.listener).Payload))
}

// TestAcceptEachOnce: Accept returns each inbound association once:
// several clients, each accepted exactly once, and nothing more after.
func TestAcceptEachOnce(t *testing.T) {
	p := newPerAssoc(t)
	const n = 5
	ctx := testCtx(t)
	var clients []*Association
	for i := range n {
		ep, err := p.client.NewEndpoint(nil, 0, WithRecvMode(RecvPerAssociation))
		require.NoError(t, err)
		a, err := ep.Connect(ctx, []netip.Addr{lo4}, p.listener.Port(), WithRemoteUDPPort(p.server.UDPPort()))
		require.NoError(t, err)
		require.NoError(t, a.Send(ctx, []byte(fmt.Sprint(i)), SendInfo{}))
		clients = append(clients, a)
	}
	seen := map[*Association]bool{}
	byMsg := map[string]bool{}
	for range n {
		a, err := p.listener.Accept(ctx)
		require.NoError(t, err)
		require.False(t, seen[a], "accepted twice")
		seen[a] = true
		byMsg[string(recvOn(t, a).Payload)] = true
	}
	require.Len(t, byMsg, n, "one association per client")
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := p.listener.Accept(short)
	require.ErrorIs(t, err, context.DeadlineExceeded, "no association is handed out twice")
	require.Zero(t, p.listener.Stats().AcceptQueued)
	for _, a := range clients {
		a.Abort("done")
	}
}

// TestRecvAfterGracefulShutdown: RFC 9260 section 9.2, the messages
// received before the shutdown are still returned, then an error wrapping
// ErrClosed and io.EOF.
func TestRecvAfterGracefulShutdown(t *testing.T) {
	p := newPerAssoc(t)
	client, server := p.connect(t)
	ctx := testCtx(t)
	for i := range 3 {
		require.NoError(t, client.Send(ctx, []byte(fmt.Sprint(i)), SendInfo{}))
	}
	require.NoError(t, client.Shutdown(ctx))
	<-server.Done()
	require.Equal(t, ReasonShutdown, server.Reason())
	for i := range 3 {
		require.Equal(t, fmt.Sprint(i), string(recvOn(t, server).Payload))
	}
	_, err := server.Recv(ctx)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, err, io.EOF)
	_, err = client.Recv(ctx)
	require.ErrorIs(t, err, ErrClosed, "the side that shut down too")
}

// TestRecvAfterAbort: RFC 9260 section 9.1, after an ABORT the queued
// messages are discarded (counted) and Recv fails with ErrAborted.
func TestRecvAfterAbort(t *testing.T) {
	p := newPerAssoc(t)
	client, server := p.connect(t)
	ctx := testCtx(t)
	for i := range 3 {
		require.NoError(t, client.Send(ctx, []byte(fmt.Sprint(i)), SendInfo{}))
	}
	require.Eventually(t, func() bool { return server.Stats().RecvQueued == 3 }, 10*time.Second, time.Millisecond)
	client.Abort("bye")
	<-server.Done()
	_, err := server.Recv(ctx)
	require.ErrorIs(t, err, ErrAborted)
	require.Equal(t, uint64(3), p.server.Stats().Drops[DropAbortedUnread])
	require.Zero(t, server.Stats().RecvQueued)
	_, err = client.Recv(ctx)
	require.ErrorIs(t, err, ErrAborted)
	require.False(t, errors.Is(err, io.EOF))
}

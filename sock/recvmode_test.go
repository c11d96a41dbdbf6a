package sock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
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

// TestStalledAssociationDoesNotStallOthers: one association's reader
// never calls Recv; its queue fills, its window closes and its peer's
// Send blocks (a context timeout, and the peer's view of the window),
// while another association on the same endpoint delivers n messages;
// the stalled one stays stalled throughout, then delivers everything in
// order once read.
func TestStalledAssociationDoesNotStallOthers(t *testing.T) {
	const queue, window, size, n = 2, 8192, 1024, 300
	p := newPerAssoc(t, WithRecvQueue(queue), WithReceiveBuffer(window), WithMaxMessageSize(size))
	ctx := testCtx(t)
	stalledClient, stalled := p.connect(t)
	otherEP, err := p.client.NewEndpoint(nil, 0, WithRecvMode(RecvPerAssociation))
	require.NoError(t, err)
	otherClient, err := otherEP.Connect(ctx, []netip.Addr{lo4}, p.listener.Port(), WithRemoteUDPPort(p.server.UDPPort()))
	require.NoError(t, err)
	other, err := p.listener.Accept(ctx)
	require.NoError(t, err)

	// blocked reports whether a Send on the stalled association is held
	// up (its context ends first); sent counts those that went.
	sent := 0
	blocked := func() bool {
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		msg := make([]byte, size)
		msg[0] = byte(sent)
		err := stalledClient.Send(short, msg, SendInfo{Stream: 1})
		if errors.Is(err, context.DeadlineExceeded) {
			return true
		}
		require.NoError(t, err)
		sent++
		return false
	}
	for !blocked() {
		require.Less(t, sent, 4*(queue+2+2*window/size), "the stalled association's sender never blocked")
	}
	require.Equal(t, queue, stalled.Stats().RecvQueued, "its queue is full")
	require.Less(t, stalledClient.Stats().RWND, uint32(size), "its peer sees the window closed")
	inBefore := stalled.Stats().MessagesIn

	go func() {
		for i := range n {
			if otherClient.Send(ctx, []byte(fmt.Sprint(i)), SendInfo{Stream: 2}) != nil {
				return
			}
		}
	}()
	for i := range n {
		m := recvOn(t, other)
		require.Equal(t, fmt.Sprint(i), string(m.Payload))
	}
	require.True(t, blocked(), "the stalled association is still held up after the other delivered %d", n)
	require.Equal(t, inBefore, stalled.Stats().MessagesIn, "and took nothing meanwhile")

	for i := range sent {
		m := recvOn(t, stalled)
		require.Equal(t, byte(i), m.Payload[0], "in order, none lost")
	}
	otherClient.Abort("done")
	stalledClient.Abort("done")
}

// TestAcceptBacklogBounded: nobody calling Accept costs at most the
// accept limit's associations: they count against AcceptMax while they
// wait, and the backlog keeps counting the ones that went down before
// being accepted, so INITs past it are refused. Accept then hands out
// each one, the closed one with its Recv failing.
func TestAcceptBacklogBounded(t *testing.T) {
	p := newPerAssoc(t)
	lep, err := p.server.NewEndpoint(nil, 0, AcceptMax(2), WithRecvMode(RecvPerAssociation))
	require.NoError(t, err)
	ctx := testCtx(t)
	dial := func() (*Association, error) {
		ep, err := p.client.NewEndpoint(nil, 0, WithRecvMode(RecvPerAssociation), WithMaxInitRetransmits(0))
		require.NoError(t, err)
		return ep.Connect(ctx, []netip.Addr{lo4}, lep.Port(), WithRemoteUDPPort(p.server.UDPPort()))
	}
	first, err := dial()
	require.NoError(t, err)
	first.Abort("gone before accepted")
	require.Eventually(t, func() bool { return lep.Stats().Associations == 0 }, 10*time.Second, time.Millisecond)
	second, err := dial()
	require.NoError(t, err)
	// The COOKIE-ACK leaves before the association enters the backlog.
	require.Eventually(t, func() bool { return lep.Stats().AcceptQueued == 2 }, 10*time.Second, time.Millisecond)
	_, err = dial()
	require.ErrorIs(t, err, ErrRefused, "the backlog is full")

	a, err := lep.Accept(ctx)
	require.NoError(t, err)
	_, err = a.Recv(ctx)
	require.ErrorIs(t, err, ErrAborted, "the one that went down")
	b, err := lep.Accept(ctx)
	require.NoError(t, err)
	require.NoError(t, second.Send(ctx, []byte("second"), SendInfo{}))
	require.Equal(t, "second", string(recvOn(t, b).Payload))
	third, err := dial()
	require.NoError(t, err, "room again")
	_, err = lep.Accept(ctx)
	require.NoError(t, err)
	second.Abort("done")
	third.Abort("done")
}

// TestPerAssociationLingerCountsAgainstAccept: as in the per-endpoint
// mode (TestShutdownDeliversAndCountsAgainstAccept), an association shut
// down gracefully whose messages wait for Recv counts in the accept
// limit until they are taken, so a peer cannot pile up queues by
// connecting, sending and shutting down while the application does not
// read.
func TestPerAssociationLingerCountsAgainstAccept(t *testing.T) {
	p := newPerAssoc(t)
	lep, err := p.server.NewEndpoint(nil, 0, AcceptMax(1), WithRecvMode(RecvPerAssociation), WithRecvQueue(4))
	require.NoError(t, err)
	ctx := testCtx(t)
	dial := func() (*Association, error) {
		ep, err := p.client.NewEndpoint(nil, 0, WithRecvMode(RecvPerAssociation), WithMaxInitRetransmits(0))
		require.NoError(t, err)
		return ep.Connect(ctx, []netip.Addr{lo4}, lep.Port(), WithRemoteUDPPort(p.server.UDPPort()))
	}
	client, err := dial()
	require.NoError(t, err)
	server, err := lep.Accept(ctx)
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, client.Send(ctx, []byte(fmt.Sprint(i)), SendInfo{}))
	}
	require.NoError(t, client.Shutdown(ctx))
	<-server.Done()
	require.Empty(t, lep.Associations())
	require.Equal(t, int64(1), lep.lingering.Load())
	_, err = dial()
	require.ErrorIs(t, err, ErrRefused, "refused while the closed association's messages wait")

	for i := range 3 {
		require.Equal(t, fmt.Sprint(i), string(recvOn(t, server).Payload))
	}
	_, err = server.Recv(ctx)
	require.ErrorIs(t, err, ErrClosed)
	require.Zero(t, lep.lingering.Load())
	again, err := dial()
	require.NoError(t, err, "accepted again once they are taken")
	again.Abort("done")
	require.Zero(t, p.server.Stats().Drops[DropAbortedUnread])
}

// TestAcceptRestartNotHandedOutAgain: a peer's restart (RFC 9260 section
// 5.2.4 action A) continues the association it had: Accept handed the
// first one out and does not hand out the restarted one, which
// EventRestart announces; the old one's Recv fails with ErrAborted.
func TestAcceptRestartNotHandedOutAgain(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10), WithRecvMode(RecvPerAssociation))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort = 4130
	ack, ck := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x7171, 1000))
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	_, c := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkCookieAck, c.Type)
	ctx := testCtx(t)
	old, err := ep.Accept(ctx)
	require.NoError(t, err)

	ack2, ck2 := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x7272, 1000))
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack2.InitiateTag, must(wire.AppendCookieEcho(nil, ck2))))
	_, c = rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkCookieAck, c.Type)
	restarted := waitEventType(t, ep, EventRestart).Association
	require.NotSame(t, old, restarted)
	<-old.Done()
	_, err = old.Recv(ctx)
	require.ErrorIs(t, err, ErrAborted)

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = ep.Accept(short)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the restart is not handed out again")
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack2.InitiateTag, rawpeer.Message(1000, 1, 0, "after restart")))
	require.Equal(t, "after restart", string(recvOn(t, restarted).Payload))
	restarted.Abort("done")
}

// TestAssociationQueueBoundedInBytes: an association's queue holds at
// most its receive buffer's bytes (beyond one message), however many
// messages WithRecvQueue allows: large messages fill it by size.
func TestAssociationQueueBoundedInBytes(t *testing.T) {
	const window, size = 8192, 4096
	p := newPerAssoc(t, WithRecvQueue(100), WithReceiveBuffer(window), WithMaxMessageSize(size))
	client, server := p.connect(t)
	ctx := testCtx(t)
	sent := 0
	for {
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := client.Send(short, make([]byte, size), SendInfo{Stream: 1})
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		require.NoError(t, err)
		sent++
		require.Less(t, sent, 100, "the sender never blocked")
	}
	require.Equal(t, window/size, server.Stats().RecvQueued)
	for range sent {
		require.Len(t, recvOn(t, server).Payload, size)
	}
	client.Abort("done")
}

// TestAcceptEndsWithEndpoint: closing the endpoint ends a waiting Accept
// and a waiting Association.Recv.
func TestAcceptEndsWithEndpoint(t *testing.T) {
	p := newPerAssoc(t)
	client, _ := p.connect(t)
	ctx := testCtx(t)
	acceptErr := make(chan error, 1)
	go func() {
		_, err := p.listener.Accept(ctx)
		acceptErr <- err
	}()
	recvErr := make(chan error, 1)
	go func() {
		_, err := client.Recv(ctx)
		recvErr <- err
	}()
	require.NoError(t, p.listener.Close())
	require.ErrorIs(t, <-acceptErr, ErrClosed)
	require.NoError(t, p.dialer.Close())
	require.ErrorIs(t, <-recvErr, ErrAborted, "the endpoint's Close aborts its associations")
}

// TestAcceptBacklogWithAcceptFunc: with an AcceptFunc, which sets no
// limit of its own, the backlog of associations nobody accepted is still
// bounded (defaultAcceptBacklog): past it INITs are refused with an
// ABORT, without asking the function.
func TestAcceptBacklogWithAcceptFunc(t *testing.T) {
	s := newStack(t)
	var asked atomic.Int32
	ep, err := s.NewEndpoint(nil, 0, WithRecvMode(RecvPerAssociation), WithHeartbeatInterval(0),
		AcceptFunc(func(AcceptRequest) bool { asked.Add(1); return true }))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	for i := range defaultAcceptBacklog {
		r.Establish(uint16(5000+i), ep.Port(), wire.Init{InitiateTag: uint32(0x1000 + i), ARwnd: 65536, OutStreams: 1, InStreams: 1, InitialTSN: 1})
	}
	require.Eventually(t, func() bool { return ep.Stats().AcceptQueued == defaultAcceptBacklog }, 10*time.Second, time.Millisecond)
	require.Equal(t, int32(defaultAcceptBacklog), asked.Load())
	r.Send(rawpeer.Encode(6000, ep.Port(), 0, rawpeer.InitChunk(rawpeer.SimpleInit(0x9999, 1))))
	_, c := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkAbort, c.Type, "the backlog is full")
	require.Equal(t, int32(defaultAcceptBacklog), asked.Load(), "the function is not asked")

	_, err = ep.Accept(testCtx(t))
	require.NoError(t, err)
	r.Send(rawpeer.Encode(6000, ep.Port(), 0, rawpeer.InitChunk(rawpeer.SimpleInit(0x9999, 1))))
	_, c = rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkInitAck, c.Type, "room for one more")
}

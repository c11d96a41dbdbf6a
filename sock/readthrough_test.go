package sock

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/wire"
)

// readThroughCount is how many datagrams the engine of s's only
// association read itself.
func readThroughCount(s *Stack) uint64 {
	var n uint64
	for _, st := range s.Stats().Sockets {
		n += st.RxReadThrough
	}
	return n
}

// echo sends one message from a to the peer and waits for it there.
func echoOnce(t *testing.T, from *Association, to *Endpoint) {
	t.Helper()
	require.NoError(t, from.Send(context.Background(), []byte("ping"), SendInfo{}))
	m := recvCtx(t, to)
	require.Equal(t, "ping", string(m.Payload))
}

// The stack's only association reads its packets on pion's read loop;
// with a second association on the stack the socket's goroutine reads
// again, and when it is gone, pion's read loop of the one left does.
func TestReadThroughSoleAssociation(t *testing.T) {
	p := newPair(t)
	for range 20 {
		echoOnce(t, p.clientAssoc, p.listener)
		echoOnce(t, p.serverAssoc, p.dialer)
	}
	require.NotZero(t, readThroughCount(p.client), "the client's only association did not read through")
	require.NotZero(t, readThroughCount(p.server), "the server's only association did not read through")

	second, err := p.client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a2, err := second.Connect(ctx, []netip.Addr{lo4}, p.listener.Port(), WithRemoteUDPPort(p.server.UDPPort()))
	require.NoError(t, err)
	ev, err := p.listener.Event(ctx)
	require.NoError(t, err)
	require.Equal(t, EventUp, ev.Type)
	// pion's read loop gives the reads back the next time it asks for
	// a packet: after one more packet of its own.
	echoOnce(t, p.serverAssoc, p.dialer)
	before := readThroughCount(p.client)
	for range 20 {
		echoOnce(t, p.serverAssoc, p.dialer)
		echoOnce(t, ev.Association, second)
	}
	require.Equal(t, before, readThroughCount(p.client), "read through with two associations on the stack")

	a2.Abort("test")
	waitEventType(t, second, EventDown)
	for range 20 {
		echoOnce(t, p.serverAssoc, p.dialer)
	}
	require.Greater(t, readThroughCount(p.client), before, "the association left did not read through again")
}

// An ABORT that pion's read loop reads itself ends the association: the
// receive path, on that loop, must not wait for pion's Close, which waits
// for the loop.
func TestReadThroughPeerAbort(t *testing.T) {
	p := newPair(t)
	echoOnce(t, p.serverAssoc, p.dialer)
	echoOnce(t, p.serverAssoc, p.dialer)
	require.NotZero(t, readThroughCount(p.client))
	p.serverAssoc.Abort("test")
	ev := waitEventType(t, p.dialer, EventDown)
	require.Equal(t, ReasonAbortedByPeer, ev.Reason)
	require.NoError(t, p.dialer.Close())
}

// A graceful shutdown the peer starts, read through, ends the association
// the same way.
func TestReadThroughPeerShutdown(t *testing.T) {
	p := newPair(t)
	echoOnce(t, p.serverAssoc, p.dialer)
	echoOnce(t, p.serverAssoc, p.dialer)
	require.NotZero(t, readThroughCount(p.client))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.serverAssoc.Shutdown(ctx))
	ev := waitEventType(t, p.dialer, EventDown)
	require.Equal(t, ReasonShutdown, ev.Reason)
	require.NoError(t, p.dialer.Close())
}

// A packet for pion from another goroutine than pion's read loop (the
// window update a stream reader asks for: a receiver whose window closed
// reopens it when its application reads again, see
// TestWindowReopensWithoutWaitingForProbe) reaches pion while that loop
// reads the stack's socket itself: the loop is woken from its read, and no
// datagram from the peer is needed, though the peer, waiting for that very
// window, sends none. Both ends are silent here (no heartbeats), so
// without the wake-up pion would never answer.
func TestReadThroughWindowUpdate(t *testing.T) {
	server, client := newStack(t), newStack(t)
	listener, err := server.NewEndpoint(nil, 0, AcceptMax(1), WithHeartbeatInterval(0))
	require.NoError(t, err)
	dialer, err := client.NewEndpoint(nil, 0, WithHeartbeatInterval(0))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := dialer.Connect(ctx, []netip.Addr{lo4}, listener.Port(), WithRemoteUDPPort(server.UDPPort()))
	require.NoError(t, err)
	ev, err := listener.Event(ctx)
	require.NoError(t, err)
	b := ev.Association

	sacks := make(chan struct{}, 16)
	tap := func(pkt []byte, _ netip.Addr, _ netip.AddrPort) {
		it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
		for it.Next() {
			if it.Chunk().Type == wire.ChunkSack {
				sacks <- struct{}{}
			}
		}
	}
	server.sendTap.Store(&tap)
	// The reads pass to pion's read loop within a few packets.
	for i := 0; readThroughCount(server) == 0; i++ {
		require.Less(t, i, 50, "the server's association did not read through")
		echoOnce(t, a, listener)
	}
	// Let the messages' delayed SACKs (200 ms) go, then forget them.
	time.Sleep(time.Second)
	for len(sacks) > 0 {
		<-sacks
	}

	b.rx.mu.Lock()
	cum := b.rx.cum
	b.rx.mu.Unlock()
	go b.sendWindowUpdate(cum)
	select {
	case <-sacks:
	case <-ctx.Done():
		t.Fatal("pion did not answer the window update's probe: it waits in the shim's queue")
	}
}

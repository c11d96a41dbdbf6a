package sock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// fillBlockedReaders sends one message on each of streams 0..n-1 of h and
// waits until the endpoint's queue (of one) holds one and the other
// readers wait for room.
func fillBlockedReaders(t *testing.T, h *hostilePeer, n int) {
	t.Helper()
	var tsns []uint32
	for i := range n {
		h.sendChunks(rawpeer.Data(h.tsn, uint16(i), 0, fragWhole, []byte("unread")))
		tsns = append(tsns, h.tsn)
		h.tsn++
	}
	h.sackWith(tsns...)
	require.Eventually(t, func() bool {
		return h.assoc.Stats().MessagesIn == uint64(n) && h.endpoint.recvq.len() == 1
	}, 5*time.Second, time.Millisecond)
}

// TestAbortDiscardsUnreadMessages: RFC 9260 section 9.1, on an ABORT the
// data still queued is discarded: the readers of an aborted association
// that waited for room in the endpoint's queue give their messages up
// (counted) and end, instead of waiting for an application that does not
// read.
func TestAbortDiscardsUnreadMessages(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(4), WithRecvQueue(1))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4401, 0x4401, 4)
	a := h.assoc
	fillBlockedReaders(t, h, 4)
	h.abort()
	require.Eventually(t, func() bool { return a.str.readers.Load() == 0 }, 5*time.Second, time.Millisecond,
		"the readers of an aborted association end")
	require.Equal(t, uint64(3), s.Stats().Drops[DropAbortedUnread], "the three messages that waited")
	require.Equal(t, 1, ep.recvq.len(), "what the queue held before the ABORT stays")
}

// TestShutdownDeliversAndCountsAgainstAccept: after a graceful shutdown
// (RFC 9260 section 9.2) every message received is still delivered, and
// while some wait for Recv the association counts in the accept limit, so
// a peer cannot pile up readers by connecting, sending and shutting down
// again and again while the application does not read.
func TestShutdownDeliversAndCountsAgainstAccept(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1), WithRecvQueue(1))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4402, 0x4402, 4)
	a := h.assoc
	fillBlockedReaders(t, h, 3)

	// The peer shuts down: SHUTDOWN, the stack's SHUTDOWN ACK, SHUTDOWN
	// COMPLETE.
	h.sendChunks(wire.AppendShutdown(nil, a.localTSN-1)) // the stack sent no DATA
	for {
		pkt := h.Recv(5 * time.Second)
		require.NotNil(t, pkt, "a SHUTDOWN ACK")
		if _, c := rawpeer.FirstChunk(t, pkt); c.Type == wire.ChunkShutdownAck {
			break
		}
	}
	h.sendChunks(wire.AppendShutdownComplete(nil, false))
	<-a.Done()
	require.Equal(t, ReasonShutdown, a.Reason())
	require.Empty(t, ep.Associations())

	// Its two waiting messages still count: a new association is refused.
	r := newRawPeer(t, s)
	require.Eventually(t, func() bool { return ep.lingering.Load() == 1 }, 5*time.Second, time.Millisecond)
	r.Send(rawpeer.Encode(4403, ep.Port(), 0, rawpeer.InitChunk(rawpeer.SimpleInit(0x4403, 1))))
	_, c := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkAbort, c.Type, "refused while the closed association's messages wait")

	// All three are delivered; then the endpoint accepts again.
	for range 3 {
		m := recvCtx(t, ep)
		require.Equal(t, "unread", string(m.Payload))
	}
	require.Eventually(t, func() bool { return ep.lingering.Load() == 0 && a.str.readers.Load() == 0 }, 5*time.Second, time.Millisecond)
	r.Send(rawpeer.Encode(4403, ep.Port(), 0, rawpeer.InitChunk(rawpeer.SimpleInit(0x4404, 1))))
	_, c = rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkInitAck, c.Type)
	require.Zero(t, s.Stats().Drops[DropAbortedUnread])
}

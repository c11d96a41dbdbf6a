package sock

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// typesOf lists the types of a's events, path events aside.
func typesOf(evs []Event, a *Association) []EventType {
	var out []EventType
	for _, ev := range evs {
		if ev.Association != a || (ev.Type >= EventPathConfirmed && ev.Type <= EventPrimaryChanged) {
			continue
		}
		out = append(out, ev.Type)
	}
	return out
}

// eventsUntil reads ep's events up to and including the first for which
// last holds.
func eventsUntil(t *testing.T, ep *Endpoint, last func(Event) bool) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var evs []Event
	for {
		ev, err := ep.Event(ctx)
		require.NoError(t, err, "events so far: %v", evs)
		evs = append(evs, ev)
		if last(ev) {
			return evs
		}
	}
}

// waitEventType returns ep's next event of type typ, skipping others.
func waitEventType(t *testing.T, ep *Endpoint, typ EventType) Event {
	t.Helper()
	evs := eventsUntil(t, ep, func(ev Event) bool { return ev.Type == typ })
	return evs[len(evs)-1]
}

func downOf(a *Association) func(Event) bool {
	return func(ev Event) bool { return ev.Type == EventDown && ev.Association == a }
}

// TestPeerShutdownEvent: the side whose peer shuts down gracefully sees
// EventPeerShutdown before the shutdown completes (RFC 6458 section 6.1.5);
// the side that shut down does not.
func TestPeerShutdownEvent(t *testing.T) {
	p := newPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, p.clientAssoc.Shutdown(ctx))
	server := eventsUntil(t, p.listener, downOf(p.serverAssoc))
	require.Equal(t, []EventType{EventPeerShutdown, EventShutdownComplete, EventDown}, typesOf(server, p.serverAssoc))
	client := eventsUntil(t, p.dialer, downOf(p.clientAssoc))
	require.Equal(t, []EventType{EventUp, EventShutdownComplete, EventDown}, typesOf(client, p.clientAssoc))
}

// TestPeerShutdownRaisedOnce: a SHUTDOWN the peer retransmits raises no
// second event.
func TestPeerShutdownRaisedOnce(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4600, 0x5d5d, 4)
	shutdown := wire.AppendShutdown(nil, h.assoc.localTSN-1) // nothing of the stack's to acknowledge
	h.sendChunks(shutdown)
	h.sendChunks(shutdown)
	untilChunk(t, h.Peer, wire.ChunkShutdownAck)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.ErrorIs(t, h.assoc.Send(ctx, []byte("late"), SendInfo{}), ErrNotEstablished, "RFC 9260 section 9.2: no new data")
	h.sendChunks(wire.AppendShutdownComplete(nil, false))
	evs := eventsUntil(t, ep, downOf(h.assoc))
	require.Equal(t, []EventType{EventUp, EventPeerShutdown, EventShutdownComplete, EventDown}, typesOf(evs, h.assoc))
	require.Equal(t, ReasonShutdown, evs[len(evs)-1].Reason)
}

// TestRemoteErrorEvents: each cause of the peer's ERROR chunks is an
// EventRemoteError with its code and name; at most maxRemoteErrorEvents of
// an association wait in the event queue, whether one packet or many
// bring them (the rest counted); a Stale Cookie Error once established is
// not the user's.
func TestRemoteErrorEvents(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4601, 0x6e6e, 4)
	waitEventType(t, ep, EventUp)

	h.sendChunks(must(wire.AppendErrorChunk(nil, wire.InvalidStreamIDCause(7))))
	ev := waitEventType(t, ep, EventRemoteError)
	require.Equal(t, h.assoc, ev.Association)
	require.Equal(t, uint16(wire.CauseInvalidStreamID), ev.Cause)
	require.Equal(t, "Invalid Stream Identifier: stream 7", ev.Detail)

	many := make([]wire.ErrorCause, 1000)
	for i := range many {
		many[i] = wire.ErrorCause{Code: wire.CauseOutOfResource}
	}
	flood := must(wire.AppendErrorChunk(nil, many...))
	const marker = wire.CauseCode(0x0100)
	markers := must(wire.AppendErrorChunk(nil, wire.StaleCookieCause(10),
		wire.ErrorCause{Code: wire.CauseProtocolViolation, Info: []byte("bad\x00thing")}, wire.ErrorCause{Code: marker}))
	for _, packets := range []int{1, 3} {
		before := h.assoc.Stats()
		for range packets {
			h.sendChunks(flood)
		}
		// The receive path takes packets in order: once the last flood
		// packet raised its events (or none), the ERROR after it is taken
		// too. Its causes find the queue full of the flood's unread events.
		h.sendChunks(markers)
		require.Eventually(t, func() bool {
			return h.assoc.Stats().RemoteErrors == before.RemoteErrors+uint64(1000*packets+2)
		}, time.Minute, time.Millisecond)
		evs := eventsUntil(t, ep, func(ev Event) bool { return ev.Type == EventRemoteError })
		for range maxRemoteErrorEvents - 1 {
			evs = append(evs, waitEventType(t, ep, EventRemoteError))
		}
		for _, ev := range evs {
			require.Equal(t, EventRemoteError, ev.Type)
			require.Equal(t, uint16(wire.CauseOutOfResource), ev.Cause)
			require.Equal(t, "Out of Resource", ev.Detail)
		}
		st := h.assoc.Stats()
		require.Equal(t, uint64(1000*packets+2-maxRemoteErrorEvents), st.RemoteErrorsUnreported-before.RemoteErrorsUnreported,
			"%d packets of 1,000 causes and the marker's two: %d events", packets, maxRemoteErrorEvents)
	}

	// Read, the queue has room again: the marker's causes are events.
	h.sendChunks(markers)
	evs := eventsUntil(t, ep, func(ev Event) bool { return ev.Cause == uint16(marker) })
	require.Len(t, evs, 2, "the Stale Cookie Error raises nothing")
	require.Equal(t, `Protocol Violation: "bad\x00thing"`, evs[0].Detail, "the peer's text, quoted")
	require.Equal(t, "CauseCode(256)", evs[1].Detail)
	require.Equal(t, StateEstablished, h.assoc.State(), "an ERROR chunk ends nothing")
	h.abort()
}

// dataFrom reads packets until one with a DATA chunk and returns the
// first DATA chunk's TSN.
func dataFrom(t *testing.T, r *rawpeer.Peer) uint32 {
	t.Helper()
	for {
		pkt := r.Recv(10 * time.Second)
		require.NotNil(t, pkt, "no DATA came")
		it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
		for it.Next() {
			if tsn, ok := wire.PeekDataTSN(it.Chunk()); ok && it.Chunk().Type == wire.ChunkData {
				return tsn
			}
		}
	}
}

// TestSendFailedAbandoned: a PR-SCTP message to a peer that never
// acknowledges is abandoned (RFC 3758): EventSendFailed with its stream,
// PPID, Context and payload, once, not again when the association goes
// down. pion measures a Lifetime from the latest transmission (see
// SendInfo.Lifetime): only one below its millisecond abandons a message,
// after its first transmission.
func TestSendFailedAbandoned(t *testing.T) {
	for i, tc := range []struct {
		name string
		info SendInfo
	}{
		{"tiny lifetime", SendInfo{Lifetime: time.Microsecond}},
		{"max retransmissions", SendInfo{MaxRetransmits: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
			require.NoError(t, err)
			r := newRawPeer(t, s)
			port := uint16(4602 + i)
			ack := r.Establish(port, ep.Port(), wire.Init{InitiateTag: 0x7f7f, ARwnd: 1 << 20, OutStreams: 4, InStreams: 4, InitialTSN: 1,
				Params: []wire.Param{wire.ForwardTSNSupportedParam()}})
			a := waitEventType(t, ep, EventUp).Association
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			payload := []byte("stale quote")
			info := tc.info
			info.Stream, info.PPID, info.Context = 2, 46, 0xfeed
			require.NoError(t, a.Send(ctx, payload, info))
			dataFrom(t, r) // sent, and never acknowledged

			ev := waitEventType(t, ep, EventSendFailed)
			require.Equal(t, a, ev.Association)
			require.Equal(t, uint16(2), ev.Stream)
			require.Equal(t, uint32(46), ev.PPID)
			require.Equal(t, uint32(0xfeed), ev.Context)
			require.Equal(t, payload, ev.Payload)
			require.Equal(t, "abandoned (PR-SCTP)", ev.Detail)

			r.Send(rawpeer.Encode(port, ep.Port(), ack.InitiateTag, must(wire.Abort{}.Append(nil))))
			evs := eventsUntil(t, ep, downOf(a))
			require.Equal(t, []EventType{EventDown}, typesOf(evs, a), "the abandoned message is not reported again")
			require.Equal(t, uint64(1), a.Stats().SendFailed)
		})
	}
}

// TestSendFailedOnAbort: the messages not acknowledged when the peer
// aborts each get an EventSendFailed, in the order sent, before EventDown;
// the acknowledged one does not.
func TestSendFailedOnAbort(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4603, 0x1a1a, 4)
	waitEventType(t, ep, EventUp)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, h.assoc.Send(ctx, []byte("delivered"), SendInfo{Stream: 0, PPID: 1, Context: 1}))
	tsn := dataFrom(t, h.Peer)
	big := bytes.Repeat([]byte("fragmented "), 300) // three DATA chunks
	require.NoError(t, h.assoc.Send(ctx, big, SendInfo{Stream: 1, PPID: 2, Context: 2}))
	require.NoError(t, h.assoc.Send(ctx, []byte("unordered"), SendInfo{Stream: 0, PPID: 3, Unordered: true, Context: 3}))
	// The first acknowledged, then the ABORT, in one packet.
	h.sendChunks(must(wire.AppendSack(nil, tsn, 1<<20, nil, nil)), must(wire.Abort{}.Append(nil)))

	evs := eventsUntil(t, ep, downOf(h.assoc))
	require.Equal(t, []EventType{EventSendFailed, EventSendFailed, EventDown}, typesOf(evs, h.assoc))
	failed := evs[len(evs)-3:]
	require.Equal(t, []uint32{2, 3}, contexts(failed))
	require.Equal(t, big, failed[0].Payload)
	require.Equal(t, uint16(1), failed[0].Stream)
	require.Equal(t, uint32(2), failed[0].PPID)
	require.Equal(t, []byte("unordered"), failed[1].Payload)
	require.Equal(t, uint32(3), failed[1].PPID)
	for _, ev := range failed[:2] {
		require.True(t, strings.HasSuffix(ev.Detail, ": association down (aborted by peer)"), ev.Detail)
	}
	require.ErrorIs(t, h.assoc.Send(ctx, []byte("late"), SendInfo{}), ErrClosed, "after EventDown Send fails: no event")
}

// TestSenderDryEvents: an endpoint that asks for EventSenderDry gets one
// when the association is established and one when what it sent is
// acknowledged; one that does not ask gets none.
func TestSenderDryEvents(t *testing.T) {
	p := newPair(t, WithSenderDryEvents(true))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ev, err := p.listener.Event(ctx)
	require.NoError(t, err)
	require.Equal(t, EventSenderDry, ev.Type, "at establishment, after EventUp")
	require.Equal(t, p.serverAssoc, ev.Association)

	require.NoError(t, p.serverAssoc.Send(ctx, []byte("answer"), SendInfo{Stream: 1}))
	require.Equal(t, "answer", string(recvCtx(t, p.dialer).Payload))
	ev = waitEventType(t, p.listener, EventSenderDry)
	require.Equal(t, p.serverAssoc, ev.Association)
	p.serverAssoc.mu.Lock()
	pa := p.serverAssoc.eng.pion
	p.serverAssoc.mu.Unlock()
	// The event is raised as the acknowledging SACK passes the inbound
	// filter, before pion has read that SACK: pion's buffer empties
	// right after.
	require.Eventually(t, func() bool { return pa.BufferedAmount() == 0 }, time.Minute, time.Millisecond,
		"dry: pion holds nothing")

	// The client's endpoint did not ask.
	require.NoError(t, p.clientAssoc.Send(ctx, []byte("request"), SendInfo{}))
	require.Equal(t, "request", string(recvCtx(t, p.listener).Payload))
	require.Eventually(t, func() bool {
		p.clientAssoc.tx.mu.Lock()
		defer p.clientAssoc.tx.mu.Unlock()
		return p.clientAssoc.tx.dry
	}, time.Minute, time.Millisecond, "the client's message acknowledged")
	p.clientAssoc.Abort("done")
	for _, ev := range eventsUntil(t, p.dialer, downOf(p.clientAssoc)) {
		require.NotEqual(t, EventSenderDry, ev.Type)
	}
}

func TestEventStrings(t *testing.T) {
	for typ, name := range map[EventType]string{
		EventPeerShutdown: "peer shutdown", EventSendFailed: "send failed",
		EventSenderDry: "sender dry", EventRemoteError: "remote error",
	} {
		require.Equal(t, name, typ.String())
	}
	require.Equal(t, "EventType(99)", EventType(99).String())
	ev := Event{Type: EventSendFailed, Stream: 3, PPID: 60, Context: 7, Payload: []byte("abc"), Detail: "abandoned (PR-SCTP)"}
	require.Equal(t, "<nil> send failed stream 3 ppid 60 context 7, 3 bytes: abandoned (PR-SCTP)", ev.String())
	ev = Event{Type: EventRemoteError, Cause: 4, Detail: "Out of Resource"}
	require.Equal(t, "<nil> remote error cause 4: Out of Resource", ev.String())
}

// untilChunk reads packets until one whose first chunk has type typ (a
// stack sends heartbeats and retransmissions meanwhile) and returns it.
func untilChunk(t *testing.T, r *rawpeer.Peer, typ wire.ChunkType) wire.Chunk {
	t.Helper()
	for {
		_, c := rawpeer.FirstChunk(t, r.Recv(10*time.Second))
		if c.Type == typ {
			return c
		}
	}
}

// TestSendFailedOnRestart: a peer restart (RFC 9260 section 5.2.4 action
// A) loses what the old association had not delivered: EventSendFailed
// for it, before the old association's EventDown and the EventRestart.
func TestSendFailedOnRestart(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const port = 4610
	in := wire.Init{InitiateTag: 0x5151, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1000}
	r.Establish(port, ep.Port(), in)
	old := waitEventType(t, ep, EventUp).Association
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, old.Send(ctx, []byte("lost"), SendInfo{Stream: 3, PPID: 18, Context: 9}))
	dataFrom(t, r)

	in.InitiateTag = 0x6262
	r.Send(rawpeer.Encode(port, ep.Port(), 0, must(in.Append(nil, wire.ChunkInit))))
	ack, err := wire.ParseInit(untilChunk(t, r, wire.ChunkInitAck).Value)
	require.NoError(t, err)
	ck, ok := ack.Cookie()
	require.True(t, ok)
	r.Send(rawpeer.Encode(port, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	untilChunk(t, r, wire.ChunkCookieAck)

	evs := eventsUntil(t, ep, func(ev Event) bool { return ev.Type == EventRestart })
	require.Equal(t, []EventType{EventSendFailed, EventDown}, typesOf(evs, old))
	var failed Event
	for _, ev := range evs {
		if ev.Type == EventSendFailed {
			failed = ev
		}
	}
	require.Equal(t, uint32(9), failed.Context)
	require.Equal(t, []byte("lost"), failed.Payload)
	require.Equal(t, "unacknowledged: association down (aborted by peer: peer restarted)", failed.Detail)
	require.Equal(t, EventRestart, evs[len(evs)-1].Type)
	evs[len(evs)-1].Association.Abort("done")
}

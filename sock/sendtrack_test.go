package sock

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// trackerAssoc is an association with nothing but an endpoint's event
// queue and a send tracker starting at TSN 100: enough to drive the
// tracker by hand.
func trackerAssoc(senderDry bool) *Association {
	ep := &Endpoint{events: newEventQueue(256)}
	ep.cfg.senderDry = senderDry
	a := &Association{ep: ep}
	a.tx.init(100)
	return a
}

// outData is a packet pion could write: DATA chunks as given.
func outData(chunks ...[]byte) []byte { return rawpeer.Encode(1, 2, 3, chunks...) }

func outForwardTSN(newCum uint32) []byte {
	return rawpeer.Encode(1, 2, 3, must(wire.AppendChunk(nil, wire.ChunkForwardTSN, 0, binary.BigEndian.AppendUint32(nil, newCum))))
}

// queued is a message Send handed to pion.
func queued(a *Association, stream uint16, unord bool, ctx uint32) *sendRecord {
	r := a.tx.queue([]byte{byte(ctx)}, SendInfo{Stream: stream, Unordered: unord, PPID: 1000 + ctx, Context: ctx})
	a.tx.sendDone(a, r, true)
	return r
}

// pending drains the events queued so far.
func pending(a *Association) []Event {
	a.ep.events.mu.Lock()
	defer a.ep.events.mu.Unlock()
	evs := a.ep.events.buf
	a.ep.events.buf = nil
	return evs
}

func contexts(evs []Event) []uint32 {
	var out []uint32
	for _, ev := range evs {
		if ev.Type == EventSendFailed {
			out = append(out, ev.Context)
		}
	}
	return out
}

// TestSendTrackerBinding: messages are tied to TSNs per stream and
// ordering, in the order of their Sends (pion sends unordered messages
// first and a message's fragments at consecutive TSNs); retransmissions
// bind nothing; when the association goes down the unacknowledged ones
// are reported in TSN order, then the unsent ones.
func TestSendTrackerBinding(t *testing.T) {
	a := trackerAssoc(false)
	queued(a, 0, false, 1)
	queued(a, 1, false, 2)
	queued(a, 0, true, 3)
	queued(a, 0, false, 4) // three fragments
	queued(a, 0, false, 5) // never sent
	// pion sends the unordered message first, then the ordered ones of
	// stream 0 and 1 as its FIFO has them.
	a.tx.dataOut(a, outData(rawpeer.Data(100, 0, 0, fragWhole|unordered, []byte("3")), rawpeer.Data(101, 0, 0, fragWhole, []byte("1"))))
	a.tx.dataOut(a, outData(rawpeer.Data(102, 1, 0, fragWhole, []byte("2")), rawpeer.Data(103, 0, 1, fragBegin, []byte("4a"))))
	a.tx.dataOut(a, outData(rawpeer.Data(101, 0, 0, fragWhole, []byte("1")))) // a retransmission
	a.tx.dataOut(a, outData(rawpeer.Data(104, 0, 1, 0, []byte("4b")), rawpeer.Data(105, 0, 1, fragEnd, []byte("4c"))))

	a.tx.acked(a, 101, nil)
	require.Empty(t, pending(a))
	a.tx.mu.Lock()
	require.Len(t, a.tx.flight, 2, "messages 2 and 4 in flight")
	require.Equal(t, uint32(4), a.tx.flight[1].context)
	require.Equal(t, [2]uint32{103, 105}, [2]uint32{a.tx.flight[1].first, a.tx.flight[1].last})
	a.tx.mu.Unlock()

	a.life.closeErr = &CloseError{Reason: ReasonAbortedByPeer}
	evs := a.tx.down(a)
	require.Equal(t, []uint32{2, 4, 5}, contexts(evs))
	require.Equal(t, "unacknowledged: association down (aborted by peer)", evs[0].Detail)
	require.Equal(t, "unsent: association down (aborted by peer)", evs[2].Detail)
	require.Equal(t, EventSendFailed, evs[1].Type)
	require.Equal(t, uint16(0), evs[1].Stream)
	require.Equal(t, uint32(1004), evs[1].PPID)
	require.Equal(t, []byte{4}, evs[1].Payload)
	require.Equal(t, uint64(3), a.Stats().SendFailed)
	require.Empty(t, a.tx.down(a), "reported once")
}

// TestSendTrackerAbandon: a FORWARD-TSN pion writes abandons the messages
// it skips, but for one the peer acknowledged whole in a Gap Ack Block.
func TestSendTrackerAbandon(t *testing.T) {
	a := trackerAssoc(false)
	for i := range uint32(4) {
		queued(a, 2, false, 10+i)
		a.tx.dataOut(a, outData(rawpeer.Data(100+i, 2, uint16(i), fragWhole, []byte{byte(i)})))
	}
	v := sackView(t, 99, wire.GapAckBlock{Start: 2, End: 2}) // TSN 101 only
	a.tx.acked(a, v.CumTSNAck(), &v)
	a.tx.dataOut(a, outForwardTSN(102))
	evs := pending(a)
	require.Equal(t, []uint32{10, 12}, contexts(evs), "101 the peer holds: delivered")
	require.Equal(t, "abandoned (PR-SCTP)", evs[0].Detail)
	require.Equal(t, uint32(10), evs[0].Context)

	// The peer acknowledges the FORWARD-TSN and the last message.
	a.tx.acked(a, 103, nil)
	a.life.closeErr = &CloseError{Reason: ReasonShutdown}
	require.Empty(t, a.tx.down(a))
}

// TestSendTrackerDry: EventSenderDry at establishment and on each return
// to dry, only once everything sent is acknowledged cumulatively (a Gap
// Ack Block is not enough), never without the option.
func TestSendTrackerDry(t *testing.T) {
	for _, on := range []bool{false, true} {
		a := trackerAssoc(on)
		dry := func() int {
			n := 0
			for _, ev := range pending(a) {
				if ev.Type == EventSenderDry {
					n++
				}
			}
			return n
		}
		a.pushEvents(a.tx.up(a))
		require.Equal(t, map[bool]int{false: 0, true: 1}[on], dry(), "at establishment")
		queued(a, 0, false, 1)
		queued(a, 0, false, 2)
		a.tx.dataOut(a, outData(rawpeer.Data(100, 0, 0, fragWhole, []byte("1")), rawpeer.Data(101, 0, 1, fragWhole, []byte("2"))))
		v := sackView(t, 99, wire.GapAckBlock{Start: 1, End: 2})
		a.tx.acked(a, v.CumTSNAck(), &v)
		a.tx.acked(a, 100, nil)
		require.Zero(t, dry(), "101 is not acknowledged cumulatively")
		a.tx.acked(a, 101, nil)
		require.Equal(t, map[bool]int{false: 0, true: 1}[on], dry(), "dry again")
		a.tx.acked(a, 101, nil)
		require.Zero(t, dry(), "on the transition only")

		// A message pion did not take (Send's context ended) leaves the
		// association dry, and says so.
		r := a.tx.queue([]byte("x"), SendInfo{})
		a.tx.sendDone(a, r, false)
		require.Equal(t, map[bool]int{false: 0, true: 1}[on], dry())
	}
}

// TestSendTrackerHostileAcks: acknowledgements of TSNs never sent (a
// SHUTDOWN's Cumulative TSN Ack, which no SACK check saw) and old ones
// retire nothing; malformed Gap Ack Blocks and blocks out of order mark
// nothing.
func TestSendTrackerHostileAcks(t *testing.T) {
	a := trackerAssoc(true)
	for i := range uint32(3) {
		queued(a, 0, false, 1+i)
		a.tx.dataOut(a, outData(rawpeer.Data(100+i, 0, uint16(i), fragWhole, []byte{byte(i)})))
	}
	a.tx.acked(a, 102+5, nil) // beyond the highest TSN sent
	a.tx.acked(a, 50, nil)    // far behind
	v := sackView(t, 99, wire.GapAckBlock{Start: 0, End: 3}, wire.GapAckBlock{Start: 3, End: 1})
	a.tx.acked(a, v.CumTSNAck(), &v) // malformed blocks
	// TSN 102, then TSN 101 again (out of order) and overlapping.
	v = sackView(t, 99, wire.GapAckBlock{Start: 3, End: 3}, wire.GapAckBlock{Start: 2, End: 2}, wire.GapAckBlock{Start: 3, End: 3})
	a.tx.acked(a, v.CumTSNAck(), &v)
	a.tx.dataOut(a, outForwardTSN(102))
	require.Equal(t, []uint32{1, 2}, contexts(pending(a)), "only the first block counted: 102 is delivered")
	a.life.closeErr = &CloseError{Reason: ReasonAborted}
	require.Empty(t, a.tx.down(a))
}

// TestSendTrackerSendAfterDown: a message Send was writing while the
// association went down is Send's to report: as unsent if pion took it,
// not at all if pion refused it (Send returns the error).
func TestSendTrackerSendAfterDown(t *testing.T) {
	a := trackerAssoc(false)
	taken := a.tx.queue([]byte("t"), SendInfo{Context: 7})
	refused := a.tx.queue([]byte("r"), SendInfo{Context: 8})
	a.life.closeErr = &CloseError{Reason: ReasonCommunicationLost}
	require.Empty(t, a.tx.down(a))
	a.tx.sendDone(a, taken, true)
	a.tx.sendDone(a, refused, false)
	evs := pending(a)
	require.Equal(t, []uint32{7}, contexts(evs))
	require.Equal(t, "unsent: association down (communication lost)", evs[0].Detail)
	require.Nil(t, a.tx.queue([]byte("late"), SendInfo{}), "nothing is kept once down")
}

// TestSendContextRoundTrip: Send records the message with its Context
// before pion sends it, so that EventSendFailed returns it; a Send that
// fails forgets it.
func TestSendContextRoundTrip(t *testing.T) {
	p := newPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.clientAssoc.Send(ctx, []byte("one"), SendInfo{Stream: 1, PPID: 5, Context: 99}))
	require.Equal(t, "one", string(recvCtx(t, p.listener).Payload))
	require.ErrorIs(t, p.clientAssoc.Send(ctx, []byte("x"), SendInfo{Stream: DefaultStreams}), ErrInvalidStream)
	require.Eventually(t, func() bool {
		p.clientAssoc.tx.mu.Lock()
		defer p.clientAssoc.tx.mu.Unlock()
		return p.clientAssoc.tx.nQueued == 0 && len(p.clientAssoc.tx.flight) == 0
	}, 10*time.Second, time.Millisecond, "acknowledged and forgotten")
	p.clientAssoc.Abort("done")
	ev := waitEventType(t, p.dialer, EventDown)
	require.Zero(t, p.clientAssoc.Stats().SendFailed, "nothing failed: %v", ev)
}

// TestSendTrackerOneAtATimeAllocations: one message at a time (a request
// and its answer) costs the tracker its record and the payload's copy,
// and no new backing array for its queues each time.
func TestSendTrackerOneAtATimeAllocations(t *testing.T) {
	a := trackerAssoc(false)
	payload := []byte("ping")
	pkts := make([][]byte, 200)
	for i := range pkts {
		pkts[i] = outData(rawpeer.Data(100+uint32(i), 0, uint16(i), fragWhole, payload))
	}
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		r := a.tx.queue(payload, SendInfo{})
		a.tx.sendDone(a, r, true)
		a.tx.dataOut(a, pkts[i])
		a.tx.acked(a, 100+uint32(i), nil)
		i++
	})
	require.LessOrEqual(t, allocs, 2.0, "allocations per message")
	require.Empty(t, pending(a))
}

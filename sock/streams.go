package sock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/pion/sctp"

	"github.com/usock/usock/internal/wire"
)

// streamSet is the association's streams (RFC 9260 section 1.3.1): how
// many each side may use, the pion streams open, and the count of their
// readers running. Owned by streams.go: other files reach it through the
// Association methods there.
//
// outStreams, inStreams and open are guarded by a.mu; they are set once
// when the engine starts (negotiated) and read by user calls (Send,
// ResetStream, Streams), stream readers and the receive path. readers
// and lingering are atomic: stream readers change them, the receive
// queue's bookkeeping (recvmode.go) reads them.
//
// A stream's reader is a goroutine only while pion may hold a message of
// the stream (see wakeReaderLocked): an idle association costs pion's
// three goroutines and none of ours.
type streamSet struct {
	outStreams uint16
	inStreams  uint16
	open       map[uint16]*stream

	// readers counts the stream readers running; lingering is set while
	// the association, closed gracefully, still has messages waiting for
	// room in the endpoint's queue (see deliver).
	readers   atomic.Int32
	lingering atomic.Bool
}

func newStreamSet() streamSet { return streamSet{open: map[uint16]*stream{}} }

// stream is a pion stream with the lock that serializes the sends on it.
type stream struct {
	s    *sctp.Stream
	lock chan struct{} // a mutex that a context can give up on
	rel  relSettings
	// resetting: ResetStream closed the outbound side; a send waits until
	// retired, when the peer reset its side too and pion gave the
	// identifier a new stream.
	resetting atomic.Bool
	retired   chan struct{} // closed when the reader leaves the stream

	// running: a goroutine reads the stream (readStream). peerReset: the
	// peer asked to reset the stream (RFC 6525 section 5.2.2), so its
	// reader runs until pion ends it. Both guarded by a.mu.
	running   bool
	peerReset bool
}

// acquire takes the stream's send lock (one writer at a time, so that a
// message's reliability settings are its own) unless ctx ends first.
func (st *stream) acquire(ctx context.Context) error {
	select {
	case st.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives the send lock back.
func (st *stream) release() { <-st.lock }

// setReliability gives pion's stream the ordering and partial
// reliability (RFC 3758) of the message info describes, when they differ
// from the last message's. The caller holds the send lock.
func (st *stream) setReliability(info SendInfo) {
	rel := relSettings{unordered: info.Unordered}
	switch {
	case info.Lifetime > 0:
		rel.typ, rel.val = sctp.ReliabilityTypeTimed, uint32(min(info.Lifetime.Milliseconds(), 1<<31))
	case info.MaxRetransmits > 0:
		rel.typ, rel.val = sctp.ReliabilityTypeRexmit, uint32(info.MaxRetransmits)
	}
	if rel != st.rel {
		st.s.SetReliabilityParams(rel.unordered, rel.typ, rel.val)
		st.rel = rel
	}
}

// write hands one message to pion. pion blocks a write while the previous
// one waits for window space; a deadline lets ctx interrupt it, and pion
// then rolls the message back. The caller holds the send lock.
func (st *stream) write(ctx context.Context, payload []byte, ppid uint32) error {
	if ctx.Done() == nil {
		// A context that cannot end needs no deadline plumbing.
		_, err := st.s.WriteSCTP(payload, sctp.PayloadProtocolIdentifier(ppid))
		return err
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = st.s.SetWriteDeadline(time.Unix(1, 0))
		close(fired)
	})
	if d, ok := ctx.Deadline(); ok {
		_ = st.s.SetWriteDeadline(d)
	}
	_, err := st.s.WriteSCTP(payload, sctp.PayloadProtocolIdentifier(ppid))
	if !stop() {
		// The function runs or ran: it must be done before the deadline
		// is cleared below, or it would cut the next writer's WriteSCTP
		// on this stream short.
		<-fired
	}
	if err != nil && ctx.Err() != nil {
		// The deadline interrupted the write: pion rolled the message
		// back. A write that succeeded stands even if ctx ended just
		// after it: the message is queued and will be delivered, so an
		// error here would make a retrying caller send it twice.
		err = ctx.Err()
	}
	_ = st.s.SetWriteDeadline(time.Time{})
	return err
}

type relSettings struct {
	unordered bool
	typ       byte
	val       uint32
}

// sendStream returns the stream to send info's message on, opened if
// need be. After ResetStream it waits until the peer reset its side too
// (see renewStream), or ctx is done.
func (a *Association) sendStream(ctx context.Context, info SendInfo) (*stream, error) {
	for {
		a.mu.Lock()
		if st := a.life.current(); st != StateEstablished {
			a.mu.Unlock()
			if st == StateClosed {
				return nil, fmt.Errorf("sock: send on association %d: %w", a.id, a.closedErr())
			}
			return nil, fmt.Errorf("sock: send on association %d (%v): %w", a.id, st, ErrNotEstablished)
		}
		if a.life.peerShutdown() {
			// RFC 9260 section 9.2: in SHUTDOWN-RECEIVED no new data is
			// accepted from the upper layer.
			a.mu.Unlock()
			return nil, fmt.Errorf("sock: send on association %d: the peer is shutting down: %w", a.id, ErrNotEstablished)
		}
		if info.Stream >= a.str.outStreams {
			n := a.str.outStreams
			a.mu.Unlock()
			return nil, fmt.Errorf("sock: stream %d of %d: %w", info.Stream, n, ErrInvalidStream)
		}
		st, ok := a.str.open[info.Stream]
		if !ok {
			s, err := a.engineLocked().OpenStream(info.Stream, sctp.PayloadProtocolIdentifier(info.PPID))
			if err != nil {
				a.mu.Unlock()
				return nil, fmt.Errorf("sock: open stream %d: %w", info.Stream, ErrNotEstablished)
			}
			st = a.addStreamLocked(s)
		}
		a.mu.Unlock()
		if !st.resetting.Load() {
			return st, nil
		}
		select {
		case <-st.retired:
		case <-a.life.doneC():
			// A stream whose reader was not running when the association
			// ended is never retired: the state says why the send fails.
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ResetStream resets outbound stream id (RFC 6525 section 5.1.2, Outgoing
// SSN Reset Request): messages already sent on it are delivered first,
// then the peer sees the stream end. Its sequence numbers restart at zero
// for the next message sent on id. A Send on id waits until the peer reset
// its outbound stream id in turn (as this stack does, and RFC 8831 section
// 6.7 asks): pion reuses no stream identifier before that.
func (a *Association) ResetStream(id uint16) error {
	a.mu.Lock()
	if st := a.life.current(); st != StateEstablished {
		a.mu.Unlock()
		if st == StateClosed {
			return fmt.Errorf("sock: reset stream %d: %w: %w", id, ErrNotEstablished, a.closedErr())
		}
		return fmt.Errorf("sock: reset stream %d (%v): %w", id, st, ErrNotEstablished)
	}
	if id >= a.str.outStreams {
		n := a.str.outStreams
		a.mu.Unlock()
		return fmt.Errorf("sock: reset stream %d of %d: %w", id, n, ErrInvalidStream)
	}
	st, ok := a.str.open[id]
	a.mu.Unlock()
	if !ok {
		return nil // never used: nothing to reset
	}
	st.resetting.Store(true)
	if err := st.s.Close(); err != nil {
		return fmt.Errorf("sock: reset stream %d: %w", id, err)
	}
	return nil
}

// openInboundStream opens stream sid in pion, if that is not done yet,
// and wakes its reader. The receive path calls it for every DATA chunk it
// hands pion, before pion sees it (so that pion's messages of the stream
// are read: see wakeReaderLocked), for a valid sid and for sinkStream,
// the one stream DATA on every invalid identifier goes to.
func (a *Association) openInboundStream(sid uint16) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st := a.life.current(); st == StateClosed || a.engineLocked() == nil {
		return
	}
	if st, ok := a.str.open[sid]; ok {
		a.wakeReaderLocked(st)
		return
	}
	// A failure (a shutdown started) leaves the stream to acceptLoop.
	if s, err := a.engineLocked().OpenStream(sid, sctp.PayloadTypeUnknown); err == nil {
		a.addStreamLocked(s)
	}
}

// addStreamLocked registers s, with its reader woken if pion holds a
// message of it already. The caller holds a.mu.
func (a *Association) addStreamLocked(s *sctp.Stream) *stream {
	mustHold(&a.mu)
	st := newStream(s)
	a.str.open[s.StreamIdentifier()] = st
	a.wakeReaderLocked(st)
	return st
}

// wakeReaderLocked starts the goroutine that reads st's messages into the
// endpoint's queue, unless it runs, or pion holds no message of st and no
// reset of it is under way. The caller holds a.mu.
//
// A reader runs from the first message of its stream that pion may hold
// until pion holds none (parkReader), and it is a goroutine only then.
// pion's Stream.ReadSCTP is the only way to take a message out of pion; it
// blocks, with no readiness notification and no non-blocking form, so a
// reader always waiting in it would cost an idle association a goroutine
// per stream. The receive path knows instead which messages pion holds: a
// message pion delivers ends with a DATA chunk with the E bit (RFC 9260
// section 3.3.1) that the shim handed it, and the receive tracker counts
// those of each stream less the messages read (rxTracker.endsPending).
// The count says "none" only when every such message was read, so a
// parked reader leaves nothing in pion; a message pion merged or
// discarded leaves it above zero, and then the reader waits in ReadSCTP
// as it did before, until its next message.
//
// The receive path calls it for every DATA chunk before pion sees it
// (openInboundStream), after the tracker counted the chunk, and a reader
// parks under a.mu only when the count is zero: no message is missed
// between the two. A peer's reset of the stream wakes its reader too
// (peerResets), as only a reader sees pion end a stream and makes
// renewStream run.
func (a *Association) wakeReaderLocked(st *stream) {
	// a.mu orders the hold before releaseEngineHold's release.
	mustHold(&a.mu)
	if st.running || a.life.current() == StateClosed {
		return
	}
	if !st.peerReset && !a.rx.endsPending(st.s.StreamIdentifier()) {
		return
	}
	st.running = true
	a.ep.hold()
	a.str.readers.Add(1)
	go a.readStream(st)
}

// parkReader reports whether st's reader is to end its goroutine: pion
// holds no message of its stream and no reset of it is under way (see
// wakeReaderLocked).
func (a *Association) parkReader(st *stream) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.peerReset || a.rx.endsPending(st.s.StreamIdentifier()) {
		return false
	}
	st.running = false
	return true
}

// peerResets wakes the readers of the streams the peer asks to reset in
// RE-CONFIG chunk c (RFC 6525 section 4.1, Outgoing SSN Reset Request
// Parameter: no stream listed means all of them), so that each sees pion
// end its stream. A malformed chunk is left to pion, which answers it.
func (a *Association) peerResets(c wire.Chunk) {
	it := wire.NewParamIter(c.Value)
	for it.Next() {
		p := it.Param()
		// Request, response and sequence numbers, the sender's last
		// assigned TSN, then the stream identifiers.
		const fixed = 12
		if p.Type != wire.ParamOutgoingResetRequest || len(p.Value) < fixed {
			continue
		}
		ids := p.Value[fixed:]
		a.mu.Lock()
		if len(ids) < 2 {
			for _, st := range a.str.open {
				a.markPeerResetLocked(st)
			}
		}
		for ; len(ids) >= 2; ids = ids[2:] {
			if st, ok := a.str.open[binary.BigEndian.Uint16(ids)]; ok {
				a.markPeerResetLocked(st)
			}
		}
		a.mu.Unlock()
	}
}

func (a *Association) markPeerResetLocked(st *stream) {
	st.peerReset = true
	a.wakeReaderLocked(st)
}

func newStream(s *sctp.Stream) *stream {
	return &stream{s: s, lock: make(chan struct{}, 1), retired: make(chan struct{})}
}

// readStream moves s's messages to the endpoint's receive queue. It blocks
// when the queue is full, so pion's receive buffer fills and its window
// closes: the peer slows down (backpressure), memory stays bounded.
//
// When the peer resets the stream (RFC 6525 section 5.2.2), pion ends it
// (io.EOF once its queued messages are read) and makes a new stream for
// the next DATA on that identifier. The reader then goes on with the new
// stream (renew), so the messages on the identifier stay in order.
//
// It ends its goroutine when pion holds no message of the stream
// (parkReader); the receive path starts another with the stream's next
// message (wakeReaderLocked).
func (a *Association) readStream(st *stream) {
	defer a.ep.release()
	defer a.readerDone()
	id := st.s.StreamIdentifier()
	for {
		// A read into no buffer reports the size of the next message
		// (io.ErrShortBuffer) and leaves it queued; then read it whole.
		n, _, err := st.s.ReadSCTP(nil)
		if err == nil {
			continue
		}
		if errors.Is(err, io.ErrShortBuffer) {
			buf := make([]byte, n)
			var ppi sctp.PayloadProtocolIdentifier
			a.rx.readStarted()
			n, ppi, err = st.s.ReadSCTP(buf)
			var msg []byte // on io.ErrShortBuffer n is the size of another message
			if err == nil {
				msg = a.rx.splice(buf[:n])
			}
			a.rx.readDone(id, len(msg), err == nil)
			if cum, ok := a.rx.windowUpdate(a.cfg.packetSize); ok {
				a.sendWindowUpdate(cum)
			}
			if errors.Is(err, io.ErrShortBuffer) {
				continue // another message got ahead (an unordered one)
			}
			if err == nil {
				if !a.deliver(id, ppi, msg) {
					close(st.retired)
					return
				}
				if a.parkReader(st) {
					return
				}
				continue
			}
		}
		if !errors.Is(err, io.EOF) {
			a.dropStream(st)
			close(st.retired)
			return
		}
		next := a.renewStream(st)
		close(st.retired)
		if next == nil {
			return
		}
		st = next
	}
}

// sendWindowUpdate makes pion send a SACK at once (see
// rxTracker.windowUpdate): a SACK probe, a duplicate of cum with the I bit
// that pion acknowledges and does not keep, handed to it as if from the
// peer.
func (a *Association) sendWindowUpdate(cum uint32) {
	bp := packetPool.Get().(*[]byte)
	out := wire.NewPacket((*bp)[:0], wire.CommonHeader{SrcPort: a.peerPort, DstPort: a.ep.port, VerificationTag: a.localTag})
	a.handToEngine(bp, appendSackProbe(out, cum))
}

// deliver queues one message of stream id for Recv (the endpoint's queue,
// or in RecvPerAssociation mode the association's); false when the
// reader is to stop.
func (a *Association) deliver(id uint16, ppi sctp.PayloadProtocolIdentifier, payload []byte) bool {
	a.mu.Lock()
	valid := id < a.str.inStreams
	a.mu.Unlock()
	if !valid {
		return true // the sink's: counted by the receive path
	}
	a.count(&a.stats.messagesIn)
	msg := Message{Association: a, Stream: id, PPID: uint32(ppi), Payload: payload, Time: time.Now()}
	if a.rq != nil {
		return a.deliverOwn(msg)
	}
	if queued, closed := a.ep.enqueue(msg, a.life.doneC()); queued || closed {
		return queued
	}
	// The association closed while the message waited for room. After an
	// ABORT the data still queued is discarded (RFC 9260 section 9.1);
	// after a graceful shutdown it is delivered (section 9.2), and until
	// it is, the association counts against the endpoint's accept limit
	// (see lingerStart), so that a peer that sends and shuts down over and
	// over cannot pile up readers while the application does not read.
	if a.Reason() != ReasonShutdown {
		a.drop(nil, DropAbortedUnread)
		return false
	}
	a.lingerStart()
	queued, _ := a.ep.enqueue(msg, nil)
	return queued
}

// lingerStart marks a, closed gracefully, as still delivering: one of its
// readers waits for room in the endpoint's queue. It counts in the
// endpoint's accept limit until its last reader ends (readerDone).
func (a *Association) lingerStart() {
	if a.str.lingering.CompareAndSwap(false, true) {
		a.ep.linger(1)
	}
}

// readerDone runs when one of a's stream readers ends.
func (a *Association) readerDone() {
	if a.rq != nil {
		a.str.readers.Add(-1)
		a.rq.readerEnded(a)
		return
	}
	if a.str.readers.Add(-1) == 0 && a.str.lingering.CompareAndSwap(true, false) {
		a.ep.linger(-1)
	}
}

// dropStream forgets st, whose reader ends.
func (a *Association) dropStream(st *stream) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if id := st.s.StreamIdentifier(); a.str.open[id] == st {
		delete(a.str.open, id)
	}
}

// renewStream replaces st, which the peer reset and whose messages are all
// read, by the stream pion keeps for its identifier from now on, and
// returns it (nil when the association ends: st is then dropped). Our
// outbound stream is reset in turn, as RFC 8831 section 6.7 does, so that
// the peer, whose outbound stream stays closed until then, may use the
// identifier again. Its sequence numbers restart at zero.
func (a *Association) renewStream(st *stream) *stream {
	id := st.s.StreamIdentifier()
	if a.life.current() == StateEstablished {
		_ = st.s.Close()
	}
	for {
		a.mu.Lock()
		conn := a.shimLocked()
		if a.str.open[id] != st || a.life.current() != StateEstablished || a.engineLocked() == nil || conn == nil {
			if a.str.open[id] == st {
				delete(a.str.open, id)
			}
			a.mu.Unlock()
			return nil
		}
		// Taken before OpenStream: if pion still has st, the packet
		// whose reset ended it is still being handled.
		handled := conn.readReturn()
		s, err := a.engineLocked().OpenStream(id, sctp.PayloadTypeUnknown)
		if err != nil {
			delete(a.str.open, id)
			a.mu.Unlock()
			return nil
		}
		if s != st.s {
			next := newStream(s)
			next.running = true // st's reader goes on with it
			a.str.open[id] = next
			a.mu.Unlock()
			return next
		}
		a.mu.Unlock()
		// pion ends the stream (io.EOF, Stream.onInboundStreamReset) a
		// moment before it forgets it (Association.resetStreamsIfAny
		// deletes it from its streams after the call, with the same
		// packet's handling): wait until that packet is handled.
		select {
		case <-handled:
		case <-conn.closedC():
		case <-a.life.doneC():
		}
	}
}

// Streams returns the negotiated numbers of outbound and inbound streams
// (RFC 9260 section 5.1.1); zero before the association is established.
func (a *Association) Streams() (out, in uint16) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.str.outStreams, a.str.inStreams
}

// negotiateStreamsLocked sets the numbers of streams from our
// configuration and the peer's INIT or INIT-ACK (RFC 9260 section 5.1.1:
// each side uses at most what the other accepts). The caller holds a.mu.
func (a *Association) negotiateStreamsLocked(peer *wire.Init) {
	mustHold(&a.mu)
	a.str.outStreams = min(a.cfg.outStreams, peer.InStreams)
	a.str.inStreams = min(a.cfg.inStreams, peer.OutStreams)
}

// inboundStreams returns the negotiated number of inbound streams.
func (a *Association) inboundStreams() uint16 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.str.inStreams
}

// adoptStream registers s, a stream the peer opened, with its reader
// woken (see wakeReaderLocked), unless it is registered already.
func (a *Association) adoptStream(s *sctp.Stream) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.str.open[s.StreamIdentifier()]; !ok {
		a.addStreamLocked(s)
	}
}

// readersRunning reports whether a stream reader of a still runs.
func (a *Association) readersRunning() bool { return a.str.readers.Load() > 0 }

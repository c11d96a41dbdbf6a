package sock

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/sctp"

	"github.com/usock/usock/internal/wire"
)

// streamSet is the association's streams (RFC 9260 section 1.3.1): how
// many each side may use, the pion streams open, and the count of reader
// goroutines running. Owned by streams.go (sending, resets) and
// streamread.go (reading): other files reach it through the Association
// methods there.
//
// outStreams, inStreams, open and resetting are guarded by a.mu;
// outStreams and inStreams are set once when the engine starts
// (negotiated). They are entered by user calls (Send, ResetStream,
// Streams), the receive path, pion's read loop (readWoken) and reader
// goroutines. readers, lingering and nResetting are atomic: readers
// change the first two, the receive queue's bookkeeping (recvmode.go)
// reads them.
//
// A stream is read on pion's read loop after each packet that may have
// made a message ready, and by a reader goroutine only while one waits
// for room in the receive queue (streamread.go): an idle association
// costs pion's three goroutines and none of ours.
type streamSet struct {
	outStreams uint16
	inStreams  uint16
	open       map[uint16]*stream

	// readers counts the reader goroutines running; lingering is set while
	// the association, closed gracefully, still has messages waiting for
	// room in the endpoint's queue (see deliver).
	readers   atomic.Int32
	lingering atomic.Bool

	// resetting are the streams the peer is resetting (peerResets),
	// guarded by a.mu; nResetting counts them, for the receive path's
	// check without the lock.
	resetting  []*stream
	nResetting atomic.Int32
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

	// running: someone reads the stream, pion's read loop or a reader
	// goroutine (streamread.go). peerReset: the peer asked to reset the
	// stream (RFC 6525 section 5.2.2), so it is read after every packet
	// until pion ends it. Guarded by a.mu.
	running   bool
	peerReset bool
	// dirty: woken while running (see streamread.go). Guarded by a.mu.
	dirty bool
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

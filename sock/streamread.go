package sock

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/pion/sctp"

	"github.com/usock/usock/internal/wire"
)

// Reading the streams: how a message pion reassembled reaches Recv.
//
// pion v1.12.1 gives one way to take a message out: Stream.ReadSCTP, which
// blocks until its stream has one. It has no readiness notification, and
// a goroutine always waiting in it would cost every stream in use a
// goroutine and every message a wake-up of it. But ReadSCTP returns the
// stream's read error at once when no message is ready, and a read
// deadline in the past makes that error ErrReadDeadlineExceeded until the
// next SetReadDeadline: newStream sets one, once, so that every read of the
// stream returns at once (pion replaces the error with io.EOF when the
// peer resets the stream and with the association's error when it ends,
// Stream.onInboundStreamReset and Association.unregisterStream).
//
// The shim knows when a stream may have a new message: only a packet with
// DATA on it (or a FORWARD-TSN naming it, or a reset of it) can make one
// ready, and pion has handled a packet once its read loop comes back to
// shimConn.Read for the next. So the receive path lists, with each packet
// it queues for pion, the streams its chunks name (wakeList), and pion's
// read loop, back in Read after handling the packet, reads them
// (readWoken): a message goes from pion's read loop to the endpoint's
// queue and to the goroutine in Recv, with no goroutine of our own in
// between and none per idle stream.
//
// pion's read loop never waits there: when the queue is full (the
// application does not read), or the peer reset the stream (renewStream
// waits for pion's read loop), it hands the stream to a reader goroutine
// (readStream), which waits for room, so that pion's buffer fills and its
// window closes (backpressure), and reads the stream until nothing is
// ready. One reads a stream at a time: running says someone does, and a
// wake meanwhile sets dirty, so that the one reading reads again before
// it stops (stopReading), under a.mu: no message is left behind.

// readDeadline is the read deadline newStream gives every stream: in the
// past, so that its reads never wait.
var readDeadline = time.Unix(1, 0)

func newStream(s *sctp.Stream) *stream {
	// pion starts a goroutine that sets the deadline's error at once; a
	// read before it did waits for it, briefly.
	_ = s.SetReadDeadline(readDeadline)
	return &stream{s: s, lock: make(chan struct{}, 1), retired: make(chan struct{})}
}

// openInboundStream opens stream sid in pion, if that is not done yet,
// and returns it, to be read once pion handled the packet (wakeList); nil
// when the association is closed or pion opens no stream any more. The
// receive path calls it for every DATA chunk it hands pion, for a valid
// sid and for sinkStream, the one stream DATA on every invalid identifier
// goes to.
func (a *Association) openInboundStream(sid uint16) *stream {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st := a.life.current(); st == StateClosed || a.engineLocked() == nil {
		return nil
	}
	st, ok := a.str.open[sid]
	if !ok {
		s, err := a.engineLocked().OpenStream(sid, sctp.PayloadTypeUnknown)
		if err != nil {
			return nil // a shutdown started: the stream is acceptLoop's
		}
		st = a.addStreamLocked(s)
	}
	return st
}

// addStreamLocked registers s. The caller holds a.mu.
func (a *Association) addStreamLocked(s *sctp.Stream) *stream {
	mustHold(&a.mu)
	st := newStream(s)
	a.str.open[s.StreamIdentifier()] = st
	return st
}

// adoptStream registers s, a stream the peer opened that pion queued for
// AcceptStream (see acceptLoop), unless it is registered already, and has
// a reader read it once pion handled the packet that made it (pion queues
// the stream before it adds that packet's DATA to it).
func (a *Association) adoptStream(s *sctp.Stream) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.str.open[s.StreamIdentifier()]; ok {
		return
	}
	st := a.addStreamLocked(s)
	conn := a.shimLocked()
	if a.life.current() == StateClosed || conn == nil {
		return
	}
	st.running = true
	handled := conn.readReturn()
	a.ep.hold()
	a.str.readers.Add(1)
	go func() {
		select {
		case <-handled:
		case <-conn.closedC():
		case <-a.life.doneC():
		}
		a.readStream(st, nil)
	}()
}

// wakeList is the streams to read once pion handled one packet: those its
// DATA chunks are on, those a FORWARD-TSN in it names, those being reset.
// The receive path fills it and hands it to the shim with the packet
// (handToEngine); pion's read loop reads them when it comes back to Read
// (readWoken). A stream listed twice is read twice (the second read finds
// nothing); the list looks for one among its first few only, so that a
// packet of thousands of chunks costs as many steps.
type wakeList struct {
	n     int
	first [2]*stream
	more  []*stream
	// resets: the packet may let pion perform a reset it deferred (see
	// addResetting).
	resets bool
}

// wakeListScan is how many entries add looks through for st.
const wakeListScan = 8

func (w *wakeList) add(st *stream) {
	if st == nil {
		return
	}
	for i := range min(w.n, wakeListScan) {
		if w.at(i) == st {
			return
		}
	}
	if w.n < len(w.first) {
		w.first[w.n] = st
	} else {
		w.more = append(w.more, st)
	}
	w.n++
}

func (w *wakeList) at(i int) *stream {
	if i < len(w.first) {
		return w.first[i]
	}
	return w.more[i-len(w.first)]
}

// readWoken reads the streams of w, on pion's read loop, which alone
// calls it (from Read), once pion handled w's packet.
func (a *Association) readWoken(w *wakeList) {
	for i := range w.n {
		st := w.at(i)
		a.mu.Lock()
		take := !st.running && a.life.current() != StateClosed
		if take {
			st.running = true
		} else {
			st.dirty = true
		}
		a.mu.Unlock()
		if take {
			a.readReady(st)
		}
	}
}

// addResetting adds to w, for a packet that may let pion perform a reset
// it deferred (w.resets), the streams the peer is resetting. pion resets
// a stream once its cumulative TSN reaches the request's last TSN (RFC
// 6525 section 5.2.2; Association.handlePeerLastTSNAndAcknowledgement
// retries its deferred requests whenever the cumulative TSN moves), so
// only a packet with new DATA, a FORWARD-TSN or the request itself may end
// the stream, and only a reader sees that (io.EOF) and makes renewStream
// run. The cost is one read per such stream and packet while a reset is
// pending: at most the inbound streams in use.
func (a *Association) addResetting(w *wakeList) {
	if !w.resets || a.str.nResetting.Load() == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range a.str.resetting {
		w.add(st)
	}
}

// readReady reads on pion's read loop what st has ready, which the caller
// took (running), and queues it for Recv without waiting: a message the
// queue has no room for, and a stream the peer reset, go to a reader
// goroutine, which takes st over.
func (a *Association) readReady(st *stream) {
	for {
		msg, err := a.readOne(st)
		switch {
		case err == nil:
			if msg.Association == nil {
				continue // the sink's, discarded
			}
			if !a.tryDeliver(msg) {
				waiting := msg // only this path moves a message to the heap
				a.startReader(st, &waiting)
				return
			}
		case errors.Is(err, sctp.ErrReadDeadlineExceeded):
			if a.stopReading(st) {
				return
			}
		default:
			// io.EOF (a reset: renewStream waits for pion's read loop) or
			// the end of the association: the reader's to handle.
			a.startReader(st, nil)
			return
		}
	}
}

// startReader starts a reader goroutine on st, which its caller was
// reading (running), with msg (if not nil) to deliver first.
func (a *Association) startReader(st *stream, msg *Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.startReaderLocked(st, msg)
}

// startReaderLocked is startReader for a caller that holds a.mu.
func (a *Association) startReaderLocked(st *stream, msg *Message) {
	// a.mu orders the hold before releaseEngineHold's release.
	mustHold(&a.mu)
	a.ep.hold()
	a.str.readers.Add(1)
	go a.readStream(st, msg)
}

// stopReading ends a read of st that found nothing ready, and reports
// whether it ended: false when st was woken meanwhile (dirty), so that
// the caller reads again.
func (a *Association) stopReading(st *stream) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.dirty {
		st.dirty = false
		return false
	}
	st.running = false
	return true
}

// readOne takes st's next message out of pion, if one is ready (else the
// error of pion's read: ErrReadDeadlineExceeded when none is, io.EOF once
// the peer reset the stream, the association's error when it ended). A
// message on an invalid stream (the sink's) comes back without its
// association, to be discarded.
func (a *Association) readOne(st *stream) (Message, error) {
	// A read into no buffer reports the size of the next message
	// (io.ErrShortBuffer) and leaves it queued; then read it whole.
	for {
		n, _, err := st.s.ReadSCTP(nil)
		if err == nil {
			continue
		}
		if !errors.Is(err, io.ErrShortBuffer) {
			return Message{}, err
		}
		id := st.s.StreamIdentifier()
		buf := make([]byte, n)
		a.rx.readStarted()
		n, ppi, err := st.s.ReadSCTP(buf)
		var payload []byte // on io.ErrShortBuffer n is the size of another message
		if err == nil {
			payload = a.rx.splice(buf[:n])
		}
		a.rx.readDone(id, len(payload), err == nil)
		if cum, ok := a.rx.windowUpdate(a.cfg.packetSize); ok {
			a.sendWindowUpdate(cum)
		}
		if errors.Is(err, io.ErrShortBuffer) {
			continue // another message got ahead (an unordered one)
		}
		if err != nil {
			return Message{}, err
		}
		a.mu.Lock()
		valid := id < a.str.inStreams
		a.mu.Unlock()
		if !valid {
			return Message{}, nil // the sink's: counted by the receive path
		}
		a.count(&a.stats.messagesIn)
		return Message{Association: a, Stream: id, PPID: uint32(ppi), Payload: payload, Time: time.Now()}, nil
	}
}

// readStream reads st until nothing is ready, delivering its messages,
// msg first (if not nil), to the endpoint's receive queue (or in
// RecvPerAssociation mode the association's). It waits when the queue is
// full, so pion's receive buffer fills and its window closes: the peer
// slows down (backpressure), memory stays bounded.
//
// When the peer resets the stream (RFC 6525 section 5.2.2), pion ends it
// (io.EOF once its queued messages are read) and makes a new stream for
// the next DATA on that identifier. The reader then goes on with the new
// stream (renewStream), so the messages on the identifier stay in order.
func (a *Association) readStream(st *stream, msg *Message) {
	defer a.ep.release()
	defer a.readerDone()
	if msg != nil && !a.deliver(*msg) {
		close(st.retired)
		return
	}
	for {
		m, err := a.readOne(st)
		switch {
		case err == nil:
			if m.Association != nil && !a.deliver(m) {
				close(st.retired)
				return
			}
		case errors.Is(err, sctp.ErrReadDeadlineExceeded):
			if a.stopReading(st) {
				return
			}
		case errors.Is(err, io.EOF):
			a.resetDone(st)
			next := a.renewStream(st)
			close(st.retired)
			if next == nil {
				return
			}
			st = next
		default:
			a.resetDone(st)
			a.dropStream(st)
			close(st.retired)
			return
		}
	}
}

// sendWindowUpdate makes pion send a SACK at once (see
// rxTracker.windowUpdate): a SACK probe, a duplicate of cum with the I bit
// that pion acknowledges and does not keep, handed to it as if from the
// peer.
func (a *Association) sendWindowUpdate(cum uint32) {
	bp := packetPool.Get().(*[]byte)
	out := wire.NewPacket((*bp)[:0], wire.CommonHeader{SrcPort: a.peerPort, DstPort: a.ep.port, VerificationTag: a.localTag})
	a.handToEngine(bp, appendSackProbe(out, cum), nil)
	if c := a.shim(); c != nil {
		// From a reader goroutine, while pion's read loop may be reading
		// the socket itself (readthrough.go): without a datagram from the
		// peer, which waits for this very window, it would see the probe
		// only at the peer's next zero window probe, after its timer.
		c.wakeReadThrough()
	}
}

// tryDeliver queues msg for Recv if there is room at once; false if not
// (the caller hands it to a reader goroutine, which waits: deliver).
func (a *Association) tryDeliver(msg Message) bool {
	if a.rq != nil {
		pushed, _ := a.rq.push(msg)
		return pushed
	}
	return a.ep.recvq.tryPush(msg)
}

// deliver queues msg for Recv (the endpoint's queue, or in
// RecvPerAssociation mode the association's), waiting for room; false
// when the reader is to stop.
func (a *Association) deliver(msg Message) bool {
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

// readerDone runs when one of a's reader goroutines ends.
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

// readersRunning reports whether a reader goroutine of a still runs.
func (a *Association) readersRunning() bool { return a.str.readers.Load() > 0 }

// dropStream forgets st, whose reader ends.
func (a *Association) dropStream(st *stream) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if id := st.s.StreamIdentifier(); a.str.open[id] == st {
		delete(a.str.open, id)
	}
}

// peerResets marks the streams the peer asks to reset in RE-CONFIG chunk
// c (RFC 6525 section 4.1, Outgoing SSN Reset Request Parameter: no
// stream listed means all of them) and adds them to w. Each is read after
// every packet from now on until pion ends it (addResetting): pion may end
// it only once the DATA sent before the request arrived (section 5.2.2).
// A malformed chunk is left to pion, which answers it.
func (a *Association) peerResets(c wire.Chunk, w *wakeList) {
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
				a.markPeerResetLocked(st, w)
			}
		}
		for ; len(ids) >= 2; ids = ids[2:] {
			if st, ok := a.str.open[binary.BigEndian.Uint16(ids)]; ok {
				a.markPeerResetLocked(st, w)
			}
		}
		a.mu.Unlock()
	}
}

func (a *Association) markPeerResetLocked(st *stream, w *wakeList) {
	w.add(st)
	w.resets = true
	if st.peerReset {
		return
	}
	st.peerReset = true
	a.str.resetting = append(a.str.resetting, st)
	a.str.nResetting.Add(1)
}

// resetDone takes st, which pion ended or the association did, out of the
// streams being reset.
func (a *Association) resetDone(st *stream) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !st.peerReset {
		return
	}
	st.peerReset = false
	if i := slices.Index(a.str.resetting, st); i >= 0 {
		a.str.resetting = slices.Delete(a.str.resetting, i, i+1)
		a.str.nResetting.Add(-1)
	}
}

// forwardTSNArrived adds to w the streams FORWARD-TSN chunk c names (RFC
// 3758 section 3.2: each Stream and Stream Sequence pair skips that
// stream's messages up to the sequence number), as pion may then deliver
// the ordered messages that waited for the skipped ones.
func (a *Association) forwardTSNArrived(c wire.Chunk, w *wakeList) {
	w.resets = true
	if len(c.Value) < 8 {
		return // no stream named; a malformed one is pion's to answer
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for pairs := c.Value[4:]; len(pairs) >= 4; pairs = pairs[4:] {
		if st, ok := a.str.open[binary.BigEndian.Uint16(pairs)]; ok {
			w.add(st)
		}
	}
}

package sock

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/usock/usock/internal/wire"
)

// AssociationState is an association's state as RFC 9260 section 4
// names it. The stack keeps the states of the handshake and the end; the
// shutdown sub-states (SHUTDOWN-PENDING, -SENT, -RECEIVED, -ACK-SENT) are
// pion's and show as StateShuttingDown.
type AssociationState int32

// The states an association goes through.
const (
	// StateCookieWait: our INIT is sent, no INIT-ACK yet.
	StateCookieWait AssociationState = iota + 1
	// StateCookieEchoed: our COOKIE-ECHO is sent, no COOKIE-ACK yet.
	StateCookieEchoed
	// StateEstablished: data flows.
	StateEstablished
	// StateShuttingDown: Shutdown was called, the SHUTDOWN exchange runs.
	StateShuttingDown
	// StateClosed: the association is gone; Association.Err says why.
	StateClosed
)

// String returns the state's name in RFC 9260 section 4 ("ESTABLISHED").
func (s AssociationState) String() string {
	if s < StateCookieWait || s > StateClosed {
		return fmt.Sprintf("AssociationState(%d)", int32(s))
	}
	return [...]string{"", "COOKIE-WAIT", "COOKIE-ECHOED", "ESTABLISHED", "SHUTTING-DOWN", "CLOSED"}[s]
}

// lifecycle is where the association is in RFC 9260 section 4's state
// diagram, how it ended, and what replaced it after a peer restart. It is
// owned by lifecycle.go: other files reach it only through its methods.
//
// state is atomic: every goroutine that enters the association reads it
// (the socket reader, pion's write loop through output, the path timer,
// stream readers, the accept loop, pion's close callback, user calls).
// up and done are closed once each, by establish and finish. The other
// fields are guarded by mu, a leaf lock: nothing else is locked while it
// is held, so it nests inside a.mu, mp.mu and the endpoint's locks.
type lifecycle struct {
	state atomic.Int32  // AssociationState
	up    chan struct{} // closed when established
	done  chan struct{} // closed when closed

	mu sync.Mutex
	// closeErr is why the association closed; nil while it is open.
	closeErr *CloseError
	// connectErr is what Connect and waitUp return when the handshake
	// failed.
	connectErr error
	// sawShut: a SHUTDOWN, SHUTDOWN-ACK or SHUTDOWN-COMPLETE went either
	// way (RFC 9260 section 9.2).
	sawShut bool
	// peerShut: the peer's SHUTDOWN arrived (EventPeerShutdown raised).
	peerShut bool
	// restarted is closed once a peer restart that ended the association
	// is through; next is the association that replaced it (nil if none
	// could be made). Conn follows it.
	restarted chan struct{}
	next      *Association
}

func newLifecycle() lifecycle {
	return lifecycle{up: make(chan struct{}), done: make(chan struct{})}
}

// current returns the state.
func (l *lifecycle) current() AssociationState { return AssociationState(l.state.Load()) }

// set puts the association in state s (only while it is being set up,
// before another goroutine can see it).
func (l *lifecycle) set(s AssociationState) { l.state.Store(int32(s)) }

// advance moves from state from to state to; false if the association was
// not in from.
func (l *lifecycle) advance(from, to AssociationState) bool {
	return l.state.CompareAndSwap(int32(from), int32(to))
}

// closed reports whether the association is closed.
func (l *lifecycle) closed() bool { return l.current() == StateClosed }

// established closes up: waitUp returns.
func (l *lifecycle) established() { close(l.up) }

// upC is closed when the association is established.
func (l *lifecycle) upC() <-chan struct{} { return l.up }

// doneC is closed when the association is closed.
func (l *lifecycle) doneC() <-chan struct{} { return l.done }

// noteShutdown records that a SHUTDOWN, SHUTDOWN-ACK or SHUTDOWN-COMPLETE
// went either way: pion's end after that is a graceful shutdown.
func (l *lifecycle) noteShutdown() {
	l.mu.Lock()
	l.sawShut = true
	l.mu.Unlock()
}

// shutdownSeen reports whether noteShutdown or notePeerShutdown ran.
func (l *lifecycle) shutdownSeen() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sawShut
}

// notePeerShutdown records the peer's SHUTDOWN; true for the first one.
func (l *lifecycle) notePeerShutdown() (first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sawShut = true // watched for the end of a graceful shutdown
	first = !l.peerShut
	l.peerShut = true
	return first
}

// peerShutdown reports whether the peer's SHUTDOWN arrived.
func (l *lifecycle) peerShutdown() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peerShut
}

// err returns why the association closed, nil while it is open.
func (l *lifecycle) err() *CloseError {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closeErr
}

// beginRestart records that a peer restart ends the association; the
// returned function marks it through, with next the association that
// replaced it (or nil).
func (l *lifecycle) beginRestart() (through func(next *Association)) {
	restarted := make(chan struct{})
	l.mu.Lock()
	l.restarted = restarted
	l.mu.Unlock()
	return func(next *Association) {
		l.mu.Lock()
		l.next = next
		l.mu.Unlock()
		close(restarted)
	}
}

// successor returns the association that replaced a after the peer
// restarted (waiting until the restart is through), or nil.
func (l *lifecycle) successor() *Association {
	l.mu.Lock()
	restarted := l.restarted
	l.mu.Unlock()
	if restarted == nil {
		return nil
	}
	<-restarted
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// CloseError says why an association closed. Calls made on an association
// after it closed return an error that wraps it: errors.As finds it, and
// errors.Is(err, ErrAborted) holds for every reason but ReasonShutdown,
// errors.Is(err, ErrClosed) for all.
type CloseError struct {
	// Reason says who or what ended the association.
	Reason DownReason
	// Detail is the EventDown's detail: the reason given to Abort, the
	// text of the peer's ABORT causes, ...
	Detail string
	// PeerCause is the code of the first error cause in the peer's ABORT
	// (RFC 9260 section 3.3.10), for ReasonAbortedByPeer; 0 if it gave
	// none.
	PeerCause uint16
}

// Error returns the reason and the detail.
func (e *CloseError) Error() string {
	if e.Detail == "" {
		return "association down: " + e.Reason.String()
	}
	return "association down: " + e.Reason.String() + ": " + e.Detail
}

// Is reports whether target is ErrClosed, or ErrAborted for an association
// that did not end with a graceful shutdown.
func (e *CloseError) Is(target error) bool {
	return target == ErrClosed || (target == ErrAborted && e.Reason != ReasonShutdown)
}

// State returns the association's state (RFC 9260 section 4).
func (a *Association) State() AssociationState { return a.life.current() }

// Done is closed when the association is closed.
func (a *Association) Done() <-chan struct{} { return a.life.doneC() }

// Reason says why a closed association went down.
func (a *Association) Reason() DownReason {
	if e := a.life.err(); e != nil {
		return e.Reason
	}
	return ReasonNone
}

// Err returns why the association closed (a *CloseError), or nil while
// it is open.
func (a *Association) Err() error {
	if e := a.life.err(); e != nil {
		return e
	}
	return nil
}

// closedErr is the error of a call made after the association closed:
// its CloseError, or ErrClosed while finish is recording it.
func (a *Association) closedErr() error {
	if e := a.life.err(); e != nil {
		return e
	}
	return ErrClosed
}

// waitUp waits until a is established.
func (a *Association) waitUp(ctx context.Context) error {
	select {
	case <-a.life.upC():
		return nil
	case <-a.life.doneC():
		a.life.mu.Lock()
		defer a.life.mu.Unlock()
		if a.life.connectErr != nil {
			return a.life.connectErr
		}
		if a.life.closeErr != nil {
			return fmt.Errorf("sock: association %v: %w", a.id, a.life.closeErr)
		}
		return fmt.Errorf("sock: association %v: %w", a.id, ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// successor returns the association that replaced a after the peer
// restarted (waiting until the restart is through), or nil.
func (a *Association) successor() *Association { return a.life.successor() }

// sendAbort sends an ABORT with a User-Initiated Abort cause, if the
// peer's tag is known.
func (a *Association) sendAbort(reason string) {
	// The reason is cut to what one packet of the association's size
	// carries.
	if n := a.cfg.packetSize - wire.CommonHeaderSize - wire.ChunkHeaderSize - wire.ParamHeaderSize; len(reason) > n {
		reason = reason[:n]
	}
	a.sendAbortCauses(wire.UserInitiatedAbortCause([]byte(reason)))
}

func (a *Association) sendAbortCauses(causes ...wire.ErrorCause) {
	a.mu.Lock()
	tag, p := a.peerTag, a.ps.main()
	a.mu.Unlock()
	if tag == 0 {
		return
	}
	// The ABORT goes in one packet of the association's size: causes
	// that do not fit (a long user abort reason) are left out, the ABORT
	// itself is always sent.
	causes = causes[:wire.FitCauses(a.cfg.packetSize-wire.CommonHeaderSize, causes)]
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: a.ep.port, DstPort: a.peerPort, VerificationTag: tag})
	pkt, err := wire.Abort{Causes: causes}.Append(pkt)
	if err != nil {
		return // cannot happen: FitCauses keeps the chunk within a packet
	}
	a.sendOn(p, wire.Finish(pkt))
}

// abortWith aborts the association for a protocol error of the peer: an
// ABORT with causes, then EventDown with ReasonAborted and detail.
func (a *Association) abortWith(detail string, causes ...wire.ErrorCause) {
	if a.life.closed() {
		return
	}
	a.sendAbortCauses(causes...)
	a.finish(ReasonAborted, detail, true)
}

// Abort aborts the association (RFC 9260 section 9.1): an ABORT to the
// peer, everything queued is discarded.
func (a *Association) Abort(reason string) {
	if a.life.closed() {
		return
	}
	a.sendAbort(reason)
	a.finish(ReasonAborted, reason, true)
}

// Close aborts the association; see Shutdown for the graceful way.
func (a *Association) Close() error {
	a.Abort("closed")
	return nil
}

// Shutdown closes the association gracefully (RFC 9260 section 9.2): data
// already sent is delivered first. It waits until the SHUTDOWN exchange
// completes or ctx is done; then the association is aborted.
func (a *Association) Shutdown(ctx context.Context) error {
	if err := a.waitUp(ctx); err != nil {
		return err
	}
	pa := a.engine()
	if !a.life.advance(StateEstablished, StateShuttingDown) || pa == nil {
		return fmt.Errorf("sock: shutdown %v: %w", a.id, a.closedErr())
	}
	// pion opens no stream from now on: a new stream of the peer's waits
	// in pion's accept queue.
	a.handOverEngine()
	err := pa.Shutdown(ctx)
	if err != nil && ctx.Err() == nil {
		// pion refuses when it is already shutting down (the peer sent
		// SHUTDOWN a moment earlier): wait for that shutdown to end.
		select {
		case <-a.life.doneC():
			if a.Reason() == ReasonShutdown {
				return nil
			}
			return fmt.Errorf("sock: shutdown: %w", a.closedErr())
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		a.Abort("shutdown timed out")
		return fmt.Errorf("sock: shutdown: %w", err)
	}
	a.life.noteShutdown()
	a.finish(ReasonShutdown, "", true)
	<-a.life.doneC()
	return nil
}

// finish closes the association once: records why, stops pion, removes it
// from the endpoint and tells the user (when event is true).
func (a *Association) finish(reason DownReason, detail string, event bool) {
	a.finishWith(&CloseError{Reason: reason, Detail: detail}, event)
}

// finishWith is finish with the whole CloseError (the peer's cause of an
// ABORT).
func (a *Association) finishWith(ce *CloseError, event bool) {
	reason, detail := ce.Reason, ce.Detail
	prev := AssociationState(a.life.state.Swap(int32(StateClosed)))
	if prev == StateClosed {
		return
	}
	a.life.mu.Lock()
	a.life.closeErr = ce
	if a.life.connectErr == nil && prev < StateEstablished {
		a.life.connectErr = fmt.Errorf("sock: association closed during handshake: %w", ce)
	}
	a.life.mu.Unlock()
	pa := a.engine()
	a.stopPaths()
	if a.rq != nil {
		// Before unregister: an association that goes on counting in
		// the accept limit (see settleLocked) never stops counting in
		// between.
		a.rq.finished(a, reason == ReasonShutdown)
	}
	a.ep.unregister(a)
	a.uncountEngine()
	a.dropSpareEngine()
	closeEngine := func() {
		if pa != nil {
			_ = pa.Close()
		}
		a.releaseEngine()
	}
	if a.shim().onReadLoop() {
		// The receive path runs on pion's read loop (readthrough.go), and
		// pion's Close waits for that loop to end: close it from another
		// goroutine. The engine's hold keeps the endpoint open until then.
		go closeEngine()
	} else {
		closeEngine()
	}
	// The messages not delivered, before the events that end the
	// association: a user who stops at EventDown has seen them all.
	a.pushEvents(a.tx.down(a))
	if event && prev >= StateEstablished {
		if reason == ReasonShutdown {
			a.ep.raise(Event{Type: EventShutdownComplete, Association: a})
		}
		a.ep.raise(Event{Type: EventDown, Association: a, Reason: reason, Detail: detail})
	}
	// Done last: whoever waits for it and then closes the endpoint (as
	// Endpoint.Shutdown and the CLI do) finds the end's events queued,
	// not lost with the endpoint's queue.
	close(a.life.done)
}

package sock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// RecvMode selects how an endpoint hands received messages out. It is
// chosen once, when the endpoint is created (WithRecvMode); the calls of
// the other mode return an error wrapping ErrRecvMode.
type RecvMode int

// Receive modes.
const (
	// RecvPerEndpoint is the default, Erlang sock's model: Endpoint.Recv
	// returns the messages of every association of the endpoint from one
	// queue of WithRecvQueue messages. A slow reader of that queue closes
	// the receive window of every association at once.
	RecvPerEndpoint RecvMode = iota
	// RecvPerAssociation gives each association its own queue of
	// WithRecvQueue messages, read with Association.Recv; Endpoint.Accept
	// hands out each new inbound association once. A slow reader closes
	// only its own association's window (RFC 6458 section 3, the
	// one-to-one style, where each association is a socket of its own).
	RecvPerAssociation
)

// String names the mode.
func (m RecvMode) String() string {
	switch m {
	case RecvPerEndpoint:
		return "per-endpoint"
	case RecvPerAssociation:
		return "per-association"
	default:
		return fmt.Sprintf("RecvMode(%d)", int(m))
	}
}

// WithRecvMode sets the endpoint's receive mode. Default RecvPerEndpoint.
func WithRecvMode(m RecvMode) EndpointOption {
	return func(c *endpointConfig) error {
		if m != RecvPerEndpoint && m != RecvPerAssociation {
			return fmt.Errorf("sock: %w: receive mode %d", ErrInvalidOption, int(m))
		}
		c.recvMode = m
		return nil
	}
}

// defaultAcceptBacklog bounds the associations established but not yet
// taken by Endpoint.Accept on an endpoint with an AcceptFunc (AcceptMax(n)
// bounds them by n). INITs beyond it are refused with an ABORT.
const defaultAcceptBacklog = 128

// RecvMode returns the endpoint's receive mode.
func (e *Endpoint) RecvMode() RecvMode { return e.cfg.recvMode }

// acceptBacklog holds the inbound associations of a RecvPerAssociation
// endpoint that are established and not yet taken by Accept. The receive
// path (handleCookieEcho, on a socket's read goroutine) pushes, Accept
// pops, Listener.Close stops it; mu guards stopped and orders pushes after
// a stop. Its capacity is the accept limit, so that nobody calling Accept
// costs at most that many associations (each with its bounded queue).
type acceptBacklog struct {
	q       chan *Association
	mu      sync.Mutex
	stopped bool
	done    chan struct{} // closed by stop
}

func newAcceptBacklog(p acceptPolicy) *acceptBacklog {
	n := defaultAcceptBacklog
	if p.fn == nil && p.max > 0 {
		n = p.max
	}
	return &acceptBacklog{q: make(chan *Association, n), done: make(chan struct{})}
}

// room reports whether a new association could be queued.
func (b *acceptBacklog) room() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.stopped && len(b.q) < cap(b.q)
}

// push queues a for Accept; false if the backlog is full or stopped.
func (b *acceptBacklog) push(a *Association) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return false
	}
	select {
	case b.q <- a:
		return true
	default:
		return false
	}
}

// stop refuses new associations from now on and returns those queued.
func (b *acceptBacklog) stop() []*Association {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.stopped {
		b.stopped = true
		close(b.done)
	}
	var out []*Association
	for {
		select {
		case a := <-b.q:
			out = append(out, a)
		default:
			return out
		}
	}
}

// Accept returns the next inbound association the endpoint established,
// waiting until one is, ctx is done or the endpoint is closed. Each is
// returned once; a peer's restart (RFC 9260 section 5.2.4 action A)
// continues an association and is announced with EventRestart, not handed
// out again. The endpoint must be RecvPerAssociation (else the error wraps
// ErrRecvMode).
//
// Associations established but not yet accepted count in AcceptMax's
// limit, and there are at most that many (128 with AcceptFunc): past it,
// INITs are refused with an ABORT. Nobody calling Accept therefore costs
// at most the limit's associations, each holding at most its receive
// queue and window.
func (e *Endpoint) Accept(ctx context.Context) (*Association, error) {
	b := e.backlog
	if b == nil {
		return nil, fmt.Errorf("sock: accept on %v (%v): %w", e, e.cfg.recvMode, ErrRecvMode)
	}
	select {
	case a := <-b.q:
		return a, nil
	default:
	}
	select {
	case a := <-b.q:
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-e.done:
		return nil, fmt.Errorf("sock: accept on %v: %w", e, ErrClosed)
	case <-b.done:
		return nil, fmt.Errorf("sock: accept on %v: accepting stopped: %w", e, ErrClosed)
	}
}

// stopAccepting makes the endpoint refuse new associations (INITs get an
// ABORT) and aborts those established but not accepted yet, as closing a
// listening socket does; the associations already accepted go on.
func (e *Endpoint) stopAccepting() {
	if e.backlog == nil {
		return
	}
	for _, a := range e.backlog.stop() {
		a.Abort("not accepted")
	}
}

// assocQueue is an association's own queue of received messages in
// RecvPerAssociation mode: its stream readers (readStream via deliver)
// push, Association.Recv pops. mu guards every field; the goroutines
// that enter are the association's stream readers, the callers of Recv
// and Stats, and finish.
//
// It holds at most limit messages and, beyond its first message, at most
// limitBytes of payload (the association's receive buffer): with pion's
// buffer behind it an association holds at most about twice its window
// of received data, however small its messages or large the queue.
type assocQueue struct {
	mu         sync.Mutex
	items      []Message
	bytes      int
	limit      int
	limitBytes int
	// changed, when not nil, is closed (and forgotten) at the next change:
	// a push, a pop, the association's end or a reader's end.
	changed chan struct{}
	// graceful: the association shut down gracefully; messages queued and
	// those its readers still hold are delivered. aborted: it was aborted;
	// nothing more is delivered.
	graceful, aborted bool
	// lingering: the association counts in the endpoint's lingering
	// associations (see settleLocked).
	lingering bool
}

func newAssocQueue(limit, limitBytes int) *assocQueue {
	return &assocQueue{limit: limit, limitBytes: limitBytes}
}

// wakeLocked wakes every waiter. The caller holds q.mu.
func (q *assocQueue) wakeLocked() {
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
}

// waitLocked returns a channel closed at the next change. The caller
// holds q.mu.
func (q *assocQueue) waitLocked() <-chan struct{} {
	if q.changed == nil {
		q.changed = make(chan struct{})
	}
	return q.changed
}

func (q *assocQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// push queues m. With a full queue it returns a channel to wait on; with
// an aborted association neither (the message is to be discarded).
func (q *assocQueue) push(m Message) (pushed bool, wait <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.aborted {
		return false, nil
	}
	if len(q.items) == 0 || (len(q.items) < q.limit && q.bytes+len(m.Payload) <= q.limitBytes) {
		q.items = append(q.items, m)
		q.bytes += len(m.Payload)
		q.wakeLocked()
		return true, nil
	}
	return false, q.waitLocked()
}

// settleLocked keeps the endpoint's count of lingering associations: one
// closed gracefully with messages queued or readers still holding some
// counts in AcceptMax's limit until they are taken, as in the
// per-endpoint mode (see lingerStart). Every change of those conditions
// calls it, so the last call sees the final state. The caller holds q.mu.
func (q *assocQueue) settleLocked(a *Association) {
	want := q.graceful && !q.aborted && (len(q.items) > 0 || a.readersRunning())
	if want == q.lingering {
		return
	}
	q.lingering = want
	if want {
		a.ep.linger(1)
	} else {
		a.ep.linger(-1)
	}
}

// finished records the end of a: after a graceful shutdown what is
// queued stays for Recv (RFC 9260 section 9.2); after an abort it is
// discarded (section 9.1) and counted.
func (q *assocQueue) finished(a *Association, graceful bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if graceful {
		q.graceful = true
	} else {
		for range q.items {
			a.drop(nil, DropAbortedUnread)
		}
		clear(q.items)
		q.items, q.bytes = nil, 0
		q.aborted = true
	}
	q.settleLocked(a)
	q.wakeLocked()
}

// readerEnded runs when one of a's stream readers ends.
func (q *assocQueue) readerEnded(a *Association) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.settleLocked(a)
	q.wakeLocked()
}

// pop takes the next message. Without one it says whether none will
// come any more (end: graceful or aborted), or returns a channel to wait
// on.
func (q *assocQueue) pop(a *Association) (m Message, ok bool, end error, wait <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) > 0 {
		m = q.items[0]
		q.items[0] = Message{}
		q.items = q.items[1:]
		q.bytes -= len(m.Payload)
		if len(q.items) == 0 {
			q.items = nil // let the array go
		}
		q.settleLocked(a)
		q.wakeLocked()
		return m, true, nil, nil
	}
	switch {
	case q.aborted:
		return m, false, ErrAborted, nil
	case q.graceful && !a.readersRunning():
		return m, false, ErrClosed, nil
	}
	return m, false, nil, q.waitLocked()
}

// deliverOwn queues msg in a's own queue, waiting for room; false when
// the reader is to stop (the association was aborted or the endpoint
// closed). A reader of an association shut down gracefully goes on
// waiting: its messages are delivered (RFC 9260 section 9.2) and the
// association counts in the accept limit until they are (settleLocked).
func (a *Association) deliverOwn(msg Message) bool {
	for {
		pushed, wait := a.rq.push(msg)
		if pushed {
			return true
		}
		if wait == nil {
			a.drop(nil, DropAbortedUnread)
			return false
		}
		select {
		case <-wait:
		case <-a.ep.done:
			a.drop(nil, DropAbortedUnread)
			return false
		}
	}
}

// Recv returns the association's next message, waiting until one arrives,
// ctx is done or the association ends. The endpoint must be
// RecvPerAssociation (else the error wraps ErrRecvMode). After a graceful
// shutdown (RFC 9260 section 9.2) it returns the messages still queued,
// then an error wrapping ErrClosed and io.EOF; after an abort (section
// 9.1), at once an error wrapping ErrAborted, the queued messages
// discarded (counted as DropAbortedUnread).
func (a *Association) Recv(ctx context.Context) (Message, error) {
	return a.recv(ctx, nil, nil)
}

// errStopped is what recv returns when one of its stop channels closes.
var errStopped = errors.New("sock: recv stopped")

// recv is Recv, also ending (with errStopped) when stop1 or stop2 closes
// (nil: never).
func (a *Association) recv(ctx context.Context, stop1, stop2 <-chan struct{}) (Message, error) {
	if a.rq == nil {
		return Message{}, fmt.Errorf("sock: recv on %v (%v endpoint): %w", a, a.ep.cfg.recvMode, ErrRecvMode)
	}
	for {
		m, ok, end, wait := a.rq.pop(a)
		if ok {
			return m, nil
		}
		switch end {
		case ErrAborted:
			return Message{}, fmt.Errorf("sock: recv on %v: %w", a, a.closedErr())
		case ErrClosed:
			return Message{}, fmt.Errorf("sock: recv on %v: shut down: %w (%w)", a, ErrClosed, io.EOF)
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-stop1:
			return Message{}, errStopped
		case <-stop2:
			return Message{}, errStopped
		}
	}
}

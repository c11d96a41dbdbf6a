package sock

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// EventType says what happened to an association.
type EventType int

// Event types.
const (
	// EventUp: the association is established.
	EventUp EventType = iota + 1
	// EventDown: the association is gone; Event.Reason says why.
	EventDown
	// EventRestart: the peer restarted (RFC 9260 section 5.2.4 action A);
	// the association goes on with fresh state, unacknowledged data is lost.
	EventRestart
	// EventShutdownComplete: a graceful shutdown finished.
	EventShutdownComplete
	// EventPathConfirmed: a HEARTBEAT answered with our nonce confirmed a
	// peer address (RFC 9260 section 5.4); it may now carry data.
	EventPathConfirmed
	// EventPathPotentiallyFailed: a path timed out more than the PF
	// threshold allows (RFC 7829); no new data goes to it.
	EventPathPotentiallyFailed
	// EventPathDown: a path exceeded Path.Max.Retrans (RFC 9260 section
	// 8.2) and is inactive.
	EventPathDown
	// EventPathUp: a failed path answered again and is active.
	EventPathUp
	// EventPrimaryChanged: data now goes to another path (Event.Path).
	EventPrimaryChanged
)

// String names the event type.
func (t EventType) String() string {
	switch t {
	case EventUp:
		return "up"
	case EventDown:
		return "down"
	case EventRestart:
		return "restart"
	case EventShutdownComplete:
		return "shutdown complete"
	case EventPathConfirmed:
		return "path confirmed"
	case EventPathPotentiallyFailed:
		return "path potentially failed"
	case EventPathDown:
		return "path down"
	case EventPathUp:
		return "path up"
	case EventPrimaryChanged:
		return "primary changed"
	default:
		return fmt.Sprintf("EventType(%d)", int(t))
	}
}

// DownReason says why an association went down.
type DownReason int

// Reasons an association goes down.
const (
	// ReasonNone: the association is not down.
	ReasonNone DownReason = iota
	// ReasonShutdown: a graceful shutdown, by either side.
	ReasonShutdown
	// ReasonAbortedByPeer: the peer sent an ABORT.
	ReasonAbortedByPeer
	// ReasonAborted: the local user aborted or closed it.
	ReasonAborted
	// ReasonCommunicationLost: the peer stopped answering.
	ReasonCommunicationLost
)

// String names the reason.
func (r DownReason) String() string {
	switch r {
	case ReasonShutdown:
		return "shutdown"
	case ReasonAbortedByPeer:
		return "aborted by peer"
	case ReasonAborted:
		return "aborted"
	case ReasonCommunicationLost:
		return "communication lost"
	default:
		return "none"
	}
}

// Event is something that happened to an association.
type Event struct {
	Type        EventType
	Association *Association
	// Reason is set for EventDown.
	Reason DownReason
	// Path is the peer address of the path, for path events.
	Path netip.Addr
	// Detail is a human-readable addition (an ABORT's reason, ...).
	Detail string
	// Time is when the stack saw it.
	Time time.Time
}

// String describes the event for logs.
func (e Event) String() string {
	s := fmt.Sprintf("%v %v", e.Association, e.Type)
	if e.Path.IsValid() {
		s += " " + e.Path.String()
	}
	if e.Type == EventDown {
		s += " (" + e.Reason.String() + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// eventQueue is a bounded queue of events; when full the oldest event is
// dropped and counted, so a user who never reads events costs nothing.
type eventQueue struct {
	mu      sync.Mutex
	buf     []Event
	max     int
	notify  chan struct{}
	dropped uint64
}

func newEventQueue(max int) eventQueue {
	return eventQueue{max: max, notify: make(chan struct{}, 1)}
}

func (q *eventQueue) push(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	q.mu.Lock()
	if len(q.buf) >= q.max {
		q.buf = q.buf[1:]
		q.dropped++
	}
	q.buf = append(q.buf, ev)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *eventQueue) next(ctx context.Context, done <-chan struct{}) (Event, error) {
	for {
		q.mu.Lock()
		if len(q.buf) > 0 {
			ev := q.buf[0]
			q.buf = q.buf[1:]
			more := len(q.buf) > 0
			q.mu.Unlock()
			if more {
				select {
				case q.notify <- struct{}{}:
				default:
				}
			}
			return ev, nil
		}
		q.mu.Unlock()
		select {
		case <-q.notify:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-done:
			return Event{}, fmt.Errorf("sock: events: %w", ErrClosed)
		}
	}
}

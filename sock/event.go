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
	// EventPeerShutdown: the peer started a graceful shutdown, its
	// SHUTDOWN arrived (RFC 9260 section 9.2; RFC 6458 section 6.1.5,
	// SCTP_SHUTDOWN_EVENT). Raised once per association, before its
	// EventShutdownComplete and EventDown. The peer sends no new data
	// from then on, and Send fails with ErrNotEstablished: what was sent
	// before is still delivered.
	EventPeerShutdown
	// EventSendFailed: a message Send accepted was not delivered (RFC
	// 6458 section 6.1.4, SCTP_SEND_FAILED, and 6.1.11,
	// SCTP_SEND_FAILED_EVENT): abandoned by PR-SCTP (SendInfo.Lifetime or
	// MaxRetransmits), or still unacknowledged when the association went
	// down. Event.Stream, PPID, Context and Payload
	// are the message's. Detail says which case it is: "abandoned
	// (PR-SCTP)"; "unacknowledged: association down (<reason>)", sent and
	// the peer may have it (SCTP_DATA_SENT); "unsent: association down
	// (<reason>)", never transmitted (SCTP_DATA_UNSENT). See
	// Association.Send for what is guaranteed.
	EventSendFailed
	// EventSenderDry: every message sent is acknowledged and nothing is
	// queued (RFC 6458 section 6.1.9, SCTP_SENDER_DRY_EVENT). Only on
	// endpoints created WithSenderDryEvents(true).
	EventSenderDry
	// EventRemoteError: the peer sent an ERROR chunk (RFC 9260 section
	// 3.3.10; RFC 6458 section 6.1.3, SCTP_REMOTE_ERROR), one event per
	// error cause: Event.Cause is its code, Detail names it.
	EventRemoteError
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
	case EventPeerShutdown:
		return "peer shutdown"
	case EventSendFailed:
		return "send failed"
	case EventSenderDry:
		return "sender dry"
	case EventRemoteError:
		return "remote error"
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
	// Detail is a human-readable addition (an ABORT's reason, why a
	// send failed, the name of a remote error's cause, ...).
	Detail string
	// Stream, PPID and Context are the failed message's stream, Payload
	// Protocol Identifier and SendInfo.Context, for EventSendFailed.
	Stream  uint16
	PPID    uint32
	Context uint32
	// Cause is the error cause code (RFC 9260 section 3.3.10), for
	// EventRemoteError.
	Cause uint16
	// Payload is the failed message, for EventSendFailed; it belongs to
	// the receiver of the event.
	Payload []byte
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
	switch e.Type {
	case EventSendFailed:
		s += fmt.Sprintf(" stream %d ppid %d context %d, %d bytes", e.Stream, e.PPID, e.Context, len(e.Payload))
	case EventRemoteError:
		s += fmt.Sprintf(" cause %d", e.Cause)
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
		leaving(q.buf[0])
		q.buf = q.buf[1:]
		q.dropped++
	}
	q.buf = append(q.buf, ev)
	q.mu.Unlock()
	signal(q.notify)
}

func (q *eventQueue) next(ctx context.Context, done <-chan struct{}) (Event, error) {
	for {
		q.mu.Lock()
		if len(q.buf) > 0 {
			ev := q.buf[0]
			leaving(ev)
			q.buf = q.buf[1:]
			more := len(q.buf) > 0
			q.mu.Unlock()
			if more {
				signal(q.notify)
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

// leaving runs as ev leaves the queue, handed out or dropped: an
// association's EventRemoteError no longer counts against its share of
// the queue (see Association.remoteError).
func leaving(ev Event) {
	if ev.Type == EventRemoteError && ev.Association != nil {
		ev.Association.remoteErrQueued.Add(-1)
	}
}

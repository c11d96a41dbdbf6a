package sock

import "sync"

// endpointQueue is an endpoint's receive queue (RecvPerEndpoint): at most
// limit messages, in order. It holds memory for what it holds, not for
// its limit: a channel of DefaultRecvQueue messages would cost every
// endpoint 16 KiB, allocated, cleared and scanned by the collector, from
// its creation on, which is most of what an endpoint costs to set up.
//
// ready holds a token while messages may be queued, room while there may
// be room: a receiver that finds the queue empty waits for ready, a sender
// that finds it full waits for room, and each passes the token on when it
// leaves the queue not empty (not full) behind it.
type endpointQueue struct {
	mu    sync.Mutex
	items fifo[Message]
	limit int
	ready chan struct{}
	room  chan struct{}
}

// endpointQueueKeep is the most slots an empty queue keeps for the next
// messages; a burst's larger array is let go.
const endpointQueueKeep = 16

func newEndpointQueue(limit int) *endpointQueue {
	return &endpointQueue{limit: limit, ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// signal puts a token in c if there is none.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// len returns the number of messages queued.
func (q *endpointQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.items.len()
}

// tryPush queues m unless the queue is full.
func (q *endpointQueue) tryPush(m Message) bool {
	q.mu.Lock()
	n := q.items.len()
	if n >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.items.push(m)
	q.mu.Unlock()
	signal(q.ready)
	if n+1 < q.limit {
		signal(q.room)
	}
	return true
}

// tryPop takes the first message, if any.
func (q *endpointQueue) tryPop() (Message, bool) {
	q.mu.Lock()
	m, ok := q.items.pop(endpointQueueKeep)
	if !ok {
		q.mu.Unlock()
		return Message{}, false
	}
	left := q.items.len()
	q.mu.Unlock()
	if left > 0 {
		signal(q.ready)
	}
	signal(q.room)
	return m, true
}

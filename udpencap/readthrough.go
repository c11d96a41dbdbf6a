package udpencap

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// readTurn decides which goroutine reads a socket: its own read goroutine
// (run), or a goroutine that took the reads over (ReadThrough). One reads
// at a time, and what one read is delivered before the next read starts,
// so the Receiver sees the socket's datagrams in the order they came.
//
// All fields are guarded by mu; cond is signalled when busy or borrower
// change and at Close. The socket's read goroutine, ReadThrough and
// EndReadThrough callers and Close enter it.
type readTurn struct {
	mu   sync.Mutex
	cond sync.Cond
	// borrower is the owner the reads are lent to, nil while the
	// socket's read goroutine has them.
	borrower any
	// busy: a read, and the delivery of what it returned, is under way;
	// reading is whose: the borrower's, or nil for the read goroutine.
	busy    bool
	reading any
	// last is whose the last turn was (nil: the read goroutine's), or the
	// owner told that it was not its own (see ReadThrough).
	last any
	// kicked: the socket's read deadline is in the past, so that the read
	// under way ends early; the next turn clears it.
	kicked bool
	// woken: WakeReadThrough came while the borrower was not reading: its
	// next ReadThrough returns at once.
	woken  bool
	closed bool
}

// ownTurn waits until the reads are the socket's read goroutine's and no
// other read is under way, and starts its turn; false once the Transport
// is closing.
func (s *socket) ownTurn() bool {
	rt := &s.turn
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for (rt.borrower != nil || rt.busy) && !rt.closed {
		rt.cond.Wait()
	}
	if rt.closed {
		return false
	}
	s.startTurnLocked(nil)
	return true
}

// startTurnLocked marks a read of reader's under way, with the deadline
// of a kick cleared. The caller holds s.turn.mu.
func (s *socket) startTurnLocked(reader any) {
	rt := &s.turn
	rt.busy, rt.reading = true, reader
	if rt.kicked {
		_ = s.udp.SetReadDeadline(time.Time{})
		rt.kicked = false
	}
}

// endTurn ends a turn.
func (s *socket) endTurn() {
	rt := &s.turn
	rt.mu.Lock()
	defer rt.mu.Unlock()
	// After a turn of the borrower that still has the reads nobody can
	// go on: the read goroutine waits for them to come back. Waking it
	// would cost a futex wake-up per read for nothing. Any other end of a
	// turn may let a waiter go: the read goroutine, or a new borrower
	// waiting for the turn of one whose reads ended meanwhile.
	if rt.reading == nil || rt.borrower != rt.reading {
		rt.cond.Broadcast()
	}
	rt.busy, rt.reading, rt.last = false, nil, rt.reading
}

// kickLocked ends the read under way early: it sets the socket's read
// deadline in the past. The caller holds s.turn.mu.
func (s *socket) kickLocked() {
	if !s.turn.kicked {
		_ = s.udp.SetReadDeadline(time.Unix(1, 0))
		s.turn.kicked = true
	}
}

// closeTurn ends the turns for Close: the read goroutine stops waiting,
// ReadThrough fails from now on.
func (s *socket) closeTurn() {
	s.turn.mu.Lock()
	s.turn.closed = true
	s.turn.cond.Broadcast()
	s.turn.mu.Unlock()
}

// ReadThrough reads the Transport's socket once on the calling goroutine,
// for owner, and hands what it read to the Receiver on this goroutine,
// exactly as the socket's read goroutine would have. It waits until at
// least one datagram was read, done is closed, or EndReadThrough(owner)
// is called. To stop an owner for good, close done and then call
// EndReadThrough: a ReadThrough that starts after that sees done closed
// (EndReadThrough ends only the calls under way).
//
// The first call of an owner takes the reads over: the socket's read
// goroutine finishes the read it is in and then waits. From then on
// nothing is read while owner is not in ReadThrough, and the reads stay
// with owner until EndReadThrough(owner) or Close. So a goroutine that
// would wait for the packets the Receiver hands on reads them itself, one
// goroutine hand-off less per packet; the price is that every datagram
// of the socket waits for that goroutine to come back.
//
// When another goroutine read since owner's last read (the socket's read
// goroutine before the reads were taken over), it returns true without
// reading: what that read delivered may be what the caller waits for.
//
// It returns false at once when the reads cannot be taken over: the
// Transport has more than one socket, one not on the real network
// (batching or not), or another owner has them. It returns true and a
// nil error when it read, or was ended early; an error wraps
// net.ErrClosed after Close. The Receiver runs on the calling goroutine:
// whatever it does must not wait for that goroutine. One goroutine at a
// time may call it for an owner.
func (t *Transport) ReadThrough(owner any, done <-chan struct{}) (bool, error) {
	if len(t.socks) != 1 || t.socks[0].udp == nil {
		return false, nil
	}
	s := t.socks[0]
	rt := &s.turn
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return false, fmt.Errorf("udpencap: read through %s: %w", s.local, net.ErrClosed)
	}
	select {
	case <-done:
		// Checked under mu: an EndReadThrough called after done was
		// closed either ran already, or runs after this call took the
		// reads and ends the wait below.
		if rt.borrower == owner {
			rt.borrower = nil
			rt.cond.Broadcast()
		}
		rt.mu.Unlock()
		return true, nil
	default:
	}
	if rt.borrower != owner {
		if rt.borrower != nil {
			rt.mu.Unlock()
			return false, nil
		}
		rt.borrower = owner
	}
	for rt.busy && rt.borrower == owner && !rt.closed {
		s.kickLocked()
		rt.cond.Wait()
	}
	if rt.closed || rt.borrower != owner {
		closed := rt.closed
		rt.mu.Unlock()
		if closed {
			return false, fmt.Errorf("udpencap: read through %s: %w", s.local, net.ErrClosed)
		}
		return true, nil
	}
	if rt.woken {
		// WakeReadThrough: the caller has something else to look at.
		rt.woken = false
		rt.mu.Unlock()
		return true, nil
	}
	if rt.last != owner {
		// Another goroutine read since owner last did, and may have
		// delivered what owner waits for (after the caller looked, for
		// all this call knows): the caller is to look before it reads,
		// and waits, again.
		rt.last = owner
		rt.mu.Unlock()
		return true, nil
	}
	s.startTurnLocked(owner)
	t.wg.Add(1) // after the closed check under mu: Close waits for this read
	rt.mu.Unlock()
	defer t.wg.Done()

	// The receive counters are written by the holder of the turn only.
	before := s.ctr.rxDatagrams.Load()
	err := s.readOnce(s.rd)
	s.ctr.rxThrough.Add(s.ctr.rxDatagrams.Load() - before)
	stop := s.afterRead(err)
	s.endTurn()
	if stop {
		return true, fmt.Errorf("udpencap: read through %s: %w: %w", s.local, net.ErrClosed, err)
	}
	return true, nil
}

// EndReadThrough gives the reads owner took over back to the socket's
// read goroutine, ending a ReadThrough of owner blocked now. It does
// nothing when owner has not got them. It may be called from any
// goroutine.
func (t *Transport) EndReadThrough(owner any) {
	for _, s := range t.socks {
		rt := &s.turn
		rt.mu.Lock()
		if rt.borrower == owner && owner != nil {
			rt.borrower, rt.woken = nil, false
			if rt.busy {
				s.kickLocked()
			}
			rt.cond.Broadcast()
		}
		rt.mu.Unlock()
	}
}

// WakeReadThrough makes the ReadThrough of owner under way return early,
// having read nothing, or, if owner is not in one, the next: another
// goroutine has something for owner's goroutine (a packet queued for it)
// that it would otherwise see only after the socket's next datagram. It
// does nothing when owner has not got the reads. It may be called from
// any goroutine.
func (t *Transport) WakeReadThrough(owner any) {
	for _, s := range t.socks {
		rt := &s.turn
		rt.mu.Lock()
		if rt.borrower == owner && owner != nil {
			if rt.busy && rt.reading == owner {
				s.kickLocked()
			} else {
				rt.woken = true
			}
		}
		rt.mu.Unlock()
	}
}

var _ ReadThrougher = (*Transport)(nil)

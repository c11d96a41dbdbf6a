package sock

import (
	"fmt"
	"sync/atomic"
)

// DropReason says why the stack discarded something it received: a whole
// packet, one chunk of it, or a message. Every drop the stack makes is
// counted under one reason in Stats.Drops (and, for drops an association
// makes, in its AssociationStats too).
type DropReason int

// Drop reasons. Their names (String) are the "reason" label of the
// usock_drops_total metric and the keys of Stats.Drops in JSON.
const (
	// DropMalformed: a packet or chunk that does not parse, or breaks a
	// bundling rule (RFC 9260 section 6.10).
	DropMalformed DropReason = iota
	// DropForgedCookie: a COOKIE-ECHO whose cookie fails its MAC or does
	// not match the packet's tag and ports (section 5.1.5 steps 1 and 2).
	DropForgedCookie
	// DropStaleCookie: a COOKIE-ECHO with an expired cookie (answered with
	// a Stale Cookie error, section 5.1.5 step 3).
	DropStaleCookie
	// DropRefusedInit: an INIT or COOKIE-ECHO the accept policy refused.
	DropRefusedInit
	// DropWrongTag: a packet whose Verification Tag matches no association
	// it claims to belong to (section 8.5, 8.5.1): discarded silently.
	DropWrongTag
	// DropForeign: a packet from an address or port not in the association.
	DropForeign
	// DropOverWindow: DATA beyond the receive window the stack advertised
	// (section 6.2).
	DropOverWindow
	// DropInvalidStream: DATA on a stream identifier at or above the
	// negotiated inbound streams (section 6.5).
	DropInvalidStream
	// DropOversizedMessage: a message larger than the maximum message size.
	DropOversizedMessage
	// DropQueueFull: pion's input queue was full.
	DropQueueFull
	// DropExcessAddress: a peer address beyond the per-association limit.
	DropExcessAddress
	// DropPanic: a datagram whose processing panicked; the panic was
	// recovered and logged. No known input reaches it.
	DropPanic
	// DropAbortedUnread: a message received but not yet taken by Recv when
	// its association was aborted (RFC 9260 section 9.1: the data still
	// queued is discarded).
	DropAbortedUnread
	// DropClosedUnread: a message that arrived on a Conn after the
	// application closed it (Conn.Close), while the shutdown completed.
	DropClosedUnread
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropMalformed:        "malformed",
	DropForgedCookie:     "forged_cookie",
	DropStaleCookie:      "stale_cookie",
	DropRefusedInit:      "refused_init",
	DropWrongTag:         "wrong_tag",
	DropForeign:          "foreign",
	DropOverWindow:       "over_window",
	DropInvalidStream:    "invalid_stream",
	DropOversizedMessage: "oversized_message",
	DropQueueFull:        "queue_full",
	DropExcessAddress:    "excess_address",
	DropPanic:            "panic",
	DropAbortedUnread:    "aborted_unread",
	DropClosedUnread:     "closed_unread",
}

// DropReasons lists every reason, in order.
func DropReasons() []DropReason {
	out := make([]DropReason, numDropReasons)
	for i := range out {
		out[i] = DropReason(i)
	}
	return out
}

// String is the reason's name, in snake case.
func (r DropReason) String() string {
	if r >= 0 && r < numDropReasons {
		return dropNames[r]
	}
	return fmt.Sprintf("drop(%d)", int(r))
}

// MarshalText makes the reason a JSON object key.
func (r DropReason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a reason's name.
func (r *DropReason) UnmarshalText(b []byte) error {
	for i, n := range dropNames {
		if n == string(b) {
			*r = DropReason(i)
			return nil
		}
	}
	return fmt.Errorf("sock: %w: drop reason %q", ErrInvalidArgument, b)
}

// dropCounters counts drops by reason; safe for concurrent use.
type dropCounters [numDropReasons]atomic.Uint64

func (d *dropCounters) add(r DropReason) { d[r].Add(1) }

// snapshot returns the non-zero counters.
func (d *dropCounters) snapshot() map[DropReason]uint64 {
	out := map[DropReason]uint64{}
	for i := range d {
		if n := d[i].Load(); n > 0 {
			out[DropReason(i)] = n
		}
	}
	return out
}

// countDrop counts one drop of the stack's.
func (s *Stack) countDrop(r DropReason) { s.drops.add(r) }

// drop counts a drop the endpoint made before any association took the
// packet: in the endpoint's Dropped and the stack's Drops.
func (e *Endpoint) drop(r DropReason) {
	e.dropped.Add(1)
	e.stack.countDrop(r)
}

// drop counts a drop the association made, in the association's counter c
// (nil: none) and the stack's Drops.
func (a *Association) drop(c *atomic.Uint64, r DropReason) {
	if c != nil {
		c.Add(1)
	}
	a.ep.stack.countDrop(r)
}

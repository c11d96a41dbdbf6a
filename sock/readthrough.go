package sock

import "github.com/usock/usock/udpencap"

// The read-through shim. Without it an inbound packet crosses two
// goroutines before pion sees it: the socket's read goroutine runs the
// receive path and queues the packet on the shim; pion's read loop,
// waiting in shimConn.Read, wakes up and takes it. While an association
// is the only one of its stack, and the stack has one socket, pion's read
// loop reads the socket itself (udpencap's ReadThrough): it runs the
// receive path on its own goroutine and takes the packet from the queue
// it just filled, as pion over a plain UDP socket would. One wake-up of a
// goroutine less per packet, on each side of a round trip.
//
// With a second association the reads go back to the socket's goroutine:
// pion's read loop of one association would otherwise hold up the
// packets of every other while it handles its own.

// countEngineLocked counts a's engine in the stack's running engines
// once; uncountEngine takes it out again, once. The caller holds a.mu.
func (a *Association) countEngineLocked() {
	mustHold(&a.mu)
	if !a.eng.counted.Swap(true) {
		a.ep.stack.engines.Add(1)
	}
}

// uncountEngine takes a's engine out of the stack's count, if counted.
func (a *Association) uncountEngine() {
	if a.eng.counted.CompareAndSwap(true, false) {
		a.ep.stack.engines.Add(-1)
	}
}

// readThrough reads the stack's socket on pion's read loop when c's
// association may (see above), and reports whether it read; false when
// the caller is to wait for the receive path to queue a packet. Only
// pion's read loop calls it, from Read.
func (c *shimConn) readThrough() bool {
	st := c.a.ep.stack
	var rt udpencap.ReadThrougher
	// A spare engine (prepareEngine) is not counted: it has no packets
	// before it is put to work.
	if p := st.readThrough.Load(); p != nil && c.a.eng.counted.Load() && st.engines.Load() == 1 {
		rt = *p
	}
	if c.lent != nil && c.lent != rt {
		c.lent.EndReadThrough(c)
		c.lent = nil
	}
	if rt == nil {
		return false
	}
	c.reading.Store(true)
	ok, err := rt.ReadThrough(c, c.closed)
	c.reading.Store(false)
	if !ok || err != nil {
		// Another association reads, or the Bind is closing: wait for
		// the receive path.
		rt.EndReadThrough(c)
		c.lent = nil
		return false
	}
	c.lent = rt
	select {
	case <-c.closed:
		return false
	default:
		return true
	}
}

// wakeReadThrough has pion's read loop, if it reads the stack's socket
// itself, come back from that read to look at its queue. Any goroutine
// may call it.
func (c *shimConn) wakeReadThrough() {
	if p := c.a.ep.stack.readThrough.Load(); p != nil {
		(*p).WakeReadThrough(c)
	}
}

// endReadThrough gives the stack's socket back to its read goroutine if
// pion's read loop has it, ending a read under way: pion closes, and its
// read loop must come back from Read. Any goroutine may call it.
func (c *shimConn) endReadThrough() {
	if p := c.a.ep.stack.sendVia.Load(); p != nil {
		for _, tr := range *p {
			if rt, ok := tr.(udpencap.ReadThrougher); ok {
				rt.EndReadThrough(c)
			}
		}
	}
}

// onReadLoop reports whether the receive path may be running on pion's
// read loop of c (it reads through now): whatever waits for that loop
// must not be done inline then.
func (c *shimConn) onReadLoop() bool { return c != nil && c.reading.Load() }

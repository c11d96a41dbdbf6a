package sock

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/pathmgr"
)

// multipath is an association's path management: pathmgr's state machine,
// the record of outstanding DATA, and the one timer that drives both. It
// has its own lock: the send path (pion's write loop), the receive path (a
// socket's read goroutine) and the timer all come through here.
type multipath struct {
	mu    sync.Mutex
	pm    *pathmgr.Manager
	out   *outstanding
	timer *time.Timer
	rng   *rand.Rand
	byID  map[pathmgr.PathID]*path
	last  map[pathmgr.PathID]pathmgr.State // for events
	data  pathmgr.PathID                   // the path data went to, for events
	dead  bool
}

// startPaths starts path management once the association is established.
func (a *Association) startPaths(now time.Time) error {
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	rng := rand.New(rand.NewChaCha8(seed))
	cfg := pathmgr.Config{
		RTOInitial: a.cfg.rtoInitial, RTOMin: a.cfg.rtoMin, RTOMax: a.cfg.rtoMax,
		HBInterval: a.cfg.hbInterval, HBDisabled: a.cfg.hbInterval == 0, HBMaxBurst: 1,
		PathMaxRetrans: a.cfg.pathMaxRetrans, AssocMaxRetrans: a.cfg.assocMaxRetrans,
		PFThreshold: a.cfg.pfThreshold, Switchback: a.cfg.switchback,
		Rand: rng.Float64, Nonce: rng.Uint64,
	}
	if cfg.HBDisabled {
		cfg.HBInterval = DefaultHeartbeatInterval
	}
	pm, err := pathmgr.New(cfg)
	if err != nil {
		return err
	}
	mp := &multipath{pm: pm, out: newOutstanding(), rng: rng, byID: map[pathmgr.PathID]*path{}, last: map[pathmgr.PathID]pathmgr.State{}}
	mp.out.highest = a.localTSN - 1 // pion's first DATA has our initial TSN
	a.mu.Lock()
	for _, p := range a.paths {
		p.id = pm.AddPath(p.confirmed, now)
		mp.byID[p.id] = p
	}
	primary := a.primary
	a.mu.Unlock()
	if err := pm.SetPrimary(primary.id); err != nil {
		return fmt.Errorf("primary path to %v: %w", primary.remote, err)
	}
	for _, info := range pm.Paths() {
		mp.last[info.ID] = info.State
	}
	mp.data, _ = pm.DataPath()
	mp.timer = time.AfterFunc(time.Hour, a.onPathTimer)
	mp.timer.Stop()
	a.mp.Store(mp)
	if a.life.current() == StateClosed {
		a.stopPaths() // closed while starting: finish saw no paths to stop
		return nil
	}
	return nil
}

// stopPaths stops the timer; nothing is sent on the paths any more.
func (a *Association) stopPaths() {
	mp := a.mp.Load()
	if mp == nil {
		return
	}
	mp.mu.Lock()
	mp.dead = true
	mp.timer.Stop()
	mp.mu.Unlock()
}

// armLocked sets the timer to pathmgr's next deadline.
func (mp *multipath) armLocked(now time.Time) {
	if mp.dead {
		return
	}
	if d, ok := mp.pm.NextDeadline(); ok {
		mp.timer.Reset(max(d.Sub(now), 0))
	} else {
		mp.timer.Stop()
	}
}

func (a *Association) onPathTimer() {
	mp := a.mp.Load()
	now := time.Now()
	mp.mu.Lock()
	if mp.dead {
		mp.mu.Unlock()
		return
	}
	acts := mp.pm.Tick(now)
	mp.mu.Unlock()
	a.runPathActions(acts, now)
}

// runPathActions carries out what pathmgr decided, then reports path
// changes to the user and re-arms the timer.
func (a *Association) runPathActions(acts []pathmgr.Action, now time.Time) {
	mp := a.mp.Load()
	type send struct {
		p   *path
		pkt []byte
	}
	var sends []send
	failed := false
	// resend moves the DATA outstanding on from (on every other path, with
	// anyPath) to path to and queues it to be sent at once.
	resend := func(from, to pathmgr.PathID, anyPath bool) {
		p := mp.byID[to]
		if p == nil {
			return
		}
		moved, emptied := mp.out.move(from, to, anyPath, now)
		for _, e := range emptied {
			mp.pm.DataMoved(e)
		}
		for _, pkt := range moved {
			sends = append(sends, send{p, pkt})
		}
		if len(moved) > 0 {
			// Only DATA that really goes starts T3 there (section 6.3.2
			// R1); a timer with nothing outstanding would only count
			// errors.
			mp.pm.DataSent(to, now)
		}
	}
	mp.mu.Lock()
	for _, act := range acts {
		switch act.Kind {
		case pathmgr.SendHeartbeat:
			// Once a SHUTDOWN went either way the association is ending:
			// a HEARTBEAT reaching a peer that already closed would only
			// come back as an out-of-the-blue ABORT.
			if p := mp.byID[act.Path]; p != nil && !a.shuttingDown() {
				if pkt := a.heartbeatPacket(act.Nonce, now, p.remote); pkt != nil {
					sends = append(sends, send{p, pkt})
				}
			}
		case pathmgr.Retransmit:
			// RFC 9260 section 6.4.1: retransmit to an active alternate
			// path, at once rather than at pion's backed-off timer.
			resend(act.Path, act.To, false)
		case pathmgr.PrimaryChanged:
			// Failover: what is unacknowledged goes again on the new path.
			resend(0, act.To, true)
		case pathmgr.AssociationFailed:
			failed = true
		}
	}
	events := a.pathEventsLocked()
	mp.armLocked(now)
	mp.mu.Unlock()
	for _, s := range sends {
		a.sendOn(s.p, s.pkt)
	}
	for _, ev := range events {
		a.ep.events.push(ev)
	}
	if failed {
		// RFC 9260 section 8.1: the peer is unreachable; the association
		// is closed and the user told.
		a.stopPaths()
		a.sendAbort("communication lost")
		a.finish(ReasonCommunicationLost, "association error counter exceeded Association.Max.Retrans", true)
	}
}

// shuttingDown reports whether a SHUTDOWN, SHUTDOWN-ACK or
// SHUTDOWN-COMPLETE went either way.
func (a *Association) shuttingDown() bool {
	return a.life.shutdownSeen()
}

// pathEventsLocked compares pathmgr's path states and data path with what
// was last reported and returns the events for the changes.
func (a *Association) pathEventsLocked() []Event {
	mp := a.mp.Load()
	var evs []Event
	for _, info := range mp.pm.Paths() {
		old := mp.last[info.ID]
		if old == info.State {
			continue
		}
		mp.last[info.ID] = info.State
		p := mp.byID[info.ID]
		var typ EventType
		switch {
		case info.State == pathmgr.Active && old == pathmgr.Unconfirmed:
			typ = EventPathConfirmed
		case info.State == pathmgr.Active:
			typ = EventPathUp
		case info.State == pathmgr.PotentiallyFailed:
			typ = EventPathPotentiallyFailed
		case info.State == pathmgr.Inactive:
			typ = EventPathDown
		default:
			continue
		}
		evs = append(evs, Event{Type: typ, Association: a, Path: p.remote})
	}
	if d, ok := mp.pm.DataPath(); ok && d != mp.data {
		mp.data = d
		evs = append(evs, Event{Type: EventPrimaryChanged, Association: a, Path: mp.byID[d].remote})
	}
	return evs
}

// heartbeatPacket builds a HEARTBEAT for the path to remote (RFC 9260
// section 8.3).
func (a *Association) heartbeatPacket(nonce uint64, now time.Time, remote netip.Addr) []byte {
	tag := a.peerTagValue()
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: a.ep.port, DstPort: a.peerPort, VerificationTag: tag})
	pkt, err := wire.AppendHeartbeat(pkt, wire.ChunkHeartbeat, heartbeatInfo(nonce, now, remote))
	if err != nil {
		return nil // cannot happen: the information has a fixed size
	}
	return wire.Finish(pkt)
}

// routeData picks the path for a packet pion wrote and records its DATA.
func (a *Association) routeData(pkt []byte) *path {
	mp := a.mp.Load()
	if mp == nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.primary
	}
	var buf [32]uint32
	tsns := dataTSNs(buf[:0], pkt)
	now := time.Now()
	mp.mu.Lock()
	defer mp.mu.Unlock()
	var id pathmgr.PathID
	var ok bool
	mp.out.sent(tsns)
	if len(tsns) > 0 {
		// The shim applies a SACK before pion reads it, so pion may still
		// write a retransmission of DATA the SACK just acknowledged.
		// Recorded, it would be outstanding for ever (no later SACK
		// acknowledges a TSN below the cumulative ack again): its path's
		// T3-rtx timer would keep expiring on an idle association and,
		// with switchback, move the data path away and back every RTO.
		if tsns = mp.out.unacked(tsns); len(tsns) == 0 {
			id, ok = mp.pm.DataPath()
		} else {
			if last, lost, rtx := mp.out.isRetransmission(tsns); rtx {
				id, ok = mp.pm.RetransmitPath(last, lost...), true
				mp.out.add(pkt, tsns, id, now, true)
			} else if id, ok = mp.pm.DataPath(); ok {
				mp.out.add(pkt, tsns, id, now, false)
			}
			if ok {
				mp.pm.DataSent(id, now)
				mp.armLocked(now)
			}
		}
	} else if lp := a.lastDataFrom.Load(); lp != nil {
		// RFC 9260 section 6.4: "An endpoint SHOULD transmit reply chunks
		// (e.g., SACK, HEARTBEAT ACK, etc.) to the same destination
		// transport address from which it received the DATA or control
		// chunk to which it is replying."
		return lp
	} else {
		id, ok = mp.pm.DataPath()
	}
	if !ok {
		id = mp.pm.Primary()
	}
	return mp.byID[id]
}

// sackArrived feeds a SACK to path management. A SACK that acknowledges
// a TSN never sent is not applied: it returns why, and true, and the
// caller aborts the association.
func (a *Association) sackArrived(v wire.SackView) (violation string, bad bool) {
	mp := a.mp.Load()
	if mp == nil {
		return "", false
	}
	now := time.Now()
	mp.mu.Lock()
	if tsn, ok := mp.out.unsentAcked(v); ok {
		// RFC 9260 section 12.4: "An SCTP implementation MUST abort the
		// association if it receives a SACK chunk acknowledging a TSN
		// that has not been sent."
		highest := mp.out.highest
		mp.mu.Unlock()
		return fmt.Sprintf("SACK acknowledges TSN %d, never sent (highest TSN sent %d)", tsn, highest), true
	}
	// RFC 9260 section 6.1 rule A: pathmgr tells zero window probes from
	// lost DATA by the peer's a_rwnd and its SACKs still arriving.
	mp.pm.SackReceived(v.ARwnd(), now)
	for _, ack := range mp.out.ack(v, now) {
		mp.pm.DataAcked(ack.path, ack.rtt, ack.hasRTT, ack.allDone, now)
	}
	events := a.pathEventsLocked()
	mp.armLocked(now)
	mp.mu.Unlock()
	for _, ev := range events {
		a.ep.events.push(ev)
	}
	return "", false
}

// heartbeatAckArrived confirms a path or measures its RTT (RFC 9260
// sections 5.4 and 8.3); a nonce we never sent confirms nothing.
func (a *Association) heartbeatAckArrived(c wire.Chunk) {
	mp := a.mp.Load()
	if mp == nil {
		return
	}
	info, err := wire.ParseHeartbeat(c.Value)
	if err != nil {
		return
	}
	nonce, _, to, ok := parseHeartbeatInfo(info)
	if !ok {
		return
	}
	p := a.pathFor(to)
	if p == nil {
		return
	}
	now := time.Now()
	mp.mu.Lock()
	if !mp.pm.HeartbeatAcked(p.id, nonce, now) {
		mp.mu.Unlock()
		a.count(&a.stats.forgedHeartbeatAcks)
		return
	}
	a.mu.Lock()
	p.confirmed = true
	a.mu.Unlock()
	events := a.pathEventsLocked()
	mp.armLocked(now)
	mp.mu.Unlock()
	for _, ev := range events {
		a.ep.events.push(ev)
	}
}

// SetPrimary makes the path to remote the primary path (RFC 9260 section
// 5.1.2: the upper layer may select the primary). It must be confirmed.
func (a *Association) SetPrimary(remote netip.Addr) error {
	p := a.pathFor(remote.Unmap())
	if p == nil {
		return fmt.Errorf("sock: no path to %v: %w", remote, ErrNotFound)
	}
	mp := a.mp.Load()
	if mp == nil {
		return fmt.Errorf("sock: set primary: %w", ErrNotEstablished)
	}
	now := time.Now()
	mp.mu.Lock()
	err := mp.pm.SetPrimary(p.id)
	var events []Event
	if err == nil {
		events = a.pathEventsLocked()
		a.mu.Lock()
		a.primary = p
		a.mu.Unlock()
	}
	mp.armLocked(now)
	mp.mu.Unlock()
	for _, ev := range events {
		a.ep.events.push(ev)
	}
	if err != nil {
		return fmt.Errorf("sock: set primary %v: %w: %w", remote, ErrInvalidArgument, err)
	}
	return nil
}

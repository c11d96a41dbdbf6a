package sock

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/usock/usock/internal/pathdriver"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/pathmgr"
)

// multipath is an association's path management: the path driver (which
// owns pathmgr's state machine, the record of outstanding DATA and the
// deadline of the path timer) and the one timer that calls its Tick.
//
// mu guards drv, timer and dead. The goroutines that enter it: pion's
// write loop (output, routeData), a socket's read goroutine (sackArrived,
// heartbeatAckArrived), the timer (onPathTimer), and user calls
// (SetPrimary, Paths, finish through stopPaths). Lock order: mu before
// Association.mu. byID is set before the multipath is published and read
// without mu.
type multipath struct {
	mu    sync.Mutex
	drv   *pathdriver.Driver
	timer *time.Timer
	byID  []*path // by pathmgr.PathID
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
	mp := &multipath{}
	var specs []pathdriver.Path
	primary := -1
	a.mu.Lock()
	for i, p := range a.ps.all() {
		p.setPathID(pathmgr.PathID(i))
		mp.byID = append(mp.byID, p)
		specs = append(specs, pathdriver.Path{Remote: p.remoteAddr(), Confirmed: p.isConfirmed()})
		if p == a.ps.main() {
			primary = i
		}
	}
	a.mu.Unlock()
	drv, err := pathdriver.New(pathdriver.Config{Paths: cfg, InitialTSN: a.localTSN, MTU: a.cfg.packetSize}, specs, primary, now)
	if err != nil {
		return err
	}
	mp.drv = drv
	mp.timer = time.AfterFunc(time.Hour, a.onPathTimer)
	mp.timer.Stop()
	a.mp.Store(mp)
	if a.life.current() == StateClosed {
		a.stopPaths() // closed while starting: finish saw no paths to stop
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

// armLocked sets the timer to the driver's next deadline. The caller holds
// mp.mu.
func (mp *multipath) armLocked(now time.Time) {
	if mp.dead {
		return
	}
	if d, ok := mp.drv.NextDeadline(); ok {
		mp.timer.Reset(max(d.Sub(now), 0))
	} else {
		mp.timer.Stop()
	}
}

// onPathTimer is the path timer: it calls the driver's Tick and carries
// out what it returned.
func (a *Association) onPathTimer() {
	mp := a.mp.Load()
	now := time.Now()
	mp.mu.Lock()
	if mp.dead {
		mp.mu.Unlock()
		return
	}
	out := mp.drv.Tick(now)
	mp.armLocked(now)
	mp.mu.Unlock()
	a.carryOut(out)
}

// carryOut sends what the driver asked for, reports its events and closes
// the association when it failed. The caller does not hold mp.mu.
func (a *Association) carryOut(out pathdriver.Output) {
	mp := a.mp.Load()
	// Once a SHUTDOWN went either way the association is ending: a
	// HEARTBEAT reaching a peer that already closed would only come back
	// as an out-of-the-blue ABORT.
	if len(out.Heartbeats) > 0 && !a.shuttingDown() {
		for _, hb := range out.Heartbeats {
			if pkt := a.heartbeatPacket(hb.Info); pkt != nil {
				a.sendOn(mp.pathOf(hb.Path), pkt)
			}
		}
	}
	for _, r := range out.Resends {
		a.sendOn(mp.pathOf(r.Path), r.Packet)
	}
	for _, ev := range out.Events {
		a.ep.events.push(a.pathEvent(ev))
	}
	if out.Failed {
		// RFC 9260 section 8.1: the peer is unreachable; the association
		// is closed and the user told.
		a.stopPaths()
		a.sendAbort("communication lost")
		a.finish(ReasonCommunicationLost, "association error counter exceeded Association.Max.Retrans", true)
	}
}

// infos is the driver's view of each path, by ID.
func (mp *multipath) infos() map[pathmgr.PathID]pathmgr.PathInfo {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	infos := map[pathmgr.PathID]pathmgr.PathInfo{}
	for _, in := range mp.drv.Paths() {
		infos[in.ID] = in
	}
	return infos
}

// pathOf returns the path with ID id, or nil.
func (mp *multipath) pathOf(id pathmgr.PathID) *path {
	if id < 0 || int(id) >= len(mp.byID) {
		return nil
	}
	return mp.byID[id]
}

// pathEvent turns a driver event into the user's.
func (a *Association) pathEvent(ev pathdriver.Event) Event {
	var typ EventType
	switch ev.Kind {
	case pathdriver.PathConfirmed:
		typ = EventPathConfirmed
	case pathdriver.PathUp:
		typ = EventPathUp
	case pathdriver.PathPotentiallyFailed:
		typ = EventPathPotentiallyFailed
	case pathdriver.PathDown:
		typ = EventPathDown
	case pathdriver.DataPathChanged:
		typ = EventPrimaryChanged
	}
	e := Event{Type: typ, Association: a}
	if p := a.mp.Load().pathOf(ev.Path); p != nil {
		e.Path = p.remoteAddr()
	}
	return e
}

// shuttingDown reports whether a SHUTDOWN, SHUTDOWN-ACK or
// SHUTDOWN-COMPLETE went either way.
func (a *Association) shuttingDown() bool {
	return a.life.shutdownSeen()
}

// heartbeatPacket builds a HEARTBEAT carrying the driver's Heartbeat Info
// (RFC 9260 section 8.3).
func (a *Association) heartbeatPacket(info []byte) []byte {
	tag := a.peerTagValue()
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: a.ep.port, DstPort: a.peerPort, VerificationTag: tag})
	pkt, err := wire.AppendHeartbeat(pkt, wire.ChunkHeartbeat, info)
	if err != nil {
		return nil // cannot happen: the information has a fixed size
	}
	return wire.Finish(pkt)
}

// routeData picks the path for a packet pion wrote (the driver records its
// DATA).
func (a *Association) routeData(pkt []byte) *path {
	mp := a.mp.Load()
	if mp == nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.ps.main()
	}
	now := time.Now()
	mp.mu.Lock()
	id, data := mp.drv.Route(pkt, now)
	if data {
		mp.armLocked(now)
	}
	mp.mu.Unlock()
	if !data {
		if lp := a.lastDataFrom.Load(); lp != nil {
			// RFC 9260 section 6.4: "An endpoint SHOULD transmit reply
			// chunks (e.g., SACK, HEARTBEAT ACK, etc.) to the same
			// destination transport address from which it received the
			// DATA or control chunk to which it is replying."
			return lp
		}
	}
	return mp.pathOf(id)
}

// sackArrived feeds a SACK to the path driver. A SACK that acknowledges a
// TSN never sent is not applied: it returns why, and true, and the caller
// aborts the association.
func (a *Association) sackArrived(v wire.SackView) (violation string, bad bool) {
	mp := a.mp.Load()
	if mp == nil {
		return "", false
	}
	now := time.Now()
	mp.mu.Lock()
	out, err := mp.drv.OnSack(v, now)
	if err != nil {
		mp.mu.Unlock()
		return err.Error(), true
	}
	mp.armLocked(now)
	mp.mu.Unlock()
	a.carryOut(out)
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
	now := time.Now()
	mp.mu.Lock()
	id, out, err := mp.drv.OnHeartbeatAck(info, now)
	if err != nil {
		mp.mu.Unlock()
		if errors.Is(err, pathdriver.ErrHeartbeatNonce) {
			a.count(&a.stats.forgedHeartbeatAcks)
		}
		return
	}
	if p := mp.pathOf(id); p != nil {
		a.mu.Lock()
		p.confirm()
		a.mu.Unlock()
	}
	mp.armLocked(now)
	mp.mu.Unlock()
	a.carryOut(out)
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
	out, err := mp.drv.SetPrimary(p.pathID())
	if err == nil {
		a.mu.Lock()
		a.ps.setMain(p)
		a.mu.Unlock()
	}
	mp.armLocked(now)
	mp.mu.Unlock()
	a.carryOut(out)
	if err != nil {
		return fmt.Errorf("sock: set primary %v: %w: %w", remote, ErrInvalidArgument, err)
	}
	return nil
}

// serialLE is a <= b in serial number arithmetic (RFC 1982), as TSNs wrap.
func serialLE(a, b uint32) bool { return int32(a-b) <= 0 }

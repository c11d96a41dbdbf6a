package pathmgr

import (
	"slices"
	"time"
)

// maxRTT bounds RTT samples and RTOMax so that the RTO arithmetic cannot
// overflow.
const maxRTT = 24 * time.Hour

// path is the per-destination state.
type path struct {
	id    PathID
	state State
	// unreachable marks an unconfirmed path whose probes exceeded
	// PathMaxRetrans: it stays Unconfirmed but is probed at the normal
	// heartbeat rate (RFC 9260 section 5.4).
	unreachable bool

	measured          bool
	srtt, rttvar, rto time.Duration
	errors            int

	t3Running  bool
	t3Started  time.Time
	t3Deadline time.Time

	hbOutstanding bool
	hbNonce       uint64
	hbSentAt      time.Time
	hbDeadline    time.Time

	hbNextArmed bool
	hbNext      time.Time
	// probeWaiting marks an unconfirmed path whose heartbeat is due but
	// waits for one of the HBMaxBurst places (RFC 9260 section 5.4);
	// probeSeq orders the waiting paths, first come first served.
	probeWaiting bool
	probeSeq     uint64
	// dataInPeriod is set when DATA went out on the path since the current
	// heartbeat period started; the path is then not idle (8.3).
	dataInPeriod bool
	lastDataSent time.Time

	hbSent, hbAcked uint64
}

// Manager is the path management state machine of one association. Create
// it with New.
type Manager struct {
	cfg   Config
	paths []*path

	primary PathID // the user's primary; NoPath until a path is confirmed
	current PathID // the last announced data path; NoPath until then

	assocErrors int
	failed      bool

	// probeSeq numbers the unconfirmed paths as they start to wait for a
	// heartbeat place.
	probeSeq uint64

	// peerWindowZero is true while the peer's last SACK advertised no
	// receive window (a_rwnd 0); lastSack is when a SACK last arrived
	// (valid with sawSack). See SackReceived.
	peerWindowZero bool
	sawSack        bool
	lastSack       time.Time

	pending   []Action
	pendingAt time.Time
}

// New returns a Manager without paths. The error wraps ErrInvalidConfig.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg, primary: NoPath, current: NoPath}, nil
}

// AddPath adds a destination address and returns its ID.
//
// A confirmed path (the one the handshake ran over, RFC 9260 section 5.4
// rules 1 and 2) starts Active; the first one becomes the primary and the
// data path without a PrimaryChanged action. An unconfirmed path gets a
// confirmation heartbeat at once, returned by the next Tick.
func (m *Manager) AddPath(confirmed bool, now time.Time) PathID {
	p := &path{id: PathID(len(m.paths)), state: Unconfirmed, rto: m.cfg.RTOInitial}
	m.paths = append(m.paths, p)
	if confirmed {
		p.state = Active
		if m.primary == NoPath {
			m.primary = p.id
		}
		if m.current == NoPath {
			m.current = p.id
		}
	}
	if m.failed {
		return p.id
	}
	m.scheduleHeartbeat(p, now)
	if confirmed && m.current != p.id {
		// A later confirmed path may become the data path at once, e.g.
		// when all others are Inactive.
		m.enqueue(m.updateDataPath(nil), now)
	}
	return p.id
}

// Paths returns a snapshot of all paths, ordered by ID.
func (m *Manager) Paths() []PathInfo {
	return m.AppendPaths(make([]PathInfo, 0, len(m.paths)))
}

// AppendPaths appends to dst what Paths returns and returns the result:
// a caller that asks often reuses its array.
func (m *Manager) AppendPaths(dst []PathInfo) []PathInfo {
	out := dst
	for _, p := range m.paths {
		out = append(out, PathInfo{
			ID:              p.id,
			State:           p.state,
			Primary:         p.id == m.primary,
			InUse:           p.id == m.current,
			SRTT:            p.srtt,
			RTTVAR:          p.rttvar,
			RTO:             p.rto,
			ErrorCount:      p.errors,
			HeartbeatsSent:  p.hbSent,
			HeartbeatsAcked: p.hbAcked,
			Outstanding:     p.hbOutstanding,
			T3Running:       p.t3Running,
		})
	}
	return out
}

// AssocErrors returns the association error counter of RFC 9260 section 8.1.
func (m *Manager) AssocErrors() int { return m.assocErrors }

// Failed reports whether AssociationFailed has been returned.
func (m *Manager) Failed() bool { return m.failed }

// SetPrimary makes p the user's primary path. If p is Active, new data moves
// to it at once (a PrimaryChanged action is returned by the next Tick);
// otherwise it is used when it becomes Active (see Config.Switchback).
func (m *Manager) SetPrimary(p PathID) error {
	pp := m.get(p)
	if pp == nil {
		return ErrUnknownPath
	}
	if pp.state == Unconfirmed {
		// RFC 9260 section 5.4: "An endpoint MUST NOT send any chunks to
		// an UNCONFIRMED address" (apart from HEARTBEAT, HEARTBEAT ACK and
		// a bundled COOKIE ACK).
		return ErrUnconfirmed
	}
	m.primary = p
	if !m.failed && pp.state == Active && m.current != p {
		// Queued as due at once: SetPrimary has no time argument.
		m.enqueue([]Action{{Kind: PrimaryChanged, Path: m.current, To: p}}, time.Time{})
		m.current = p
	}
	return nil
}

// Primary returns the user's primary path: the first confirmed path unless
// SetPrimary chose another; NoPath while no path is confirmed. It is not
// changed by failover; DataPath says where data goes.
func (m *Manager) Primary() PathID { return m.primary }

// DataPath returns where to send new DATA now, and false if no path is
// usable (no confirmed path, all of them Inactive, or the association
// failed). Unconfirmed paths are never returned.
//
// The choice, in order: with Switchback off, the current data path while it
// is Active; the primary if Active; the current data path if Active; the
// best Active path (fewest errors, then lowest SRTT, then lowest ID); the
// PotentiallyFailed path with the fewest errors (same tie-breaks). Keeping
// the current path while it is Active means SRTT noise never moves data
// between two healthy non-primary paths.
func (m *Manager) DataPath() (PathID, bool) {
	if m.failed {
		return NoPath, false
	}
	cur := m.get(m.current)
	curActive := cur != nil && cur.state == Active
	// RFC 7829 section 6 (Primary Path Switchover), paraphrased: the sender
	// keeps sending to the new working path even when the old primary
	// becomes active again.
	if !m.cfg.Switchback && curActive {
		return cur.id, true
	}
	// RFC 9260 section 6.4: "an endpoint SHOULD send fresh data to its
	// peer's primary path by default" ... 6.4.1: "When there is outbound
	// data to send and the primary path becomes inactive (e.g., due to
	// failures) ... the SCTP endpoint SHOULD try to send the data to an
	// alternate active destination transport address if one exists."
	if pr := m.get(m.primary); pr != nil && pr.state == Active {
		return pr.id, true
	}
	if curActive {
		return cur.id, true
	}
	if b := m.best(Active, NoPath); b != nil {
		return b.id, true
	}
	// RFC 7829 section 5.1, paraphrased: PF destinations get no new data
	// while active destinations exist; when there are none, the sender
	// SHOULD use the PF destination with the lowest error count (fewest
	// consecutive timeouts).
	if b := m.best(PotentiallyFailed, NoPath); b != nil {
		return b.id, true
	}
	return NoPath, false
}

// RetransmitPath returns where to retransmit DATA that was last sent on
// last and whose earlier copies went to the paths lost (copies taken for
// lost: the DATA was retransmitted from there before any acknowledgement):
// an Active path that is neither last nor in lost if one exists (the data
// path first, else the best one), else last if it is Active, else
// DataPath, else last itself (or the primary if last is not a confirmed
// path). It returns NoPath only when no path is confirmed. Unconfirmed
// paths are never returned.
//
// RFC 9260 section 6.4: "when its peer is multi-homed, an endpoint SHOULD
// try to retransmit a chunk that timed out to an active destination
// transport address that is different from the last destination address to
// which the DATA chunk was sent." A path a copy was lost on is avoided
// too: pion's fast retransmissions (RACK, tail-loss probes) re-send within
// a few round trips, long before a T3-rtx timer could mark a dead path,
// and a second re-send going back to it would bounce between the dead path
// and the good one.
func (m *Manager) RetransmitPath(last PathID, lost ...PathID) PathID {
	avoid := func(id PathID) bool { return id == last || slices.Contains(lost, id) }
	dp, ok := m.DataPath()
	if ok && !avoid(dp) && m.get(dp).state == Active {
		return dp
	}
	if b := m.bestWhere(Active, avoid); b != nil {
		return b.id
	}
	if lp := m.get(last); lp != nil && lp.state == Active {
		return last
	}
	if ok {
		return dp
	}
	if lp := m.get(last); lp != nil && lp.state != Unconfirmed {
		return last
	}
	return m.primary
}

// DataSent records that DATA (new or retransmitted) left on p. It starts
// p's T3-rtx timer if it is not running and marks p as not idle for the
// heartbeat timer. Calls for unknown or unconfirmed paths are ignored.
func (m *Manager) DataSent(p PathID, now time.Time) {
	pp := m.get(p)
	if m.failed || pp == nil || pp.state == Unconfirmed {
		return
	}
	pp.lastDataSent = now
	pp.dataInPeriod = true
	// RFC 9260 section 6.3.2 R1: "Every time a DATA chunk is sent to any
	// address (including a retransmission), if the T3-rtx timer of that
	// address is not running, start it running so that it will expire
	// after the RTO of that address."
	if !pp.t3Running {
		m.startT3(pp, now)
	}
}

// DataAcked records that a SACK acknowledged DATA sent on p. rtt is an RTT
// sample, used only when hasRTT (the caller applies Karn's rule, RFC 9260
// 6.3.1 C5, and passes false for retransmitted chunks). allAckedOnPath
// says no DATA sent on p is outstanding any more. Calls for unknown or
// unconfirmed paths are ignored.
func (m *Manager) DataAcked(p PathID, rtt time.Duration, hasRTT bool, allAckedOnPath bool, now time.Time) {
	pp := m.get(p)
	if m.failed || pp == nil || pp.state == Unconfirmed {
		return
	}
	// RFC 9260 section 8.2: "When an outstanding TSN is acknowledged or a
	// HEARTBEAT chunk sent to that address is acknowledged with a HEARTBEAT
	// ACK chunk, the endpoint SHOULD clear the error counter of the
	// destination transport address to which the DATA chunk was last sent".
	pp.errors = 0
	// RFC 9260 section 8.1: "The counter used for this purpose SHOULD be
	// reset each time a DATA chunk sent to that peer endpoint is
	// acknowledged (by the reception of a SACK chunk)."
	m.assocErrors = 0
	if hasRTT {
		m.measure(pp, rtt)
	}
	if allAckedOnPath {
		// R2: "Whenever all outstanding data sent to an address have been
		// acknowledged, turn off the T3-rtx timer of that address."
		pp.t3Running = false
	} else {
		// R3: "Whenever a SACK chunk is received that acknowledges the
		// DATA chunk with the earliest outstanding TSN for that address,
		// restart the T3-rtx timer for that address with its current RTO
		// (if there is still outstanding data on that address)."
		m.startT3(pp, now)
	}
	var out []Action
	if pp.state != Active {
		// RFC 7829 section 5.1 (paraphrased): an acknowledgement of DATA
		// or HEARTBEAT sent to a PF destination clears its error counter
		// and returns it to the active state. RFC 9260 section 8.2: the
		// endpoint "SHOULD also report to the upper layer when an inactive
		// destination address is marked as active."
		out = m.setState(pp, Active, now, out)
	}
	out = m.updateDataPath(out)
	m.enqueue(out, now)
}

// DataMoved says that nothing sent on p is outstanding any more because
// the caller re-sent all of it on another path: p's T3-rtx timer stops (as
// RFC 9260 section 6.3.2 R2 does when all of it is acknowledged) but, as
// nothing was acknowledged, its error counters stay as they are.
func (m *Manager) DataMoved(p PathID) {
	if pp := m.get(p); pp != nil {
		pp.t3Running = false
	}
}

// HeartbeatAcked records a HEARTBEAT ACK received for p carrying nonce. It
// returns false, and changes nothing, unless nonce is the one of the
// heartbeat outstanding on p: a forged or stale ack confirms nothing.
//
// Otherwise an unconfirmed p becomes confirmed (RFC 9260 section 5.4), the
// RTT sample now minus the heartbeat's send time updates p's RTO, p's and
// the association's error counters are cleared and p becomes Active. The
// resulting PathStateChanged and PrimaryChanged actions are returned by the
// next Tick.
func (m *Manager) HeartbeatAcked(p PathID, nonce uint64, now time.Time) bool {
	pp := m.get(p)
	if m.failed || pp == nil || !pp.hbOutstanding || pp.hbNonce != nonce {
		// RFC 9260 section 5.4: "Upon receipt of the HEARTBEAT ACK chunk,
		// a verification is made that the nonce included in the HEARTBEAT
		// parameter is the one sent to the address indicated inside the
		// HEARTBEAT parameter. When this match occurs, the address that
		// the original HEARTBEAT was sent to is now considered CONFIRMED
		// and available for normal data transfer."
		return false
	}
	pp.hbOutstanding = false
	pp.hbAcked++
	// RFC 9260 section 8.3: "The receiver of the HEARTBEAT ACK chunk SHOULD
	// also perform an RTT measurement for that destination transport
	// address using the time value carried in the HEARTBEAT ACK chunk."
	m.measure(pp, now.Sub(pp.hbSentAt))
	// 8.3: "Upon the receipt of the HEARTBEAT ACK chunk, the sender of the
	// HEARTBEAT chunk SHOULD clear the error counter of the destination
	// transport address to which the HEARTBEAT chunk was sent and mark the
	// destination transport address as active if it is not so marked. ...
	// The receiver of the HEARTBEAT ACK chunk SHOULD also clear the
	// association overall error count (as defined in Section 8.1)."
	pp.errors = 0
	pp.unreachable = false
	m.assocErrors = 0
	var out []Action
	if pp.state != Active {
		wasUnconfirmed := pp.state == Unconfirmed
		if wasUnconfirmed && m.primary == NoPath {
			m.primary = pp.id
		}
		out = m.setState(pp, Active, now, out)
		if wasUnconfirmed {
			// Its place goes to the next unconfirmed path waiting.
			out = m.releaseProbes(now, out)
		}
	} else {
		m.scheduleHeartbeat(pp, now)
	}
	out = m.updateDataPath(out)
	m.enqueue(out, now)
	return true
}

// HeartbeatNow sends a heartbeat to p on demand (RFC 9260 section 8.3 D).
// It returns nil if p is unknown, already has a heartbeat outstanding (only
// one may be), is unconfirmed while HBMaxBurst heartbeats to unconfirmed
// paths are outstanding, or the association failed. The heartbeat is timed
// out and acknowledged like any other.
func (m *Manager) HeartbeatNow(p PathID, now time.Time) []Action {
	pp := m.get(p)
	if m.failed || pp == nil || pp.hbOutstanding {
		return nil
	}
	if pp.state == Unconfirmed && m.probesOutstanding() >= m.hbMaxBurst() {
		return nil
	}
	return m.sendHeartbeat(pp, now, nil)
}

// SackReceived records that a SACK arrived from the peer with aRwnd, its
// Advertised Receiver Window Credit. While the last one advertised no
// window (aRwnd 0) the DATA the caller sends is a zero window probe: a
// T3-rtx timeout of a path since whose start a SACK arrived backs off the
// path's RTO but counts no error and asks for no retransmission (RFC 9260
// section 6.1 rule A); the caller's engine retransmits the probe on its
// own backed-off timer.
func (m *Manager) SackReceived(aRwnd uint32, now time.Time) {
	m.peerWindowZero = aRwnd == 0
	m.sawSack = true
	m.lastSack = now
}

// NextDeadline returns the earliest time at which Tick has something to do,
// and false if nothing is scheduled (no paths, or the association failed).
func (m *Manager) NextDeadline() (time.Time, bool) {
	if m.failed {
		return time.Time{}, false
	}
	var at time.Time
	ok := false
	consider := func(t time.Time) {
		if !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	if len(m.pending) > 0 {
		consider(m.pendingAt)
	}
	for _, p := range m.paths {
		if p.t3Running {
			consider(p.t3Deadline)
		}
		if p.hbOutstanding {
			consider(p.hbDeadline)
		}
		if p.hbNextArmed {
			consider(p.hbNext)
		}
	}
	return at, ok
}

// timer names one of a path's timers.
type timer int

const (
	timerT3 timer = iota
	timerHBTimeout
	timerHBNext
)

// Tick fires every timer due at or before now, earliest first, and returns
// the queued actions followed by what the timers produced, in the order
// they are to be carried out. After AssociationFailed it returns nil.
func (m *Manager) Tick(now time.Time) []Action {
	if m.failed {
		return nil
	}
	var out []Action
	if len(m.pending) > 0 && !now.Before(m.pendingAt) {
		out = append(out, m.pending...)
		m.pending = nil
	}
	for !m.failed {
		p, t, ok := m.nextDue(now)
		if !ok {
			break
		}
		switch t {
		case timerT3:
			out = m.t3Expired(p, now, out)
		case timerHBTimeout:
			out = m.heartbeatTimedOut(p, now, out)
		case timerHBNext:
			out = m.heartbeatDue(p, now, out)
		}
	}
	return out
}

// nextDue returns the earliest timer due at or before now; ties go to the
// lower path ID, then to T3-rtx before heartbeat timers.
func (m *Manager) nextDue(now time.Time) (*path, timer, bool) {
	var (
		bp *path
		bt timer
		at time.Time
	)
	consider := func(p *path, t timer, deadline time.Time) {
		if deadline.After(now) {
			return
		}
		if bp == nil || deadline.Before(at) {
			bp, bt, at = p, t, deadline
		}
	}
	for _, p := range m.paths {
		if p.t3Running {
			consider(p, timerT3, p.t3Deadline)
		}
		if p.hbOutstanding {
			consider(p, timerHBTimeout, p.hbDeadline)
		}
		if p.hbNextArmed {
			consider(p, timerHBNext, p.hbNext)
		}
	}
	return bp, bt, bp != nil
}

// t3Expired handles the expiry of p's T3-rtx timer (RFC 9260 section 6.3.3).
func (m *Manager) t3Expired(p *path, now time.Time, out []Action) []Action {
	p.t3Running = false
	// E2: "For the destination address for which the timer expires, set
	// RTO <- RTO * 2 ("back off the timer"). The maximum value discussed in
	// rule C7 above (RTO.max) may be used to provide an upper bound to this
	// doubling operation."
	p.rto = m.backOff(p.rto)
	if m.zeroWindowProbing(p) {
		// RFC 9260 section 6.1 rule A: "If the sender continues to
		// receive SACK chunks from the peer while doing zero window
		// probing, the unacknowledged window probes SHOULD NOT increment
		// the error counter for the association or any destination
		// transport address. ... The sender SHOULD send the first zero
		// window probe after 1 RTO when it detects that the receiver has
		// closed its window and SHOULD increase the probe interval
		// exponentially afterwards." The RTO is backed off above; the
		// probe is not moved to another path: the path is not failing,
		// the peer has no room.
		return out
	}
	// RFC 9260 section 8.2: "Each time the T3-rtx timer expires on any
	// address, or when a HEARTBEAT chunk sent to an idle address is not
	// acknowledged within an RTO, the error counter of that destination
	// address will be incremented." Section 8.1 counts "the total number of
	// consecutive retransmissions to its peer (this includes data
	// retransmissions to all the destination transport addresses of the
	// peer if it is multi-homed)".
	out = m.countError(p, true, now, out)
	if m.failed {
		return out
	}
	// E3/E4 and 6.4: retransmit on an alternate active path and "Start the
	// retransmission timer T3-rtx on the destination address to which the
	// retransmission is sent, if rule R1 above indicates to do so."
	to := m.RetransmitPath(p.id)
	out = append(out, Action{Kind: Retransmit, Path: p.id, To: to})
	if tp := m.get(to); tp != nil && !tp.t3Running {
		m.startT3(tp, now)
	}
	return out
}

// zeroWindowProbing reports whether the DATA outstanding on p is a zero
// window probe the peer is still answering: the peer's last SACK
// advertised no window and a SACK arrived since p's T3-rtx timer started.
func (m *Manager) zeroWindowProbing(p *path) bool {
	return m.peerWindowZero && m.sawSack && !m.lastSack.Before(p.t3Started)
}

// heartbeatTimedOut handles a heartbeat on p not acknowledged within the
// RTO it was sent with.
func (m *Manager) heartbeatTimedOut(p *path, now time.Time, out []Action) []Action {
	p.hbOutstanding = false
	unconfirmed := p.state == Unconfirmed
	// RFC 9260 section 8.3: a HEARTBEAT chunk SHOULD be sent "with
	// jittering of +/- 50% of the RTO value, and exponential backoff of the
	// RTO if the previous HEARTBEAT chunk is unanswered."
	p.rto = m.backOff(p.rto)
	// 8.3: "The endpoint SHOULD increment the respective error counter of
	// the destination transport address each time a HEARTBEAT chunk is sent
	// to that address and not acknowledged within one RTO."
	//
	// 8.1: "Unacknowledged HEARTBEAT chunks observed on paths different
	// from the path currently used for data transfer SHOULD NOT increment
	// the association error counter". 5.4: "When probing UNCONFIRMED
	// addresses, however, the association overall error count is NOT
	// incremented."
	countAssoc := p.state != Unconfirmed && p.id == m.current
	out = m.countError(p, countAssoc, now, out)
	if m.failed {
		return out
	}
	m.scheduleHeartbeat(p, now)
	if unconfirmed {
		// Its place goes to the next unconfirmed path waiting; p's own
		// next probe, if due now, queues behind them.
		out = m.releaseProbes(now, out)
	}
	return out
}

// heartbeatDue handles p's heartbeat timer: send a heartbeat if p was idle
// for the whole period, else start a new period from the last DATA.
func (m *Manager) heartbeatDue(p *path, now time.Time, out []Action) []Action {
	p.hbNextArmed = false
	// RFC 9260 section 8.3: 'A destination transport address is considered
	// "idle" if no new chunk that can be used for updating path RTT
	// (usually including first transmission DATA, INIT, COOKIE ECHO, or
	// HEARTBEAT chunks, etc.) and no HEARTBEAT chunk has been sent to it
	// within the current heartbeat period of that address.'
	if p.state == Active && p.dataInPeriod {
		p.dataInPeriod = false
		next := p.lastDataSent.Add(m.heartbeatInterval(p))
		if next.After(now) {
			p.hbNext, p.hbNextArmed = next, true
			return out
		}
	}
	if p.state == Unconfirmed {
		// RFC 9260 section 5.4: "The number of packets containing
		// HEARTBEAT chunks sent at each RTO SHOULD be limited by the
		// 'HB.Max.Burst' parameter. It is an implementation decision as
		// to how to distribute packets containing HEARTBEAT chunks to the
		// peer's addresses for path verification." Here: at most
		// HBMaxBurst probes outstanding at a time, each for one RTO, the
		// unconfirmed paths served in the order their probes fell due.
		p.probeWaiting = true
		m.probeSeq++
		p.probeSeq = m.probeSeq
		return m.releaseProbes(now, out)
	}
	return m.sendHeartbeat(p, now, out)
}

// hbMaxBurst is HBMaxBurst with zero meaning 1.
func (m *Manager) hbMaxBurst() int { return max(m.cfg.HBMaxBurst, 1) }

// probesOutstanding counts the heartbeats outstanding on unconfirmed paths.
func (m *Manager) probesOutstanding() int {
	n := 0
	for _, p := range m.paths {
		if p.state == Unconfirmed && p.hbOutstanding {
			n++
		}
	}
	return n
}

// releaseProbes sends heartbeats to the unconfirmed paths that waited
// longest, as long as fewer than HBMaxBurst are outstanding.
func (m *Manager) releaseProbes(now time.Time, out []Action) []Action {
	for n := m.probesOutstanding(); n < m.hbMaxBurst(); n++ {
		var next *path
		for _, p := range m.paths {
			if p.probeWaiting && (next == nil || p.probeSeq < next.probeSeq) {
				next = p
			}
		}
		if next == nil {
			break
		}
		out = m.sendHeartbeat(next, now, out)
	}
	return out
}

// sendHeartbeat emits a heartbeat on p and starts its timeout.
func (m *Manager) sendHeartbeat(p *path, now time.Time, out []Action) []Action {
	// RFC 9260 section 5.4: "To probe an address for verification, an
	// endpoint will send HEARTBEAT chunks including a 64-bit random nonce
	// and a path indicator (to identify the address that the HEARTBEAT
	// chunk is sent to) within the HEARTBEAT parameter."
	p.hbNextArmed = false
	p.probeWaiting = false
	p.hbOutstanding = true
	p.hbNonce = m.cfg.Nonce()
	p.hbSentAt = now
	p.hbDeadline = now.Add(p.rto)
	p.hbSent++
	return append(out, Action{Kind: SendHeartbeat, Path: p.id, Nonce: p.hbNonce})
}

// scheduleHeartbeat arms p's heartbeat timer for its state. It does nothing
// while a heartbeat is outstanding: its ack or timeout calls it again.
func (m *Manager) scheduleHeartbeat(p *path, now time.Time) {
	if p.hbOutstanding {
		return
	}
	p.probeWaiting = false
	p.dataInPeriod = false
	switch {
	case p.state == Unconfirmed && !p.unreachable:
		// RFC 9260 section 5.4: "In each RTO, a probe MAY be sent on an
		// active UNCONFIRMED path in an attempt to move it to the
		// CONFIRMED state." The first one goes at once; each timeout
		// (after one backed-off RTO) sends the next.
		p.hbNext, p.hbNextArmed = now, true
	case p.state == Unconfirmed:
		// 5.4: "If during this probing the path becomes inactive, this
		// rate is lowered to the normal HEARTBEAT rate." Confirmation
		// heartbeats go even with HBDisabled.
		p.hbNext, p.hbNextArmed = now.Add(m.heartbeatInterval(p)), true
	case m.cfg.HBDisabled:
		p.hbNextArmed = false
	case p.state == PotentiallyFailed || p.state == Inactive:
		// RFC 7829 section 5.1 (paraphrased): HEARTBEATs are sent to a PF
		// destination once per RTO, with exponential back-off, without
		// adding HB.interval. Inactive paths are probed the same way so
		// they can come back (RFC 9260 section 8.3: "the endpoint SHOULD
		// continue HEARTBEAT on this destination address").
		p.hbNext, p.hbNextArmed = now, true
	default:
		p.hbNext, p.hbNextArmed = now.Add(m.heartbeatInterval(p)), true
	}
}

// heartbeatInterval returns the period of heartbeats on an idle path.
//
// RFC 9260 section 8.3: "On an idle destination address that is allowed to
// heartbeat, it is RECOMMENDED that a HEARTBEAT chunk is sent once per RTO
// of that destination address plus the protocol parameter 'HB.interval',
// with jittering of +/- 50% of the RTO value". So the interval is
// HB.interval + RTO + RTO*(r-0.5) = HB.interval + RTO*(0.5+r) with r in
// [0, 1): from HB.interval + RTO/2 (inclusive) to HB.interval + 3*RTO/2
// (exclusive).
//
// A Rand result outside [0, 1) is clamped into it.
func (m *Manager) heartbeatInterval(p *path) time.Duration {
	r := m.cfg.Rand()
	if !(r >= 0) { // also catches NaN
		r = 0
	}
	// RTO/2 + RTO*r rather than RTO*(0.5+r): the float sum 0.5+r rounds to
	// 1.5 for r just below 1, which would break the exclusive upper bound.
	j := time.Duration(float64(p.rto) * min(r, 1))
	if j >= p.rto {
		j = p.rto - 1
	}
	return m.cfg.HBInterval + p.rto/2 + j
}

// countError increments p's error counter and, with countAssoc, the
// association's, and applies the thresholds of RFC 9260 sections 8.1 and
// 8.2 and RFC 7829.
func (m *Manager) countError(p *path, countAssoc bool, now time.Time, out []Action) []Action {
	// RFC 9260 section 8.3: after marking the address inactive "the
	// endpoint SHOULD continue HEARTBEAT on this destination address but
	// SHOULD stop increasing the counter."
	if p.errors <= m.cfg.PathMaxRetrans {
		p.errors++
	}
	if p.state == Unconfirmed {
		// 5.4: "At the expiration of the RTO timer, the error counter of
		// any path that was probed but not CONFIRMED is incremented by one
		// and subjected to path failure detection, as defined in Section
		// 8.2." An unconfirmed path never becomes usable that way: it
		// stays Unconfirmed and is probed at the normal rate.
		if p.errors > m.cfg.PathMaxRetrans {
			p.unreachable = true
		}
	} else {
		switch {
		case p.errors > m.cfg.PathMaxRetrans && p.state != Inactive:
			// 8.2: "When the value in the error counter exceeds the
			// protocol parameter 'Path.Max.Retrans' of that destination
			// address, the endpoint SHOULD mark the destination transport
			// address as inactive, and a notification SHOULD be sent to
			// the upper layer."
			out = m.setState(p, Inactive, now, out)
		case p.errors > m.cfg.PFThreshold && p.state == Active:
			// RFC 7829 section 5.1, paraphrased: when the error counter of
			// an active destination exceeds PFMR, the endpoint marks it
			// as in the PF state.
			out = m.setState(p, PotentiallyFailed, now, out)
		}
	}
	if countAssoc {
		m.assocErrors++
		// 8.1: "If the value of this counter exceeds the limit indicated
		// in the protocol parameter 'Association.Max.Retrans', the
		// endpoint SHOULD consider the peer endpoint unreachable and SHALL
		// stop transmitting any more data to it (and thus the association
		// enters the CLOSED state)."
		if m.assocErrors > m.cfg.AssocMaxRetrans {
			m.fail()
			return append(out, Action{Kind: AssociationFailed, Path: p.id})
		}
	}
	return m.updateDataPath(out)
}

// setState moves a confirmed path to s, reports it and re-arms its
// heartbeat timer for the new state.
func (m *Manager) setState(p *path, s State, now time.Time, out []Action) []Action {
	old := p.state
	if old == s {
		return out
	}
	p.state = s
	m.scheduleHeartbeat(p, now)
	return append(out, Action{Kind: PathStateChanged, Path: p.id, Old: old, New: s})
}

// updateDataPath announces a change of the data path.
func (m *Manager) updateDataPath(out []Action) []Action {
	dp, ok := m.DataPath()
	if !ok || dp == m.current {
		return out
	}
	out = append(out, Action{Kind: PrimaryChanged, Path: m.current, To: dp})
	m.current = dp
	return out
}

// fail stops everything after AssociationFailed.
func (m *Manager) fail() {
	m.failed = true
	m.pending = nil
	for _, p := range m.paths {
		p.t3Running = false
		p.hbOutstanding = false
		p.hbNextArmed = false
		p.probeWaiting = false
	}
}

// enqueue queues actions for the next Tick, due at now.
func (m *Manager) enqueue(actions []Action, now time.Time) {
	if len(actions) == 0 {
		return
	}
	if len(m.pending) == 0 || now.Before(m.pendingAt) {
		m.pendingAt = now
	}
	m.pending = append(m.pending, actions...)
}

// startT3 (re)starts p's T3-rtx timer with p's current RTO.
func (m *Manager) startT3(p *path, now time.Time) {
	p.t3Running = true
	p.t3Started = now
	p.t3Deadline = now.Add(p.rto)
}

// measure applies an RTT measurement to p (RFC 9260 section 6.3.1).
func (m *Manager) measure(p *path, r time.Duration) {
	r = min(max(r, 0), maxRTT)
	if !p.measured {
		// C2: "When the first RTT measurement R is made, set SRTT <- R,
		// RTTVAR <- R/2, and RTO <- SRTT + 4 * RTTVAR."
		p.measured = true
		p.srtt = r
		p.rttvar = r / 2
	} else {
		// C3: "When a new RTT measurement R' is made, set
		// RTTVAR <- (1 - RTO.Beta) * RTTVAR + RTO.Beta * |SRTT - R'| and
		// SRTT <- (1 - RTO.Alpha) * SRTT + RTO.Alpha * R'" with RTO.Alpha
		// 1/8 and RTO.Beta 1/4; "The value of SRTT used in the update to
		// RTTVAR is its value before updating SRTT itself using the second
		// assignment."
		diff := p.srtt - r
		if diff < 0 {
			diff = -diff
		}
		p.rttvar = (3*p.rttvar + diff) / 4
		p.srtt = (7*p.srtt + r) / 8
	}
	// "After the computation, update RTO <- SRTT + 4 * RTTVAR."
	p.rto = m.clampRTO(p.srtt + 4*p.rttvar)
}

// clampRTO applies C6 ("Whenever RTO is computed, if it is less than
// RTO.Min seconds, then it is rounded up to RTO.Min seconds.") and C7 ("A
// maximum value may be placed on RTO provided it is at least RTO.max
// seconds.").
func (m *Manager) clampRTO(rto time.Duration) time.Duration {
	return min(max(rto, m.cfg.RTOMin), m.cfg.RTOMax)
}

// backOff doubles rto, capped at RTOMax (E2).
func (m *Manager) backOff(rto time.Duration) time.Duration {
	if rto > m.cfg.RTOMax/2 {
		return m.cfg.RTOMax
	}
	return m.clampRTO(2 * rto)
}

// best returns the path in state s, other than exclude, with the fewest
// errors, then the lowest SRTT (measured paths first), then the lowest ID.
func (m *Manager) best(s State, exclude PathID) *path {
	return m.bestWhere(s, func(id PathID) bool { return id == exclude })
}

// bestWhere is best over the paths in state s for which skip is false.
func (m *Manager) bestWhere(s State, skip func(PathID) bool) *path {
	var b *path
	for _, p := range m.paths {
		if p.state != s || skip(p.id) {
			continue
		}
		if b == nil || better(p, b) {
			b = p
		}
	}
	return b
}

// better reports whether a ranks before b; paths are scanned by ID, so
// equal ones keep the lower ID.
func better(a, b *path) bool {
	if a.errors != b.errors {
		return a.errors < b.errors
	}
	if a.measured != b.measured {
		return a.measured
	}
	return a.srtt < b.srtt
}

// get returns the path with ID id, or nil.
func (m *Manager) get(id PathID) *path {
	if id < 0 || int(id) >= len(m.paths) {
		return nil
	}
	return m.paths[id]
}

package pathdriver

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/pathmgr"
)

// ErrUnsentTSN is wrapped by the error OnSack returns for a SACK that
// acknowledges a TSN never sent.
var ErrUnsentTSN = errors.New("SACK acknowledges a TSN never sent")

// ErrHeartbeatInfo is wrapped by the error OnHeartbeatAck returns for a
// Heartbeat Info the Driver did not write, or for an address that is no
// path of the association.
var ErrHeartbeatInfo = errors.New("heartbeat info not ours")

// ErrHeartbeatNonce is wrapped by the error OnHeartbeatAck returns for a
// nonce other than the one of the heartbeat outstanding on the path: a
// forged or stale HEARTBEAT ACK.
var ErrHeartbeatNonce = errors.New("heartbeat nonce not the one outstanding")

// Config holds the parameters of one association's Driver.
type Config struct {
	// Paths configures pathmgr (validated by pathmgr.New).
	Paths pathmgr.Config
	// InitialTSN is the TSN of the association's first DATA chunk.
	InitialTSN uint32
	// MTU is the largest packet the association sends, common header
	// included: the unit of the Driver's re-send budget.
	MTU int
}

// Path is one destination transport address of the peer.
type Path struct {
	Remote netip.Addr
	// Confirmed is true for the address the handshake ran over (RFC 9260
	// section 5.4).
	Confirmed bool
}

// Heartbeat asks the caller to send a HEARTBEAT with Info as its Heartbeat
// Information on Path (RFC 9260 section 8.3).
type Heartbeat struct {
	Path pathmgr.PathID
	Info []byte
}

// Resend asks the caller to send Packet, DATA sent before and complete
// with its checksum, on Path at once.
type Resend struct {
	Path   pathmgr.PathID
	Packet []byte
}

// EventKind says what changed on a path.
type EventKind int

// The event kinds. The zero EventKind is not a valid kind.
const (
	// PathConfirmed: an unconfirmed path became active (section 5.4).
	PathConfirmed EventKind = iota + 1
	// PathUp: a potentially failed or inactive path is active again.
	PathUp
	// PathPotentiallyFailed: the path entered RFC 7829's PF state.
	PathPotentiallyFailed
	// PathDown: the path became inactive (section 8.2).
	PathDown
	// DataPathChanged: new DATA goes to Path now.
	DataPathChanged
)

// String returns the name of k.
func (k EventKind) String() string {
	switch k {
	case PathConfirmed:
		return "PathConfirmed"
	case PathUp:
		return "PathUp"
	case PathPotentiallyFailed:
		return "PathPotentiallyFailed"
	case PathDown:
		return "PathDown"
	case DataPathChanged:
		return "DataPathChanged"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a change to report to the user.
type Event struct {
	Kind EventKind
	Path pathmgr.PathID
}

// Output is what the caller has to do after a call: send the heartbeats
// and the re-sends, report the events in order, and close the association
// when Failed (RFC 9260 section 8.1: the peer is unreachable).
type Output struct {
	Heartbeats []Heartbeat
	Resends    []Resend
	Events     []Event
	Failed     bool
}

// Driver is the path driver of one association. Create it with New. It
// is not safe for concurrent use: its owner calls it under one lock (in
// sock, multipath.mu).
type Driver struct {
	pm  *pathmgr.Manager
	out *outstanding
	mtu int
	// remotes is each path's peer address, by PathID.
	remotes []netip.Addr
	// reported is each path's state as last reported by an Event, and
	// data the data path last reported.
	reported []pathmgr.State
	// infos is events' snapshot of the paths, its array reused.
	infos []pathmgr.PathInfo
	data  pathmgr.PathID
}

// New returns a Driver for paths (their PathIDs are their indexes), with
// paths[primary] as the primary path, which must be confirmed. Its first
// Tick is due at once: it sends the confirmation heartbeats. The error
// wraps pathmgr.ErrInvalidConfig or pathmgr.ErrUnconfirmed.
func New(cfg Config, paths []Path, primary int, now time.Time) (*Driver, error) {
	if cfg.MTU <= wire.CommonHeaderSize {
		return nil, fmt.Errorf("%w: MTU %d", pathmgr.ErrInvalidConfig, cfg.MTU)
	}
	pm, err := pathmgr.New(cfg.Paths)
	if err != nil {
		return nil, err
	}
	d := &Driver{pm: pm, out: newOutstanding(cfg.InitialTSN), mtu: cfg.MTU}
	for _, p := range paths {
		pm.AddPath(p.Confirmed, now)
		d.remotes = append(d.remotes, p.Remote)
	}
	if err := pm.SetPrimary(pathmgr.PathID(primary)); err != nil {
		return nil, fmt.Errorf("primary path %d: %w", primary, err)
	}
	for _, info := range pm.Paths() {
		d.reported = append(d.reported, info.State)
	}
	d.data, _ = pm.DataPath()
	return d, nil
}

// Paths returns pathmgr's snapshot of the paths, ordered by ID.
func (d *Driver) Paths() []pathmgr.PathInfo { return d.pm.Paths() }

// Primary returns the user's primary path.
func (d *Driver) Primary() pathmgr.PathID { return d.pm.Primary() }

// NextDeadline returns when Tick is due next, and false when nothing is
// scheduled (the association failed).
func (d *Driver) NextDeadline() (time.Time, bool) { return d.pm.NextDeadline() }

// SetPrimary makes p the user's primary path (RFC 9260 section 5.1.2); it
// must be confirmed. New DATA moves there at once if it is active. The
// error wraps pathmgr.ErrUnknownPath or pathmgr.ErrUnconfirmed.
func (d *Driver) SetPrimary(p pathmgr.PathID) (Output, error) {
	if err := d.pm.SetPrimary(p); err != nil {
		return Output{}, err
	}
	return Output{Events: d.events()}, nil
}

// dataPath is where new DATA goes, or the primary when no path is usable.
func (d *Driver) dataPath() pathmgr.PathID {
	if id, ok := d.pm.DataPath(); ok {
		return id
	}
	return d.pm.Primary()
}

// Route returns the path for a packet pion wrote, complete with its
// checksum, and records its DATA; data is false for a packet without DATA
// (the caller may then answer on the path the chunk it replies to came
// from instead, RFC 9260 section 6.4). A DATA packet is kept for a re-send
// until acknowledged: the caller must not change it afterwards.
//
// A TSN sent before is a retransmission of pion's (RACK, a tail-loss
// probe, its T3-rtx): it goes where pathmgr.RetransmitPath says, away
// from the path of its last copy and from those earlier copies were lost
// on (section 6.4), and gives no RTT sample (Karn's rule, section 6.3.1
// C5). A retransmission of DATA a SACK already acknowledged (pion writes
// it before it reads that SACK) is not recorded: no later SACK would
// acknowledge it again, and its path's T3-rtx would expire for nothing.
func (d *Driver) Route(pkt []byte, now time.Time) (p pathmgr.PathID, data bool) {
	var buf [32]uint32
	tsns := dataTSNs(buf[:0], pkt)
	if len(tsns) == 0 {
		return d.dataPath(), false
	}
	d.out.sent(tsns)
	if tsns = d.out.unacked(tsns); len(tsns) == 0 {
		return d.dataPath(), true
	}
	last, lost, rtx := d.out.isRetransmission(tsns)
	id, ok := d.pm.DataPath()
	if rtx {
		id = d.pm.RetransmitPath(last, lost...)
		ok = id != pathmgr.NoPath
	}
	if !ok {
		return d.pm.Primary(), true
	}
	d.out.add(pkt, tsns, id, now, rtx)
	// RFC 9260 section 6.3.2 R1: T3-rtx runs on every path DATA went to.
	d.pm.DataSent(id, now)
	return id, true
}

// OnSack applies a SACK the peer sent (RFC 9260 section 3.3.4) before pion
// reads it. A SACK that acknowledges a TSN never sent changes nothing and
// returns an error wrapping ErrUnsentTSN: section 12.4, "An SCTP
// implementation MUST abort the association if it receives a SACK chunk
// acknowledging a TSN that has not been sent."
func (d *Driver) OnSack(v wire.SackView, now time.Time) (Output, error) {
	if tsn, bad := d.out.unsentAcked(v); bad {
		return Output{}, fmt.Errorf("%w: TSN %d (highest TSN sent %d)", ErrUnsentTSN, tsn, d.out.highest)
	}
	// Section 6.1 rule A: pathmgr tells zero window probes from lost DATA
	// by the peer's a_rwnd and its SACKs still arriving.
	d.pm.SackReceived(v.ARwnd(), now)
	acks, bytes := d.out.ack(v, now)
	for _, ack := range acks {
		d.pm.DataAcked(ack.path, ack.rtt, ack.hasRTT, ack.allDone, now)
	}
	var o Output
	d.releaseMarked(bytes, int(min(v.ARwnd(), 1<<30)), now, &o)
	o.Events = d.events()
	return o, nil
}

// releaseMarked re-sends DATA marked for retransmission (see resendT3) as
// a SACK frees room for it: RFC 9260 section 6.3.3, "Any DATA chunks that
// were sent to the address for which the T3-rtx timer expired but did not
// fit in an MTU (rule E3 above) SHOULD be marked for retransmission and
// sent as soon as cwnd allows (normally, when a SACK arrives)". The room
// is slow start's (section 7.2.1): the acked bytes left the flight, and
// cwnd grows by "the total size of the previously outstanding DATA chunk(s)
// acknowledged" up to one MTU; so acked + min(acked, MTU), bounded by the
// peer's window, lowest TSN first, each packet where
// pathmgr.RetransmitPath sends it (away from the paths its copies were lost
// on). Without it a marked packet waited for pion's own T3-rtx, which pion
// backs off on its own and keeps at 1 s at least: the stack's timer no
// longer covers DATA outstanding on no path.
func (d *Driver) releaseMarked(acked, rwnd int, now time.Time, o *Output) {
	room := min(acked+min(acked, d.mtu), rwnd)
	if room <= 0 {
		return
	}
	var buf [32]uint32
	for _, op := range d.out.candidates(func(p pathmgr.PathID) bool { return p == pathmgr.NoPath }) {
		if room <= 0 {
			break
		}
		// Section 6.1 rule B: "The sender MAY exceed cwnd by up to
		// (PMTU-1) bytes on a new transmission if the cwnd is not
		// exceeded prior": the last packet may overshoot the room.
		room -= len(op.pkt)
		_, lost, _ := d.out.isRetransmission(dataTSNs(buf[:0], op.pkt))
		to := d.pm.RetransmitPath(pathmgr.NoPath, lost...)
		if to == pathmgr.NoPath {
			return
		}
		d.resend(op, to, now, map[pathmgr.PathID]int{}, o)
	}
}

// OnHeartbeatAck applies the Heartbeat Information of a HEARTBEAT ACK
// (RFC 9260 sections 5.4 and 8.3) and returns the path it acknowledges: a
// path confirmed, its RTT measured, its error counter cleared. A Heartbeat
// Info the Driver did not write returns an error wrapping
// ErrHeartbeatInfo, a nonce other than the one outstanding on the path
// one wrapping ErrHeartbeatNonce; neither changes anything.
func (d *Driver) OnHeartbeatAck(info []byte, now time.Time) (pathmgr.PathID, Output, error) {
	nonce, _, to, ok := parseHeartbeatInfo(info)
	if !ok {
		return pathmgr.NoPath, Output{}, fmt.Errorf("%w: %d bytes", ErrHeartbeatInfo, len(info))
	}
	id := pathmgr.PathID(slices.Index(d.remotes, to))
	if id == pathmgr.NoPath {
		return pathmgr.NoPath, Output{}, fmt.Errorf("%w: no path to %v", ErrHeartbeatInfo, to)
	}
	if !d.pm.HeartbeatAcked(id, nonce, now) {
		return id, Output{}, fmt.Errorf("%w: path to %v", ErrHeartbeatNonce, to)
	}
	return id, Output{Events: d.events()}, nil
}

// Tick fires the timers due at or before now and carries out what pathmgr
// decided: heartbeats, the Driver's own re-sends (see resendT3 and
// resendFailover), events, and the association's failure.
func (d *Driver) Tick(now time.Time) Output {
	var o Output
	// The bytes re-sent to each path in this Tick: the re-sends share the
	// destination's congestion window.
	sentTo := map[pathmgr.PathID]int{}
	for _, act := range d.pm.Tick(now) {
		switch act.Kind {
		case pathmgr.SendHeartbeat:
			if int(act.Path) < len(d.remotes) {
				o.Heartbeats = append(o.Heartbeats, Heartbeat{Path: act.Path, Info: heartbeatInfo(act.Nonce, now, d.remotes[act.Path])})
			}
		case pathmgr.Retransmit:
			d.resendT3(act.Path, act.To, now, sentTo, &o)
		case pathmgr.PrimaryChanged:
			d.resendFailover(act.To, now, sentTo, &o)
		case pathmgr.AssociationFailed:
			o.Failed = true
		}
	}
	o.Events = d.events()
	return o
}

// initialWindow is a path's initial congestion window in bytes, RFC 9260
// section 7.2.1: "The initial cwnd before data transmission MUST be set
// to min(4 * MTU, max (2 * MTU, 4380 bytes))".
func (d *Driver) initialWindow() int {
	return min(4*d.mtu, max(2*d.mtu, 4380))
}

// resendT3 handles the expiry of from's T3-rtx timer, which pathmgr
// decided to retransmit on to.
//
// RFC 9260 section 6.3.3 E3: "Determine how many of the earliest (i.e.,
// lowest TSN) outstanding DATA chunks for the address for which the T3-rtx
// has expired will fit into a single packet ... Bundle and retransmit
// those K DATA chunks in a single packet to the destination endpoint." So
// one packet goes, the one with the lowest TSN, and section 7.2.3 resets
// the path's cwnd to one MTU: the stack has no congestion window of its
// own, and sending all that was outstanding at once (as the stack once
// did) went outside pion's. The rest, E3 goes on, "SHOULD be marked for
// retransmission and sent as soon as cwnd allows": the Driver marks it
// (lost on from, outstanding on no path) and sends it as SACKs arrive
// (releaseMarked), unless pion's own retransmissions, which run under its
// congestion window and are routed away from from, re-send it first. If a failover re-send in the same Tick already sent the
// earliest DATA to to, nothing more goes.
func (d *Driver) resendT3(from, to pathmgr.PathID, now time.Time, sentTo map[pathmgr.PathID]int, o *Output) {
	for i, op := range d.out.candidates(func(p pathmgr.PathID) bool { return p == from }) {
		d.out.leave(op)
		if i == 0 && sentTo[to] == 0 {
			d.resend(op, to, now, sentTo, o)
		}
	}
	d.stopIdle(from, to)
}

// resendFailover handles a change of the data path to to: what is
// outstanding on paths that are not active (the ones that failed, and
// DATA marked for retransmission) goes again on to at once, rather than at
// pion's backed-off timer (RFC 9260 section 6.4.1: "the SCTP endpoint
// SHOULD try to send the data to an alternate active destination transport
// address if one exists"), lowest TSN first, within to's initial
// congestion window (section 7.2.1; to carried none of this DATA, and the
// bytes a T3-rtx re-send of the same Tick sent count against it). What
// does not fit is marked for retransmission, as in resendT3. DATA outstanding on an active path (a user's SetPrimary, a
// switchback to a recovered primary) stays where it is: it will be
// acknowledged there.
func (d *Driver) resendFailover(to pathmgr.PathID, now time.Time, sentTo map[pathmgr.PathID]int, o *Output) {
	active := map[pathmgr.PathID]bool{}
	for _, info := range d.pm.Paths() {
		active[info.ID] = info.State == pathmgr.Active
	}
	budget := d.initialWindow() - sentTo[to]
	sent := false
	from := []pathmgr.PathID{to}
	for _, op := range d.out.candidates(func(p pathmgr.PathID) bool { return p != to && !active[p] }) {
		if !slices.Contains(from, op.path) {
			from = append(from, op.path)
		}
		d.out.leave(op)
		if n := len(op.pkt); budget >= n || (budget > 0 && !sent) {
			budget -= n
			d.resend(op, to, now, sentTo, o)
			sent = true
		}
	}
	d.stopIdle(from...)
}

// resend sends op again on to: RFC 9260 section 6.3.2 R1, "Every time a
// DATA chunk is sent to any address (including a retransmission), if the
// T3-rtx timer of that address is not running, start it running".
func (d *Driver) resend(op *outPacket, to pathmgr.PathID, now time.Time, sentTo map[pathmgr.PathID]int, o *Output) {
	pkt := d.out.resend(op, to, now)
	sentTo[to] += len(pkt)
	o.Resends = append(o.Resends, Resend{Path: to, Packet: pkt})
	d.pm.DataSent(to, now)
}

// stopIdle stops the T3-rtx timer of each of paths left with nothing
// outstanding by a re-send (pathmgr starts the timer of a T3-rtx
// retransmission's destination before knowing whether anything goes
// there): it would expire for nothing and count an error. Section 6.3.2
// R2 stops it when all is acknowledged; here nothing was, so no error
// counter is cleared (pathmgr.Manager.DataMoved).
func (d *Driver) stopIdle(paths ...pathmgr.PathID) {
	for _, p := range paths {
		if p != pathmgr.NoPath && d.out.onPath[p] == 0 {
			d.pm.DataMoved(p)
		}
	}
}

// events compares the paths' states and the data path with what was last
// reported and returns the events for the changes.
func (d *Driver) events() []Event {
	var evs []Event
	d.infos = d.pm.AppendPaths(d.infos[:0])
	for _, info := range d.infos {
		old := d.reported[info.ID]
		if old == info.State {
			continue
		}
		d.reported[info.ID] = info.State
		var k EventKind
		switch {
		case info.State == pathmgr.Active && old == pathmgr.Unconfirmed:
			k = PathConfirmed
		case info.State == pathmgr.Active:
			k = PathUp
		case info.State == pathmgr.PotentiallyFailed:
			k = PathPotentiallyFailed
		case info.State == pathmgr.Inactive:
			k = PathDown
		default:
			continue
		}
		evs = append(evs, Event{Kind: k, Path: info.ID})
	}
	if dp, ok := d.pm.DataPath(); ok && dp != d.data {
		d.data = dp
		evs = append(evs, Event{Kind: DataPathChanged, Path: dp})
	}
	return evs
}

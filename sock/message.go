package sock

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/usock/usock/pathmgr"
)

// Message is a message received on one of an endpoint's associations.
type Message struct {
	// Association is the association it arrived on.
	Association *Association
	// Stream is the stream identifier and PPID the Payload Protocol
	// Identifier (RFC 9260 section 3.3.1).
	Stream uint16
	PPID   uint32
	// Payload is the message; it belongs to the receiver.
	Payload []byte
	// Time is when the stack took it from the association.
	Time time.Time
}

// SendInfo is the metadata of a message to send (Erlang sock's MetaData).
type SendInfo struct {
	// Stream is the stream identifier; it must be below the negotiated
	// number of outbound streams.
	Stream uint16
	// PPID is the Payload Protocol Identifier, opaque to SCTP.
	PPID uint32
	// Unordered sends the message unordered (the U bit).
	Unordered bool
	// Lifetime, if set, makes the message partially reliable (PR-SCTP,
	// RFC 3758, timed reliability): it is abandoned when not delivered in
	// that time. MaxRetransmits, if set, abandons it after that many
	// retransmissions instead. At most one of the two may be set. pion
	// keeps these settings per stream: a message uses the settings of the
	// latest Send on its stream.
	//
	// pion measures the lifetime from the message's latest transmission,
	// not from its Send: it resets the send time of a chunk just before
	// it checks it (movePendingDataChunkToInflightQueue and
	// getDataPacketsToRetransmit, then checkPartialReliabilityStatus), and
	// checks it only then. So a Lifetime of 1 ms or more never abandons a
	// message; one below 1 ms (pion counts whole milliseconds, 0) abandons
	// it after its first transmission. MaxRetransmits works as RFC 7496
	// section 3.1 says.
	Lifetime       time.Duration
	MaxRetransmits int
	// Context is opaque to the stack: it comes back in the EventSendFailed
	// of this message, if it fails (RFC 6458 section 5.3.4, snd_context).
	Context uint32
}

// Send sends one message (Erlang sock's send_msg). It blocks while the
// association's send buffer is full (bounded memory, nothing dropped),
// until ctx is done. A message bigger than the maximum message size, on an
// invalid stream or empty gets an error and nothing is sent.
//
// A message Send returns nil for is acknowledged by the peer or reported
// in exactly one EventSendFailed (RFC 6458 SCTP_SEND_FAILED), with
// info.Stream, PPID, Context and the payload: when pion abandons it
// (PR-SCTP, Detail "abandoned (PR-SCTP)") or when the association goes
// down before the peer acknowledged it (Detail "unacknowledged: ..." if
// it was transmitted, the peer may have it; "unsent: ..." if it never
// was). A Send that returns an error took nothing and raises no event.
// The events of one stream's ordered messages come in the order of their
// Sends, and so do those of its unordered ones; across streams and
// orderings, those pion transmitted in the order of their TSNs, then the
// unsent. A message the peer acknowledged whole in Gap Ack Blocks is taken
// as delivered if pion abandons it (the peer holds it and delivers it,
// RFC 3758 section 3.6), and is reported "unacknowledged" if the
// association goes down first. The events share the endpoint's bounded
// event queue: when it overflows the oldest events are dropped and
// counted (EndpointStats.EventsDropped). The stack keeps a copy of the
// payload from Send until the message is acknowledged or reported.
func (a *Association) Send(ctx context.Context, payload []byte, info SendInfo) error {
	if len(payload) == 0 {
		return fmt.Errorf("sock: send: %w", ErrEmptyMessage)
	}
	if len(payload) > a.cfg.maxMessageSize {
		return fmt.Errorf("sock: send %d bytes (maximum %d): %w", len(payload), a.cfg.maxMessageSize, ErrMessageTooBig)
	}
	if info.Lifetime < 0 || info.MaxRetransmits < 0 || (info.Lifetime > 0 && info.MaxRetransmits > 0) {
		return fmt.Errorf("sock: %w: lifetime %v and max retransmissions %d", ErrInvalidArgument, info.Lifetime, info.MaxRetransmits)
	}
	if err := a.waitUp(ctx); err != nil {
		return err
	}
	st, err := a.sendStream(ctx, info)
	if err != nil {
		return err
	}

	if err := st.acquire(ctx); err != nil {
		return err
	}
	defer st.release()
	st.setReliability(info)
	// Recorded before pion may send it; forgotten again if pion does not
	// take it (see sendTracker).
	rec := a.tx.queue(payload, info)
	err = st.write(ctx, payload, info.PPID)
	a.tx.sendDone(a, rec, err == nil)
	if err != nil {
		if a.life.closed() {
			return fmt.Errorf("sock: send: %w: %w", ErrNotEstablished, a.closedErr())
		}
		if a.life.current() != StateEstablished || a.life.peerShutdown() {
			return fmt.Errorf("sock: send: %w", ErrNotEstablished)
		}
		return fmt.Errorf("sock: send: %w", err)
	}
	a.count(&a.stats.messagesOut)
	return nil
}

// PathState is the state of a path (RFC 9260 section 8.2, RFC 7829).
type PathState int

// Path states.
const (
	// PathUnconfirmed: an address the peer listed that no HEARTBEAT has
	// confirmed yet (RFC 9260 section 5.4); it carries no data.
	PathUnconfirmed PathState = iota
	// PathActive: the path is confirmed and reachable.
	PathActive
	// PathPotentiallyFailed: the path timed out more than the PF threshold
	// allows (RFC 7829); it gets no new data until it answers again.
	PathPotentiallyFailed
	// PathInactive: the path exceeded Path.Max.Retrans (RFC 9260 section
	// 8.2); heartbeats probe it until it answers again.
	PathInactive
)

// String names the state.
func (s PathState) String() string {
	switch s {
	case PathActive:
		return "active"
	case PathPotentiallyFailed:
		return "potentially failed"
	case PathInactive:
		return "inactive"
	default:
		return "unconfirmed"
	}
}

func pathStateOf(s pathmgr.State) PathState {
	switch s {
	case pathmgr.Active:
		return PathActive
	case pathmgr.PotentiallyFailed:
		return PathPotentiallyFailed
	case pathmgr.Inactive:
		return PathInactive
	default:
		return PathUnconfirmed
	}
}

// Path describes one path of an association: the peer address it leads to
// and how it is used (Erlang sock's path()).
type Path struct {
	// Remote is the peer's address, Local the address sent from and
	// RemoteUDPPort the peer's UDP encapsulation port on this path
	// (learned from its packets, RFC 6951 section 5.4).
	Remote        netip.Addr
	Local         netip.Addr
	RemoteUDPPort uint16
	State         PathState
	// Primary marks the user's primary path; InUse the path new data goes
	// to now (another one while the primary is failed).
	Primary, InUse bool
	// SRTT and RTO are the path's smoothed round-trip time (zero before
	// the first measurement) and retransmission timeout (RFC 9260 section
	// 6.3); ErrorCount its error counter (section 8.2).
	SRTT, RTO  time.Duration
	ErrorCount int
	// HeartbeatsSent and HeartbeatsAcked count the stack's HEARTBEATs on
	// the path and the answers to them.
	HeartbeatsSent, HeartbeatsAcked uint64
	PacketsOut, BytesOut            uint64
	PacketsIn, BytesIn              uint64
}

// Paths returns the association's paths, one per peer address (Erlang sock's
// get_paths).
func (a *Association) Paths() []Path {
	var infos map[pathmgr.PathID]pathmgr.PathInfo
	if mp := a.mp.Load(); mp != nil {
		infos = mp.infos()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Path, len(a.ps.all()))
	for i, p := range a.ps.all() {
		st := PathUnconfirmed
		if p.isConfirmed() {
			st = PathActive
		}
		out[i] = Path{
			Remote: p.remoteAddr(), Local: p.from(), RemoteUDPPort: p.peerUDPPort(),
			State: st, Primary: p == a.ps.main(), InUse: p == a.ps.main(),
		}
		out[i].PacketsOut, out[i].BytesOut, out[i].PacketsIn, out[i].BytesIn = p.counters()
		if in, ok := infos[p.pathID()]; ok {
			out[i].State = pathStateOf(in.State)
			out[i].Primary, out[i].InUse = in.Primary, in.InUse
			out[i].SRTT, out[i].RTO, out[i].ErrorCount = in.SRTT, in.RTO, in.ErrorCount
			out[i].HeartbeatsSent, out[i].HeartbeatsAcked = in.HeartbeatsSent, in.HeartbeatsAcked
		}
	}
	return out
}

// AssociationStats are an association's counters.
type AssociationStats struct {
	MessagesIn, MessagesOut uint64
	// DroppedForeign counts packets from an address or port not in the
	// association; DroppedQueue packets dropped because pion's input queue
	// was full; DroppedStream DATA chunks on invalid stream identifiers;
	// DroppedMalformed packets with a malformed DATA chunk.
	DroppedForeign, DroppedQueue, DroppedStream, DroppedMalformed uint64
	// Unrecognized counts unrecognised chunks (RFC 9260 section 3.2).
	Unrecognized uint64
	// Unreported counts error causes (Unrecognized Chunk Type, Invalid
	// Stream Identifier) and HEARTBEAT ACKs left out of a reply because
	// the reply to a packet is never larger than that packet nor than the
	// association's packet size.
	Unreported uint64
	// HeartbeatsIn counts HEARTBEATs answered; ForgedHeartbeatAcks
	// HEARTBEAT-ACKs whose nonce we never sent (they confirm nothing).
	HeartbeatsIn, ForgedHeartbeatAcks uint64
	// RemoteErrors counts the error causes of the peer's ERROR chunks
	// after establishment (Stale Cookie Errors aside), RemoteErrorsUnreported
	// those of them that raised no EventRemoteError because as many of the
	// association's as may wait in the event queue were waiting there;
	// SendFailed counts EventSendFailed.
	RemoteErrors, RemoteErrorsUnreported, SendFailed uint64
	// BytesSent and BytesReceived count pion's SCTP bytes; CWND is the
	// congestion window, RWND the peer's receive window and SRTT pion's
	// smoothed round-trip time (zero before establishment).
	BytesSent, BytesReceived uint64
	CWND, RWND               uint32
	SRTT                     time.Duration
	// RecvQueued is the number of messages waiting for Association.Recv
	// (RecvPerAssociation; zero otherwise).
	RecvQueued int
}

// Stats returns the association's counters and gauges.
func (a *Association) Stats() AssociationStats {
	st := AssociationStats{
		MessagesIn: a.stats.messagesIn.Load(), MessagesOut: a.stats.messagesOut.Load(),
		DroppedForeign: a.stats.droppedForeign.Load(), DroppedQueue: a.stats.droppedQueue.Load(),
		DroppedStream: a.stats.droppedStream.Load(), DroppedMalformed: a.stats.droppedMalformed.Load(),
		Unrecognized: a.stats.unrecognized.Load(), Unreported: a.stats.unreported.Load(),
		HeartbeatsIn: a.stats.heartbeatsIn.Load(), ForgedHeartbeatAcks: a.stats.forgedHeartbeatAcks.Load(),
		RemoteErrors: a.stats.remoteErrors.Load(), RemoteErrorsUnreported: a.stats.remoteErrorsUnreported.Load(),
		SendFailed: a.stats.sendFailed.Load(),
	}
	if a.rq != nil {
		st.RecvQueued = a.rq.len()
	}
	if pa := a.engine(); pa != nil {
		st.BytesSent, st.BytesReceived = pa.BytesSent(), pa.BytesReceived()
		st.CWND, st.RWND = pa.CWND(), pa.RWND()
		st.SRTT = time.Duration(pa.SRTT() * float64(time.Millisecond))
	}
	return st
}

// SetPathLocal makes the path to remote send from the local address
// local, which must be one of the endpoint's, or of the family of one of
// its wildcard addresses (RFC 9260 leaves the source address to the
// implementation; this makes it the user's choice). It stays until
// changed again.
func (a *Association) SetPathLocal(remote, local netip.Addr) error {
	p := a.pathFor(remote.Unmap())
	if p == nil {
		return fmt.Errorf("sock: no path to %v: %w", remote, ErrNotFound)
	}
	local = local.Unmap()
	if local.IsUnspecified() || !a.ep.serves(local) || local.Is4() != remote.Unmap().Is4() {
		return fmt.Errorf("sock: %w: %v is not a local address of the endpoint of the family of %v", ErrInvalidArgument, local, remote)
	}
	p.pin(local)
	return nil
}

// SetPathUDPPort sets the peer's UDP encapsulation port on the path to
// remote (RFC 6951 section 5.4: learned from the peer's packets, which
// override it again when they arrive from another port).
func (a *Association) SetPathUDPPort(remote netip.Addr, port uint16) error {
	p := a.pathFor(remote.Unmap())
	if p == nil {
		return fmt.Errorf("sock: no path to %v: %w", remote, ErrNotFound)
	}
	if port == 0 {
		return fmt.Errorf("sock: %w: UDP port 0", ErrInvalidArgument)
	}
	p.setUDPPort(port)
	return nil
}

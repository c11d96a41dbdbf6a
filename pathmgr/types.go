package pathmgr

import (
	"fmt"
	"time"
)

// PathID identifies a path (a destination transport address of the peer)
// within one Manager. IDs are assigned by AddPath from 0 upwards.
type PathID int

// NoPath is returned where no path qualifies.
const NoPath PathID = -1

// State is the state of a path.
type State int

// The path states. Unconfirmed is RFC 9260 section 5.4's UNCONFIRMED; the
// other three apply to confirmed paths only: ACTIVE and INACTIVE of section
// 8.2 and RFC 7829's Potentially Failed.
const (
	Unconfirmed State = iota
	Active
	PotentiallyFailed
	Inactive
)

// String returns the name of s.
func (s State) String() string {
	switch s {
	case Unconfirmed:
		return "Unconfirmed"
	case Active:
		return "Active"
	case PotentiallyFailed:
		return "PotentiallyFailed"
	case Inactive:
		return "Inactive"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// ActionKind says what an Action asks the caller to do.
type ActionKind int

// The action kinds. The zero ActionKind is not a valid kind.
const (
	// SendHeartbeat: send a HEARTBEAT with Nonce in its Heartbeat Info to Path.
	SendHeartbeat ActionKind = iota + 1
	// Retransmit: Path's T3-rtx expired; retransmit its outstanding DATA to
	// To. The Manager has already backed off Path's RTO (E2), counted the
	// errors and started To's T3-rtx timer (rule R1); calling DataSent for
	// the retransmission is harmless.
	Retransmit
	// PathStateChanged: Path went from Old to New; report it to the user.
	PathStateChanged
	// PrimaryChanged: new DATA now goes to To (Path holds the previous data
	// path, or NoPath).
	PrimaryChanged
	// AssociationFailed: the association error counter exceeded
	// AssocMaxRetrans (RFC 9260 section 8.1); the peer is unreachable and
	// the association is to be closed. Reported once; the Manager is dead
	// afterwards.
	AssociationFailed
)

// String returns the name of k.
func (k ActionKind) String() string {
	switch k {
	case SendHeartbeat:
		return "SendHeartbeat"
	case Retransmit:
		return "Retransmit"
	case PathStateChanged:
		return "PathStateChanged"
	case PrimaryChanged:
		return "PrimaryChanged"
	case AssociationFailed:
		return "AssociationFailed"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is something the caller has to do, returned by Tick and HeartbeatNow.
type Action struct {
	Kind ActionKind
	// Path is where to send (SendHeartbeat), the path whose T3-rtx expired
	// (Retransmit), the path that changed (PathStateChanged), the previous
	// data path (PrimaryChanged) or the path whose timeout failed the
	// association (AssociationFailed).
	Path PathID
	// To is where to retransmit (Retransmit) or the new data path
	// (PrimaryChanged).
	To PathID
	// Nonce is the heartbeat nonce (SendHeartbeat).
	Nonce uint64
	// Old and New are the states before and after (PathStateChanged).
	Old, New State
}

// String returns a short description of a, for logs and test failures.
func (a Action) String() string {
	switch a.Kind {
	case SendHeartbeat:
		return fmt.Sprintf("SendHeartbeat(path %d, nonce %#x)", a.Path, a.Nonce)
	case Retransmit:
		return fmt.Sprintf("Retransmit(from %d to %d)", a.Path, a.To)
	case PathStateChanged:
		return fmt.Sprintf("PathStateChanged(path %d, %v -> %v)", a.Path, a.Old, a.New)
	case PrimaryChanged:
		return fmt.Sprintf("PrimaryChanged(%d -> %d)", a.Path, a.To)
	case AssociationFailed:
		return fmt.Sprintf("AssociationFailed(path %d)", a.Path)
	}
	return fmt.Sprintf("Action(%v)", a.Kind)
}

// PathInfo is a snapshot of one path, returned by Manager.Paths.
type PathInfo struct {
	ID    PathID
	State State
	// Primary is true for the user's primary path (Manager.Primary).
	Primary bool
	// InUse is true for the path new data currently goes to (the last
	// PrimaryChanged target).
	InUse bool
	// SRTT and RTTVAR are zero until the first RTT measurement.
	SRTT, RTTVAR, RTO time.Duration
	// ErrorCount is the path error counter of RFC 9260 section 8.2.
	ErrorCount      int
	HeartbeatsSent  uint64
	HeartbeatsAcked uint64
	// Outstanding is true while a heartbeat sent on the path awaits its ack.
	Outstanding bool
	// T3Running is true while the path's T3-rtx timer runs.
	T3Running bool
}

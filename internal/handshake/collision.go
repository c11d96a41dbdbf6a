package handshake

// CookieAction is what to do with a valid COOKIE-ECHO that arrives while an
// association with the same peer already exists (RFC 9260 section 5.2.4).
type CookieAction int

const (
	// ActionRestart (A): the peer restarted. Tear the old association down
	// (its data is lost to the peer anyway), start a new one from the cookie,
	// tell the user, send COOKIE-ACK.
	ActionRestart CookieAction = iota + 1
	// ActionCollision (B): both sides sent INIT at once. Take the peer's tag
	// from the cookie, enter ESTABLISHED if not already, send COOKIE-ACK.
	ActionCollision
	// ActionDiscardLate (C): "the local endpoint's cookie has arrived late";
	// silently discard.
	ActionDiscardLate
	// ActionReplay (D): both tags match: the association exists as the
	// cookie describes. Enter ESTABLISHED if not already, send COOKIE-ACK.
	ActionReplay
	// ActionDiscard (E): none of the cases apply: silently discard.
	ActionDiscard
)

// String names the action and its row letter in the RFC table.
func (a CookieAction) String() string {
	switch a {
	case ActionRestart:
		return "restart (A)"
	case ActionCollision:
		return "collision (B)"
	case ActionDiscardLate:
		return "late cookie (C)"
	case ActionReplay:
		return "replay (D)"
	default:
		return "discard (E)"
	}
}

type cell uint8

const (
	anyValue cell = iota // A: any value
	match                // M
	noMatch              // X
	zero                 // 0: no value
)

func (c cell) holds(cookie, tcb uint32) bool {
	switch c {
	case match:
		return cookie == tcb
	case noMatch:
		return cookie != tcb
	case zero:
		return cookie == 0
	default:
		return true
	}
}

// cookieTable is table 7 of RFC 9260 section 5.2.4, "Handling of a COOKIE
// ECHO when a TCB Exists", row for row:
//
//	+============+============+===============+==============+========+
//	| Local Tag  | Peer's Tag | Local-Tie-Tag | Peer-Tie-Tag | Action |
//	+============+============+===============+==============+========+
//	| X          | X          | M             | M            | (A)    |
//	| M          | X          | A             | A            | (B)    |
//	| M          | 0          | A             | A            | (B)    |
//	| X          | M          | 0             | 0            | (C)    |
//	| M          | M          | A             | A            | (D)    |
//	+============+============+===============+==============+========+
//
// The "0" of the Peer's Tag column compares the association's peer tag (not
// yet known in COOKIE-WAIT); the "0" of the tie-tag columns the cookie's.
var cookieTable = []struct {
	local, peer, tieLocal, tiePeer cell
	action                         CookieAction
}{
	{noMatch, noMatch, match, match, ActionRestart},
	{match, noMatch, anyValue, anyValue, ActionCollision},
	{match, zero, anyValue, anyValue, ActionCollision},
	{noMatch, match, zero, zero, ActionDiscardLate},
	{match, match, anyValue, anyValue, ActionReplay},
}

// Existing is the pair of tags of an association that already exists.
// PeerTag is zero while the association waits for an INIT-ACK.
type Existing struct {
	LocalTag, PeerTag uint32
}

// DecideCookie applies table 7 of RFC 9260 section 5.2.4 to a verified
// cookie and the existing association. peerTag is the Initiate Tag of the
// INIT inside the cookie.
func DecideCookie(s *State, peerTag uint32, tcb Existing) CookieAction {
	for _, row := range cookieTable {
		peerOK := row.peer.holds(peerTag, tcb.PeerTag)
		if row.peer == zero {
			peerOK = tcb.PeerTag == 0
		}
		if row.local.holds(s.LocalTag, tcb.LocalTag) && peerOK &&
			row.tieLocal.holds(s.TieLocal, tcb.LocalTag) && row.tiePeer.holds(s.TiePeer, tcb.PeerTag) {
			return row.action
		}
	}
	return ActionDiscard
}

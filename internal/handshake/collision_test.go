package handshake

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Tags of the existing association (the TCB) and unrelated tags for "X".
const (
	tcbLocal  = 0x11111111
	tcbPeer   = 0x22222222
	otherLoc  = 0xaaaaaaaa
	otherPeer = 0xbbbbbbbb
	otherTie  = 0xcccccccc
)

// TestDecideCookieTable7 walks table 7 of RFC 9260 section 5.2.4, "Handling
// of a COOKIE ECHO when a TCB Exists":
//
//	| Local Tag | Peer's Tag | Local-Tie-Tag | Peer-Tie-Tag | Action |
//	| X         | X          | M             | M            | (A)    |
//	| M         | X          | A             | A            | (B)    |
//	| M         | 0          | A             | A            | (B)    |
//	| X         | M          | 0             | 0            | (C)    |
//	| M         | M          | A             | A            | (D)    |
//
// X: does not match the TCB, M: matches, 0: no value, A: any of these.
// Whatever matches no row is (E), silently discard.
func TestDecideCookieTable7(t *testing.T) {
	established := Existing{LocalTag: tcbLocal, PeerTag: tcbPeer}
	cookieWait := Existing{LocalTag: tcbLocal} // peer tag not known yet

	cases := []struct {
		name                    string
		tcb                     Existing
		local, peer, tieL, tieP uint32
		want                    CookieAction
	}{
		// Row 1: X X M M -> (A) peer restart.
		{"row A: X X M M", established, otherLoc, otherPeer, tcbLocal, tcbPeer, ActionRestart},

		// Row 2: M X A A -> (B) collision, for each kind of tie-tag.
		{"row B: M X 0 0", established, tcbLocal, otherPeer, 0, 0, ActionCollision},
		{"row B: M X M M", established, tcbLocal, otherPeer, tcbLocal, tcbPeer, ActionCollision},
		{"row B: M X X X", established, tcbLocal, otherPeer, otherTie, otherTie, ActionCollision},
		{"row B: M X M 0", established, tcbLocal, otherPeer, tcbLocal, 0, ActionCollision},
		{"row B: M X 0 X", established, tcbLocal, otherPeer, 0, otherTie, ActionCollision},

		// Row 3: M 0 A A -> (B): COOKIE-WAIT, the TCB has no peer tag yet.
		{"row B (COOKIE-WAIT): M 0 0 0", cookieWait, tcbLocal, otherPeer, 0, 0, ActionCollision},
		{"row B (COOKIE-WAIT): M 0 M 0", cookieWait, tcbLocal, otherPeer, tcbLocal, 0, ActionCollision},
		{"row B (COOKIE-WAIT): M 0 X X", cookieWait, tcbLocal, otherPeer, otherTie, otherTie, ActionCollision},
		// A cookie peer tag of 0 (never valid on the wire) matches the
		// TCB's 0; row 3 comes before row 5 and still says (B).
		{"row B (COOKIE-WAIT): M 0 with cookie peer tag 0", cookieWait, tcbLocal, 0, 0, 0, ActionCollision},

		// Row 4: X M 0 0 -> (C) late cookie.
		{"row C: X M 0 0", established, otherLoc, tcbPeer, 0, 0, ActionDiscardLate},

		// Row 5: M M A A -> (D) replay.
		{"row D: M M 0 0", established, tcbLocal, tcbPeer, 0, 0, ActionReplay},
		{"row D: M M M M", established, tcbLocal, tcbPeer, tcbLocal, tcbPeer, ActionReplay},
		{"row D: M M X X", established, tcbLocal, tcbPeer, otherTie, otherTie, ActionReplay},
		{"row D: M M X 0", established, tcbLocal, tcbPeer, otherTie, 0, ActionReplay},

		// (E): none of the rows.
		{"E: X X 0 0 (restart without tie-tags)", established, otherLoc, otherPeer, 0, 0, ActionDiscard},
		{"E: X X X X", established, otherLoc, otherPeer, otherTie, otherTie, ActionDiscard},
		{"E: X X M X", established, otherLoc, otherPeer, tcbLocal, otherTie, ActionDiscard},
		{"E: X X X M", established, otherLoc, otherPeer, otherTie, tcbPeer, ActionDiscard},
		{"E: X X M 0", established, otherLoc, otherPeer, tcbLocal, 0, ActionDiscard},
		{"E: X X 0 M", established, otherLoc, otherPeer, 0, tcbPeer, ActionDiscard},
		{"E: X X swapped tie-tags", established, otherLoc, otherPeer, tcbPeer, tcbLocal, ActionDiscard},
		{"E: X M M M", established, otherLoc, tcbPeer, tcbLocal, tcbPeer, ActionDiscard},
		{"E: X M M 0", established, otherLoc, tcbPeer, tcbLocal, 0, ActionDiscard},
		{"E: X M 0 M", established, otherLoc, tcbPeer, 0, tcbPeer, ActionDiscard},
		{"E: X M X X", established, otherLoc, tcbPeer, otherTie, otherTie, ActionDiscard},
		{"E (COOKIE-WAIT): X X 0 0", cookieWait, otherLoc, otherPeer, 0, 0, ActionDiscard},
		{"E (COOKIE-WAIT): X X X X", cookieWait, otherLoc, otherPeer, otherTie, otherTie, ActionDiscard},
		{"E (COOKIE-WAIT): X 0 X 0", cookieWait, otherLoc, 0, otherTie, 0, ActionDiscard},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &State{LocalTag: tc.local, TieLocal: tc.tieL, TiePeer: tc.tieP}
			got := DecideCookie(s, tc.peer, tc.tcb)
			require.Equal(t, tc.want, got, "got %v, want %v", got, tc.want)
			require.Equal(t, refDecide(s, tc.peer, tc.tcb), got)
		})
	}
}

// refDecide is table 7 written out as conditions, the way the Linux kernel
// does it (sctp_tietags_compare), independently of cookieTable.
func refDecide(s *State, peerTag uint32, tcb Existing) CookieAction {
	switch {
	case s.LocalTag != tcb.LocalTag && peerTag != tcb.PeerTag &&
		s.TieLocal == tcb.LocalTag && s.TiePeer == tcb.PeerTag:
		return ActionRestart
	case s.LocalTag == tcb.LocalTag && (peerTag != tcb.PeerTag || tcb.PeerTag == 0):
		return ActionCollision
	case s.LocalTag == tcb.LocalTag && peerTag == tcb.PeerTag:
		return ActionReplay
	case s.LocalTag != tcb.LocalTag && peerTag == tcb.PeerTag && s.TieLocal == 0 && s.TiePeer == 0:
		return ActionDiscardLate
	}
	return ActionDiscard
}

// TestDecideCookieExhaustive compares DecideCookie with refDecide over every
// combination of six tags drawn from a small set, which covers every mix of
// match, mismatch and zero.
func TestDecideCookieExhaustive(t *testing.T) {
	vals := []uint32{0, 1, 2, 0xffffffff}
	seen := map[CookieAction]int{}
	for _, tl := range vals {
		for _, tp := range vals {
			for _, cl := range vals {
				for _, cp := range vals {
					for _, til := range vals {
						for _, tip := range vals {
							tcb := Existing{LocalTag: tl, PeerTag: tp}
							s := &State{LocalTag: cl, TieLocal: til, TiePeer: tip}
							want := refDecide(s, cp, tcb)
							got := DecideCookie(s, cp, tcb)
							require.Equal(t, want, got, "tcb %+v cookie local %d peer %d ties %d %d", tcb, cl, cp, til, tip)
							seen[got]++
						}
					}
				}
			}
		}
	}
	for _, a := range []CookieAction{ActionRestart, ActionCollision, ActionDiscardLate, ActionReplay, ActionDiscard} {
		require.Positive(t, seen[a], "%v never reached", a)
	}
}

// TestDecideCookieIgnoresOtherFields checks that only the tags and
// tie-tags of the cookie count.
func TestDecideCookieIgnoresOtherFields(t *testing.T) {
	tcb := Existing{LocalTag: tcbLocal, PeerTag: tcbPeer}
	s := sampleStates()["all ones"]
	s.LocalTag, s.TieLocal, s.TiePeer = otherLoc, tcbLocal, tcbPeer
	require.Equal(t, ActionRestart, DecideCookie(&s, otherPeer, tcb))
}

func TestCookieActionString(t *testing.T) {
	for a, want := range map[CookieAction]string{
		ActionRestart:     "restart (A)",
		ActionCollision:   "collision (B)",
		ActionDiscardLate: "late cookie (C)",
		ActionReplay:      "replay (D)",
		ActionDiscard:     "discard (E)",
		CookieAction(0):   "discard (E)",
		CookieAction(99):  "discard (E)",
	} {
		require.Equal(t, want, a.String())
	}
	// The zero value is not a valid action: callers cannot mistake an
	// unset action for restart.
	require.NotEqual(t, CookieAction(0), ActionRestart)
}

package sock

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/usock/usock/internal/wire"
)

// maxRemoteErrorEvents is how many of an association's EventRemoteError
// wait in the endpoint's event queue at most: a packet of 1,000 error
// causes makes 8 events, and so do a hundred such packets the user has not
// read yet; the causes past that are counted
// (AssociationStats.RemoteErrorsUnreported). So a peer's ERROR chunks
// cannot push the other associations' events out of the shared queue.
const maxRemoteErrorEvents = 8

// remoteError raises an EventRemoteError for each error cause of c, an
// ERROR chunk the peer sent on the established association (RFC 9260
// section 3.3.10; RFC 6458 section 6.1.3, SCTP_REMOTE_ERROR), while no
// more than maxRemoteErrorEvents of them wait in the event queue.
//
// ERROR chunks during the handshake are Connect's: a Stale Cookie Error in
// COOKIE-ECHOED makes it start over (RFC 9260 section 5.2.6), nothing
// reaches the user. A Stale Cookie Error that arrives once the association
// is established answers a COOKIE-ECHO no longer needed and is dropped
// too (section 5.2.6 applies it in COOKIE-ECHOED only). Every other cause
// is the user's. An ERROR chunk whose causes do not parse raises nothing.
func (a *Association) remoteError(c wire.Chunk) {
	causes, err := wire.ParseErrorChunk(c.Value)
	if err != nil {
		return
	}
	for _, cause := range causes {
		if cause.Code == wire.CauseStaleCookie {
			continue
		}
		a.count(&a.stats.remoteErrors)
		if !a.takeRemoteErrSlot() {
			a.count(&a.stats.remoteErrorsUnreported)
			continue
		}
		a.ep.raise(Event{Type: EventRemoteError, Association: a, Cause: uint16(cause.Code), Detail: causeDetail(cause)})
	}
}

// takeRemoteErrSlot takes one of the association's places in the event
// queue for an EventRemoteError, if one is free. Several sockets' read
// goroutines may receive for one association at once.
func (a *Association) takeRemoteErrSlot() bool {
	for {
		n := a.remoteErrQueued.Load()
		if n >= maxRemoteErrorEvents {
			return false
		}
		if a.remoteErrQueued.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// maxCauseText is the most bytes of a peer's text (a Protocol Violation's
// additional information) a cause's Detail quotes.
const maxCauseText = 64

// causeDetail names an error cause and what it says, briefly and quoted:
// the bytes are the peer's.
func causeDetail(c wire.ErrorCause) string {
	s := c.Code.String()
	switch c.Code {
	case wire.CauseInvalidStreamID:
		if len(c.Info) >= 2 {
			s += fmt.Sprintf(": stream %d", binary.BigEndian.Uint16(c.Info))
		}
	case wire.CauseUnrecognizedChunkType:
		if len(c.Info) >= 1 {
			s += fmt.Sprintf(": chunk type %d", c.Info[0])
		}
	case wire.CauseNoUserData:
		if len(c.Info) >= 4 {
			s += fmt.Sprintf(": TSN %d", binary.BigEndian.Uint32(c.Info))
		}
	case wire.CauseMissingMandatoryParam:
		if len(c.Info) >= 4 {
			s += fmt.Sprintf(": %d parameters", binary.BigEndian.Uint32(c.Info))
		}
	case wire.CauseProtocolViolation, wire.CauseUserInitiatedAbort:
		if len(c.Info) > 0 {
			s += ": " + strconv.QuoteToASCII(string(c.Info[:min(len(c.Info), maxCauseText)]))
		}
	}
	return s
}

// peerShutdown takes the peer's SHUTDOWN (RFC 9260 section 9.2): the
// first one raises EventPeerShutdown (RFC 6458 section 6.1.5,
// SCTP_SHUTDOWN_EVENT), and its Cumulative TSN Ack acknowledges data
// (section 3.3.8) for the send tracker. pion gets it too.
func (a *Association) peerShutdown(c wire.Chunk) {
	first := a.life.notePeerShutdown()
	if first {
		a.ep.raise(Event{Type: EventPeerShutdown, Association: a})
	}
	if cum, err := wire.ParseShutdown(c.Value); err == nil {
		a.tx.acked(a, cum, nil)
	}
}

// pushUp raises typ (EventUp or EventRestart) for a, just established,
// and its first EventSenderDry if the endpoint asked for them.
func (a *Association) pushUp(typ EventType, detail string) {
	a.ep.raise(Event{Type: typ, Association: a, Detail: detail})
	a.pushEvents(a.tx.up(a))
}

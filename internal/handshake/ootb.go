package handshake

import (
	"github.com/usock/usock/internal/wire"
)

// OOTBReply applies the out-of-the-blue rules of RFC 9260 section 8.4 to a
// packet that belongs to no association and returns the reply to send, or
// nil for silence. The reply is a complete packet with ports swapped and its
// checksum set. It is never bigger than pkt and there is never more than
// one. initHandled says whether an INIT is dealt with elsewhere (an
// endpoint owns the port); when false an INIT is refused with an ABORT.
//
// The caller has already dropped packets from non-unicast sources (rule 1).
//
// The rules are applied in their order of precedence, wherever the chunk
// sits in the packet: a SHUTDOWN ACK gets a SHUTDOWN COMPLETE (rule 5) even
// after chunks that would otherwise get an ABORT (rule 8). A packet with a
// zero Verification Tag gets a reply only if it is a lone INIT (section
// 8.5.1 A).
func OOTBReply(pkt []byte, initHandled bool) []byte {
	hdr, err := wire.ParseCommonHeader(pkt)
	if err != nil {
		return nil
	}
	reply := replyNone
	var initTag uint32
	chunks := 0
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	for it.Next() {
		chunks++
		c := it.Chunk()
		switch c.Type {
		case wire.ChunkAbort, wire.ChunkShutdownComplete, wire.ChunkCookieAck, wire.ChunkError:
			// Rule 2: "If the OOTB packet contains an ABORT chunk, the
			// receiver MUST silently discard the OOTB packet and take no
			// further action." Rule 6 (SHUTDOWN COMPLETE) and rule 7 (a
			// "Stale Cookie" ERROR or a COOKIE ACK) say the same; any
			// ERROR is treated so, as ERRORs are never answered.
			return nil
		case wire.ChunkInit:
			// Rule 3: an INIT that cannot be processed is answered by an
			// ABORT whose Verification Tag "MUST be the Initiate Tag of the
			// received INIT chunk, and the T bit of the ABORT chunk has to
			// be set to 0". An INIT must be alone with tag 0 (section 8.5.1).
			if initHandled || hdr.VerificationTag != 0 || len(c.Value) < 16 {
				return nil
			}
			initTag = uint32(c.Value[0])<<24 | uint32(c.Value[1])<<16 | uint32(c.Value[2])<<8 | uint32(c.Value[3])
			if initTag == 0 {
				return nil
			}
			reply = replyAbortInit
		case wire.ChunkShutdownAck:
			// Rule 5: "the receiver should respond to the sender of the OOTB
			// packet with a SHUTDOWN COMPLETE ... the T bit set". It comes
			// before rule 8, so it wins over an ABORT whatever the order of
			// the chunks.
			if reply != replyAbortInit {
				reply = replyShutdownComplete
			}
		default:
			// Rule 8: "the receiver should respond to the sender of the OOTB
			// packet with an ABORT ... the T bit set".
			if reply == replyNone {
				reply = replyAbortT
			}
		}
	}
	if it.Err() != nil {
		return nil
	}
	// Section 8.5.1 A: "When an endpoint receives an SCTP packet with the
	// Verification Tag set to 0, it SHOULD verify that the packet contains
	// only an INIT chunk. Otherwise, the receiver MUST silently discard the
	// packet."
	if hdr.VerificationTag == 0 && (chunks != 1 || reply != replyAbortInit) {
		return nil
	}
	// The reply is a lone chunk without causes or value: 16 bytes.
	out := make([]byte, wire.CommonHeaderSize, wire.CommonHeaderSize+4)
	h := wire.CommonHeader{SrcPort: hdr.DstPort, DstPort: hdr.SrcPort, VerificationTag: hdr.VerificationTag}
	switch reply {
	case replyAbortInit:
		h.VerificationTag = initTag
		out, err = wire.Abort{}.Append(out)
	case replyAbortT:
		out, err = wire.Abort{T: true}.Append(out)
	case replyShutdownComplete:
		out = wire.AppendShutdownComplete(out, true)
	default:
		return nil
	}
	if err != nil || len(out) > len(pkt) {
		return nil
	}
	h.Put(out)
	wire.SetChecksum(out)
	return out
}

// flagT is the T bit of ABORT and SHUTDOWN COMPLETE (RFC 9260 sections
// 3.3.7 and 3.3.13): the sender filled in the peer's Verification Tag.
const flagT = 0x01

type replyKind int

const (
	replyNone replyKind = iota
	replyAbortInit
	replyAbortT
	replyShutdownComplete
)

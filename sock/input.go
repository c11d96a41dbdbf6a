package sock

import (
	"encoding/binary"
	"fmt"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

// This file is the association's inbound chunk filter: every packet the
// endpoint gives the association passes Association.receive, which checks
// it again, answers and takes what is the stack's (HEARTBEAT, ABORT,
// ERROR, handshake chunks), shows SACKs and SHUTDOWN to path management
// and the send tracker, sends DATA through the receive tracker
// (rxwindow.go) and queues what is left for pion (handToEngine).

// soleChunk reports whether raw, a chunk of pkt, is the packet's only
// chunk (the last chunk's padding may be missing).
func soleChunk(pkt, raw []byte) bool {
	rest := len(pkt) - wire.CommonHeaderSize
	return rest == len(raw) || rest == len(raw)+(4-len(raw)%4)%4
}

// appendPadded appends a raw chunk and its padding to 4 bytes.
func appendPadded(dst, raw []byte) []byte {
	dst = append(dst, raw...)
	for i := len(raw); i%4 != 0; i++ {
		dst = append(dst, 0)
	}
	return dst
}

// receive is the association's receive path for a packet that passed the
// endpoint's checks (verification tag, ports, source address).
func (a *Association) receive(pkt []byte, meta udpencap.Meta) {
	p := a.pathFor(meta.Src.Addr())
	if p == nil {
		a.drop(&a.stats.droppedForeign, DropForeign)
		return
	}
	if !a.tagVerified(pkt) {
		a.drop(nil, DropWrongTag)
		return
	}
	// RFC 6951 section 5.4: the peer's UDP port is learned from every
	// packet that passes the checks, the verification tag's first: "After
	// finding the SCTP association (which includes checking the
	// verification tag), the UDP source port MUST be stored as the
	// encapsulation port for the destination address the SCTP packet is
	// received from".
	p.setUDPPort(meta.Src.Port())
	p.arrived(meta.Local.Addr(), len(pkt))

	state := a.life.current()
	if state < StateEstablished {
		a.receiveHandshake(pkt, meta)
		return
	}
	if state == StateClosed {
		return
	}
	bp := packetPool.Get().(*[]byte)
	out := append((*bp)[:0], pkt[:wire.CommonHeaderSize]...)
	out[8], out[9], out[10], out[11] = 0, 0, 0, 0 // pion accepts zero checksums: the stack verified it
	// The ERROR chunk and the HEARTBEAT ACKs this packet draws are bounded
	// replies: see replyBudget.
	errs := replyBudget{limit: a.replyLimit(len(pkt)), size: wire.CommonHeaderSize + wire.ChunkHeaderSize}
	var acks []byte
	var wakes wakeList // the streams to read once pion handled the packet
	inStreams := -1    // read once per packet, at its first DATA
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
loop:
	for it.Next() {
		c := it.Chunk()
		if need := engineSize(c, it.Raw()); !fitsEngine(len(out), need) {
			// pion reads at most pionReadSize bytes of a packet and cuts
			// off the rest. A larger packet (a peer whose path MTU is
			// above ours, such as a kernel on a jumbo-frame link) goes to
			// pion in several, at chunk boundaries. A DATA chunk that
			// alone exceeds it reaches pion with a marker for its data
			// (see rxLarge); any other chunk pion must see cannot, and is
			// dropped.
			if !fitsEngine(wire.CommonHeaderSize, need) {
				a.drop(&a.stats.droppedMalformed, DropMalformed)
				continue
			}
			if len(out) > wire.CommonHeaderSize {
				a.handToEngine(bp, out, &wakes)
				bp = packetPool.Get().(*[]byte)
				out = append((*bp)[:0], pkt[:wire.CommonHeaderSize]...)
				out[8], out[9], out[10], out[11] = 0, 0, 0, 0
			}
		}
		switch c.Type {
		case wire.ChunkHeartbeat:
			acks = a.answerHeartbeat(acks, c, a.replyLimit(len(pkt)))
		case wire.ChunkHeartbeatAck:
			a.count(&a.stats.heartbeatAcks) // pion must never see one
			a.heartbeatAckArrived(c)
		case wire.ChunkSack:
			if v, err := wire.ParseSackView(c.Value); err == nil {
				if why, bad := a.sackArrived(v); bad {
					// RFC 9260 section 12.4: "An SCTP implementation
					// MUST abort the association if it receives a SACK
					// chunk acknowledging a TSN that has not been sent."
					// pion never sees it: it logs such a SACK and goes on
					// (processSelectiveAck), with our record of what is
					// outstanding already wrong.
					*bp = out[:0]
					packetPool.Put(bp)
					a.abortWith("peer violated the protocol: "+why, wire.ProtocolViolationCause([]byte(why)))
					return
				}
				a.tx.acked(a, v.CumTSNAck(), &v)
			}
			out = appendPadded(out, it.Raw())
		case wire.ChunkInit, wire.ChunkInitAck, wire.ChunkCookieEcho, wire.ChunkCookieAck:
			// Handshake chunks are the endpoint's; late or duplicate
			// ones are dropped here.
		case wire.ChunkAbort:
			if !a.abortTagOK(pkt, c.Flags) {
				a.drop(nil, DropWrongTag) // section 8.5.1 rule B
				continue
			}
			ce := &CloseError{Reason: ReasonAbortedByPeer}
			if ab, err := wire.ParseAbort(c); err == nil {
				ce.Detail = causesText(ab.Causes)
				if len(ab.Causes) > 0 {
					ce.PeerCause = uint16(ab.Causes[0].Code)
				}
			}
			*bp = out[:0]
			packetPool.Put(bp)
			a.finishWith(ce, true)
			return
		case wire.ChunkReconfig:
			a.peerResets(c, &wakes)
			out = appendPadded(out, it.Raw())
		case wire.ChunkForwardTSN:
			a.forwardTSNArrived(c, &wakes)
			out = appendPadded(out, it.Raw())
		case wire.ChunkShutdown:
			a.peerShutdown(c)
			out = appendPadded(out, it.Raw())
		case wire.ChunkError:
			// pion only logs an ERROR chunk: the stack reports it to the
			// user and pion does not see it.
			a.remoteError(c)
		case wire.ChunkShutdownAck, wire.ChunkShutdownComplete:
			if c.Type == wire.ChunkShutdownComplete && !soleChunk(pkt, it.Raw()) {
				// RFC 9260 section 6.10: "An endpoint MUST NOT bundle
				// INIT, INIT ACK, or SHUTDOWN COMPLETE chunks with any
				// other chunks." One that is bundled is not one the
				// peer's stack sent as such: it is discarded.
				a.drop(&a.stats.droppedMalformed, DropMalformed)
				continue
			}
			// These answer our SHUTDOWN or SHUTDOWN-ACK, which output
			// noted already; pion ignores them otherwise, as RFC 9260
			// section 8.5.1 rule C wants of SHUTDOWN COMPLETE: "An
			// endpoint MUST ignore the SHUTDOWN COMPLETE if it is not in
			// the SHUTDOWN-ACK-SENT state." So must the shim: a stray one
			// does not stop the heartbeats.
			out = appendPadded(out, it.Raw())
		case wire.ChunkData, wire.ChunkIData:
			if _, ok := wire.PeekDataTSN(c); !ok {
				// Shorter than its own fixed fields: malformed. The packet
				// is dropped whole, as pion would.
				a.drop(&a.stats.droppedMalformed, DropMalformed)
				*bp = out[:0]
				packetPool.Put(bp)
				return
			}
			if noUserData(c) {
				// RFC 9260 section 6.2: "If an endpoint receives a DATA
				// chunk with no user data (i.e., the Length field is set
				// to 16), it MUST send an ABORT with a "No User Data"
				// error cause."
				tsn, _ := wire.PeekDataTSN(c)
				*bp = out[:0]
				packetPool.Put(bp)
				a.abortWith("peer sent DATA without user data", wire.NoUserDataCause(tsn))
				return
			}
			a.lastDataFrom.Store(p)
			if c.Type == wire.ChunkIData {
				// Never negotiated: pion aborts the association.
				out = appendPadded(out, it.Raw())
				continue
			}
			if inStreams < 0 {
				inStreams = int(a.inboundStreams())
			}
			var verdict rxVerdict
			out, verdict = a.receiveData(c, it.Raw(), out, inStreams, &errs, &wakes)
			if verdict == rxOversized {
				*bp = out[:0]
				packetPool.Put(bp)
				return
			}
		default:
			if wire.KnownChunk(c.Type) {
				out = appendPadded(out, it.Raw())
				continue
			}
			// RFC 9260 section 3.2: the two high bits of an unrecognised
			// chunk type say whether to go on and whether to report it.
			a.count(&a.stats.unrecognized)
			act := wire.ChunkAction(c.Type)
			if act.Report && !errs.addChunk(it.Raw()) {
				a.count(&a.stats.unreported)
			}
			if act.Stop {
				break loop
			}
		}
	}
	if len(acks) > 0 {
		a.sendReply(meta, acks)
	}
	if len(errs.causes) > 0 {
		a.sendError(p, errs.causes)
	}
	if len(out) == wire.CommonHeaderSize {
		*bp = out[:0]
		packetPool.Put(bp)
		return
	}
	a.handToEngine(bp, out, &wakes)
}

// engineSize is the size chunk c (raw, unpadded) takes in the packet pion
// gets: nothing for the chunks the shim answers or consumes itself, the
// chunk with a marker for a DATA chunk too large for pion (see rxLarge),
// the chunk otherwise.
func engineSize(c wire.Chunk, raw []byte) int {
	switch c.Type {
	case wire.ChunkHeartbeat, wire.ChunkHeartbeatAck, wire.ChunkError, wire.ChunkAbort,
		wire.ChunkInit, wire.ChunkInitAck, wire.ChunkCookieEcho, wire.ChunkCookieAck:
		return 0
	case wire.ChunkData:
		if tooLargeForEngine(raw) {
			return largeChunkSize
		}
	}
	return len(raw)
}

// handToEngine queues out, a packet for pion in the pooled buffer bp, on
// pion's input queue; a full queue drops it (counted).
func (a *Association) handToEngine(bp *[]byte, out []byte, wakes *wakeList) {
	*bp = out
	var w wakeList
	if wakes != nil {
		a.addResetting(wakes)
		w, *wakes = *wakes, wakeList{}
	}
	if conn := a.shim(); conn == nil || !conn.push(bp, w) {
		a.drop(&a.stats.droppedQueue, DropQueueFull)
		*bp = out[:0]
		packetPool.Put(bp)
	}
}

// tagVerified reports whether the packet carries the Verification Tag it
// must (RFC 9260 sections 8.5 and 8.5.1): our own, or the peer's (known,
// so not zero) when its first chunk is an ABORT or SHUTDOWN COMPLETE with
// the T bit. The endpoint checked it already for the packets it hands
// over; this keeps the rule next to what depends on it (the UDP port).
func (a *Association) tagVerified(pkt []byte) bool {
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	if !it.Next() {
		return false
	}
	c := it.Chunk()
	if c.Type == wire.ChunkAbort || c.Type == wire.ChunkShutdownComplete {
		return a.abortTagOK(pkt, c.Flags)
	}
	return packetTag(pkt) == a.localTag
}

// abortTagOK applies section 8.5.1 rules B and C to an ABORT or SHUTDOWN
// COMPLETE with flags in pkt: our tag with the T bit clear, or the peer's
// with the T bit set.
func (a *Association) abortTagOK(pkt []byte, flags uint8) bool {
	tag := packetTag(pkt)
	if flags&flagT == 0 {
		return tag == a.localTag
	}
	peer := a.peerTagValue()
	return peer != 0 && tag == peer
}

// packetTag is the Verification Tag of a packet's common header.
func packetTag(pkt []byte) uint32 {
	return uint32(pkt[4])<<24 | uint32(pkt[5])<<16 | uint32(pkt[6])<<8 | uint32(pkt[7])
}

// receiveData applies the receive window, the maximum message size and
// the stream count to DATA chunk c (raw, as in the packet) and appends to
// out what pion gets instead: the chunk, a chunk on the sink stream, or a
// SACK probe. rxOversized means the association was aborted.
func (a *Association) receiveData(c wire.Chunk, raw, out []byte, inStreams int, errs *replyBudget, wakes *wakeList) ([]byte, rxVerdict) {
	const flagI = 0x08
	tsn, _ := wire.PeekDataTSN(c)
	sid, _ := wire.PeekDataStream(c)
	valid := int(sid) < inStreams
	size := len(c.Value) - 12
	// The chunk as pion will hold it: its stream, Stream Sequence Number
	// and B, E and U flags (RFC 9260 section 3.3.1).
	entry := rxEntry{stream: sid, ssn: binary.BigEndian.Uint16(c.Value[6:8]), flags: c.Flags & (rxEntryBegin | rxEntryEnd | rxEntryUnordered)}
	if !valid {
		// RFC 9260 section 6.5: "the endpoint MUST acknowledge the
		// reception of the DATA chunk following the normal procedure,
		// immediately send an ERROR chunk with cause set to "Invalid
		// Stream Identifier" (see Section 3.3.10), and discard the DATA
		// chunk." pion acknowledges it as a one-byte message on the sink.
		if !errs.add(wire.InvalidStreamIDCause(sid)) {
			a.count(&a.stats.unreported)
		}
		size, entry = 1, rxEntry{stream: sinkStream, flags: rxEntryBegin | rxEntryEnd | rxEntryUnordered}
	}
	large := valid && tooLargeForEngine(raw)
	var verdict rxVerdict
	var cum uint32
	var msgBytes int
	if large {
		out, verdict, cum, msgBytes = a.rx.admitLarge(out, raw, tsn, c.Value[12:], entry)
	} else {
		verdict, cum, msgBytes = a.rx.admit(tsn, size, entry)
	}
	switch verdict {
	case rxDuplicate:
		// RFC 9260 section 6.2: "When a packet arrives with duplicate
		// DATA chunk(s) and with no new DATA chunk(s), the endpoint MUST
		// immediately send a SACK chunk with no delay." The I bit makes
		// pion do so; the shim adds the duplicate to that SACK.
		if large {
			break // admitLarge appended it
		}
		at := len(out)
		out = appendPadded(out, raw)
		out[at+1] |= flagI
	case rxOverWindow:
		a.drop(nil, DropOverWindow)
		// Section 6.2: "if such a DATA chunk is dropped, the receiver
		// MUST immediately send back a SACK chunk with the current
		// receive window showing only DATA chunks received and accepted
		// so far."
		out = appendSackProbe(out, cum)
	case rxOversized:
		a.drop(nil, DropOversizedMessage)
		detail := fmt.Sprintf("peer sent a message of more than %d bytes (at least %d), above the maximum message size",
			a.cfg.maxMessageSize, msgBytes)
		if msgBytes <= a.cfg.maxMessageSize {
			detail = fmt.Sprintf("peer sent a message of %d bytes so far in fragments too small for the receive window of %d bytes at %d bytes a fragment",
				msgBytes, a.cfg.receiveBuffer, rxChunkCost)
		}
		a.abortWith(detail, wire.ProtocolViolationCause([]byte(detail)))
	case rxAccept:
		if valid {
			// The stream is opened (and its reader started) before pion
			// sees the DATA: see openInboundStream.
			wakes.add(a.openInboundStream(sid))
			wakes.resets = true
			if !large { // admitLarge appended it
				out = appendPadded(out, raw)
			}
		} else {
			wakes.add(a.openInboundStream(sinkStream))
			wakes.resets = true
			a.drop(&a.stats.droppedStream, DropInvalidStream)
			out = appendSinkData(out, tsn, c.Flags)
		}
	}
	return out, verdict
}

// noUserData reports whether a DATA or I-DATA chunk carries no user data
// (its value is only the fixed fields: 12 bytes for DATA, RFC 9260 section
// 3.3.1; 16 for I-DATA, RFC 8260 section 2.1).
func noUserData(c wire.Chunk) bool {
	if c.Type == wire.ChunkIData {
		return len(c.Value) == 16
	}
	return len(c.Value) == 12
}

// receiveHandshake hands handshake chunks to the connecting goroutine.
func (a *Association) receiveHandshake(pkt []byte, meta udpencap.Meta) {
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	for it.Next() {
		c := it.Chunk()
		switch c.Type {
		case wire.ChunkInitAck, wire.ChunkCookieAck, wire.ChunkAbort, wire.ChunkError:
			if c.Type == wire.ChunkInitAck && !soleChunk(pkt, it.Raw()) {
				// RFC 9260 section 6.10: an INIT ACK "MUST NOT" be
				// bundled with other chunks; such a packet is discarded.
				a.drop(&a.stats.droppedMalformed, DropMalformed)
				return
			}
			if c.Type == wire.ChunkAbort && !a.abortTagOK(pkt, c.Flags) {
				a.drop(nil, DropWrongTag) // section 8.5.1 rule B
				continue
			}
			m := newHandshakeMsg(c, meta.Src, meta.Local.Addr())
			switch state := a.life.current(); {
			case c.Type == wire.ChunkInitAck && state == StateCookieWait:
				a.initAckArrived(m)
				continue
			case c.Type == wire.ChunkCookieAck && state == StateCookieEchoed:
				a.cookieAckArrived()
				continue
			}
			select {
			case a.handshakeInput() <- m:
			default:
			}
		}
	}
}

// replyLimit is the most bytes (common header included) one reply to an
// inbound packet of n bytes may take: at most replySlack more than the
// packet itself, so that no peer draws more than it sends but for a few
// bytes (no amplification: thousands of chunks draw a reply no larger),
// and never more than one packet of the association's size.
func (a *Association) replyLimit(n int) int {
	return min(n+replySlack, a.cfg.packetSize)
}

// replySlack is what a reply may exceed the packet it answers by: the 8
// bytes of ERROR chunk and cause headers that a report of one unrecognised
// chunk adds, rounded up, so that a lone chunk that asks for a report gets
// one (RFC 9260 section 3.2).
const replySlack = 16

// replyBudget gathers the error causes one inbound packet draws into an
// ERROR chunk that fits a reply limit (replyLimit). RFC 9260 sets no
// bound on them: section 3.2 asks for an Unrecognized Chunk Type cause
// for each unrecognised chunk whose type says so, and section 6.5 for an
// Invalid Stream Identifier cause for each DATA on a stream that does not
// exist; without a bound a packet of some 8,000 header-only chunks would
// draw an ERROR over 64 KiB. The causes past the limit are left out and
// counted (AssociationStats.Unreported).
type replyBudget struct {
	limit, size int
	causes      []wire.ErrorCause
}

// add adds c if it fits and reports whether it did.
func (b *replyBudget) add(c wire.ErrorCause) bool {
	if b.size+c.Size() > b.limit {
		return false
	}
	b.size += c.Size()
	b.causes = append(b.causes, c)
	return true
}

// addChunk adds an Unrecognized Chunk Type cause for raw, the whole
// chunk, if it fits, without copying it when it does not.
func (b *replyBudget) addChunk(raw []byte) bool {
	if b.size+(wire.ErrorCause{Info: raw}).Size() > b.limit {
		return false
	}
	return b.add(wire.UnrecognizedChunkCause(raw))
}

// answerHeartbeat appends the HEARTBEAT ACK for c, with its Heartbeat Info
// unchanged (RFC 9260 section 8.3), to acks, the HEARTBEAT ACKs of one
// inbound packet, which go back together in one packet of at most limit
// bytes (see replyLimit): a packet of thousands of HEARTBEATs draws one
// reply no larger than itself, not thousands of packets. A HEARTBEAT
// whose ACK does not fit is not answered (counted in Unreported); a peer
// sends one per packet and path.
func (a *Association) answerHeartbeat(acks []byte, c wire.Chunk, limit int) []byte {
	info, err := wire.ParseHeartbeat(c.Value)
	if err != nil {
		return acks
	}
	if wire.CommonHeaderSize+len(acks)+wire.ChunkHeaderSize+(wire.Param{Value: info}).Size() > limit {
		a.count(&a.stats.unreported)
		return acks
	}
	out, err := wire.AppendHeartbeat(acks, wire.ChunkHeartbeatAck, info)
	if err != nil {
		a.count(&a.stats.unreported)
		return acks
	}
	a.count(&a.stats.heartbeatsIn)
	return out
}

// sendReply sends chunks, a reply to an inbound packet, back the way that
// packet came.
func (a *Association) sendReply(meta udpencap.Meta, chunks []byte) {
	tag := a.peerTagValue()
	pkt := wire.NewPacket(make([]byte, 0, wire.CommonHeaderSize+len(chunks)), wire.CommonHeader{SrcPort: a.ep.port, DstPort: a.peerPort, VerificationTag: tag})
	pkt = append(pkt, chunks...)
	_ = a.ep.sendNow(wire.Finish(pkt), meta.Local.Addr(), meta.Src)
}

// sendError sends an ERROR chunk with causes on path p.
func (a *Association) sendError(p *path, causes []wire.ErrorCause) {
	tag := a.peerTagValue()
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: a.ep.port, DstPort: a.peerPort, VerificationTag: tag})
	pkt, err := wire.AppendErrorChunk(pkt, causes...)
	if err != nil {
		return // cannot happen: replyBudget keeps the chunk within a packet
	}
	a.sendOn(p, wire.Finish(pkt))
}

func causesText(cs []wire.ErrorCause) string {
	s := ""
	for i, c := range cs {
		if i > 0 {
			s += "; "
		}
		s += c.Code.String()
		if c.Code == wire.CauseUserInitiatedAbort && len(c.Info) > 0 {
			s += ": " + string(c.Info)
		}
	}
	return s
}

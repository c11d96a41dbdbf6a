package sock

import (
	"encoding/binary"
	"time"

	"github.com/usock/usock/internal/wire"
)

// This file is the association's outbound side: Association.output
// rewrites every packet pion writes (its HEARTBEATs dropped, its SACKs
// given our window and the duplicate TSNs, DATA and FORWARD-TSN shown to
// the send tracker, ports and CRC32c set) and routes it
// to a path (paths.go); sendOn and queueOn write a packet on a path.

// sendOn sends a complete packet on path p at once.
func (a *Association) sendOn(p *path, pkt []byte) {
	if p == nil {
		return
	}
	p.countSent(pkt, a.ep.sendNow(pkt, p.from(), p.to()))
}

// queueOn sends a packet pion wrote on path p through the socket's send
// queue, where it joins the rest of pion's burst in one system call.
func (a *Association) queueOn(p *path, pkt []byte) {
	if p == nil {
		return
	}
	p.countSent(pkt, a.ep.sendQueued(pkt, p.from(), p.to()))
}

// output takes a packet pion wrote: drops pion's own HEARTBEATs (the shim
// owns heartbeats), puts our ports and the peer's tag in the common header,
// computes the one real CRC32c (pion runs with zero checksums) and sends
// it on the primary path.
func (a *Association) output(pkt []byte) {
	if len(pkt) < wire.CommonHeaderSize {
		return
	}
	heartbeat, shutdown, tracked := markOutbound(pkt, a.cfg.rtoMin < maxSackDelay)
	if heartbeat {
		pkt = dropChunks(pkt, wire.ChunkHeartbeat)
		if len(pkt) == wire.CommonHeaderSize {
			return
		}
	}
	if shutdown {
		// Watched for the end of a graceful shutdown.
		a.life.noteShutdown()
	}
	if tracked {
		// Before the packet leaves, so before any SACK for it arrives.
		a.tx.dataOut(a, pkt)
	}
	pkt = a.rewriteSacks(pkt)
	wire.SetPorts(pkt, a.ep.port, a.peerPort)
	wire.SetChecksum(pkt)
	// The packet is final before routeData may keep it for a re-send.
	a.queueOn(a.routeData(pkt), pkt)
}

// rewriteSacks shows each SACK in a packet pion wrote to the receive
// tracker, writes our window in it (pion's less the reserve) and adds the
// duplicate TSNs pion does not report. In place but for duplicates, rare,
// which cost a new packet.
func (a *Association) rewriteSacks(pkt []byte) []byte {
	body := pkt[wire.CommonHeaderSize:]
	off := 0
	it := wire.NewChunkIter(body)
	for it.Next() {
		raw := it.Raw()
		at := off
		off += len(raw) + (4-len(raw)%4)%4
		c := it.Chunk()
		if c.Type != wire.ChunkSack {
			continue
		}
		v, err := wire.ParseSackView(c.Value)
		if err != nil {
			continue
		}
		var dups [maxReportedDups]uint32
		arwnd, n := a.rx.sacked(v, a.cfg.receiveBuffer+rxReserve, dups[:])
		binary.BigEndian.PutUint32(c.Value[4:], arwnd)
		// Keep the packet within the packet size.
		n = min(n, (a.cfg.packetSize-len(pkt))/4, 0xffff-v.NumDupTSNs())
		if n <= 0 {
			continue
		}
		return appendDups(pkt, wire.CommonHeaderSize+at, len(raw), v.NumDupTSNs(), dups[:n])
	}
	return pkt
}

// appendDups returns a copy of pkt with dups added to the SACK chunk of
// length n at offset at, which lists m duplicates already. RFC 9260
// section 6.2: "The duplicate TSN number(s) SHOULD be reported in the SACK
// chunk as duplicate."
func appendDups(pkt []byte, at, n, m int, dups []uint32) []byte {
	out := make([]byte, 0, len(pkt)+4*len(dups))
	out = append(out, pkt[:at+n]...)
	for _, d := range dups {
		out = binary.BigEndian.AppendUint32(out, d)
	}
	out = append(out, pkt[at+n:]...)
	binary.BigEndian.PutUint16(out[at+2:], uint16(n+4*len(dups)))
	binary.BigEndian.PutUint16(out[at+4+10:], uint16(m+len(dups)))
	return out
}

// maxSackDelay is the longest a peer may delay a SACK: RFC 9260 section
// 6.2 "the delay MUST be less than 500 ms" and SHOULD be 200 ms, pion's
// and Linux's value.
const maxSackDelay = 200 * time.Millisecond

// markOutbound makes one pass over the chunks of a packet pion wrote: it
// reports whether the packet holds a HEARTBEAT (pion's, to be dropped), a
// SHUTDOWN, SHUTDOWN-ACK or SHUTDOWN-COMPLETE, and DATA or FORWARD-TSN
// (for the send tracker), and with setI sets the I
// bit (RFC 7053, "SACK-IMMEDIATELY") on its DATA and I-DATA chunks, in
// place. With an RTO.Min below the peer's SACK delay, the last packet of a
// burst would otherwise wait for the delayed SACK longer than our
// retransmission timer, count a path error that did not happen and, with a
// PF threshold of 0, move the data to another path for nothing. The cost
// is a SACK per DATA packet instead of one per two.
func markOutbound(pkt []byte, setI bool) (heartbeat, shutdown, tracked bool) {
	const flagI = 0x08
	body := pkt[wire.CommonHeaderSize:]
	off := 0
	it := wire.NewChunkIter(body)
	for it.Next() {
		raw := it.Raw()
		switch it.Chunk().Type {
		case wire.ChunkData, wire.ChunkIData:
			if setI {
				body[off+1] |= flagI
			}
			tracked = true
		case wire.ChunkForwardTSN:
			tracked = true
		case wire.ChunkHeartbeat:
			heartbeat = true
		case wire.ChunkShutdown, wire.ChunkShutdownAck, wire.ChunkShutdownComplete:
			shutdown = true
		}
		off += len(raw) + (4-len(raw)%4)%4
	}
	return heartbeat, shutdown, tracked
}

// dropChunks removes the chunks of type t from pkt, in place.
func dropChunks(pkt []byte, t wire.ChunkType) []byte {
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	var kept []byte
	for it.Next() {
		if it.Chunk().Type != t {
			kept = appendPadded(kept, it.Raw())
		}
	}
	return append(pkt[:wire.CommonHeaderSize], kept...)
}

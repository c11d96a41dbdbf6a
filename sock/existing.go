package sock

import (
	"fmt"
	"net/netip"

	"github.com/usock/usock/internal/handshake"
	"github.com/usock/usock/internal/multihome"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

// This file is the passive side of the handshake and its aftermath: the
// association a valid COOKIE-ECHO creates (RFC 9260 section 5.1.5), and a
// COOKIE-ECHO for an association that exists (section 5.2.4: restart,
// collision, duplicate), with the peer addresses both bring.

// indexPeers adds every peer address of a to the endpoint's lookup table.
func (e *Endpoint) indexPeers(a *Association) {
	mustHold(&a.mu) // the lock order: a.mu before e.mu
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range a.ps.all() {
		k := netip.AddrPortFrom(p.remoteAddr(), a.peerPort)
		if e.byPeer[k] == nil {
			e.byPeer[k] = a
		}
	}
}

// newAcceptedAssociation creates the association a valid COOKIE-ECHO asks
// for (RFC 9260 section 5.1.5 step 4).
func (e *Endpoint) newAcceptedAssociation(st *handshake.State, peer *wire.Init, meta udpencap.Meta) (*Association, error) {
	a := newAssociation(e, st.PeerPort)
	a.localTag, a.localTSN = st.LocalTag, st.LocalTSN
	a.cfg.outStreams, a.cfg.inStreams = st.LocalOS, st.LocalMIS
	a.life.set(StateCookieEchoed)
	// RFC 9260 section 5.4: "For the receiver of the COOKIE ECHO, the only
	// confirmed address is the one to which the INIT ACK was sent": the
	// INIT's source, kept in the cookie. The other addresses of the INIT,
	// the COOKIE ECHO's source among them, start unconfirmed, to be
	// verified by HEARTBEAT. A COOKIE ECHO from an address the INIT did
	// not have makes no path (its bundled chunks are dropped as foreign).
	// At most multihome.MaxPeerAddresses, the confirmed one first (the
	// primary): the rest are ignored and counted.
	confirmed := st.Peer.Addr()
	listed, _, excess := multihome.PeerAddresses(confirmed, peer, e.hasFamily)
	for range excess {
		a.drop(nil, DropExcessAddress)
	}
	a.mu.Lock()
	a.peerTag = peer.InitiateTag
	a.ps.setMain(a.addPathLocked(confirmed, e.localFor(st.Local, confirmed), udpPortFor(confirmed, st.Peer.Port(), meta), true))
	for _, l := range listed {
		if local, ok := e.pathLocal(l, st.Local); ok {
			a.addPathLocked(l, local, udpPortFor(l, st.Peer.Port(), meta), false)
		}
	}
	a.mu.Unlock()
	if err := e.register(a); err != nil {
		return nil, err
	}
	local := a.localInit()
	if _, err := a.startEngine(&local, peer, &meta); err != nil {
		a.finish(ReasonAborted, err.Error(), false)
		return nil, err
	}
	return a, nil
}

// localFor is the local address to reach remote from: arrival (the one a
// packet of remote's arrived on) if known, else the endpoint's best.
func (e *Endpoint) localFor(arrival, remote netip.Addr) netip.Addr {
	if arrival.IsValid() && !arrival.IsUnspecified() {
		return arrival
	}
	l, _ := multihome.LocalFor(e.addrs, remote)
	return l
}

// udpPortFor is the peer's UDP encapsulation port for address addr: the
// source port of the verified packet meta if it came from addr (RFC 6951
// section 5.4), else port.
func udpPortFor(addr netip.Addr, port uint16, meta udpencap.Meta) uint16 {
	if meta.Src.Addr() == addr {
		return meta.Src.Port()
	}
	return port
}

// newPeerAddrs returns the addresses of addrs that are not the
// association's.
func (a *Association) newPeerAddrs(addrs []netip.Addr) []netip.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	var added []netip.Addr
	for _, ad := range addrs {
		if a.ps.find(ad) == nil {
			added = append(added, ad)
		}
	}
	return added
}

// fillInitAckState fills the INIT-ACK for an INIT that meets this
// association (RFC 9260 sections 5.2.1 and 5.2.2).
func (a *Association) fillInitAckState(st *handshake.State) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch a.life.current() {
	case StateCookieWait, StateCookieEchoed:
		// Section 5.2.1: "respond with an INIT ACK using the same
		// parameters it sent in its original INIT chunk (including its
		// Initiate Tag, unchanged)".
		st.LocalTag, st.LocalTSN = a.localTag, a.localTSN
		st.LocalOS, st.LocalMIS = a.cfg.outStreams, a.cfg.inStreams
		st.TieLocal, st.TiePeer = a.localTag, a.peerTag
	default:
		// Section 5.2.2: a new Initiate Tag, with the current tags as
		// tie-tags, so that a restart can be told from an attack.
		st.LocalTag, st.LocalTSN = randomTag(), randomTag()
		st.TieLocal, st.TiePeer = a.localTag, a.peerTag
	}
}

// handleCookieForExisting applies section 5.2.4 to a valid COOKIE-ECHO for
// an association that exists.
func (a *Association) handleCookieForExisting(pkt []byte, st *handshake.State, peer *wire.Init, meta udpencap.Meta) {
	a.mu.Lock()
	tcb := handshake.Existing{LocalTag: a.localTag, PeerTag: a.peerTag}
	a.mu.Unlock()
	if a.life.current() == StateCookieWait {
		tcb.PeerTag = 0
	}
	action := handshake.DecideCookie(st, peer.InitiateTag, tcb)
	if action == handshake.ActionCollision || action == handshake.ActionReplay {
		// With an INIT collision the COOKIE ECHO may be the first answer
		// from the peer: it confirms the address our INIT-ACK went to.
		a.confirmPath(st, meta)
	}
	switch action {
	case handshake.ActionRestart:
		listed, _, _ := multihome.PeerAddresses(st.Peer.Addr(), peer, a.ep.hasFamily)
		if added := a.newPeerAddrs(listed); len(added) > 0 {
			// Section 5.2.2, checked again for the cookie: a restart
			// "MUST NOT" add addresses; the association is left as it
			// is.
			a.ep.drop(DropRefusedInit)
			a.ep.refuseRestart(peer.InitiateTag, st.PeerPort, meta.Local.Addr(), meta.Src, added)
			return
		}
		a.restart(st, peer, meta)
	case handshake.ActionCollision, handshake.ActionReplay:
		// B and D: "enter the ESTABLISHED state, if it has not already
		// done so", stop the cookie timer (Connect returns), COOKIE-ACK.
		started := false
		if a.life.current() < StateEstablished {
			local := a.localInit()
			var err error
			started, err = a.startEngine(&local, peer, &meta)
			if err != nil {
				a.ep.log().Warn("association set-up failed", "association", a.String(), "err", err)
				a.finish(ReasonAborted, err.Error(), false)
				return
			}
			if started {
				a.pushUp(EventUp, "")
			}
		}
		if a.life.current() != StateEstablished {
			return
		}
		if !started {
			a.sendCookieAck(meta) // a COOKIE-ECHO again, or established by our COOKIE-ACK's peer meanwhile
		}
		a.receive(pkt, meta) // the chunks bundled after the COOKIE-ECHO; receive skips it
	default:
		a.ep.drop(DropWrongTag)
	}
}

// confirmPath confirms the path to the address our INIT-ACK went to (the
// INIT's source, in the cookie st) and, if the primary is not confirmed,
// makes it the primary: RFC 9260 section 5.4, "For the receiver of the
// COOKIE ECHO, the only confirmed address is the one to which the INIT ACK
// was sent." Once established the paths are pathmgr's; nothing changes.
func (a *Association) confirmPath(st *handshake.State, meta udpencap.Meta) {
	if a.life.current() >= StateEstablished {
		return
	}
	addr := st.Peer.Addr()
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.addPathLocked(addr, a.ep.localFor(st.Local, addr), udpPortFor(addr, st.Peer.Port(), meta), true)
	if p == nil {
		// A new address beyond the bound: confirmed or not, no path.
		a.drop(nil, DropExcessAddress)
		return
	}
	if a.ps.main() == nil || !a.ps.main().isConfirmed() {
		a.ps.setMain(p)
	}
}

// restart replaces the association's engine after a peer restart (RFC
// 9260 section 5.2.4 action A): the old pion association is closed, a new
// one starts from the cookie, the user gets EventRestart.
func (a *Association) restart(st *handshake.State, peer *wire.Init, meta udpencap.Meta) {
	e := a.ep
	through := a.life.beginRestart()
	a.finish(ReasonAbortedByPeer, "peer restarted", true)
	b, err := e.newAcceptedAssociation(st, peer, meta) // sends the COOKIE-ACK
	if err != nil {
		through(nil)
		e.drop(DropMalformed)
		return
	}
	b.pushUp(EventRestart, fmt.Sprintf("replaces %v", a))
	through(b)
}

// sendCookieAck sends COOKIE-ACK (pion in SNAP mode never does) to where
// the COOKIE-ECHO came from, from the address it arrived on: RFC 9260
// section 6.4, "An endpoint SHOULD transmit reply chunks (e.g., SACK,
// HEARTBEAT ACK, etc.) to the same destination transport address from
// which it received the DATA or control chunk to which it is replying."
// That address may still be unconfirmed (section 5.4): a reply to it is no
// data, and the primary stays where the INIT ACK went.
func (a *Association) sendCookieAck(meta udpencap.Meta) {
	a.mu.Lock()
	tag := a.peerTag
	a.mu.Unlock()
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: a.ep.port, DstPort: a.peerPort, VerificationTag: tag})
	pkt = wire.Finish(wire.AppendCookieAck(pkt))
	if p := a.pathFor(meta.Src.Addr()); p != nil {
		p.countSent(pkt, a.ep.sendNow(pkt, meta.Local.Addr(), meta.Src))
		return
	}
	_ = a.ep.sendNow(pkt, meta.Local.Addr(), meta.Src)
}

// Inbound streams. pion creates a stream for the first DATA on a new
// stream identifier and queues it for AcceptStream, at most 16 of them:
// past that it discards the DATA until the peer retransmits. The receive
// path opens the stream (openInboundStream) before it hands pion the
// packet, so pion finds it and queues nothing: no goroutine waits in
// AcceptStream while the association is up. pion refuses to open a stream
// once a shutdown started, and the peer may still send on a new stream
// until our SHUTDOWN reaches it: from then on acceptLoop accepts them.

package sock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/usock/usock/internal/handshake"
	"github.com/usock/usock/internal/multihome"
	"github.com/usock/usock/internal/wire"
)

// handshakeState is the initiating side's handshake (RFC 9260 section
// 5.1): what Connect's driver, connect, waits for and what it learned.
// Owned by connect.go: other files reach it through the methods here.
//
// The receive path takes the two answers that move the handshake on at
// once, on the socket reader that read them: the INIT-ACK (it sends the
// COOKIE-ECHO) and the COOKIE-ACK (it starts the engine, and Connect
// returns). Handing them to the goroutine that runs connect would wake it
// twice more, each time on the way of the handshake. The rest (ABORT,
// ERROR) go to connect through in. failed carries an error that ends
// Connect, found by the receive path.
//
// step serializes the handshake's steps: connect's sends and timer, the
// receive path's INIT-ACK and COOKIE-ACK. It is taken before a.mu. The
// fields after it are guarded by step; pendingPeer is guarded by a.mu:
// takeInitAck sets it, prepareEngine and startEngine (on the socket
// reader that took the INIT-ACK or the COOKIE-ACK, or on another for an
// INIT collision) take it.
type handshakeState struct {
	in     chan handshakeMsg
	failed chan error

	step sync.Mutex
	// running: connect runs; timer is its retransmission timer
	// (T1-init, then T1-cookie).
	running bool
	timer   *time.Timer
	// sentTo: the addresses INITs went to; lastInit: the path of the
	// latest. The INIT-ACK confirms one of them (section 5.4).
	sentTo   map[netip.Addr]bool
	lastInit *path
	// echo is the COOKIE-ECHO packet while in COOKIE-ECHOED, sent on
	// echoPath; echoes counts the COOKIE-ECHOs made (one per INIT-ACK
	// taken): connect's T1-cookie starts again at each.
	echo     []byte
	echoPath *path
	echoes   int

	// pendingPeer is the peer's INIT-ACK while in COOKIE-ECHOED.
	pendingPeer *wire.Init
}

// open makes the channels of an association that connects (Connect, before
// the association is registered): one that is accepted never needs them,
// and the receive path's sends on nil channels fall through.
func (hs *handshakeState) open() {
	hs.in, hs.failed = make(chan handshakeMsg, 8), make(chan error, 1)
}

// handshakeMsg is a handshake chunk for the connecting side.
type handshakeMsg struct {
	typ   wire.ChunkType
	value []byte
	src   netip.AddrPort
	local netip.Addr
}

// newHandshakeMsg is chunk c (its value copied) of a packet from src that
// arrived on local address local.
func newHandshakeMsg(c wire.Chunk, src netip.AddrPort, local netip.Addr) handshakeMsg {
	return handshakeMsg{typ: c.Type, value: append([]byte(nil), c.Value...), src: src, local: local}
}

// handshakeInput is where the receive path hands connect its handshake
// chunks; a full channel means connect is behind and the chunk is dropped.
func (a *Association) handshakeInput() chan<- handshakeMsg { return a.hs.in }

// handshakeDoneLocked forgets the peer's INIT-ACK once the engine has it.
// The caller holds a.mu.
func (a *Association) handshakeDoneLocked() {
	mustHold(&a.mu)
	a.hs.pendingPeer = nil
}

// Connect sets up an association with the peer endpoint at the remote
// addresses and SCTP port (Erlang sock's create_assoc). The INIT goes to each
// address in turn, with T1-init back-off (RFC 9260 section 5.1). There is
// at most one association between two endpoints: if one exists with any of
// the addresses, Connect returns it (after it is established).
func (e *Endpoint) Connect(ctx context.Context, remote []netip.Addr, port uint16, opts ...ConnectOption) (*Association, error) {
	cc := connectConfig{remoteUDPPort: DefaultUDPPort}
	for _, o := range opts {
		if err := o(&cc); err != nil {
			return nil, err
		}
	}
	if len(remote) == 0 || port == 0 {
		return nil, fmt.Errorf("sock: %w: connect needs remote addresses and a port", ErrInvalidArgument)
	}
	var peers []netip.Addr
	for _, r := range remote {
		r = r.Unmap()
		if !multihome.Usable(r) {
			return nil, fmt.Errorf("sock: %w: remote address %v", ErrInvalidArgument, r)
		}
		if !e.hasFamily(r) {
			return nil, fmt.Errorf("sock: %w: no local address of the family of %v", ErrInvalidArgument, r)
		}
		if !slices.Contains(peers, r) {
			peers = append(peers, r)
		}
	}
	if len(peers) > multihome.MaxPeerAddresses {
		return nil, fmt.Errorf("sock: %w: %d remote addresses, at most %d", ErrInvalidArgument, len(peers), multihome.MaxPeerAddresses)
	}
	for {
		for _, r := range peers {
			if a := e.lookupPeer(r, port); a != nil {
				return a, a.waitUp(ctx)
			}
		}
		a := newAssociation(e, port)
		a.hs.open()
		a.life.set(StateCookieWait)
		for _, r := range peers {
			l, _ := multihome.LocalFor(e.addrs, r)
			a.addPathLocked(r, l, cc.remoteUDPPort, false)
		}
		a.ps.setMain(a.ps.all()[0])
		if err := e.register(a); err != nil {
			if errors.Is(err, ErrAddressInUse) {
				continue // lost a race with another Connect or an accept
			}
			return nil, err
		}
		if err := a.connect(ctx); err != nil {
			a.finish(ReasonAborted, err.Error(), false)
			return nil, err
		}
		return a, nil
	}
}

// initChunk builds our INIT for the destination path.
func (a *Association) initChunk(dst netip.Addr, preserve time.Duration) wire.Init {
	in := wire.Init{
		InitiateTag: a.localTag,
		ARwnd:       uint32(a.cfg.receiveBuffer),
		OutStreams:  a.cfg.outStreams,
		InStreams:   a.cfg.inStreams,
		InitialTSN:  a.localTSN,
	}
	in.Params = append(in.Params, multihome.Advertise(a.ep.listedAddrs(), dst, nil)...)
	in.Params = append(in.Params,
		wire.SupportedExtensionsParam(handshake.Extensions(false)...),
		wire.ForwardTSNSupportedParam())
	if preserve > 0 {
		// RFC 9260 section 5.2.6: ask for a longer cookie life after a
		// Stale Cookie error.
		ms := uint32(min((preserve + time.Millisecond - 1).Milliseconds(), 1<<31))
		in.Params = append(in.Params, wire.Param{Type: wire.ParamCookiePreservative,
			Value: []byte{byte(ms >> 24), byte(ms >> 16), byte(ms >> 8), byte(ms)}})
	}
	return in
}

// connect runs the initiating side of the handshake (RFC 9260 section
// 5.1): INIT with T1-init, COOKIE-ECHO with T1-cookie, each retransmitted
// with the RTO doubled (up to RTO.Max) at most Max.Init.Retransmits times.
// The INIT-ACK and the COOKIE-ACK are taken by the receive path
// (initAckArrived, cookieAckArrived); connect sends the INITs, times the
// retransmissions and takes the ABORT and ERROR chunks.
func (a *Association) connect(ctx context.Context) error {
	hs := &a.hs
	rto := a.cfg.rtoInitial
	retransmits := 0
	echoes := 0 // the COOKIE-ECHOs timed so far
	var preserve time.Duration
	hs.step.Lock()
	hs.timer = time.NewTimer(time.Hour) // armed with the RTO at each send
	hs.timer.Stop()
	hs.running = true
	hs.sentTo = map[netip.Addr]bool{}
	err := a.sendInitStepLocked(retransmits, preserve)
	if err == nil {
		hs.timer.Reset(rto)
	}
	hs.step.Unlock()
	defer func() {
		hs.step.Lock()
		hs.running = false
		hs.timer.Stop()
		hs.step.Unlock()
	}()
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			a.sendAbort("connect canceled")
			return fmt.Errorf("sock: connect to port %d canceled in %v (local tag %08x, peer tag %08x): %w",
				a.peerPort, a.life.current(), a.localTag, a.peerTagValue(), ctx.Err())
		case <-a.life.upC():
			return nil // established by the COOKIE-ACK, or an INIT collision (section 5.2.4 B)
		case <-a.life.doneC():
			return fmt.Errorf("sock: connect: %w", ErrClosed)
		case err := <-hs.failed:
			return err
		case <-hs.timer.C:
			hs.step.Lock()
			state := a.life.current()
			if state == StateCookieEchoed && hs.echoes != echoes {
				// T1-cookie, started by the COOKIE-ECHO with the
				// initial RTO (initAckArrived).
				echoes, rto = hs.echoes, a.cfg.rtoInitial
			}
			retransmits++
			if retransmits > a.cfg.maxInitRetransmits {
				hs.step.Unlock()
				return fmt.Errorf("sock: connect to port %d: no answer after %d retransmissions: %w",
					a.peerPort, a.cfg.maxInitRetransmits, ErrTimeout)
			}
			rto = min(2*rto, a.cfg.rtoMax)
			err := a.retransmitStepLocked(state, retransmits, preserve)
			if err == nil {
				hs.timer.Reset(rto)
			}
			hs.step.Unlock()
			if err != nil {
				return err
			}
		case m := <-hs.in:
			state := a.life.current()
			switch {
			case m.typ == wire.ChunkAbort:
				// RFC 9260 section 5.1: an ABORT in COOKIE-WAIT or
				// COOKIE-ECHOED means the peer refuses the association.
				return fmt.Errorf("sock: connect to port %d: %w", a.peerPort, ErrRefused)
			case m.typ == wire.ChunkError && state == StateCookieEchoed:
				causes, err := wire.ParseErrorChunk(m.value)
				if err != nil {
					continue
				}
				for _, c := range causes {
					if c.Code == wire.CauseStaleCookie && len(c.Info) >= 4 {
						// Section 5.2.6: start over with a new INIT that
						// asks for more cookie life, counting it as a
						// retransmission.
						staleUS := uint32(c.Info[0])<<24 | uint32(c.Info[1])<<16 | uint32(c.Info[2])<<8 | uint32(c.Info[3])
						preserve = max(2*time.Duration(staleUS)*time.Microsecond, time.Millisecond)
						retransmits++
						if retransmits > a.cfg.maxInitRetransmits {
							return fmt.Errorf("sock: connect: stale cookies: %w", ErrTimeout)
						}
						hs.step.Lock()
						if !a.life.advance(StateCookieEchoed, StateCookieWait) {
							hs.step.Unlock()
							break // established meanwhile by an INIT collision
						}
						a.mu.Lock()
						a.peerTag = 0
						a.mu.Unlock()
						a.dropSpareEngine()
						hs.echo, hs.echoPath = nil, nil
						rto = a.cfg.rtoInitial
						err := a.sendInitStepLocked(retransmits, preserve)
						if err == nil {
							hs.timer.Reset(rto)
						}
						hs.step.Unlock()
						if err != nil {
							return err
						}
					}
				}
			}
		}
	}
}

// sendInitStepLocked sends the INIT, to the peer's addresses in turn (the
// retransmits-th), asking for preserve more cookie life if not zero. The
// caller holds a.hs.step.
func (a *Association) sendInitStepLocked(retransmits int, preserve time.Duration) error {
	mustHold(&a.hs.step)
	a.mu.Lock()
	p := a.ps.all()[retransmits%len(a.ps.all())]
	a.mu.Unlock()
	init := a.initChunk(p.remoteAddr(), preserve)
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: a.ep.port, DstPort: a.peerPort})
	pkt, err := init.Append(pkt, wire.ChunkInit)
	if err != nil {
		// Only the endpoint's own addresses could make it too long.
		return fmt.Errorf("sock: connect to port %d: %w", a.peerPort, err)
	}
	a.hs.sentTo[p.remoteAddr()], a.hs.lastInit = true, p
	a.sendOn(p, wire.Finish(pkt))
	return nil
}

// retransmitStepLocked sends again what the handshake in state waits an
// answer for: the INIT in COOKIE-WAIT, the COOKIE-ECHO in COOKIE-ECHOED.
// The caller holds a.hs.step.
func (a *Association) retransmitStepLocked(state AssociationState, retransmits int, preserve time.Duration) error {
	switch state {
	case StateCookieWait:
		return a.sendInitStepLocked(retransmits, preserve)
	case StateCookieEchoed:
		a.sendOn(a.hs.echoPath, a.hs.echo)
	}
	return nil
}

// connectFailed ends Connect with err (the first such error counts).
func (a *Association) connectFailed(err error) {
	select {
	case a.hs.failed <- err:
	default:
	}
}

// initAckArrived takes an INIT-ACK in COOKIE-WAIT on the receive path
// (RFC 9260 section 5.1 C): it sends the COOKIE-ECHO at once and starts
// T1-cookie. A malformed INIT-ACK is discarded; one that violates the
// protocol ends Connect.
func (a *Association) initAckArrived(m handshakeMsg) {
	hs := &a.hs
	hs.step.Lock()
	defer hs.step.Unlock()
	if !hs.running || a.life.current() != StateCookieWait {
		return // Connect is over, or a duplicate
	}
	pkt, p, err := a.takeInitAck(m, hs.sentTo, hs.lastInit)
	if errors.Is(err, ErrProtocolViolation) {
		a.connectFailed(err)
		return
	}
	if err != nil {
		return // malformed: discard, keep waiting
	}
	if !a.life.advance(StateCookieWait, StateCookieEchoed) {
		return // established meanwhile by an INIT collision
	}
	hs.echo, hs.echoPath = pkt, p
	hs.echoes++
	a.sendOn(p, pkt)
	hs.timer.Reset(a.cfg.rtoInitial)
	// pion's association is made while the COOKIE-ECHO travels and the
	// peer opens its cookie, not after the COOKIE-ACK.
	a.prepareEngine()
}

// cookieAckArrived takes a COOKIE-ACK in COOKIE-ECHOED on the receive
// path (RFC 9260 section 5.1 E): the association is established and
// Connect returns.
func (a *Association) cookieAckArrived() {
	hs := &a.hs
	hs.step.Lock()
	defer hs.step.Unlock()
	if !hs.running || a.life.current() != StateCookieEchoed {
		return
	}
	started, err := a.establishAsInitiator()
	if err != nil {
		a.connectFailed(err)
		return
	}
	hs.timer.Stop()
	if started {
		a.pushUp(EventUp, "")
	}
}

// takeInitAck records the peer's INIT-ACK and returns the COOKIE-ECHO to
// send and the path to send it on. sentTo holds the addresses INITs went
// to, lastInit the path of the latest. An error wrapping
// ErrProtocolViolation ends the attempt; any other one discards the
// INIT-ACK.
func (a *Association) takeInitAck(m handshakeMsg, sentTo map[netip.Addr]bool, lastInit *path) ([]byte, *path, error) {
	a.mu.Lock()
	starting := a.engineStartingLocked()
	a.mu.Unlock()
	if starting {
		// An INIT collision is establishing the association from the
		// peer's COOKIE-ECHO: this INIT-ACK is stale, whatever it holds.
		return nil, nil, fmt.Errorf("INIT-ACK after establishment: %w", ErrNotEstablished)
	}
	if field := zeroInitField(m.value); field != "" {
		// RFC 9260 section 3.3.3: "If the value of the Initiate Tag in a
		// received INIT ACK chunk is found to be 0, the receiver MUST
		// destroy the association discarding its TCB."; for OS and MIS:
		// "A receiver of an INIT ACK chunk with the OS value set to 0
		// MUST destroy the association discarding its TCB." (and the same
		// of MIS). The peer kept no state (its cookie is stateless), so
		// no ABORT goes to it.
		return nil, nil, fmt.Errorf("sock: connect to port %d: INIT-ACK with %s 0 (RFC 9260 section 3.3.3): %w",
			a.peerPort, field, ErrProtocolViolation)
	}
	ack, err := wire.ParseInit(m.value)
	if err != nil {
		return nil, nil, err
	}
	ck, ok := ack.Cookie()
	if !ok {
		return nil, nil, fmt.Errorf("INIT-ACK without State Cookie: %w", wire.ErrBadChunk)
	}
	if host, ok := ack.Param(wire.ParamHostNameAddress); ok {
		// Section 5.1.2: "If there is a Host Name Address parameter
		// present in the received INIT or INIT ACK chunk, the endpoint
		// MUST immediately send an ABORT chunk and MAY include an
		// "Unresolvable Address" error cause to the peer. The ABORT chunk
		// SHOULD be sent to the source IP address from which the last
		// peer packet was received."
		a.ep.sendAbortCause(ack.InitiateTag, a.peerPort, m.local, m.src, a.cfg.packetSize, unresolvableAddressCause(host))
		return nil, nil, fmt.Errorf("sock: connect to port %d: the peer's INIT-ACK lists a Host Name Address, which the stack does not resolve (RFC 9260 section 5.1.2): %w",
			a.peerPort, ErrProtocolViolation)
	}
	// RFC 9260 section 5.1 B: the COOKIE-ECHO carries the cookie as it
	// came, so it is never larger than the INIT-ACK that brought it. It is
	// built before anything is recorded, so that a cookie that does not
	// fit a chunk leaves the association in COOKIE-WAIT.
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: a.ep.port, DstPort: a.peerPort, VerificationTag: ack.InitiateTag})
	pkt, err = wire.AppendCookieEcho(pkt, ck)
	if err != nil {
		return nil, nil, fmt.Errorf("INIT-ACK: %w", err)
	}
	listed, unrecognized, excess := multihome.PeerAddresses(m.src.Addr(), &ack, a.ep.hasFamily)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.engineStartingLocked() {
		// An INIT collision is establishing the association from the
		// peer's COOKIE-ECHO: this INIT-ACK is stale.
		return nil, nil, fmt.Errorf("INIT-ACK after establishment: %w", ErrNotEstablished)
	}
	// RFC 9260 section 5.4: "For the sender of the COOKIE ECHO, the only
	// confirmed address is the one to which the INIT was sent." With
	// INITs sent to several addresses, the one the INIT-ACK came from if
	// an INIT went there, else the latest. The INIT-ACK's source and the
	// addresses it lists are the peer's (section 5.1.2) and start
	// unconfirmed, to be verified by HEARTBEAT.
	confirmed := lastInit
	if sentTo[m.src.Addr()] || confirmed == nil {
		confirmed = a.addPathLocked(m.src.Addr(), m.local, m.src.Port(), false)
	}
	if confirmed == nil {
		// From an address beyond the bound: the remote addresses given
		// to Connect fill it.
		a.drop(nil, DropExcessAddress)
		return nil, nil, fmt.Errorf("INIT-ACK from %v, beyond %d peer addresses: %w", m.src.Addr(), multihome.MaxPeerAddresses, ErrInvalidArgument)
	}
	a.peerTag = ack.InitiateTag
	peer := ack
	a.hs.pendingPeer = &peer
	confirmed.confirm()
	a.ps.setMain(confirmed)
	for range excess {
		a.drop(nil, DropExcessAddress)
	}
	for _, l := range listed {
		if l == m.src.Addr() {
			p := a.addPathLocked(l, m.local, m.src.Port(), false)
			p.setUDPPort(m.src.Port())
			continue
		}
		if local, ok := a.ep.pathLocal(l, m.local); ok {
			if a.addPathLocked(l, local, m.src.Port(), false) == nil {
				// Connect's addresses and the listed ones together are
				// more than the bound.
				a.drop(nil, DropExcessAddress)
			}
		}
	}
	a.ep.indexPeers(a)
	// Section 3.2.2: "If the receiver of an INIT ACK chunk detects
	// unrecognized parameters and has to report them according to
	// Section 3.2.1, it SHOULD bundle the ERROR chunk containing the
	// "Unrecognized Parameters" error cause with the COOKIE ECHO chunk
	// sent in response to the INIT ACK chunk."
	pkt = appendUnrecognizedReport(pkt, unrecognized, a.cfg.packetSize)
	return wire.Finish(pkt), confirmed, nil
}

// zeroInitField names the field of an INIT or INIT-ACK value that is 0
// and must not be (RFC 9260 sections 3.3.2 and 3.3.3), or "" if none is
// (or the value is too short to say).
func zeroInitField(value []byte) string {
	if len(value) < 16 {
		return ""
	}
	switch {
	case binary.BigEndian.Uint32(value[0:]) == 0:
		return "Initiate Tag"
	case binary.BigEndian.Uint16(value[8:]) == 0:
		return "OS"
	case binary.BigEndian.Uint16(value[10:]) == 0:
		return "MIS"
	}
	return ""
}

// establishAsInitiator starts pion once the COOKIE-ACK arrived.
func (a *Association) establishAsInitiator() (started bool, err error) {
	a.mu.Lock()
	peer := a.hs.pendingPeer
	a.mu.Unlock()
	if peer == nil {
		return false, nil // established by an INIT collision meanwhile
	}
	local := a.localInit()
	return a.startEngine(&local, peer, nil)
}

package sock

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usock/usock/internal/cookie"
	"github.com/usock/usock/internal/handshake"
	"github.com/usock/usock/internal/multihome"
	"github.com/usock/usock/internal/slogpion"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

// Ancillary is what the stack knows of a received datagram beyond its
// payload: Erlang sock's ancillary data.
type Ancillary struct {
	// Src is the sender's IP address and UDP source port.
	Src netip.AddrPort
	// Local is the local address and UDP port the datagram arrived on.
	Local netip.AddrPort
	// TOS is the IPv4 TOS or IPv6 traffic class, TTL the IPv4 TTL or IPv6
	// hop limit, where the OS reports them (HasTOS, HasTTL).
	TOS, TTL       uint8
	HasTOS, HasTTL bool
}

func ancillaryFrom(m udpencap.Meta) Ancillary {
	return Ancillary{Src: m.Src, Local: m.Local, TOS: m.TOS, TTL: m.TTL, HasTOS: m.HasTOS, HasTTL: m.HasTTL}
}

// AcceptRequest describes an INIT an endpoint received, for an AcceptFunc
// to decide on before any state exists.
type AcceptRequest struct {
	// Endpoint is the endpoint the INIT is for.
	Endpoint *Endpoint
	// Peer is the INIT's source address and SCTP source port.
	Peer netip.AddrPort
	// PeerAddrs are the peer's addresses: the INIT's source address, then
	// the usable ones it lists (RFC 9260 section 5.1.2).
	PeerAddrs []netip.Addr
	// Ancillary is the ancillary data of the INIT's datagram.
	Ancillary Ancillary
	// Associations are the endpoint's current associations.
	Associations []*Association
}

type acceptPolicy struct {
	max int // 0: refuse all (unless fn is set)
	fn  func(AcceptRequest) bool
}

// AcceptMax makes the endpoint accept at most n concurrent associations
// (Erlang sock's {accept, N}); INITs beyond that are answered with ABORT. An
// association shut down gracefully whose messages still wait for Recv
// counts until they are taken.
func AcceptMax(n int) EndpointOption {
	return func(c *endpointConfig) error {
		if n < 1 {
			return fmt.Errorf("sock: %w: accept limit %d", ErrInvalidOption, n)
		}
		c.accept = acceptPolicy{max: n}
		return nil
	}
}

// AcceptFunc makes the endpoint ask f for each INIT (Erlang sock's accept
// callback). f runs on the receive path: it must be quick and must not
// call back into the endpoint's blocking methods. A false answer refuses
// the INIT with an ABORT; no state is kept either way.
func AcceptFunc(f func(AcceptRequest) bool) EndpointOption {
	return func(c *endpointConfig) error {
		if f == nil {
			return fmt.Errorf("sock: %w: nil accept function", ErrInvalidOption)
		}
		c.accept = acceptPolicy{fn: f}
		return nil
	}
}

// Endpoint is an SCTP endpoint: a set of local addresses and one SCTP port
// (RFC 9260 section 1.3). By default it only connects out; AcceptMax or
// AcceptFunc make it accept associations.
type Endpoint struct {
	stack *Stack
	addrs []netip.Addr
	port  uint16
	cfg   endpointConfig

	// recvq is the endpoint's receive queue (RecvPerEndpoint; nil in
	// RecvPerAssociation mode, where each association has its own and
	// backlog holds the inbound associations for Accept).
	recvq   *endpointQueue
	backlog *acceptBacklog
	events  eventQueue
	done    chan struct{}

	mu     sync.RWMutex
	closed bool
	byTag  map[uint32]*Association         // by our verification tag
	byPeer map[netip.AddrPort]*Association // by each peer address and SCTP port
	wg     sync.WaitGroup                  // association goroutines

	dropped          atomic.Uint64
	staleCookies     atomic.Uint64
	unreportedParams atomic.Uint64
	// lingering counts associations closed gracefully whose readers still
	// wait to deliver messages (RecvPerAssociation: or whose messages wait
	// in their queue); they count in AcceptMax's limit.
	lingering atomic.Int64
}

func newEndpoint(s *Stack, addrs []netip.Addr, port uint16, cfg endpointConfig) *Endpoint {
	e := &Endpoint{
		stack:  s,
		addrs:  addrs,
		port:   port,
		cfg:    cfg,
		events: newEventQueue(256),
		done:   make(chan struct{}),
		byTag:  map[uint32]*Association{},
		byPeer: map[netip.AddrPort]*Association{},
	}
	if cfg.recvMode == RecvPerAssociation {
		e.backlog = newAcceptBacklog(cfg.accept)
	} else {
		e.recvq = newEndpointQueue(cfg.recvQueue)
	}
	return e
}

// Addrs returns the endpoint's local addresses.
func (e *Endpoint) Addrs() []netip.Addr { return slices.Clone(e.addrs) }

// Port returns the endpoint's SCTP port.
func (e *Endpoint) Port() uint16 { return e.port }

// Stack returns the stack the endpoint belongs to.
func (e *Endpoint) Stack() *Stack { return e.stack }

// String is the endpoint's addresses and port.
func (e *Endpoint) String() string { return fmt.Sprintf("%v:%d", e.addrs, e.port) }

// Associations returns the endpoint's associations, established or being
// set up (Erlang sock's get_assocs).
func (e *Endpoint) Associations() []*Association {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]*Association, 0, len(e.byTag))
	for _, a := range e.byTag {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y *Association) int { return int(x.id) - int(y.id) })
	return out
}

// Recv returns the next message of any of the endpoint's associations,
// waiting until one arrives, ctx is done or the endpoint is closed. The
// endpoint must be RecvPerEndpoint (else the error wraps ErrRecvMode).
func (e *Endpoint) Recv(ctx context.Context) (Message, error) {
	if e.recvq == nil {
		return Message{}, fmt.Errorf("sock: recv on %v (%v): %w", e, e.cfg.recvMode, ErrRecvMode)
	}
	for {
		if m, ok := e.recvq.tryPop(); ok {
			return m, nil
		}
		select {
		case <-e.recvq.ready:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-e.done:
			return Message{}, fmt.Errorf("sock: recv on %v: %w", e, ErrClosed)
		}
	}
}

// Event returns the next association event, waiting until one happens,
// ctx is done or the endpoint is closed.
func (e *Endpoint) Event(ctx context.Context) (Event, error) {
	return e.events.next(ctx, e.done)
}

// EndpointStats are an endpoint's counters and gauges.
type EndpointStats struct {
	// Associations is the number of associations, RecvQueued the messages
	// waiting for Endpoint.Recv (RecvPerEndpoint; in RecvPerAssociation
	// mode see AssociationStats.RecvQueued) and AcceptQueued the
	// associations waiting for Accept (RecvPerAssociation).
	Associations, RecvQueued, AcceptQueued int
	// Dropped counts packets dropped before any association took them
	// (malformed, a bad cookie, a wrong tag for the cookie, ...);
	// StaleCookies COOKIE-ECHOs with an expired cookie; EventsDropped
	// events that fell off the full event queue; UnreportedParams
	// unrecognised INIT parameters asking for a report that did not fit
	// in the INIT-ACK (see sendInitAck).
	Dropped, StaleCookies, EventsDropped, UnreportedParams uint64
}

// recvQueued is the number of messages in the endpoint's receive queue
// (0 in RecvPerAssociation mode).
func (e *Endpoint) recvQueued() int {
	if e.recvq == nil {
		return 0
	}
	return e.recvq.len()
}

// Stats returns the endpoint's counters and gauges.
func (e *Endpoint) Stats() EndpointStats {
	e.events.mu.Lock()
	evDropped := e.events.dropped
	e.events.mu.Unlock()
	acceptQueued := 0
	if e.backlog != nil {
		acceptQueued = len(e.backlog.q)
	}
	return EndpointStats{
		Associations: e.count(), RecvQueued: e.recvQueued(), AcceptQueued: acceptQueued,
		Dropped: e.dropped.Load(), StaleCookies: e.staleCookies.Load(), EventsDropped: evDropped,
		UnreportedParams: e.unreportedParams.Load(),
	}
}

// Close aborts every association of the endpoint and releases its
// transport addresses. It is idempotent.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	assocs := make([]*Association, 0, len(e.byTag))
	for _, a := range e.byTag {
		assocs = append(assocs, a)
	}
	e.mu.Unlock()
	// Closing done first releases stream readers blocked on a full queue.
	close(e.done)
	for _, a := range assocs {
		a.Abort("endpoint closed")
	}
	e.wg.Wait()
	e.stack.removeEndpoint(e)
	return nil
}

// Shutdown shuts every association down gracefully (waiting at most until
// ctx is done, then aborting what is left) and closes the endpoint.
func (e *Endpoint) Shutdown(ctx context.Context) error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, a := range e.Associations() {
		wg.Go(func() {
			if err := a.Shutdown(ctx); err != nil && !errors.Is(err, ErrClosed) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	errs = append(errs, e.Close())
	return errors.Join(errs...)
}

func (e *Endpoint) lookupPeer(addr netip.Addr, port uint16) *Association {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.byPeer[netip.AddrPortFrom(addr, port)]
}

// register adds a to the endpoint's tables, unless the endpoint is closed
// or another association holds one of its peer transport addresses.
func (e *Endpoint) register(a *Association) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("sock: endpoint %v: %w", e, ErrClosed)
	}
	if _, dup := e.byTag[a.localTag]; dup {
		return fmt.Errorf("sock: verification tag collision: %w", ErrAddressInUse)
	}
	for _, p := range a.peerAddrs() {
		if other := e.byPeer[netip.AddrPortFrom(p, a.peerPort)]; other != nil && other != a {
			return fmt.Errorf("sock: association to %v exists: %w", netip.AddrPortFrom(p, a.peerPort), ErrAddressInUse)
		}
	}
	e.byTag[a.localTag] = a
	for _, p := range a.peerAddrs() {
		e.byPeer[netip.AddrPortFrom(p, a.peerPort)] = a
	}
	e.wg.Add(1)
	return nil
}

// unregister removes a from the endpoint's tables: its entries are those
// of its paths (register and indexPeers add no others, and a path is never
// removed), so the cost does not grow with the endpoint's associations.
func (e *Endpoint) unregister(a *Association) {
	a.mu.Lock() // before e.mu, as in takeInitAck -> indexPeers
	e.mu.Lock()
	if e.byTag[a.localTag] == a {
		delete(e.byTag, a.localTag)
	}
	for _, p := range a.ps.all() {
		k := netip.AddrPortFrom(p.remoteAddr(), a.peerPort)
		if e.byPeer[k] == a {
			delete(e.byPeer, k)
		}
	}
	e.mu.Unlock()
	a.mu.Unlock()
	e.wg.Done()
}

func (e *Endpoint) count() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.byTag)
}

// receive is the endpoint's receive path, on the socket's read goroutine.
func (e *Endpoint) receive(pkt []byte, hdr wire.CommonHeader, meta udpencap.Meta) {
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	if !it.Next() {
		e.drop(DropMalformed) // empty or malformed
		return
	}
	first := it.Chunk()
	switch first.Type {
	case wire.ChunkInit:
		e.handleInit(pkt, hdr, first, &it, meta)
		return
	case wire.ChunkCookieEcho:
		e.handleCookieEcho(pkt, hdr, first, meta)
		return
	}
	a := e.associationFor(hdr, first, meta)
	if first.Type == wire.ChunkShutdownAck {
		// Section 8.5.1 rule E: "If the receiver is in COOKIE-ECHOED or
		// COOKIE-WAIT state, the procedures in Section 8.4 SHOULD be
		// followed; in other words, it is treated as an Out Of The Blue
		// packet."
		b := a
		if b == nil {
			b = e.lookupPeer(meta.Src.Addr(), hdr.SrcPort)
		}
		if b != nil && b.life.current() < StateEstablished {
			e.stack.replyOOTB(pkt, meta, true)
			return
		}
	}
	if a == nil {
		if e.lookupPeer(meta.Src.Addr(), hdr.SrcPort) != nil {
			// RFC 9260 section 8.5: the association exists, so this is
			// not out of the blue: "If the received Verification Tag
			// value does not match the receiver's own tag value, the
			// receiver MUST silently discard the packet and MUST NOT
			// process it any further except for those cases listed in
			// Section 8.5.1".
			e.drop(DropWrongTag)
			return
		}
		// Section 8.4: no association at all.
		e.stack.replyOOTB(pkt, meta, true)
		return
	}
	if hdr.SrcPort != a.peerPort || !a.hasPeerAddr(meta.Src.Addr()) {
		if first.Type == wire.ChunkInitAck && hdr.SrcPort == a.peerPort && hdr.VerificationTag == a.localTag &&
			a.life.current() == StateCookieWait {
			// RFC 9260 section 5.1.2: the INIT ACK's source address is one
			// of the peer's, whether or not our INIT went there; it
			// carries our tag, so it passed section 8.5. takeInitAck adds
			// the address, unconfirmed (section 5.4).
			a.receiveHandshake(pkt, meta)
			return
		}
		// RFC 9260 section 8.5: a packet from an address not in the
		// association, or with other ports, does not belong to it.
		a.drop(&a.stats.droppedForeign, DropForeign)
		return
	}
	a.receive(pkt, meta)
}

const flagT = 0x01

// associationFor returns the association a packet (not an INIT nor a
// COOKIE-ECHO) belongs to by its Verification Tag, or nil.
//
// RFC 9260 section 8.5.1 rule B: "The receiver of an ABORT chunk MUST
// accept the packet if the Verification Tag field of the packet matches
// its own tag and the T bit is not set OR if it is set to its Peer's Tag
// and the T bit is set in the Chunk Flags. Otherwise, the receiver MUST
// silently discard the packet and take no further action." Rule C says the
// same of SHUTDOWN COMPLETE. So with the T bit the tag must be the peer's,
// which is not known in COOKIE-WAIT (zero, never a valid tag): there an
// ABORT can only be the answer to our INIT, which carries our Initiate Tag
// with the T bit clear (section 8.4 rule 3). With the T bit our own tag
// does not do either.
func (e *Endpoint) associationFor(hdr wire.CommonHeader, first wire.Chunk, meta udpencap.Meta) *Association {
	reflected := (first.Type == wire.ChunkAbort || first.Type == wire.ChunkShutdownComplete) && first.Flags&flagT != 0
	if !reflected {
		e.mu.RLock()
		defer e.mu.RUnlock()
		return e.byTag[hdr.VerificationTag]
	}
	if b := e.lookupPeer(meta.Src.Addr(), hdr.SrcPort); b != nil {
		if tag := b.peerTagValue(); tag != 0 && tag == hdr.VerificationTag {
			return b
		}
	}
	return nil
}

// handleInit answers an INIT (RFC 9260 section 5.1, 5.2.1, 5.2.2).
func (e *Endpoint) handleInit(pkt []byte, hdr wire.CommonHeader, c wire.Chunk, it *wire.ChunkIter, meta udpencap.Meta) {
	// Section 8.5.1 rule A: an INIT's packet has Verification Tag 0, and
	// section 6.10: "INIT ... MUST NOT be bundled with any other chunk".
	if hdr.VerificationTag != 0 || it.Next() {
		e.drop(DropMalformed)
		return
	}
	init, err := wire.ParseInit(c.Value)
	if err != nil {
		e.drop(DropMalformed)
		if len(c.Value) >= 4 && binary.BigEndian.Uint32(c.Value) != 0 {
			// A zero OS or MIS: ABORT "using the Initiate Tag as the
			// Verification Tag" (section 3.3.2).
			e.stack.replyOOTB(pkt, meta, false)
		}
		return
	}
	if host, ok := init.Param(wire.ParamHostNameAddress); ok {
		// Section 5.1.2: "If there is a Host Name Address parameter
		// present in the received INIT or INIT ACK chunk, the endpoint
		// MUST immediately send an ABORT chunk and MAY include an
		// "Unresolvable Address" error cause to the peer." The ABORT
		// answers an INIT: its Initiate Tag, the T bit clear (section
		// 8.4 rule 3).
		e.drop(DropRefusedInit)
		e.sendAbortToInit(init.InitiateTag, hdr, meta, unresolvableAddressCause(host))
		return
	}
	peerAddrs, unrecognized, excess := multihome.PeerAddresses(meta.Src.Addr(), &init, e.hasFamily)
	// Addresses past multihome.MaxPeerAddresses are counted here: the
	// cookie keeps only those within the bound.
	for range excess {
		e.stack.countDrop(DropExcessAddress)
	}
	// The cookie keeps the addresses the INIT lists, not its source:
	// PeerAddresses adds the COOKIE-ECHO's source then.
	listed := peerAddrs
	if len(listed) > 0 && listed[0] == meta.Src.Addr() && !listsAddr(&init, listed[0]) {
		listed = listed[1:]
	}
	cookieInit, err := handshake.CookieInit(&init, listed)
	if err != nil {
		e.drop(DropMalformed) // cannot happen: CookieInit's output is small
		return
	}
	src := netip.AddrPortFrom(meta.Src.Addr(), hdr.SrcPort)
	st := handshake.State{
		LocalARwnd: uint32(e.cfg.assoc.receiveBuffer),
		LocalOS:    e.cfg.assoc.outStreams,
		LocalMIS:   e.cfg.assoc.inStreams,
		LocalPort:  e.port,
		PeerPort:   hdr.SrcPort,
		Peer:       meta.Src,
		Local:      meta.Local.Addr(),
		PeerInit:   cookieInit,
	}
	if a := e.existingFor(src, peerAddrs, hdr.SrcPort); a != nil {
		// Sections 5.2.1 and 5.2.2: an INIT for an association that exists.
		// Section 5.2.1, in COOKIE-ECHOED: "If the INIT chunk indicates
		// that a new address has been added to the association, then the
		// entire INIT chunk MUST be discarded, and NO changes should be
		// made to the existing association. An ABORT chunk SHOULD be sent
		// in response that MAY include the error 'Restart of an
		// Association with New Addresses'." (In COOKIE-WAIT the peer's
		// addresses are not known yet.)
		if added := a.newPeerAddrs(peerAddrs); len(added) > 0 && a.life.current() >= StateCookieEchoed {
			// Section 5.2.2: "If the INIT chunk contains new addresses
			// not in the existing association, the receiver MUST NOT
			// process this INIT chunk as a restart of an existing
			// association; ... it MUST respond with an ABORT chunk that
			// includes a "Restart of an Association with New Addresses"
			// error cause listing the new addresses" (and the
			// association stays as it is).
			e.drop(DropRefusedInit)
			e.refuseRestart(init.InitiateTag, hdr.SrcPort, meta.Local.Addr(), meta.Src, added)
			return
		}
		a.fillInitAckState(&st)
	} else {
		if !e.accepts(src, peerAddrs, meta) {
			e.drop(DropRefusedInit)
			e.sendAbortToInit(init.InitiateTag, hdr, meta)
			return
		}
		st.LocalTag = randomTag()
		st.LocalTSN = randomTag()
	}
	e.sendInitAck(&st, init.InitiateTag, unrecognized, multihome.AddressTypes(&init), cookieExtension(&init), meta)
}

// listsAddr reports whether init has an address parameter for a.
func listsAddr(init *wire.Init, a netip.Addr) bool {
	addrs, _ := init.Addresses()
	for _, l := range addrs {
		if l.Unmap() == a {
			return true
		}
	}
	return false
}

// maxCookieExtension bounds what a Cookie Preservative may add to the
// cookie lifetime.
const maxCookieExtension = time.Minute

// cookieExtension reads the Cookie Preservative of an INIT (RFC 9260
// section 3.3.2.1: "the sender of the INIT ... suggested Cookie Life-Span
// Increment", in milliseconds); the receiver "MAY choose to use" it: it
// is honoured up to a minute.
func cookieExtension(init *wire.Init) time.Duration {
	p, ok := init.Param(wire.ParamCookiePreservative)
	if !ok || len(p.Value) != 4 {
		return 0
	}
	return min(time.Duration(binary.BigEndian.Uint32(p.Value))*time.Millisecond, maxCookieExtension)
}

// hasFamily reports whether the endpoint has a local address of a's
// family (or a wildcard one).
func (e *Endpoint) hasFamily(a netip.Addr) bool {
	_, ok := multihome.LocalFor(e.addrs, a)
	return ok
}

// existingFor returns the association with a peer at one of the transport
// addresses, if any.
func (e *Endpoint) existingFor(src netip.AddrPort, listed []netip.Addr, port uint16) *Association {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if a := e.byPeer[src]; a != nil {
		return a
	}
	for _, p := range listed {
		if a := e.byPeer[netip.AddrPortFrom(p, port)]; a != nil {
			return a
		}
	}
	return nil
}

// accepts applies the accept policy to an INIT or COOKIE-ECHO.
func (e *Endpoint) accepts(src netip.AddrPort, peerAddrs []netip.Addr, meta udpencap.Meta) bool {
	p := e.cfg.accept
	switch {
	case e.backlog != nil && !e.backlog.room():
		// Accept's backlog is full, or accepting stopped.
		return false
	case p.fn != nil:
		return p.fn(AcceptRequest{
			Endpoint:     e,
			Peer:         src,
			PeerAddrs:    peerAddrs,
			Ancillary:    ancillaryFrom(meta),
			Associations: e.Associations(),
		})
	case p.max > 0:
		return e.count()+int(e.lingering.Load()) < p.max
	default:
		return false
	}
}

// sendAbortToInit refuses an INIT: an ABORT with the INIT's Initiate Tag
// and the T bit clear (RFC 9260 section 5.1, 8.4 rule 3), with the causes
// that fit in the endpoint's packet size.
func (e *Endpoint) sendAbortToInit(initTag uint32, hdr wire.CommonHeader, meta udpencap.Meta, causes ...wire.ErrorCause) {
	e.sendAbortCause(initTag, hdr.SrcPort, meta.Local.Addr(), meta.Src, e.cfg.assoc.packetSize, causes...)
}

// sendAbortCause sends an ABORT with the T bit clear and Verification Tag
// tag (the Initiate Tag of the INIT or INIT-ACK it answers) to port dstPort
// at to, from local address from, with those of causes that keep the
// packet within limit bytes (the causes of these ABORTs are optional).
func (e *Endpoint) sendAbortCause(tag uint32, dstPort uint16, from netip.Addr, to netip.AddrPort, limit int, causes ...wire.ErrorCause) {
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: e.port, DstPort: dstPort, VerificationTag: tag})
	causes = causes[:wire.FitCauses(limit-len(pkt), causes)]
	pkt, err := wire.Abort{Causes: causes}.Append(pkt)
	if err != nil {
		return // the causes are bounded by limit above
	}
	_ = e.stack.send(wire.Finish(pkt), from, to)
}

// refuseRestart answers a restart that brings new addresses (RFC 9260
// section 5.2.2) with an ABORT listing them, with the Initiate Tag of the
// INIT inside the cookie.
func (e *Endpoint) refuseRestart(initTag uint32, dstPort uint16, from netip.Addr, to netip.AddrPort, added []netip.Addr) {
	limit := e.cfg.assoc.packetSize
	room := limit - wire.CommonHeaderSize - 2*wire.ParamHeaderSize
	e.sendAbortCause(initTag, dstPort, from, to, limit, restartNewAddressesCause(added, room))
}

// paramTLV is a parameter's Type, Length and Value, without padding: how
// error causes quote a parameter.
func paramTLV(p wire.Param) []byte {
	v := make([]byte, 0, wire.ParamHeaderSize+len(p.Value))
	v = binary.BigEndian.AppendUint16(v, uint16(p.Type))
	v = binary.BigEndian.AppendUint16(v, uint16(wire.ParamHeaderSize+len(p.Value)))
	return append(v, p.Value...)
}

// unresolvableAddressCause is an Unresolvable Address cause (RFC 9260
// section 3.3.10.5) for a Host Name Address parameter: "The unresolvable
// address field contains the complete Type, Length, and Value of the
// address parameter (or Host Name parameter) that contains the
// unresolvable address or host name."
func unresolvableAddressCause(host wire.Param) wire.ErrorCause {
	return wire.ErrorCause{Code: wire.CauseUnresolvableAddress, Info: paramTLV(host)}
}

// restartNewAddressesCause is a "Restart of an Association with New
// Addresses" cause (section 3.3.10.11): "Each New Address TLV is an exact
// copy of the TLV that was found in the INIT chunk that was new, including
// the Parameter Type and the Parameter Length." Addresses past limit bytes
// of information are left out.
func restartNewAddressesCause(addrs []netip.Addr, limit int) wire.ErrorCause {
	var info []byte
	for _, ad := range addrs {
		tlv := paramTLV(wire.AddressParam(ad))
		if len(info)+len(tlv) > limit {
			break
		}
		info = append(info, tlv...) // address TLVs are multiples of 4 bytes
	}
	return wire.ErrorCause{Code: wire.CauseRestartWithNewAddresses, Info: info}
}

// appendUnrecognizedReport appends to the packet pkt an ERROR chunk with
// an Unrecognized Parameters cause listing the params that fit, in order,
// within limit bytes of packet; pkt is returned unchanged if none does.
func appendUnrecognizedReport(pkt []byte, params []wire.Param, limit int) []byte {
	room := limit - len(pkt) - 2*wire.ParamHeaderSize // chunk and cause headers
	var fit []wire.Param
	for _, p := range params {
		n := p.Size()
		if n > room {
			break
		}
		room -= n
		fit = append(fit, p)
	}
	if len(fit) == 0 {
		return pkt
	}
	cause, err := wire.UnrecognizedParamsCause(fit...)
	if err != nil {
		return pkt // cannot happen: fit is bounded by limit
	}
	out, err := wire.AppendErrorChunk(pkt, cause)
	if err != nil {
		return pkt
	}
	return out
}

// sendInitAck sends the INIT-ACK for st with its State Cookie (RFC 9260
// section 5.1.3) and reports the unrecognised parameters of the INIT.
//
// The INIT-ACK is bounded whatever the INIT: the cookie keeps only what
// handshake.CookieInit keeps of the INIT, and the reports go in only as
// far as the whole packet stays within the endpoint's packet size. RFC
// 9260 section 3.2.2 says of them: "If the receiver of an INIT chunk
// detects unrecognized parameters and has to report them according to
// Section 3.2.1, it MUST put the "Unrecognized Parameter" parameter(s) in
// the INIT ACK chunk sent in response to the INIT chunk." It sets no
// bound, but an INIT-ACK is one chunk alone in one packet (section 6.10
// forbids bundling it, and section 6.9 fragments only user messages), and
// an INIT of one datagram full of
// reportable parameters would otherwise draw an INIT-ACK over 64 KiB: a
// reply larger than the largest packet the stack sends would make the
// listener an amplifier. The reports left out are counted in
// EndpointStats.UnreportedParams; the handshake goes on without them
// (they are informational).
//
// Without reports the INIT-ACK is at most the endpoint's own addresses and
// a cookie of a bounded size; if even that cannot be encoded (thousands of
// local addresses), the INIT is refused with an ABORT carrying an Out of
// Resource cause (section 3.3.10.4: "Indicates that the sender is out of
// resource") and counted as a refused INIT.
func (e *Endpoint) sendInitAck(st *handshake.State, peerTag uint32, unrecognized []wire.Param, peerTypes []wire.ParamType, extension time.Duration, meta udpencap.Meta) {
	payload := st.Marshal(nil)
	ck := e.stack.signer.Seal(nil, payload, time.Now(), e.stack.cfg.cookieLifetime+extension)
	ack := wire.Init{
		InitiateTag: st.LocalTag,
		ARwnd:       st.LocalARwnd,
		OutStreams:  st.LocalOS,
		InStreams:   st.LocalMIS,
		InitialTSN:  st.LocalTSN,
	}
	ack.Params = append(ack.Params, wire.StateCookieParam(ck))
	ack.Params = append(ack.Params, multihome.AdvertiseAddrs(e.listedAddrs(), meta.Src.Addr(), peerTypes)...)
	ack.Params = append(ack.Params,
		wire.SupportedExtensionsParam(handshake.Extensions(false)...),
		wire.ForwardTSNSupportedParam())
	// RFC 9260 section 3.2.2: "If the receiver of an INIT chunk detects
	// unrecognized parameters and has to report them according to Section
	// 3.2.1, it MUST put the "Unrecognized Parameter" parameter(s) in the
	// INIT ACK chunk sent in response to the INIT chunk." As many as fit
	// in a packet of the association's size after the rest of the INIT
	// ACK: the copies would otherwise double what an INIT full of unknown
	// parameters gets back (the cookie already holds the INIT), and could
	// push the chunk past its 16-bit length.
	size := wire.CommonHeaderSize + wire.ChunkHeaderSize + initFixedSize
	for _, p := range ack.Params {
		size += p.Size()
	}
	for i, u := range unrecognized {
		r, err := wire.UnrecognizedParam(u)
		if err != nil || size+r.Size() > e.cfg.assoc.packetSize {
			e.unreportedParams.Add(uint64(len(unrecognized) - i))
			break
		}
		size += r.Size()
		ack.Params = append(ack.Params, r)
	}
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: e.port, DstPort: st.PeerPort, VerificationTag: peerTag})
	pkt, err := ack.Append(pkt, wire.ChunkInitAck)
	if err != nil {
		e.drop(DropRefusedInit)
		e.stack.log.Warn("INIT-ACK does not encode, INIT refused", "endpoint", e.String(), "peer", meta.Src, "err", err)
		e.sendAbortToInit(peerTag, wire.CommonHeader{SrcPort: st.PeerPort}, meta, wire.OutOfResourceCause())
		return
	}
	_ = e.stack.send(wire.Finish(pkt), meta.Local.Addr(), meta.Src)
}

// initFixedSize is the size of the fixed fields of an INIT or INIT-ACK
// value (RFC 9260 section 3.3.2).
const initFixedSize = 16

// handleCookieEcho verifies a COOKIE-ECHO and creates (or, for an
// existing association, resolves) the association (RFC 9260 sections
// 5.1.5 and 5.2.4).
func (e *Endpoint) handleCookieEcho(pkt []byte, hdr wire.CommonHeader, c wire.Chunk, meta udpencap.Meta) {
	payload, err := e.stack.signer.Open(c.Value, time.Now())
	var stale *cookie.StaleError
	switch {
	case errors.As(err, &stale):
		e.staleCookies.Add(1)
		e.stack.countDrop(DropStaleCookie)
		e.sendStaleCookie(payload, hdr, meta, stale.Staleness)
		return
	case err != nil:
		e.drop(DropForgedCookie) // section 5.1.5 step 2: silently discard
		return
	}
	st, peerInit, err := decodeCookie(payload)
	// Section 5.1.5 step 1: the Verification Tag and ports of the packet
	// must be those the cookie was made for.
	if err != nil || hdr.VerificationTag != st.LocalTag || hdr.DstPort != st.LocalPort || hdr.SrcPort != st.PeerPort {
		e.drop(DropForgedCookie)
		return
	}
	// The peer's addresses are those of its INIT: its source (where our
	// INIT-ACK went, kept in the cookie) and the ones it lists; the
	// COOKIE-ECHO may come from any of them (section 5.4).
	peerAddrs, _, _ := multihome.PeerAddresses(st.Peer.Addr(), &peerInit, e.hasFamily)
	src := netip.AddrPortFrom(st.Peer.Addr(), hdr.SrcPort)
	if a := e.existingFor(src, append(peerAddrs, meta.Src.Addr()), hdr.SrcPort); a != nil {
		a.handleCookieForExisting(pkt, &st, &peerInit, meta)
		return
	}
	if (e.cfg.accept.fn == nil && !e.accepts(src, peerAddrs, meta)) || (e.backlog != nil && !e.backlog.room()) {
		// The accept limit and Accept's backlog are checked again:
		// associations may have been made since the INIT.
		e.drop(DropRefusedInit)
		e.sendAbortToInit(peerInit.InitiateTag, hdr, meta)
		return
	}
	a, err := e.newAcceptedAssociation(&st, &peerInit, meta)
	if err != nil {
		e.drop(DropMalformed)
		e.stack.log.Warn("cannot create association", "endpoint", e.String(), "peer", src, "err", err)
		return
	}
	a.pushUp(EventUp, "")
	if e.backlog != nil && !e.backlog.push(a) {
		// Filled or stopped since the check above (another socket's
		// goroutine, or Listener.Close).
		e.drop(DropRefusedInit)
		a.Abort("accept backlog full")
		return
	}
	a.receive(pkt, meta) // the chunks bundled after the COOKIE-ECHO; receive skips it
}

// decodeCookie decodes the payload of a verified cookie: the handshake
// state and the peer's INIT inside it.
func decodeCookie(payload []byte) (handshake.State, wire.Init, error) {
	var st handshake.State
	if err := st.Unmarshal(payload); err != nil {
		return st, wire.Init{}, err
	}
	peerInit, err := wire.ParseInit(st.PeerInit)
	return st, peerInit, err
}

// sendStaleCookie answers a COOKIE-ECHO whose cookie expired with a Stale
// Cookie error (RFC 9260 section 5.1.5 step 3, 3.3.10.3).
func (e *Endpoint) sendStaleCookie(payload []byte, hdr wire.CommonHeader, meta udpencap.Meta, staleness time.Duration) {
	_, peerInit, err := decodeCookie(payload)
	if err != nil {
		e.drop(DropMalformed)
		return
	}
	us := staleness.Microseconds()
	if us > int64(^uint32(0)) {
		us = int64(^uint32(0))
	}
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: e.port, DstPort: hdr.SrcPort, VerificationTag: peerInit.InitiateTag})
	pkt, err = wire.AppendErrorChunk(pkt, wire.StaleCookieCause(uint32(us)))
	if err != nil {
		return // a Stale Cookie cause has eight bytes
	}
	_ = e.stack.send(wire.Finish(pkt), meta.Local.Addr(), meta.Src)
}

// randomTag returns a random non-zero 32-bit value, for Initiate Tags and
// initial TSNs (RFC 9260 section 5.3.1).
func randomTag() uint32 {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}

// What an association asks of its endpoint and the endpoint's stack. The
// engine files (lifecycle.go, connect.go, existing.go, engine.go, input.go,
// output.go, streams.go, events.go) reach the endpoint through these
// methods rather than its fields.

// raise queues ev for Endpoint.Event.
func (e *Endpoint) raise(ev Event) { e.events.push(ev) }

// hold counts one more engine or stream reader in the endpoint's wait
// group, which Close waits for; release ends one.
func (e *Endpoint) hold() { e.wg.Add(1) }

// release ends one hold.
func (e *Endpoint) release() { e.wg.Done() }

// enqueue puts msg in the endpoint's receive queue (RecvPerEndpoint),
// waiting for room until stop is closed or the endpoint closes; it
// reports whether msg is queued, and whether the endpoint closed.
func (e *Endpoint) enqueue(msg Message, stop <-chan struct{}) (queued, endpointClosed bool) {
	for {
		if e.recvq.tryPush(msg) {
			return true, false
		}
		select {
		case <-e.recvq.room:
		case <-e.done:
			return false, true
		case <-stop:
			return false, false
		}
	}
}

// linger adds d to the count of associations, closed gracefully, whose
// messages still wait for room in the endpoint's queue: they count in the
// accept limit.
func (e *Endpoint) linger(d int64) { e.lingering.Add(d) }

// sendNow writes pkt from local to remote at once, on the caller's
// goroutine: for the packets the stack makes itself (COOKIE-ACK,
// HEARTBEAT, replies).
func (e *Endpoint) sendNow(pkt []byte, local netip.Addr, remote netip.AddrPort) error {
	return e.stack.send(pkt, local, remote)
}

// sendQueued is sendNow for the packets pion writes: they wait in the
// socket's send queue and leave in batches, so pkt must not change
// afterwards (Stack.enqueue).
func (e *Endpoint) sendQueued(pkt []byte, local netip.Addr, remote netip.AddrPort) error {
	return e.stack.enqueue(pkt, local, remote)
}

// log is the stack's logger.
func (e *Endpoint) log() *slog.Logger { return e.stack.log }

// pionLogger is the logger factory pion's associations get.
func (e *Endpoint) pionLogger() slogpion.Factory { return e.stack.pionLF }

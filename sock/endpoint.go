package sock

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usock/usock/internal/cookie"
	"github.com/usock/usock/internal/handshake"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/multihome"
	"github.com/usock/usock/udpencap"
)

// Ancillary is what the stack knows of a received datagram beyond its
// payload: the seed's ancillary data.
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
// (the seed's {accept, N}); INITs beyond that are answered with ABORT.
func AcceptMax(n int) EndpointOption {
	return func(c *endpointConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: accept limit %d", ErrInvalidOption, n)
		}
		c.accept = acceptPolicy{max: n}
		return nil
	}
}

// AcceptFunc makes the endpoint ask f for each INIT (the seed's accept
// callback). f runs on the receive path: it must be quick and must not
// call back into the endpoint's blocking methods. A false answer refuses
// the INIT with an ABORT; no state is kept either way.
func AcceptFunc(f func(AcceptRequest) bool) EndpointOption {
	return func(c *endpointConfig) error {
		if f == nil {
			return fmt.Errorf("%w: nil accept function", ErrInvalidOption)
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

	recvq  chan Message
	events eventQueue
	done   chan struct{}

	mu     sync.RWMutex
	closed bool
	byTag  map[uint32]*Association         // by our verification tag
	byPeer map[netip.AddrPort]*Association // by each peer address and SCTP port
	wg     sync.WaitGroup                  // association goroutines

	dropped          atomic.Uint64
	staleCookies     atomic.Uint64
	unreportedParams atomic.Uint64
}

func newEndpoint(s *Stack, addrs []netip.Addr, port uint16, cfg endpointConfig) *Endpoint {
	return &Endpoint{
		stack:  s,
		addrs:  addrs,
		port:   port,
		cfg:    cfg,
		recvq:  make(chan Message, cfg.recvQueue),
		events: newEventQueue(256),
		done:   make(chan struct{}),
		byTag:  map[uint32]*Association{},
		byPeer: map[netip.AddrPort]*Association{},
	}
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
// set up (the seed's get_assocs).
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
// waiting until one arrives, ctx is done or the endpoint is closed.
func (e *Endpoint) Recv(ctx context.Context) (Message, error) {
	select {
	case m := <-e.recvq:
		return m, nil
	default:
	}
	select {
	case m := <-e.recvq:
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	case <-e.done:
		return Message{}, fmt.Errorf("sock: recv on %v: %w", e, ErrClosed)
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
	// waiting for Recv.
	Associations, RecvQueued int
	// Dropped counts packets dropped before any association took them
	// (malformed, a bad cookie, a wrong tag for the cookie, ...);
	// StaleCookies COOKIE-ECHOs with an expired cookie; EventsDropped
	// events that fell off the full event queue; UnreportedParams
	// unrecognised INIT parameters asking for a report that did not fit
	// in the INIT-ACK (see sendInitAck).
	Dropped, StaleCookies, EventsDropped, UnreportedParams uint64
}

// Stats returns the endpoint's counters and gauges.
func (e *Endpoint) Stats() EndpointStats {
	e.events.mu.Lock()
	evDropped := e.events.dropped
	e.events.mu.Unlock()
	return EndpointStats{
		Associations: e.count(), RecvQueued: len(e.recvq),
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
	for _, p := range a.paths {
		k := netip.AddrPortFrom(p.remote, a.peerPort)
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
	e.mu.RLock()
	a := e.byTag[hdr.VerificationTag]
	e.mu.RUnlock()
	if a == nil && (first.Type == wire.ChunkAbort || first.Type == wire.ChunkShutdownComplete) && first.Flags&flagT != 0 {
		// RFC 9260 section 8.5.1 rules B and C: with the T bit set the
		// Verification Tag is the peer's own.
		if b := e.lookupPeer(meta.Src.Addr(), hdr.SrcPort); b != nil && b.peerTagValue() == hdr.VerificationTag {
			a = b
		}
	}
	if a == nil {
		e.stack.replyOOTB(pkt, meta, true)
		return
	}
	if hdr.SrcPort != a.peerPort || !a.hasPeerAddr(meta.Src.Addr()) {
		// RFC 9260 section 8.5: a packet from an address not in the
		// association, or with other ports, does not belong to it.
		a.drop(&a.stats.droppedForeign, DropForeign)
		return
	}
	a.receive(pkt, meta)
}

const flagT = 0x01

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
	peerAddrs, unrecognized := multihome.PeerAddresses(meta.Src.Addr(), &init, e.hasFamily)
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
	case p.fn != nil:
		return p.fn(AcceptRequest{
			Endpoint:     e,
			Peer:         src,
			PeerAddrs:    peerAddrs,
			Ancillary:    ancillaryFrom(meta),
			Associations: e.Associations(),
		})
	case p.max > 0:
		return e.count() < p.max
	default:
		return false
	}
}

// sendAbortToInit refuses an INIT: an ABORT with the INIT's Initiate Tag
// and the T bit clear (RFC 9260 section 5.1, 8.4 rule 3).
func (e *Endpoint) sendAbortToInit(initTag uint32, hdr wire.CommonHeader, meta udpencap.Meta, causes ...wire.ErrorCause) {
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: e.port, DstPort: hdr.SrcPort, VerificationTag: initTag})
	pkt, err := wire.Abort{Causes: causes}.Append(pkt)
	if err != nil {
		return // the causes are the stack's own and short
	}
	_ = e.stack.send(wire.Finish(pkt), meta.Local.Addr(), meta.Src)
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
	ack.Params = append(ack.Params, multihome.Advertise(e.addrs, meta.Src.Addr(), peerTypes)...)
	ack.Params = append(ack.Params,
		wire.SupportedExtensionsParam(handshake.Extensions(false)...),
		wire.ForwardTSNSupportedParam())
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
	peerAddrs, _ := multihome.PeerAddresses(meta.Src.Addr(), &peerInit, e.hasFamily)
	src := netip.AddrPortFrom(meta.Src.Addr(), hdr.SrcPort)
	if a := e.existingFor(src, peerAddrs, hdr.SrcPort); a != nil {
		a.handleCookieForExisting(pkt, &st, &peerInit, meta)
		return
	}
	if e.cfg.accept.fn == nil && !e.accepts(src, peerAddrs, meta) {
		// The accept limit is checked again: associations may have been
		// made since the INIT.
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
	a.sendCookieAck(meta.Src)
	e.events.push(Event{Type: EventUp, Association: a})
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

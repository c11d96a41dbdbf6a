package sock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v5/stdnet"

	"github.com/usock/usock/internal/cookie"
	"github.com/usock/usock/internal/handshake"
	"github.com/usock/usock/internal/slogpion"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

// Stack is one SCTP host: its UDP encapsulation sockets (udpencap.Binds:
// one per local address, all on the stack's UDP port; once a wildcard
// endpoint exists, one wildcard Bind for its family that the others
// share), the registry of its endpoints and the secret that signs its
// State Cookies.
// Several stacks in one process (on different UDP ports) behave as
// different hosts.
type Stack struct {
	cfg    stackConfig
	signer *cookie.Signer
	log    *slog.Logger
	pionLF slogpion.Factory

	// setupMu serializes NewEndpoint, which may release mu while it
	// replaces sockets (see openWildcardLocked); it is taken before mu.
	setupMu sync.Mutex

	mu      sync.Mutex
	closed  bool
	udpPort uint16
	// transports holds the stack's Binds by the address they were opened
	// for; a wildcard one serves the specific addresses of its family too
	// (servingLocked), which then have none of their own. Every Bind
	// hands its packets to receive.
	transports map[netip.Addr]udpencap.Bind
	// endpoints holds every endpoint with its creation number (for the
	// order of Endpoints); byPort the endpoints of each SCTP port, so that
	// creating or removing an endpoint costs the same with 10 or 10,000.
	endpoints map[*Endpoint]uint64
	byPort    map[uint16][]*Endpoint
	epSeq     uint64

	// sendVia is a copy of transports for the send path, which must not
	// take mu: a socket's read goroutine sends replies, and Close holds mu
	// while it waits for that goroutine.
	sendVia atomic.Pointer[map[netip.Addr]udpencap.Bind]
	// readThrough is the stack's Bind when it is the only one and can be
	// read through (see shimConn.readThrough), else nil; written with
	// sendVia.
	readThrough atomic.Pointer[udpencap.ReadThrougher]
	// engines counts the associations whose engine runs (see
	// Association.countEngineLocked).
	engines atomic.Int32

	// byAddr maps (local address, SCTP port) to the endpoint owning it
	// (netip.AddrPort to *Endpoint), for the receive path; written under mu.
	byAddr sync.Map

	stopRotate chan struct{}
	rotateDone chan struct{}

	ootbReplies atomic.Uint64
	ootbDropped atomic.Uint64

	fault      atomic.Pointer[FaultFilter]
	faultDrops atomic.Uint64

	// sendTap, when set, sees every packet the stack sends before the
	// socket does. The tests and fuzz targets check the replies with it.
	sendTap atomic.Pointer[func(pkt []byte, from netip.Addr, to netip.AddrPort)]

	drops dropCounters

	hosts hostAddrCache
}

// FaultFilter decides, for fault injection, whether to drop a packet
// between a local address and a remote address and UDP port; inbound says
// which way it goes. It runs on the send and receive paths: it must be
// quick and safe for concurrent use.
type FaultFilter func(local netip.Addr, remote netip.AddrPort, inbound bool) (drop bool)

// SetFaultFilter installs f (nil removes it): packets it drops are counted
// in Stats().FaultDrops and otherwise vanish as on a broken network path.
// For tests, demos and failover drills.
func (s *Stack) SetFaultFilter(f FaultFilter) {
	if f == nil {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&f)
}

func (s *Stack) faulty(local netip.Addr, remote netip.AddrPort, inbound bool) bool {
	f := s.fault.Load()
	if f == nil || !(*f)(local, remote, inbound) {
		return false
	}
	s.faultDrops.Add(1)
	return true
}

// NewStack creates a stack. Sockets are opened when an endpoint first needs
// a local address and stay open until the stack is closed.
func NewStack(opts ...StackOption) (*Stack, error) {
	cfg := stackConfig{
		udpPort:        DefaultUDPPort,
		cookieLifetime: DefaultCookieLifetime,
		cookieRotation: DefaultCookieRotation,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.net == nil {
		n, err := stdnet.NewNet()
		if err != nil {
			return nil, fmt.Errorf("sock: host network: %w", err)
		}
		cfg.net = n
	}
	if cfg.hostAddrs == nil {
		n := cfg.net
		cfg.hostAddrs = func() ([]netip.Addr, error) { return udpencap.HostAddrs(n) }
	}
	if cfg.open == nil {
		cfg.open = udpencap.NewOpener(udpencap.Config{
			Net:              cfg.net,
			HostAddrs:        cfg.hostAddrs,
			SocketPerAddress: cfg.socketPerAddress,
			DisableBatching:  cfg.noBatching,
			DisableOffload:   cfg.noBatching,
			BurstGap:         cfg.burstGap,
		})
	}
	pionMin := slogpion.LevelTrace // a caller's logger decides for itself
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		// pion warns about ordinary things (a peer without PR-SCTP).
		pionMin = slog.LevelError
	}
	signer, err := cookie.NewSigner()
	if err != nil {
		return nil, err
	}
	s := &Stack{
		cfg:        cfg,
		signer:     signer,
		log:        cfg.logger,
		pionLF:     slogpion.Factory{Logger: cfg.logger, MinLevel: pionMin},
		udpPort:    cfg.udpPort,
		transports: map[netip.Addr]udpencap.Bind{},
		endpoints:  map[*Endpoint]uint64{},
		byPort:     map[uint16][]*Endpoint{},
		stopRotate: make(chan struct{}),
		rotateDone: make(chan struct{}),
	}
	s.publishTransportsLocked()
	go s.rotateLoop()
	return s, nil
}

// rotateLoop changes the cookie secret every cookieRotation (RFC 9260
// section 5.1.3).
func (s *Stack) rotateLoop() {
	defer close(s.rotateDone)
	t := time.NewTicker(s.cfg.cookieRotation)
	defer t.Stop()
	for {
		select {
		case <-s.stopRotate:
			return
		case <-t.C:
			if err := s.signer.Rotate(); err != nil {
				s.log.Warn("cookie secret rotation failed", "err", err)
			}
		}
	}
}

var (
	defaultMu    sync.Mutex
	defaultStack *Stack
)

// Default returns the process's default stack (on UDP port 9899), creating
// it on first use; the package-level functions use it.
func Default() (*Stack, error) {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultStack == nil {
		s, err := NewStack()
		if err != nil {
			return nil, err
		}
		defaultStack = s
	}
	return defaultStack, nil
}

// UDPPort returns the stack's UDP encapsulation port (the one picked when
// it was created with port 0 and a socket is open).
func (s *Stack) UDPPort() uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.udpPort
}

// NewEndpoint creates an endpoint on the local addresses addrs (nil:
// 127.0.0.1) and SCTP port (0: a free port). A transport address belongs to
// one endpoint only: a conflict returns an error wrapping ErrAddressInUse.
// A wildcard address (0.0.0.0 or ::) stands for every address of its
// family and coexists with endpoints on specific addresses of the same
// port, which win for their own addresses (see docs/ARCHITECTURE.md,
// "Wildcard endpoints"). A UDP encapsulation port another process holds
// is reported as ErrAddressInUse too, with what to do about it.
// Erlang sock's create_ep.
func (s *Stack) NewEndpoint(addrs []netip.Addr, port uint16, opts ...EndpointOption) (*Endpoint, error) {
	cfg := defaultEndpointConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		addrs = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	}
	addrs, err := checkLocalAddrs(addrs)
	if err != nil {
		return nil, err
	}
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("sock: new endpoint: %w", ErrClosed)
	}
	if port == 0 {
		if port, err = s.freePortLocked(addrs); err != nil {
			return nil, err
		}
	} else if other := s.conflictLocked(addrs, port); other != nil {
		return nil, fmt.Errorf("sock: endpoint %v port %d: %w (endpoint %v)", addrs, port, ErrAddressInUse, other)
	}
	// Wildcards first: they may replace sockets the others would use.
	for _, a := range addrs {
		if a.IsUnspecified() && s.transports[a] == nil {
			if err := s.openWildcardLocked(a); err != nil {
				return nil, err
			}
		}
	}
	var opened []netip.Addr
	for _, a := range addrs {
		if s.servingLocked(a) != nil {
			if err := s.probeLocal(a); err != nil {
				return nil, err
			}
			continue
		}
		if err := s.openTransportLocked(a); err != nil {
			var trs []udpencap.Bind
			for _, o := range opened {
				trs = append(trs, s.detachTransportLocked(o))
			}
			s.mu.Unlock()
			closeTransports(trs)
			s.mu.Lock()
			return nil, err
		}
		opened = append(opened, a)
	}
	ep := newEndpoint(s, addrs, port, cfg)
	s.epSeq++
	s.endpoints[ep] = s.epSeq
	s.byPort[port] = append(s.byPort[port], ep)
	for _, a := range addrs {
		s.byAddr.Store(netip.AddrPortFrom(a, port), ep)
	}
	return ep, nil
}

func checkLocalAddrs(addrs []netip.Addr) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		switch {
		case !a.IsValid():
			return nil, fmt.Errorf("sock: %w: invalid local address", ErrInvalidArgument)
		case a.IsMulticast():
			return nil, fmt.Errorf("sock: %w: multicast local address %v", ErrInvalidArgument, a)
		case a.Zone() != "":
			return nil, fmt.Errorf("sock: %w: zoned local address %v not supported", ErrInvalidArgument, a)
		case slices.Contains(out, a):
			return nil, fmt.Errorf("sock: %w: local address %v listed twice", ErrInvalidArgument, a)
		}
		out = append(out, a)
	}
	return out, nil
}

// conflictLocked returns the endpoint that owns one of the transport
// addresses, if any. A wildcard address conflicts only with the same
// wildcard: with a specific address of its family it coexists, the
// specific endpoint winning for its address (endpointFor).
func (s *Stack) conflictLocked(addrs []netip.Addr, port uint16) *Endpoint {
	for _, ep := range s.byPort[port] {
		for _, a := range addrs {
			if slices.Contains(ep.addrs, a) {
				return ep
			}
		}
	}
	return nil
}

// overlapLocked is conflictLocked with a wildcard address overlapping
// every address of its family: what freePortLocked avoids, so that a port
// it picks is not shared with a wildcard or specific endpoint by chance.
func (s *Stack) overlapLocked(addrs []netip.Addr, port uint16) bool {
	for _, ep := range s.byPort[port] {
		for _, a := range addrs {
			if ep.serves(a) || (a.IsUnspecified() && slices.ContainsFunc(ep.addrs, func(b netip.Addr) bool { return b.Is4() == a.Is4() })) {
				return true
			}
		}
	}
	return false
}

// freePortLocked picks an SCTP port in the dynamic range that no endpoint
// on one of addrs (or a wildcard of their family) has.
func (s *Stack) freePortLocked(addrs []netip.Addr) (uint16, error) {
	const lo, n = 49152, 65536 - 49152
	start := rand.IntN(n)
	for i := range n {
		p := uint16(lo + (start+i)%n)
		if !s.overlapLocked(addrs, p) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("sock: no free SCTP port: %w", ErrAddressInUse)
}

// openTransportLocked opens the Bind for local address a (and for the
// specific addresses also, which a wildcard a serves), handing every
// packet it receives to s.receive. A UDP port held by another socket is
// ErrAddressInUse, with the way out in the message.
func (s *Stack) openTransportLocked(a netip.Addr, also ...netip.Addr) error {
	tr, err := s.cfg.open(append([]netip.Addr{a}, also...), s.udpPort, udpencap.ReceiverFunc(s.receive))
	if errors.Is(err, udpencap.ErrAddressInUse) {
		return fmt.Errorf("sock: UDP port %d on %v is in use by another process (or another stack of this one); give the stack another UDP port with WithUDPPort (0 picks a free one): %w: %w",
			s.udpPort, a, ErrAddressInUse, err)
	}
	if err != nil {
		return fmt.Errorf("sock: UDP socket on %v port %d: %w", a, s.udpPort, err)
	}
	if s.udpPort == 0 {
		s.udpPort = tr.Port()
	}
	s.transports[a] = tr
	s.publishTransportsLocked()
	return nil
}

// detachTransportLocked removes the socket of address a from the stack and
// returns it, for the caller to close after releasing mu (Close waits for
// the socket's read goroutine, which may be waiting for mu).
func (s *Stack) detachTransportLocked(a netip.Addr) udpencap.Bind {
	tr := s.transports[a]
	delete(s.transports, a)
	s.publishTransportsLocked()
	return tr
}

func (s *Stack) publishTransportsLocked() {
	m := make(map[netip.Addr]udpencap.Bind, len(s.transports))
	for a, tr := range s.transports {
		m[a] = tr
	}
	s.sendVia.Store(&m)
	s.readThrough.Store(nil)
	if len(m) == 1 {
		for _, tr := range m {
			if rt, ok := tr.(udpencap.ReadThrougher); ok {
				s.readThrough.Store(&rt)
			}
		}
	}
}

func closeTransports(trs []udpencap.Bind) {
	for _, tr := range trs {
		if tr != nil {
			_ = tr.Close()
		}
	}
}

// removeEndpoint forgets ep. The sockets stay open until the stack is
// closed (or releaseIdleSockets needs their place): the UDP encapsulation
// port is the stack's (RFC 6951 section 5.1), and a socket closed with the
// last endpoint on its address could lose the port to another process and
// would cost a bind, a read goroutine and its buffers again for the next
// endpoint there. Packets for the port that arrive meanwhile are answered
// as out of the blue (RFC 9260 section 8.4).
func (s *Stack) removeEndpoint(ep *Endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.endpoints[ep]; !ok {
		return
	}
	delete(s.endpoints, ep)
	same := slices.DeleteFunc(s.byPort[ep.port], func(o *Endpoint) bool { return o == ep })
	if len(same) == 0 {
		delete(s.byPort, ep.port)
	} else {
		s.byPort[ep.port] = same
	}
	for _, a := range ep.addrs {
		s.byAddr.CompareAndDelete(netip.AddrPortFrom(a, ep.port), ep)
	}
}

// receive is the Receiver of every Bind, called on its read goroutine:
// find the endpoint owning the packet's local address and destination
// port, the specific one before a wildcard one (endpointFor); none: out of
// the blue. The Bind checked the length and the CRC32c.
func (s *Stack) receive(pkt []byte, meta udpencap.Meta) {
	defer s.recoverReceive(meta)
	if s.faulty(meta.Local.Addr(), meta.Src, true) {
		return
	}
	hdr, err := wire.ParseCommonHeader(pkt)
	if err != nil { // a Bind delivers no packet shorter than the header
		s.countDrop(DropMalformed)
		return
	}
	if ep := s.endpointFor(meta.Local.Addr(), hdr, meta.Src); ep != nil {
		ep.receive(pkt, hdr, meta)
		return
	}
	s.replyOOTB(pkt, meta, false)
}

// recoverReceive is the receive path's last line of defence: a panic while
// handling one datagram is counted (DropPanic), logged at error level with
// its stack trace, and the datagram dropped, so that no packet takes the
// process down. No known input reaches it; the wire builders and the
// receive path return errors instead.
func (s *Stack) recoverReceive(meta udpencap.Meta) {
	if v := recover(); v != nil {
		s.countDrop(DropPanic)
		s.log.Error("panic on the receive path; datagram dropped", "from", meta.Src, "local", meta.Local, "panic", v, "stack", string(debug.Stack()))
	}
}

// endpointAt returns the endpoint owning the transport address, or nil.
func (s *Stack) endpointAt(ap netip.AddrPort) *Endpoint {
	if v, ok := s.byAddr.Load(ap); ok {
		return v.(*Endpoint)
	}
	return nil
}

// replyOOTB answers an out-of-the-blue packet (RFC 9260 section 8.4).
func (s *Stack) replyOOTB(pkt []byte, meta udpencap.Meta, initHandled bool) {
	// Rule 1: "If the OOTB packet is to or from a non-unicast address, a
	// receiver SHOULD silently discard the packet."
	src := meta.Src.Addr()
	if !src.IsValid() || src.IsMulticast() || src.IsUnspecified() || (src.Is4() && src == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
		s.ootbDropped.Add(1)
		return
	}
	reply := handshake.OOTBReply(pkt, initHandled)
	if reply == nil {
		s.ootbDropped.Add(1)
		return
	}
	if err := s.send(reply, meta.Local.Addr(), meta.Src); err == nil {
		s.ootbReplies.Add(1)
	}
}

// send sends one packet from local address from.
func (s *Stack) send(pkt []byte, from netip.Addr, to netip.AddrPort) error {
	tr, err := s.transportFor(pkt, from, to)
	if tr == nil {
		return err
	}
	return tr.Send(pkt, from, to)
}

// enqueue is send for the packets pion writes: they wait in the socket's
// send queue and leave in batches (udpencap.Bind.Enqueue), so pkt must
// not change afterwards.
func (s *Stack) enqueue(pkt []byte, from netip.Addr, to netip.AddrPort) error {
	tr, err := s.transportFor(pkt, from, to)
	if tr == nil {
		return err
	}
	return tr.Enqueue(pkt, from, to)
}

// transportFor finds the transport that sends from; nil with a nil error
// when the fault filter drops the packet.
func (s *Stack) transportFor(pkt []byte, from netip.Addr, to netip.AddrPort) (udpencap.Bind, error) {
	if tap := s.sendTap.Load(); tap != nil {
		(*tap)(pkt, from, to)
	}
	if s.faulty(from, to, false) {
		return nil, nil
	}
	m := *s.sendVia.Load()
	tr := m[from]
	if tr == nil {
		tr = m[wildcardOf(from)]
	}
	if tr == nil {
		return nil, fmt.Errorf("sock: no socket on %v: %w", from, ErrClosed)
	}
	return tr, nil
}

// Endpoints returns every endpoint of the stack (Erlang sock's get_eps).
func (s *Stack) Endpoints() []*Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endpointsLocked()
}

// endpointsLocked returns the endpoints in the order they were created.
func (s *Stack) endpointsLocked() []*Endpoint {
	out := make([]*Endpoint, 0, len(s.endpoints))
	for ep := range s.endpoints {
		out = append(out, ep)
	}
	slices.SortFunc(out, func(x, y *Endpoint) int { return cmp.Compare(s.endpoints[x], s.endpoints[y]) })
	return out
}

// Endpoint returns the endpoint that owns the transport address (addr,
// port), or an error wrapping ErrNotFound (Erlang sock's get_ep). For a
// specific address that is the endpoint on it, else a wildcard endpoint
// of its family on the port: the one a packet to that address reaches.
func (s *Stack) Endpoint(addr netip.Addr, port uint16) (*Endpoint, error) {
	addr = addr.Unmap()
	if ep := s.endpointAt(netip.AddrPortFrom(addr, port)); ep != nil {
		return ep, nil
	}
	if addr.IsValid() && !addr.IsUnspecified() {
		if ep := s.endpointAt(netip.AddrPortFrom(wildcardOf(addr), port)); ep != nil {
			return ep, nil
		}
	}
	return nil, fmt.Errorf("sock: endpoint %v: %w", netip.AddrPortFrom(addr, port), ErrNotFound)
}

// FindAssociation returns the association between the local transport
// address (laddr, lport) and the remote one (raddr, rport), or an error
// wrapping ErrNotFound (Erlang sock's find_assoc). laddr may be any address
// a wildcard endpoint serves; the association is the one its packets
// reach (see endpointFor).
func (s *Stack) FindAssociation(laddr netip.Addr, lport uint16, raddr netip.Addr, rport uint16) (*Association, error) {
	laddr, raddr = laddr.Unmap(), raddr.Unmap()
	if laddr.IsValid() && !laddr.IsUnspecified() {
		hdr := wire.CommonHeader{SrcPort: rport, DstPort: lport}
		if ep := s.endpointFor(laddr, hdr, netip.AddrPortFrom(raddr, rport)); ep != nil {
			if a := ep.lookupPeer(raddr, rport); a != nil {
				return a, nil
			}
		}
	}
	ep, err := s.Endpoint(laddr, lport)
	if err != nil {
		return nil, err
	}
	if a := ep.lookupPeer(raddr, rport); a != nil {
		return a, nil
	}
	return nil, fmt.Errorf("sock: association %v-%v: %w",
		netip.AddrPortFrom(laddr, lport), netip.AddrPortFrom(raddr, rport), ErrNotFound)
}

// Stats are the stack's counters.
type Stats struct {
	// OOTBReplies counts replies sent to out-of-the-blue packets, and
	// OOTBDropped the ones left unanswered (RFC 9260 section 8.4).
	OOTBReplies, OOTBDropped uint64
	// FaultDrops counts packets the fault filter dropped.
	FaultDrops uint64
	// Drops counts, by reason, what the stack's endpoints and associations
	// discarded (only reasons with a count are present).
	Drops map[DropReason]uint64
	// Sockets holds the counters of each encapsulation socket.
	Sockets map[netip.Addr]udpencap.Stats
}

// Stats returns the stack's counters.
func (s *Stack) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		OOTBReplies: s.ootbReplies.Load(),
		OOTBDropped: s.ootbDropped.Load(),
		FaultDrops:  s.faultDrops.Load(),
		Drops:       s.drops.snapshot(),
		Sockets:     map[netip.Addr]udpencap.Stats{},
	}
	for a, tr := range s.transports {
		st.Sockets[a] = tr.Stats()
	}
	return st
}

// Close aborts every association, closes every endpoint and socket and
// frees the UDP port. It is idempotent.
func (s *Stack) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	eps := s.endpointsLocked()
	s.mu.Unlock()
	var errs []error
	for _, ep := range eps {
		errs = append(errs, ep.Close())
	}
	close(s.stopRotate)
	<-s.rotateDone
	s.mu.Lock()
	var detached []udpencap.Bind
	for a := range s.transports {
		detached = append(detached, s.detachTransportLocked(a))
	}
	s.mu.Unlock()
	closeTransports(detached)
	defaultMu.Lock()
	if defaultStack == s {
		defaultStack = nil
	}
	defaultMu.Unlock()
	return errors.Join(errs...)
}

// Shutdown shuts every association of the stack down gracefully, waiting
// at most until ctx is done, then closes the stack.
func (s *Stack) Shutdown(ctx context.Context) error {
	var errs []error
	for _, ep := range s.Endpoints() {
		errs = append(errs, ep.Shutdown(ctx))
	}
	errs = append(errs, s.Close())
	return errors.Join(errs...)
}

// wildcardOf is the unspecified address of a's family: the address of a
// wildcard endpoint or socket that serves a.
func wildcardOf(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

package udpencap

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"

	"github.com/usock/usock/internal/multihome"
)

// DefaultPort is the IANA-assigned UDP port for SCTP over UDP,
// "sctp-tunneling" (RFC 6951 section 5.1: "UDP-encapsulated SCTP is normally
// communicated between SCTP stacks using the IANA-assigned UDP port number
// 9899 (sctp-tunneling) on both ends"). Config.Port zero does NOT select it:
// a caller that wants the registered port passes DefaultPort explicitly.
const DefaultPort uint16 = 9899

// DefaultBatchSize is the number of datagrams read or written per system
// call in batching mode when Config.BatchSize is zero.
const DefaultBatchSize = 32

// MaxDatagramSize is the size of each receive buffer slot: the largest UDP
// payload. A socket in batching mode holds BatchSize such slots.
const MaxDatagramSize = 64 * 1024

// socketBufferSize is what Open asks the kernel for as send and receive
// buffer of every socket; the kernel may grant less (failure is ignored).
const socketBufferSize = 4 << 20

// Errors returned by the Transport. They are sentinels: test with errors.Is.
// Operations on a closed Transport return errors wrapping net.ErrClosed.
var (
	// ErrNoSocket means no socket of the Transport matches the source
	// address (or, for an unspecified source, the destination's family).
	ErrNoSocket = errors.New("udpencap: no socket for source address")
	// ErrInvalidConfig means Open was given an unusable Config.
	ErrInvalidConfig = errors.New("udpencap: invalid config")
	// ErrAddressInUse means a socket could not bind its address and port
	// because another socket holds them (EADDRINUSE): another process,
	// or another Transport of this one.
	ErrAddressInUse = errors.New("udpencap: UDP address in use")
)

// Config configures Open. Only Receiver is required: the zero value
// otherwise is a transport on 127.0.0.1, on a free UDP port, over the real
// network.
type Config struct {
	// Receiver gets every packet the transport receives (see Receiver).
	Receiver Receiver

	// Net is the network the sockets are opened on. Nil means the real
	// network (stdnet.NewNet()). With pion's vnet the sockets are read one
	// datagram at a time and Meta carries no TOS/TTL.
	Net transport.Net

	// LocalAddrs are the addresses to bind, one socket each. Nil or empty
	// means 127.0.0.1 only. IPv4-mapped IPv6 addresses are treated as
	// IPv4.
	//
	// An unspecified address (0.0.0.0 or ::) serves every address of its
	// family. On the real network on Linux it is one wildcard socket: the
	// local address of each datagram comes from IP_PKTINFO /
	// IPV6_PKTINFO, and a datagram sent from a specific address leaves
	// from that address (the same control message on send); the specific
	// addresses of its family listed with it share that socket. Elsewhere
	// (other platforms, pion's vnet, SocketPerAddress) it is one socket per
	// host address of its family (HostAddrs), so that every datagram
	// still leaves from the address chosen for it.
	LocalAddrs []netip.Addr

	// HostAddrs lists the host's addresses, for binding a wildcard
	// address as one socket per address; nil means HostAddrs(Net).
	HostAddrs func() ([]netip.Addr, error)

	// SocketPerAddress binds a wildcard address as one socket per host
	// address even where one wildcard socket could choose the source
	// address of its datagrams.
	SocketPerAddress bool

	// Port is the local UDP encapsulation port, the same for all
	// addresses (RFC 6951 section 5.1). Zero picks a free port: the first
	// socket is bound to an ephemeral port and the other addresses bind
	// that same port. Pass DefaultPort for the registered port 9899.
	Port uint16

	// BatchSize is the number of datagrams per ReadBatch/WriteBatch call
	// in batching mode; zero means DefaultBatchSize. Each socket in
	// batching mode keeps BatchSize receive slots of MaxDatagramSize
	// bytes (2 MiB for 32).
	BatchSize int

	// DisableBatching forces one-datagram-per-call I/O even where
	// recvmmsg/sendmmsg are available.
	DisableBatching bool

	// DisableOffload turns off UDP generic segmentation and receive
	// offload (UDP_SEGMENT, UDP_GRO), which batching mode uses on Linux
	// where the kernel has them.
	DisableOffload bool

	// BurstGap is how close together packets must come to Enqueue to be
	// a burst that goes through the send queue (see burstLen); zero means
	// DefaultBurstGap. A larger gap makes bursts out of slower sequences,
	// for tests on slow or instrumented machines.
	BurstGap time.Duration

	// LoggerFactory creates the transport's logger; nil means pion's
	// default factory.
	LoggerFactory logging.LoggerFactory
}

// Meta describes how a datagram arrived.
type Meta struct {
	// Src is the peer's IP address and UDP source port: the remote UDP
	// encapsulation port that RFC 6951 section 5.4 asks the SCTP layer to
	// store for the association and that address.
	Src netip.AddrPort
	// Local is the local IP address and UDP port the datagram arrived on.
	// For a socket bound to a wildcard address the IP comes from
	// IP_PKTINFO / IPV6_PKTINFO where available, else it is the wildcard.
	Local netip.AddrPort
	// TOS is the IPv4 type-of-service byte or the IPv6 traffic class
	// (DSCP and ECN bits), valid only if HasTOS.
	TOS    uint8
	HasTOS bool
	// TTL is the IPv4 time-to-live or the IPv6 hop limit, valid only if
	// HasTTL.
	TTL    uint8
	HasTTL bool
}

// Receiver consumes the SCTP packets a Bind receives, whatever their SCTP
// destination port: which endpoint a packet belongs to is the SCTP layer's
// "generic lookup" (RFC 6951 section 5.4), not the transport's.
//
// ReceivePacket is called synchronously on a read goroutine of the Bind
// (for a Transport, that of the socket the datagram arrived on, or the
// goroutine that reads it through, see Transport.ReadThrough), once per
// datagram that passed the length and CRC32c checks: pkt is the whole SCTP
// packet, at least its 12-byte common header (RFC 9260 section 3.1).
// pkt aliases a reused receive buffer and is valid only during the call:
// the receiver copies whatever it keeps. ReceivePacket must not block for
// long (it holds up every later datagram of that socket) and may run
// concurrently for datagrams of different sockets. It may call Send and
// Enqueue, and must not call Close.
type Receiver interface {
	ReceivePacket(pkt []byte, meta Meta)
}

// ReceiverFunc adapts a function to the Receiver interface.
type ReceiverFunc func(pkt []byte, meta Meta)

// ReceivePacket calls f(pkt, meta).
func (f ReceiverFunc) ReceivePacket(pkt []byte, meta Meta) {
	f(pkt, meta)
}

// Stats are the transport's counters since Open. Every received datagram is
// counted in RxDatagrams and then in at most one of RxTooShort and
// RxBadChecksum (in none if it went to the Receiver).
type Stats struct {
	RxDatagrams uint64 // UDP datagrams read from the sockets
	RxBytes     uint64 // their UDP payload bytes
	TxDatagrams uint64 // datagrams handed to the kernel successfully
	TxBytes     uint64 // their UDP payload bytes

	RxTooShort    uint64 // dropped: shorter than the SCTP common header
	RxBadChecksum uint64 // dropped: CRC32c mismatch

	TxErrors uint64 // datagrams not sent (write error, no socket, closed)

	TxSegmented uint64 // sends that carried several datagrams (UDP_SEGMENT)
	RxCoalesced uint64 // reads that returned several datagrams (UDP_GRO)
	RxErrors    uint64 // failed socket reads (not counting the one ending Close)
	// RxReadThrough counts the datagrams of RxDatagrams read by a
	// goroutine reading through (Transport.ReadThrough) rather than by a
	// socket's read goroutine.
	RxReadThrough uint64
}

// SocketInfo describes one socket of a Transport.
type SocketInfo struct {
	// Local is the address and port the socket is bound to.
	Local netip.AddrPort
	// Batching reports whether the socket reads and writes with
	// ReadBatch/WriteBatch (recvmmsg/sendmmsg) rather than one datagram
	// per system call.
	Batching bool
	// Meta reports whether the socket delivers destination address,
	// TOS/traffic class and TTL/hop limit from control messages.
	Meta bool
	// Segmentation reports whether Enqueue sends runs of equal-sized
	// packets as one UDP_SEGMENT send; Coalescing whether the kernel may
	// hand several datagrams to one read (UDP_GRO).
	Segmentation, Coalescing bool
	// SourceSelection reports whether the socket, bound to a wildcard
	// address, sets the source address of each datagram sent from a
	// specific address (IP_PKTINFO / IPV6_PKTINFO).
	SourceSelection bool
}

// Transport is the RFC 6951 UDP encapsulation transport, the Bind of real
// and virtual networks: one UDP socket per local address, all on the same
// port, each with its own read goroutine that hands every packet to the
// Config's Receiver. All methods are safe for concurrent use.
type Transport struct {
	log       logging.LeveledLogger
	port      uint16
	batchSize int
	burstGap  time.Duration
	socks     []*socket // immutable after Open
	recv      Receiver  // immutable after Open

	txErrors atomic.Uint64 // send errors that belong to no socket

	flushers sync.WaitGroup // running send queue flushers

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

// Open binds one UDP socket per configured local address on the configured
// port and starts their read goroutines. On error nothing stays open.
func Open(cfg Config) (*Transport, error) {
	if cfg.Receiver == nil {
		return nil, fmt.Errorf("%w: no Receiver", ErrInvalidConfig)
	}
	if cfg.BatchSize < 0 {
		return nil, fmt.Errorf("%w: negative BatchSize %d", ErrInvalidConfig, cfg.BatchSize)
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BurstGap < 0 {
		return nil, fmt.Errorf("%w: negative BurstGap %v", ErrInvalidConfig, cfg.BurstGap)
	}
	if cfg.BurstGap == 0 {
		cfg.BurstGap = DefaultBurstGap
	}
	if cfg.LoggerFactory == nil {
		cfg.LoggerFactory = logging.NewDefaultLoggerFactory()
	}
	if cfg.Net == nil {
		n, err := stdnet.NewNet()
		if err != nil {
			return nil, fmt.Errorf("udpencap: stdnet: %w", err)
		}
		cfg.Net = n
	}
	addrs := cfg.LocalAddrs
	if len(addrs) == 0 {
		addrs = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	}
	norm := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if !a.IsValid() {
			return nil, fmt.Errorf("%w: invalid local address", ErrInvalidConfig)
		}
		a = a.Unmap()
		for _, b := range norm {
			if a == b {
				return nil, fmt.Errorf("%w: duplicate local address %s", ErrInvalidConfig, a)
			}
		}
		norm = append(norm, a)
	}

	t := &Transport{
		log:       cfg.LoggerFactory.NewLogger("udpencap"),
		batchSize: cfg.BatchSize,
		burstGap:  cfg.BurstGap,
		recv:      cfg.Receiver,
	}

	if cfg.HostAddrs == nil {
		n := cfg.Net
		cfg.HostAddrs = func() ([]netip.Addr, error) { return HostAddrs(n) }
	}
	norm = bindPlan(norm, selectsSource(cfg), cfg.HostAddrs)

	// With Port 0 the first socket picks an ephemeral port that may be
	// taken on another address; retry a few times with a fresh one.
	attempts := 1
	if cfg.Port == 0 && len(norm) > 1 {
		attempts = 8
	}
	var err error
	for range attempts {
		t.socks, err = t.bindAll(cfg, norm)
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	t.port = t.socks[0].local.Port()
	for _, s := range t.socks {
		// The buffers once the sockets are bound: a failed attempt above
		// allocates none.
		s.rd = s.newReader()
		t.wg.Add(1)
		go s.run()
	}
	return t, nil
}

func (t *Transport) bindAll(cfg Config, addrs []netip.Addr) ([]*socket, error) {
	socks := make([]*socket, 0, len(addrs))
	port := cfg.Port
	for _, a := range addrs {
		s, err := t.bind(cfg, a, port)
		if err != nil {
			for _, o := range socks {
				_ = o.conn.Close()
			}
			return nil, err
		}
		port = s.local.Port()
		socks = append(socks, s)
	}
	return socks, nil
}

// Port returns the local UDP encapsulation port shared by all sockets.
func (t *Transport) Port() uint16 { return t.port }

// LocalAddrs returns the bound address and port of every socket, in the
// order of Config.LocalAddrs (a wildcard address bound as one socket per
// host address has them in its place).
func (t *Transport) LocalAddrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(t.socks))
	for i, s := range t.socks {
		out[i] = s.local
	}
	return out
}

// Sockets describes every socket, in the order of LocalAddrs.
func (t *Transport) Sockets() []SocketInfo {
	out := make([]SocketInfo, len(t.socks))
	for i, s := range t.socks {
		out[i] = SocketInfo{Local: s.local, Batching: s.batch != nil, Meta: s.meta,
			Segmentation: s.gso.Load(), Coalescing: s.gro, SourceSelection: s.srcSelect}
	}
	return out
}

// Serves reports whether datagrams sent from the specific address a leave
// from a: a socket is bound to a, or a wildcard socket of a's family sets
// the source address of what it sends.
func (t *Transport) Serves(a netip.Addr) bool {
	a = a.Unmap()
	for _, s := range t.socks {
		if s.addr == a || (s.srcSelect && s.is4 == a.Is4()) {
			return true
		}
	}
	return false
}

// Send writes pkt, a complete SCTP packet with its checksum, as one UDP
// datagram to the peer address and remote encapsulation port to. RFC 6951
// section 5.3 requires that the UDP source port "MUST be the local UDP
// encapsulation port number of the SCTP stack": it is, as every socket is
// bound to Port(). It uses the socket bound to from; an invalid or unspecified
// from selects the first socket of to's address family, and a from without
// its own socket falls back to a wildcard socket of its family, if any,
// which makes the datagram leave from from where it can (see Serves).
// Otherwise the error wraps ErrNoSocket. Send writes synchronously on the
// calling goroutine, does not modify or retain pkt, and after Close returns
// an error wrapping net.ErrClosed.
func (t *Transport) Send(pkt []byte, from netip.Addr, to netip.AddrPort) error {
	s, err := t.sender(from, to)
	if err != nil {
		return err
	}
	return s.send(pkt, from, to)
}

// sender is the socket Send and Enqueue write through, or the counted
// error why there is none (closed transport, no socket for from).
func (t *Transport) sender(from netip.Addr, to netip.AddrPort) (*socket, error) {
	if t.closed.Load() {
		t.txErrors.Add(1)
		return nil, fmt.Errorf("udpencap: send: %w", net.ErrClosed)
	}
	s, err := t.pick(from, to)
	if err != nil {
		t.txErrors.Add(1)
		return nil, err
	}
	return s, nil
}

// pick finds the socket for a source address; see Send.
func (t *Transport) pick(from netip.Addr, to netip.AddrPort) (*socket, error) {
	if from.IsValid() && !from.IsUnspecified() {
		from = from.Unmap()
		for _, s := range t.socks {
			if s.addr == from {
				return s, nil
			}
		}
		for _, s := range t.socks {
			if s.addr.IsUnspecified() && s.is4 == from.Is4() {
				return s, nil
			}
		}
		return nil, fmt.Errorf("send from %s: %w", from, ErrNoSocket)
	}
	// No source given: a wildcard socket of to's family lets the kernel
	// choose; among specific sockets (a wildcard bound as one socket per
	// address) the one multihome.LocalFor would choose for to.
	dst := to.Addr().Unmap()
	var best *socket
	bestScore := -1
	for _, s := range t.socks {
		if s.is4 != dst.Is4() {
			continue
		}
		if s.addr.IsUnspecified() {
			return s, nil
		}
		if score := multihome.Score(s.addr, dst); score > bestScore {
			best, bestScore = s, score
		}
	}
	if best != nil {
		return best, nil
	}
	return nil, fmt.Errorf("send to %s: %w", to, ErrNoSocket)
}

// Stats returns a snapshot of the counters, summed over all sockets.
func (t *Transport) Stats() Stats {
	var st Stats
	for _, s := range t.socks {
		c := &s.ctr
		st.RxDatagrams += c.rxDatagrams.Load()
		st.RxBytes += c.rxBytes.Load()
		st.RxTooShort += c.rxTooShort.Load()
		st.RxBadChecksum += c.rxBadChecksum.Load()
		st.RxErrors += c.rxErrors.Load()
		st.TxDatagrams += c.txDatagrams.Load()
		st.TxBytes += c.txBytes.Load()
		st.TxErrors += c.txErrors.Load()
		st.TxSegmented += c.txSegmented.Load()
		st.RxCoalesced += c.rxCoalesced.Load()
		st.RxReadThrough += c.rxThrough.Load()
	}
	st.TxErrors += t.txErrors.Load()
	return st
}

// Close writes what Enqueue queued, closes every socket and waits until
// all read goroutines have returned; no ReceivePacket call runs after it
// returns. Later calls return the first call's result. Close must not be
// called from within ReceivePacket.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		t.stopQueues()
		var errs []error
		for _, s := range t.socks {
			s.closeTurn()
			if err := s.conn.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		t.wg.Wait()
		t.closeErr = errors.Join(errs...)
	})
	return t.closeErr
}

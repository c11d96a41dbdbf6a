package udpencap

import "net/netip"

// Bind is the UDP encapsulation transport as the SCTP stack uses it: the
// sockets of one or more local addresses, all on one local UDP
// encapsulation port (RFC 6951 section 5.1), that send SCTP packets and
// hand the received ones to the Receiver the Bind was opened with.
// *Transport is the Bind of real and virtual (pion vnet) networks;
// package udpencaptest has an in-memory one for tests.
//
// Received packets reach the Receiver as Receiver describes: on a
// goroutine of the Bind (or of a ReadThrougher's caller), one call per
// datagram that passed the length and CRC32c checks, with a buffer valid
// only during the call.
//
// All methods are safe for concurrent use, and all but Close may be
// called from within ReceivePacket (the receive path answers with Send).
type Bind interface {
	// Port returns the local UDP encapsulation port of every socket of
	// the Bind: the source port of what it sends (RFC 6951 section 5.3:
	// it "MUST be the local UDP encapsulation port number of the SCTP
	// stack").
	Port() uint16

	// Serves reports whether a packet sent from the specific address a
	// leaves from a: a socket is bound to a, or a wildcard socket of a's
	// family chooses the source address of what it sends.
	Serves(a netip.Addr) bool

	// Send writes pkt, a complete SCTP packet with its checksum, as one
	// UDP datagram from local address from to the peer address and
	// remote encapsulation port to, synchronously on the calling
	// goroutine: when Send returns the datagram has been handed to the
	// network or has failed. Send neither modifies nor keeps pkt; the
	// caller may reuse it at once. An invalid or unspecified from lets
	// the Bind choose the source. Errors: one wrapping ErrNoSocket when
	// no socket can send from from (or to to's family), one wrapping
	// net.ErrClosed after Close, else the write's.
	Send(pkt []byte, from netip.Addr, to netip.AddrPort) error

	// Enqueue sends pkt like Send but may return before it is written:
	// the Bind keeps pkt until the datagram has been written (or has
	// failed), so the caller must not modify or reuse it after the call.
	// Packets enqueued from one goroutine to one destination leave in
	// the order of the calls. Enqueue may block while the Bind's queue is
	// full (backpressure). It returns the errors Send returns at once (no
	// socket, closed); a failure of the deferred write is only counted
	// (Stats.TxErrors). Packets enqueued before Close are written before
	// Close returns.
	Enqueue(pkt []byte, from netip.Addr, to netip.AddrPort) error

	// Stats returns a snapshot of the Bind's counters.
	Stats() Stats

	// Close writes what Enqueue queued, closes the sockets and waits
	// until every goroutine of the Bind has returned, so that no
	// ReceivePacket call is running once Close returns. Later calls
	// return the first call's result. Sends after Close fail with an
	// error wrapping net.ErrClosed. Close must not be called from within
	// ReceivePacket: it would wait for itself.
	Close() error
}

// Opener opens a Bind on the local addresses local, all on UDP port port
// (zero: a free port, then reported by Bind.Port), that hands every
// packet it receives to recv. A wildcard address (0.0.0.0, ::) serves
// every address of its family, and the specific addresses of its family
// listed with it are served through it (see Config.LocalAddrs). When the
// port is held by another socket on one of the addresses the error wraps
// ErrAddressInUse. Nothing stays open after an error.
type Opener func(local []netip.Addr, port uint16, recv Receiver) (Bind, error)

// NewOpener returns the Opener of Transports configured as cfg, with the
// local addresses, port and Receiver of each call.
func NewOpener(cfg Config) Opener {
	return func(local []netip.Addr, port uint16, recv Receiver) (Bind, error) {
		c := cfg
		c.LocalAddrs = local
		c.Port = port
		c.Receiver = recv
		t, err := Open(c)
		if err != nil {
			return nil, err
		}
		return t, nil
	}
}

// ReadThrougher is a Bind whose reads a goroutine that waits for packets
// can take over, reading the socket itself instead of being handed what
// the Bind's read goroutine read: *Transport, for a single socket on the
// real network. See Transport.ReadThrough, Transport.EndReadThrough and
// Transport.WakeReadThrough for the contract.
type ReadThrougher interface {
	Bind
	ReadThrough(owner any, done <-chan struct{}) (bool, error)
	EndReadThrough(owner any)
	WakeReadThrough(owner any)
}

var _ Bind = (*Transport)(nil)

package sock

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/pion/transport/v5"

	"github.com/usock/usock/udpencap"
)

// Defaults, from RFC 9260 section 16 unless noted.
const (
	DefaultRTOInitial         = 1 * time.Second
	DefaultRTOMin             = 1 * time.Second
	DefaultRTOMax             = 60 * time.Second
	DefaultMaxInitRetransmits = 8
	DefaultCookieLifetime     = 60 * time.Second
	// DefaultCookieRotation is how often the cookie secret changes; a cookie
	// made under the previous secret still verifies.
	DefaultCookieRotation = 5 * time.Minute
	// DefaultStreams is the default number of outbound streams asked for
	// and inbound streams accepted.
	DefaultStreams = 16
	// DefaultMaxMessageSize is the largest message Send takes (pion's own
	// default).
	DefaultMaxMessageSize = 65536
	// DefaultReceiveBuffer is the receive window (a_rwnd) per association.
	DefaultReceiveBuffer = 1024 * 1024
	// DefaultPacketSize is the SCTP packet size: it fits the IPv6 minimum
	// MTU of 1280 bytes after the IPv6 (40) and UDP (8) headers.
	DefaultPacketSize = 1232
	// DefaultUDPPort is the UDP encapsulation port registered by IANA for
	// SCTP (RFC 6951 section 5.1), used by the stack and as the peer's.
	DefaultUDPPort = 9899
	// DefaultRecvQueue is how many received messages an endpoint (or, in
	// RecvPerAssociation mode, each association) holds before its
	// associations stop reading (and their windows close).
	DefaultRecvQueue = 256

	// DefaultHeartbeatInterval is HB.interval.
	DefaultHeartbeatInterval = 30 * time.Second
	// DefaultPathMaxRetrans is Path.Max.Retrans.
	DefaultPathMaxRetrans = 5
	// DefaultAssociationMaxRetrans is Association.Max.Retrans.
	DefaultAssociationMaxRetrans = 10
	// DefaultPFThreshold is the potentially-failed threshold of RFC 7829
	// (0, as Linux: a path is suspect after its first timeout).
	DefaultPFThreshold = 0

	maxPacketSize = 8000 // pion reads inbound packets into 8192 bytes
	minPacketSize = 512
)

// StackOption configures a Stack.
type StackOption func(*stackConfig) error

type stackConfig struct {
	net            transport.Net
	udpPort        uint16
	cookieLifetime time.Duration
	cookieRotation time.Duration
	logger         *slog.Logger
	noBatching     bool
	burstGap       time.Duration // udpencap.Config.BurstGap; zero: its default
	hostAddrs      func() ([]netip.Addr, error)
	// socketPerAddress: udpencap.Config.SocketPerAddress, so that tests
	// on Linux run the sockets of platforms without source selection.
	socketPerAddress bool
	// open opens the stack's Binds: WithBind's, else Transports on net
	// with the settings above (NewStack).
	open udpencap.Opener
	// ownBind: open is WithBind's, which decides what its Binds serve.
	ownBind bool
}

// withBurstGap makes packets that come within d of each other a burst for
// the send queue (udpencap.Config.BurstGap): tests of the queue use a wide
// gap, so that what they check does not depend on the machine's speed.
func withBurstGap(d time.Duration) StackOption {
	return func(c *stackConfig) error {
		c.burstGap = d
		return nil
	}
}

// WithUDPBatching turns batched UDP I/O on or off (default on): where the
// system has them (Linux), sockets read with recvmmsg, the packets of a
// burst leave through a send queue in one sendmmsg, runs of equal-sized
// packets as one UDP_SEGMENT send, and the kernel may coalesce arriving
// datagrams (UDP_GRO). Off, every packet is one system call on the
// sending goroutine, as pion alone does. Meant for measurements and for
// ruling batching out when debugging.
func WithUDPBatching(on bool) StackOption {
	return func(c *stackConfig) error {
		c.noBatching = !on
		return nil
	}
}

// WithNet makes the stack open its sockets through n (a pion vnet in
// tests). The default is the host's network.
func WithNet(n transport.Net) StackOption {
	return func(c *stackConfig) error {
		if n == nil {
			return fmt.Errorf("sock: %w: nil network", ErrInvalidOption)
		}
		c.net = n
		return nil
	}
}

// WithBind makes the stack send and receive through the Binds open opens
// instead of UDP sockets on its network (WithNet), for example the
// in-memory ones of package udpencaptest. The stack calls open once per
// local address when an endpoint first needs it, or with a wildcard
// address and the specific addresses of its family the wildcard is to
// serve (see udpencap.Opener), and closes the Bind with the stack. The
// options that configure sockets (WithNet, WithUDPBatching) then have no
// effect, and a specific address a wildcard Bind serves is taken as the
// Bind's Serves says, without a probe of the host's addresses.
func WithBind(open udpencap.Opener) StackOption {
	return func(c *stackConfig) error {
		if open == nil {
			return fmt.Errorf("%w: nil bind opener", ErrInvalidOption)
		}
		c.open = open
		c.ownBind = true
		return nil
	}
}

// WithUDPPort sets the local UDP encapsulation port of every socket of the
// stack (RFC 6951 section 5.1). 0 picks a free port. Default 9899.
func WithUDPPort(port uint16) StackOption {
	return func(c *stackConfig) error {
		c.udpPort = port
		return nil
	}
}

// WithCookieLifetime sets the Valid.Cookie.Life of the State Cookies the
// stack's endpoints hand out (RFC 9260 section 5.1.3). Default 60 s.
func WithCookieLifetime(d time.Duration) StackOption {
	return func(c *stackConfig) error {
		if d <= 0 || d > time.Hour {
			return fmt.Errorf("sock: %w: cookie lifetime %v not in (0, 1h]", ErrInvalidOption, d)
		}
		c.cookieLifetime = d
		return nil
	}
}

// WithLogger sets the logger of the stack and of the pion associations
// under it. The default discards everything below warnings.
func WithLogger(l *slog.Logger) StackOption {
	return func(c *stackConfig) error {
		if l == nil {
			return fmt.Errorf("sock: %w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}

// EndpointOption configures an Endpoint and the associations it makes.
type EndpointOption func(*endpointConfig) error

type endpointConfig struct {
	accept    acceptPolicy
	recvQueue int
	recvMode  RecvMode
	assoc     assocConfig
	senderDry bool // WithSenderDryEvents
}

type assocConfig struct {
	rtoInitial, rtoMin, rtoMax time.Duration
	maxInitRetransmits         int
	outStreams, inStreams      uint16
	maxMessageSize             int
	receiveBuffer              int
	packetSize                 int
	hbInterval                 time.Duration // 0: no periodic heartbeats
	pathMaxRetrans             int
	assocMaxRetrans            int
	pfThreshold                int
	switchback                 bool
}

func defaultEndpointConfig() endpointConfig {
	return endpointConfig{
		recvQueue: DefaultRecvQueue,
		assoc: assocConfig{
			rtoInitial:         DefaultRTOInitial,
			rtoMin:             DefaultRTOMin,
			rtoMax:             DefaultRTOMax,
			maxInitRetransmits: DefaultMaxInitRetransmits,
			outStreams:         DefaultStreams,
			inStreams:          DefaultStreams,
			maxMessageSize:     DefaultMaxMessageSize,
			receiveBuffer:      DefaultReceiveBuffer,
			packetSize:         DefaultPacketSize,
			hbInterval:         DefaultHeartbeatInterval,
			pathMaxRetrans:     DefaultPathMaxRetrans,
			assocMaxRetrans:    DefaultAssociationMaxRetrans,
			pfThreshold:        DefaultPFThreshold,
		},
	}
}

func (c *endpointConfig) validate() error {
	a := &c.assoc
	if a.rtoMin > a.rtoInitial || a.rtoInitial > a.rtoMax {
		return fmt.Errorf("sock: %w: need RTO.Min %v <= RTO.Initial %v <= RTO.Max %v",
			ErrInvalidOption, a.rtoMin, a.rtoInitial, a.rtoMax)
	}
	if a.pfThreshold > a.pathMaxRetrans {
		return fmt.Errorf("sock: %w: PF threshold %d above Path.Max.Retrans %d", ErrInvalidOption, a.pfThreshold, a.pathMaxRetrans)
	}
	if a.maxMessageSize > a.receiveBuffer {
		return fmt.Errorf("sock: %w: maximum message size %d above the receive buffer %d",
			ErrInvalidOption, a.maxMessageSize, a.receiveBuffer)
	}
	return nil
}

func durationOption(name string, d, lo, hi time.Duration, set func(*assocConfig)) EndpointOption {
	return func(c *endpointConfig) error {
		if d < lo || d > hi {
			return fmt.Errorf("sock: %w: %s %v not in [%v, %v]", ErrInvalidOption, name, d, lo, hi)
		}
		set(&c.assoc)
		return nil
	}
}

func intOption(name string, v, lo, hi int, set func(*endpointConfig)) EndpointOption {
	return func(c *endpointConfig) error {
		if v < lo || v > hi {
			return fmt.Errorf("sock: %w: %s %d not in [%d, %d]", ErrInvalidOption, name, v, lo, hi)
		}
		set(c)
		return nil
	}
}

// WithRTOInitial sets RTO.Initial (RFC 9260 section 6.3.1), the first
// retransmission timeout of the handshake's T1-init and T1-cookie timers.
// pion's data timer keeps its own fixed 1 s initial RTO. Default 1 s.
func WithRTOInitial(d time.Duration) EndpointOption {
	return durationOption("RTO.Initial", d, 10*time.Millisecond, time.Hour, func(a *assocConfig) { a.rtoInitial = d })
}

// WithRTOMin sets RTO.Min (RFC 9260 section 6.3.1) for the stack's own
// timers (10 ms and up). pion's data retransmission timer has a fixed
// minimum of 1 s. Default 1 s.
func WithRTOMin(d time.Duration) EndpointOption {
	return durationOption("RTO.Min", d, 10*time.Millisecond, time.Hour, func(a *assocConfig) { a.rtoMin = d })
}

// WithRTOMax sets RTO.Max (RFC 9260 section 6.3.1): the cap of the
// handshake timers' back-off and of pion's data retransmission timer.
// Default 60 s.
func WithRTOMax(d time.Duration) EndpointOption {
	return durationOption("RTO.Max", d, 10*time.Millisecond, time.Hour, func(a *assocConfig) { a.rtoMax = d })
}

// WithMaxInitRetransmits sets Max.Init.Retransmits (RFC 9260 section 5.1):
// how many times INIT and COOKIE-ECHO are retransmitted before Connect
// gives up. Default 8.
func WithMaxInitRetransmits(n int) EndpointOption {
	return intOption("Max.Init.Retransmits", n, 0, 255, func(c *endpointConfig) { c.assoc.maxInitRetransmits = n })
}

// WithStreams sets the number of outbound streams asked for (OS) and the
// maximum of inbound streams accepted (MIS) (RFC 9260 section 5.1.1). The
// association uses min(our OS, peer's MIS) outbound and min(our MIS, peer's
// OS) inbound. Default 16 each.
func WithStreams(out, in int) EndpointOption {
	return func(c *endpointConfig) error {
		if out < 1 || out > 65535 || in < 1 || in > 65535 {
			return fmt.Errorf("sock: %w: streams out %d in %d not in [1, 65535]", ErrInvalidOption, out, in)
		}
		c.assoc.outStreams, c.assoc.inStreams = uint16(out), uint16(in)
		return nil
	}
}

// WithMaxMessageSize sets the largest message Send accepts and the largest
// message received. Default 65536.
func WithMaxMessageSize(n int) EndpointOption {
	return intOption("maximum message size", n, 1, 16<<20, func(c *endpointConfig) { c.assoc.maxMessageSize = n })
}

// WithReceiveBuffer sets the receive window of each association: the
// a_rwnd advertised in INIT and INIT-ACK, and pion's receive buffer.
// Default 1 MiB.
func WithReceiveBuffer(n int) EndpointOption {
	return intOption("receive buffer", n, 1500, 64<<20, func(c *endpointConfig) { c.assoc.receiveBuffer = n })
}

// WithPacketSize sets the largest SCTP packet sent (without the UDP and IP
// headers). Default 1232.
func WithPacketSize(n int) EndpointOption {
	return intOption("packet size", n, minPacketSize, maxPacketSize, func(c *endpointConfig) { c.assoc.packetSize = n })
}

// WithRecvQueue sets how many received messages wait for Endpoint.Recv
// (RecvPerEndpoint: one queue for all the endpoint's associations) or for
// Association.Recv (RecvPerAssociation: that many for each association,
// and at most its receive buffer's bytes beyond the first message). When
// a queue is full its associations stop reading: their receive windows
// close and the peers slow down. Default 256.
func WithRecvQueue(n int) EndpointOption {
	return intOption("receive queue", n, 1, 1<<20, func(c *endpointConfig) { c.recvQueue = n })
}

// WithHeartbeatInterval sets HB.interval (RFC 9260 section 8.3): an idle
// path gets a HEARTBEAT every RTO + HB.interval, jittered. 0 turns the
// periodic heartbeats off (the ones that confirm a new address still go).
// Default 30 s.
func WithHeartbeatInterval(d time.Duration) EndpointOption {
	return func(c *endpointConfig) error {
		if d != 0 && (d < 10*time.Millisecond || d > 24*time.Hour) {
			return fmt.Errorf("sock: %w: HB.interval %v: 0 (off) or in [10ms, 24h]", ErrInvalidOption, d)
		}
		c.assoc.hbInterval = d
		return nil
	}
}

// WithPathMaxRetrans sets Path.Max.Retrans (RFC 9260 section 8.2): after
// more consecutive timeouts a path is inactive. Default 5.
func WithPathMaxRetrans(n int) EndpointOption {
	return intOption("Path.Max.Retrans", n, 0, 255, func(c *endpointConfig) { c.assoc.pathMaxRetrans = n })
}

// WithAssociationMaxRetrans sets Association.Max.Retrans (RFC 9260 section
// 8.1): after more consecutive timeouts over all paths the association is
// aborted and the user gets EventDown with ReasonCommunicationLost.
// Default 10.
func WithAssociationMaxRetrans(n int) EndpointOption {
	return intOption("Association.Max.Retrans", n, 1, 255, func(c *endpointConfig) { c.assoc.assocMaxRetrans = n })
}

// WithPFThreshold sets the potentially-failed threshold (RFC 7829): after
// more consecutive timeouts a path gets no new data until it answers
// again. At most Path.Max.Retrans. Default 0.
func WithPFThreshold(n int) EndpointOption {
	return intOption("PF threshold", n, 0, 255, func(c *endpointConfig) { c.assoc.pfThreshold = n })
}

// WithPrimarySwitchback makes data return to the primary path when it is
// active again after a failure (RFC 7829 section 6 "Primary Path
// Switchover" lets either behaviour be chosen). Default off: data stays on
// the path it moved to.
func WithPrimarySwitchback(on bool) EndpointOption {
	return func(c *endpointConfig) error {
		c.assoc.switchback = on
		return nil
	}
}

// WithSenderDryEvents turns EventSenderDry on or off for the endpoint's
// associations (RFC 6458 section 6.1.9: an application subscribes to
// SCTP_SENDER_DRY_EVENT). On, each association raises it once when it is
// established (nothing is sent yet) and then each time it becomes dry
// again: everything sent acknowledged, nothing queued. Default off: it
// would otherwise flood the event queue of an endpoint that sends much.
func WithSenderDryEvents(on bool) EndpointOption {
	return func(c *endpointConfig) error {
		c.senderDry = on
		return nil
	}
}

// ConnectOption configures one Connect call.
type ConnectOption func(*connectConfig) error

type connectConfig struct {
	remoteUDPPort uint16
}

// WithRemoteUDPPort sets the peer's UDP encapsulation port for the INIT.
// Default 9899 (RFC 6951 section 5.1); it is then learned from the peer's
// packets (section 5.4).
func WithRemoteUDPPort(port uint16) ConnectOption {
	return func(c *connectConfig) error {
		if port == 0 {
			return fmt.Errorf("sock: %w: remote UDP port 0", ErrInvalidOption)
		}
		c.remoteUDPPort = port
		return nil
	}
}

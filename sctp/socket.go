package sctp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/usock/usock/sock"
)

// hub hands the events of one endpoint to the SCTPConns of its
// associations: one goroutine (run) reads Endpoint.Event until the
// endpoint closes. mu guards conns (and is taken before an SCTPConn's mu
// to update its key); run, the registering Accept or Dial and the
// releasing Close enter.
type hub struct {
	ep     *sock.Endpoint
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	conns map[*sock.Association]*SCTPConn
}

func startHub(ep *sock.Endpoint) *hub {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hub{ep: ep, cancel: cancel, done: make(chan struct{}), conns: map[*sock.Association]*SCTPConn{}}
	go h.run(ctx)
	return h
}

// run dispatches events; an event of an association without an SCTPConn
// (not accepted yet) is dropped: nothing was subscribed for it.
func (h *hub) run(ctx context.Context) {
	defer close(h.done)
	for {
		ev, err := h.ep.Event(ctx)
		if err != nil {
			return
		}
		c := h.find(ev)
		if c != nil {
			c.event(ev)
		}
	}
}

// find returns the SCTPConn of the event's association. After a peer
// restart (RFC 9260 section 5.2.4 action A) the event names the new
// association while the conn is still registered under the one it
// replaced (sock.Conn moves to the new one on its next read or write):
// the conn is moved to the new key here, so that EventRestart and the
// events after it reach it.
func (h *hub) find(ev sock.Event) *SCTPConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.conns[ev.Association]; c != nil || ev.Type != sock.EventRestart {
		return c
	}
	for old, c := range h.conns {
		select {
		case <-old.Done():
		default:
			continue // not ended: not the one replaced
		}
		if old.Successor() == ev.Association {
			delete(h.conns, old)
			h.conns[ev.Association] = c
			c.mu.Lock()
			c.key = ev.Association
			c.mu.Unlock()
			return c
		}
	}
	return nil
}

func (h *hub) add(c *SCTPConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := c.conn.Association()
	c.mu.Lock()
	c.key = a
	c.mu.Unlock()
	c.hubDone = h.done
	// The EventDown is pushed after the association's Done closes: open
	// now, under mu, means run finds the conn when it comes.
	select {
	case <-a.Done():
	default:
		c.expectDown = true
	}
	h.conns[a] = c
}

func (h *hub) remove(c *SCTPConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.mu.Lock()
	key := c.key
	c.mu.Unlock()
	if h.conns[key] == c {
		delete(h.conns, key)
	}
}

// stop ends run and waits for it.
func (h *hub) stop() {
	h.cancel()
	<-h.done
}

// SocketConfig holds the options of Listen and Dial.
type SocketConfig struct {
	// Control, if not nil, is called before the endpoint is created, with
	// the network, the local address (SCTPAddr.String, empty without one)
	// and a syscall.RawConn whose methods return ErrUnsupported: there is
	// no kernel socket. An error from Control fails the Listen or Dial.
	Control func(network, address string, c syscall.RawConn) error
	// NotificationHandler, if not nil, gets the notifications SCTPRead
	// reads (see NotificationHandler).
	NotificationHandler NotificationHandler
	// InitMsg holds the INIT parameters (see InitMsg for the zero values).
	InitMsg InitMsg

	// Stack is the stack to use; nil: the package's (SetStack, the
	// environment, sock.Default).
	Stack *sock.Stack
	// PeerUDPPort is the peer's UDP encapsulation port Dial sends the INIT
	// to; 0: the package's (SetPeerUDPPort, USOCK_PEER_UDP_PORT, 9899).
	PeerUDPPort uint16
}

// Listen listens on laddr (nil or no IPs: the wildcard address of the
// network's family; port 0: a free port).
func (cfg *SocketConfig) Listen(network string, laddr *SCTPAddr) (*SCTPListener, error) {
	return listen(cfg, network, laddr)
}

// Dial sets up an association from laddr (nil or no IPs: the wildcard
// address; port 0: a free port) to raddr and returns its connection.
func (cfg *SocketConfig) Dial(network string, laddr, raddr *SCTPAddr) (*SCTPConn, error) {
	return dial(cfg, network, laddr, raddr)
}

// ListenSCTP listens on laddr with 65535 outbound streams asked for, as
// ListenSCTPExt.
func ListenSCTP(network string, laddr *SCTPAddr) (*SCTPListener, error) {
	return ListenSCTPExt(network, laddr, InitMsg{NumOstreams: SCTP_MAX_STREAM})
}

// ListenSCTPExt listens on laddr with the INIT parameters options, on the
// package's stack.
func ListenSCTPExt(network string, laddr *SCTPAddr, options InitMsg) (*SCTPListener, error) {
	return listen(&SocketConfig{InitMsg: options}, network, laddr)
}

// DialSCTP sets up an association to raddr, with 65535 outbound streams
// asked for, as DialSCTPExt.
func DialSCTP(network string, laddr, raddr *SCTPAddr) (*SCTPConn, error) {
	return DialSCTPExt(network, laddr, raddr, InitMsg{NumOstreams: SCTP_MAX_STREAM})
}

// DialSCTPExt sets up an association from laddr (nil: the wildcard
// address, a free port) to raddr with the INIT parameters options, on the
// package's stack, and returns its connection once it is established.
func DialSCTPExt(network string, laddr, raddr *SCTPAddr, options InitMsg) (*SCTPConn, error) {
	return dial(&SocketConfig{InitMsg: options}, network, laddr, raddr)
}

// Defaults of the INIT parameters (Linux's for the number of outbound
// streams; the inbound streams accepted are the stack's default, not
// Linux's 65535, which bounds what a peer can make the stack hold).
const (
	defaultOutStreams = 10
	defaultInStreams  = sock.DefaultStreams
)

// endpointOptions turns the INIT parameters into endpoint options.
func endpointOptions(m InitMsg) []sock.EndpointOption {
	out, in := int(m.NumOstreams), int(m.MaxInstreams)
	if out == 0 {
		out = defaultOutStreams
	}
	if in == 0 {
		in = defaultInStreams
	}
	opts := []sock.EndpointOption{
		sock.WithRecvMode(sock.RecvPerAssociation),
		sock.WithStreams(out, in),
		sock.WithSenderDryEvents(true),
	}
	if m.MaxAttempts != 0 {
		opts = append(opts, sock.WithMaxInitRetransmits(int(m.MaxAttempts)))
	}
	return opts
}

// localAddrs returns the endpoint's addresses and port for laddr; no
// address is the wildcard address of the network's family (or of
// raddr's).
func localAddrs(network string, laddr, raddr *SCTPAddr) ([]netip.Addr, uint16, error) {
	var ips []netip.Addr
	var port uint16
	if laddr != nil {
		var err error
		if ips, err = laddr.netipAddrs(); err != nil {
			return nil, 0, err
		}
		if port, err = laddr.port(); err != nil {
			return nil, 0, err
		}
	}
	if len(ips) > 0 {
		return ips, port, nil
	}
	wild := netip.IPv4Unspecified()
	if network == "sctp6" {
		wild = netip.IPv6Unspecified()
	} else if network != "sctp4" && raddr != nil && len(raddr.IPAddrs) > 0 && raddr.IPAddrs[0].IP.To4() == nil {
		wild = netip.IPv6Unspecified()
	}
	return []netip.Addr{wild}, port, nil
}

func checkNetwork(network string) error {
	switch network {
	case "sctp", "sctp4", "sctp6":
		return nil
	}
	return &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
}

func callControl(cfg *SocketConfig, network string, laddr *SCTPAddr) error {
	if cfg.Control == nil {
		return nil
	}
	var s string
	if laddr != nil {
		s = laddr.String()
	}
	return cfg.Control(network, s, rawConn{})
}

// packetSize is the SCTP packet size of the package's endpoints.
const packetSize = sock.DefaultPacketSize

func listen(cfg *SocketConfig, network string, laddr *SCTPAddr) (*SCTPListener, error) {
	if err := checkNetwork(network); err != nil {
		return nil, err
	}
	stack, _, err := stackFor(cfg)
	if err != nil {
		return nil, err
	}
	if err := callControl(cfg, network, laddr); err != nil {
		return nil, err
	}
	ips, port, err := localAddrs(network, laddr, nil)
	if err != nil {
		return nil, err
	}
	// Every INIT is taken; sock bounds the associations not accepted yet.
	opts := append(endpointOptions(cfg.InitMsg), sock.AcceptFunc(func(sock.AcceptRequest) bool { return true }))
	ep, err := stack.NewEndpoint(ips, port, opts...)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: laddr, Err: err}
	}
	sl, err := sock.NewListener(ep, sock.SendInfo{})
	if err != nil {
		_ = ep.Close()
		return nil, &net.OpError{Op: "listen", Net: network, Addr: laddr, Err: err}
	}
	return &SCTPListener{ln: sl, ep: ep, hub: startHub(ep), handler: cfg.NotificationHandler, refs: 1}, nil
}

func dial(cfg *SocketConfig, network string, laddr, raddr *SCTPAddr) (*SCTPConn, error) {
	if err := checkNetwork(network); err != nil {
		return nil, err
	}
	if raddr == nil || len(raddr.IPAddrs) == 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("sctp: no remote address: %w", ErrInvalidAddress)}
	}
	remote, err := raddr.netipAddrs()
	if err != nil {
		return nil, err
	}
	rport, err := raddr.port()
	if err != nil {
		return nil, err
	}
	stack, peerUDP, err := stackFor(cfg)
	if err != nil {
		return nil, err
	}
	if err := callControl(cfg, network, laddr); err != nil {
		return nil, err
	}
	ips, port, err := localAddrs(network, laddr, raddr)
	if err != nil {
		return nil, err
	}
	ep, err := stack.NewEndpoint(ips, port, endpointOptions(cfg.InitMsg)...)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: err}
	}
	h := startHub(ep)
	d := sock.Dialer{Endpoint: ep, Options: []sock.ConnectOption{sock.WithRemoteUDPPort(peerUDP)}}
	// The handshake is bounded by Max.Init.Retransmits (InitMsg.MaxAttempts).
	sc, err := d.DialContext(context.Background(), remote, rport)
	if err != nil {
		_ = ep.Close()
		h.stop()
		// The kernel's errors too, for programs that test for them.
		switch {
		case errors.Is(err, sock.ErrRefused):
			err = fmt.Errorf("%w (%w)", err, syscall.ECONNREFUSED)
		case errors.Is(err, sock.ErrTimeout):
			err = fmt.Errorf("%w (%w)", err, syscall.ETIMEDOUT)
		}
		return nil, err
	}
	var c *SCTPConn
	c = newConn(sc, cfg.NotificationHandler, packetSize, sock.DefaultReceiveBuffer, func() {
		h.remove(c)
		_ = ep.Close()
		h.stop()
	})
	h.add(c)
	return c, nil
}

// SCTPListener accepts associations on an endpoint, a net.Listener over
// sock.Listener. mu guards refs and closed; callers of Accept, Close and
// of the accepted conns' Close enter.
type SCTPListener struct {
	ln      *sock.Listener
	ep      *sock.Endpoint
	hub     *hub
	handler NotificationHandler

	mu     sync.Mutex
	refs   int // the listener while open, and each accepted conn not closed
	closed bool
}

// Accept waits for the next association and returns its connection (an
// *SCTPConn).
func (ln *SCTPListener) Accept() (net.Conn, error) {
	c, err := ln.AcceptSCTP()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptSCTP waits for the next inbound association and returns its
// connection. After Close the error matches net.ErrClosed.
func (ln *SCTPListener) AcceptSCTP() (*SCTPConn, error) {
	if ln == nil || ln.ln == nil {
		return nil, unsupported("accept on a listener not made by Listen")
	}
	sc, err := ln.ln.AcceptConn()
	if err != nil {
		return nil, err
	}
	ln.mu.Lock()
	if ln.refs == 0 {
		ln.mu.Unlock()
		_ = sc.Close()
		return nil, &net.OpError{Op: "accept", Net: "sctp", Addr: ln.Addr(), Err: net.ErrClosed}
	}
	ln.refs++
	ln.mu.Unlock()
	var c *SCTPConn
	c = newConn(sc, ln.handler, packetSize, sock.DefaultReceiveBuffer, func() {
		ln.hub.remove(c)
		ln.unref()
	})
	ln.hub.add(c)
	return c, nil
}

// Addr returns the listener's addresses and port, as an *SCTPAddr.
func (ln *SCTPListener) Addr() net.Addr {
	if ln == nil || ln.ln == nil {
		return nil
	}
	return fromSockAddr(ln.ln.Addr())
}

// Close stops accepting, as closing a listening socket does: new INITs
// are refused with an ABORT, the associations not accepted yet are
// aborted, a waiting Accept returns. The connections accepted go on; the
// endpoint closes with the last of them. A second Close returns an error
// matching net.ErrClosed.
func (ln *SCTPListener) Close() error {
	if ln == nil || ln.ln == nil {
		return unsupported("close of a listener not made by Listen")
	}
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		return fmt.Errorf("sctp: close listener: %w (%w)", net.ErrClosed, syscall.EBADF)
	}
	ln.closed = true
	ln.mu.Unlock()
	err := ln.ln.Close()
	ln.unref()
	return err
}

// unref drops a reference; the last one closes the endpoint.
func (ln *SCTPListener) unref() {
	ln.mu.Lock()
	ln.refs--
	last := ln.refs == 0
	ln.mu.Unlock()
	if last {
		_ = ln.ep.Close()
		ln.hub.stop()
	}
}

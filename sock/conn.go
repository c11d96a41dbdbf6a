package sock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// connCloseTimeout bounds how long Conn.Close waits for the graceful
// shutdown (RFC 9260 section 9.2) before it aborts the association.
const connCloseTimeout = 10 * time.Second

// Addr is an SCTP transport address: every IP address of one side of an
// association (or of an endpoint) and the SCTP port. It implements
// net.Addr.
type Addr struct {
	IPs  []netip.Addr
	Port uint16
}

// Network returns "sctp".
func (a *Addr) Network() string { return "sctp" }

// String is the addresses separated by "/", then ":" and the port, IPv6
// addresses in brackets: "10.0.0.1/10.0.0.2:3868", "[::1]/127.0.0.1:38412"
// (the form github.com/ishidawataru/sctp uses).
func (a *Addr) String() string {
	if a == nil {
		return "<nil>"
	}
	var b strings.Builder
	for i, ip := range a.IPs {
		if i > 0 {
			b.WriteByte('/')
		}
		if ip.Is6() && !ip.Is4In6() {
			b.WriteByte('[')
			b.WriteString(ip.String())
			b.WriteByte(']')
		} else {
			b.WriteString(ip.Unmap().String())
		}
	}
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(int(a.Port)))
	return b.String()
}

// RecvInfo is the metadata of a message read by Conn.ReadMsg.
type RecvInfo struct {
	// Stream is the stream identifier and PPID the Payload Protocol
	// Identifier (RFC 9260 section 3.3.1).
	Stream uint16
	PPID   uint32
	// More: the buffer was shorter than the message; the rest of it
	// follows in the next reads (the last part has More false).
	More bool
}

// deadline is a read or write deadline that can be changed while a call
// waits on it. mu guards both fields; any goroutine may enter.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	// expired is closed once the deadline has passed; a new one replaces
	// it when the deadline moves to the future again.
	expired chan struct{}
}

func newDeadline() *deadline { return &deadline{expired: make(chan struct{})} }

// set moves the deadline to t (zero: none).
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.expired // the timer fired: its function closes expired
	}
	d.timer = nil
	closed := isClosed(d.expired)
	if t.IsZero() {
		if closed {
			d.expired = make(chan struct{})
		}
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		if !closed {
			close(d.expired)
		}
		return
	}
	if closed {
		d.expired = make(chan struct{})
	}
	ch := d.expired
	d.timer = time.AfterFunc(dur, func() { close(ch) })
}

// wait returns the channel closed when the deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Conn is a net.Conn over one association of a RecvPerAssociation
// endpoint. Read returns one message per call, or its start when the
// buffer is shorter and the rest in the next calls (never a silent loss);
// Write sends one message on the default stream and PPID. Deadlines may be
// set from any goroutine, also while a call waits; a call that misses its
// deadline returns a net.Error with Timeout() true that wraps
// os.ErrDeadlineExceeded. Close shuts the association down gracefully.
// When the peer restarts (RFC 9260 section 5.2.4 action A) the Conn goes
// on with the association that replaces the old one, as a kernel socket
// does; what the old one held unread is lost, as the RFC says.
//
// Its methods may be called from any goroutine. readLock serializes the
// reads and guards partial; mu guards a and defaults.
type Conn struct {
	mu       sync.Mutex
	a        *Association
	defaults SendInfo

	readLock chan struct{} // a mutex a deadline or Close can give up on
	partial  []byte        // the rest of a message a short buffer did not take
	partInfo RecvInfo

	rd, wd    *deadline
	closed    chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error
}

// NewConn makes a Conn of association a, which must belong to a
// RecvPerAssociation endpoint (else the error wraps ErrRecvMode); Write
// and Read use defaults' stream, PPID and reliability.
func NewConn(a *Association, defaults SendInfo) (*Conn, error) {
	if a == nil {
		return nil, fmt.Errorf("sock: %w: nil association", ErrInvalidArgument)
	}
	if a.rq == nil {
		return nil, fmt.Errorf("sock: conn on %v (%v endpoint): %w", a, a.ep.cfg.recvMode, ErrRecvMode)
	}
	return &Conn{
		a:        a,
		defaults: defaults,
		readLock: make(chan struct{}, 1),
		rd:       newDeadline(),
		wd:       newDeadline(),
		closed:   make(chan struct{}),
	}, nil
}

// Association returns the association under the connection (after a
// peer restart, the one that replaced the first).
func (c *Conn) Association() *Association {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.a
}

// follow moves the Conn from a, ended by a peer restart, to its
// successor; false if there is none.
func (c *Conn) follow(a *Association) bool {
	next := a.successor()
	if next == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.a == a {
		c.a = next
	}
	return true
}

// DefaultSendInfo returns what Write sends with.
func (c *Conn) DefaultSendInfo() SendInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.defaults
}

// SetDefaultSendInfo sets what Write sends with.
func (c *Conn) SetDefaultSendInfo(info SendInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.defaults = info
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "sctp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Read reads (part of) one message; see ReadMsg.
func (c *Conn) Read(b []byte) (int, error) {
	n, _, err := c.ReadMsg(b)
	return n, err
}

// ReadMsg reads the next message into b, or as much of it as fits: then
// info.More is set and the rest comes in the next calls. It honours the
// read deadline. After the peer's graceful shutdown, once every message
// is read, it returns io.EOF; after an abort an error wrapping ErrAborted;
// after Close an error wrapping net.ErrClosed. An empty b reads nothing.
func (c *Conn) ReadMsg(b []byte) (n int, info RecvInfo, err error) {
	if isClosed(c.closed) {
		return 0, info, c.opError("read", net.ErrClosed)
	}
	select {
	case c.readLock <- struct{}{}:
	case <-c.closed:
		return 0, info, c.opError("read", net.ErrClosed)
	case <-c.rd.wait():
		return 0, info, c.opError("read", os.ErrDeadlineExceeded)
	}
	defer func() { <-c.readLock }()
	if len(b) == 0 {
		return 0, info, nil
	}
	if c.partial != nil {
		return c.takePartial(b), c.partInfoNow(), nil
	}
	if isClosed(c.rd.wait()) {
		// A deadline in the past fails at once, even with a message
		// waiting.
		return 0, info, c.opError("read", os.ErrDeadlineExceeded)
	}
	m, err := c.recvUntil()
	if err != nil {
		return 0, info, err
	}
	info = RecvInfo{Stream: m.Stream, PPID: m.PPID}
	n = copy(b, m.Payload)
	if n < len(m.Payload) {
		c.partial, c.partInfo = m.Payload[n:], info
		info.More = true
	}
	return n, info, nil
}

// takePartial copies the next part of a partly read message.
func (c *Conn) takePartial(b []byte) int {
	n := copy(b, c.partial)
	c.partial = c.partial[n:]
	if len(c.partial) == 0 {
		c.partial = nil
	}
	return n
}

func (c *Conn) partInfoNow() RecvInfo {
	info := c.partInfo
	info.More = c.partial != nil
	return info
}

// recvUntil waits for a message until the read deadline or Close.
func (c *Conn) recvUntil() (Message, error) {
	for {
		// The deadline's channel stays the same while the deadline
		// moves, unless it passed: then this call returns.
		a := c.Association()
		m, err := a.recv(context.Background(), c.rd.wait(), c.closed)
		switch {
		case err == nil:
			return m, nil
		case errors.Is(err, errStopped) && isClosed(c.closed):
			return Message{}, c.opError("read", net.ErrClosed)
		case errors.Is(err, errStopped):
			return Message{}, c.opError("read", os.ErrDeadlineExceeded)
		case errors.Is(err, io.EOF):
			return Message{}, io.EOF
		case errors.Is(err, ErrAborted) && c.follow(a):
			continue
		default:
			return Message{}, c.opError("read", err)
		}
	}
}

// Write sends b as one message with the default SendInfo; see WriteMsg.
func (c *Conn) Write(b []byte) (int, error) {
	return c.WriteMsg(b, c.DefaultSendInfo())
}

// WriteMsg sends b as one message with info. It honours the write
// deadline: it blocks while the association's send buffer is full (the
// peer's window is closed), until then. A message larger than the maximum
// message size gets an error wrapping ErrMessageTooBig and nothing is
// sent; an empty b sends nothing. After Close the error wraps
// net.ErrClosed.
func (c *Conn) WriteMsg(b []byte, info SendInfo) (int, error) {
	if isClosed(c.closed) {
		return 0, c.opError("write", net.ErrClosed)
	}
	if len(b) == 0 {
		return 0, nil
	}
	dl := c.wd.wait()
	if isClosed(dl) {
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-dl:
		case <-c.closed:
		case <-ctx.Done():
		}
		cancel()
	}()
	for {
		a := c.Association()
		err := a.Send(ctx, b, info)
		switch {
		case err == nil:
			return len(b), nil
		case isClosed(c.closed):
			return 0, c.opError("write", net.ErrClosed)
		case errors.Is(err, context.Canceled) && isClosed(dl):
			return 0, c.opError("write", os.ErrDeadlineExceeded)
		case isClosed(a.life.doneC()) && c.follow(a):
			continue
		default:
			return 0, c.opError("write", err)
		}
	}
}

// Close shuts the association down gracefully (RFC 9260 section 9.2):
// what was written is delivered first; after 10 s without the shutdown
// completing the association is aborted. Calls waiting in Read or Write
// return at once with an error wrapping net.ErrClosed; messages arriving
// after Close are discarded. Close acts once; later calls return an error
// wrapping net.ErrClosed and do nothing.
func (c *Conn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		close(c.closed)
		// The peer may still send until our SHUTDOWN reaches it: what it
		// sends is discarded, so that it does not block on our closed
		// window and hold the shutdown up.
		a := c.Association()
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			for {
				if _, err := a.Recv(context.Background()); err != nil {
					return
				}
				a.drop(nil, DropClosedUnread)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), connCloseTimeout)
		defer cancel()
		err := a.Shutdown(ctx)
		switch {
		case err == nil, errors.Is(err, ErrClosed):
		default:
			c.closeErr = c.opError("close", err)
		}
		a.Abort("closed") // nothing if the shutdown completed
		<-drained
	})
	if !first {
		return c.opError("close", net.ErrClosed)
	}
	return c.closeErr
}

// LocalAddr returns the association's local addresses (the endpoint's;
// for a wildcard endpoint those its paths use) and port.
func (c *Conn) LocalAddr() net.Addr {
	a := c.Association()
	return &Addr{IPs: a.localAddrs(), Port: a.ep.port}
}

// RemoteAddr returns every address of the peer in the association, the
// primary path's first, and its port.
func (c *Conn) RemoteAddr() net.Addr {
	a := c.Association()
	return &Addr{IPs: a.remoteAddrs(), Port: a.peerPort}
}

// SetDeadline sets the read and the write deadline.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

// SetReadDeadline sets the deadline of Read and ReadMsg; zero: none.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rd.set(t)
	return nil
}

// SetWriteDeadline sets the deadline of Write and WriteMsg; zero: none.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wd.set(t)
	return nil
}

// localAddrs returns the endpoint's addresses; in place of a wildcard
// one, the concrete local addresses of a's paths.
func (a *Association) localAddrs() []netip.Addr {
	var out []netip.Addr
	wildcard := false
	for _, l := range a.ep.addrs {
		if l.IsUnspecified() {
			wildcard = true
			continue
		}
		out = append(out, l)
	}
	if !wildcard {
		return out
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.ps.all() {
		l := p.receivedOn()
		if l.IsValid() && !l.IsUnspecified() && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// remoteAddrs returns the peer's addresses, the primary's first.
func (a *Association) remoteAddrs() []netip.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ps.remotes(true)
}

// Listener is a net.Listener over an endpoint that accepts associations:
// Accept returns a Conn for each new inbound association.
type Listener struct {
	e        *Endpoint
	defaults SendInfo
	ctx      context.Context
	cancel   context.CancelFunc
}

// NewListener makes a Listener of e, which must accept associations
// (AcceptMax or AcceptFunc; else the error wraps ErrInvalidArgument) and
// be RecvPerAssociation (else ErrRecvMode). Its Conns use defaults.
func NewListener(e *Endpoint, defaults SendInfo) (*Listener, error) {
	if e.backlog == nil {
		return nil, fmt.Errorf("sock: listen on %v (%v): %w", e, e.cfg.recvMode, ErrRecvMode)
	}
	if e.cfg.accept.fn == nil && e.cfg.accept.max == 0 {
		return nil, fmt.Errorf("sock: %w: endpoint %v accepts no associations (AcceptMax, AcceptFunc)", ErrInvalidArgument, e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Listener{e: e, defaults: defaults, ctx: ctx, cancel: cancel}, nil
}

// Accept waits for the next inbound association and returns its Conn.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptConn()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptConn is Accept returning the *Conn. After Close (or the
// endpoint's) the error wraps net.ErrClosed.
func (l *Listener) AcceptConn() (*Conn, error) {
	a, err := l.e.Accept(l.ctx)
	if err != nil {
		if l.ctx.Err() != nil || errors.Is(err, ErrClosed) {
			err = net.ErrClosed
		}
		return nil, &net.OpError{Op: "accept", Net: "sctp", Addr: l.Addr(), Err: err}
	}
	return NewConn(a, l.defaults)
}

// Close stops accepting, as closing a listening socket does: calls
// waiting in Accept return an error wrapping net.ErrClosed, new INITs are
// refused with an ABORT and the associations established but not yet
// accepted are aborted. The endpoint itself stays open (the Listener did
// not create it): the Conns accepted go on, a Dialer on it still
// connects, and closing it is its creator's. Close is idempotent; the
// endpoint never accepts again.
func (l *Listener) Close() error {
	l.cancel()
	l.e.stopAccepting()
	return nil
}

// Addr returns the endpoint's addresses and port.
func (l *Listener) Addr() net.Addr {
	return &Addr{IPs: l.e.Addrs(), Port: l.e.port}
}

// Endpoint returns the listener's endpoint.
func (l *Listener) Endpoint() *Endpoint { return l.e }

// Dialer connects Conns from an endpoint, which must be
// RecvPerAssociation.
type Dialer struct {
	// Endpoint is the local endpoint the associations are made from.
	Endpoint *Endpoint
	// Defaults are the Conns' default send parameters.
	Defaults SendInfo
	// Options are given to Endpoint.Connect.
	Options []ConnectOption
}

// DialContext sets up an association with the peer endpoint at the
// remote addresses and SCTP port (Endpoint.Connect) and returns its
// Conn. ctx bounds the handshake only. There is at most one association
// between two endpoints (see Connect): dialing the same peer endpoint
// again from the same Endpoint returns a Conn on the association that
// exists, so use an Endpoint per connection to get separate ones.
func (d *Dialer) DialContext(ctx context.Context, remote []netip.Addr, port uint16) (*Conn, error) {
	if d.Endpoint == nil {
		return nil, fmt.Errorf("sock: %w: dialer without endpoint", ErrInvalidArgument)
	}
	if d.Endpoint.backlog == nil {
		return nil, fmt.Errorf("sock: dial from %v (%v): %w", d.Endpoint, d.Endpoint.cfg.recvMode, ErrRecvMode)
	}
	a, err := d.Endpoint.Connect(ctx, remote, port, d.Options...)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "sctp", Addr: &Addr{IPs: remote, Port: port}, Err: err}
	}
	return NewConn(a, d.Defaults)
}

package sctp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/usock/usock/sock"
)

// maxQueuedNotifications bounds the notifications waiting for SCTPRead on
// one connection; past it the oldest is dropped (and counted in
// NotificationsDropped), so a program that subscribes and never reads
// costs at most this many (each at most maxNotificationData bytes and a
// header).
const maxQueuedNotifications = 64

// eofTimeout bounds the graceful shutdown that SCTP_EOF starts in the
// background, as sock.Conn.Close bounds its own.
const eofTimeout = 10 * time.Second

var assocIDs atomic.Int32

// SCTPConn is one SCTP association, a net.Conn over sock.Conn (one
// message per Read and Write, message boundaries kept). It is what
// DialSCTP and SCTPListener.AcceptSCTP return.
//
// Its methods may be called from any goroutine. mu guards the fields
// after it (the notification queue, the read deadline bookkeeping, the
// subscription times, the settings); the goroutines that enter are the
// callers of its methods and the event dispatcher of its endpoint
// (hub.run), which queues notifications. The hub's mu, when both are
// held, is taken first.
type SCTPConn struct {
	conn    *sock.Conn // nil for a conn made by NewSCTPConn
	id      SCTPAssocID
	handler NotificationHandler
	packet  int // the SCTP packet size of the endpoint
	release func()

	events atomic.Int32 // SCTP_EVENT_* flags

	mu       sync.Mutex
	key      *sock.Association // the hub's key for this conn
	since    [10]time.Time     // when each SCTP_EVENT_* flag was turned on
	notes    [][]byte          // notifications waiting for SCTPRead
	dropped  uint64
	final    bool      // the end-of-association notifications were queued
	peerShut bool      // the peer's SHUTDOWN came while SCTP_EVENT_SHUTDOWN was subscribed
	closed   bool      // Close was called
	rdl      time.Time // the user's read deadline
	readers  int       // SCTPRead calls waiting in sock.Conn.ReadMsg
	wakeGen  uint64    // counts wake-ups of waiting readers
	waking   bool      // the read deadline is set in the past to wake readers
	defaults SndRcvInfo
	initMsg  InitMsg
	rbuf     int
	wbuf     int

	eof sync.WaitGroup // the shutdowns SCTP_EOF started

	// expectDown: the dispatcher will see the association's EventDown
	// (set by hub.add before the conn is shared); downSeen is closed when
	// it has; hubDone when the dispatcher ended; closedCh by Close.
	expectDown bool
	downSeen   chan struct{}
	downOnce   sync.Once
	hubDone    <-chan struct{}
	closedCh   chan struct{}
}

func newConn(c *sock.Conn, handler NotificationHandler, packet, rbuf int, release func()) *SCTPConn {
	return &SCTPConn{
		conn:     c,
		id:       SCTPAssocID(assocIDs.Add(1)),
		handler:  handler,
		packet:   packet,
		release:  release,
		rbuf:     rbuf,
		wbuf:     rbuf,
		downSeen: make(chan struct{}),
		closedCh: make(chan struct{}),
	}
}

// NewSCTPConn is github.com/ishidawataru/sctp's constructor from a file
// descriptor. There are no kernel sockets here: the SCTPConn it returns
// fails every call with ErrUnsupported.
func NewSCTPConn(fd int, handler NotificationHandler) *SCTPConn {
	return &SCTPConn{handler: handler}
}

func (c *SCTPConn) usable() error {
	if c == nil || c.conn == nil {
		return fmt.Errorf("sctp: connection without association: %w", ErrUnsupported)
	}
	return nil
}

// Read reads the next message, or the next part of it when b is shorter
// (the rest comes in the next reads; nothing is lost), as SCTPRead does.
// After the peer's graceful shutdown and the last message it returns
// io.EOF.
func (c *SCTPConn) Read(b []byte) (int, error) {
	n, _, err := c.SCTPRead(b)
	return n, err
}

// Write sends b as one message with the default send parameters
// (SetDefaultSentParam).
func (c *SCTPConn) Write(b []byte) (int, error) {
	return c.SCTPWrite(b, nil)
}

// SCTPRead reads the next message, or as much of it as fits in b (the rest
// comes in the next reads, each with its SndRcvInfo). The SndRcvInfo is
// nil unless SCTP_EVENT_DATA_IO is subscribed, as on Linux.
//
// A subscribed notification (SubscribeEvents) comes instead of a message:
// its Linux structure in b (see NotificationHeader) and a nil SndRcvInfo;
// or, with a NotificationHandler, it goes to the handler and SCTPRead goes
// on reading. Notifications of the association's end (sctp_shutdown_event
// when the peer shut down, sctp_assoc_change SCTP_SHUTDOWN_COMP or
// SCTP_COMM_LOST) come after the last message; then SCTPRead returns
// io.EOF after a graceful shutdown, or the error of the abort. Notifications
// of an association's start are never delivered: the association is up
// before SubscribeEvents can be called, and Linux only queues the events
// subscribed when they happen.
func (c *SCTPConn) SCTPRead(b []byte) (int, *SndRcvInfo, error) {
	if err := c.usable(); err != nil {
		return 0, nil, err
	}
	for {
		c.mu.Lock()
		if len(c.notes) > 0 {
			note := c.notes[0]
			n := copy(b, note)
			if n < len(note) {
				c.notes[0] = note[n:]
			} else {
				c.notes[0] = nil
				c.notes = c.notes[1:]
			}
			c.mu.Unlock()
			if c.handler != nil && n > 0 {
				if err := c.handler(b[:n]); err != nil {
					return 0, nil, err
				}
				continue
			}
			return n, nil, nil
		}
		c.readers++
		gen := c.wakeGen
		c.mu.Unlock()

		n, ri, err := c.conn.ReadMsg(b)

		c.mu.Lock()
		c.readers--
		if c.waking {
			c.waking = false
			_ = c.conn.SetReadDeadline(c.rdl)
		}
		woken := c.wakeGen != gen
		final := err != nil && !c.final && isEnd(err)
		c.mu.Unlock()
		if final {
			// The events of the association's last moments (the messages
			// it could not deliver) come before its EventDown: wait until
			// the dispatcher has handed them over, so that their
			// notifications come before the end's, as on Linux.
			c.awaitDown()
			c.mu.Lock()
			if !c.final {
				c.final = true
				c.queueFinalLocked()
			}
			woken = woken || len(c.notes) > 0
			c.mu.Unlock()
		}
		if err != nil {
			if woken && (errors.Is(err, os.ErrDeadlineExceeded) || isEnd(err)) {
				continue // a notification woke us, or the last ones wait
			}
			if errors.Is(err, sock.ErrAborted) {
				err = fmt.Errorf("%w (%w)", err, syscall.ECONNRESET) // Linux's error after an ABORT
			}
			return n, nil, err
		}
		if c.events.Load()&SCTP_EVENT_DATA_IO == 0 {
			return n, nil, nil
		}
		ppid := ri.PPID
		if kernelPPID.Load() {
			ppid = kernelOrder(ppid)
		}
		return n, &SndRcvInfo{Stream: ri.Stream, PPID: ppid, AssocID: int32(c.id)}, nil
	}
}

// isEnd reports whether a read error is the association's end (and not
// a deadline or Close).
func isEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, sock.ErrAborted) || errors.Is(err, sock.ErrClosed)
}

// awaitDown waits until the dispatcher has handled the EventDown of the
// association, if it is to see one (see hub.add), the dispatcher ended or
// the conn is closed. The endpoint's event queue drops its oldest events
// when full (sock's EndpointStats.EventsDropped), which only a dispatcher
// falling behind many associations ending at once lets happen: then the
// EventDown may be lost, and after downWait the end is reported without
// what was lost with it.
func (c *SCTPConn) awaitDown() {
	if !c.expectDown {
		return
	}
	t := time.NewTimer(downWait)
	defer t.Stop()
	select {
	case <-c.downSeen:
	case <-c.hubDone:
	case <-c.closedCh:
	case <-t.C:
	}
}

// downWait bounds awaitDown (see there); the EventDown normally follows
// the end a reader sees within microseconds.
var downWait = 2 * time.Second

// queueFinalLocked queues the notifications of the association's end
// that are subscribed. c.mu is held.
func (c *SCTPConn) queueFinalLocked() {
	ev := c.events.Load()
	a := c.conn.Association()
	switch a.Reason() {
	case sock.ReasonShutdown:
		// RFC 6458 section 6.1.5: SCTP_SHUTDOWN_EVENT tells that the peer
		// sent SHUTDOWN (sock.EventPeerShutdown, seen by the dispatcher
		// before the EventDown awaitDown waited for).
		if c.peerShut {
			c.pushLocked(shutdownEvent(c.id))
		}
		if ev&SCTP_EVENT_ASSOCIATION != 0 {
			c.pushLocked(assocChange(SCTP_SHUTDOWN_COMP, 0, 0, 0, c.id))
		}
	case sock.ReasonNone:
	default:
		if ev&SCTP_EVENT_ASSOCIATION != 0 {
			c.pushLocked(assocChange(SCTP_COMM_LOST, 0, 0, 0, c.id))
		}
	}
}

// notify queues a notification for SCTPRead and wakes a waiting reader by
// moving its read deadline to the past for a moment (SCTPRead puts the
// user's back). It runs on the endpoint's dispatcher.
func (c *SCTPConn) notify(note []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.final {
		return
	}
	c.pushLocked(note)
	if c.readers > 0 && !c.waking {
		c.waking = true
		c.wakeGen++
		_ = c.conn.SetReadDeadline(time.Unix(1, 0))
	}
}

func (c *SCTPConn) pushLocked(note []byte) {
	if len(c.notes) >= maxQueuedNotifications {
		c.notes[0] = nil
		c.notes = c.notes[1:]
		c.dropped++
	}
	c.notes = append(c.notes, note)
}

// NotificationsDropped counts the notifications dropped because
// maxQueuedNotifications (64) were waiting unread.
func (c *SCTPConn) NotificationsDropped() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// event turns an event of the association into the subscribed
// notification (RFC 6458 section 6.1). The end of the association is
// reported by SCTPRead itself (queueFinalLocked), after the last message.
func (c *SCTPConn) event(ev sock.Event) {
	a := ev.Association // after a restart, the new one (the conn follows it later)
	switch ev.Type {
	case sock.EventRestart:
		if c.subscribed(SCTP_EVENT_ASSOCIATION, ev.Time) {
			out, in := a.Streams()
			c.notify(assocChange(SCTP_RESTART, 0, out, in, c.id))
		}
	case sock.EventPathConfirmed, sock.EventPathPotentiallyFailed, sock.EventPathDown, sock.EventPathUp, sock.EventPrimaryChanged:
		if c.subscribed(SCTP_EVENT_ADDRESS, ev.Time) {
			c.notify(paddrChange(ev.Path, a.PeerPort(), paddrState(ev.Type), 0, c.id))
		}
	case sock.EventSendFailed:
		if c.subscribed(SCTP_EVENT_SEND_FAILURE, ev.Time) {
			flags := uint16(SCTP_DATA_SENT)
			if strings.HasPrefix(ev.Detail, "unsent") { // sock's Detail for a message pion never sent
				flags = SCTP_DATA_UNSENT
			}
			info := SndRcvInfo{Stream: ev.Stream, PPID: kernelOrder(ev.PPID), Context: ev.Context, AssocID: int32(c.id)}
			c.notify(sendFailed(flags, 0, info, c.id, ev.Payload))
		}
	case sock.EventRemoteError:
		if c.subscribed(SCTP_EVENT_PEER_ERROR, ev.Time) {
			c.notify(remoteError(ev.Cause, c.id, nil))
		}
	case sock.EventDown:
		// The association that a peer restart replaced ends too; the conn
		// goes on with its successor.
		if ev.Association.Successor() == nil {
			c.downOnce.Do(func() { close(c.downSeen) })
		}
	case sock.EventPeerShutdown:
		if c.subscribed(SCTP_EVENT_SHUTDOWN, ev.Time) {
			c.mu.Lock()
			c.peerShut = true // notified after the last message (queueFinalLocked)
			c.mu.Unlock()
		}
	case sock.EventSenderDry:
		if c.subscribed(SCTP_EVENT_SENDER_DRY, ev.Time) {
			c.notify(senderDryEvent(c.id))
		}
	}
}

// subscribed reports whether flag was subscribed when the event happened
// (at t): Linux queues only the notifications subscribed at the time, and
// the dispatcher may hand an event over after a later SubscribeEvents.
func (c *SCTPConn) subscribed(flag int, t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(c.events.Load())&flag == 0 {
		return false
	}
	return t.IsZero() || !t.Before(c.since[bits.TrailingZeros(uint(flag))])
}

func paddrState(t sock.EventType) int32 {
	switch t {
	case sock.EventPathConfirmed:
		return SCTP_ADDR_CONFIRMED
	case sock.EventPathPotentiallyFailed:
		return SCTP_ADDR_POTENTIALLY_FAILED
	case sock.EventPathDown:
		return SCTP_ADDR_UNREACHABLE
	case sock.EventPrimaryChanged:
		return SCTP_ADDR_MADE_PRIM
	default:
		return SCTP_ADDR_AVAILABLE
	}
}

// SCTPWrite sends b as one message with info's stream, PPID (see
// SndRcvInfo for its byte order), flags (SCTP_UNORDERED; SCTP_EOF: a
// graceful shutdown after it; SCTP_ABORT: an abort, b its reason), TTL
// and Context; nil info: the default send parameters. An empty b without
// SCTP_EOF or SCTP_ABORT is invalid (EINVAL, as on Linux). It honours the
// write deadline and blocks while the peer's window is full.
func (c *SCTPConn) SCTPWrite(b []byte, info *SndRcvInfo) (int, error) {
	if err := c.usable(); err != nil {
		return 0, err
	}
	if info == nil {
		if len(b) == 0 {
			return 0, invalid("write: empty message")
		}
		return c.conn.Write(b)
	}
	if info.Flags&SCTP_ABORT != 0 {
		// RFC 9260 section 9.1; Linux puts the message in a User-Initiated
		// Abort cause, the stack sends it as the abort's reason.
		c.conn.Association().Abort(string(b))
		return len(b), nil
	}
	if len(b) == 0 && info.Flags&SCTP_EOF == 0 {
		return 0, invalid("write: empty message")
	}
	ppid := info.PPID
	if kernelPPID.Load() {
		ppid = kernelOrder(ppid)
	}
	var n int
	if len(b) > 0 {
		var err error
		if n, err = c.conn.WriteMsg(b, toSendInfo(info, ppid)); err != nil {
			return n, err
		}
	}
	if info.Flags&SCTP_EOF != 0 {
		c.shutdownInBackground()
	}
	return n, nil
}

// shutdownInBackground starts the graceful shutdown of SCTP_EOF (RFC 9260
// section 9.2) without waiting for it, as Linux's sendmsg does; Close
// waits for it.
func (c *SCTPConn) shutdownInBackground() {
	a := c.conn.Association()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return // Close shuts down itself
	}
	c.eof.Add(1) // under mu, before Close's Wait
	go func() {
		defer c.eof.Done()
		ctx, cancel := context.WithTimeout(context.Background(), eofTimeout)
		defer cancel()
		_ = a.Shutdown(ctx) // on failure it aborts; SCTPRead reports the end
	}()
}

// toSendInfo converts send parameters; ppid is the PPID as on the wire.
func toSendInfo(info *SndRcvInfo, ppid uint32) sock.SendInfo {
	return sock.SendInfo{
		Stream:    info.Stream,
		PPID:      ppid,
		Unordered: info.Flags&SCTP_UNORDERED != 0,
		Lifetime:  time.Duration(info.TTL) * time.Millisecond,
		Context:   info.Context,
	}
}

// Close shuts the association down gracefully (RFC 9260 section 9.2): what
// was written is delivered first, then the SHUTDOWN exchange; after 10 s
// without it completing the association is aborted. A second Close
// returns an error matching net.ErrClosed and syscall.EBADF.
func (c *SCTPConn) Close() error {
	if err := c.usable(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("sctp: close: %w (%w)", net.ErrClosed, syscall.EBADF)
	}
	c.closed = true
	c.notes = nil
	close(c.closedCh)
	c.mu.Unlock()
	err := c.conn.Close()
	c.eof.Wait()
	c.release()
	return err
}

// LocalAddr returns every local address of the association and its port,
// as an *SCTPAddr.
func (c *SCTPConn) LocalAddr() net.Addr {
	if c.usable() != nil {
		return nil
	}
	return fromSockAddr(c.conn.LocalAddr())
}

// RemoteAddr returns every address of the peer (the primary path's first)
// and its port, as an *SCTPAddr.
func (c *SCTPConn) RemoteAddr() net.Addr {
	if c.usable() != nil {
		return nil
	}
	return fromSockAddr(c.conn.RemoteAddr())
}

// SCTPLocalAddr returns the local addresses of association id; a
// connection has one association, id is not looked at (as Linux does on
// one-to-one sockets).
func (c *SCTPConn) SCTPLocalAddr(id int) (*SCTPAddr, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	return fromSockAddr(c.conn.LocalAddr()), nil
}

// SCTPRemoteAddr returns the peer addresses of association id (not looked
// at, see SCTPLocalAddr).
func (c *SCTPConn) SCTPRemoteAddr(id int) (*SCTPAddr, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	return fromSockAddr(c.conn.RemoteAddr()), nil
}

// SCTPGetPrimaryPeerAddr returns the peer address of the primary path
// (RFC 9260 section 6.4) and the peer's port.
func (c *SCTPConn) SCTPGetPrimaryPeerAddr() (*SCTPAddr, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	a := c.conn.Association()
	p, ok := primaryPath(a)
	if !ok {
		return nil, fmt.Errorf("sctp: no primary path: %w", sock.ErrNotEstablished)
	}
	return fromNetip([]netip.Addr{p.Remote}, a.PeerPort()), nil
}

func primaryPath(a *sock.Association) (sock.Path, bool) {
	paths := a.Paths()
	for _, p := range paths {
		if p.Primary {
			return p, true
		}
	}
	for _, p := range paths {
		if p.InUse {
			return p, true
		}
	}
	if len(paths) > 0 {
		return paths[0], true
	}
	return sock.Path{}, false
}

// SetDeadline sets the read and write deadlines.
func (c *SCTPConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline of Read and SCTPRead; zero: none. A
// read that misses it returns an error matching os.ErrDeadlineExceeded
// (a net.Error with Timeout true).
func (c *SCTPConn) SetReadDeadline(t time.Time) error {
	if err := c.usable(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl = t
	if !c.waking {
		return c.conn.SetReadDeadline(t)
	}
	return nil // the woken reader sets it
}

// SetWriteDeadline sets the deadline of Write and SCTPWrite; zero: none.
func (c *SCTPConn) SetWriteDeadline(t time.Time) error {
	if err := c.usable(); err != nil {
		return err
	}
	return c.conn.SetWriteDeadline(t)
}

// SubscribeEvents chooses the notifications SCTPRead returns (the
// SCTP_EVENT_* flags; 0: none) and whether it returns a SndRcvInfo
// (SCTP_EVENT_DATA_IO). Events that happened before are not reported.
func (c *SCTPConn) SubscribeEvents(flags int) error {
	if err := c.usable(); err != nil {
		return err
	}
	flags &= SCTP_EVENT_ALL
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	old := int(c.events.Load())
	for i := range c.since {
		if bit := 1 << i; flags&bit != 0 && old&bit == 0 {
			c.since[i] = now
		}
	}
	c.events.Store(int32(flags))
	return nil
}

// SubscribedEvents returns the SCTP_EVENT_* flags subscribed.
func (c *SCTPConn) SubscribedEvents() (int, error) {
	if err := c.usable(); err != nil {
		return 0, err
	}
	return int(c.events.Load()), nil
}

// SetDefaultSentParam sets the parameters Write and SCTPWrite(b, nil) send
// with: Stream, PPID, Flags (SCTP_UNORDERED), TTL and Context. The PPID is
// in the kernel's byte order, as Linux's SCTP_DEFAULT_SENT_PARAM takes it
// (see SndRcvInfo): on a little-endian host 0x3c000000 sends PPID 60.
func (c *SCTPConn) SetDefaultSentParam(info *SndRcvInfo) error {
	if err := c.usable(); err != nil {
		return err
	}
	if info == nil {
		return invalid("default send parameters: nil")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.defaults = *info
	c.defaults.AssocID = int32(c.id)
	c.conn.SetDefaultSendInfo(toSendInfo(info, kernelOrder(info.PPID)))
	return nil
}

// GetDefaultSentParam returns what SetDefaultSentParam set (all zero but
// AssocID before).
func (c *SCTPConn) GetDefaultSentParam() (*SndRcvInfo, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.defaults
	d.AssocID = int32(c.id)
	return &d, nil
}

// SetInitMsg records the INIT parameters, as Linux's SCTP_INITMSG on a
// connected socket: they are for associations set up later, and this
// connection's is up; it has no effect on it.
func (c *SCTPConn) SetInitMsg(numOstreams, maxInstreams, maxAttempts, maxInitTimeout int) error {
	if err := c.usable(); err != nil {
		return err
	}
	for _, v := range []int{numOstreams, maxInstreams, maxAttempts, maxInitTimeout} {
		if v < 0 || v > 0xffff {
			return invalid(fmt.Sprintf("init message value %d", v))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.initMsg = InitMsg{NumOstreams: uint16(numOstreams), MaxInstreams: uint16(maxInstreams), MaxAttempts: uint16(maxAttempts), MaxInitTimeout: uint16(maxInitTimeout)}
	return nil
}

// GetStatus returns the association's status (RFC 6458 section 8.2.1);
// see Status and PeerAddrinfo for what the stack cannot fill.
func (c *SCTPConn) GetStatus() (*Status, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	a := c.conn.Association()
	st := a.Stats()
	out, in := a.Streams()
	s := &Status{
		AssocID:            c.id,
		State:              statusState(a.State()),
		RWND:               st.RWND,
		Instreams:          in,
		Ostreams:           out,
		FragmentationPoint: uint32(max(c.packet-12-16, 0)), // common header, DATA chunk header (RFC 9260 sections 3, 3.3.1)
	}
	if p, ok := primaryPath(a); ok {
		pi := &s.PrimaryPeerAddr
		pi.AssocID = c.id
		copy(pi.Address[:], appendSockaddrStorage(nil, p.Remote, a.PeerPort()))
		pi.State = peerState(p.State)
		pi.CWND = st.CWND
		pi.SRTT = uint32(p.SRTT / time.Millisecond)
		pi.RTO = uint32(p.RTO / time.Millisecond)
		pi.MTU = uint32(c.packet)
	}
	return s, nil
}

func statusState(s sock.AssociationState) StatusState {
	switch s {
	case sock.StateCookieWait:
		return SCTP_COOKIE_WAIT
	case sock.StateCookieEchoed:
		return SCTP_COOKIE_ECHOED
	case sock.StateEstablished:
		return SCTP_ESTABLISHED
	case sock.StateShuttingDown:
		return SCTP_SHUTDOWN_PENDING
	default:
		return SCTP_CLOSED
	}
}

// peerState maps a path's state to this package's PeerState values
// (which are ishidawataru/sctp's names; the kernel numbers them
// differently). A potentially-failed path gets no new data: SCTP_INACTIVE.
func peerState(s sock.PathState) PeerState {
	switch s {
	case sock.PathActive:
		return SCTP_ACTIVE
	case sock.PathUnconfirmed:
		return SCTP_UNCONFIRMED
	default:
		return SCTP_INACTIVE
	}
}

// SetReadBuffer records the size; the association's receive window was
// fixed when it was set up (the data engine's receive buffer cannot
// change after), so it has no effect on it. Negative sizes are invalid.
func (c *SCTPConn) SetReadBuffer(bytes int) error {
	if err := c.usable(); err != nil {
		return err
	}
	if bytes < 0 {
		return invalid("read buffer size")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rbuf = bytes
	return nil
}

// GetReadBuffer returns the size SetReadBuffer recorded, at first the
// association's receive window.
func (c *SCTPConn) GetReadBuffer() (int, error) {
	if err := c.usable(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rbuf, nil
}

// SetWriteBuffer records the size; it has no effect (the send buffer is
// the data engine's). Negative sizes are invalid.
func (c *SCTPConn) SetWriteBuffer(bytes int) error {
	if err := c.usable(); err != nil {
		return err
	}
	if bytes < 0 {
		return invalid("write buffer size")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wbuf = bytes
	return nil
}

// GetWriteBuffer returns the size SetWriteBuffer recorded, at first the
// receive window's size.
func (c *SCTPConn) GetWriteBuffer() (int, error) {
	if err := c.usable(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wbuf, nil
}

// fromSockAddr converts a net.Addr of package sock.
func fromSockAddr(na net.Addr) *SCTPAddr {
	if v, ok := na.(*sock.Addr); ok && v != nil {
		return fromNetip(v.IPs, v.Port)
	}
	return nil
}

package sctp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/usock/usock/sock"
)

// diameterMsg is a Diameter-style message (RFC 6733 section 3): version
// 1, a 24-bit length of the whole message, then the rest.
func diameterMsg(body string) []byte {
	b := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(b, uint32(4+len(body)))
	b[0] = 1
	return append(b, body...)
}

// readDiameter reads one message as a stream reader does: the header
// with io.ReadFull, then the length it gives.
func readDiameter(r io.Reader) (string, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return "", err
	}
	n := int(binary.BigEndian.Uint32(h[:]) & 0xffffff)
	if h[0] != 1 || n < 4 {
		return "", fmt.Errorf("bad header %x", h)
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return "", err
	}
	return string(body), nil
}

// TestDiameterOverNetConn: a Diameter-style exchange that only uses
// net.Listener and net.Conn, as go-diameter does: several requests and
// answers, length-prefixed and read in pieces with io.ReadFull, on PPID
// 46 (Diameter, set with SetDefaultSentParam in the kernel's byte order).
func TestDiameterOverNetConn(t *testing.T) {
	p := newPair(t, SocketConfig{})
	var l net.Listener = p.ln
	const n = 20

	srvErr := make(chan error, 1)
	go func() {
		srvErr <- func() error {
			c, err := l.Accept()
			if err != nil {
				return err
			}
			defer c.Close()
			sc := c.(*SCTPConn)
			if err := sc.SetDefaultSentParam(&SndRcvInfo{PPID: kernelOrder(46)}); err != nil {
				return err
			}
			for {
				req, err := readDiameter(c)
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				if _, err := c.Write(diameterMsg("answer to " + req)); err != nil {
					return err
				}
			}
		}()
	}()

	var c net.Conn
	c, err := p.dialCfg.Dial("sctp", nil, p.raddr())
	require.NoError(t, err)
	require.NoError(t, c.(*SCTPConn).SetDefaultSentParam(&SndRcvInfo{PPID: kernelOrder(46)}))
	for i := range n {
		body := fmt.Sprintf("request %d %s", i, bytes.Repeat([]byte{'x'}, i*100))
		_, err := c.Write(diameterMsg(body))
		require.NoError(t, err)
		ans, err := readDiameter(c)
		require.NoError(t, err)
		require.Equal(t, "answer to "+body, ans)
	}
	require.NoError(t, c.Close())
	require.NoError(t, <-srvErr)
	require.Error(t, c.Close(), "a second Close")
}

// TestNGAPExchange: an NGAP-style exchange with SCTPWrite and SCTPRead on
// stream 1 with PPID 60, subscribed to SCTP_EVENT_DATA_IO |
// SCTP_EVENT_ASSOCIATION | SCTP_EVENT_SHUTDOWN: the SndRcvInfo carries the
// stream and PPID 60 (host order), and when the peer closes the
// sctp_shutdown_event and the sctp_assoc_change SCTP_SHUTDOWN_COMP come
// through SCTPRead after the last message, then io.EOF.
func TestNGAPExchange(t *testing.T) {
	p := newPair(t, SocketConfig{InitMsg: InitMsg{NumOstreams: 4, MaxInstreams: 4}})
	gnb, amf := p.connect(t)
	require.NoError(t, amf.SubscribeEvents(SCTP_EVENT_DATA_IO|SCTP_EVENT_ASSOCIATION|SCTP_EVENT_SHUTDOWN))
	require.NoError(t, gnb.SubscribeEvents(SCTP_EVENT_DATA_IO))
	flags, err := amf.SubscribedEvents()
	require.NoError(t, err)
	require.Equal(t, SCTP_EVENT_DATA_IO|SCTP_EVENT_ASSOCIATION|SCTP_EVENT_SHUTDOWN, flags)

	buf := make([]byte, 1500)
	for i := range 5 {
		msg := fmt.Appendf(nil, "NGSetupRequest %d", i)
		n, err := gnb.SCTPWrite(msg, &SndRcvInfo{Stream: 1, PPID: 60})
		require.NoError(t, err)
		require.Equal(t, len(msg), n)

		n, info, err := amf.SCTPRead(buf)
		require.NoError(t, err)
		require.Equal(t, msg, buf[:n])
		require.NotNil(t, info)
		require.Equal(t, uint16(1), info.Stream)
		require.Equal(t, uint32(60), info.PPID)
		require.Equal(t, int32(amf.id), info.AssocID)

		_, err = amf.SCTPWrite([]byte("NGSetupResponse"), &SndRcvInfo{Stream: 1, PPID: 60, Flags: SCTP_UNORDERED})
		require.NoError(t, err)
		n, info, err = gnb.SCTPRead(buf)
		require.NoError(t, err)
		require.Equal(t, "NGSetupResponse", string(buf[:n]))
		require.Equal(t, uint16(1), info.Stream)
		require.Equal(t, uint32(60), info.PPID)
	}
	// The gNB sends a last message and closes; the AMF reads it, then the
	// notifications, then the end.
	_, err = gnb.SCTPWrite([]byte("last"), &SndRcvInfo{Stream: 1, PPID: 60})
	require.NoError(t, err)
	require.NoError(t, gnb.Close())

	n, info, err := amf.SCTPRead(buf)
	require.NoError(t, err)
	require.Equal(t, "last", string(buf[:n]))
	require.NotNil(t, info)

	n, info, err = amf.SCTPRead(buf)
	require.NoError(t, err)
	require.Nil(t, info, "a notification has no SndRcvInfo")
	require.Equal(t, uint16(SCTP_SHUTDOWN_EVENT), parseHeader(t, buf[:n]).Type)

	n, info, err = amf.SCTPRead(buf)
	require.NoError(t, err)
	require.Nil(t, info)
	require.Equal(t, uint16(SCTP_ASSOC_CHANGE), parseHeader(t, buf[:n]).Type)
	require.Equal(t, uint16(SCTP_SHUTDOWN_COMP), binary.NativeEndian.Uint16(buf[8:]), "sac_state")
	require.Equal(t, uint32(amf.id), binary.NativeEndian.Uint32(buf[16:]), "sac_assoc_id")

	_, _, err = amf.SCTPRead(buf)
	require.ErrorIs(t, err, io.EOF)
	_, err = amf.Read(buf)
	require.ErrorIs(t, err, io.EOF, "the end stays")
}

// TestNoDataIOSubscription: without SCTP_EVENT_DATA_IO SCTPRead returns
// the message and a nil SndRcvInfo, as Linux (no SCTP_SNDRCV control
// message); no subscription, no notifications at the end.
func TestNoDataIOSubscription(t *testing.T) {
	p := newPair(t, SocketConfig{})
	c, s := p.connect(t)
	_, err := c.SCTPWrite([]byte("hi"), &SndRcvInfo{PPID: 60})
	require.NoError(t, err)
	buf := make([]byte, 10)
	n, info, err := s.SCTPRead(buf)
	require.NoError(t, err)
	require.Equal(t, "hi", string(buf[:n]))
	require.Nil(t, info)
	require.NoError(t, c.Close())
	_, _, err = s.SCTPRead(buf)
	require.ErrorIs(t, err, io.EOF, "no notification before the end without a subscription")
}

// TestNotificationHandler: with a NotificationHandler the notifications
// go to it and SCTPRead goes on to the next message or the end; an error
// from the handler ends SCTPRead with it.
func TestNotificationHandler(t *testing.T) {
	var mu sync.Mutex
	var got []uint16
	handler := func(b []byte) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, binary.NativeEndian.Uint16(b))
		return nil
	}
	p := newPair(t, SocketConfig{NotificationHandler: handler})
	c, s := p.connect(t)
	require.NoError(t, s.SubscribeEvents(SCTP_EVENT_ASSOCIATION|SCTP_EVENT_SHUTDOWN|SCTP_EVENT_ADDRESS))
	// A path event through the dispatcher's entry point, then the end.
	s.event(sock.Event{Type: sock.EventPathConfirmed, Association: s.conn.Association(), Path: netip.MustParseAddr("127.0.0.1")})
	require.NoError(t, c.Close())
	n, err := s.Read(make([]byte, 256))
	require.ErrorIs(t, err, io.EOF)
	require.Zero(t, n)
	mu.Lock()
	require.Equal(t, []uint16{uint16(SCTP_PEER_ADDR_CHANGE), uint16(SCTP_SHUTDOWN_EVENT), uint16(SCTP_ASSOC_CHANGE)}, got)
	mu.Unlock()

	boom := errors.New("boom")
	p2 := newPair(t, SocketConfig{NotificationHandler: func([]byte) error { return boom }})
	_, s2 := p2.connect(t)
	require.NoError(t, s2.SubscribeEvents(SCTP_EVENT_ADDRESS))
	s2.event(sock.Event{Type: sock.EventPathDown, Association: s2.conn.Association(), Path: netip.MustParseAddr("127.0.0.1")})
	_, _, err = s2.SCTPRead(make([]byte, 256))
	require.ErrorIs(t, err, boom)
}

// TestNotificationWakesReader: a notification reaches an SCTPRead already
// waiting for data, and the read deadline set before still holds after.
func TestNotificationWakesReader(t *testing.T) {
	p := newPair(t, SocketConfig{})
	c, s := p.connect(t)
	require.NoError(t, s.SubscribeEvents(SCTP_EVENT_ADDRESS|SCTP_EVENT_SEND_FAILURE|SCTP_EVENT_PEER_ERROR|SCTP_EVENT_SENDER_DRY))
	type res struct {
		b   []byte
		err error
	}
	got := make(chan res, 1)
	go func() {
		buf := make([]byte, 512)
		n, _, err := s.SCTPRead(buf)
		got <- res{buf[:n], err}
	}()
	// Wait until the reader waits, then deliver.
	waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.readers == 1 })
	a := s.conn.Association()
	s.event(sock.Event{Type: sock.EventPrimaryChanged, Association: a, Path: netip.MustParseAddr("127.0.0.1")})
	r := <-got
	require.NoError(t, r.err)
	require.Equal(t, uint16(SCTP_PEER_ADDR_CHANGE), parseHeader(t, r.b).Type)
	require.Equal(t, uint32(SCTP_ADDR_MADE_PRIM), binary.NativeEndian.Uint32(r.b[136:]))
	require.Equal(t, uint16(a.PeerPort()), binary.BigEndian.Uint16(r.b[10:]), "the peer's port")

	// The other kinds, queued while nobody reads.
	s.event(sock.Event{Type: sock.EventSendFailed, Association: a, Stream: 2, PPID: 60, Context: 7, Payload: []byte("undelivered")})
	s.event(sock.Event{Type: sock.EventRemoteError, Association: a, Cause: 6})
	s.event(sock.Event{Type: sock.EventSenderDry, Association: a})
	s.event(sock.Event{Type: sock.EventRestart, Association: a}) // not subscribed: nothing
	buf := make([]byte, 512)
	n, _, err := s.SCTPRead(buf)
	require.NoError(t, err)
	require.Equal(t, uint16(SCTP_SEND_FAILED), parseHeader(t, buf[:n]).Type)
	info := unmarshalSndRcvInfo(buf[12:])
	require.Equal(t, uint16(2), info.Stream)
	require.Equal(t, kernelOrder(60), info.PPID, "ssf_info's PPID as the kernel holds it")
	require.Equal(t, uint32(7), info.Context)
	require.Equal(t, "undelivered", string(buf[48:n]))
	n, _, err = s.SCTPRead(buf)
	require.NoError(t, err)
	require.Equal(t, uint16(SCTP_REMOTE_ERROR), parseHeader(t, buf[:n]).Type)
	require.Equal(t, uint16(6), binary.BigEndian.Uint16(buf[8:]))
	n, _, err = s.SCTPRead(buf)
	require.NoError(t, err)
	require.Equal(t, uint16(SCTP_SENDER_DRY_EVENT), parseHeader(t, buf[:n]).Type)

	// The deadline survives the wake-ups: a read with nothing to read
	// times out.
	require.NoError(t, s.SetReadDeadline(time.Now().Add(-time.Second)))
	_, _, err = s.SCTPRead(buf)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
	require.NoError(t, s.SetReadDeadline(time.Time{}))

	// A short buffer gets a notification in pieces, like a message.
	s.event(sock.Event{Type: sock.EventPathUp, Association: a, Path: netip.MustParseAddr("127.0.0.1")})
	var whole []byte
	for len(whole) < paddrChangeSize {
		n, _, err := s.SCTPRead(buf[:100])
		require.NoError(t, err)
		whole = append(whole, buf[:n]...)
	}
	require.Equal(t, uint16(SCTP_PEER_ADDR_CHANGE), parseHeader(t, whole).Type)

	// Data still flows.
	_, err = c.Write([]byte("data"))
	require.NoError(t, err)
	n, err = s.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "data", string(buf[:n]))
}

// TestNotificationQueueBounded: unread notifications are bounded; the
// oldest are dropped and counted.
func TestNotificationQueueBounded(t *testing.T) {
	p := newPair(t, SocketConfig{})
	_, s := p.connect(t)
	require.NoError(t, s.SubscribeEvents(SCTP_EVENT_SENDER_DRY))
	for range maxQueuedNotifications + 10 {
		s.event(sock.Event{Type: sock.EventSenderDry, Association: s.conn.Association()})
	}
	require.Equal(t, uint64(10), s.NotificationsDropped())
	s.mu.Lock()
	require.Len(t, s.notes, maxQueuedNotifications)
	s.mu.Unlock()
}

// waitFor waits until cond holds, yielding between checks; the test's
// own deadline bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatal("condition never held")
		case <-time.After(time.Millisecond):
		}
	}
}

// TestPPIDByteOrder: what a plain sock endpoint (the wire) sees and sends,
// against what the package's calls take and return. SCTPWrite's PPID 60
// is 60 on the wire; SetDefaultSentParam takes the kernel's order
// (0x3c000000 on little-endian hosts is 60); SCTPRead returns 60; with
// SetKernelPPID(true) SCTPRead and SCTPWrite use the kernel's order too.
func TestPPIDByteOrder(t *testing.T) {
	server, client := newStack(t), newStack(t)
	ep, err := server.NewEndpoint([]netip.Addr{netip.MustParseAddr("127.0.0.1")}, 0,
		sock.WithRecvMode(sock.RecvPerAssociation), sock.AcceptMax(4))
	require.NoError(t, err)
	t.Cleanup(func() { _ = ep.Close() })
	sl, err := sock.NewListener(ep, sock.SendInfo{})
	require.NoError(t, err)
	raddr := &SCTPAddr{IPAddrs: loopback.IPAddrs, Port: int(ep.Port())}
	c, err := (&SocketConfig{Stack: client, PeerUDPPort: server.UDPPort()}).Dial("sctp", loopback, raddr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	wire, err := sl.AcceptConn()
	require.NoError(t, err)
	t.Cleanup(func() { _ = wire.Close() })
	require.NoError(t, c.SubscribeEvents(SCTP_EVENT_DATA_IO))

	buf := make([]byte, 64)
	readWire := func() uint32 {
		_, info, err := wire.ReadMsg(buf)
		require.NoError(t, err)
		return info.PPID
	}
	_, err = c.SCTPWrite([]byte("a"), &SndRcvInfo{PPID: 60})
	require.NoError(t, err)
	require.Equal(t, uint32(60), readWire(), "SCTPWrite: host order")

	require.NoError(t, c.SetDefaultSentParam(&SndRcvInfo{PPID: kernelOrder(60)}))
	got, err := c.GetDefaultSentParam()
	require.NoError(t, err)
	require.Equal(t, kernelOrder(60), got.PPID)
	_, err = c.Write([]byte("b"))
	require.NoError(t, err)
	require.Equal(t, uint32(60), readWire(), "SetDefaultSentParam: the kernel's order")

	_, err = wire.WriteMsg([]byte("c"), sock.SendInfo{PPID: 60})
	require.NoError(t, err)
	_, info, err := c.SCTPRead(buf)
	require.NoError(t, err)
	require.Equal(t, uint32(60), info.PPID, "SCTPRead: host order")

	SetKernelPPID(true)
	defer SetKernelPPID(false)
	_, err = wire.WriteMsg([]byte("d"), sock.SendInfo{PPID: 60})
	require.NoError(t, err)
	_, info, err = c.SCTPRead(buf)
	require.NoError(t, err)
	require.Equal(t, kernelOrder(60), info.PPID, "kernel order: what older versions of the original return")
	_, err = c.SCTPWrite([]byte("e"), &SndRcvInfo{PPID: kernelOrder(60)})
	require.NoError(t, err)
	require.Equal(t, uint32(60), readWire())
}

// TestMessageBoundaries: each Write is one Read, whatever the sizes; a
// short buffer gets the message in pieces, never a mix of two.
func TestMessageBoundaries(t *testing.T) {
	p := newPair(t, SocketConfig{})
	c, s := p.connect(t)
	require.NoError(t, s.SubscribeEvents(SCTP_EVENT_DATA_IO))
	sizes := []int{1, 100, 1500, 4000, 1, 65536}
	for i, n := range sizes {
		_, err := c.SCTPWrite(bytes.Repeat([]byte{byte(i + 1)}, n), &SndRcvInfo{Stream: 1, PPID: uint32(i)}) // one stream: ordered
		require.NoError(t, err)
	}
	buf := make([]byte, 70000)
	for i, n := range sizes {
		got, info, err := s.SCTPRead(buf)
		require.NoError(t, err)
		require.Equal(t, bytes.Repeat([]byte{byte(i + 1)}, n), buf[:got])
		require.Equal(t, uint16(1), info.Stream)
		require.Equal(t, uint32(i), info.PPID)
	}
	_, err := c.Write(bytes.Repeat([]byte{9}, 1000))
	require.NoError(t, err)
	small := make([]byte, 300)
	total := 0
	for total < 1000 {
		n, info, err := s.SCTPRead(small)
		require.NoError(t, err)
		require.NotNil(t, info, "each piece has its SndRcvInfo")
		total += n
	}
	require.Equal(t, 1000, total)

	_, err = c.SCTPWrite(nil, &SndRcvInfo{})
	require.ErrorIs(t, err, syscall.EINVAL, "an empty message is EINVAL, as on Linux")
	_, err = c.Write(nil)
	require.ErrorIs(t, err, ErrInvalidArgument)
}

// TestSendFlags: SCTP_EOF shuts the association down after the message;
// SCTP_ABORT aborts it, and a peer subscribed to association changes
// reads SCTP_COMM_LOST, then the abort's error.
func TestSendFlags(t *testing.T) {
	p := newPair(t, SocketConfig{})
	c, s := p.connect(t)
	_, err := c.SCTPWrite([]byte("bye"), &SndRcvInfo{Flags: SCTP_EOF})
	require.NoError(t, err)
	buf := make([]byte, 10)
	n, err := s.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "bye", string(buf[:n]))
	_, err = s.Read(buf)
	require.ErrorIs(t, err, io.EOF)

	// Each side sees the shutdown as Linux reports it: the side that
	// sent SCTP_EOF no sctp_shutdown_event (it did not receive SHUTDOWN),
	// the other one does; both the SCTP_SHUTDOWN_COMP.
	c1, s1 := p.connect(t)
	for _, x := range []*SCTPConn{c1, s1} {
		require.NoError(t, x.SubscribeEvents(SCTP_EVENT_SHUTDOWN|SCTP_EVENT_ASSOCIATION))
	}
	_, err = c1.SCTPWrite(nil, &SndRcvInfo{Flags: SCTP_EOF})
	require.NoError(t, err)
	for _, side := range []struct {
		c    *SCTPConn
		want []uint16
	}{
		{s1, []uint16{uint16(SCTP_SHUTDOWN_EVENT), uint16(SCTP_ASSOC_CHANGE)}},
		{c1, []uint16{uint16(SCTP_ASSOC_CHANGE)}},
	} {
		var got []uint16
		nb := make([]byte, 256)
		for {
			n, _, err := side.c.SCTPRead(nb)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			got = append(got, parseHeader(t, nb[:n]).Type)
		}
		require.Equal(t, side.want, got)
	}

	c2, s2 := p.connect(t)
	require.NoError(t, s2.SubscribeEvents(SCTP_EVENT_ASSOCIATION))
	_, err = c2.SCTPWrite([]byte("reason"), &SndRcvInfo{Flags: SCTP_ABORT})
	require.NoError(t, err)
	b := make([]byte, 64)
	n, info, err := s2.SCTPRead(b)
	require.NoError(t, err)
	require.Nil(t, info)
	require.Equal(t, uint16(SCTP_ASSOC_CHANGE), parseHeader(t, b[:n]).Type)
	require.Equal(t, uint16(SCTP_COMM_LOST), binary.NativeEndian.Uint16(b[8:]), "sac_state")
	_, _, err = s2.SCTPRead(b)
	require.ErrorIs(t, err, sock.ErrAborted)
	require.ErrorIs(t, err, syscall.ECONNRESET, "as Linux's recvmsg after an ABORT")
	var ne net.Error
	require.ErrorAs(t, err, &ne, "still a net.Error")
}

// TestPeerRestart: the client host restarts (its ABORT lost, a new stack
// on the same UDP and SCTP ports connects again, RFC 9260 section 5.2.4
// action A): the server's SCTPConn gets sctp_assoc_change SCTP_RESTART
// and goes on with the new association, as a kernel socket does.
func TestPeerRestart(t *testing.T) {
	p := newPair(t, SocketConfig{})
	c, s := p.connect(t)
	require.NoError(t, s.SubscribeEvents(SCTP_EVENT_DATA_IO|SCTP_EVENT_ASSOCIATION))
	local := c.LocalAddr().(*SCTPAddr)
	udp := p.client.UDPPort()
	p.client.SetFaultFilter(func(netip.Addr, netip.AddrPort, bool) bool { return true })
	require.NoError(t, p.client.Close())

	again, err := sock.NewStack(sock.WithUDPPort(udp))
	require.NoError(t, err)
	t.Cleanup(func() { _ = again.Close() })
	c2, err := (&SocketConfig{Stack: again, PeerUDPPort: p.server.UDPPort()}).Dial("sctp", local, p.raddr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c2.Close() })

	require.NoError(t, s.SetReadDeadline(time.Now().Add(time.Minute))) // a failure fails, not hangs
	buf := make([]byte, 256)
	n, info, err := s.SCTPRead(buf)
	require.NoError(t, err)
	require.Nil(t, info)
	require.Equal(t, uint16(SCTP_ASSOC_CHANGE), parseHeader(t, buf[:n]).Type)
	require.Equal(t, uint16(SCTP_RESTART), binary.NativeEndian.Uint16(buf[8:]), "sac_state")
	require.NotZero(t, binary.NativeEndian.Uint16(buf[12:]), "the new association's outbound streams")

	_, err = c2.SCTPWrite([]byte("after restart"), &SndRcvInfo{PPID: 60})
	require.NoError(t, err)
	n, info, err = s.SCTPRead(buf)
	require.NoError(t, err)
	require.Equal(t, "after restart", string(buf[:n]))
	require.Equal(t, uint32(60), info.PPID)
	_, err = s.Write([]byte("answer"))
	require.NoError(t, err)
	n, err = c2.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "answer", string(buf[:n]))
}

// TestSendFailedAndSenderDry: notifications from the stack's own events.
// A message acknowledged makes sctp_sender_dry_event; messages still
// unacknowledged when the peer aborts each make an sctp_send_failed
// (stream, PPID in the kernel's order, context, the message), read
// before the sctp_assoc_change SCTP_COMM_LOST and the abort's error.
func TestSendFailedAndSenderDry(t *testing.T) {
	p := newPair(t, SocketConfig{})
	c, s := p.connect(t)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Minute))) // a failure fails, not hangs
	require.NoError(t, c.SubscribeEvents(SCTP_EVENT_SENDER_DRY|SCTP_EVENT_SEND_FAILURE|SCTP_EVENT_ASSOCIATION))
	_, err := c.SCTPWrite([]byte("acked"), &SndRcvInfo{PPID: 60})
	require.NoError(t, err)
	buf := make([]byte, 512)
	n, info, err := c.SCTPRead(buf)
	require.NoError(t, err)
	require.Nil(t, info)
	require.Equal(t, uint16(SCTP_SENDER_DRY_EVENT), parseHeader(t, buf[:n]).Type)
	n, err = s.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "acked", string(buf[:n]))

	// Nothing the client sends arrives any more; the server aborts.
	p.client.SetFaultFilter(func(_ netip.Addr, _ netip.AddrPort, inbound bool) bool { return !inbound })
	for i := range 3 {
		_, err := c.SCTPWrite(fmt.Appendf(nil, "lost %d", i), &SndRcvInfo{Stream: 2, PPID: 60, Context: uint32(100 + i)})
		require.NoError(t, err)
	}
	_, err = s.SCTPWrite(nil, &SndRcvInfo{Flags: SCTP_ABORT})
	require.NoError(t, err)

	var failed []string
	for {
		n, _, err := c.SCTPRead(buf)
		require.NoError(t, err)
		typ := parseHeader(t, buf[:n]).Type
		if typ == uint16(SCTP_SENDER_DRY_EVENT) {
			continue
		}
		if typ == uint16(SCTP_ASSOC_CHANGE) {
			require.Equal(t, uint16(SCTP_COMM_LOST), binary.NativeEndian.Uint16(buf[8:]))
			break
		}
		require.Equal(t, uint16(SCTP_SEND_FAILED), typ)
		info := unmarshalSndRcvInfo(buf[12:])
		require.Equal(t, uint16(2), info.Stream)
		require.Equal(t, kernelOrder(60), info.PPID)
		require.Equal(t, uint32(100+len(failed)), info.Context)
		failed = append(failed, string(buf[sendFailedSize:n]))
	}
	require.Equal(t, []string{"lost 0", "lost 1", "lost 2"}, failed, "every message not delivered, before the end")
	_, _, err = c.SCTPRead(buf)
	require.ErrorIs(t, err, sock.ErrAborted)
}

// TestLostEventDown: if the endpoint's event queue lost the association's
// EventDown, SCTPRead still reports the end, after downWait.
func TestLostEventDown(t *testing.T) {
	saved := downWait
	downWait = 10 * time.Millisecond
	t.Cleanup(func() { downWait = saved })
	p := newPair(t, SocketConfig{})
	c, s := p.connect(t)
	require.NoError(t, s.SubscribeEvents(SCTP_EVENT_ASSOCIATION))
	p.ln.hub.remove(s) // its events go nowhere from now on, as if dropped
	require.NoError(t, c.Close())
	buf := make([]byte, 64)
	n, _, err := s.SCTPRead(buf)
	require.NoError(t, err)
	require.Equal(t, uint16(SCTP_ASSOC_CHANGE), parseHeader(t, buf[:n]).Type)
	_, _, err = s.SCTPRead(buf)
	require.ErrorIs(t, err, io.EOF)
}

package sock

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/nettest"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// connPair is a Listener on one stack, a Dialer on another and the two
// Conns of one association between them.
type connPair struct {
	server, client *Stack
	listener       *Listener
	dialer         *Dialer
	c1, c2         *Conn // c1 dialed, c2 accepted
}

// newConnPair makes the pair; serverOpts go to the listening endpoint,
// serverAddrs are its addresses (nil: 127.0.0.1).
func newConnPair(serverAddrs []netip.Addr, serverOpts ...EndpointOption) (*connPair, error) {
	p := &connPair{}
	var err error
	if p.server, err = NewStack(WithUDPPort(0)); err != nil {
		return nil, err
	}
	if p.client, err = NewStack(WithUDPPort(0)); err != nil {
		p.server.Close()
		return nil, err
	}
	fail := func(err error) (*connPair, error) {
		p.stop()
		return nil, err
	}
	lep, err := p.server.NewEndpoint(serverAddrs, 0,
		append([]EndpointOption{AcceptMax(4), WithRecvMode(RecvPerAssociation)}, serverOpts...)...)
	if err != nil {
		return fail(err)
	}
	if p.listener, err = NewListener(lep, SendInfo{Stream: 1, PPID: 51}); err != nil {
		return fail(err)
	}
	dep, err := p.client.NewEndpoint(nil, 0, WithRecvMode(RecvPerAssociation))
	if err != nil {
		return fail(err)
	}
	p.dialer = &Dialer{Endpoint: dep, Defaults: SendInfo{Stream: 1, PPID: 51},
		Options: []ConnectOption{WithRemoteUDPPort(p.server.UDPPort())}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	remote := serverAddrs
	if remote == nil {
		remote = []netip.Addr{lo4}
	}
	if p.c1, err = p.dialer.DialContext(ctx, remote, lep.Port()); err != nil {
		return fail(err)
	}
	if p.c2, err = p.listener.AcceptConn(); err != nil {
		return fail(err)
	}
	return p, nil
}

func (p *connPair) stop() {
	if p.c1 != nil {
		p.c1.Close()
	}
	if p.c2 != nil {
		p.c2.Close()
	}
	if p.listener != nil {
		p.listener.Close()
	}
	if p.client != nil {
		p.client.Close()
	}
	p.server.Close()
}

func mustConnPair(t *testing.T, serverAddrs []netip.Addr, serverOpts ...EndpointOption) *connPair {
	t.Helper()
	p, err := newConnPair(serverAddrs, serverOpts...)
	require.NoError(t, err)
	t.Cleanup(p.stop)
	return p
}

// TestConnNettest runs golang.org/x/net/nettest's net.Conn conformance
// checks on a pair of Conns. All eleven apply to a message transport as
// nettest writes them: every Write is at most 1,024 bytes (its
// chunkedCopy, made for packet connections such as unixpacket) and so one
// message, and every Read has a buffer of at least the size of the
// messages it reads (1,024, or io.ReadFull of 8 bytes on 8-byte
// messages), so message boundaries never show. Each runs as a subtest of
// its own; none is skipped.
func TestConnNettest(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		p, err := newConnPair(nil)
		if err != nil {
			return nil, nil, nil, err
		}
		return p.c1, p.c2, p.stop, nil
	})
}

// TestConnShortBuffer: a buffer shorter than the message gets its start,
// the rest comes in the next reads (More set until the last part), and
// the next message starts a new read: nothing is lost, no boundary
// blurred.
func TestConnShortBuffer(t *testing.T) {
	p := mustConnPair(t, nil)
	_, err := p.c1.Write([]byte("0123456789"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	n, info, err := p.c2.ReadMsg(buf)
	require.NoError(t, err)
	require.Equal(t, "0123", string(buf[:n]))
	require.Equal(t, RecvInfo{Stream: 1, PPID: 51, More: true}, info)
	// A message on another stream, sent after the first one arrived (two
	// streams keep no order between them): the rest of the first one,
	// held in the Conn, still comes before it.
	_, err = p.c1.WriteMsg([]byte("next"), SendInfo{Stream: 3, PPID: 60})
	require.NoError(t, err)
	for _, want := range []struct {
		data string
		info RecvInfo
	}{
		{"4567", RecvInfo{Stream: 1, PPID: 51, More: true}},
		{"89", RecvInfo{Stream: 1, PPID: 51}},
		{"next", RecvInfo{Stream: 3, PPID: 60}},
	} {
		n, info, err := p.c2.ReadMsg(buf)
		require.NoError(t, err)
		require.Equal(t, want.data, string(buf[:n]))
		require.Equal(t, want.info, info)
	}
}

// TestConnDeadlines: a deadline passing, or set in the past from another
// goroutine while a Read or Write waits, fails the call with a timeout
// error that wraps os.ErrDeadlineExceeded; clearing it makes the Conn
// work again.
func TestConnDeadlines(t *testing.T) {
	p := mustConnPair(t, nil, WithRecvQueue(1), WithReceiveBuffer(8192), WithMaxMessageSize(1024))
	checkTimeout := func(t *testing.T, err error) {
		t.Helper()
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		var ne net.Error
		require.True(t, errors.As(err, &ne))
		require.True(t, ne.Timeout())
	}
	t.Run("read past", func(t *testing.T) {
		require.NoError(t, p.c2.SetReadDeadline(time.Unix(1, 0)))
		_, err := p.c2.Read(make([]byte, 10))
		checkTimeout(t, err)
		require.NoError(t, p.c2.SetReadDeadline(time.Time{}))
	})
	t.Run("read set while blocked", func(t *testing.T) {
		errc := make(chan error, 1)
		go func() {
			_, err := p.c2.Read(make([]byte, 10))
			errc <- err
		}()
		// The Read waits: nothing was sent. Whether it has started
		// waiting or not, the deadline ends it.
		require.NoError(t, p.c2.SetReadDeadline(time.Unix(1, 0)))
		checkTimeout(t, <-errc)
		require.NoError(t, p.c2.SetReadDeadline(time.Time{}))
	})
	t.Run("write blocked by a closed window", func(t *testing.T) {
		// c2 never reads: its queue and window fill, c1's Write blocks
		// until the write deadline, set from another goroutine.
		sent := 0
		errc := make(chan error, 1)
		go func() {
			for {
				if _, err := p.c1.Write(make([]byte, 1024)); err != nil {
					errc <- err
					return
				}
				sent++
			}
		}()
		require.Eventually(t, func() bool {
			st := p.c1.Association().Stats()
			return st.RWND == 0 || st.RWND < 1024
		}, 20*time.Second, time.Millisecond, "the peer's window closes")
		require.NoError(t, p.c1.SetWriteDeadline(time.Now()))
		checkTimeout(t, <-errc)
		require.NoError(t, p.c1.SetWriteDeadline(time.Time{}))
		// The receiver reads: the window opens and writes go again.
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, err := p.c2.Read(buf); err != nil {
					return
				}
			}
		}()
		_, err := p.c1.Write([]byte("after"))
		require.NoError(t, err)
	})
}

// TestConnClose: Close is a graceful shutdown: the peer reads what was
// written, then io.EOF; calls after Close fail with net.ErrClosed, and a
// second Close does nothing more.
func TestConnClose(t *testing.T) {
	p := mustConnPair(t, nil)
	_, err := p.c1.Write([]byte("last words"))
	require.NoError(t, err)
	require.NoError(t, p.c1.Close())
	buf := make([]byte, 64)
	n, err := p.c2.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "last words", string(buf[:n]))
	_, err = p.c2.Read(buf)
	require.Equal(t, io.EOF, err)
	require.Equal(t, ReasonShutdown, p.c2.Association().Reason())

	_, err = p.c1.Read(buf)
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = p.c1.Write(buf)
	require.ErrorIs(t, err, net.ErrClosed)
	require.ErrorIs(t, p.c1.Close(), net.ErrClosed)
	require.NoError(t, p.c2.Close(), "closing after the peer's shutdown")
}

// TestConnWriteTooBig: a message above the maximum message size is not
// sent, and the error says so.
func TestConnWriteTooBig(t *testing.T) {
	p := mustConnPair(t, nil)
	n, err := p.c1.Write(make([]byte, DefaultMaxMessageSize+1))
	require.ErrorIs(t, err, ErrMessageTooBig)
	require.Zero(t, n)
	require.Zero(t, p.c1.Association().Stats().MessagesOut)
}

// TestListenerClose: Close unblocks Accept with net.ErrClosed; the
// endpoint refuses new associations and the accepted Conns go on.
func TestListenerClose(t *testing.T) {
	p := mustConnPair(t, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := p.listener.Accept()
		errc <- err
	}()
	require.NoError(t, p.listener.Close())
	require.ErrorIs(t, <-errc, net.ErrClosed)
	_, err := p.listener.Accept()
	require.ErrorIs(t, err, net.ErrClosed)

	ep, err := p.client.NewEndpoint(nil, 0, WithRecvMode(RecvPerAssociation))
	require.NoError(t, err)
	ctx := testCtx(t)
	_, err = (&Dialer{Endpoint: ep, Options: p.dialer.Options}).DialContext(ctx, []netip.Addr{lo4}, p.listener.Endpoint().Port())
	require.ErrorIs(t, err, ErrRefused)

	_, err = p.c1.Write([]byte("still up"))
	require.NoError(t, err)
	buf := make([]byte, 16)
	n, err := p.c2.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "still up", string(buf[:n]))
}

// TestConnAddrs: LocalAddr and RemoteAddr list every address of a
// multi-homed association.
func TestConnAddrs(t *testing.T) {
	lo2 := netip.MustParseAddr("127.0.0.2")
	if !canBind(t, "127.0.0.2") {
		t.Fatal("127.0.0.2 is not bindable on this machine's loopback")
	}
	p := mustConnPair(t, []netip.Addr{lo4, lo2})
	require.Equal(t, "sctp", p.c2.LocalAddr().Network())
	local := p.c2.LocalAddr().(*Addr)
	require.Equal(t, []netip.Addr{lo4, lo2}, local.IPs)
	require.Equal(t, p.listener.Endpoint().Port(), local.Port)
	remote := p.c1.RemoteAddr().(*Addr)
	require.ElementsMatch(t, []netip.Addr{lo4, lo2}, remote.IPs)
	require.Equal(t, lo4, remote.IPs[0], "the primary first")
	require.Equal(t, p.listener.Endpoint().Port(), remote.Port)
	require.Equal(t, "127.0.0.1/127.0.0.2:"+itoa(int(local.Port)), local.String())
	require.Equal(t, p.listener.Addr().String(), local.String())
}

func itoa(n int) string { return (&Addr{Port: uint16(n)}).String()[1:] }

// TestAddrString: the "a/b:port" form, IPv6 in brackets.
func TestAddrString(t *testing.T) {
	for _, c := range []struct {
		addr Addr
		want string
	}{
		{Addr{IPs: []netip.Addr{lo4}, Port: 3868}, "127.0.0.1:3868"},
		{Addr{IPs: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}, Port: 1}, "10.0.0.1/10.0.0.2:1"},
		{Addr{IPs: []netip.Addr{netip.MustParseAddr("::1"), lo4}, Port: 38412}, "[::1]/127.0.0.1:38412"},
		{Addr{Port: 9}, ":9"},
	} {
		require.Equal(t, c.want, c.addr.String())
	}
}

// TestConnFollowsRestart: when the peer restarts (RFC 9260 section 5.2.4
// action A) the Conn goes on with the association that replaces the old
// one, as a kernel socket does: Read returns what the peer sends after
// the restart, Write goes out with the new tag.
func TestConnFollowsRestart(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10), WithRecvMode(RecvPerAssociation))
	require.NoError(t, err)
	l, err := NewListener(ep, SendInfo{Stream: 1, PPID: 46})
	require.NoError(t, err)
	defer l.Close()
	r := newRawPeer(t, s)
	const peerPort = 4140
	ack, ck := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x8181, 1000))
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	_, c := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkCookieAck, c.Type)
	conn, err := l.AcceptConn()
	require.NoError(t, err)
	old := conn.Association()

	ack2, ck2 := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x8282, 1000))
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack2.InitiateTag, must(wire.AppendCookieEcho(nil, ck2))))
	_, c = rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkCookieAck, c.Type)
	<-old.Done()
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack2.InitiateTag, rawpeer.Message(1000, 1, 0, "after restart")))
	buf := make([]byte, 32)
	n, err := conn.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "after restart", string(buf[:n]))
	require.NotSame(t, old, conn.Association())
	require.Same(t, conn.Association(), old.Successor())
	require.Nil(t, conn.Association().Successor(), "not restarted")

	_, err = conn.Write([]byte("reply"))
	require.NoError(t, err)
	for {
		pkt := r.Recv(5 * time.Second)
		require.NotNil(t, pkt, "the reply")
		hdr, c := rawpeer.FirstChunk(t, pkt)
		if c.Type == wire.ChunkData || c.Type == wire.ChunkSack {
			require.Equal(t, uint32(0x8282), hdr.VerificationTag, "the new association's")
		}
		if c.Type == wire.ChunkData || bytes.Contains(pkt, []byte("reply")) {
			break
		}
	}
	conn.Association().Abort("done")
}

// TestConnLocalAddrWildcard: for a wildcard endpoint LocalAddr lists the
// concrete addresses the association's paths use (the one the peer's
// packets arrive on once known), not 0.0.0.0.
func TestConnLocalAddrWildcard(t *testing.T) {
	any4, lo2 := netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("127.0.0.2")
	ep := newEndpoint(nil, []netip.Addr{any4}, 3868, defaultEndpointConfig())
	a := newAssociation(ep, 3868)
	a.addPathLocked(netip.MustParseAddr("10.0.0.1"), lo4, 9899, true)
	p := a.addPathLocked(netip.MustParseAddr("10.0.0.2"), lo4, 9899, false)
	p.arrival.Store(&lo2)
	a.addPathLocked(netip.MustParseAddr("10.0.0.3"), lo4, 9899, false)
	require.Equal(t, []netip.Addr{lo4, lo2}, a.localAddrs())
	ep.addrs = []netip.Addr{lo2, lo4}
	require.Equal(t, []netip.Addr{lo2, lo4}, a.localAddrs(), "a specific endpoint's own addresses")
}

// TestConnPeerAbort: after the peer's ABORT, Read and Write fail with an
// error wrapping ErrAborted, not io.EOF: the data may be incomplete (RFC
// 9260 section 9.1).
func TestConnPeerAbort(t *testing.T) {
	p := mustConnPair(t, nil)
	p.c1.Association().Abort("gone")
	<-p.c2.Association().Done()
	_, err := p.c2.Read(make([]byte, 8))
	require.ErrorIs(t, err, ErrAborted)
	require.NotErrorIs(t, err, io.EOF)
	_, err = p.c2.Write([]byte("x"))
	require.Error(t, err)
	require.NotErrorIs(t, err, net.ErrClosed, "the Conn itself is not closed")
	require.NoError(t, p.c2.Close())
}

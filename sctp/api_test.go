package sctp

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/usock/usock/sock"
)

// TestPackageLevelFunctions: ListenSCTP, DialSCTP and their Ext forms use
// the stack SetStack gives and the peer port SetPeerUDPPort gives.
func TestPackageLevelFunctions(t *testing.T) {
	server, client := newStack(t), newStack(t)
	t.Cleanup(func() { SetStack(nil); SetPeerUDPPort(0) })

	SetStack(server)
	ln, err := ListenSCTP("sctp", loopback)
	require.NoError(t, err)
	defer ln.Close()
	ln2, err := ListenSCTPExt("sctp4", &SCTPAddr{IPAddrs: loopback.IPAddrs}, InitMsg{NumOstreams: 3, MaxInstreams: 5})
	require.NoError(t, err)
	defer ln2.Close()

	SetStack(client)
	SetPeerUDPPort(server.UDPPort())
	c, err := DialSCTP("sctp", nil, ln.Addr().(*SCTPAddr))
	require.NoError(t, err)
	defer c.Close()
	s, err := ln.AcceptSCTP()
	require.NoError(t, err)
	defer s.Close()
	out, in := s.conn.Association().Streams()
	require.Equal(t, uint16(defaultInStreams), out, "ListenSCTP asks for 65535 outbound streams, the dialer accepts its default inbound")
	require.Equal(t, uint16(defaultInStreams), in, "DialSCTP's 65535 are capped by the listener's inbound default")

	c2, err := DialSCTPExt("sctp", nil, ln2.Addr().(*SCTPAddr), InitMsg{NumOstreams: 2, MaxInstreams: 7, MaxAttempts: 3, MaxInitTimeout: 2})
	require.NoError(t, err)
	defer c2.Close()
	st, err := c2.GetStatus()
	require.NoError(t, err)
	require.Equal(t, uint16(2), st.Ostreams)
	require.Equal(t, uint16(3), st.Instreams, "min(our 7, the listener's 3)")
}

// TestSocketConfigControl: Control is called with the network and the
// local address; its RawConn has no socket; its error fails the call.
func TestSocketConfigControl(t *testing.T) {
	s := newStack(t)
	var gotNet, gotAddr string
	var ctlErr error
	cfg := &SocketConfig{Stack: s, Control: func(network, address string, c syscall.RawConn) error {
		gotNet, gotAddr = network, address
		ctlErr = c.Control(func(uintptr) {})
		require.ErrorIs(t, c.Read(func(uintptr) bool { return true }), ErrUnsupported)
		require.ErrorIs(t, c.Write(func(uintptr) bool { return true }), ErrUnsupported)
		return nil
	}}
	ln, err := cfg.Listen("sctp", loopback)
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	require.Equal(t, "sctp", gotNet)
	require.Equal(t, "127.0.0.1:0", gotAddr)
	require.ErrorIs(t, ctlErr, ErrUnsupported)

	boom := errors.New("boom")
	cfg.Control = func(string, string, syscall.RawConn) error { return boom }
	_, err = cfg.Listen("sctp", loopback)
	require.ErrorIs(t, err, boom)
	_, err = cfg.Dial("sctp", nil, &SCTPAddr{IPAddrs: loopback.IPAddrs, Port: 1})
	require.ErrorIs(t, err, boom)
}

// TestListenDialErrors: bad networks and addresses, a refused INIT.
func TestListenDialErrors(t *testing.T) {
	p := newPair(t, SocketConfig{})
	_, err := p.dialCfg.Listen("tcp", loopback)
	require.Error(t, err)
	_, err = p.dialCfg.Dial("udp", nil, p.raddr())
	require.Error(t, err)
	_, err = p.dialCfg.Dial("sctp", nil, nil)
	require.ErrorIs(t, err, ErrInvalidAddress)
	_, err = p.dialCfg.Dial("sctp", nil, &SCTPAddr{Port: 1})
	require.ErrorIs(t, err, ErrInvalidAddress)
	_, err = p.dialCfg.Dial("sctp", nil, &SCTPAddr{IPAddrs: loopback.IPAddrs, Port: 1 << 20})
	require.ErrorIs(t, err, ErrInvalidAddress)
	_, err = (&SocketConfig{Stack: p.server}).Listen("sctp", p.raddr())
	require.ErrorIs(t, err, sock.ErrAddressInUse)

	// Nobody listens at that port of the server's host: an ABORT.
	_, err = p.dialCfg.Dial("sctp", nil, &SCTPAddr{IPAddrs: loopback.IPAddrs, Port: p.raddr().Port + 1})
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.ErrorIs(t, err, sock.ErrRefused)

	// Nobody answers (every packet of the client lost): after
	// InitMsg.MaxAttempts retransmissions, ETIMEDOUT.
	p.client.SetFaultFilter(func(netip.Addr, netip.AddrPort, bool) bool { return true })
	cfg := *p.dialCfg
	cfg.InitMsg = InitMsg{MaxAttempts: 1}
	_, err = cfg.Dial("sctp", nil, p.raddr())
	require.ErrorIs(t, err, syscall.ETIMEDOUT)
	require.ErrorIs(t, err, sock.ErrTimeout)
}

// TestListenerClose: Close stops Accept (net.ErrClosed) but the accepted
// connections go on; the endpoint closes with the last of them.
func TestListenerClose(t *testing.T) {
	p := newPair(t, SocketConfig{})
	c, s := p.connect(t)
	accepted := make(chan error, 1)
	go func() {
		_, err := p.ln.Accept()
		accepted <- err
	}()
	require.NoError(t, p.ln.Close())
	err := <-accepted
	require.ErrorIs(t, err, net.ErrClosed)
	require.ErrorIs(t, p.ln.Close(), net.ErrClosed)

	_, err = c.Write([]byte("still here"))
	require.NoError(t, err)
	buf := make([]byte, 20)
	n, err := s.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "still here", string(buf[:n]))

	_, err = p.dialCfg.Dial("sctp", nil, p.raddr())
	require.Error(t, err, "a closed listener takes no new association")

	ep := p.ln.ep
	require.NoError(t, s.Close())
	_, err = p.server.Endpoint(ep.Addrs()[0], ep.Port())
	require.ErrorIs(t, err, sock.ErrNotFound, "the endpoint closed with its last connection")
	_, err = c.Read(buf)
	require.ErrorIs(t, err, io.EOF)
}

// TestConnAccessors: addresses, status, primary address, buffers, init
// message, default send parameters, deadlines.
func TestConnAccessors(t *testing.T) {
	p := newPair(t, SocketConfig{InitMsg: InitMsg{NumOstreams: 5, MaxInstreams: 6}})
	c, s := p.connect(t)

	la := c.LocalAddr().(*SCTPAddr)
	ra := s.RemoteAddr().(*SCTPAddr)
	require.Equal(t, la.String(), ra.String(), "each side's view of the client")
	require.Equal(t, "sctp", la.Network())
	require.Equal(t, p.raddr().String(), c.RemoteAddr().String())
	require.Equal(t, s.LocalAddr().String(), p.ln.Addr().String())
	l2, err := c.SCTPLocalAddr(0)
	require.NoError(t, err)
	require.Equal(t, la.String(), l2.String())
	r2, err := c.SCTPRemoteAddr(int(c.id))
	require.NoError(t, err)
	require.Equal(t, p.raddr().String(), r2.String())
	prim, err := c.SCTPGetPrimaryPeerAddr()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:"+itoa(p.raddr().Port), prim.String())

	st, err := c.GetStatus()
	require.NoError(t, err)
	require.Equal(t, SCTP_ESTABLISHED, st.State)
	require.Equal(t, c.id, st.AssocID)
	require.Equal(t, uint16(6), st.Ostreams, "min(the dialer's default 10, the listener's 6)")
	require.Equal(t, uint16(5), st.Instreams)
	require.Equal(t, uint32(sock.DefaultPacketSize-28), st.FragmentationPoint)
	require.Equal(t, SCTP_ACTIVE, st.PrimaryPeerAddr.State)
	require.Equal(t, uint32(sock.DefaultPacketSize), st.PrimaryPeerAddr.MTU)
	require.Equal(t, byte(127), st.PrimaryPeerAddr.Address[4], "sockaddr_in's address")
	require.NotZero(t, st.RWND)

	for _, set := range []func(int) error{c.SetReadBuffer, c.SetWriteBuffer} {
		require.NoError(t, set(4096))
		require.ErrorIs(t, set(-1), syscall.EINVAL)
	}
	rb, err := c.GetReadBuffer()
	require.NoError(t, err)
	require.Equal(t, 4096, rb)
	wb, err := c.GetWriteBuffer()
	require.NoError(t, err)
	require.Equal(t, 4096, wb)

	require.NoError(t, c.SetInitMsg(1, 2, 3, 4))
	require.ErrorIs(t, c.SetInitMsg(-1, 0, 0, 0), ErrInvalidArgument)

	d, err := c.GetDefaultSentParam()
	require.NoError(t, err)
	require.Equal(t, SndRcvInfo{AssocID: int32(c.id)}, *d)
	require.NoError(t, c.SetDefaultSentParam(&SndRcvInfo{Stream: 2, PPID: kernelOrder(46), TTL: 1000, Context: 3}))
	d, err = c.GetDefaultSentParam()
	require.NoError(t, err)
	require.Equal(t, SndRcvInfo{Stream: 2, PPID: kernelOrder(46), TTL: 1000, Context: 3, AssocID: int32(c.id)}, *d)
	require.ErrorIs(t, c.SetDefaultSentParam(nil), ErrInvalidArgument)
	require.NoError(t, s.SubscribeEvents(SCTP_EVENT_DATA_IO))
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	_, info, err := s.SCTPRead(make([]byte, 4))
	require.NoError(t, err)
	require.Equal(t, uint16(2), info.Stream)
	require.Equal(t, uint32(46), info.PPID)

	// Deadlines.
	require.NoError(t, s.SetDeadline(time.Now().Add(-time.Second)))
	_, err = s.Read(make([]byte, 4))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	_, err = s.Write([]byte("late"))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, s.SetDeadline(time.Time{}))
	require.NoError(t, s.SetWriteDeadline(time.Now().Add(time.Minute)))
	_, err = s.Write([]byte("on time"))
	require.NoError(t, err)
	n, err := c.Read(make([]byte, 10))
	require.NoError(t, err)
	require.Equal(t, 7, n)
}

func itoa(n int) string { return (&SCTPAddr{Port: n}).String()[1:] }

// TestWrappedConn: the buffers of SCTPSndRcvInfoWrappedConn start with the
// message's struct sctp_sndrcvinfo.
func TestWrappedConn(t *testing.T) {
	p := newPair(t, SocketConfig{})
	c, s := p.connect(t)
	wc, ws := NewSCTPSndRcvInfoWrappedConn(c), NewSCTPSndRcvInfoWrappedConn(s)
	ev, err := s.SubscribedEvents()
	require.NoError(t, err)
	require.Equal(t, SCTP_EVENT_DATA_IO, ev)

	out := SndRcvInfo{Stream: 3, PPID: 60}
	msg := append(out.marshal(nil), "payload"...)
	n, err := wc.Write(msg)
	require.NoError(t, err)
	require.Equal(t, len(msg), n)

	buf := make([]byte, 100)
	n, err = ws.Read(buf)
	require.NoError(t, err)
	require.Equal(t, sndRcvInfoSize+len("payload"), n)
	in := unmarshalSndRcvInfo(buf)
	require.Equal(t, uint16(3), in.Stream)
	require.Equal(t, uint32(60), in.PPID)
	require.Equal(t, int32(s.id), in.AssocID)
	require.Equal(t, "payload", string(buf[sndRcvInfoSize:n]))

	_, err = wc.Write(make([]byte, 10))
	require.ErrorIs(t, err, syscall.EINVAL)
	_, err = ws.Read(make([]byte, 10))
	require.ErrorIs(t, err, syscall.EINVAL)

	require.Equal(t, c.LocalAddr().String(), wc.LocalAddr().String())
	require.Equal(t, c.RemoteAddr().String(), wc.RemoteAddr().String())
	require.NoError(t, wc.SetReadBuffer(10))
	rb, err := wc.GetReadBuffer()
	require.NoError(t, err)
	require.Equal(t, 10, rb)
	require.NoError(t, wc.SetWriteBuffer(11))
	wb, err := wc.GetWriteBuffer()
	require.NoError(t, err)
	require.Equal(t, 11, wb)
	require.NoError(t, ws.SetDeadline(time.Now().Add(-time.Second)))
	_, err = ws.Read(buf)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, ws.SetReadDeadline(time.Time{}))
	require.NoError(t, ws.SetWriteDeadline(time.Time{}))
	require.NoError(t, wc.Close())
	_, err = ws.Read(buf)
	require.ErrorIs(t, err, io.EOF)
}

// TestUnsupported: the kernel-socket calls return ErrUnsupported, and a
// conn from NewSCTPConn fails every call.
func TestUnsupported(t *testing.T) {
	p := newPair(t, SocketConfig{})
	c := p.dial(t)
	_, err := c.SyscallConn()
	require.ErrorIs(t, err, ErrUnsupported)
	_, _, err = c.Getsockopt(0, 0, 0)
	require.ErrorIs(t, err, ErrUnsupported)
	_, _, err = c.Setsockopt(0, 0, 0)
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = c.PeelOff(1)
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorIs(t, c.SetSackTimer(&SackTimer{}), ErrUnsupported)
	_, err = c.GetSackTimer()
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = p.ln.SyscallConn()
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorIs(t, SCTPBind(3, loopback, SCTP_BINDX_ADD_ADDR), ErrUnsupported)
	_, err = SCTPConnect(3, loopback)
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = FileListener(os.Stdin)
	require.ErrorIs(t, err, ErrUnsupported)

	var zl SCTPListener // as programs' tests make them
	_, err = zl.Accept()
	require.ErrorIs(t, err, ErrUnsupported)
	require.Nil(t, zl.Addr())
	require.ErrorIs(t, zl.Close(), ErrUnsupported)
	var zc SCTPConn
	_, err = zc.Write([]byte("x"))
	require.ErrorIs(t, err, ErrUnsupported)

	nc := NewSCTPConn(3, nil)
	_, err = nc.Write([]byte("x"))
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = nc.Read(make([]byte, 1))
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorIs(t, nc.Close(), ErrUnsupported)
	require.Nil(t, nc.LocalAddr())
	require.Nil(t, nc.RemoteAddr())
	require.ErrorIs(t, nc.SetDeadline(time.Time{}), ErrUnsupported)
	require.ErrorIs(t, nc.SubscribeEvents(0), ErrUnsupported)
	_, err = nc.GetStatus()
	require.ErrorIs(t, err, ErrUnsupported)
}

// TestEnvironmentStack: with USOCK_UDP_PORT set (as readEnv records it)
// the package makes one stack on that port and keeps it; SetStack wins
// over it while set.
func TestEnvironmentStack(t *testing.T) {
	probe := newStack(t)
	ln, err := (&SocketConfig{Stack: probe}).Listen("sctp", loopback) // opens a socket: the port is known
	require.NoError(t, err)
	port := probe.UDPPort()
	require.NoError(t, ln.Close())
	require.NoError(t, probe.Close()) // frees the port for the environment's stack

	readEnv()
	config.mu.Lock()
	saved := config.udp
	config.udp = port
	config.mu.Unlock()
	t.Cleanup(func() {
		config.mu.Lock()
		s := config.envMade
		config.udp, config.envMade = saved, nil
		config.mu.Unlock()
		if s != nil {
			_ = s.Close()
		}
	})

	s1, peer, err := stackFor(nil)
	require.NoError(t, err)
	require.Equal(t, uint16(sock.DefaultUDPPort), peer)
	s2, _, err := stackFor(&SocketConfig{PeerUDPPort: 7})
	require.NoError(t, err)
	require.Same(t, s1, s2, "one stack for the process")
	ln, err = ListenSCTP("sctp", loopback)
	require.NoError(t, err)
	require.Equal(t, port, s1.UDPPort(), "on the environment's port")
	require.NoError(t, ln.Close())

	other := newStack(t)
	SetStack(other)
	got, _, err := stackFor(nil)
	SetStack(nil)
	require.NoError(t, err)
	require.Same(t, other, got)
}

// TestWildcardListener: Listen without an address listens on the
// wildcard address, as the original binds INADDR_ANY; a client reaches it
// at 127.0.0.1.
func TestWildcardListener(t *testing.T) {
	server, client := newStack(t), newStack(t)
	ln, err := (&SocketConfig{Stack: server}).Listen("sctp", nil)
	require.NoError(t, err)
	defer ln.Close()
	addr := ln.Addr().(*SCTPAddr)
	require.NotZero(t, addr.Port, "a free port")
	require.Len(t, addr.IPAddrs, 1)
	require.True(t, addr.IPAddrs[0].IP.IsUnspecified(), "%v", addr)

	c, err := (&SocketConfig{Stack: client, PeerUDPPort: server.UDPPort()}).Dial("sctp", nil,
		&SCTPAddr{IPAddrs: loopback.IPAddrs, Port: addr.Port})
	require.NoError(t, err)
	defer c.Close()
	s, err := ln.AcceptSCTP()
	require.NoError(t, err)
	defer s.Close()
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	buf := make([]byte, 8)
	n, err := s.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "hello", string(buf[:n]))

	ln6, err := (&SocketConfig{Stack: server}).Listen("sctp6", &SCTPAddr{})
	if err == nil { // where the machine has IPv6
		require.True(t, ln6.Addr().(*SCTPAddr).IPAddrs[0].IP.Equal(net.IPv6unspecified))
		require.NoError(t, ln6.Close())
	}
}

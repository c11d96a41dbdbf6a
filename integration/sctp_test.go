//go:build interop

package integration

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/usock/usock/sctp"
)

var sctpLoopback = &sctp.SCTPAddr{IPAddrs: []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}}

// kernelPPID is ppid as a Linux program reads the kernel's sinfo_ppid:
// the wire's bytes in host order.
func kernelPPID(ppid uint32) uint32 {
	return binary.NativeEndian.Uint32(binary.BigEndian.AppendUint32(nil, ppid))
}

// notificationType returns the sn_type of a notification.
func notificationType(t *testing.T, b []byte) uint16 {
	t.Helper()
	require.GreaterOrEqual(t, len(b), 8)
	require.Equal(t, uint32(len(b)), binary.NativeEndian.Uint32(b[4:]), "sn_length")
	return binary.NativeEndian.Uint16(b)
}

// TestSCTPPackageToUsrsctp: the sctp package as a client of the usrsctp
// echo server. NGAP-style with SCTPWrite on stream 1 with PPID 60
// (usrsctp prints the wire's PPID: 60), an unordered message, a
// Diameter-style exchange over net.Conn with the default PPID 46 set in
// the kernel's byte order; then the server shuts down and SCTPRead
// returns sctp_shutdown_event, sctp_assoc_change SCTP_SHUTDOWN_COMP and
// io.EOF.
func TestSCTPPackageToUsrsctp(t *testing.T) {
	bin := buildPeer(t)
	s := newStack(t)
	srv, udp, port := startServer(t, bin, "echo", s.UDPPort())
	cfg := &sctp.SocketConfig{Stack: s, PeerUDPPort: udp}
	c, err := cfg.Dial("sctp", sctpLoopback, &sctp.SCTPAddr{IPAddrs: sctpLoopback.IPAddrs, Port: int(port)})
	require.NoError(t, err)
	defer c.Close()
	srv.expect(`^UP `, 5*time.Second)
	require.NoError(t, c.SubscribeEvents(sctp.SCTP_EVENT_DATA_IO|sctp.SCTP_EVENT_ASSOCIATION|sctp.SCTP_EVENT_SHUTDOWN))

	buf := make([]byte, 70000)
	for i := range 5 {
		msg := bytes.Repeat([]byte{byte('a' + i)}, 100+i*1000)
		_, err := c.SCTPWrite(msg, &sctp.SndRcvInfo{Stream: 1, PPID: 60})
		require.NoError(t, err)
		srv.expect(fmt.Sprintf(`^MSG assoc=\d+ stream=1 ppid=60 len=%d unordered=0$`, len(msg)), 10*time.Second)
		n, info, err := c.SCTPRead(buf)
		require.NoError(t, err)
		require.Equal(t, msg, buf[:n])
		require.NotNil(t, info)
		require.Equal(t, uint16(1), info.Stream)
		require.Equal(t, uint32(60), info.PPID)
	}

	_, err = c.SCTPWrite([]byte("unordered"), &sctp.SndRcvInfo{Stream: 2, PPID: 60, Flags: sctp.SCTP_UNORDERED})
	require.NoError(t, err)
	srv.expect(`^MSG assoc=\d+ stream=2 ppid=60 len=9 unordered=1$`, 10*time.Second)
	n, info, err := c.SCTPRead(buf)
	require.NoError(t, err)
	require.Equal(t, "unordered", string(buf[:n]))
	require.Equal(t, uint16(2), info.Stream)

	// Diameter-style, through net.Conn only.
	require.NoError(t, c.SetDefaultSentParam(&sctp.SndRcvInfo{PPID: kernelPPID(46)}))
	var nc net.Conn = c
	for i := range 3 {
		body := fmt.Sprintf("CER %d", i)
		_, err := nc.Write(diameter(body))
		require.NoError(t, err)
		srv.expect(fmt.Sprintf(`^MSG assoc=\d+ stream=0 ppid=46 len=%d `, 4+len(body)), 10*time.Second)
		var h [4]byte
		_, err = io.ReadFull(nc, h[:])
		require.NoError(t, err)
		rest := make([]byte, int(binary.BigEndian.Uint32(h[:])&0xffffff)-4)
		_, err = io.ReadFull(nc, rest)
		require.NoError(t, err)
		require.Equal(t, body, string(rest))
	}

	srv.command("shutdown")
	n, info, err = c.SCTPRead(buf)
	require.NoError(t, err)
	require.Nil(t, info)
	require.Equal(t, uint16(sctp.SCTP_SHUTDOWN_EVENT), notificationType(t, buf[:n]))
	n, _, err = c.SCTPRead(buf)
	require.NoError(t, err)
	require.Equal(t, uint16(sctp.SCTP_ASSOC_CHANGE), notificationType(t, buf[:n]))
	require.Equal(t, uint16(sctp.SCTP_SHUTDOWN_COMP), binary.NativeEndian.Uint16(buf[8:]))
	_, _, err = c.SCTPRead(buf)
	require.ErrorIs(t, err, io.EOF)
	srv.expect(`^DOWN `, 10*time.Second, `^ABORT`)
}

func diameter(body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
	b[0] = 1
	return append(b, body...)
}

// TestUsrsctpClientToSCTPListener: the usrsctp client connects to an
// SCTPListener, whose connection echoes with SCTPRead and SCTPWrite
// (stream and PPID kept); the client checks every byte of 40 messages
// on 6 streams with PPIDs 40..46, then shuts down: SCTPRead returns the
// shutdown notifications and io.EOF.
func TestUsrsctpClientToSCTPListener(t *testing.T) {
	bin := buildPeer(t)
	s := newStack(t)
	ln, err := (&sctp.SocketConfig{Stack: s, InitMsg: sctp.InitMsg{NumOstreams: 6, MaxInstreams: 6}}).Listen("sctp", sctpLoopback)
	require.NoError(t, err)
	defer ln.Close()
	cl := startPeer(t, bin, "usrsctp client", "-mode", "client", "-udp", fmt.Sprint(freeUDPPort(t)), "-rudp", fmt.Sprint(s.UDPPort()),
		"-bind", "127.0.0.1", "-connect", "127.0.0.1", "-rport", fmt.Sprint(ln.Addr().(*sctp.SCTPAddr).Port),
		"-n", "40", "-streams", "6", "-sizes", "1,7,100,1232,1233,3000,20000,65536")
	c, err := ln.AcceptSCTP()
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SubscribeEvents(sctp.SCTP_EVENT_DATA_IO|sctp.SCTP_EVENT_ASSOCIATION|sctp.SCTP_EVENT_SHUTDOWN))

	buf := make([]byte, 70000)
	var notes []uint16
	echoed := 0
	for {
		n, info, err := c.SCTPRead(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if info == nil {
			notes = append(notes, notificationType(t, buf[:n]))
			continue
		}
		require.GreaterOrEqual(t, info.PPID, uint32(40), "the PPID in host order")
		require.LessOrEqual(t, info.PPID, uint32(46))
		_, err = c.SCTPWrite(buf[:n], &sctp.SndRcvInfo{Stream: info.Stream, PPID: info.PPID})
		require.NoError(t, err)
		echoed++
	}
	require.Equal(t, 40, echoed)
	require.Equal(t, []uint16{uint16(sctp.SCTP_SHUTDOWN_EVENT), uint16(sctp.SCTP_ASSOC_CHANGE)}, notes)
	cl.expect(`^VERIFIED n=40$`, 5*time.Second, `^FAIL`)
	require.NoError(t, cl.wait(10*time.Second), "the client's exit status")
}

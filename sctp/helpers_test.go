package sctp

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/sock"
)

// newStack makes a stack on a free UDP port, closed at the end of the test.
func newStack(t *testing.T) *sock.Stack {
	t.Helper()
	return testkit.NewStack(t)
}

var loopback = &SCTPAddr{IPAddrs: []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}}

// pair is a listener on one stack and the configuration to dial it from
// another: two hosts in one process, on loopback, on different UDP ports.
type pair struct {
	server, client *sock.Stack
	ln             *SCTPListener
	dialCfg        *SocketConfig
}

func newPair(t *testing.T, srvCfg SocketConfig) *pair {
	t.Helper()
	p := &pair{server: newStack(t), client: newStack(t)}
	srvCfg.Stack = p.server
	ln, err := srvCfg.Listen("sctp", loopback)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	p.ln = ln
	p.dialCfg = &SocketConfig{Stack: p.client, PeerUDPPort: p.server.UDPPort()}
	return p
}

// raddr is the listener's address.
func (p *pair) raddr() *SCTPAddr { return p.ln.Addr().(*SCTPAddr) }

// dial connects a client; the connection is closed at the end of the test.
func (p *pair) dial(t *testing.T) *SCTPConn {
	t.Helper()
	c, err := p.dialCfg.Dial("sctp", loopback, p.raddr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// accept accepts one connection, closed at the end of the test.
func (p *pair) accept(t *testing.T) *SCTPConn {
	t.Helper()
	c, err := p.ln.AcceptSCTP()
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// connect dials and accepts.
func (p *pair) connect(t *testing.T) (client, server *SCTPConn) {
	t.Helper()
	client = p.dial(t)
	server = p.accept(t)
	return client, server
}

// parseHeader reads a notification's header.
func parseHeader(t *testing.T, b []byte) NotificationHeader {
	t.Helper()
	require.GreaterOrEqual(t, len(b), notificationHeaderSize, "a notification")
	e := binary.NativeEndian
	h := NotificationHeader{Type: e.Uint16(b), Flags: e.Uint16(b[2:]), Length: e.Uint32(b[4:])}
	require.Equal(t, int(h.Length), len(b), "sn_length is the notification's length")
	return h
}

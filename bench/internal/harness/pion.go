package harness

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/logging"
	"github.com/pion/sctp"
)

// PionBuffer is pion's receive buffer in the comparison: the same as this
// stack's default (sock.WithReceiveBuffer).
const PionBuffer = 1 << 20

var quietLogs = func() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	return f
}()

// PionConfig is the configuration of a pion association in the comparison:
// pion's normal handshake, the given SCTP packet size (MTU), this stack's
// receive buffer and blocking writes.
func PionConfig(conn net.Conn, mtu int) sctp.Config {
	return sctp.Config{
		NetConn:              conn,
		MTU:                  uint32(mtu),
		MaxReceiveBufferSize: PionBuffer,
		MaxMessageSize:       65536,
		BlockWrite:           true,
		LoggerFactory:        quietLogs,
	}
}

// SocketBuffer is the kernel send and receive buffer asked for the UDP
// sockets of pion and plain UDP: what udpencap asks for its own.
const SocketBuffer = 4 << 20

// ListenUDP opens a UDP socket on 127.0.0.1 (port 0: a free one) with
// SocketBuffer-sized kernel buffers (as far as the kernel grants them).
func ListenUDP(port int) (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err == nil {
		_ = c.SetReadBuffer(SocketBuffer)
		_ = c.SetWriteBuffer(SocketBuffer)
	}
	return c, err
}

// UDPPair returns two UDP sockets on 127.0.0.1 connected to each other.
func UDPPair() (*net.UDPConn, *net.UDPConn, error) {
	a, err := ListenUDP(0)
	if err != nil {
		return nil, nil, err
	}
	b, err := ListenUDP(0)
	if err != nil {
		_ = a.Close()
		return nil, nil, err
	}
	if err := ConnectUDP(a, b.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		_ = a.Close()
		_ = b.Close()
		return nil, nil, err
	}
	if err := ConnectUDP(b, a.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		_ = a.Close()
		_ = b.Close()
		return nil, nil, err
	}
	return a, b, nil
}

// PionConn is a pion client association and its stream 0.
type PionConn struct {
	A   *sctp.Association
	S   *sctp.Stream
	buf []byte
}

// DialPion runs pion's handshake as a client over conn (a connected UDP
// socket) and opens stream 0.
func DialPion(conn net.Conn, mtu int) (*PionConn, error) {
	a, err := sctp.Client(PionConfig(conn, mtu))
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	s, err := a.OpenStream(0, sctp.PayloadTypeWebRTCBinary)
	if err != nil {
		a.Abort("")
		_ = conn.Close()
		return nil, err
	}
	return &PionConn{A: a, S: s}, nil
}

// Send implements Conn.
func (c *PionConn) Send(p []byte) error {
	_, err := c.S.WriteSCTP(p, sctp.PayloadTypeWebRTCBinary)
	return err
}

// Recv implements Conn.
func (c *PionConn) Recv() ([]byte, error) {
	if c.buf == nil {
		c.buf = make([]byte, 65536)
	}
	n, _, err := c.S.ReadSCTP(c.buf)
	return c.buf[:n], err
}

// DropBuffer lets go of the receive buffer (Recv makes a new one).
func (c *PionConn) DropBuffer() { c.buf = nil }

// Close aborts the association (and closes its socket).
func (c *PionConn) Close() error {
	c.A.Abort("")
	return nil
}

// ServePion runs pion's handshake as a server over conn and answers the
// messages on every stream with h until the association ends. A lazy
// server's stream readers hold no buffer between messages (for the idle
// memory figures); otherwise each has a 64 KiB one.
func ServePion(conn net.Conn, mtu int, h *Handler, lazy bool) error {
	a, err := sctp.Server(PionConfig(conn, mtu))
	if err != nil {
		_ = conn.Close()
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer a.Close() //nolint:errcheck
	for {
		s, err := a.AcceptStream()
		if err != nil {
			return nil
		}
		wg.Go(func() {
			var buf []byte
			if !lazy {
				buf = make([]byte, 65536)
			}
			for {
				b := buf
				n, ppi, err := s.ReadSCTP(b)
				if lazy && errors.Is(err, io.ErrShortBuffer) {
					// pion keeps the message and tells its size: the
					// reader holds no buffer while idle (as sock does).
					b = make([]byte, n)
					n, ppi, err = s.ReadSCTP(b)
				}
				if err != nil {
					return
				}
				if r := h.Handle(b[:n]); r != nil {
					if _, err := s.WriteSCTP(r, ppi); err != nil {
						return
					}
				}
			}
		})
	}
}

// PionMux is a pion server for many clients on one UDP socket: each new
// source address gets its own association (pion has no listener of its
// own), fed through a channel.
type PionMux struct {
	C   *net.UDPConn
	MTU int
	H   *Handler

	mu    sync.Mutex
	peers map[netip.AddrPort]*muxConn
	wg    sync.WaitGroup
}

// ServeMux reads the socket until it is closed.
func (m *PionMux) ServeMux() {
	m.peers = map[netip.AddrPort]*muxConn{}
	buf := make([]byte, 65536)
	for {
		n, from, err := m.C.ReadFromUDPAddrPort(buf)
		if err != nil {
			m.mu.Lock()
			for _, p := range m.peers {
				p.close()
			}
			m.mu.Unlock()
			m.wg.Wait()
			return
		}
		m.mu.Lock()
		p := m.peers[from]
		if p == nil {
			p = &muxConn{m: m, peer: from, in: make(chan []byte, 1024), done: make(chan struct{})}
			m.peers[from] = p
			m.wg.Go(func() {
				_ = ServePion(p, m.MTU, m.H, false)
				m.mu.Lock()
				if m.peers[from] == p {
					delete(m.peers, from)
				}
				m.mu.Unlock()
			})
		}
		m.mu.Unlock()
		select {
		case p.in <- append([]byte(nil), buf[:n]...):
		default: // full: dropped, as by a socket
		}
	}
}

type muxConn struct {
	m    *PionMux
	peer netip.AddrPort
	in   chan []byte
	once sync.Once
	done chan struct{}
}

var errMuxClosed = errors.New("mux connection closed")

func (c *muxConn) Read(b []byte) (int, error) {
	select {
	case p := <-c.in:
		return copy(b, p), nil
	case <-c.done:
		return 0, errMuxClosed
	}
}

func (c *muxConn) Write(b []byte) (int, error) {
	select {
	case <-c.done:
		return 0, errMuxClosed
	default:
	}
	return c.m.C.WriteToUDPAddrPort(b, c.peer)
}

func (c *muxConn) close() { c.once.Do(func() { close(c.done) }) }

func (c *muxConn) Close() error {
	c.close()
	return nil
}

func (c *muxConn) LocalAddr() net.Addr  { return c.m.C.LocalAddr() }
func (c *muxConn) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(c.peer) }

func (c *muxConn) SetDeadline(time.Time) error      { return nil }
func (c *muxConn) SetReadDeadline(time.Time) error  { return nil }
func (c *muxConn) SetWriteDeadline(time.Time) error { return nil }

func (c *muxConn) String() string { return fmt.Sprintf("mux %v", c.peer) }

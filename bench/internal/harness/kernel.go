package harness

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"sync"
)

// TCP frames are a 4-byte big-endian length and the message; each Send is
// one write(2), as each SCTP message is one send call.

// TCPConn is a kernel TCP connection carrying framed messages.
type TCPConn struct {
	C   net.Conn
	r   *bufio.Reader
	out []byte
	in  []byte
}

// NewTCPConn wraps c.
func NewTCPConn(c net.Conn) *TCPConn {
	return &TCPConn{C: c, r: bufio.NewReaderSize(c, 64<<10)}
}

// Send implements Conn.
func (c *TCPConn) Send(p []byte) error {
	c.out = binary.BigEndian.AppendUint32(c.out[:0], uint32(len(p)))
	c.out = append(c.out, p...)
	_, err := c.C.Write(c.out)
	return err
}

// Recv implements Conn.
func (c *TCPConn) Recv() ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(h[:]))
	if cap(c.in) < n {
		c.in = make([]byte, n)
	}
	c.in = c.in[:n]
	_, err := io.ReadFull(c.r, c.in)
	return c.in, err
}

// Close implements Conn.
func (c *TCPConn) Close() error { return c.C.Close() }

// ServeTCP accepts connections on l and answers their messages with h
// until l is closed.
func ServeTCP(l net.Listener, h *Handler) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			tc := NewTCPConn(c)
			defer tc.Close() //nolint:errcheck
			for {
				m, err := tc.Recv()
				if err != nil {
					return
				}
				if r := h.Handle(m); r != nil {
					if err := tc.Send(r); err != nil {
						return
					}
				}
			}
		})
	}
}

// UDPConn is a connected UDP socket: one datagram per message (ping-pong
// only: nothing retransmits a lost datagram).
type UDPConn struct {
	C   *net.UDPConn
	buf []byte
}

// Send implements Conn.
func (c *UDPConn) Send(p []byte) error {
	_, err := c.C.Write(p)
	return err
}

// Recv implements Conn.
func (c *UDPConn) Recv() ([]byte, error) {
	if c.buf == nil {
		c.buf = make([]byte, 65536)
	}
	n, err := c.C.Read(c.buf)
	return c.buf[:n], err
}

// Close implements Conn.
func (c *UDPConn) Close() error { return c.C.Close() }

// ServeUDP echoes every datagram on c back to its sender until c is
// closed.
func ServeUDP(c *net.UDPConn) {
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		_, _ = c.WriteToUDPAddrPort(buf[:n], from)
	}
}

package sctp

import (
	"net"
	"time"
)

// SCTPSndRcvInfoWrappedConn is a net.Conn over an SCTPConn whose buffers
// start with the message's struct sctp_sndrcvinfo (32 bytes, host byte
// order, Linux's layout; see SndRcvInfo): Read puts it before the
// message, Write takes it from there.
type SCTPSndRcvInfoWrappedConn struct {
	conn *SCTPConn
}

// NewSCTPSndRcvInfoWrappedConn wraps conn and subscribes it to
// SCTP_EVENT_DATA_IO (replacing its other subscriptions, as the original
// does).
func NewSCTPSndRcvInfoWrappedConn(conn *SCTPConn) *SCTPSndRcvInfoWrappedConn {
	_ = conn.SubscribeEvents(SCTP_EVENT_DATA_IO)
	return &SCTPSndRcvInfoWrappedConn{conn: conn}
}

// Write sends b[32:] as one message with the SndRcvInfo in b[:32]; it
// returns the bytes taken, the 32 included. A b shorter than 32 bytes is
// invalid (EINVAL).
func (c *SCTPSndRcvInfoWrappedConn) Write(b []byte) (int, error) {
	if len(b) < sndRcvInfoSize {
		return 0, invalid("wrapped write: shorter than struct sctp_sndrcvinfo")
	}
	info := unmarshalSndRcvInfo(b)
	n, err := c.conn.SCTPWrite(b[sndRcvInfoSize:], &info)
	return n + sndRcvInfoSize, err
}

// Read reads a message (or its next part) into b[32:] and its SndRcvInfo
// into b[:32] (zero for a notification); it returns the bytes filled, the
// 32 included. A b shorter than 32 bytes is invalid (EINVAL).
func (c *SCTPSndRcvInfoWrappedConn) Read(b []byte) (int, error) {
	if len(b) < sndRcvInfoSize {
		return 0, invalid("wrapped read: shorter than struct sctp_sndrcvinfo")
	}
	n, info, err := c.conn.SCTPRead(b[sndRcvInfoSize:])
	if err != nil {
		return n, err
	}
	if info == nil {
		info = &SndRcvInfo{}
	}
	info.marshal(b[:0])
	return n + sndRcvInfoSize, nil
}

// Close closes the connection (SCTPConn.Close).
func (c *SCTPSndRcvInfoWrappedConn) Close() error { return c.conn.Close() }

// LocalAddr returns the connection's local addresses.
func (c *SCTPSndRcvInfoWrappedConn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the connection's peer addresses.
func (c *SCTPSndRcvInfoWrappedConn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (c *SCTPSndRcvInfoWrappedConn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *SCTPSndRcvInfoWrappedConn) SetReadDeadline(t time.Time) error {
	return c.conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline.
func (c *SCTPSndRcvInfoWrappedConn) SetWriteDeadline(t time.Time) error {
	return c.conn.SetWriteDeadline(t)
}

// SetWriteBuffer is SCTPConn.SetWriteBuffer.
func (c *SCTPSndRcvInfoWrappedConn) SetWriteBuffer(bytes int) error {
	return c.conn.SetWriteBuffer(bytes)
}

// GetWriteBuffer is SCTPConn.GetWriteBuffer.
func (c *SCTPSndRcvInfoWrappedConn) GetWriteBuffer() (int, error) { return c.conn.GetWriteBuffer() }

// SetReadBuffer is SCTPConn.SetReadBuffer.
func (c *SCTPSndRcvInfoWrappedConn) SetReadBuffer(bytes int) error {
	return c.conn.SetReadBuffer(bytes)
}

// GetReadBuffer is SCTPConn.GetReadBuffer.
func (c *SCTPSndRcvInfoWrappedConn) GetReadBuffer() (int, error) { return c.conn.GetReadBuffer() }

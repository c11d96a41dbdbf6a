package udpencap

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v5"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/usock/usock/internal/wire"
)

// batchConn is what golang.org/x/net/ipv4.PacketConn and ipv6.PacketConn
// have in common (ipv4.Message and ipv6.Message are the same type).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

var (
	_ batchConn = (*ipv4.PacketConn)(nil)
	_ batchConn = (*ipv6.PacketConn)(nil)
)

// counters are one socket's statistics. The receive counters are written
// only by the holder of the socket's read turn (readTurn); the send
// counters by any sender, so they live on another cache line.
type counters struct {
	rxDatagrams   atomic.Uint64
	rxBytes       atomic.Uint64
	rxTooShort    atomic.Uint64
	rxBadChecksum atomic.Uint64
	rxErrors      atomic.Uint64
	rxCoalesced   atomic.Uint64
	rxThrough     atomic.Uint64
	_             [64]byte
	txDatagrams   atomic.Uint64
	txBytes       atomic.Uint64
	txErrors      atomic.Uint64
	txSegmented   atomic.Uint64
}

// socket is one bound UDP socket of a Transport. All fields but the
// counters are immutable after bind.
type socket struct {
	t     *Transport
	conn  transport.UDPConn
	udp   *net.UDPConn // the same socket if on the real network, else nil
	batch batchConn    // non-nil in batching mode
	addr  netip.Addr   // the address bound (may be unspecified)
	is4   bool
	local netip.AddrPort // addr and the port actually bound
	meta  bool           // control messages (PKTINFO, TOS, TTL) enabled
	// srcSelect: a wildcard socket that sets each datagram's source
	// address (IP_PKTINFO / IPV6_PKTINFO on send).
	srcSelect bool
	gro       bool        // the kernel may coalesce datagrams (UDP_GRO)
	gso       atomic.Bool // segmented sends (UDP_SEGMENT) in use
	q         sendQueue   // Enqueue's packets, in batching mode
	rd        *reader     // the receive buffers, used by the holder of turn; set by Open
	turn      readTurn
	ctr       counters
}

func (t *Transport) bind(cfg Config, a netip.Addr, port uint16) (*socket, error) {
	network := "udp6"
	if a.Is4() {
		network = "udp4"
	}
	la := &net.UDPAddr{IP: a.AsSlice(), Port: int(port), Zone: a.Zone()}
	c, err := cfg.Net.ListenUDP(network, la)
	if err != nil {
		if addrInUse(err) {
			return nil, fmt.Errorf("udpencap: listen %s: %w: %w", netip.AddrPortFrom(a, port), ErrAddressInUse, err)
		}
		return nil, fmt.Errorf("udpencap: listen %s: %w", netip.AddrPortFrom(a, port), err)
	}
	bound := port
	if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
		bound = uint16(ua.Port)
	}
	s := &socket{
		t:     t,
		conn:  c,
		addr:  a,
		is4:   a.Is4(),
		local: netip.AddrPortFrom(a, bound),
	}
	s.q.shrunk.L = &s.q.mu
	s.turn.cond.L = &s.turn.mu
	// Larger kernel buffers absorb bursts; the kernel may cap or refuse.
	_ = c.SetReadBuffer(socketBufferSize)
	_ = c.SetWriteBuffer(socketBufferSize)

	if uc, ok := c.(*net.UDPConn); ok {
		s.udp = uc
		s.srcSelect = a.IsUnspecified() && selectsSource(cfg)
		if err := enableMeta(uc, s.is4); err != nil {
			t.log.Debugf("udpencap: %s: no control messages: %v", s.local, err)
		} else {
			s.meta = true
		}
		if batchSupported && !cfg.DisableBatching {
			if s.is4 {
				s.batch = ipv4.NewPacketConn(uc)
			} else {
				s.batch = ipv6.NewPacketConn(uc)
			}
			if !cfg.DisableOffload {
				gso, gro := enableOffload(uc)
				s.gso.Store(gso)
				s.gro = gro
			}
		}
	}
	return s, nil
}

func (s *socket) run() {
	defer s.t.wg.Done()
	for s.ownTurn() {
		err := s.readOnce(s.rd)
		stop := s.afterRead(err)
		s.endTurn()
		if stop {
			return
		}
	}
}

// afterRead accounts for the outcome of a read, within the reader's turn
// (s.rd.streak is the turn's), and reports whether reading must stop. A
// deadline error is a kick (see kickLocked; nothing else sets a read
// deadline): the reads pass to another goroutine.
func (s *socket) afterRead(err error) (stop bool) {
	switch {
	case err == nil:
		s.rd.streak = 0
		return false
	case errors.Is(err, os.ErrDeadlineExceeded):
		return false
	default:
		return s.readFailed(err, &s.rd.streak)
	}
}

func unmapAddrPort(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Is4In6() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}

// reader is the receive buffers of a socket. Whoever holds the socket's
// read turn (see readTurn) uses them: its read goroutine, or a goroutine
// reading through.
type reader struct {
	// Batching mode: the messages of one ReadBatch, each with its slot of
	// the buffer and of the control messages.
	msgs []ipv4.Message
	// Otherwise: one datagram and its control messages.
	buf []byte
	oob []byte
	// streak counts the read errors in a row (readFailed).
	streak int
}

func (s *socket) newReader() *reader {
	r := &reader{}
	if s.batch == nil {
		r.buf = make([]byte, MaxDatagramSize)
		if s.meta {
			r.oob = make([]byte, oobSize)
		}
		return r
	}
	n := s.t.batchSize
	r.msgs = make([]ipv4.Message, n)
	slab := make([]byte, n*MaxDatagramSize)
	var oobs []byte
	if s.meta {
		oobs = make([]byte, n*oobSize)
	}
	for i := range r.msgs {
		r.msgs[i].Buffers = [][]byte{slab[i*MaxDatagramSize : (i+1)*MaxDatagramSize : (i+1)*MaxDatagramSize]}
		if s.meta {
			r.msgs[i].OOB = oobs[i*oobSize : (i+1)*oobSize : (i+1)*oobSize]
		}
	}
	return r
}

// readOnce makes one read system call and delivers what it returned.
func (s *socket) readOnce(r *reader) error {
	if s.batch != nil {
		return s.readBatch(r)
	}
	return s.readOne(r)
}

// readOne reads one datagram: ReadMsgUDPAddrPort on the real network
// (allocation free, with control messages), ReadFrom on any other
// transport.UDPConn.
func (s *socket) readOne(r *reader) error {
	var (
		meta    Meta
		n       int
		segSize int
		err     error
	)
	if s.udp != nil {
		var (
			oobn int
			src  netip.AddrPort
		)
		n, oobn, _, src, err = s.udp.ReadMsgUDPAddrPort(r.buf, r.oob)
		meta.Src = unmapAddrPort(src)
		meta.Local = s.local
		if oobn > 0 {
			segSize = parseOOB(r.oob[:oobn], &meta, s.is4, s.local.Port())
		}
	} else {
		var addr net.Addr
		n, addr, err = s.conn.ReadFrom(r.buf)
		if ua, ok := addr.(*net.UDPAddr); ok {
			meta.Src = unmapAddrPort(ua.AddrPort())
		}
		meta.Local = s.local
	}
	if err == nil || n > 0 {
		s.deliverSegments(r.buf[:n], segSize, &meta)
	}
	return err
}

// readBatch reads up to batchSize datagrams with one ReadBatch call
// (recvmmsg on Linux).
func (s *socket) readBatch(r *reader) error {
	k, err := s.batch.ReadBatch(r.msgs, 0)
	if err != nil {
		return err
	}
	port := s.local.Port()
	for i := range k {
		m := &r.msgs[i]
		meta := Meta{Local: s.local}
		if ua, ok := m.Addr.(*net.UDPAddr); ok {
			meta.Src = unmapAddrPort(ua.AddrPort())
		}
		m.Addr = nil
		segSize := 0
		if m.NN > 0 {
			segSize = parseOOB(m.OOB[:m.NN], &meta, s.is4, port)
		}
		s.deliverSegments(m.Buffers[0][:m.N], segSize, &meta)
	}
	return nil
}

// readFailed accounts for a read error and reports whether the read loop
// must end (the transport or the socket is closed). Persistent errors are
// slowed down so that a broken socket does not spin.
func (s *socket) readFailed(err error, streak *int) bool {
	if s.t.closed.Load() || errors.Is(err, net.ErrClosed) {
		return true
	}
	s.ctr.rxErrors.Add(1)
	*streak++
	if *streak == 1 {
		s.t.log.Warnf("udpencap: read on %s: %v", s.local, err)
	}
	if *streak > 16 {
		time.Sleep(min(time.Duration(*streak)*time.Millisecond, 100*time.Millisecond))
	}
	return false
}

// deliverSegments counts and delivers what one read returned: a datagram,
// or with receive offload several datagrams of one sender coalesced by the
// kernel, each segSize bytes but the last.
func (s *socket) deliverSegments(buf []byte, segSize int, meta *Meta) {
	s.ctr.rxBytes.Add(uint64(len(buf)))
	if segSize <= 0 || segSize >= len(buf) {
		s.ctr.rxDatagrams.Add(1)
		s.deliver(buf, meta)
		return
	}
	s.ctr.rxCoalesced.Add(1)
	s.ctr.rxDatagrams.Add(uint64((len(buf) + segSize - 1) / segSize))
	for len(buf) > 0 {
		n := min(segSize, len(buf))
		s.deliver(buf[:n], meta)
		buf = buf[n:]
	}
}

// deliver runs the receive checks of one datagram and hands it to the
// Receiver (RFC 6951 section 5.4: the UDP header is already gone, the
// "generic lookup" is the SCTP layer's).
func (s *socket) deliver(pkt []byte, meta *Meta) {
	c := &s.ctr
	if len(pkt) < wire.CommonHeaderSize {
		c.rxTooShort.Add(1)
		return
	}
	if !wire.VerifyChecksum(pkt) {
		c.rxBadChecksum.Add(1)
		return
	}
	s.t.recv.ReceivePacket(pkt, *meta)
}

// source is the source address a datagram sent through s from from must
// carry in a control message: from itself on a wildcard socket that
// chooses sources, else none (the invalid Addr), the socket's own address
// or the kernel's choice being right.
func (s *socket) source(from netip.Addr) netip.Addr {
	if !s.srcSelect || !from.IsValid() || from.IsUnspecified() {
		return netip.Addr{}
	}
	return from.Unmap()
}

// send writes one datagram from the local address from (see source). On
// the real network it uses WriteToUDPAddrPort, which does not allocate,
// or WriteMsgUDPAddrPort with the source address's control message; pion's
// vnet keeps the destination address it is given, so it gets a fresh
// *net.UDPAddr.
func (s *socket) send(pkt []byte, from netip.Addr, to netip.AddrPort) error {
	var err error
	if s.udp != nil {
		if s.is4 {
			to = unmapAddrPort(to)
		}
		if src := s.source(from); src.IsValid() {
			var oob [srcControlSize]byte
			_, _, err = s.udp.WriteMsgUDPAddrPort(pkt, putSourceControl(oob[:], src, s.is4), to)
		} else {
			_, err = s.udp.WriteToUDPAddrPort(pkt, to)
		}
	} else {
		_, err = s.conn.WriteTo(pkt, net.UDPAddrFromAddrPort(to))
	}
	if err != nil {
		s.ctr.txErrors.Add(1)
		return fmt.Errorf("udpencap: send %s -> %s: %w", s.local, to, err)
	}
	s.ctr.txDatagrams.Add(1)
	s.ctr.txBytes.Add(uint64(len(pkt)))
	return nil
}

// fillAddr points ua at to without allocating: the IP is written into ip,
// which ua.IP then refers to.
func fillAddr(ua *net.UDPAddr, ip *[16]byte, to netip.AddrPort) {
	a := to.Addr()
	if a.Is4() {
		b := a.As4()
		copy(ip[:4], b[:])
		ua.IP = ip[:4]
	} else {
		*ip = a.As16()
		ua.IP = ip[:]
	}
	ua.Port = int(to.Port())
	ua.Zone = a.Zone()
}

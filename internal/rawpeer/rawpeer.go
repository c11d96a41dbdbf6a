// Package rawpeer is a hand-driven SCTP endpoint over a plain UDP socket
// (RFC 6951 encapsulation), for tests: it chooses its own tags and TSNs,
// builds every packet with internal/wire, completes handshakes itself and
// reads what the stack under test sends back.
//
// Its files are ordinary .go files so that the tests of several packages
// (sock, reliability, conformance) can share them; only tests import it.
// It depends on internal/wire and the standard library, not on sock, so
// that sock's own package tests can use it.
//
// A Peer belongs to the test goroutine that made it: its methods fail the
// test through testing.TB, which only that goroutine may do.
package rawpeer

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usock/usock/internal/wire"
)

const (
	// DefaultWait is a Peer's default Wait.
	DefaultWait = 5 * time.Second
	// DefaultQuiet is a Peer's default Quiet.
	DefaultQuiet = 300 * time.Millisecond
)

// Peer is one UDP socket speaking SCTP to a stack.
type Peer struct {
	t    testing.TB
	conn *net.UDPConn

	// To is the stack's UDP address, where Send sends.
	To netip.AddrPort
	// Wait bounds the wait for a packet that must come (Expect, Await and
	// the handshakes). It is a deadline for a test that would otherwise
	// hang, not a timed assertion.
	Wait time.Duration
	// Quiet is how long Silence and Drain watch for packets.
	Quiet time.Duration
}

// New opens a UDP socket on local (port 0: a free one) that sends to the
// stack at to; it closes at the end of the test.
func New(t testing.TB, local, to netip.AddrPort) *Peer {
	t.Helper()
	network := "udp4"
	if local.Addr().Is6() {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(local))
	if err != nil {
		t.Fatalf("raw peer on %v: %v", local, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &Peer{t: t, conn: c, To: to, Wait: DefaultWait, Quiet: DefaultQuiet}
}

// LocalAddrPort is the socket's address.
func (p *Peer) LocalAddrPort() netip.AddrPort {
	return p.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Addr is the socket's IP address.
func (p *Peer) Addr() netip.Addr { return p.LocalAddrPort().Addr().Unmap() }

// UDPPort is the socket's UDP port.
func (p *Peer) UDPPort() uint16 { return p.LocalAddrPort().Port() }

// Send sends one datagram to To.
func (p *Peer) Send(pkt []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(pkt, p.To); err != nil {
		p.t.Fatalf("raw peer send to %v: %v", p.To, err)
	}
}

// Recv returns the next datagram, or nil when none arrives within d. Every
// packet from the stack must carry a correct CRC32c (RFC 9260 section 6.8).
func (p *Peer) Recv(d time.Duration) []byte {
	p.t.Helper()
	pkt, _ := p.RecvFrom(d)
	return pkt
}

// RecvFrom is Recv that also returns the datagram's source.
func (p *Peer) RecvFrom(d time.Duration) ([]byte, netip.AddrPort) {
	p.t.Helper()
	pkt, from, err := p.recv(d)
	if err != nil {
		return nil, netip.AddrPort{}
	}
	if !wire.VerifyChecksum(pkt) {
		p.t.Fatalf("RFC 9260 section 6.8: every packet carries a correct CRC32c; got %x from %v", pkt, from)
	}
	return pkt, netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

func (p *Peer) recv(d time.Duration) ([]byte, netip.AddrPort, error) {
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 65536)
	n, from, err := p.conn.ReadFromUDPAddrPort(buf)
	return buf[:n], from, err
}

// Discard reads and drops datagrams until none arrives for d. It does not
// touch the test, so that a goroutine other than the test's may run it
// while the test sends.
func (p *Peer) Discard(d time.Duration) {
	for {
		if _, _, err := p.recv(d); err != nil {
			return
		}
	}
}

// Read returns the next packet within d, parsed, or false.
func (p *Peer) Read(d time.Duration) (Packet, bool) {
	p.t.Helper()
	raw, from := p.RecvFrom(d)
	if raw == nil {
		return Packet{}, false
	}
	return Parse(p.t, raw, from), true
}

// Expect reads packets until one holds a chunk of type typ and returns it;
// the packets before it may only hold chunks of the types in skip. It
// fails after Wait.
func (p *Peer) Expect(typ wire.ChunkType, skip ...wire.ChunkType) (Packet, wire.Chunk) {
	p.t.Helper()
	return p.await(typ, func(pk Packet) {
		for _, c := range pk.Chunks {
			if !slices.Contains(skip, c.Type) {
				p.t.Fatalf("waiting for %v, got %v", typ, pk)
			}
		}
	})
}

// ExpectTag is Expect that also checks the packet's Verification Tag.
func (p *Peer) ExpectTag(typ wire.ChunkType, tag uint32, skip ...wire.ChunkType) (Packet, wire.Chunk) {
	p.t.Helper()
	pk, c := p.Expect(typ, skip...)
	if pk.Header.VerificationTag != tag {
		p.t.Fatalf("Verification Tag of the %v: want %08x, got %v", typ, tag, pk)
	}
	return pk, c
}

// Await reads packets until one holds a chunk of type typ and returns it,
// discarding the packets before it (retransmissions, SACKs, heartbeats).
// It fails after Wait.
func (p *Peer) Await(typ wire.ChunkType) (Packet, wire.Chunk) {
	p.t.Helper()
	return p.await(typ, func(Packet) {})
}

func (p *Peer) await(typ wire.ChunkType, other func(Packet)) (Packet, wire.Chunk) {
	p.t.Helper()
	deadline := time.Now().Add(p.Wait)
	var seen []string
	for {
		left := time.Until(deadline)
		if left <= 0 {
			p.t.Fatalf("no %v within %v; got %d other packets: %v", typ, p.Wait, len(seen), seen)
		}
		pk, ok := p.Read(left)
		if !ok {
			continue
		}
		if c, ok := pk.Chunk(typ); ok {
			return pk, c
		}
		other(pk)
		seen = append(seen, pk.String())
	}
}

// Silence asserts that no packet arrives within Quiet, except packets
// holding only chunks of the types in allow; why says what the silence
// means.
func (p *Peer) Silence(why string, allow ...wire.ChunkType) {
	p.t.Helper()
	deadline := time.Now().Add(p.Quiet)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		pk, ok := p.Read(left)
		if !ok {
			return
		}
		for _, c := range pk.Chunks {
			if !slices.Contains(allow, c.Type) {
				p.t.Fatalf("expected silence: %s; got %v", why, pk)
			}
		}
	}
}

// Drain reads and discards whatever arrives until Quiet passes without a
// packet.
func (p *Peer) Drain() {
	p.t.Helper()
	for {
		if _, ok := p.Read(p.Quiet); !ok {
			return
		}
	}
}

// Collect returns the chunks of every packet arriving within d.
func (p *Peer) Collect(d time.Duration) []wire.Chunk {
	p.t.Helper()
	var out []wire.Chunk
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return out
		}
		pk, ok := p.Read(left)
		if !ok {
			return out
		}
		out = append(out, pk.Chunks...)
	}
}

// InitAck sends the INIT in from SCTP port src to dst and returns the
// INIT ACK's value and its State Cookie. The INIT ACK must carry in's
// Initiate Tag and travel alone (RFC 9260 sections 8.5.1 and 6.10).
func (p *Peer) InitAck(src, dst uint16, in wire.Init) (wire.Init, []byte) {
	p.t.Helper()
	p.Send(Encode(src, dst, 0, InitChunk(in)))
	pk, c := p.ExpectTag(wire.ChunkInitAck, in.InitiateTag)
	if len(pk.Chunks) != 1 {
		p.t.Fatalf("RFC 9260 section 6.10: an INIT ACK is bundled with no other chunk: %v", pk)
	}
	ack, err := wire.ParseInit(c.Value)
	if err != nil {
		p.t.Fatalf("INIT ACK: %v", err)
	}
	ck, ok := ack.Cookie()
	if !ok {
		p.t.Fatalf("an INIT ACK carries a State Cookie: %v", pk)
	}
	return ack, ck
}

// Establish completes the handshake from SCTP port src to dst with the
// INIT in: INIT, INIT ACK, COOKIE ECHO, COOKIE ACK (RFC 9260 section
// 5.1). It returns the INIT ACK, whose Initiate Tag the peer's packets
// carry from then on.
func (p *Peer) Establish(src, dst uint16, in wire.Init) wire.Init {
	p.t.Helper()
	ack, ck := p.InitAck(src, dst, in)
	p.Send(Encode(src, dst, ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	p.ExpectTag(wire.ChunkCookieAck, in.InitiateTag)
	return ack
}

// Packet is a received packet, its chunks parsed.
type Packet struct {
	From   netip.AddrPort
	Header wire.CommonHeader
	Chunks []wire.Chunk
	Raw    []byte
}

// Parse parses a packet that must be well formed.
func Parse(t testing.TB, raw []byte, from netip.AddrPort) Packet {
	t.Helper()
	hdr, err := wire.ParseCommonHeader(raw)
	if err != nil {
		t.Fatalf("packet from %v: %v", from, err)
	}
	pk := Packet{From: from, Header: hdr, Raw: raw}
	it := wire.NewChunkIter(raw[wire.CommonHeaderSize:])
	for it.Next() {
		pk.Chunks = append(pk.Chunks, it.Chunk())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("a well-formed packet from %v: %v", from, err)
	}
	return pk
}

// Chunk returns the packet's first chunk of type typ.
func (p Packet) Chunk(typ wire.ChunkType) (wire.Chunk, bool) {
	for _, c := range p.Chunks {
		if c.Type == typ {
			return c, true
		}
	}
	return wire.Chunk{}, false
}

// String is the packet's tag, source and chunk list.
func (p Packet) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tag %08x from %v:", p.Header.VerificationTag, p.From)
	for _, c := range p.Chunks {
		fmt.Fprintf(&b, " %v(flags %#x, %d bytes)", c.Type, c.Flags, len(c.Value))
	}
	return b.String()
}

package rawpeer

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/usock/usock/internal/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var lo = netip.MustParseAddr("127.0.0.1")

// twoPeers are two raw peers aimed at each other.
func twoPeers(t *testing.T) (a, b *Peer) {
	a = New(t, netip.AddrPortFrom(lo, 0), netip.AddrPort{})
	b = New(t, netip.AddrPortFrom(lo, 0), a.LocalAddrPort())
	a.To = b.LocalAddrPort()
	a.Wait, a.Quiet = time.Second, 50*time.Millisecond
	return a, b
}

func TestEncodeParse(t *testing.T) {
	pkt := Encode(1000, 2000, 0xfeedbeef, Message(7, 3, 9, "hi"), must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("hb"))))
	if !wire.VerifyChecksum(pkt) {
		t.Fatal("Encode fills in the CRC32c")
	}
	from := netip.AddrPortFrom(lo, 9)
	pk := Parse(t, pkt, from)
	if pk.Header != (wire.CommonHeader{SrcPort: 1000, DstPort: 2000, VerificationTag: 0xfeedbeef, Checksum: pk.Header.Checksum}) {
		t.Fatalf("header %+v", pk.Header)
	}
	if len(pk.Chunks) != 2 || pk.Chunks[0].Type != wire.ChunkData || pk.Chunks[1].Type != wire.ChunkHeartbeat {
		t.Fatalf("chunks %v", pk)
	}
	d := pk.Chunks[0]
	if d.Flags != wire.FlagDataBeginning|wire.FlagDataEnd {
		t.Fatalf("a whole message: flags %#x", d.Flags)
	}
	tsn, _ := wire.PeekDataTSN(d)
	stream, _ := wire.PeekDataStream(d)
	if tsn != 7 || stream != 3 || !bytes.Equal(d.Value[4:], []byte{0, 3, 0, 9, 0, 0, 0, PPID, 'h', 'i'}) {
		t.Fatalf("DATA %x", d.Value)
	}
	if _, ok := pk.Chunk(wire.ChunkSack); ok {
		t.Fatal("no SACK in the packet")
	}
	if c, ok := pk.Chunk(wire.ChunkHeartbeat); !ok || string(must(wire.ParseHeartbeat(c.Value))) != "hb" {
		t.Fatalf("heartbeat %v", c)
	}
	hdr, first := FirstChunk(t, pkt)
	if hdr.VerificationTag != 0xfeedbeef || first.Type != wire.ChunkData {
		t.Fatalf("first chunk %v of %+v", first.Type, hdr)
	}
	if cs := Chunks(t, pkt); len(cs) != 2 || &cs[0].Value[0] == &d.Value[0] {
		t.Fatal("Chunks copies every chunk")
	}
	if got := pk.String(); got != fmt.Sprintf("tag feedbeef from %v: DATA(flags 0x3, 14 bytes) HEARTBEAT(flags 0x0, 6 bytes)", from) {
		t.Fatalf("String %q", got)
	}
}

func TestExpectSkipsAndSilence(t *testing.T) {
	a, b := twoPeers(t)
	b.Send(Encode(1, 2, 5, must(wire.AppendSack(nil, 1, 1000, nil, nil))))
	b.Send(Encode(1, 2, 6, wire.AppendCookieAck(nil)))
	pk, c := a.ExpectTag(wire.ChunkCookieAck, 6, wire.ChunkSack)
	if c.Type != wire.ChunkCookieAck || pk.From != b.LocalAddrPort() {
		t.Fatalf("got %v", pk)
	}
	b.Send(Encode(1, 2, 5, must(wire.AppendSack(nil, 1, 1000, nil, nil))))
	a.Silence("a SACK is allowed", wire.ChunkSack)

	b.Send(Encode(1, 2, 5, wire.AppendShutdownAck(nil)))
	b.Send(Encode(1, 2, 5, wire.AppendShutdownComplete(nil, false)))
	if _, c := a.Await(wire.ChunkShutdownComplete); c.Type != wire.ChunkShutdownComplete {
		t.Fatalf("Await returned %v", c.Type)
	}
	b.Send(Encode(1, 2, 5, wire.AppendCookieAck(nil)))
	b.Send(Encode(1, 2, 5, wire.AppendShutdownAck(nil)))
	if got := a.Collect(100 * time.Millisecond); len(got) != 2 || got[0].Type != wire.ChunkCookieAck || got[1].Type != wire.ChunkShutdownAck {
		t.Fatalf("Collect %v", got)
	}
	if a.Recv(10*time.Millisecond) != nil {
		t.Fatal("nothing left")
	}
}

func TestFailures(t *testing.T) {
	a, b := twoPeers(t)
	if msg := Fails(t, func(r testing.TB) {
		a.t = r
		b.Send(Encode(1, 2, 5, wire.AppendShutdownAck(nil)))
		a.Expect(wire.ChunkCookieAck, wire.ChunkSack)
	}); msg == "" {
		t.Fatal("Expect fails on a chunk not in skip")
	}
	if msg := Fails(t, func(r testing.TB) {
		a.t = r
		b.Send(Encode(1, 2, 5, wire.AppendShutdownAck(nil)))
		a.Silence("nothing")
	}); msg == "" {
		t.Fatal("Silence fails on a packet")
	}
	if msg := Fails(t, func(r testing.TB) {
		a.t = r
		bad := Encode(1, 2, 5, wire.AppendShutdownAck(nil))
		bad[len(bad)-1] ^= 1
		b.Send(bad)
		a.Recv(time.Second)
	}); msg == "" {
		t.Fatal("Recv fails on a bad CRC32c")
	}
	if msg := Fails(t, func(r testing.TB) {
		a.t, a.Wait = r, 20*time.Millisecond
		a.Await(wire.ChunkCookieAck)
	}); msg == "" {
		t.Fatal("Await fails after Wait")
	}
}

// respond plays the responder of a handshake on c: an INIT ACK with tag
// and cookie to the INIT, a COOKIE ACK to the COOKIE ECHO carrying it.
func respond(c *net.UDPConn, tag uint32, cookie []byte) error {
	buf := make([]byte, 65536)
	read := func(want wire.ChunkType) (wire.CommonHeader, wire.Chunk, netip.AddrPort, error) {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return wire.CommonHeader{}, wire.Chunk{}, from, err
		}
		hdr, err := wire.ParseCommonHeader(buf[:n])
		if err != nil {
			return hdr, wire.Chunk{}, from, err
		}
		it := wire.NewChunkIter(buf[wire.CommonHeaderSize:n])
		if !it.Next() || it.Chunk().Type != want {
			return hdr, wire.Chunk{}, from, fmt.Errorf("want %v", want)
		}
		return hdr, it.Chunk(), from, nil
	}
	hdr, ch, from, err := read(wire.ChunkInit)
	if err != nil {
		return err
	}
	in, err := wire.ParseInit(ch.Value)
	if err != nil {
		return err
	}
	ack := SimpleInit(tag, 500)
	ack.Params = []wire.Param{wire.StateCookieParam(cookie)}
	if _, err := c.WriteToUDPAddrPort(Encode(hdr.DstPort, hdr.SrcPort, in.InitiateTag, must(ack.Append(nil, wire.ChunkInitAck))), from); err != nil {
		return err
	}
	hdr, ch, from, err = read(wire.ChunkCookieEcho)
	if err != nil {
		return err
	}
	if hdr.VerificationTag != tag || !bytes.Equal(ch.Value, cookie) {
		return errors.New("COOKIE ECHO with the wrong tag or cookie")
	}
	_, err = c.WriteToUDPAddrPort(Encode(hdr.DstPort, hdr.SrcPort, in.InitiateTag, wire.AppendCookieAck(nil)), from)
	return err
}

func TestAssociate(t *testing.T) {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- respond(c, 0xabcd, []byte("cookie")) }()

	p := New(t, netip.AddrPortFrom(lo, 0), c.LocalAddr().(*net.UDPAddr).AddrPort())
	a := NewAssoc(p, 4000, 5000)
	ack := a.Associate(SimpleInit(0x1234, 77))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ack.InitiateTag != 0xabcd || a.TheirTag != 0xabcd || a.TheirTSN != 500 || a.MyTag != 0x1234 || a.NextTSN != 77 {
		t.Fatalf("association %+v after INIT ACK %+v", a, ack)
	}

	// DATA numbering: TSNs across streams, SSNs per stream.
	first := a.Data(1, "x")
	tsn, ssn := a.Next(1)
	a.Unsend(1)
	second := a.Data(2, "y")
	tw := a.Twin(p)
	third := tw.Data(1, "z")
	if !bytes.Equal(first, Message(77, 1, 0, "x")) || tsn != 78 || ssn != 1 ||
		!bytes.Equal(second, Message(78, 2, 0, "y")) || !bytes.Equal(third, Message(79, 1, 1, "z")) {
		t.Fatalf("DATA numbering: %x %d/%d %x %x", first, tsn, ssn, second, third)
	}
	if a.NextTSN != 79 {
		t.Fatal("a twin numbers on its own")
	}

	// SendAssoc puts the stack's tag and the ports in the header.
	a.SendAssoc(first)
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	hdr, ch := FirstChunk(t, buf[:n])
	if hdr.VerificationTag != 0xabcd || hdr.SrcPort != 4000 || hdr.DstPort != 5000 || ch.Type != wire.ChunkData {
		t.Fatalf("sent %+v %v", hdr, ch.Type)
	}
}

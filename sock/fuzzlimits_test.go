package sock

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

// The fuzz targets below drive whole datagrams, up to the largest UDP
// payload, through the stack's receive function (after the checksum check,
// which udpencap does) of a real Stack, Endpoint and Association, in
// memory: the peer is an address nobody listens on and every packet the
// stack sends is seen by the send tap, checked, and dropped by the fault
// filter. The checks: nothing panics (the receive path's recover would
// count DropPanic), every packet carries a correct CRC32c and is no larger
// than a packet of the endpoint's size, and the replies the receive path
// builds from the datagram (ERROR, HEARTBEAT ACK, COOKIE ECHO) are no
// larger than the datagram.

// maxFuzzDatagram is the largest datagram the targets build: udpencap
// reads at most 64 KiB.
const maxFuzzDatagram = udpencap.MaxDatagramSize

// fuzzPeer is a stack under fuzzing with its tap.
type fuzzPeer struct {
	s    *Stack
	ep   *Endpoint
	meta udpencap.Meta // a datagram from the fake peer to the stack

	mu      sync.Mutex
	sent    [][]byte
	current atomic.Int64 // the size of the datagram being received
	largest atomic.Int64 // the largest datagram since reset
	bad     atomic.Pointer[string]
}

func newFuzzPeer(f *testing.F, peerPort uint16, opts ...EndpointOption) *fuzzPeer {
	s := newStack(f)
	ep, err := s.NewEndpoint(nil, 0, opts...)
	require.NoError(f, err)
	fp := &fuzzPeer{s: s, ep: ep, meta: udpencap.Meta{
		Src:   netip.AddrPortFrom(lo4, peerPort),
		Local: netip.AddrPortFrom(lo4, s.UDPPort()),
	}}
	tap := fp.tap
	s.sendTap.Store(&tap)
	// Messages and events are read and thrown away, as an application
	// would read them: a full queue would hold stream readers.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			if _, err := ep.Recv(ctx); err != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			if _, err := ep.Event(ctx); err != nil {
				return
			}
		}
	}()
	f.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	// Nothing leaves: the peer is not there.
	s.SetFaultFilter(func(local netip.Addr, remote netip.AddrPort, inbound bool) bool { return !inbound })
	return fp
}

// tap runs for every packet the stack sends, on whatever goroutine sends
// it.
func (fp *fuzzPeer) tap(pkt []byte, from netip.Addr, to netip.AddrPort) {
	fail := func(msg string) { fp.bad.CompareAndSwap(nil, &msg) }
	if !wire.VerifyChecksum(pkt) {
		fail("a packet with a bad CRC32c")
	}
	if len(pkt) > DefaultPacketSize && !isCookieEcho(pkt) {
		fail("a packet larger than the packet size")
	}
	if isCookieEcho(pkt) {
		// Sent by the connecting goroutine, after the datagram.
		if int64(len(pkt)) > fp.largest.Load() {
			fail("a COOKIE ECHO larger than any datagram received")
		}
	} else if builtFromInput(pkt) && int64(len(pkt)) > fp.current.Load()+replySlack {
		fail("a reply larger than the datagram that drew it (and the slack)")
	}
	fp.mu.Lock()
	fp.sent = append(fp.sent, slices.Clone(pkt))
	fp.mu.Unlock()
}

// isCookieEcho reports whether pkt starts with a COOKIE ECHO: a cookie as
// long as the peer's INIT-ACK made it (checked by builtFromInput).
func isCookieEcho(pkt []byte) bool {
	return len(pkt) > wire.CommonHeaderSize && wire.ChunkType(pkt[wire.CommonHeaderSize]) == wire.ChunkCookieEcho
}

// builtFromInput reports whether pkt is a reply the receive path builds
// from a datagram, on the receiving goroutine: HEARTBEAT ACKs and ERRORs
// longer than pion's own (a single cause of at most four bytes: pion runs
// on other goroutines, so its packets cannot be matched with a datagram).
func builtFromInput(pkt []byte) bool {
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	for it.Next() {
		switch c := it.Chunk(); c.Type {
		case wire.ChunkHeartbeatAck:
			return true
		case wire.ChunkError:
			if len(c.Value) > 8 {
				return true
			}
		}
	}
	return false
}

// deliver passes one datagram to the stack's receive function.
func (fp *fuzzPeer) deliver(pkt []byte) {
	fp.current.Store(int64(len(pkt)))
	if int64(len(pkt)) > fp.largest.Load() {
		fp.largest.Store(int64(len(pkt)))
	}
	if len(pkt) < wire.CommonHeaderSize {
		return // udpencap drops it
	}
	fp.s.receive(pkt, fp.meta)
}

// take returns the packets sent since the last call.
func (fp *fuzzPeer) take() [][]byte {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	out := fp.sent
	fp.sent = nil
	return out
}

// check fails t if a check failed or the receive path panicked.
func (fp *fuzzPeer) check(t testing.TB) {
	if msg := fp.bad.Load(); msg != nil {
		t.Fatal(*msg)
	}
	if n := fp.s.Stats().Drops[DropPanic]; n > 0 {
		t.Fatalf("the receive path panicked (%d)", n)
	}
}

// initAck runs an INIT from the fake peer through the stack and returns
// the INIT-ACK.
func (fp *fuzzPeer) initAck(tb testing.TB, srcPort uint16, tag uint32) wire.Init {
	fp.take()
	fp.deliver(rawpeer.Encode(srcPort, fp.ep.Port(), 0, rawpeer.InitChunk(rawpeer.SimpleInit(tag, 1000))))
	for _, pkt := range fp.take() {
		it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
		if it.Next() && it.Chunk().Type == wire.ChunkInitAck {
			ack, err := wire.ParseInit(it.Chunk().Value)
			require.NoError(tb, err)
			return ack
		}
	}
	tb.Fatal("no INIT-ACK")
	return wire.Init{}
}

// establish makes an association from the fake peer's srcPort, in memory.
func (fp *fuzzPeer) establish(tb testing.TB, srcPort uint16, tag uint32) *Association {
	ack := fp.initAck(tb, srcPort, tag)
	ck, _ := ack.Cookie()
	fp.deliver(rawpeer.Encode(srcPort, fp.ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	fp.take()
	fp.ep.mu.RLock()
	a := fp.ep.byTag[ack.InitiateTag]
	fp.ep.mu.RUnlock()
	require.NotNil(tb, a)
	return a
}

// Seeds that reach the sizes: thousands of chunks and parameters.

func seedUnknownChunks(n int) []byte { return headerOnlyChunks(0xfe, n) }

func seedHeartbeats(n int) []byte {
	return bytes.Repeat(must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("info"))), n)
}

func seedInvalidStreams(n int) []byte {
	var b []byte
	for i := range n {
		b = append(b, rawpeer.Message(1000+uint32(i), 9, 0, "x")...)
	}
	return b
}

func seedManyParamsInit(n int) []byte {
	in := wire.Init{InitiateTag: 0x1234, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1}
	for i := range n {
		in.Params = append(in.Params, wire.Param{Type: wire.ParamType(0xc000 | i&0x3fff), Value: []byte{byte(i), 2, 3}})
	}
	for i := range 40 {
		in.Params = append(in.Params, wire.AddressParam(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})))
	}
	return must(in.Append(nil, wire.ChunkInit))
}

// fits cuts chunks so that a datagram of them stays within 64 KiB.
func fits(chunks []byte) bool {
	return wire.CommonHeaderSize+len(chunks) <= maxFuzzDatagram
}

// FuzzListener fuzzes a listening endpoint: datagrams with a zero tag (the
// INIT path), datagrams starting with a COOKIE-ECHO whose cookie the
// stack itself made (the cookie path and the chunks bundled after it),
// and whole datagrams with their own header (any port and tag: the
// out-of-the-blue path).
func FuzzListener(f *testing.F) {
	const peerPort = 40001
	fp := newFuzzPeer(f, peerPort, AcceptMax(1000))
	epPort := fp.ep.Port()
	// The cookie is renewed well within its lifetime.
	var ack wire.Init
	var cookie []byte
	var made time.Time
	renew := func(tb testing.TB) {
		if time.Since(made) < 10*time.Second {
			return
		}
		ack = fp.initAck(tb, 5000, 0x5eed)
		cookie, _ = ack.Cookie()
		made = time.Now()
	}
	renew(f)
	fp.check(f)

	f.Add([]byte{}, uint8(0))
	f.Add(rawpeer.InitChunk(rawpeer.SimpleInit(0x1234, 1)), uint8(0))
	f.Add(bigInitChunk(0x1234, 0xc123, 33000), uint8(0))
	f.Add(bigInitChunk(0x1234, 0x8123, 65000), uint8(0))
	f.Add(seedManyParamsInit(5000), uint8(0))
	f.Add(rawpeer.Message(1000, 0, 0, "bundled"), uint8(1))
	f.Add(seedUnknownChunks(8200), uint8(1))
	f.Add(seedHeartbeats(4000), uint8(1))
	f.Add(seedInvalidStreams(2000), uint8(1))
	f.Add(rawpeer.Encode(peerPort, epPort, 77, seedUnknownChunks(8000)), uint8(2))
	f.Add(rawpeer.Encode(peerPort, epPort, 77, must(wire.AppendChunk(nil, wire.ChunkShutdownAck, 0, nil))), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		renew(t)
		var pkt []byte
		switch mode % 3 {
		case 0:
			pkt = rawpeer.Encode(peerPort, epPort, 0, data)
		case 1:
			pkt = rawpeer.Encode(5000, epPort, ack.InitiateTag, must(wire.AppendCookieEcho(nil, cookie)), data)
		default:
			if len(data) < wire.CommonHeaderSize {
				return // udpencap drops it
			}
			pkt = wire.Finish(slices.Clone(data))
		}
		if len(pkt) > maxFuzzDatagram {
			return
		}
		fp.deliver(pkt)
		fp.take()
		fp.check(t)
	})
}

// FuzzEstablished fuzzes the receive path of an established association:
// every datagram carries its tag and comes from its peer. An association
// the datagram ended (ABORT, SHUTDOWN) is replaced by a new one.
func FuzzEstablished(f *testing.F) {
	const peerPort = 40002
	fp := newFuzzPeer(f, peerPort, AcceptMax(1000))
	epPort := fp.ep.Port()
	srcPort := uint16(6000)
	a := fp.establish(f, srcPort, 0x600d)

	f.Add([]byte{})
	f.Add(rawpeer.Message(1000, 0, 0, "x"))
	f.Add(seedUnknownChunks(8200))
	f.Add(seedUnknownChunks(4000))
	f.Add(headerOnlyChunks(0x7e, 8000))
	f.Add(seedHeartbeats(4000))
	f.Add(seedInvalidStreams(3000))
	f.Add(must(wire.AppendSack(nil, 999, 65536, make([]wire.GapAckBlock, 8000), nil)))
	f.Add(must(wire.AppendChunk(nil, wire.ChunkData, 3, make([]byte, 60000))))
	f.Add(must(wire.Abort{}.Append(nil)))
	f.Add(must(wire.AppendErrorChunk(nil, slices.Repeat([]wire.ErrorCause{wire.InvalidStreamIDCause(1)}, 7000)...)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !fits(data) {
			return
		}
		if a.life.current() != StateEstablished {
			srcPort++
			if srcPort < 6000 {
				srcPort = 6000
			}
			a = fp.establish(t, srcPort, 0x600d+uint32(srcPort))
		}
		fp.deliver(rawpeer.Encode(srcPort, epPort, a.localTag, data))
		fp.take()
		fp.check(t)
	})
}

// FuzzClientHandshake fuzzes an association that is connecting: in
// COOKIE-WAIT (mode 0: the datagram may hold the INIT-ACK) and in
// COOKIE-ECHOED (mode 1: after a well-formed INIT-ACK, the datagram may
// hold the COOKIE-ACK, an ERROR, an ABORT).
func FuzzClientHandshake(f *testing.F) {
	const peerPort = 40003 // the fake listener's UDP port
	const sctpPort = 7000  // and its SCTP port
	fp := newFuzzPeer(f, peerPort)
	epPort := fp.ep.Port()
	goodAck := func(tag uint32, cookie []byte) []byte {
		in := wire.Init{InitiateTag: 0xacce55, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 9,
			Params: []wire.Param{wire.StateCookieParam(cookie)}}
		return must(in.Append(nil, wire.ChunkInitAck))
	}

	f.Add([]byte{}, uint8(0))
	f.Add(goodAck(0, []byte("cookie")), uint8(0))
	f.Add(goodAck(0, make([]byte, 65000)), uint8(0))
	f.Add(append(goodAck(0, []byte("c")), seedUnknownChunks(8000)...), uint8(0))
	f.Add(must(wire.Init{InitiateTag: 1, OutStreams: 1, InStreams: 1, Params: slices.Repeat(
		[]wire.Param{{Type: 0xc001, Value: []byte{1}}}, 6000)}.Append(nil, wire.ChunkInitAck)), uint8(0))
	f.Add(wire.AppendCookieAck(nil), uint8(1))
	f.Add(must(wire.AppendErrorChunk(nil, wire.StaleCookieCause(1000))), uint8(1))
	f.Add(must(wire.AppendErrorChunk(nil, slices.Repeat([]wire.ErrorCause{wire.StaleCookieCause(1)}, 7000)...)), uint8(1))
	f.Add(must(wire.Abort{}.Append(nil)), uint8(1))
	f.Add(append(wire.AppendCookieAck(nil), seedHeartbeats(3000)...), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		if !fits(data) {
			return
		}
		fp.take()
		fp.largest.Store(0)
		ctx, cancel := context.WithCancel(context.Background())
		type result struct {
			a   *Association
			err error
		}
		done := make(chan result, 1)
		go func() {
			a, err := fp.ep.Connect(ctx, []netip.Addr{lo4}, sctpPort, WithRemoteUDPPort(peerPort))
			done <- result{a, err}
		}()
		defer func() {
			cancel()
			r := <-done
			if r.err == nil {
				r.a.Abort("fuzz")
			}
			fp.take()
			fp.check(t)
		}()
		// The INIT gives the client's tag.
		var tag uint32
		require.Eventually(t, func() bool {
			for _, pkt := range fp.take() {
				it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
				if it.Next() && it.Chunk().Type == wire.ChunkInit && len(it.Chunk().Value) >= 4 {
					tag = binary.BigEndian.Uint32(it.Chunk().Value)
					return true
				}
			}
			return false
		}, 5*time.Second, 50*time.Microsecond)
		fp.ep.mu.RLock()
		a := fp.ep.byTag[tag]
		fp.ep.mu.RUnlock()
		if a == nil {
			return
		}
		if mode%2 == 1 {
			fp.deliver(rawpeer.Encode(sctpPort, epPort, tag, goodAck(tag, []byte("a cookie"))))
			waitTaken(a)
		}
		fp.deliver(rawpeer.Encode(sctpPort, epPort, tag, data))
		waitTaken(a)
	})
}

// waitTaken waits until Connect took what the receive path queued for it
// (the handshake chunks), so that the datagram is acted on before the
// connection attempt is cancelled. Connect takes them only while the
// handshake goes on: once the association is established or closed, what
// is left stays queued and nothing is waited for.
func waitTaken(a *Association) {
	for i := 0; len(a.hs.in) > 0 && i < 10_000; i++ {
		if st := a.life.current(); st != StateCookieWait && st != StateCookieEchoed {
			return
		}
		time.Sleep(time.Microsecond)
	}
}

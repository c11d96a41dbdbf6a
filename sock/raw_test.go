package sock

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// newRawPeer is a raw peer on 127.0.0.1 aimed at s.
func newRawPeer(t testing.TB, s *Stack) *rawpeer.Peer { return newRawPeerFrom(t, s, lo4) }

// newRawPeerFrom is newRawPeer with a socket on local address ip.
func newRawPeerFrom(t testing.TB, s *Stack, ip netip.Addr) *rawpeer.Peer {
	t.Helper()
	return rawpeer.New(t, netip.AddrPortFrom(ip, 0), netip.AddrPortFrom(lo4, s.UDPPort()))
}

func TestCookieAttacks(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	const peerPort = 4000

	t.Run("forged", func(t *testing.T) {
		r := newRawPeer(t, s)
		ack, ck := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x1111, 1000))
		forged := append([]byte(nil), ck...)
		forged[len(forged)/2] ^= 0x40
		r.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, forged))))
		r.Silence("no reply")
		require.Empty(t, ep.Associations())
	})
	t.Run("wrong tag for the cookie", func(t *testing.T) {
		r := newRawPeer(t, s)
		ack, ck := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x2222, 1000))
		r.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag+1, must(wire.AppendCookieEcho(nil, ck))))
		r.Silence("no reply")
		require.Empty(t, ep.Associations())
	})
	t.Run("replayed", func(t *testing.T) {
		r := newRawPeer(t, s)
		ack, ck := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x3333, 1000))
		echo := rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck)), rawpeer.Message(1000, 0, 0, "bundled"))
		r.Send(echo)
		_, c := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
		require.Equal(t, wire.ChunkCookieAck, c.Type)
		m := recvCtx(t, ep)
		require.Equal(t, "bundled", string(m.Payload), "DATA bundled with the COOKIE-ECHO is delivered")
		require.Len(t, ep.Associations(), 1)
		// The same COOKIE-ECHO again: section 5.2.4 action D, a COOKIE-ACK
		// and nothing new.
		r.Send(echo)
		for {
			_, c = rawpeer.FirstChunk(t, r.Recv(5*time.Second))
			if c.Type == wire.ChunkCookieAck {
				break
			}
			require.Equal(t, wire.ChunkSack, c.Type)
		}
		require.Len(t, ep.Associations(), 1)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := ep.Recv(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded, "the replayed DATA is not delivered twice")
		ep.Associations()[0].Abort("done")
	})
}

func TestExpiredCookie(t *testing.T) {
	s := newStack(t, WithCookieLifetime(50*time.Millisecond))
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	ack, ck := r.InitAck(4001, ep.Port(), rawpeer.SimpleInit(0x4444, 1000))
	time.Sleep(120 * time.Millisecond)
	r.Send(rawpeer.Encode(4001, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	hdr, c := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkError, c.Type)
	require.Equal(t, uint32(0x4444), hdr.VerificationTag)
	causes, err := wire.ParseErrorChunk(c.Value)
	require.NoError(t, err)
	require.Len(t, causes, 1)
	require.Equal(t, wire.CauseStaleCookie, causes[0].Code)
	staleUS := binary.BigEndian.Uint32(causes[0].Info)
	require.GreaterOrEqual(t, staleUS, uint32(50_000), "measure of staleness in microseconds")
	require.Empty(t, ep.Associations())
}

func TestOutOfTheBlue(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const tag = 0xabcdef01
	for _, port := range []struct {
		name string
		port uint16
	}{{"endpoint", ep.Port()}, {"no endpoint", ep.Port() + 1}} {
		t.Run(port.name, func(t *testing.T) {
			dst := port.port
			for _, c := range []struct {
				name  string
				chunk []byte
				reply wire.ChunkType // 0: silence
			}{
				{"ABORT", must(wire.Abort{}.Append(nil)), 0},
				{"SHUTDOWN-COMPLETE", wire.AppendShutdownComplete(nil, false), 0},
				{"COOKIE-ACK", wire.AppendCookieAck(nil), 0},
				{"ERROR", must(wire.AppendErrorChunk(nil, wire.StaleCookieCause(10))), 0},
				{"SHUTDOWN-ACK", wire.AppendShutdownAck(nil), wire.ChunkShutdownComplete},
				{"DATA", rawpeer.Message(1, 0, 0, "x"), wire.ChunkAbort},
				{"SACK", must(wire.AppendSack(nil, 1, 1000, nil, nil)), wire.ChunkAbort},
				{"HEARTBEAT", must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("hb"))), wire.ChunkAbort},
			} {
				t.Run(c.name, func(t *testing.T) {
					pkt := rawpeer.Encode(5555, dst, tag, c.chunk)
					r.Send(pkt)
					if c.reply == 0 {
						r.Silence("no reply")
						return
					}
					reply := r.Recv(5 * time.Second)
					hdr, got := rawpeer.FirstChunk(t, reply)
					require.Equal(t, c.reply, got.Type)
					require.Equal(t, uint8(1), got.Flags&1, "T bit: the tag is reflected")
					require.Equal(t, uint32(tag), hdr.VerificationTag)
					require.Equal(t, dst, hdr.SrcPort)
					require.Equal(t, uint16(5555), hdr.DstPort)
					require.LessOrEqual(t, len(reply), len(pkt), "never a bigger reply")
					r.Silence("no reply") // never more than one
				})
			}
		})
	}
	t.Run("INIT to a port nobody owns", func(t *testing.T) {
		r.Send(rawpeer.Encode(5555, ep.Port()+1, 0, rawpeer.InitChunk(rawpeer.SimpleInit(0x7777, 1))))
		hdr, c := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
		require.Equal(t, wire.ChunkAbort, c.Type)
		require.Zero(t, c.Flags&1, "T bit clear: the INIT's own tag")
		require.Equal(t, uint32(0x7777), hdr.VerificationTag)
	})
	require.Empty(t, ep.Associations())
}

func TestWrongVerificationTag(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	r := newRawPeer(t, p.server)
	// DATA from the client's address and port with a wrong tag: not
	// delivered; the association goes on.
	r.Send(rawpeer.Encode(p.dialer.Port(), p.listener.Port(), p.serverAssoc.localTag^1, rawpeer.Message(1, 0, 0, "intruder")))
	require.NoError(t, p.clientAssoc.Send(ctx, []byte("legit"), SendInfo{}))
	require.Equal(t, "legit", string(recvCtx(t, p.listener).Payload))
	// An ABORT with a wrong tag is ignored (RFC 9260 section 8.5.1 rule B).
	r.Send(rawpeer.Encode(p.dialer.Port(), p.listener.Port(), p.serverAssoc.localTag^2, must(wire.Abort{}.Append(nil))))
	require.NoError(t, p.clientAssoc.Send(ctx, []byte("still up"), SendInfo{}))
	require.Equal(t, "still up", string(recvCtx(t, p.listener).Payload))
	require.Equal(t, StateEstablished, p.serverAssoc.State())
}

func TestPeerRestart(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort = 4100
	ack, ck := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x5151, 1000))
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	_, c := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkCookieAck, c.Type)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev, err := ep.Event(ctx)
	require.NoError(t, err)
	require.Equal(t, EventUp, ev.Type)
	old := ev.Association

	// The peer restarts: a new INIT with a new tag from the same address.
	ack2, ck2 := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x6262, 1000))
	require.NotEqual(t, ack.InitiateTag, ack2.InitiateTag, "section 5.2.2: a new Initiate Tag")
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack2.InitiateTag, must(wire.AppendCookieEcho(nil, ck2))))
	_, c = rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkCookieAck, c.Type)
	var restarted *Association
	for restarted == nil {
		ev, err := ep.Event(ctx)
		require.NoError(t, err)
		if ev.Type == EventRestart {
			restarted = ev.Association
		}
	}
	<-old.Done()
	require.Equal(t, []*Association{restarted}, ep.Associations())
	require.Equal(t, uint32(0x6262), restarted.peerTagValue())
	// The new association works.
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack2.InitiateTag, rawpeer.Message(1000, 1, 0, "after restart")))
	require.Equal(t, "after restart", string(recvCtx(t, ep).Payload))
	restarted.Abort("done")
}

func TestInitCollision(t *testing.T) {
	a := newStack(t)
	b := newStack(t)
	epA, err := a.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	epB, err := b.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var assocA, assocB *Association
	var errA, errB error
	wg.Go(func() {
		assocA, errA = epA.Connect(ctx, []netip.Addr{lo4}, epB.Port(), WithRemoteUDPPort(b.UDPPort()))
	})
	wg.Go(func() {
		assocB, errB = epB.Connect(ctx, []netip.Addr{lo4}, epA.Port(), WithRemoteUDPPort(a.UDPPort()))
	})
	wg.Wait()
	if errA != nil || errB != nil {
		for _, ep := range []*Endpoint{epA, epB} {
			for _, as := range ep.Associations() {
				t.Logf("endpoint %v: %v %v local tag %x peer tag %x", ep, as, as.State(), as.localTag, as.peerTagValue())
			}
		}
	}
	require.NoError(t, errA)
	require.NoError(t, errB)
	require.Len(t, epA.Associations(), 1, "one association between two endpoints")
	require.Len(t, epB.Associations(), 1)
	require.NoError(t, assocA.Send(ctx, []byte("a to b"), SendInfo{}))
	require.Equal(t, "a to b", string(recvCtx(t, epB).Payload))
	require.NoError(t, assocB.Send(ctx, []byte("b to a"), SendInfo{}))
	require.Equal(t, "b to a", string(recvCtx(t, epA).Payload))
}

func TestConnectNobodyListens(t *testing.T) {
	server := newStack(t)
	_, err := server.NewEndpoint(nil, 0) // opens the stack's socket
	require.NoError(t, err)
	client := newStack(t)
	c, err := client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	// ErrRefused (not ErrTimeout) says the stack's ABORT ended it.
	_, err = c.Connect(context.Background(), []netip.Addr{lo4}, 7, WithRemoteUDPPort(server.UDPPort()))
	require.ErrorIs(t, err, ErrRefused)
	require.Empty(t, c.Associations())
}

func TestConnectTimeout(t *testing.T) {
	// A UDP socket that never answers.
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer sink.Close()
	client := newStack(t)
	c, err := client.NewEndpoint(nil, 0,
		WithRTOMin(10*time.Millisecond), WithRTOInitial(20*time.Millisecond), WithRTOMax(60*time.Millisecond),
		WithMaxInitRetransmits(4))
	require.NoError(t, err)
	start := time.Now()
	_, err = c.Connect(context.Background(), []netip.Addr{lo4}, 9, WithRemoteUDPPort(uint16(sink.LocalAddr().(*net.UDPAddr).Port)))
	require.ErrorIs(t, err, ErrTimeout)
	// 20 + 40 + 60 + 60 + 60 ms: the first try and four retransmissions.
	require.GreaterOrEqual(t, time.Since(start), 240*time.Millisecond)
	require.Empty(t, c.Associations())
	// Count the INITs that reached the sink: 1 + Max.Init.Retransmits.
	_ = sink.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	n := 0
	buf := make([]byte, 2048)
	for {
		if _, _, err := sink.ReadFrom(buf); err != nil {
			break
		}
		n++
	}
	require.Equal(t, 5, n)
}

func TestStatelessListener(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	client := newStack(t)
	dialer, err := client.NewEndpoint(nil, 0)
	require.NoError(t, err)

	settle := func() (int, uint64) {
		var ms runtime.MemStats
		for range 3 {
			runtime.GC()
		}
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapAlloc
	}
	g0, h0 := settle()

	const floods = 10_000
	r := newRawPeer(t, s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Discard(500 * time.Millisecond)
	}()
	for i := range floods {
		r.Send(rawpeer.Encode(uint16(1024+i), ep.Port(), 0, rawpeer.InitChunk(rawpeer.SimpleInit(uint32(i+1), 1))))
		if i == floods/2 {
			// A real client gets in during the flood.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			a, err := dialer.Connect(ctx, []netip.Addr{lo4}, ep.Port(), WithRemoteUDPPort(s.UDPPort()))
			cancel()
			require.NoError(t, err)
			require.NoError(t, a.Send(context.Background(), []byte("through the flood"), SendInfo{}))
			require.Equal(t, "through the flood", string(recvCtx(t, ep).Payload))
			a.Abort("done")
			<-a.Done()
		}
	}
	<-done
	require.Eventually(t, func() bool { return len(ep.Associations()) == 0 }, 5*time.Second, 10*time.Millisecond)
	g1, h1 := settle()
	require.LessOrEqual(t, g1, g0, "no goroutine left by %d INITs", floods)
	// 10,000 INITs leave nothing behind: allow 1 MiB of noise (a retained
	// state per INIT would be several MiB).
	require.Less(t, int64(h1)-int64(h0), int64(1<<20), "heap before %d after %d", h0, h1)
	st := s.Stats().Sockets[lo4]
	require.GreaterOrEqual(t, st.RxDatagrams, uint64(floods))
}

// TestStaleCookieRetry: a cookie that expires before it comes back gets a
// Stale Cookie error; the initiator starts over with a Cookie Preservative
// (RFC 9260 section 5.2.6), which the listener honours, and gets in.
func TestStaleCookieRetry(t *testing.T) {
	server := newStack(t, WithCookieLifetime(time.Microsecond))
	ep, err := server.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	client := newStack(t)
	c, err := client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := c.Connect(ctx, []netip.Addr{lo4}, ep.Port(), WithRemoteUDPPort(server.UDPPort()))
	require.NoError(t, err)
	require.GreaterOrEqual(t, ep.staleCookies.Load(), uint64(1), "the first cookie went stale")
	require.NoError(t, a.Send(ctx, []byte("late but in"), SendInfo{}))
	require.Equal(t, "late but in", string(recvCtx(t, ep).Payload))
}

// TestStaleCookieGivesUp: with every cookie stale and no retransmissions
// left, Connect fails.
func TestStaleCookieGivesUp(t *testing.T) {
	server := newStack(t, WithCookieLifetime(time.Microsecond))
	ep, err := server.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	client := newStack(t)
	c, err := client.NewEndpoint(nil, 0, WithMaxInitRetransmits(0))
	require.NoError(t, err)
	_, err = c.Connect(context.Background(), []netip.Addr{lo4}, ep.Port(), WithRemoteUDPPort(server.UDPPort()))
	require.ErrorIs(t, err, ErrTimeout)
	require.Equal(t, uint64(1), ep.staleCookies.Load())
	require.Empty(t, ep.Associations())
}

// TestInvalidInboundStream: DATA on a stream beyond the negotiated inbound
// count is acknowledged, reported with an Invalid Stream Identifier error
// and never delivered (RFC 9260 section 6.5).
func TestInvalidInboundStream(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort = 4200
	ack, ck := r.InitAck(peerPort, ep.Port(), rawpeer.SimpleInit(0x7171, 1000)) // our INIT says OS 4
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
	_, c := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkCookieAck, c.Type)
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, rawpeer.Message(1000, 10, 0, "stream ten")))
	var sawError, sawSack bool
	for !(sawError && sawSack) {
		pkt := r.Recv(5 * time.Second)
		require.NotNil(t, pkt, "an ERROR and a SACK")
		it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
		for it.Next() {
			switch c := it.Chunk(); c.Type {
			case wire.ChunkError:
				causes, err := wire.ParseErrorChunk(c.Value)
				require.NoError(t, err)
				require.Equal(t, wire.CauseInvalidStreamID, causes[0].Code)
				require.Equal(t, uint16(10), binary.BigEndian.Uint16(causes[0].Info))
				sawError = true
			case wire.ChunkSack:
				v, err := wire.ParseSackView(c.Value)
				require.NoError(t, err)
				require.Equal(t, uint32(1000), v.CumTSNAck(), "acknowledged as usual")
				sawSack = true
			}
		}
	}
	r.Send(rawpeer.Encode(peerPort, ep.Port(), ack.InitiateTag, rawpeer.Message(1001, 3, 0, "stream three")))
	require.Equal(t, "stream three", string(recvCtx(t, ep).Payload), "the next valid message, not the invalid one")
	a := ep.Associations()[0]
	require.Eventually(t, func() bool { return a.Stats().DroppedStream == 1 }, 5*time.Second, time.Millisecond)
	a.Abort("done")
}

// TestSocketOutlivesEndpoints: closing the last endpoint on an address
// keeps the stack's socket there, so the UDP encapsulation port stays the
// stack's and a packet for the closed endpoint's port is answered as out
// of the blue (RFC 9260 section 8.4).
func TestSocketOutlivesEndpoints(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	port := ep.Port()
	require.NoError(t, ep.Close())

	u, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo4, s.UDPPort())))
	if err == nil {
		_ = u.Close()
	}
	require.Error(t, err, "the stack keeps its UDP port")
	require.Contains(t, s.Stats().Sockets, lo4)

	r := newRawPeer(t, s)
	r.Send(rawpeer.Encode(5555, port, 0, rawpeer.InitChunk(rawpeer.SimpleInit(0x7777, 1))))
	hdr, c := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkAbort, c.Type)
	require.Equal(t, uint32(0x7777), hdr.VerificationTag)

	ep2, err := s.NewEndpoint(nil, port, AcceptMax(1))
	require.NoError(t, err, "the port is free again")
	r.InitAck(5555, ep2.Port(), rawpeer.SimpleInit(0x8888, 1000))
}

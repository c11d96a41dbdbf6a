package sock

import (
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// onReceivePath reports whether its caller runs inside the stack's
// receive path (Stack.receive, on a socket's read goroutine).
func onReceivePath() bool {
	pc := make([]uintptr, 100)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "sock.(*Stack).receive") {
			return true
		}
		if !more {
			return false
		}
	}
}

// TestHandshakeAnswersOnReceivePath: the connecting side answers the
// INIT-ACK with the COOKIE-ECHO on the receive path that took it, without
// handing it to Connect's goroutine first, and makes pion's association
// there too, while the COOKIE-ECHO travels: the COOKIE-ACK finds it made.
func TestHandshakeAnswersOnReceivePath(t *testing.T) {
	var echoes, echoesOnReceive, engines, enginesOnReceive atomic.Int32
	var client atomic.Pointer[Stack]
	tap := func(pkt []byte, from netip.Addr, to netip.AddrPort) {
		if isCookieEcho(pkt) {
			echoes.Add(1)
			if onReceivePath() {
				echoesOnReceive.Add(1)
			}
		}
	}
	var packetsInAtEngine atomic.Uint64
	testHookEngineCreate = func(a *Association) {
		if a.ep.stack != client.Load() {
			return
		}
		engines.Add(1)
		if onReceivePath() {
			enginesOnReceive.Add(1)
		}
		a.mu.Lock()
		p := a.ps.main()
		a.mu.Unlock()
		_, _, in, _ := p.counters()
		packetsInAtEngine.Store(in)
	}
	t.Cleanup(func() { testHookEngineCreate = nil })
	server := newStack(t)
	listener, err := server.NewEndpoint(nil, 0, AcceptMax(10))
	require.NoError(t, err)
	c := newStack(t)
	client.Store(c)
	c.sendTap.Store(&tap)
	dialer, err := c.NewEndpoint(nil, 0)
	require.NoError(t, err)
	a, err := dialer.Connect(t.Context(), []netip.Addr{lo4}, listener.Port(), WithRemoteUDPPort(server.UDPPort()))
	require.NoError(t, err)
	require.Equal(t, StateEstablished, a.State())
	require.Equal(t, int32(1), echoes.Load())
	require.Equal(t, int32(1), echoesOnReceive.Load(), "the COOKIE-ECHO left from the receive path")
	require.Equal(t, int32(1), engines.Load())
	require.Equal(t, int32(1), enginesOnReceive.Load(), "the engine started on the receive path")
	require.Equal(t, uint64(1), packetsInAtEngine.Load(), "pion's association made after the INIT-ACK, before the COOKIE-ACK")
}

// TestEndpointQueueHoldsWhatItHolds: an endpoint's receive queue costs
// memory for the messages it holds, not for its limit; messages keep
// their order, and a full queue takes no more.
func TestEndpointQueueHoldsWhatItHolds(t *testing.T) {
	s := newStack(t)
	var before, after runtime.MemStats
	const n = 100
	eps := make([]*Endpoint, 0, n)
	runtime.ReadMemStats(&before)
	for range n {
		ep, err := s.NewEndpoint(nil, 0, WithRecvQueue(1<<16))
		require.NoError(t, err)
		eps = append(eps, ep)
	}
	runtime.ReadMemStats(&after)
	for _, ep := range eps {
		require.NoError(t, ep.Close())
	}
	// A channel of 65,536 messages would be 4 MiB an endpoint.
	perEndpoint := (after.TotalAlloc - before.TotalAlloc) / n
	require.Less(t, perEndpoint, uint64(64<<10), "bytes allocated per endpoint")

	q := newEndpointQueue(3)
	for i := range 3 {
		require.True(t, q.tryPush(Message{Stream: uint16(i)}))
	}
	require.False(t, q.tryPush(Message{Stream: 3}), "full")
	require.Equal(t, 3, q.len())
	for i := range 3 {
		m, ok := q.tryPop()
		require.True(t, ok)
		require.Equal(t, uint16(i), m.Stream)
		require.True(t, q.tryPush(Message{Stream: uint16(10 + i)}))
	}
	for i := range 3 {
		m, ok := q.tryPop()
		require.True(t, ok)
		require.Equal(t, uint16(10+i), m.Stream)
	}
	_, ok := q.tryPop()
	require.False(t, ok, "empty")
}

// TestSpareEngineEndsWithRefusal: pion's association made ahead in
// COOKIE-ECHOED ends with the handshake when the peer refuses it with an
// ABORT: no goroutine of it is left.
func TestSpareEngineEndsWithRefusal(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, WithRTOInitial(10*time.Second))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort = 4321
	before := settledGoroutines()
	done := make(chan error, 1)
	go func() {
		_, err := ep.Connect(t.Context(), []netip.Addr{lo4}, peerPort, WithRemoteUDPPort(r.UDPPort()))
		done <- err
	}()
	_, c := r.Expect(wire.ChunkInit)
	in, err := wire.ParseInit(c.Value)
	require.NoError(t, err)
	ack := wire.Init{InitiateTag: 0x5eed, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 77,
		Params: []wire.Param{wire.StateCookieParam([]byte("a cookie"))}}
	r.Send(rawpeer.Encode(peerPort, ep.Port(), in.InitiateTag, must(ack.Append(nil, wire.ChunkInitAck))))
	r.Expect(wire.ChunkCookieEcho)
	a := ep.Associations()[0]
	a.hs.step.Lock() // initAckArrived holds it until the spare engine is made
	a.hs.step.Unlock()
	a.mu.Lock()
	spare := a.eng.spare
	a.mu.Unlock()
	require.NotNil(t, spare, "pion's association is made while the COOKIE-ECHO travels")
	r.Send(rawpeer.Encode(peerPort, ep.Port(), in.InitiateTag, must(wire.Abort{}.Append(nil))))
	require.ErrorIs(t, <-done, ErrRefused)
	a.mu.Lock()
	require.Nil(t, a.eng.spare)
	a.mu.Unlock()
	require.LessOrEqual(t, settledGoroutines(), before, "no goroutine of the spare engine left")
}

package sock

import (
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCookieAckPrecedesEngine: the side that takes the COOKIE-ECHO sends
// the COOKIE-ACK before it makes pion's association, so that the peer
// goes on with its part of the handshake meanwhile.
func TestCookieAckPrecedesEngine(t *testing.T) {
	var mu sync.Mutex
	sent := map[*Endpoint]uint64{} // packets out on the primary when pion's association is made
	testHookEngineCreate = func(a *Association) {
		a.mu.Lock()
		p := a.ps.main()
		a.mu.Unlock()
		out, _, _, _ := p.counters()
		mu.Lock()
		sent[a.ep] = out
		mu.Unlock()
	}
	t.Cleanup(func() { testHookEngineCreate = nil })
	p := newPair(t)
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, sent, p.listener)
	require.Equal(t, uint64(1), sent[p.listener], "the COOKIE-ACK, and only it, before pion's association")
	require.Equal(t, StateEstablished, p.serverAssoc.State())
}

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
// INIT-ACK with the COOKIE-ECHO, and starts the engine on the COOKIE-ACK,
// on the receive path that took them, without handing them to Connect's
// goroutine first.
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
	testHookEngineCreate = func(a *Association) {
		if a.ep.stack != client.Load() {
			return
		}
		engines.Add(1)
		if onReceivePath() {
			enginesOnReceive.Add(1)
		}
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

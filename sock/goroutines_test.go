package sock

import (
	"context"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// maxGoroutinesPerAssoc is what an idle established association may cost:
// pion's read loop, write loop and timer loop. The reader of the stream in
// use runs only while pion holds a message of it (wakeReaderLocked).
const maxGoroutinesPerAssoc = 3

// TestIdleAssociationGoroutines counts the goroutines of idle associations
// that each exchanged a message on one stream: both ends of each are in
// this process, so the count is per association end.
func TestIdleAssociationGoroutines(t *testing.T) {
	const n = 50
	server, client := newStack(t), newStack(t)
	listener, err := server.NewEndpoint(nil, 0, AcceptMax(2*n))
	require.NoError(t, err)
	dialers := make([]*Endpoint, n)
	for i := range dialers {
		dialers[i], err = client.NewEndpoint(nil, 0)
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := settledGoroutines()

	for _, d := range dialers {
		a, err := d.Connect(ctx, []netip.Addr{lo4}, listener.Port(), WithRemoteUDPPort(server.UDPPort()))
		require.NoError(t, err)
		require.NoError(t, a.Send(ctx, []byte("ping"), SendInfo{Stream: 0}))
		m, err := listener.Recv(ctx)
		require.NoError(t, err)
		require.NoError(t, m.Association.Send(ctx, []byte("pong"), SendInfo{Stream: m.Stream}))
		m, err = d.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, "pong", string(m.Payload))
	}
	after := settledGoroutines()

	per := float64(after-before) / (2 * n)
	t.Logf("%d goroutines for %d association ends: %.2f each", after-before, 2*n, per)
	require.LessOrEqual(t, per, float64(maxGoroutinesPerAssoc))
}

// settledGoroutines is the fewest goroutines seen over a short while, so
// that a timer callback running at the moment does not count.
func settledGoroutines() int {
	low := runtime.NumGoroutine()
	for range 20 {
		time.Sleep(5 * time.Millisecond)
		low = min(low, runtime.NumGoroutine())
	}
	return low
}

// TestManyNewStreamsAtOnce: messages on more new streams than pion queues
// for AcceptStream (16), sent before the receiver reads any, all arrive
// without waiting for a retransmission: the receive path opens each
// stream before pion sees its first DATA.
func TestManyNewStreamsAtOnce(t *testing.T) {
	const streams = 64
	// A retransmission would come after at least 10 s: far beyond the
	// wait below.
	opts := []EndpointOption{WithStreams(streams, streams), WithRTOInitial(10 * time.Second),
		WithRTOMin(10 * time.Second), WithRTOMax(20 * time.Second), WithRecvQueue(2 * streams)}
	server, client := newStack(t), newStack(t)
	listener, err := server.NewEndpoint(nil, 0, append(opts, AcceptMax(1))...)
	require.NoError(t, err)
	dialer, err := client.NewEndpoint(nil, 0, opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := dialer.Connect(ctx, []netip.Addr{lo4}, listener.Port(), WithRemoteUDPPort(server.UDPPort()))
	require.NoError(t, err)
	for i := range streams {
		require.NoError(t, a.Send(ctx, []byte{byte(i)}, SendInfo{Stream: uint16(i)}))
	}
	seen := map[uint16]bool{}
	for range streams {
		m, err := listener.Recv(ctx)
		require.NoError(t, err, "after %d of %d streams", len(seen), streams)
		require.Equal(t, []byte{byte(m.Stream)}, m.Payload)
		seen[m.Stream] = true
	}
	require.Len(t, seen, streams)
}

// TestNewStreamDuringShutdown: a message on a new stream that reaches an
// association after its SHUTDOWN went out (pion opens no stream then) is
// still delivered, and the shutdown completes.
func TestNewStreamDuringShutdown(t *testing.T) {
	p := newPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, p.clientAssoc.Send(ctx, []byte("first"), SendInfo{Stream: 0}))
	require.Equal(t, "first", string(recvCtx(t, p.listener).Payload))

	// The server's packets are lost for a while: its SHUTDOWN does not
	// reach the client, which goes on sending.
	var cut atomic.Bool
	cut.Store(true)
	p.server.SetFaultFilter(func(_ netip.Addr, _ netip.AddrPort, inbound bool) bool { return !inbound && cut.Load() })
	done := make(chan error, 1)
	go func() { done <- p.serverAssoc.Shutdown(ctx) }()
	require.Eventually(t, func() bool { return p.serverAssoc.State() == StateShuttingDown }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // pion's SHUTDOWN is out
	require.NoError(t, p.clientAssoc.Send(ctx, []byte("late"), SendInfo{Stream: 7}))
	m := recvCtx(t, p.listener)
	require.Equal(t, "late", string(m.Payload))
	require.Equal(t, uint16(7), m.Stream)
	cut.Store(false)
	require.NoError(t, <-done)
	<-p.clientAssoc.Done()
	require.Equal(t, ReasonShutdown, p.clientAssoc.Reason())
}

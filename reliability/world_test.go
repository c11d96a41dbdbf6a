package reliability

import (
	"context"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/vnettest"
	"github.com/usock/usock/sock"
)

const vnetUDPPort = 9899

var (
	vA1, vA2, vB1, vB2 = vnettest.A1, vnettest.A2, vnettest.B1, vnettest.B2
)

// baseSeed is the seed of the suite; RELIABILITY_SEED replaces it to replay
// or explore.
func baseSeed(t testing.TB) uint64 {
	if s := os.Getenv("RELIABILITY_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 0, 64)
		require.NoError(t, err, "RELIABILITY_SEED")
		return v
	}
	return 0x5eed_2026
}

// reportSeed prints the seed when t fails, and how to replay the run
// (RELIABILITY_SEED sets the suite's base seed, from which each case
// derives its own).
func reportSeed(t testing.TB, seed uint64) {
	base := baseSeed(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %#x (replay: RELIABILITY_SEED=%#x go test ./reliability -run '^%s$')", seed, base, t.Name())
		}
	})
}

// tuned is the telecom-style setting: short timers so that simulated
// minutes stay short.
func tuned() []sock.EndpointOption {
	return []sock.EndpointOption{
		sock.WithRTOMin(10 * time.Millisecond), sock.WithRTOInitial(100 * time.Millisecond), sock.WithRTOMax(time.Second),
		sock.WithHeartbeatInterval(100 * time.Millisecond), sock.WithPFThreshold(0),
		sock.WithStreams(numStreams, numStreams),
	}
}

// world is the two-host vnet with a stack on each host. Must be made in a
// synctest bubble; closed by t.Cleanup (inside the bubble).
type world struct {
	*vnettest.World
	a, b *sock.Stack
}

func newWorld(t *testing.T, seed uint64) *world {
	t.Helper()
	vw, err := vnettest.New(seed)
	require.NoError(t, err)
	w := &world{World: vw}
	t.Cleanup(func() { require.NoError(t, vw.Close()) })
	w.a, err = sock.NewStack(sock.WithNet(vw.A), sock.WithUDPPort(vnetUDPPort))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, w.a.Close()) })
	w.b, err = sock.NewStack(sock.WithNet(vw.B), sock.WithUDPPort(vnetUDPPort))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, w.b.Close()) })
	return w
}

// pair is a multi-homed association between A (client) and B (server).
type pair struct {
	cep, sep       *sock.Endpoint
	client, server *sock.Association
}

// connect sets up the association and waits for both sides to confirm
// both paths.
func (w *world) connect(t *testing.T, opts ...sock.EndpointOption) *pair {
	t.Helper()
	p := &pair{}
	var err error
	p.sep, err = w.b.NewEndpoint([]netip.Addr{vB1, vB2}, 5000, append([]sock.EndpointOption{sock.AcceptMax(4)}, opts...)...)
	require.NoError(t, err)
	p.cep, err = w.a.NewEndpoint([]netip.Addr{vA1, vA2}, 5001, opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p.client, err = p.cep.Connect(ctx, []netip.Addr{vB1, vB2}, 5000, sock.WithRemoteUDPPort(vnetUDPPort))
	require.NoError(t, err)
	waitEvent(t, p.cep, sock.EventPathConfirmed, vB2)
	p.server = waitEvent(t, p.sep, sock.EventPathConfirmed, vA2).Association
	return p
}

// waitEvent waits (in fake time) for an event of type typ on path (any path
// when invalid), skipping others.
func waitEvent(t *testing.T, ep *sock.Endpoint, typ sock.EventType, path netip.Addr) sock.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for {
		ev, err := ep.Event(ctx)
		require.NoError(t, err, "waiting for %v %v", typ, path)
		if ev.Type == typ && (!path.IsValid() || ev.Path == path) {
			return ev
		}
	}
}

package reliability

import (
	"context"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/sock"
	"github.com/usock/usock/socktest"
)

const vnetUDPPort = sock.DefaultUDPPort

// The hosts' addresses: path 1 is 10.0.1.0/24, path 2 is 10.0.2.0/24.
var (
	vA1 = netip.MustParseAddr("10.0.1.1")
	vA2 = netip.MustParseAddr("10.0.2.1")
	vB1 = netip.MustParseAddr("10.0.1.2")
	vB2 = netip.MustParseAddr("10.0.2.2")
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

// world is two multi-homed hosts, A and B, on a socktest network with a
// stack on each. Must be made in a synctest bubble; closed at the end of
// the test (inside the bubble).
type world struct {
	net  *socktest.Network
	a, b *sock.Stack
}

func newWorld(t *testing.T, seed uint64) *world {
	t.Helper()
	n := socktest.NewNetwork(t, socktest.WithSeed(seed), socktest.WithUDPPort(vnetUDPPort))
	return &world{
		net: n,
		a:   n.AddHost("a", vA1, vA2).Stack(),
		b:   n.AddHost("b", vB1, vB2).Stack(),
	}
}

// subnet returns path p's prefix, 10.0.p.0/24.
func subnet(p int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(p), 0}), 24)
}

// SetCut cuts (or restores) path p in both directions: every packet from
// an address in its subnet.
func (w *world) SetCut(p int, cut bool) {
	w.net.Link(subnet(p), socktest.DefaultPrefix).Cut(cut)
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

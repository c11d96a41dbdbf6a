package testkit

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/sock"
	"github.com/usock/usock/socktest"
)

// The world's addresses: path 1 is 10.0.1.0/24, path 2 is 10.0.2.0/24;
// host A is .1 on each, host B .2.
var (
	A1 = netip.MustParseAddr("10.0.1.1")
	A2 = netip.MustParseAddr("10.0.2.1")
	B1 = netip.MustParseAddr("10.0.1.2")
	B2 = netip.MustParseAddr("10.0.2.2")
)

// VnetUDPPort is the UDP port of the world's stacks.
const VnetUDPPort = sock.DefaultUDPPort

// The SCTP ports of the endpoints Connect makes.
const (
	ServerPort = 5000
	ClientPort = 5001
)

// World is two multi-homed hosts, A and B, on a socktest network with a
// stack on each.
type World struct {
	Net  *socktest.Network
	A, B *sock.Stack
}

// NewWorld makes the world with the network's seed. It must run inside a
// synctest bubble, with the bubble's t; the network and the stacks close
// at the end of the test, inside the bubble.
func NewWorld(t *testing.T, seed uint64) *World {
	t.Helper()
	n := socktest.NewNetwork(t, socktest.WithSeed(seed), socktest.WithUDPPort(VnetUDPPort))
	return &World{
		Net: n,
		A:   n.AddHost("a", A1, A2).Stack(),
		B:   n.AddHost("b", B1, B2).Stack(),
	}
}

// Subnet is path p's prefix, 10.0.p.0/24.
func Subnet(p int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(p), 0}), 24)
}

// Path is the traffic of path p: every packet from an address in its
// subnet, both hosts' (so both directions).
func (w *World) Path(p int) *socktest.Link {
	return w.Net.Link(Subnet(p), socktest.DefaultPrefix)
}

// SetCut cuts (or restores) path p in both directions.
func (w *World) SetCut(p int, cut bool) { w.Path(p).Cut(cut) }

// SetLoss drops the share l of path p's packets, both directions.
func (w *World) SetLoss(p int, l float64) { w.Path(p).SetLoss(l) }

// Pair is a multi-homed association between A (client) and B (server).
type Pair struct {
	ClientEP, ServerEP *sock.Endpoint
	Client, Server     *sock.Association
}

// Connect makes a two-address server endpoint on B and a two-address
// client endpoint on A, both with opts, connects them and waits (in fake
// time) until each side has confirmed the other's second address.
func (w *World) Connect(t *testing.T, opts ...sock.EndpointOption) *Pair {
	t.Helper()
	p := &Pair{}
	var err error
	p.ServerEP, err = w.B.NewEndpoint([]netip.Addr{B1, B2}, ServerPort, append([]sock.EndpointOption{sock.AcceptMax(4)}, opts...)...)
	require.NoError(t, err)
	p.ClientEP, err = w.A.NewEndpoint([]netip.Addr{A1, A2}, ClientPort, opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p.Client, err = p.ClientEP.Connect(ctx, []netip.Addr{B1, B2}, ServerPort, sock.WithRemoteUDPPort(VnetUDPPort))
	require.NoError(t, err)
	WaitEvent(t, p.ClientEP, FakeWait, Want{Type: sock.EventPathConfirmed, Path: B2})
	p.Server = WaitEvent(t, p.ServerEP, FakeWait, Want{Type: sock.EventPathConfirmed, Path: A2}).Association
	return p
}

// FakeWait is the deadline of a wait in fake time: long, since it costs
// nothing, and only there to end a test that would otherwise hang.
const FakeWait = 10 * time.Minute

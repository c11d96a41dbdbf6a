package sock

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

var lo4c = netip.MustParseAddr("127.0.0.3")

// fixedHosts is a host address list for WithHostAddrs.
func fixedHosts(addrs ...netip.Addr) StackOption {
	return WithHostAddrs(func() ([]netip.Addr, error) { return addrs, nil })
}

// needLoopback2 stops the test where 127.0.0.2 is not local (only Linux
// routes all of 127.0.0.0/8 to loopback without configuration).
func needLoopback2(t *testing.T) {
	t.Helper()
	if !canBind(t, "127.0.0.2") {
		if runtime.GOOS == "linux" {
			t.Fatal("127.0.0.2 does not bind on Linux, where all of 127.0.0.0/8 is local")
		}
		t.Skip("127.0.0.2 is not a local address on " + runtime.GOOS)
	}
}

// wildcardOpts are quick timers, so that heartbeats confirm the paths at
// once.
func wildcardOpts() []EndpointOption {
	return []EndpointOption{WithRTOMin(10 * time.Millisecond), WithRTOInitial(100 * time.Millisecond),
		WithRTOMax(time.Second), WithHeartbeatInterval(100 * time.Millisecond)}
}

// listedAddrs returns the addresses an INIT or INIT-ACK lists.
func listedAddrs(t *testing.T, in wire.Init) []netip.Addr {
	t.Helper()
	addrs, err := in.Addresses()
	require.NoError(t, err)
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs
}

// A wildcard endpoint answers from the address the INIT arrived at, not
// from the one the kernel picks for the peer (127.0.0.1 for a peer on
// 127.0.0.1), lists the host's addresses, and the association's path
// sends from the address the peer's packets arrive at.
func TestWildcardInitAckSource(t *testing.T) {
	needLoopback2(t)
	s := newStack(t, fixedHosts(lo4, lo4b))
	ep, err := s.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, 0, AcceptMax(4))
	require.NoError(t, err)
	for _, at := range []netip.Addr{lo4b, lo4} {
		t.Run(at.String(), func(t *testing.T) {
			r := newRawPeer(t, s) // on 127.0.0.1
			r.To = netip.AddrPortFrom(at, s.UDPPort())
			srcPort := uint16(4100) + uint16(at.As4()[3])
			// The peer lists a second address it never sends from.
			in := wire.Init{InitiateTag: 0x5150, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1,
				Params: []wire.Param{wire.AddressParam(lo4), wire.AddressParam(lo4c)}}
			r.Send(rawpeer.Encode(srcPort, ep.Port(), 0, must(in.Append(nil, wire.ChunkInit))))
			pkt, from := r.RecvFrom(5 * time.Second)
			_, c := rawpeer.FirstChunk(t, pkt)
			require.Equal(t, wire.ChunkInitAck, c.Type)
			require.Equal(t, netip.AddrPortFrom(at, s.UDPPort()), from, "the INIT-ACK leaves from the address the INIT arrived at")
			ack, err := wire.ParseInit(c.Value)
			require.NoError(t, err)
			require.ElementsMatch(t, []netip.Addr{lo4, lo4b}, listedAddrs(t, ack), "the host's addresses, loopback ones to a loopback peer")
			ck, ok := ack.Cookie()
			require.True(t, ok)

			r.Send(rawpeer.Encode(srcPort, ep.Port(), ack.InitiateTag, must(wire.AppendCookieEcho(nil, ck))))
			pkt, from = r.RecvFrom(5 * time.Second)
			_, c = rawpeer.FirstChunk(t, pkt)
			require.Equal(t, wire.ChunkCookieAck, c.Type)
			require.Equal(t, at, from.Addr(), "the COOKIE-ACK too")
			a, err := s.FindAssociation(at, ep.Port(), lo4, srcPort)
			require.NoError(t, err)
			require.Same(t, ep, a.Endpoint())
			paths := a.Paths()
			require.Len(t, paths, 2)
			require.Equal(t, lo4, paths[0].Remote)
			require.Equal(t, at, paths[0].Local, "the path records the concrete local address")
			require.Equal(t, lo4c, paths[1].Remote)
			require.Equal(t, at, paths[1].Local, "a path the peer has not sent on yet starts from the address the handshake came in on")
			a.Abort("done")
		})
	}
}

// waitPathsConfirmed waits until every path of a is confirmed, on the
// path events of its endpoint.
func waitPathsConfirmed(t *testing.T, a *Association, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		ps := a.Paths()
		done := len(ps) == n
		for _, p := range ps {
			done = done && p.State == PathActive
		}
		if done {
			return
		}
		_, err := a.Endpoint().Event(ctx)
		require.NoError(t, err, "paths not all confirmed: %+v", a.Paths())
	}
}

// wildcardCase is one client of testWildcardTwoAddresses: on from, it
// connects to the wildcard endpoint at to, and its association ends up
// with confirmed paths to remotes (to first, the primary).
type wildcardCase struct {
	from, to netip.Addr
	remotes  []netip.Addr
}

// testWildcardTwoAddresses: a wildcard endpoint on a host with addresses
// hosts reached by one client per case; each association confirms the
// paths the INIT-ACK's list gives it, and the server's side sends from a
// concrete address of the host.
func testWildcardTwoAddresses(t *testing.T, wild netip.Addr, hosts []netip.Addr, cases []wildcardCase, opts ...StackOption) {
	server := newStack(t, append(opts, fixedHosts(hosts...))...)
	sep, err := server.NewEndpoint([]netip.Addr{wild}, 0, append(wildcardOpts(), AcceptMax(4))...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, c := range cases {
		client := newStack(t)
		cep, err := client.NewEndpoint([]netip.Addr{c.from}, 0, wildcardOpts()...)
		require.NoError(t, err)
		a, err := cep.Connect(ctx, []netip.Addr{c.to}, sep.Port(), WithRemoteUDPPort(server.UDPPort()))
		require.NoError(t, err, "from %v to %v", c.from, c.to)
		waitPathsConfirmed(t, a, len(c.remotes))
		ps := a.Paths()
		for i, p := range ps {
			require.Equal(t, c.remotes[i], p.Remote, "%+v", ps)
			require.Equal(t, i == 0, p.Primary, "the INIT's destination is the primary")
			require.NotZero(t, p.PacketsIn, "the server's packets arrive from %v too", p.Remote)
			if i > 0 {
				require.NotZero(t, p.HeartbeatsAcked, "confirmed by heartbeat")
			}
		}

		sa, err := server.FindAssociation(c.to, sep.Port(), c.from, cep.Port())
		require.NoError(t, err)
		for _, p := range sa.Paths() {
			require.Contains(t, hosts, p.Local, "the server's paths send from a concrete address")
		}
		require.NoError(t, a.Send(ctx, []byte("ping"), SendInfo{}))
		require.Equal(t, "ping", string(recvCtx(t, sep).Payload))
		require.NoError(t, sa.Send(ctx, []byte("pong"), SendInfo{}))
		require.Equal(t, "pong", string(recvCtx(t, cep).Payload))
	}
	require.Len(t, sep.Associations(), len(cases))
}

// A wildcard endpoint on 0.0.0.0 reached at 127.0.0.1 and at 127.0.0.2,
// each time from the other address (the INIT-ACK must leave from the
// address the INIT went to), lists both, and both paths are confirmed.
func TestWildcardTwoAddresses(t *testing.T) {
	needLoopback2(t)
	testWildcardTwoAddresses(t, netip.IPv4Unspecified(), []netip.Addr{lo4, lo4b}, []wildcardCase{
		{from: lo4, to: lo4b, remotes: []netip.Addr{lo4b, lo4}},
		{from: lo4b, to: lo4, remotes: []netip.Addr{lo4, lo4b}},
	})
}

// The same with the sockets of platforms that cannot choose the source of
// a wildcard socket's datagrams: one socket per host address.
func TestWildcardTwoAddressesSocketPerAddress(t *testing.T) {
	needLoopback2(t)
	testWildcardTwoAddresses(t, netip.IPv4Unspecified(), []netip.Addr{lo4, lo4b}, []wildcardCase{
		{from: lo4, to: lo4b, remotes: []netip.Addr{lo4b, lo4}},
		{from: lo4b, to: lo4, remotes: []netip.Addr{lo4, lo4b}},
	}, withSocketPerAddress())
}

// ipv6Pair returns ::1 and another IPv6 address of the host. IPv6 that is
// absent is a skip only where the machine has no IPv6 at all; a machine
// that claims IPv6 but cannot bind ::1 fails.
func ipv6Pair(t *testing.T) (netip.Addr, netip.Addr) {
	t.Helper()
	lo6 := netip.IPv6Loopback()
	hosts, err := udpencap.HostAddrs(nil)
	require.NoError(t, err)
	var other netip.Addr
	claims := false
	for _, h := range hosts {
		if h.Is6() {
			claims = true
			if !h.IsLoopback() && !h.IsLinkLocalUnicast() && !other.IsValid() {
				other = h
			}
		}
	}
	if b, err := os.ReadFile("/proc/net/if_inet6"); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		claims = true
	}
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		if claims {
			t.Fatalf("the machine has IPv6 addresses but ::1 does not bind: %v", err)
		}
		t.Skipf("no IPv6 on this machine: %v", err)
	}
	_ = c.Close()
	if !other.IsValid() {
		t.Skip("IPv6 here has only ::1 and link-local addresses: no second address to reach the wildcard at")
	}
	return lo6, other
}

// The same on :: at ::1 and at another address of the host. IPv6 has one
// loopback address, so the scoping shows: a client on ::1 reaching ::1
// learns both addresses and confirms both paths; one on ::1 reaching the
// other address gets its INIT-ACK from there, not from ::1 (which would
// add a path to ::1), and ignores ::1 in its list (RFC 9260 section
// 5.1.2: a loopback address listed by a peer not on loopback).
func TestWildcardTwoAddressesIPv6(t *testing.T) {
	lo6, other := ipv6Pair(t)
	testWildcardTwoAddresses(t, netip.IPv6Unspecified(), []netip.Addr{lo6, other}, []wildcardCase{
		{from: lo6, to: lo6, remotes: []netip.Addr{lo6, other}},
		{from: lo6, to: other, remotes: []netip.Addr{other}},
	})
}

// Stack.Endpoint and FindAssociation find a wildcard endpoint under every
// address of its family, and only there.
func TestWildcardLookup(t *testing.T) {
	needLoopback2(t)
	p := newWildcardPair(t, lo4b)
	for _, at := range []netip.Addr{lo4, lo4b, netip.MustParseAddr("127.0.0.9"), netip.IPv4Unspecified()} {
		got, err := p.server.Endpoint(at, p.listener.Port())
		require.NoError(t, err, "%v", at)
		require.Same(t, p.listener, got, "%v", at)
	}
	_, err := p.server.Endpoint(netip.IPv6Loopback(), p.listener.Port())
	require.ErrorIs(t, err, ErrNotFound, "not another family")
	_, err = p.server.Endpoint(lo4, p.listener.Port()+1)
	require.ErrorIs(t, err, ErrNotFound)
	a, err := p.server.FindAssociation(lo4b, p.listener.Port(), lo4, p.dialer.Port())
	require.NoError(t, err)
	require.Same(t, p.serverAssoc, a)
	a, err = p.server.FindAssociation(netip.AddrFrom16(lo4b.As16()), p.listener.Port(), lo4, p.dialer.Port())
	require.NoError(t, err, "an IPv4-mapped address")
	require.Same(t, p.serverAssoc, a)
	_, err = p.server.FindAssociation(lo4b, p.listener.Port(), lo4, p.dialer.Port()+1)
	require.ErrorIs(t, err, ErrNotFound)
}

// newWildcardPair is newPair with the listener on 0.0.0.0 (host addresses
// 127.0.0.1 and 127.0.0.2), reached at at.
func newWildcardPair(t *testing.T, at netip.Addr) *pair {
	t.Helper()
	p := &pair{server: newStack(t, fixedHosts(lo4, lo4b)), client: newStack(t)}
	var err error
	p.listener, err = p.server.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, 0, AcceptMax(10))
	require.NoError(t, err)
	p.dialer, err = p.client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	p.clientAssoc, p.serverAssoc = connectAt(t, p.dialer, p.listener, at)
	return p
}

// connectAt connects from to the endpoint to at address at and returns
// both ends of the association.
func connectAt(t *testing.T, from, to *Endpoint, at netip.Addr) (client, server *Association) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := from.Connect(ctx, []netip.Addr{at}, to.Port(), WithRemoteUDPPort(to.Stack().UDPPort()))
	require.NoError(t, err)
	ev := waitEventType(t, to, EventUp)
	return client, ev.Association
}

// exchange checks that a message goes each way on an association.
func exchange(t *testing.T, client, server *Association) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.Send(ctx, []byte("up"), SendInfo{}))
	require.Equal(t, "up", string(recvCtx(t, server.Endpoint()).Payload))
	require.NoError(t, server.Send(ctx, []byte("down"), SendInfo{}))
	require.Equal(t, "down", string(recvCtx(t, client.Endpoint()).Payload))
}

// A wildcard and a specific endpoint on the same port coexist, whichever
// comes first: the specific one gets the INITs to its address, the
// wildcard one those to the others; an association made before the other
// endpoint came keeps working (its socket replaced by the wildcard one,
// or its packets still going to the wildcard endpoint).
func TestWildcardAndSpecific(t *testing.T) {
	needLoopback2(t)
	for _, c := range []struct {
		name          string
		specificFirst bool
		opts          []StackOption
	}{
		{"specific first", true, nil},
		{"wildcard first", false, nil},
		{"specific first, socket per address", true, []StackOption{withSocketPerAddress()}},
		{"wildcard first, socket per address", false, []StackOption{withSocketPerAddress()}},
	} {
		specificFirst := c.specificFirst
		t.Run(c.name, func(t *testing.T) {
			server, client := newStack(t, append(c.opts, fixedHosts(lo4, lo4b))...), newStack(t)
			var spec, wild *Endpoint
			var err error
			var early, earlyServer *Association
			newSpec := func(port uint16) {
				spec, err = server.NewEndpoint([]netip.Addr{lo4b}, port, AcceptMax(10))
				require.NoError(t, err)
			}
			newWild := func(port uint16) {
				wild, err = server.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, port, AcceptMax(10))
				require.NoError(t, err)
			}
			c1, err := client.NewEndpoint(nil, 0)
			require.NoError(t, err)
			if specificFirst {
				newSpec(0)
				early, earlyServer = connectAt(t, c1, spec, lo4b)
				newWild(spec.Port())
			} else {
				newWild(0)
				early, earlyServer = connectAt(t, c1, wild, lo4b)
				newSpec(wild.Port())
			}
			exchange(t, early, earlyServer)
			require.Same(t, map[bool]*Endpoint{true: spec, false: wild}[specificFirst], earlyServer.Endpoint())

			got, err := server.Endpoint(lo4b, spec.Port())
			require.NoError(t, err)
			require.Same(t, spec, got, "the specific endpoint wins for its address")
			got, err = server.Endpoint(lo4, spec.Port())
			require.NoError(t, err)
			require.Same(t, wild, got)

			c2, err := client.NewEndpoint(nil, 0)
			require.NoError(t, err)
			ca, sa := connectAt(t, c2, spec, lo4b)
			require.Same(t, spec, sa.Endpoint())
			exchange(t, ca, sa)
			c3, err := client.NewEndpoint(nil, 0)
			require.NoError(t, err)
			ca, sa = connectAt(t, c3, wild, lo4)
			require.Same(t, wild, sa.Endpoint())
			exchange(t, ca, sa)
			exchange(t, early, earlyServer)

			_, err = server.NewEndpoint([]netip.Addr{lo4b}, spec.Port())
			require.ErrorIs(t, err, ErrAddressInUse)
			_, err = server.NewEndpoint([]netip.Addr{netip.MustParseAddr("192.0.2.123")}, 0)
			require.Error(t, err, "an address that is not the host's, though the wildcard socket would take it")
			_, err = server.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, spec.Port())
			require.ErrorIs(t, err, ErrAddressInUse)
			require.Len(t, server.Stats().Sockets, 1, "the wildcard's sockets serve both")
		})
	}
}

// A UDP encapsulation port another socket holds makes NewEndpoint fail
// with ErrAddressInUse and a message that says what to do.
func TestUDPPortInUse(t *testing.T) {
	for _, local := range []netip.Addr{lo4, netip.IPv4Unspecified()} {
		t.Run(local.String(), func(t *testing.T) {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			require.NoError(t, err)
			defer c.Close()
			port := uint16(c.LocalAddr().(*net.UDPAddr).Port)
			s, err := NewStack(WithUDPPort(port))
			require.NoError(t, err)
			defer s.Close()
			_, err = s.NewEndpoint([]netip.Addr{local}, 0)
			require.ErrorIs(t, err, ErrAddressInUse)
			require.ErrorContains(t, err, "in use by another process")
			require.ErrorContains(t, err, "WithUDPPort")
		})
	}
}

// A wildcard client lists the host's addresses in its INIT; a host with
// one usable address lists none, the source address saying it (RFC 9260
// section 5.1.2); SetPathLocal takes any address of the wildcard's family.
func TestWildcardAddressLists(t *testing.T) {
	needLoopback2(t)
	t.Run("INIT", func(t *testing.T) {
		s := newStack(t, fixedHosts(lo4, lo4b, netip.IPv6Loopback()))
		ep, err := s.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, 0,
			WithRTOMin(10*time.Millisecond), WithRTOInitial(100*time.Millisecond), WithRTOMax(200*time.Millisecond),
			WithMaxInitRetransmits(30))
		require.NoError(t, err)
		r := newRawPeer(t, s)
		pc := connectTo(t, ep, r)
		_, c := r.Await(wire.ChunkInit)
		init, err := wire.ParseInit(c.Value)
		require.NoError(t, err)
		require.ElementsMatch(t, []netip.Addr{lo4, lo4b}, listedAddrs(t, init), "the host's IPv4 addresses, not its IPv6 one")
		r.Send(rawpeer.Encode(rawServerPort, ep.Port(), init.InitiateTag, initAckChunk(0xfeed0009)))
		r.Await(wire.ChunkCookieEcho)
		r.Send(rawpeer.Encode(rawServerPort, ep.Port(), init.InitiateTag, wire.AppendCookieAck(nil)))
		a, err := pc.wait(t)
		require.NoError(t, err)
		require.NoError(t, a.SetPathLocal(lo4, lo4b), "an address the wildcard serves")
		require.Equal(t, lo4b, a.Paths()[0].Local)
		require.ErrorIs(t, a.SetPathLocal(lo4, netip.IPv4Unspecified()), ErrInvalidArgument)
		require.ErrorIs(t, a.SetPathLocal(lo4, netip.IPv6Loopback()), ErrInvalidArgument)
	})
	t.Run("one usable address", func(t *testing.T) {
		s := newStack(t, fixedHosts(lo4, netip.MustParseAddr("169.254.7.7")))
		ep, err := s.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, 0, AcceptMax(1))
		require.NoError(t, err)
		r := newRawPeer(t, s)
		ack, _ := r.InitAck(4300, ep.Port(), rawpeer.SimpleInit(0x7777, 1000))
		require.Empty(t, listedAddrs(t, ack), "the link-local address is not for a loopback peer, 127.0.0.1 alone is not listed")
	})
	_, err := NewStack(WithHostAddrs(nil))
	require.ErrorIs(t, err, ErrInvalidOption)
}

// The host's address list is asked for once however many INITs arrive
// while it is fresh.
func TestHostAddrsCached(t *testing.T) {
	var calls atomic.Int32
	s := newStack(t, WithHostAddrs(func() ([]netip.Addr, error) {
		calls.Add(1)
		return []netip.Addr{lo4, lo4b, lo4}, nil
	}))
	for range 100 {
		require.Equal(t, []netip.Addr{lo4, lo4b}, s.hostAddrList(), "duplicates once")
	}
	require.Equal(t, int32(1), calls.Load())
}

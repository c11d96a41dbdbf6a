package sock

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAcceptLimitOne(t *testing.T) {
	server := newStack(t)
	client := newStack(t)
	ep, err := server.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c1, err := client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	c2, err := client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	a1, err := c1.Connect(ctx, []netip.Addr{lo4}, ep.Port(), WithRemoteUDPPort(server.UDPPort()))
	require.NoError(t, err)
	_, err = c2.Connect(ctx, []netip.Addr{lo4}, ep.Port(), WithRemoteUDPPort(server.UDPPort()))
	require.ErrorIs(t, err, ErrRefused, "refused by an ABORT, not timed out")
	require.Len(t, ep.Associations(), 1)
	require.NoError(t, a1.Send(ctx, []byte("still works"), SendInfo{}))
	require.Equal(t, "still works", string(recvCtx(t, ep).Payload))
	require.Empty(t, c2.Associations(), "the refused association left nothing behind")
}

func TestDefaultEndpointRefuses(t *testing.T) {
	server := newStack(t)
	client := newStack(t)
	ep, err := server.NewEndpoint(nil, 0) // no accept option: connects out only
	require.NoError(t, err)
	c, err := client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	_, err = c.Connect(context.Background(), []netip.Addr{lo4}, ep.Port(), WithRemoteUDPPort(server.UDPPort()))
	require.ErrorIs(t, err, ErrRefused)
}

func TestAcceptFunc(t *testing.T) {
	server := newStack(t)
	client := newStack(t)
	var mu sync.Mutex
	var seen []AcceptRequest
	ep, err := server.NewEndpoint(nil, 0, AcceptFunc(func(r AcceptRequest) bool {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r)
		return len(seen) == 1
	}))
	require.NoError(t, err)
	c, err := client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.Connect(ctx, []netip.Addr{lo4}, ep.Port(), WithRemoteUDPPort(server.UDPPort()))
	require.NoError(t, err)
	c2, err := client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	_, err = c2.Connect(ctx, []netip.Addr{lo4}, ep.Port(), WithRemoteUDPPort(server.UDPPort()))
	require.ErrorIs(t, err, ErrRefused)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 2)
	require.Equal(t, netip.AddrPortFrom(lo4, c.Port()), seen[0].Peer)
	require.Equal(t, client.UDPPort(), seen[0].Ancillary.Src.Port(), "the INIT's UDP source port")
	require.Equal(t, netip.AddrPortFrom(lo4, server.UDPPort()), seen[0].Ancillary.Local)
	require.Empty(t, seen[0].Associations)
	require.Len(t, seen[1].Associations, 1, "the callback sees the current associations")
}

func TestAddressInUse(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	_, err = s.NewEndpoint(nil, ep.Port())
	require.ErrorIs(t, err, ErrAddressInUse)
	w, err := s.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, ep.Port())
	require.NoError(t, err, "a wildcard coexists with a specific address")
	_, err = s.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, ep.Port())
	require.ErrorIs(t, err, ErrAddressInUse, "but not with another wildcard")
	_, err = s.NewEndpoint([]netip.Addr{lo4, netip.IPv4Unspecified()}, ep.Port())
	require.ErrorIs(t, err, ErrAddressInUse)
	require.NoError(t, w.Close())
	got, err := s.Endpoint(lo4, ep.Port())
	require.NoError(t, err)
	require.Same(t, ep, got, "the first endpoint is untouched")
	// It still works.
	client := newStack(t)
	c, err := client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	_, err = c.Connect(context.Background(), []netip.Addr{lo4}, ep.Port(), WithRemoteUDPPort(s.UDPPort()))
	require.NoError(t, err)
}

// TestEndpointRegistry: endpoints sharing an SCTP port on different
// addresses are found, listed and removed independently.
func TestEndpointRegistry(t *testing.T) {
	if !canBind(t, "127.0.0.2") {
		t.Skip("127.0.0.2 is not a local address here")
	}
	lo2 := netip.MustParseAddr("127.0.0.2")
	s := newStack(t)
	ep1, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	port := ep1.Port()
	ep2, err := s.NewEndpoint([]netip.Addr{lo2}, port, AcceptMax(1))
	require.NoError(t, err, "the same port on another address")
	ep3, err := s.NewEndpoint(nil, 0)
	require.NoError(t, err)
	require.Equal(t, []*Endpoint{ep1, ep2, ep3}, s.Endpoints(), "in the order of creation")

	require.NoError(t, ep2.Close())
	require.Equal(t, []*Endpoint{ep1, ep3}, s.Endpoints())
	_, err = s.Endpoint(lo2, port)
	require.ErrorIs(t, err, ErrNotFound)
	got, err := s.Endpoint(lo4, port)
	require.NoError(t, err)
	require.Same(t, ep1, got)

	// ep1 still gets its packets.
	client := newStack(t)
	c, err := client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	_, err = c.Connect(context.Background(), []netip.Addr{lo4}, port, WithRemoteUDPPort(s.UDPPort()))
	require.NoError(t, err)

	require.NoError(t, ep1.Close())
	require.NoError(t, ep3.Close())
	w, err := s.NewEndpoint([]netip.Addr{netip.IPv4Unspecified()}, port, AcceptMax(1))
	require.NoError(t, err, "the idle sockets make way for a wildcard one")
	require.Equal(t, []*Endpoint{w}, s.Endpoints())
	c2, err := client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	_, err = c2.Connect(context.Background(), []netip.Addr{lo4}, port, WithRemoteUDPPort(s.UDPPort()))
	require.NoError(t, err)
	_, err = s.NewEndpoint(nil, 0)
	require.NoError(t, err, "a specific endpoint shares the wildcard socket")
	require.NoError(t, w.Close())
	_, err = s.NewEndpoint(nil, 0)
	require.NoError(t, err)
}

func TestInvalidArguments(t *testing.T) {
	s := newStack(t)
	_, err := s.NewEndpoint([]netip.Addr{lo4, lo4}, 0)
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = s.NewEndpoint([]netip.Addr{netip.MustParseAddr("224.0.0.1")}, 0)
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = s.NewEndpoint(nil, 0, WithStreams(0, 1))
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = s.NewEndpoint(nil, 0, WithRTOMin(2*time.Second), WithRTOInitial(time.Second))
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = s.NewEndpoint(nil, 0, WithPacketSize(100))
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = s.NewEndpoint(nil, 0, AcceptMax(0))
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = NewStack(WithCookieLifetime(0))
	require.ErrorIs(t, err, ErrInvalidOption)
	ep, err := s.NewEndpoint(nil, 0)
	require.NoError(t, err)
	_, err = ep.Connect(context.Background(), nil, 1)
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = ep.Connect(context.Background(), []netip.Addr{lo4}, 0)
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = ep.Connect(context.Background(), []netip.Addr{netip.MustParseAddr("::1")}, 1)
	require.ErrorIs(t, err, ErrInvalidArgument, "no local IPv6 address")
	_, err = ep.Connect(context.Background(), []netip.Addr{lo4}, 1, WithRemoteUDPPort(0))
	require.ErrorIs(t, err, ErrInvalidOption)
}

func TestFindAndList(t *testing.T) {
	p := newPair(t)
	require.Equal(t, []*Endpoint{p.listener}, p.server.Endpoints())
	got, err := p.server.Endpoint(lo4, p.listener.Port())
	require.NoError(t, err)
	require.Same(t, p.listener, got)
	_, err = p.server.Endpoint(lo4, p.listener.Port()+1)
	require.ErrorIs(t, err, ErrNotFound)

	a, err := p.server.FindAssociation(lo4, p.listener.Port(), lo4, p.dialer.Port())
	require.NoError(t, err)
	require.Same(t, p.serverAssoc, a)
	a, err = p.client.FindAssociation(lo4, p.dialer.Port(), lo4, p.listener.Port())
	require.NoError(t, err)
	require.Same(t, p.clientAssoc, a)
	_, err = p.server.FindAssociation(lo4, p.listener.Port(), lo4, p.dialer.Port()+1)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = p.server.FindAssociation(lo4, 1, lo4, p.dialer.Port())
	require.ErrorIs(t, err, ErrNotFound)

	require.Equal(t, []*Association{p.serverAssoc}, p.listener.Associations())
	paths := p.clientAssoc.Paths()
	require.Len(t, paths, 1)
	require.Equal(t, lo4, paths[0].Remote)
	require.Equal(t, lo4, paths[0].Local)
	require.Equal(t, p.server.UDPPort(), paths[0].RemoteUDPPort)
	require.Equal(t, PathActive, paths[0].State)
	require.True(t, paths[0].Primary)
	require.NotZero(t, paths[0].PacketsOut)
	require.NotZero(t, paths[0].PacketsIn)

	// At most one association between two endpoints.
	again, err := p.dialer.Connect(context.Background(), []netip.Addr{lo4}, p.listener.Port(), WithRemoteUDPPort(p.server.UDPPort()))
	require.NoError(t, err)
	require.Same(t, p.clientAssoc, again)
}

func TestManyAssociations(t *testing.T) {
	const n = 200
	server := newStack(t)
	client := newStack(t)
	ep, err := server.NewEndpoint(nil, 0, AcceptMax(n))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			c, err := client.NewEndpoint(nil, 0)
			if err != nil {
				errs <- err
				return
			}
			a, err := c.Connect(ctx, []netip.Addr{lo4}, ep.Port(), WithRemoteUDPPort(server.UDPPort()))
			if err != nil {
				errs <- err
				return
			}
			errs <- a.Send(ctx, []byte{byte(i), byte(i >> 8)}, SendInfo{PPID: uint32(i)})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	seen := map[uint32]bool{}
	for range n {
		m := recvCtx(t, ep)
		require.Equal(t, []byte{byte(m.PPID), byte(m.PPID >> 8)}, m.Payload)
		seen[m.PPID] = true
	}
	require.Len(t, seen, n)
	require.Len(t, ep.Associations(), n)
}

func TestShutdownAndAbortEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.Run("graceful", func(t *testing.T) {
		p := newPair(t)
		require.NoError(t, p.clientAssoc.Send(ctx, []byte("last words"), SendInfo{}))
		require.NoError(t, p.clientAssoc.Shutdown(ctx))
		require.Equal(t, "last words", string(recvCtx(t, p.listener).Payload), "data sent before the shutdown is delivered")
		waitDown(t, p.listener, ReasonShutdown)
		waitDown(t, p.dialer, ReasonShutdown)
		require.Empty(t, p.listener.Associations())
		require.Empty(t, p.dialer.Associations())
		require.ErrorIs(t, p.clientAssoc.Send(ctx, []byte("x"), SendInfo{}), ErrClosed)
	})
	t.Run("abort", func(t *testing.T) {
		p := newPair(t)
		p.serverAssoc.Abort("bye")
		waitDown(t, p.listener, ReasonAborted)
		ev := waitDown(t, p.dialer, ReasonAbortedByPeer)
		require.Contains(t, ev.Detail, "bye")
	})
	t.Run("endpoint close", func(t *testing.T) {
		p := newPair(t)
		require.NoError(t, p.listener.Close())
		waitDown(t, p.dialer, ReasonAbortedByPeer)
		_, err := p.listener.Recv(ctx)
		require.ErrorIs(t, err, ErrClosed)
		_, err = p.server.Endpoint(lo4, p.listener.Port())
		require.ErrorIs(t, err, ErrNotFound)
	})
}

// waitDown waits for the next down event on ep, skipping others.
func waitDown(t *testing.T, ep *Endpoint, reason DownReason) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		ev, err := ep.Event(ctx)
		if errors.Is(err, ErrClosed) {
			t.Fatalf("endpoint closed before a down event")
		}
		require.NoError(t, err)
		if ev.Type == EventDown {
			require.Equal(t, reason, ev.Reason, "event %v", ev)
			return ev
		}
	}
}

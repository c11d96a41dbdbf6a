package sock

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLoopbackMultihome: real sockets, two addresses on each side (all of
// 127.0.0.0/8 is on the loopback interface on Linux): both paths confirmed
// by heartbeat and reported by Paths; a cut by the fault filter moves the
// data to the other path.
func TestLoopbackMultihome(t *testing.T) {
	if !canBind(t, "127.0.0.2") {
		t.Skip("127.0.0.2 is not a local address here (only Linux routes all of 127.0.0.0/8 to loopback)")
	}
	a1, a2 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	b1, b2 := netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4")
	server, client := newStack(t), newStack(t)
	opts := []EndpointOption{WithRTOMin(10 * time.Millisecond), WithRTOInitial(100 * time.Millisecond),
		WithRTOMax(time.Second), WithHeartbeatInterval(100 * time.Millisecond)}
	sep, err := server.NewEndpoint([]netip.Addr{b1, b2}, 0, append(opts, AcceptMax(1))...)
	require.NoError(t, err)
	cep, err := client.NewEndpoint([]netip.Addr{a1, a2}, 0, opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := cep.Connect(ctx, []netip.Addr{b1, b2}, sep.Port(), WithRemoteUDPPort(server.UDPPort()))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ps := a.Paths()
		return len(ps) == 2 && ps[0].State == PathActive && ps[1].State == PathActive
	}, 10*time.Second, 10*time.Millisecond, "both paths confirmed: %+v", a.Paths())
	ps := a.Paths()
	require.Equal(t, []netip.Addr{b1, b2}, []netip.Addr{ps[0].Remote, ps[1].Remote})
	require.True(t, ps[0].Primary)
	require.NotZero(t, ps[1].HeartbeatsAcked)
	require.Equal(t, server.UDPPort(), ps[1].RemoteUDPPort)

	// Cut the primary path (both directions) with the fault filter.
	client.SetFaultFilter(func(local netip.Addr, remote netip.AddrPort, inbound bool) bool {
		return remote.Addr() == b1
	})
	for i := range 20 {
		require.NoError(t, a.Send(ctx, []byte{byte(i)}, SendInfo{}))
	}
	for i := range 20 {
		m := recvCtx(t, sep)
		require.Equal(t, []byte{byte(i)}, m.Payload)
	}
	require.Eventually(t, func() bool { return a.Paths()[1].InUse }, 10*time.Second, 10*time.Millisecond)
	require.NotZero(t, client.Stats().FaultDrops)
	client.SetFaultFilter(nil)
}

func canBind(t *testing.T, addr string) bool {
	s, err := NewStack(WithUDPPort(0))
	require.NoError(t, err)
	defer s.Close()
	_, err = s.NewEndpoint([]netip.Addr{netip.MustParseAddr(addr)}, 0)
	return err == nil
}

func TestPathSettersAndStats(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	require.NoError(t, p.clientAssoc.Send(ctx, []byte("x"), SendInfo{}))
	recvCtx(t, p.listener)
	// pion counts the bytes once its write returns, which may be after
	// the peer read them.
	require.Eventually(t, func() bool { return p.clientAssoc.Stats().BytesSent > 0 }, 5*time.Second, time.Millisecond)
	st := p.clientAssoc.Stats()
	require.NotZero(t, st.CWND)
	require.Equal(t, uint64(1), st.MessagesOut)
	es := p.listener.Stats()
	require.Equal(t, 1, es.Associations)
	require.Zero(t, es.RecvQueued)

	require.ErrorIs(t, p.clientAssoc.SetPathLocal(lo4, netip.MustParseAddr("127.0.0.9")), ErrInvalidArgument)
	require.ErrorIs(t, p.clientAssoc.SetPathLocal(netip.MustParseAddr("127.0.0.9"), lo4), ErrNotFound)
	require.NoError(t, p.clientAssoc.SetPathLocal(lo4, lo4))
	require.ErrorIs(t, p.clientAssoc.SetPathUDPPort(lo4, 0), ErrInvalidArgument)
	// A wrong port set by hand is corrected by the next packet from the
	// peer (RFC 6951 section 5.4).
	require.NoError(t, p.clientAssoc.SetPathUDPPort(lo4, 1))
	require.Equal(t, uint16(1), p.clientAssoc.Paths()[0].RemoteUDPPort)
	require.NoError(t, p.serverAssoc.Send(ctx, []byte("y"), SendInfo{}))
	recvCtx(t, p.dialer)
	require.Equal(t, p.server.UDPPort(), p.clientAssoc.Paths()[0].RemoteUDPPort)
}

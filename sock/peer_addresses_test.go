package sock

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/multihome"
	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// manyAddresses returns n address parameters for loopback addresses other
// than 127.0.0.1 (a loopback source may list loopback addresses).
func manyAddresses(n int) []wire.Param {
	var ps []wire.Param
	for i := range n {
		ps = append(ps, wire.AddressParam(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)})))
	}
	return ps
}

// probesToUnconfirmed sums the heartbeats sent on the unconfirmed paths.
func probesToUnconfirmed(a *Association) uint64 {
	var n uint64
	for _, p := range a.Paths() {
		if p.State == PathUnconfirmed {
			n += p.HeartbeatsSent
		}
	}
	return n
}

// checkBoundedPaths checks an association made from an INIT or INIT-ACK
// listing listed addresses nobody answers from: at most
// multihome.MaxPeerAddresses paths, the rest counted as excess, and one
// probe at a time to the unconfirmed ones (RFC 9260 section 5.4: "The
// number of packets containing HEARTBEAT chunks sent at each RTO SHOULD be
// limited by the 'HB.Max.Burst' parameter"; HB.Max.Burst is 1). The RTO
// is 20 s, so in the time the test runs only the first probe is due.
func checkBoundedPaths(t *testing.T, s *Stack, a *Association, listed int) {
	t.Helper()
	paths := a.Paths()
	require.Len(t, paths, multihome.MaxPeerAddresses)
	require.Equal(t, lo4, paths[0].Remote, "the packet's source first")
	require.Equal(t, uint64(listed-(multihome.MaxPeerAddresses-1)), s.Stats().Drops[DropExcessAddress])
	require.Eventually(t, func() bool { return probesToUnconfirmed(a) >= 1 }, 5*time.Second, time.Millisecond,
		"the first probe goes at once")
	time.Sleep(100 * time.Millisecond) // a burst would be out by now
	require.Equal(t, uint64(1), probesToUnconfirmed(a), "HB.Max.Burst: one probe per RTO")
}

// TestInitListingManyAddresses: an INIT listing 300 addresses gives the
// listener's association 16 paths, not 300, and no burst of heartbeats.
func TestInitListingManyAddresses(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1), WithRTOInitial(20*time.Second))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort, tag = 4500, 0x3131
	const listed = 300
	r.Establish(peerPort, ep.Port(), wire.Init{InitiateTag: tag, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1000, Params: manyAddresses(listed)})
	require.Len(t, ep.Associations(), 1)
	a := ep.Associations()[0]
	checkBoundedPaths(t, s, a, listed)
	a.Abort("done")
}

// TestInitAckListingManyAddresses: the same for the initiator, from an
// INIT-ACK listing 300 addresses.
func TestInitAckListingManyAddresses(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, WithRTOInitial(20*time.Second))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort, tag = 4600, 0x4141
	const listed = 300
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type result struct {
		a   *Association
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := ep.Connect(ctx, []netip.Addr{lo4}, peerPort, WithRemoteUDPPort(r.UDPPort()))
		done <- result{a, err}
	}()
	hdr, c := rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkInit, c.Type)
	init, err := wire.ParseInit(c.Value)
	require.NoError(t, err)
	ack := wire.Init{InitiateTag: tag, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 2000,
		Params: append(manyAddresses(listed), wire.StateCookieParam([]byte("cookie")))}
	r.Send(rawpeer.Encode(peerPort, hdr.SrcPort, init.InitiateTag, must(ack.Append(nil, wire.ChunkInitAck))))
	_, c = rawpeer.FirstChunk(t, r.Recv(5*time.Second))
	require.Equal(t, wire.ChunkCookieEcho, c.Type)
	r.Send(rawpeer.Encode(peerPort, hdr.SrcPort, init.InitiateTag, wire.AppendCookieAck(nil)))
	res := <-done
	require.NoError(t, res.err)
	checkBoundedPaths(t, s, res.a, listed)
	res.a.Abort("done")
}

// TestConnectTooManyAddresses: Connect takes at most
// multihome.MaxPeerAddresses remote addresses.
func TestConnectTooManyAddresses(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0)
	require.NoError(t, err)
	var remote []netip.Addr
	for i := range multihome.MaxPeerAddresses + 1 {
		remote = append(remote, netip.AddrFrom4([4]byte{127, 2, 0, byte(i + 1)}))
	}
	_, err = ep.Connect(context.Background(), remote, 9, WithRemoteUDPPort(9))
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Empty(t, ep.Associations())
}

package sock

import (
	"encoding/json"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
)

// TestReceivePanicRecovered proves the receive path's last line of
// defence: a panic while handling a datagram (here from a fault filter,
// which runs on that path) is recovered, counted as DropPanic and the
// socket goes on reading.
func TestReceivePanicRecovered(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	var boom atomic.Bool
	s.SetFaultFilter(func(local netip.Addr, remote netip.AddrPort, inbound bool) bool {
		if inbound && boom.Load() {
			panic("injected")
		}
		return false
	})
	boom.Store(true)
	r := newRawPeer(t, s)
	r.Send(rawpeer.Encode(4000, ep.Port(), 0, rawpeer.InitChunk(rawpeer.SimpleInit(0x1234, 1))))
	require.Eventually(t, func() bool { return s.Stats().Drops[DropPanic] == 1 }, 5*time.Second, 5*time.Millisecond)
	s.SetFaultFilter(nil)
	// The socket still reads: the next INIT is answered.
	ack, _ := r.InitAck(4000, ep.Port(), rawpeer.SimpleInit(0x5678, 1000))
	require.NotZero(t, ack.InitiateTag)
}

func TestDropReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range DropReasons() {
		n := r.String()
		require.NotEmpty(t, n)
		require.False(t, seen[n], "duplicate name %q", n)
		seen[n] = true
		var back DropReason
		require.NoError(t, back.UnmarshalText([]byte(n)))
		require.Equal(t, r, back)
	}
	b, err := json.Marshal(map[DropReason]uint64{DropWrongTag: 3})
	require.NoError(t, err)
	require.JSONEq(t, `{"wrong_tag":3}`, string(b))
	var bad DropReason
	require.ErrorIs(t, bad.UnmarshalText([]byte("nope")), ErrInvalidArgument)
}

package sock

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStreamResetThenReuse: the client sends on stream 3, resets it (RFC
// 6525), and sends on stream 3 again. The server gets every message, in
// order, the ones after the reset included.
func TestStreamResetThenReuse(t *testing.T) {
	p := newPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const perRound, rounds = 20, 3
	for r := range rounds {
		for i := range perRound {
			msg := fmt.Sprintf("%d/%d", r, i)
			require.NoError(t, p.clientAssoc.Send(ctx, []byte(msg), SendInfo{Stream: 3, PPID: 7}), "send %s", msg)
			// Another stream alongside, never reset.
			require.NoError(t, p.clientAssoc.Send(ctx, []byte(msg), SendInfo{Stream: 1, PPID: 7}), "send %s", msg)
		}
		require.NoError(t, p.clientAssoc.ResetStream(3))
	}
	next := map[uint16]int{}
	for range 2 * perRound * rounds {
		m, err := p.listener.Recv(ctx)
		require.NoError(t, err, "after %v", next)
		n := next[m.Stream]
		require.Equal(t, fmt.Sprintf("%d/%d", n/perRound, n%perRound), string(m.Payload), "stream %d", m.Stream)
		next[m.Stream]++
	}
	require.Equal(t, map[uint16]int{1: perRound * rounds, 3: perRound * rounds}, next)
}

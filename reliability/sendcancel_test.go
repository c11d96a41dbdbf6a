package reliability

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/sock"
)

// TestSendErrorMeansNotSent: when Send returns an error the message must
// not be delivered: a caller that retries would send it twice. Contexts are
// cancelled while Sends run; every delivered message must have had a
// successful Send.
//
// Send once replaced a successful write with ctx.Err() when the context
// ended around it: the message was queued and delivered, yet Send reported
// context.Canceled (seen in the soak at every stop).
func TestSendErrorMeansNotSent(t *testing.T) {
	p := testkit.NewLoopPair(t)
	const rounds = 300
	var mu sync.Mutex
	failed := map[uint32]bool{}
	seq := uint32(0)
	for r := range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(time.Duration(r%50) * 20 * time.Microsecond)
			cancel()
		}()
		for ctx.Err() == nil {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], seq)
			if err := p.Client.Send(ctx, b[:], sock.SendInfo{Stream: 1}); err != nil {
				mu.Lock()
				failed[seq] = true
				mu.Unlock()
			}
			seq++
		}
		cancel()
	}
	// Every message: delivered iff its Send succeeded.
	delivered := map[uint32]bool{}
	for {
		m, ok := recvWithin(p.Listener, 2*time.Second)
		if !ok {
			break
		}
		delivered[binary.BigEndian.Uint32(m.Payload)] = true
	}
	var wrong []uint32
	for s := range seq {
		if delivered[s] == failed[s] {
			wrong = append(wrong, s)
		}
	}
	t.Logf("%d sends, %d failed, %d delivered", seq, len(failed), len(delivered))
	require.Empty(t, wrong, "messages delivered although Send failed, or lost although it succeeded")
}

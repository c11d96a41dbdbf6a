package sock

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSlowReaderBackpressure: a receiver that does not read makes the
// sender block (its Send times out) after a bounded amount of data; once
// the receiver reads, everything arrives, in order, nothing lost.
func TestSlowReaderBackpressure(t *testing.T) {
	const recvQueue, window, size = 4, 32 * 1024, 1024
	p := newPair(t, WithRecvQueue(recvQueue), WithReceiveBuffer(window), WithMaxMessageSize(size))
	sent := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		msg := make([]byte, size)
		binary.BigEndian.PutUint32(msg, uint32(sent))
		err := p.clientAssoc.Send(ctx, msg, SendInfo{Stream: 1})
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		require.NoError(t, err)
		sent++
		// The bound: the receive queue, a reader's message in hand, pion's
		// window on both sides and one message pending in pion's send
		// queue, with room for pion's own accounting; an unbounded sender
		// would go on forever.
		require.Less(t, sent, 4*(recvQueue+2+2*window/size), "the sender never blocked")
	}
	t.Logf("sender blocked after %d messages of %d bytes", sent, size)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range sent {
		m, err := p.listener.Recv(ctx)
		require.NoError(t, err)
		require.Equal(t, uint32(i), binary.BigEndian.Uint32(m.Payload), "in order, none lost")
	}
	// The association still works after the window reopened.
	require.NoError(t, p.clientAssoc.Send(ctx, []byte("after"), SendInfo{Stream: 1}))
	for {
		m, err := p.listener.Recv(ctx)
		require.NoError(t, err)
		if string(m.Payload) == "after" {
			break
		}
	}
}

// TestCloseWithFullQueue: closing an endpoint whose receive queue is full
// (readers blocked on it) returns and leaks nothing.
func TestCloseWithFullQueue(t *testing.T) {
	p := newPair(t, WithRecvQueue(1))
	ctx := context.Background()
	for i := range 4 {
		require.NoError(t, p.clientAssoc.Send(ctx, []byte{byte(i)}, SendInfo{Stream: uint16(i)}))
	}
	require.Eventually(t, func() bool { return p.listener.recvq.len() == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, p.listener.Close())
}

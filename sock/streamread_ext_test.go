package sock_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/sock"
)

// A stream's messages are read on pion's read loop once it handled the
// packet: no reader goroutine runs for a stream whose messages all went to
// the receive queue.
func TestStreamReadWithoutReaderGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		et := newEngineTest(t)
		for i := range 3 {
			et.write(et.data(0, 0, []byte{byte(i)}))
			require.Equal(t, []byte{byte(i)}, et.recv().Payload)
			synctest.Wait()
			require.Zero(t, sock.ReadersRunning(et.assoc), "after message %d", i)
		}
	})
}

// A message the receive queue has no room for waits in a reader
// goroutine, which ends once it delivered it and nothing else is ready.
func TestReaderWaitsForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		et := newEngineTest(t, sock.WithRecvQueue(1))
		et.write(et.data(0, 0, []byte("one")), et.data(0, 0, []byte("two")))
		synctest.Wait()
		require.Equal(t, 1, sock.ReadersRunning(et.assoc), "the second message waits for room")
		require.Equal(t, "one", string(et.recv().Payload))
		require.Equal(t, "two", string(et.recv().Payload))
		synctest.Wait()
		require.Zero(t, sock.ReadersRunning(et.assoc))
		et.write(et.data(0, 0, []byte("three")))
		require.Equal(t, "three", string(et.recv().Payload), "read again once the reader ended")
	})
}

// An ordered message held back by a gap waits in pion, with no reader
// goroutine, until the gap fills: then both are delivered, in order.
func TestOrderGapWaitsInPion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		et := newEngineTest(t)
		first := rawpeer.Data(et.tsn, 0, 0, wire.FlagDataBeginning|wire.FlagDataEnd, []byte("first"))
		second := rawpeer.Data(et.tsn+1, 0, 1, wire.FlagDataBeginning|wire.FlagDataEnd, []byte("second"))
		et.tsn += 2
		et.write(second)
		synctest.Wait()
		require.Zero(t, sock.ReadersRunning(et.assoc))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := et.ep.Recv(ctx)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "the second message waits for the first")

		et.write(first)
		require.Equal(t, "first", string(et.recv().Payload))
		require.Equal(t, "second", string(et.recv().Payload))
	})
}

// A duplicate of a message already read wakes no reader: pion delivers it
// no second time, and the stack answers it with a SACK listing it.
func TestReaderNotWokenByDuplicate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		et := newEngineTest(t)
		msg := et.data(0, 0, []byte("once"))
		et.write(msg)
		require.Equal(t, "once", string(et.recv().Payload))
		et.advance(time.Second) // the delayed SACK
		et.want(wire.ChunkSack)
		et.write(msg)
		sack := et.sack(et.want(wire.ChunkSack))
		require.Equal(t, 1, sack.NumDupTSNs())
		require.Zero(t, sock.ReadersRunning(et.assoc))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := et.ep.Recv(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded, "delivered once")
	})
}

// A Send that waits for a stream reset to complete (ResetStream) fails
// when the association ends, though the stream's reader, not running,
// never retires the stream.
func TestSendAfterResetEndsWithAssociation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		et := newEngineTest(t)
		et.send([]byte("before"))
		require.NoError(t, et.assoc.ResetStream(0))
		errc := make(chan error, 1)
		go func() { errc <- et.assoc.Send(context.Background(), []byte("after"), sock.SendInfo{}) }()
		synctest.Wait()
		select {
		case err := <-errc:
			t.Fatalf("Send returned before the peer reset its side: %v", err)
		default:
		}
		require.Zero(t, sock.ReadersRunning(et.assoc))
		et.write(must(wire.AppendChunk(nil, wire.ChunkAbort, 0, nil)))
		synctest.Wait()
		select {
		case err := <-errc:
			require.Error(t, err)
			require.True(t, errors.Is(err, sock.ErrNotEstablished) || errors.Is(err, sock.ErrAborted), "%v", err)
		default:
			t.Fatal("Send still waits after the association ended")
		}
	})
}

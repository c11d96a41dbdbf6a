package sock_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/sock"
)

// TestSendFailedOnCommunicationLost: with every path cut, the messages
// sent into the void are reported when the association gives up (RFC 9260
// section 8.1), before its EventDown.
func TestSendFailedOnCommunicationLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := testkit.NewWorld(t, vnetSeed)
		client, _, cep, _ := mhPair(t, w, tuned()...)
		w.SetCut(1, true)
		w.SetCut(2, true)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		require.NoError(t, client.Send(ctx, []byte("into"), sock.SendInfo{Stream: 1, Context: 1}))
		require.NoError(t, client.Send(ctx, []byte("the void"), sock.SendInfo{Stream: 2, Context: 2}))
		var failed []sock.Event
		for {
			ev, err := cep.Event(ctx)
			require.NoError(t, err)
			if ev.Association != client {
				continue
			}
			if ev.Type == sock.EventSendFailed {
				failed = append(failed, ev)
			}
			if ev.Type == sock.EventDown {
				require.Equal(t, sock.ReasonCommunicationLost, ev.Reason)
				break
			}
		}
		require.Len(t, failed, 2, "both messages reported before EventDown")
		for i, ev := range failed {
			require.Equal(t, uint32(i+1), ev.Context)
			require.True(t, strings.HasPrefix(ev.Detail, "unacknowledged: association down (communication lost"), ev.Detail)
		}
	})
}

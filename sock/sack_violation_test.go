package sock

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// establishRawPeer runs the handshake from a raw peer and has the stack send
// one message; it returns the association and the TSN of that DATA.
func establishRawPeer(t *testing.T, s *Stack, ep *Endpoint, r *rawpeer.Peer, peerPort uint16, tag uint32) (*Association, wire.Init, uint32) {
	t.Helper()
	ack := r.Establish(peerPort, ep.Port(), wire.Init{InitiateTag: tag, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1000})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev, err := ep.Event(ctx)
	require.NoError(t, err)
	require.Equal(t, EventUp, ev.Type)
	a := ev.Association
	require.NoError(t, a.Send(ctx, []byte("one"), SendInfo{}))
	for {
		pkt := r.Recv(5 * time.Second)
		require.NotNil(t, pkt, "the DATA")
		it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
		for it.Next() {
			if tsn, ok := wire.PeekDataTSN(it.Chunk()); ok && it.Chunk().Type == wire.ChunkData {
				require.Equal(t, ack.InitialTSN, tsn, "the first DATA has the INIT-ACK's initial TSN")
				return a, ack, tsn
			}
		}
	}
}

// TestSackForUnsentTSN: RFC 9260 section 12.4, "An SCTP implementation
// MUST abort the association if it receives a SACK chunk acknowledging a
// TSN that has not been sent." The ABORT carries a Protocol Violation
// cause; the user gets EventDown with ReasonAborted and why.
func TestSackForUnsentTSN(t *testing.T) {
	for _, c := range []struct {
		name string
		sack func(tsn uint32) []byte
		want string
	}{
		{"cumulative TSN ack", func(tsn uint32) []byte { return must(wire.AppendSack(nil, tsn+5, 65536, nil, nil)) }, "TSN"},
		{"gap ack block", func(tsn uint32) []byte {
			return must(wire.AppendSack(nil, tsn, 65536, []wire.GapAckBlock{{Start: 2, End: 3}}, nil))
		}, "TSN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t)
			ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
			require.NoError(t, err)
			r := newRawPeer(t, s)
			const peerPort, tag = 4700, 0x5151
			a, _, tsn := establishRawPeer(t, s, ep, r, peerPort, tag)
			r.Send(rawpeer.Encode(peerPort, ep.Port(), a.localTag, c.sack(tsn)))
			var abort wire.Abort
			for {
				pkt := r.Recv(5 * time.Second)
				require.NotNil(t, pkt, "an ABORT")
				hdr, ch := rawpeer.FirstChunk(t, pkt)
				if ch.Type != wire.ChunkAbort {
					continue // a retransmission of the DATA
				}
				require.Equal(t, uint32(tag), hdr.VerificationTag)
				abort, err = wire.ParseAbort(ch)
				require.NoError(t, err)
				break
			}
			require.Len(t, abort.Causes, 1)
			require.Equal(t, wire.CauseProtocolViolation, abort.Causes[0].Code)
			require.Contains(t, string(abort.Causes[0].Info), "never sent")
			<-a.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for {
				ev, err := ep.Event(ctx)
				require.NoError(t, err)
				if ev.Type == EventDown {
					require.Equal(t, ReasonAborted, ev.Reason)
					require.True(t, strings.Contains(ev.Detail, "never sent"), "detail %q", ev.Detail)
					break
				}
			}
			require.Empty(t, ep.Associations())
		})
	}
}

// TestSackForSentTSN: a SACK for what was sent is no violation.
func TestSackForSentTSN(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const peerPort, tag = 4800, 0x6161
	a, _, tsn := establishRawPeer(t, s, ep, r, peerPort, tag)
	r.Send(rawpeer.Encode(peerPort, ep.Port(), a.localTag, must(wire.AppendSack(nil, tsn, 65536, nil, nil))))
	r.Send(rawpeer.Encode(peerPort, ep.Port(), a.localTag, must(wire.AppendSack(nil, tsn-1, 65536, nil, nil)))) // old: ignored
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.Send(ctx, []byte("two"), SendInfo{}))
	for {
		pkt := r.Recv(5 * time.Second)
		require.NotNil(t, pkt, "the second DATA")
		_, ch := rawpeer.FirstChunk(t, pkt)
		require.NotEqual(t, wire.ChunkAbort, ch.Type)
		if got, ok := wire.PeekDataTSN(ch); ok && ch.Type == wire.ChunkData && got == tsn+1 {
			break
		}
	}
	require.Equal(t, StateEstablished, a.State())
	a.Abort("done")
}

// sackView returns the view of a SACK chunk with cum and gaps.
func sackView(t *testing.T, cum uint32, gaps ...wire.GapAckBlock) wire.SackView {
	t.Helper()
	c := must(wire.AppendSack(nil, cum, 1000, gaps, nil))
	it := wire.NewChunkIter(c)
	require.True(t, it.Next())
	v, err := wire.ParseSackView(it.Chunk().Value)
	require.NoError(t, err)
	return v
}

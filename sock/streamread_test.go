package sock

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// A FORWARD-TSN that skips the ordered message another one waits for
// (RFC 3758 section 3.6) makes pion deliver the one that waited: the
// packet has no DATA, so only the stream it names says what to read.
func TestForwardTSNReleasesWaitingMessage(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	r := newRawPeer(t, s)
	const port = 4710
	ack := r.Establish(port, ep.Port(), wire.Init{InitiateTag: 0x7f7f, ARwnd: 1 << 20, OutStreams: 4, InStreams: 4, InitialTSN: 1,
		Params: []wire.Param{wire.ForwardTSNSupportedParam()}})
	send := func(chunks ...[]byte) { r.Send(rawpeer.Encode(port, ep.Port(), ack.InitiateTag, chunks...)) }

	// TSN 1 (stream 0, SSN 0) never comes; TSN 2 is SSN 1.
	send(rawpeer.Data(2, 0, 1, wire.FlagDataBeginning|wire.FlagDataEnd, []byte("after the gap")))
	// New Cumulative TSN 1, and stream 0 skips up to SSN 0.
	fwd := binary.BigEndian.AppendUint32(nil, 1)
	fwd = binary.BigEndian.AppendUint16(fwd, 0)
	fwd = binary.BigEndian.AppendUint16(fwd, 0)
	send(must(wire.AppendChunk(nil, wire.ChunkForwardTSN, 0, fwd)))

	m := recvCtx(t, ep)
	require.Equal(t, "after the gap", string(m.Payload))
	require.Equal(t, uint16(0), m.Stream)
}

package sock

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

func TestSetImmediateSack(t *testing.T) {
	sack := must(wire.AppendSack(nil, 1, 1000, nil, nil))
	pkt := rawpeer.Encode(1, 2, 3, sack, rawpeer.Message(7, 0, 0, "odd"), rawpeer.Message(8, 1, 0, "four"))
	hb, shut, tracked := markOutbound(pkt, true)
	require.False(t, hb)
	require.False(t, shut)
	require.True(t, tracked, "DATA is the send tracker's")
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	var flags []uint8
	for it.Next() {
		flags = append(flags, it.Chunk().Flags)
	}
	require.NoError(t, it.Err())
	require.Equal(t, []uint8{0, 0x03 | 0x08, 0x03 | 0x08}, flags, "the I bit on DATA only")

	hbPkt := rawpeer.Encode(1, 2, 3, must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("x"))), wire.AppendShutdownAck(nil), rawpeer.Message(9, 0, 0, "z"))
	hb, shut, _ = markOutbound(hbPkt, false)
	require.True(t, hb)
	require.True(t, shut)
	_, _, tracked = markOutbound(rawpeer.Encode(1, 2, 3, sack), false)
	require.False(t, tracked, "a lone SACK is not")
	_, _, tracked = markOutbound(rawpeer.Encode(1, 2, 3, must(wire.AppendChunk(nil, wire.ChunkForwardTSN, 0, []byte{0, 0, 0, 9}))), false)
	require.True(t, tracked, "FORWARD-TSN is")
	it = wire.NewChunkIter(hbPkt[wire.CommonHeaderSize:])
	for it.Next() {
		if it.Chunk().Type == wire.ChunkData {
			require.Equal(t, uint8(0x03), it.Chunk().Flags, "no I bit unless asked")
		}
	}
}

func TestDropChunks(t *testing.T) {
	hb := must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("x")))
	pkt := rawpeer.Encode(1, 2, 3, hb, rawpeer.Message(7, 0, 0, "odd"), hb)
	out := dropChunks(pkt, wire.ChunkHeartbeat)
	it := wire.NewChunkIter(out[wire.CommonHeaderSize:])
	n := 0
	for it.Next() {
		require.Equal(t, wire.ChunkData, it.Chunk().Type)
		n++
	}
	require.NoError(t, it.Err())
	require.Equal(t, 1, n)
	require.Len(t, dropChunks(rawpeer.Encode(1, 2, 3, hb), wire.ChunkHeartbeat), wire.CommonHeaderSize)
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

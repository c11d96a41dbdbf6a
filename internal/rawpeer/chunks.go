package rawpeer

import (
	"encoding/binary"
	"testing"

	"github.com/usock/usock/internal/wire"
)

// PPID is the Payload Protocol Identifier of the DATA chunks Message
// builds.
const PPID = 51

// must returns v, or panics with err: for encoders whose input the
// caller knows to fit.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Encode is a packet from SCTP port src to dst with Verification Tag tag
// carrying chunks, its CRC32c filled in (RFC 9260 sections 3.1, 6.8).
func Encode(src, dst uint16, tag uint32, chunks ...[]byte) []byte {
	pkt := wire.NewPacket(nil, wire.CommonHeader{SrcPort: src, DstPort: dst, VerificationTag: tag})
	for _, c := range chunks {
		pkt = append(pkt, c...)
	}
	return wire.Finish(pkt)
}

// SimpleInit is an INIT with Initiate Tag tag, Initial TSN tsn, an
// a_rwnd of 64 KiB, four streams each way and no parameters.
func SimpleInit(tag, tsn uint32) wire.Init {
	return wire.Init{InitiateTag: tag, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: tsn}
}

// InitChunk is the INIT chunk of in.
func InitChunk(in wire.Init) []byte { return must(in.Append(nil, wire.ChunkInit)) }

// Data is a DATA chunk (RFC 9260 section 3.3.1) of PPID 51 with the
// given flags (wire.FlagDataBeginning, wire.FlagDataEnd, ...).
func Data(tsn uint32, stream, ssn uint16, flags byte, payload []byte) []byte {
	v := make([]byte, 12, 12+len(payload))
	binary.BigEndian.PutUint32(v[0:], tsn)
	binary.BigEndian.PutUint16(v[4:], stream)
	binary.BigEndian.PutUint16(v[6:], ssn)
	binary.BigEndian.PutUint32(v[8:], PPID)
	return must(wire.AppendChunk(nil, wire.ChunkData, flags, append(v, payload...)))
}

// Message is a DATA chunk holding a whole ordered message: the B and E
// bits set.
func Message(tsn uint32, stream, ssn uint16, payload string) []byte {
	return Data(tsn, stream, ssn, wire.FlagDataBeginning|wire.FlagDataEnd, []byte(payload))
}

// FirstChunk returns a packet's common header and first chunk; pkt nil
// (nothing arrived) fails the test.
func FirstChunk(t testing.TB, pkt []byte) (wire.CommonHeader, wire.Chunk) {
	t.Helper()
	if pkt == nil {
		t.Fatal("expected a packet")
	}
	hdr, err := wire.ParseCommonHeader(pkt)
	if err != nil {
		t.Fatalf("packet %x: %v", pkt, err)
	}
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	if !it.Next() {
		t.Fatalf("packet without a chunk: %x (%v)", pkt, it.Err())
	}
	return hdr, it.Chunk()
}

// Chunks returns every chunk of a well-formed packet, each value a copy.
func Chunks(t testing.TB, pkt []byte) []wire.Chunk {
	t.Helper()
	var out []wire.Chunk
	it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
	for it.Next() {
		c := it.Chunk()
		out = append(out, wire.Chunk{Type: c.Type, Flags: c.Flags, Value: append([]byte(nil), c.Value...)})
	}
	if err := it.Err(); err != nil {
		t.Fatalf("packet %x: %v", pkt, err)
	}
	return out
}

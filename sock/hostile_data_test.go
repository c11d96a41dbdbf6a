package sock

import (
	"bytes"
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
)

// DATA chunk flags (RFC 9260 section 3.3.1).
const (
	fragEnd   = 0x01
	fragBegin = 0x02
	fragWhole = fragBegin | fragEnd
	unordered = 0x04
	sackNow   = 0x08 // the I bit (RFC 7053)
)

// hostilePeer is a rawPeer with an association it made by hand.
type hostilePeer struct {
	*rawpeer.Peer
	t        testing.TB
	port     uint16 // the peer's SCTP port
	epPort   uint16
	tag      uint32 // the stack's verification tag, for the packets we send
	tsn      uint32 // our initial TSN
	assoc    *Association
	endpoint *Endpoint
}

// newHostilePeer completes a handshake with ep by hand, announcing os
// outbound streams, and returns the peer and the association.
func newHostilePeer(t testing.TB, s *Stack, ep *Endpoint, port uint16, tag uint32, os uint16) *hostilePeer {
	t.Helper()
	r := newRawPeer(t, s)
	const initialTSN = 1000
	ack := r.Establish(port, ep.Port(), wire.Init{InitiateTag: tag, ARwnd: 1 << 20, OutStreams: os, InStreams: 4, InitialTSN: initialTSN})
	h := &hostilePeer{Peer: r, t: t, port: port, epPort: ep.Port(), tag: ack.InitiateTag, tsn: initialTSN, endpoint: ep}
	require.Eventually(t, func() bool {
		for _, a := range ep.Associations() {
			if a.peerTagValue() == tag {
				h.assoc = a
				return true
			}
		}
		return false
	}, 5*time.Second, time.Millisecond)
	return h
}

// sendChunks sends chunks in one packet.
func (h *hostilePeer) sendChunks(chunks ...[]byte) {
	h.Send(rawpeer.Encode(h.port, h.epPort, h.tag, chunks...))
}

// sack reads packets until a SACK for which ok holds and returns it; it
// fails the test if none comes.
func (h *hostilePeer) sack(ok func(wire.SackView) bool) wire.SackView {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		pkt := h.Recv(time.Until(deadline))
		if pkt == nil {
			break
		}
		it := wire.NewChunkIter(pkt[wire.CommonHeaderSize:])
		for it.Next() {
			if c := it.Chunk(); c.Type == wire.ChunkSack {
				v, err := wire.ParseSackView(append([]byte(nil), c.Value...))
				require.NoError(h.t, err)
				if ok(v) {
					return v
				}
			}
		}
	}
	h.t.Fatal("no such SACK")
	return wire.SackView{}
}

// sackWith waits for the SACK that shows every TSN in tsns received.
func (h *hostilePeer) sackWith(tsns ...uint32) wire.SackView {
	h.t.Helper()
	return h.sack(func(v wire.SackView) bool {
		for _, t := range tsns {
			if !serialLE(t, v.CumTSNAck()) && !inGapBlocks(v, v.CumTSNAck(), t) {
				return false
			}
		}
		return true
	})
}

// acked counts the TSNs a SACK shows received above its cumulative TSN.
func acked(v wire.SackView) int {
	n := 0
	for i := range v.NumGapBlocks() {
		s, e := v.GapBlock(i)
		n += int(e) - int(s) + 1
	}
	return n
}

func (h *hostilePeer) abort() {
	h.sendChunks(must(wire.Abort{}.Append(nil)))
	<-h.assoc.Done()
}

// sendInvalidStreams sends n one-byte messages, each on a new stream
// identifier from first on, 50 to a packet, and waits until each packet is
// acknowledged. It returns the next TSN.
func (h *hostilePeer) sendInvalidStreams(tsn uint32, first, n int, flags byte) uint32 {
	for i := 0; i < n; {
		var chunks [][]byte
		for ; i < n && len(chunks) < 50; i++ {
			chunks = append(chunks, rawpeer.Data(tsn, uint16(first+i), 0, flags, []byte{byte(i)}))
			tsn++
		}
		chunks[len(chunks)-1][1] |= sackNow
		h.sendChunks(chunks...)
		h.sackWith(tsn - 1)
	}
	return tsn
}

// TestInvalidStreamIDsStartNoReader: DATA on thousands of stream
// identifiers at or above the negotiated inbound count is acknowledged
// (RFC 9260 section 6.5: "the endpoint MUST acknowledge the reception of
// the DATA chunk following the normal procedure, immediately send an
// ERROR chunk with cause set to "Invalid Stream Identifier" ..., and
// discard the DATA chunk"), counted, and starts no goroutine per
// identifier: they all go to one sink stream.
func TestInvalidStreamIDsStartNoReader(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	g0 := runtime.NumGoroutine()
	h := newHostilePeer(t, s, ep, 4300, 0x1234, 0xffff)
	_, in := h.assoc.Streams()
	require.Equal(t, uint16(DefaultStreams), in)

	const n = 2000
	next := h.sendInvalidStreams(h.tsn, int(in), n, fragWhole)
	require.Equal(t, uint64(n), s.Stats().Drops[DropInvalidStream])
	require.Equal(t, uint64(n), h.assoc.Stats().DroppedStream)
	// pion's three goroutines and the sink's reader.
	require.LessOrEqual(t, runtime.NumGoroutine(), g0+4, "no goroutine per invalid stream identifier")

	// The association goes on: a valid stream delivers.
	h.sendChunks(rawpeer.Data(next, 1, 0, fragWhole|sackNow, []byte("valid")))
	m := recvCtx(t, ep)
	require.Equal(t, "valid", string(m.Payload))
	require.Equal(t, uint16(1), m.Stream)
	h.abort()
}

// TestPartialMessagesOnManyStreams: a B fragment (never the E) on every
// stream identifier costs readers only for the valid ones.
func TestPartialMessagesOnManyStreams(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	g0 := runtime.NumGoroutine()
	h := newHostilePeer(t, s, ep, 4301, 0x2345, 0xffff)
	h.sendInvalidStreams(h.tsn, 0, 2000, fragBegin)
	// pion's three, a reader per valid stream, the sink's.
	require.LessOrEqual(t, runtime.NumGoroutine(), g0+3+DefaultStreams+1)
	h.abort()
}

// TestHighestTSNFirstStaysInWindow: a peer that sends its highest TSN
// first and then fills the gap below it (pion takes any TSN below the
// highest one with its buffer full) gets no more than the advertised
// window, plus the one-packet reserve, held for it; what does not fit is
// dropped and answered with a SACK (RFC 9260 section 6.2: "if such a DATA
// chunk is dropped, the receiver MUST immediately send back a SACK chunk
// with the current receive window showing only DATA chunks received and
// accepted so far").
func TestHighestTSNFirstStaysInWindow(t *testing.T) {
	const window = 64 << 10
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1), WithReceiveBuffer(window), WithMaxMessageSize(window))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4302, 0x3456, 4)
	held := h.fillHighestFirst(h.tsn, 300)
	require.LessOrEqual(t, held, window+rxReserve, "held %d bytes for a window of %d", held, window)
	require.NotZero(t, s.Stats().Drops[DropOverWindow])
	h.abort()
}

// fillHighestFirst sends middle fragments of 1000 bytes on stream 0: TSN
// base+n first, then base+2 up to base+n-1 (base+1, our first TSN, never
// comes), five to a packet, each packet answered by a SACK. It returns the
// bytes the last SACK shows held.
func (h *hostilePeer) fillHighestFirst(first uint32, n int) int {
	base := first - 1
	payload := make([]byte, 1000)
	top := base + uint32(n)
	h.sendChunks(rawpeer.Data(top, 0, 0, sackNow, payload))
	h.sackWith(top)
	var last wire.SackView
	for tsn := base + 2; tsn < top; {
		var chunks [][]byte
		for ; tsn < top && len(chunks) < 5; tsn++ {
			chunks = append(chunks, rawpeer.Data(tsn, 0, 0, 0, payload))
		}
		chunks[len(chunks)-1][1] |= sackNow
		h.sendChunks(chunks...)
		last = h.sack(func(wire.SackView) bool { return true })
	}
	return acked(last) * len(payload)
}

// TestGapFillAndZeroWindowProbe: with the window closed by messages that
// wait for the first one, a zero-window probe (RFC 9260 section 6.1 rule
// A: "the data sender can always have one DATA chunk in flight to the
// receiver") and the chunk that fills the cumulative TSN gap are taken, so
// a compliant sender is never wedged.
func TestGapFillAndZeroWindowProbe(t *testing.T) {
	const window = 16 << 10
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1), WithReceiveBuffer(window), WithMaxMessageSize(window))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4303, 0x4567, 4)
	payload := make([]byte, 1000)
	// SSN 1..16 at TSN base+2..base+17; SSN 0 (base+1, our first TSN) is
	// missing, so nothing is delivered and the window closes.
	base := h.tsn - 1
	for i := uint32(1); i <= 16; i++ {
		h.sendChunks(rawpeer.Data(base+i+1, 0, uint16(i), fragWhole|sackNow, payload))
		h.sackWith(base + i + 1)
	}
	// The window is below one chunk: a probe is still taken.
	probe := base + 18
	h.sendChunks(rawpeer.Data(probe, 0, 17, fragWhole|sackNow, payload))
	v := h.sackWith(probe)
	require.Less(t, v.ARwnd(), uint32(len(payload)), "the window is closed")
	// The chunk at the cumulative TSN gap is taken: everything is delivered.
	h.sendChunks(rawpeer.Data(base+1, 0, 0, fragWhole|sackNow, payload))
	v = h.sackWith(base + 1)
	require.Equal(t, probe, v.CumTSNAck())
	for range 18 {
		recvCtx(t, ep)
	}
	require.Zero(t, s.Stats().Drops[DropOverWindow])
	h.abort()
}

// TestOversizedMessageAborts: a message above the maximum message size is
// not delivered nor left to close the window for good: the association is
// aborted with a Protocol Violation naming the sizes.
func TestOversizedMessageAborts(t *testing.T) {
	for _, size := range []int{100 << 10, 1536 << 10} {
		s := newStack(t)
		ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
		require.NoError(t, err)
		h := newHostilePeer(t, s, ep, 4304, 0x5678, 4)
		h.sendOversized(h.tsn, size)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for {
			ev, err := ep.Event(ctx)
			require.NoError(t, err)
			if ev.Type == EventDown {
				require.Equal(t, ReasonAborted, ev.Reason)
				require.Contains(t, ev.Detail, "maximum message size")
				break
			}
		}
		require.Equal(t, uint64(1), s.Stats().Drops[DropOversizedMessage])
		short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err = ep.Recv(short)
		cancelShort()
		require.ErrorIs(t, err, context.DeadlineExceeded, "nothing delivered")
	}
}

// sendOversized sends a message of size bytes in order, in fragments of
// 1000 bytes, five to a packet, until the stack aborts; it checks the
// ABORT's cause.
func (h *hostilePeer) sendOversized(tsn uint32, size int) {
	payload := make([]byte, 1000)
	for sent := 0; sent < size; {
		var chunks [][]byte
		for ; sent < size && len(chunks) < 5; sent += len(payload) {
			flags := byte(0)
			if sent == 0 {
				flags = fragBegin
			}
			if sent+len(payload) >= size {
				flags |= fragEnd
			}
			chunks = append(chunks, rawpeer.Data(tsn, 0, 0, flags, payload))
			tsn++
		}
		chunks[len(chunks)-1][1] |= sackNow
		h.sendChunks(chunks...)
		for {
			pkt := h.Recv(10 * time.Second)
			require.NotNil(h.t, pkt, "a SACK or an ABORT")
			_, c := rawpeer.FirstChunk(h.t, pkt)
			if c.Type == wire.ChunkAbort {
				ab, err := wire.ParseAbort(c)
				require.NoError(h.t, err)
				require.Equal(h.t, wire.CauseProtocolViolation, ab.Causes[0].Code)
				require.Contains(h.t, string(ab.Causes[0].Info), "65536")
				return
			}
			if c.Type == wire.ChunkSack {
				break
			}
		}
	}
	h.t.Fatal("no ABORT for an oversized message")
}

// TestLargeDataDelivered: DATA chunks larger than pion reads (a peer on a
// 9000-byte or 65535-byte path, as the Linux kernel on such a link) are
// acknowledged and delivered whole: a message in one such chunk, one in
// three fragments sent out of order with a retransmission among them, an
// unordered one of nearly 64 KiB, and small messages around them.
func TestLargeDataDelivered(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1), WithMaxMessageSize(1<<20), WithReceiveBuffer(4<<20))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4306, 0x789a, 4)
	tsn := h.tsn
	whole := largeData(8952, 1) // a kernel's DATA at MTU 9000 over UDP/IPv4
	h.sendChunks(rawpeer.Data(tsn, 0, 0, fragWhole|sackNow, whole))
	require.Equal(t, tsn, h.sackWith(tsn).CumTSNAck())
	got := recvCtx(t, ep)
	require.Equal(t, whole, got.Payload)
	require.Equal(t, uint32(51), got.PPID)

	// Three fragments of 20,000 bytes each on stream 1, the last first,
	// then the first twice, a small message bundled with the middle one.
	parts := [][]byte{largeData(20000, 2), largeData(20000, 3), largeData(20000, 4)}
	h.sendChunks(rawpeer.Data(tsn+3, 1, 0, fragEnd|sackNow, parts[2]))
	h.sackWith(tsn + 3)
	h.sendChunks(rawpeer.Data(tsn+1, 1, 0, fragBegin|sackNow, parts[0]))
	h.sendChunks(rawpeer.Data(tsn+1, 1, 0, fragBegin|sackNow, parts[0]))
	v := h.sack(func(v wire.SackView) bool { return v.NumDupTSNs() > 0 })
	require.Equal(t, tsn+1, v.DupTSN(0))
	h.sendChunks(rawpeer.Data(tsn+2, 1, 0, 0, parts[1]), rawpeer.Data(tsn+4, 2, 0, fragWhole|sackNow, []byte("small")))
	require.Equal(t, tsn+4, h.sackWith(tsn+4).CumTSNAck())
	byStream := map[uint16][]byte{}
	for range 2 {
		m := recvCtx(t, ep)
		byStream[m.Stream] = m.Payload
	}
	require.Equal(t, bytes.Join(parts, nil), byStream[1])
	require.Equal(t, "small", string(byStream[2]))

	// Unordered, in one UDP datagram of nearly 64 KiB.
	big := largeData(65000, 5)
	h.sendChunks(rawpeer.Data(tsn+5, 3, 0, fragWhole|unordered|sackNow, big))
	require.Equal(t, tsn+5, h.sackWith(tsn+5).CumTSNAck())
	require.Equal(t, big, recvCtx(t, ep).Payload)

	require.Zero(t, s.Stats().Drops[DropMalformed])
	require.Zero(t, s.Stats().Drops[DropOverWindow])
	h.assoc.rx.mu.Lock()
	require.Empty(t, h.assoc.rx.large.parts, "every stashed chunk was delivered")
	h.assoc.rx.mu.Unlock()
	h.abort()
}

// TestDataAtEngineReadEdgeDelivered: DATA chunks whose packet is just
// below, at and just above what pion reads are all delivered, either
// as they are or through the stash, none dropped.
func TestDataAtEngineReadEdgeDelivered(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4308, 0x789c, 4)
	// A packet of one DATA chunk: 12 + 16 + payload (+ padding) bytes.
	for i, n := range []int{pionReadSize - 32, pionReadSize - 31, pionReadSize - 30, pionReadSize - 28, pionReadSize - 27} {
		payload := largeData(n, byte(i))
		tsn := h.tsn + uint32(i)
		h.sendChunks(rawpeer.Data(tsn, 0, uint16(i), fragWhole|sackNow, payload))
		require.Equal(t, tsn, h.sackWith(tsn).CumTSNAck(), "payload of %d bytes", n)
		require.Equal(t, payload, recvCtx(t, ep).Payload, "payload of %d bytes", n)
	}
	require.Zero(t, s.Stats().Drops[DropMalformed])
	h.abort()
}

// TestLargeNonDataChunkDropped: a chunk other than DATA that pion must see
// (here a SACK) and alone exceeds what pion reads is dropped and counted;
// the association goes on.
func TestLargeNonDataChunkDropped(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4307, 0x789b, 4)
	// A SACK with 2,100 duplicate TSNs: 8,416 bytes.
	dups := make([]uint32, 2100)
	h.sendChunks(must(wire.AppendSack(nil, 0, 1<<20, nil, dups)))
	require.Eventually(t, func() bool { return s.Stats().Drops[DropMalformed] == 1 }, 5*time.Second, time.Millisecond)
	h.sendChunks(rawpeer.Data(h.tsn, 0, 0, fragWhole|sackNow, []byte("fits")))
	require.Equal(t, h.tsn, h.sackWith(h.tsn).CumTSNAck())
	require.Equal(t, "fits", string(recvCtx(t, ep).Payload))
	h.abort()
}

// TestDuplicateTSNsReported: a DATA chunk received twice is listed in the
// next SACK (RFC 9260 section 3.3.4: "Every time a receiver gets a
// duplicate TSN (before sending the SACK chunk), it adds it to the list of
// duplicates"), which comes at once (section 6.2: "When a packet arrives
// with duplicate DATA chunk(s) and with no new DATA chunk(s), the endpoint
// MUST immediately send a SACK chunk with no delay").
func TestDuplicateTSNsReported(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4305, 0x6789, 4)
	h.sendChunks(rawpeer.Data(h.tsn, 0, 0, fragWhole|sackNow, []byte("once")))
	h.sackWith(h.tsn)
	require.Equal(t, "once", string(recvCtx(t, ep).Payload))
	h.sendChunks(rawpeer.Data(h.tsn, 0, 0, fragWhole, []byte("once")), rawpeer.Data(h.tsn, 0, 0, fragWhole, []byte("once")))
	v := h.sack(func(v wire.SackView) bool { return v.NumDupTSNs() > 0 })
	require.Equal(t, 2, v.NumDupTSNs())
	require.Equal(t, h.tsn, v.DupTSN(0))
	require.Equal(t, h.tsn, v.DupTSN(1))
	// Reported once: the next SACK lists none.
	h.sendChunks(rawpeer.Data(h.tsn+1, 0, 1, fragWhole|sackNow, []byte("next")))
	v = h.sackWith(h.tsn + 1)
	require.Zero(t, v.NumDupTSNs())
	h.abort()
}

// TestHostilePeerResourceBudget drives one peer at each limit at once
// (thousands of stream identifiers, partial messages on thousands of
// streams, highest-TSN-first window fill, an oversized message) and
// checks the process's goroutines and heap against the budget in
// docs/ARCHITECTURE.md ("Resource budget per association").
func TestHostilePeerResourceBudget(t *testing.T) {
	const window = 256 << 10
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(10), WithReceiveBuffer(window), WithMaxMessageSize(64<<10))
	require.NoError(t, err)
	settle := func() (int, uint64) {
		var ms runtime.MemStats
		for range 3 {
			runtime.GC()
		}
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapAlloc
	}
	g0, h0 := settle()

	ids := newHostilePeer(t, s, ep, 4400, 0x7001, 0xffff)
	ids.sendInvalidStreams(ids.tsn, DefaultStreams, 5000, fragWhole)
	partial := newHostilePeer(t, s, ep, 4401, 0x7002, 0xffff)
	partial.sendInvalidStreams(partial.tsn, 0, 5000, fragBegin)
	fill := newHostilePeer(t, s, ep, 4402, 0x7003, 4)
	held := fill.fillHighestFirst(fill.tsn, 1000)
	require.LessOrEqual(t, held, window+rxReserve)
	t.Logf("held for reassembly: %d bytes (window %d)", held, window)
	big := newHostilePeer(t, s, ep, 4403, 0x7004, 4)
	big.sendOversized(big.tsn, 1<<20)
	<-big.assoc.Done()

	g1, h1 := settle()
	const live = 3
	// Per association: pion's 3, a reader per valid stream in use, the
	// sink's reader.
	perAssoc := 3 + DefaultStreams + 1
	t.Logf("goroutines %d -> %d; heap %.1f -> %.1f MiB", g0, g1, float64(h0)/(1<<20), float64(h1)/(1<<20))
	require.LessOrEqual(t, g1-g0, live*perAssoc)
	// Per association: the window and the reserve held for reassembly,
	// plus the association's fixed state (allow 1 MiB).
	budget := live * (window + rxReserve + 1<<20)
	require.Less(t, int64(h1)-int64(h0), int64(budget), "heap grew %d bytes, budget %d", int64(h1)-int64(h0), budget)
	for _, h := range []*hostilePeer{ids, partial, fill} {
		require.True(t, h.assoc.State() == StateEstablished)
		h.abort()
	}
}

// sendTinyChunks sends n chunks made by mk(tsn), 50 to a packet, each
// packet from the TSN after the latest cumulative TSN acknowledged (as a
// sender retransmits what was dropped), and returns the next TSN and the
// TSNs the last SACK shows received from first on.
func (h *hostilePeer) sendTinyChunks(first uint32, n int, mk func(tsn uint32) []byte) (next uint32, accepted int) {
	next = first
	for sent := 0; sent < n; {
		var chunks [][]byte
		for tsn := next; sent < n && len(chunks) < 50; tsn++ {
			chunks = append(chunks, mk(tsn))
			sent++
		}
		chunks[len(chunks)-1][1] |= sackNow
		h.sendChunks(chunks...)
		next = h.sack(func(wire.SackView) bool { return true }).CumTSNAck() + 1
	}
	// A duplicate of a TSN long acknowledged makes the stack SACK at once
	// (RFC 9260 section 6.2) and the SACK that lists it is the current one.
	h.sendChunks(rawpeer.Data(first-1, 0, 0, fragWhole, []byte{0}))
	v := h.sack(func(v wire.SackView) bool { return v.NumDupTSNs() > 0 })
	return v.CumTSNAck() + 1, int(v.CumTSNAck()-(first-1)) + acked(v)
}

// TestTinyChunksWithinChunkBudget: one-byte messages pion cannot deliver
// (ordered, on a stream whose first Stream Sequence Number never comes)
// and one-byte fragments of a message that never ends cost pion some 250
// bytes of heap each whatever their size: the stack charges every chunk at
// least rxChunkCost bytes of the window, so what pion holds stays within
// the chunk budget of docs/ARCHITECTURE.md ("Resource budget per
// association"), and the chunks beyond it are dropped (over_window) for
// the sender to retransmit.
func TestTinyChunksWithinChunkBudget(t *testing.T) {
	const window = 256 << 10
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1), WithReceiveBuffer(window), WithMaxMessageSize(window))
	require.NoError(t, err)
	settle := func() uint64 {
		var ms runtime.MemStats
		for range 3 {
			runtime.GC()
		}
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	heap0 := settle()
	h := newHostilePeer(t, s, ep, 4310, 0x8001, 4)
	first := h.tsn
	// Stream 0: SSN 1, 2, ...: SSN 0 never comes, nothing is delivered.
	next, ordered := h.sendTinyChunks(first, 500, func(tsn uint32) []byte {
		return rawpeer.Data(tsn, 0, uint16(tsn-first+1), fragWhole, []byte{1})
	})
	// Stream 1: a B fragment and middle fragments of one byte, no E.
	start := next
	_, fragments := h.sendTinyChunks(start, 6000, func(tsn uint32) []byte {
		flags := byte(0)
		if tsn == start {
			flags = fragBegin
		}
		return rawpeer.Data(tsn, 1, 0, flags, []byte{2})
	})
	held := ordered + fragments
	heap1 := settle()
	growth := int64(heap1) - int64(heap0)
	t.Logf("chunks held: %d ordered + %d fragments = %d (budget %d); heap grew %.2f MiB",
		ordered, fragments, held, rxChunkBudget(window), float64(growth)/(1<<20))
	require.LessOrEqual(t, held, rxChunkBudget(window), "chunks pion holds")
	require.NotZero(t, s.Stats().Drops[DropOverWindow])
	// The budget: the window and the reserve, pion's overhead for every
	// chunk of the budget (allow 300 bytes each), the association's fixed
	// state (allow 1 MiB).
	budget := int64(window + rxReserve + 300*rxChunkBudget(window) + 1<<20)
	require.Less(t, growth, budget, "heap grew %d bytes, budget %d", growth, budget)
	require.True(t, h.assoc.State() == StateEstablished)
	h.abort()
}

// TestSmallMessagesSlowReaderInOrder: a compliant peer sending many small
// messages, and fragmented ones, to an application that reads slowly is
// slowed down by the chunk charge, never wedged: everything arrives, in
// order, once.
func TestSmallMessagesSlowReaderInOrder(t *testing.T) {
	const window, n = 16 << 10, 600
	p := newPair(t, WithReceiveBuffer(window), WithMaxMessageSize(window), WithRecvQueue(8))
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for i := range n {
			size := 4
			if i%100 == 99 {
				size = 3000 // fragmented at the path MTU
			}
			msg := make([]byte, size)
			binary.BigEndian.PutUint32(msg, uint32(i))
			if err := p.clientAssoc.Send(ctx, msg, SendInfo{Stream: uint16(i % 2)}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	next := [2]uint32{0, 1}
	for range n {
		m, err := p.listener.Recv(ctx)
		require.NoError(t, err)
		i := binary.BigEndian.Uint32(m.Payload)
		require.Equal(t, next[m.Stream], i, "in order on stream %d, none lost nor duplicated", m.Stream)
		next[m.Stream] += 2
	}
	require.NoError(t, <-errc)
}

// TestTinyFragmentMessageAborts: a message in fragments so small that it
// costs more than the window and the reserve at rxChunkCost a fragment
// could never be taken whole: the association is aborted with a Protocol
// Violation that says so, not left to retransmit it for ever.
func TestTinyFragmentMessageAborts(t *testing.T) {
	const window = 16 << 10
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1), WithReceiveBuffer(window), WithMaxMessageSize(window))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4311, 0x8002, 4)
	tsn := h.tsn
	for i := 0; ; i++ {
		require.Less(t, i, 2*rxChunkBudget(window), "no ABORT")
		flags := byte(sackNow)
		if i == 0 {
			flags |= fragBegin
		}
		h.sendChunks(rawpeer.Data(tsn, 0, 0, flags, []byte{1}))
		pkt := h.Recv(10 * time.Second)
		require.NotNil(t, pkt, "a SACK or an ABORT")
		_, c := rawpeer.FirstChunk(t, pkt)
		if c.Type == wire.ChunkAbort {
			ab, err := wire.ParseAbort(c)
			require.NoError(t, err)
			require.Equal(t, wire.CauseProtocolViolation, ab.Causes[0].Code)
			require.Contains(t, string(ab.Causes[0].Info), "fragments too small")
			break
		}
		require.Equal(t, wire.ChunkSack, c.Type)
		tsn++
	}
	<-h.assoc.Done()
	require.Equal(t, uint64(1), s.Stats().Drops[DropOversizedMessage])
}

// TestPacketAboveEngineReadSplit: a packet larger than pion reads (from a
// peer with a larger path MTU) reaches pion as several, split at chunk
// boundaries: every DATA chunk in it is delivered, none cut off.
func TestPacketAboveEngineReadSplit(t *testing.T) {
	s := newStack(t)
	ep, err := s.NewEndpoint(nil, 0, AcceptMax(1))
	require.NoError(t, err)
	h := newHostilePeer(t, s, ep, 4307, 0x789b, 4)
	var chunks [][]byte
	var tsns []uint32
	for i := range 12 {
		payload := bytes.Repeat([]byte{byte('a' + i)}, 1200)
		chunks = append(chunks, rawpeer.Data(h.tsn, 0, uint16(i), fragWhole, payload))
		tsns = append(tsns, h.tsn)
		h.tsn++
	}
	pkt := rawpeer.Encode(h.port, h.epPort, h.tag, chunks...)
	require.Greater(t, len(pkt), pionReadSize)
	h.Send(pkt)
	h.sackWith(tsns...)
	for i := range 12 {
		m := recvCtx(t, ep)
		require.Equal(t, bytes.Repeat([]byte{byte('a' + i)}, 1200), m.Payload, "message %d in order and whole", i)
	}
	require.Zero(t, s.Stats().Drops[DropMalformed])
	h.abort()
}

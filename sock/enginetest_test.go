package sock_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/sock"
	"github.com/usock/usock/udpencap/udpencaptest"
)

// engineTest drives one association of a stack packet by packet: the test
// is the peer. The stack's Binds are an in-memory network
// (udpencaptest), the test runs in a testing/synctest bubble, so nothing
// moves unless the test writes a packet in (write), reads what came out
// (want, wantNone) or lets time pass (advance); what it sees depends only
// on the stack's logic, not on scheduling or a wall clock.
type engineTest struct {
	t     *testing.T
	n     *udpencaptest.Network
	s     *sock.Stack
	ep    *sock.Endpoint
	assoc *sock.Association
	peer  netip.AddrPort // the peer's UDP address
	stack netip.AddrPort // the stack's
	tag   uint32         // the stack's Verification Tag, which the peer's packets carry
	tsn   uint32         // the peer's next TSN
	ssn   uint16         // the peer's next Stream Sequence Number on stream 0
	out   []wire.Chunk   // chunks the stack sent that the test has not taken yet
}

const (
	enginePeerPort  = 7000 // the peer's SCTP port
	engineStackPort = 5000 // the endpoint's
	enginePeerTag   = 0x5ca1ab1e
	enginePeerTSN   = 1000
)

// newEngineTest makes a stack with one endpoint (opts) on the in-memory
// network and completes a handshake with it by hand: INIT, INIT-ACK,
// COOKIE-ECHO, COOKIE-ACK. It must run inside a synctest bubble; the
// stack closes when the test ends.
func newEngineTest(t *testing.T, opts ...sock.EndpointOption) *engineTest {
	t.Helper()
	n := udpencaptest.NewNetwork()
	s := fakeStack(t, n)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	ep, err := s.NewEndpoint([]netip.Addr{fakeB}, engineStackPort, append([]sock.EndpointOption{sock.AcceptMax(1)}, opts...)...)
	require.NoError(t, err)
	et := &engineTest{t: t, n: n, s: s, ep: ep,
		peer:  netip.AddrPortFrom(fakeA, sock.DefaultUDPPort),
		stack: netip.AddrPortFrom(fakeB, sock.DefaultUDPPort),
		tsn:   enginePeerTSN}

	init := wire.Init{InitiateTag: enginePeerTag, ARwnd: 1 << 20, OutStreams: 4, InStreams: 4, InitialTSN: enginePeerTSN}
	et.writeTag(0, must(init.Append(nil, wire.ChunkInit)))
	ackChunk := et.want(wire.ChunkInitAck)
	ack, err := wire.ParseInit(ackChunk.Value)
	require.NoError(t, err)
	cookie, ok := ack.Cookie()
	require.True(t, ok, "the INIT-ACK carries a State Cookie")
	et.tag = ack.InitiateTag
	et.write(must(wire.AppendCookieEcho(nil, cookie)))
	et.want(wire.ChunkCookieAck)
	as := ep.Associations()
	require.Len(t, as, 1)
	et.assoc = as[0]
	require.Equal(t, sock.StateEstablished, et.assoc.State())
	return et
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// writeTag delivers one packet of chunks from the peer with Verification
// Tag tag.
func (et *engineTest) writeTag(tag uint32, chunks ...[]byte) {
	et.t.Helper()
	pkt := rawpeer.Encode(enginePeerPort, engineStackPort, tag, chunks...)
	require.NoError(et.t, et.n.Deliver(udpencaptest.Datagram{Pkt: pkt, Src: et.peer, Dst: et.stack}))
}

// write delivers one packet of chunks from the peer on the association.
func (et *engineTest) write(chunks ...[]byte) { et.t.Helper(); et.writeTag(et.tag, chunks...) }

// collect waits until the bubble is idle and takes every datagram the
// stack sent, keeping its chunks in order.
func (et *engineTest) collect() {
	et.t.Helper()
	synctest.Wait()
	for {
		d, ok := et.n.Next()
		if !ok {
			return
		}
		require.Equal(et.t, et.peer, d.Dst, "everything goes to the peer")
		it := wire.NewChunkIter(d.Pkt[wire.CommonHeaderSize:])
		for it.Next() {
			c := it.Chunk()
			et.out = append(et.out, wire.Chunk{Type: c.Type, Flags: c.Flags, Value: append([]byte(nil), c.Value...)})
		}
		require.NoError(et.t, it.Err())
	}
}

// want takes the first chunk of type typ the stack sent and not yet
// taken; there must be one. Chunks of other types stay.
func (et *engineTest) want(typ wire.ChunkType) wire.Chunk {
	et.t.Helper()
	et.collect()
	for i, c := range et.out {
		if c.Type == typ {
			et.out = slices.Delete(et.out, i, i+1)
			return c
		}
	}
	et.t.Fatalf("the stack sent no %v chunk (it sent %v)", typ, et.types())
	return wire.Chunk{}
}

// wantNone fails if the stack sent a chunk of type typ not taken yet.
func (et *engineTest) wantNone(typ wire.ChunkType) {
	et.t.Helper()
	et.collect()
	for _, c := range et.out {
		if c.Type == typ {
			et.t.Fatalf("the stack sent a %v chunk", typ)
		}
	}
}

func (et *engineTest) types() []wire.ChunkType {
	var ts []wire.ChunkType
	for _, c := range et.out {
		ts = append(ts, c.Type)
	}
	return ts
}

// advance lets d of simulated time pass, with the stack's timers.
func (et *engineTest) advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// data is a DATA chunk of a whole message from the peer on stream, with
// the next TSN (and, on stream 0, the next Stream Sequence Number).
func (et *engineTest) data(stream uint16, flags byte, payload []byte) []byte {
	var ssn uint16
	if stream == 0 {
		ssn = et.ssn
		et.ssn++
	}
	c := rawpeer.Data(et.tsn, stream, ssn, flags|wire.FlagDataBeginning|wire.FlagDataEnd, payload)
	et.tsn++
	return c
}

// sack parses a SACK chunk the stack sent.
func (et *engineTest) sack(c wire.Chunk) wire.SackView {
	et.t.Helper()
	v, err := wire.ParseSackView(c.Value)
	require.NoError(et.t, err)
	return v
}

// recv returns the next message the endpoint delivered; one must be
// there.
func (et *engineTest) recv() sock.Message {
	et.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m, err := et.ep.Recv(ctx)
	require.NoError(et.t, err, "a message was delivered")
	return m
}

// send has the stack send payload on stream 0, as the application would.
func (et *engineTest) send(payload []byte) {
	et.t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- et.assoc.Send(context.Background(), payload, sock.SendInfo{PPID: rawpeer.PPID}) }()
	synctest.Wait()
	select {
	case err := <-errc:
		require.NoError(et.t, err)
	default:
		et.t.Fatal("Send did not return")
	}
}

// TestEngine runs the association's engine through single exchanges:
// each row writes chunks in and checks the chunks that come out and what
// the application sees, on the fake network under a fake clock.
func TestEngine(t *testing.T) {
	const flagI = 0x08
	for _, c := range []struct {
		name string
		opts []sock.EndpointOption
		run  func(t *testing.T, et *engineTest)
	}{{
		// RFC 7053 section 4.2: DATA with the I bit is acknowledged
		// without delay.
		name: "DATA with the I bit is acknowledged at once and delivered",
		run: func(t *testing.T, et *engineTest) {
			et.write(et.data(0, flagI, []byte("hello")))
			v := et.sack(et.want(wire.ChunkSack))
			assert.Equal(t, uint32(enginePeerTSN), v.CumTSNAck())
			m := et.recv()
			assert.Equal(t, "hello", string(m.Payload))
			assert.Equal(t, uint32(rawpeer.PPID), m.PPID)
		},
	}, {
		// RFC 9260 section 6.2: "When a packet arrives with duplicate
		// DATA chunk(s) and with no new DATA chunk(s), the endpoint MUST
		// immediately send a SACK chunk with no delay"; section 3.3.4 lists
		// the duplicate.
		name: "a duplicate DATA draws an immediate SACK that lists it",
		run: func(t *testing.T, et *engineTest) {
			d := et.data(0, flagI, []byte("once"))
			et.write(d)
			et.want(wire.ChunkSack)
			et.recv()
			d[1] &^= flagI
			et.write(d)
			v := et.sack(et.want(wire.ChunkSack))
			require.Equal(t, 1, v.NumDupTSNs())
			assert.Equal(t, uint32(enginePeerTSN), v.DupTSN(0))
		},
	}, {
		// RFC 9260 section 8.3: the HEARTBEAT ACK carries the HEARTBEAT's
		// Heartbeat Information unchanged.
		name: "a HEARTBEAT is answered with its information",
		run: func(t *testing.T, et *engineTest) {
			info := []byte{0, 1, 0, 12, 'p', 'r', 'o', 'b', 'e', '!', '!', '!'}
			et.write(must(wire.AppendChunk(nil, wire.ChunkHeartbeat, 0, info)))
			assert.Equal(t, info, et.want(wire.ChunkHeartbeatAck).Value)
		},
	}, {
		// RFC 9260 section 6.5: DATA on a stream beyond the negotiated
		// count is acknowledged, reported in an ERROR, never delivered.
		name: "DATA on an invalid stream is acknowledged and reported",
		run: func(t *testing.T, et *engineTest) {
			et.write(et.data(9, flagI, []byte("nowhere")))
			v := et.sack(et.want(wire.ChunkSack))
			assert.Equal(t, uint32(enginePeerTSN), v.CumTSNAck())
			e := et.want(wire.ChunkError)
			assert.Equal(t, uint16(1), binary.BigEndian.Uint16(e.Value), "Invalid Stream Identifier")
			assert.Equal(t, uint16(9), binary.BigEndian.Uint16(e.Value[4:]))
			assert.Zero(t, et.assoc.Stats().MessagesIn)
		},
	}, {
		// A peer on a jumbo-frame path sends DATA chunks larger than the
		// engine reads; they are delivered whole.
		name: "DATA larger than the engine reads is delivered whole",
		opts: []sock.EndpointOption{sock.WithMaxMessageSize(1 << 20), sock.WithReceiveBuffer(2 << 20)},
		run: func(t *testing.T, et *engineTest) {
			big := bytes.Repeat([]byte("0123456789abcdef"), 4000)
			et.write(et.data(0, flagI, big))
			v := et.sack(et.want(wire.ChunkSack))
			assert.Equal(t, uint32(enginePeerTSN), v.CumTSNAck())
			assert.Equal(t, big, et.recv().Payload)
		},
	}, {
		// RFC 9260 section 3.2: a chunk type whose high bits are 11 is
		// skipped and reported in an ERROR with Unrecognized Chunk Type;
		// the chunks after it are processed.
		name: "an unrecognised chunk 0xff is skipped and reported",
		run: func(t *testing.T, et *engineTest) {
			unknown := must(wire.AppendChunk(nil, 0xff, 0, []byte{1, 2, 3, 4}))
			et.write(unknown, et.data(0, flagI, []byte("after")))
			e := et.want(wire.ChunkError)
			assert.Equal(t, uint16(6), binary.BigEndian.Uint16(e.Value), "Unrecognized Chunk Type")
			assert.Equal(t, "after", string(et.recv().Payload))
		},
	}, {
		// RFC 9260 section 3.2: high bits 01: "Stop processing this SCTP
		// packet; discard the unrecognized chunk and all further chunks,
		// and report"; the DATA after it is not taken.
		name: "an unrecognised chunk 0x7f stops the packet and is reported",
		run: func(t *testing.T, et *engineTest) {
			unknown := must(wire.AppendChunk(nil, 0x7f, 0, []byte{1, 2, 3, 4}))
			et.write(unknown, et.data(0, flagI, []byte("dropped")))
			e := et.want(wire.ChunkError)
			assert.Equal(t, uint16(6), binary.BigEndian.Uint16(e.Value), "Unrecognized Chunk Type")
			et.wantNone(wire.ChunkSack)
			assert.Zero(t, et.assoc.Stats().MessagesIn)
		},
	}, {
		// RFC 9260 section 9.2: a SHUTDOWN with nothing outstanding is
		// answered with a SHUTDOWN ACK; the SHUTDOWN COMPLETE ends it.
		name: "SHUTDOWN, SHUTDOWN ACK, SHUTDOWN COMPLETE",
		run: func(t *testing.T, et *engineTest) {
			// Its Cumulative TSN Ack acknowledges what the stack sent.
			sd := binary.BigEndian.AppendUint32(nil, et.nextStackTSN()-1)
			et.write(must(wire.AppendChunk(nil, wire.ChunkShutdown, 0, sd)))
			et.want(wire.ChunkShutdownAck)
			et.write(must(wire.AppendChunk(nil, wire.ChunkShutdownComplete, 0, nil)))
			synctest.Wait()
			<-et.assoc.Done()
			assert.Equal(t, sock.StateClosed, et.assoc.State())
			assert.ErrorIs(t, et.assoc.Err(), sock.ErrClosed)
			assert.NotErrorIs(t, et.assoc.Err(), sock.ErrAborted, "a graceful end")
		},
	}, {
		// RFC 9260 section 3.3.7: the ABORT's causes say why; calls made
		// afterwards return the close error with the peer's cause.
		name: "an ABORT ends the association with the peer's cause",
		run: func(t *testing.T, et *engineTest) {
			cause := []byte{0, 12, 0, 8, 'b', 'y', 'e', '!'} // User-Initiated Abort
			et.write(must(wire.AppendChunk(nil, wire.ChunkAbort, 0, cause)))
			synctest.Wait()
			<-et.assoc.Done()
			err := et.assoc.Send(context.Background(), []byte("late"), sock.SendInfo{})
			require.ErrorIs(t, err, sock.ErrAborted)
			var ce *sock.CloseError
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, sock.ReasonAbortedByPeer, ce.Reason)
			assert.Equal(t, uint16(12), ce.PeerCause)
		},
	}, {
		// RFC 9260 section 6.3.3: when T3-rtx expires the earliest
		// outstanding DATA goes again, with the same TSN.
		name: "unacknowledged DATA is retransmitted when T3 expires",
		opts: []sock.EndpointOption{sock.WithRTOInitial(200 * time.Millisecond), sock.WithRTOMin(100 * time.Millisecond)},
		run: func(t *testing.T, et *engineTest) {
			et.send([]byte("again"))
			first := et.want(wire.ChunkData)
			tsn, _ := wire.PeekDataTSN(first)
			et.advance(2 * time.Second)
			again := et.want(wire.ChunkData)
			tsn2, _ := wire.PeekDataTSN(again)
			assert.Equal(t, tsn, tsn2, "the same TSN")
			assert.Equal(t, first.Value[12:], again.Value[12:], "the same data")
		},
	}, {
		// RFC 9260 section 12.4: "An SCTP implementation MUST abort the
		// association if it receives a SACK chunk acknowledging a TSN that
		// has not been sent."
		name: "a SACK for a TSN never sent aborts the association",
		run: func(t *testing.T, et *engineTest) {
			next := et.nextStackTSN()
			et.write(must(wire.AppendSack(nil, next+100, 1<<20, nil, nil)))
			et.want(wire.ChunkAbort)
			<-et.assoc.Done()
			assert.ErrorIs(t, et.assoc.Err(), sock.ErrAborted)
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c.run(t, newEngineTest(t, c.opts...))
			})
		})
	}
}

// nextStackTSN has the stack send one message, acknowledges it and
// returns the TSN the stack's next DATA will carry. Called before the
// stack sent any DATA, the message's TSN is the stack's Initial TSN.
func (et *engineTest) nextStackTSN() uint32 {
	et.t.Helper()
	et.send([]byte("x"))
	c := et.want(wire.ChunkData)
	tsn, _ := wire.PeekDataTSN(c)
	et.write(must(wire.AppendSack(nil, tsn, 1<<20, nil, nil)))
	synctest.Wait()
	return tsn + 1
}

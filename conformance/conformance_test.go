package conformance

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/sock"
)

// rule is one conformance case: the requirement's section and a short
// name, the RFC sentence it checks, and the probe.
type rule struct {
	name string
	text string
	run  func(t *testing.T)
}

// TestConformance runs every rule as its own subtest, each with a fresh
// stack. On failure the RFC sentence is logged next to the failure.
func TestConformance(t *testing.T) {
	for _, r := range rules() {
		t.Run(r.name, func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("requirement: %s", r.text)
				}
			})
			r.run(t)
		})
	}
}

// Parameter and chunk types nobody has registered, one for each
// combination of the two high bits (RFC 9260 sections 3.2 and 3.2.1).
const (
	unknownChunk00 wire.ChunkType = 0x3e
	unknownChunk01 wire.ChunkType = 0x7e
	unknownChunk10 wire.ChunkType = 0xbe
	unknownChunk11 wire.ChunkType = 0xfe

	unknownParam00 wire.ParamType = 0x3f01
	unknownParam01 wire.ParamType = 0x7f01
	unknownParam10 wire.ParamType = 0xbf01
	unknownParam11 wire.ParamType = 0xff01
)

func rules() []rule {
	var rs []rule
	rs = append(rs, section32()...)
	rs = append(rs, section33()...)
	rs = append(rs, section51()...)
	rs = append(rs, section52()...)
	rs = append(rs, section54()...)
	rs = append(rs, section62()...)
	rs = append(rs, section65()...)
	rs = append(rs, section610()...)
	rs = append(rs, section84()...)
	rs = append(rs, section85()...)
	rs = append(rs, rfc6951()...)
	// Last: inputs that took the process down before the receive path
	// bounded them.
	rs = append(rs, hostile()...)
	return rs
}

// probeChunk is an unrecognised chunk with a small value.
func probeChunk(t wire.ChunkType) []byte {
	return must(wire.AppendChunk(nil, t, 0, []byte("probe")))
}

// sackOf parses a SACK chunk.
func sackOf(t testing.TB, c wire.Chunk) wire.SackView {
	t.Helper()
	v, err := wire.ParseSackView(c.Value)
	require.NoError(t, err)
	return v
}

// errorAndSack reads until both an ERROR and a SACK arrived and returns
// them.
func (p *peer) errorAndSack() (errChunk, sack wire.Chunk) {
	p.t.Helper()
	var gotErr, gotSack bool
	deadline := time.Now().Add(replyWait)
	for !gotErr || !gotSack {
		left := time.Until(deadline)
		require.Positivef(p.t, left, "waiting for an ERROR and a SACK: ERROR seen %v, SACK seen %v", gotErr, gotSack)
		pk, ok := p.Read(left)
		if !ok {
			continue
		}
		require.Equal(p.t, p.MyTag, pk.Header.VerificationTag, "%v", pk)
		if c, ok := pk.Chunk(wire.ChunkError); ok && !gotErr {
			errChunk, gotErr = c, true
		}
		if c, ok := pk.Chunk(wire.ChunkSack); ok && !gotSack {
			sack, gotSack = c, true
		}
	}
	return errChunk, sack
}

func section32() []rule {
	const stop = "RFC 9260 section 3.2: \"00 - Stop processing this SCTP packet; discard the unrecognized chunk and all further chunks.\""
	return []rule{
		{
			name: "3.2-00/unknown-chunk-stops-packet-silently",
			text: stop,
			run: func(t *testing.T) {
				s, p, a := established(t)
				_, data := p.data("after a 00 chunk")
				p.SendAssoc(probeChunk(unknownChunk00), data)
				p.Silence("the packet is discarded: no SACK for its DATA, no ERROR")
				noMessage(t, s.ep, "the DATA after a 00 chunk is discarded")
				p.alive(a, "an unrecognised chunk")
			},
		},
		{
			name: "3.2-01/unknown-chunk-stops-packet-and-reports",
			text: "RFC 9260 section 3.2: \"01 - Stop processing this SCTP packet, discard the unrecognized chunk and all further chunks, and report the unrecognized chunk in an ERROR chunk using the 'Unrecognized Chunk Type' error cause.\"",
			run: func(t *testing.T) {
				s, p, a := established(t)
				probe := probeChunk(unknownChunk01)
				_, data := p.data("after a 01 chunk")
				p.SendAssoc(probe, data)
				_, c := p.ExpectTag(wire.ChunkError, p.MyTag)
				causes := causesOf(t, c)
				require.Len(t, causes, 1)
				require.Equal(t, wire.CauseUnrecognizedChunkType, causes[0].Code)
				require.Equal(t, probe[:4+len("probe")], causes[0].Info, "the cause carries the unrecognised chunk whole")
				p.Silence("the DATA after it is not processed: no SACK")
				noMessage(t, s.ep, "the DATA after a 01 chunk is discarded")
				p.alive(a, "an unrecognised chunk")
			},
		},
		{
			name: "3.2-10/unknown-chunk-skipped-silently",
			text: "RFC 9260 section 3.2: \"10 - Skip this chunk and continue processing.\"",
			run: func(t *testing.T) {
				s, p, _ := established(t)
				tsn, data := p.data("after a 10 chunk")
				p.SendAssoc(probeChunk(unknownChunk10), data)
				_, c := p.ExpectTag(wire.ChunkSack, p.MyTag)
				require.Equal(t, tsn, sackOf(t, c).CumTSNAck(), "the DATA after the skipped chunk is acknowledged")
				require.Equal(t, "after a 10 chunk", string(recvMessage(t, s.ep).Payload))
				p.Silence("a 10 chunk is not reported", wire.ChunkSack)
			},
		},
		{
			name: "3.2-11/unknown-chunk-skipped-and-reported",
			text: "RFC 9260 section 3.2: \"11 - Skip this chunk and continue processing, but report in an ERROR chunk using the 'Unrecognized Chunk Type' error cause.\"",
			run: func(t *testing.T) {
				s, p, _ := established(t)
				probe := probeChunk(unknownChunk11)
				tsn, data := p.data("after an 11 chunk")
				p.SendAssoc(probe, data)
				e, sack := p.errorAndSack()
				causes := causesOf(t, e)
				require.Len(t, causes, 1)
				require.Equal(t, wire.CauseUnrecognizedChunkType, causes[0].Code)
				require.Equal(t, probe[:4+len("probe")], causes[0].Info)
				require.Equal(t, tsn, sackOf(t, sack).CumTSNAck())
				require.Equal(t, "after an 11 chunk", string(recvMessage(t, s.ep).Payload))
			},
		},
		{
			name: "3.2/padding-bytes-ignored",
			text: "RFC 9260 section 3.2: \"The sender MUST NOT pad with more than 3 bytes. The receiver MUST ignore the padding bytes.\"",
			run: func(t *testing.T) {
				s, p, _ := established(t)
				tsn, data := p.data("odd") // 12 + 3 bytes of value: one byte of padding
				data[len(data)-1] = 0xff
				hb := heartbeat("pad") // 4 + 3 bytes of info: one byte of padding
				hb[len(hb)-1] = 0xee
				p.SendAssoc(hb, data)
				var gotAck, gotSack bool
				for !gotAck || !gotSack {
					pk, ok := p.Read(replyWait)
					require.Truef(t, ok, "a HEARTBEAT ACK and a SACK despite non-zero padding: ack %v sack %v", gotAck, gotSack)
					if _, ok := pk.Chunk(wire.ChunkHeartbeatAck); ok {
						gotAck = true
					}
					if c, ok := pk.Chunk(wire.ChunkSack); ok {
						require.Equal(t, tsn, sackOf(t, c).CumTSNAck())
						gotSack = true
					}
				}
				require.Equal(t, "odd", string(recvMessage(t, s.ep).Payload))
			},
		},
		initParamRule("3.2.1-00/init-param-stops-parameters-silently",
			"RFC 9260 section 3.2.1: \"00 - Stop processing this parameter and do not process any further parameters within this chunk.\"",
			unknownParam00, false, false),
		initParamRule("3.2.1-01/init-param-stops-parameters-and-reports",
			"RFC 9260 section 3.2.1: \"01 - Stop processing this parameter, do not process any further parameters within this chunk, and report the unrecognized parameter, as described in Section 3.2.2.\"",
			unknownParam01, true, false),
		initParamRule("3.2.1-10/init-param-skipped-silently",
			"RFC 9260 section 3.2.1: \"10 - Skip this parameter and continue processing.\"",
			unknownParam10, false, true),
		initParamRule("3.2.1-11/init-param-skipped-and-reported",
			"RFC 9260 section 3.2.1: \"11 - Skip this parameter and continue processing but report the unrecognized parameter, as described in Section 3.2.2.\"",
			unknownParam11, true, true),
		{
			name: "3.2.2/init-ack-unrecognized-params-reported",
			text: "RFC 9260 section 3.2.2: \"If the receiver of an INIT ACK chunk detects unrecognized parameters and has to report them according to Section 3.2.1, it SHOULD bundle the ERROR chunk containing the 'Unrecognized Parameters' error cause with the COOKIE ECHO chunk sent in response to the INIT ACK chunk. If the receiver of the INIT ACK cannot bundle the COOKIE ECHO chunk with the ERROR chunk, the ERROR chunk MAY be sent separately but not before the COOKIE ACK has been received.\"",
			run: func(t *testing.T) {
				p := newPeer(t, lo1)
				c, _ := p.dial()
				unknown := wire.Param{Type: unknownParam11, Value: []byte("report me")}
				p.SendTag(p.TheirTag, p.initAckChunk(unknown))
				echo, _ := p.ExpectTag(wire.ChunkCookieEcho, p.MyTag)
				require.Equal(t, wire.ChunkCookieEcho, echo.Chunks[0].Type, "RFC 9260 section 5.1: the COOKIE ECHO is the first chunk")
				e, bundled := echo.Chunk(wire.ChunkError)
				p.SendTag(p.TheirTag, wire.AppendCookieAck(nil))
				require.NoError(t, c.wait(t).err)
				if !bundled {
					// Allowed after the COOKIE ACK.
					pk, ok := p.Read(silenceWindow)
					require.Truef(t, ok, "no ERROR with Unrecognized Parameters for INIT ACK parameter %#x, neither bundled with the COOKIE ECHO nor after the COOKIE ACK", uint16(unknownParam11))
					e, bundled = pk.Chunk(wire.ChunkError)
					require.Truef(t, bundled, "expected an ERROR after the COOKIE ACK, got %v", pk)
				}
				causes := causesOf(t, e)
				require.True(t, hasCause(causes, wire.CauseUnrecognizedParams), "causes %v", causeCodes(causes))
				for _, cs := range causes {
					if cs.Code == wire.CauseUnrecognizedParams {
						require.Equal(t, uint16(unknownParam11), binary.BigEndian.Uint16(cs.Info), "the cause carries the parameter")
					}
				}
			},
		},
	}
}

// initParamRule checks what an INIT listing an unknown parameter of type
// pt, then the address 127.0.0.2, gets: report says whether the INIT ACK
// reports it, goOn whether the address after it is processed.
func initParamRule(name, text string, pt wire.ParamType, report, goOn bool) rule {
	return rule{name: name, text: text, run: func(t *testing.T) {
		s := newServer(t)
		p := s.peerFor(t, lo1)
		unknown := wire.Param{Type: pt, Value: []byte("unknown!")}
		ack, ck := p.initAck(unknown, wire.AddressParam(lo2))
		var reported []wire.ParamType
		for _, prm := range ack.Params {
			if prm.Type == wire.ParamUnrecognized {
				u, err := prm.Unrecognized()
				require.NoError(t, err)
				reported = append(reported, u.Type)
			}
		}
		if report {
			require.Equalf(t, []wire.ParamType{pt}, reported, "the INIT ACK reports parameter %#x in an Unrecognized Parameter", uint16(pt))
		} else {
			require.Emptyf(t, reported, "parameter %#x is not reported", uint16(pt))
		}
		p.TheirTag = ack.InitiateTag
		p.SendTag(p.TheirTag, must(wire.AppendCookieEcho(nil, ck)))
		p.ExpectTag(wire.ChunkCookieAck, p.MyTag)
		a := nextEvent(t, s.ep, sock.EventUp).Association
		var remotes []string
		for _, pa := range a.Paths() {
			remotes = append(remotes, pa.Remote.String())
		}
		if goOn {
			require.ElementsMatchf(t, []string{"127.0.0.1", "127.0.0.2"}, remotes, "the address after parameter %#x is processed", uint16(pt))
		} else {
			require.Equalf(t, []string{"127.0.0.1"}, remotes, "no parameter after %#x is processed", uint16(pt))
		}
	}}
}

func section33() []rule {
	initWith := func(mutate func(*wire.Init)) []byte {
		in := initValue(0x7a900001, 1, nil...)
		mutate(&in)
		return must(in.Append(nil, wire.ChunkInit))
	}
	zeroStreamsInit := func(t *testing.T, mutate func(*wire.Init), what string) {
		_, p, a := established(t)
		p.SendTag(0, initWith(mutate))
		if pk, ok := p.Read(silenceWindow); ok {
			c, isAbort := pk.Chunk(wire.ChunkAbort)
			require.Truef(t, isAbort, "an INIT with %s is discarded (an ABORT may answer it), got %v", what, pk)
			require.Equal(t, uint32(0x7a900001), pk.Header.VerificationTag, "the ABORT uses the Initiate Tag as the Verification Tag")
			require.Zero(t, c.Flags&wire.FlagT, "the T bit is clear: the tag is the INIT's own")
		}
		p.alive(a, "an INIT with "+what+" must not change the existing association")
	}
	ackWith := func(p *peer, mutate func(*wire.Init)) []byte {
		ack := initValue(p.MyTag, p.NextTSN, wire.StateCookieParam(cookie))
		mutate(&ack)
		return must(ack.Append(nil, wire.ChunkInitAck))
	}
	return []rule{
		{
			name: "3.3.2/init-initiate-tag-0-discarded",
			text: "RFC 9260 section 3.3.2: \"If the value of the Initiate Tag in a received INIT chunk is found to be 0, the receiver MUST silently discard the packet.\"",
			run: func(t *testing.T) {
				s := newServer(t)
				p := s.peerFor(t, lo1)
				p.SendTag(0, initWith(func(in *wire.Init) { in.InitiateTag = 0 }))
				p.Silence("an INIT with Initiate Tag 0 gets no reply")
				require.Empty(t, s.ep.Associations())
			},
		},
		{
			name: "3.3.2/init-OS-0-discarded",
			text: "RFC 9260 section 3.3.2: \"A receiver of an INIT chunk with the OS value set to 0 MUST discard the packet, SHOULD send a packet in response containing an ABORT chunk and using the Initiate Tag as the Verification Tag, and MUST NOT change the state of any existing association.\"",
			run: func(t *testing.T) {
				zeroStreamsInit(t, func(in *wire.Init) { in.OutStreams = 0 }, "OS 0")
			},
		},
		{
			name: "3.3.2/init-MIS-0-discarded",
			text: "RFC 9260 section 3.3.2: \"A receiver of an INIT chunk with the MIS value set to 0 MUST discard the packet, SHOULD send a packet in response containing an ABORT chunk and using the Initiate Tag as the Verification Tag, and MUST NOT change the state of any existing association.\"",
			run: func(t *testing.T) {
				zeroStreamsInit(t, func(in *wire.Init) { in.InStreams = 0 }, "MIS 0")
			},
		},
		{
			name: "3.3.2/initiate-tag-used-by-responder",
			text: "RFC 9260 section 3.3.2: \"The receiver of the INIT chunk (the responding end) records the value of the Initiate Tag parameter. This value MUST be placed into the Verification Tag field of every SCTP packet that the receiver of the INIT chunk transmits within this association.\"",
			run: func(t *testing.T) {
				s, p, a := established(t) // INIT ACK and COOKIE ACK checked there
				_, data := p.data("x")
				p.SendAssoc(data)
				p.ExpectTag(wire.ChunkSack, p.MyTag)
				require.Equal(t, "x", string(recvMessage(t, s.ep).Payload))
				require.NoError(t, a.Send(context.Background(), []byte("y"), sock.SendInfo{}))
				p.ExpectTag(wire.ChunkData, p.MyTag, wire.ChunkSack)
				p.SendAssoc(heartbeat("hb"))
				p.ExpectTag(wire.ChunkHeartbeatAck, p.MyTag, wire.ChunkData, wire.ChunkSack)
			},
		},
		{
			name: "3.3.3/init-ack-initiate-tag-0-destroys-association",
			text: "RFC 9260 section 3.3.3: \"If the value of the Initiate Tag in a received INIT ACK chunk is found to be 0, the receiver MUST destroy the association discarding its TCB.\"",
			run: func(t *testing.T) {
				var p *peer
				dialRejectsWith(t, &p, func() []byte { return ackWith(p, func(a *wire.Init) { a.InitiateTag = 0 }) }, "Initiate Tag 0")
			},
		},
		{
			name: "3.3.3/init-ack-OS-0-destroys-association",
			text: "RFC 9260 section 3.3.3: \"A receiver of an INIT ACK chunk with the OS value set to 0 MUST destroy the association discarding its TCB.\"",
			run: func(t *testing.T) {
				var p *peer
				dialRejectsWith(t, &p, func() []byte { return ackWith(p, func(a *wire.Init) { a.OutStreams = 0 }) }, "OS 0")
			},
		},
		{
			name: "3.3.3/init-ack-MIS-0-destroys-association",
			text: "RFC 9260 section 3.3.3: \"A receiver of an INIT ACK chunk with the MIS value set to 0 MUST destroy the association discarding its TCB.\"",
			run: func(t *testing.T) {
				var p *peer
				dialRejectsWith(t, &p, func() []byte { return ackWith(p, func(a *wire.Init) { a.InStreams = 0 }) }, "MIS 0")
			},
		},
		{
			name: "3.3.3/initiate-tag-used-by-initiator",
			text: "RFC 9260 section 3.3.3: \"The receiver of the INIT ACK records the value of the Initiate Tag parameter. This value MUST be placed into the Verification Tag field of every SCTP packet that the INIT ACK receiver transmits within this association.\"",
			run: func(t *testing.T) {
				p := newPeer(t, lo1)
				c, _ := p.dial()
				a := p.accept(c) // the COOKIE ECHO's tag is checked there
				require.NoError(t, a.Send(context.Background(), []byte("from the initiator"), sock.SendInfo{}))
				p.ExpectTag(wire.ChunkData, p.MyTag)
				_, data := p.data("to the initiator")
				p.SendAssoc(data)
				p.ExpectTag(wire.ChunkSack, p.MyTag, wire.ChunkData)
			},
		},
		{
			name: "3.3.4/sack-of-unsent-tsn-protocol-violation",
			text: "RFC 9260 section 6.2.1 and 3.3.10.13: a SACK whose Cumulative TSN Ack acknowledges TSNs never sent is a protocol violation: \"This error cause MAY be included in ABORT chunks that are sent because an SCTP endpoint detects a protocol violation of the peer that is not covered by the error causes described in Sections 3.3.10.1 to 3.3.10.12.\"",
			run: func(t *testing.T) {
				_, p, a := established(t)
				require.NoError(t, a.Send(context.Background(), []byte("one"), sock.SendInfo{}))
				_, d := p.ExpectTag(wire.ChunkData, p.MyTag)
				tsn, _ := wire.PeekDataTSN(d)
				p.SendAssoc(must(wire.AppendSack(nil, tsn+1000, 1<<20, nil, nil)))
				pk, c := p.Expect(wire.ChunkAbort, wire.ChunkData, wire.ChunkSack)
				require.Equal(t, p.MyTag, pk.Header.VerificationTag)
				causes := causesOf(t, c)
				require.Truef(t, hasCause(causes, wire.CauseProtocolViolation), "a SACK for TSN %d when only %d was sent: ABORT with Protocol Violation, got causes %v", tsn+1000, tsn, causeCodes(causes))
			},
		},
		{
			name: "3.3.6/heartbeat-ack-echoes-info",
			text: "RFC 9260 section 3.3.6: \"Heartbeat Information: variable length. This field MUST contain the Heartbeat Information parameter of the Heartbeat Request to which this Heartbeat Acknowledgement is responding.\"",
			run: func(t *testing.T) {
				_, p, _ := established(t)
				info := "0123456789abcdef-heartbeat-info"
				p.SendAssoc(heartbeat(info))
				_, c := p.ExpectTag(wire.ChunkHeartbeatAck, p.MyTag)
				got, err := wire.ParseHeartbeat(c.Value)
				require.NoError(t, err)
				require.Equal(t, info, string(got))
			},
		},
		{
			name: "3.3.7/abort-carries-peer-tag-T-bit-clear",
			text: "RFC 9260 section 8.5.1 B: \"The endpoint MUST always fill in the Verification Tag field of the outbound packet with the destination endpoint's tag value, if it is known.\" and section 3.3.7: \"The T bit is set to 0 if the sender filled in the Verification Tag expected by the peer.\"",
			run: func(t *testing.T) {
				_, p, a := established(t)
				a.Abort("probe")
				_, c := p.ExpectTag(wire.ChunkAbort, p.MyTag)
				require.Zero(t, c.Flags&wire.FlagT, "T bit clear")
			},
		},
		{
			name: "3.3.11/cookie-echo-carries-exact-cookie",
			text: "RFC 9260 section 3.3.11: \"Cookie: variable size. This field MUST contain the exact cookie received in the State Cookie parameter from the previous INIT ACK chunk.\"",
			run: func(t *testing.T) {
				p := newPeer(t, lo1)
				c, _ := p.dial()
				p.SendTag(p.TheirTag, p.initAckChunk())
				pk, ce := p.ExpectTag(wire.ChunkCookieEcho, p.MyTag)
				require.Equal(t, cookie, ce.Value)
				require.Equal(t, wire.ChunkCookieEcho, pk.Chunks[0].Type, "RFC 9260 section 5.1 C: the COOKIE ECHO MUST be the first chunk in the packet")
				p.SendTag(p.TheirTag, wire.AppendCookieAck(nil))
				require.NoError(t, c.wait(t).err)
			},
		},
		{
			name: "5.1/cookie-echo-retransmitted-on-t1-cookie",
			text: "RFC 9260 section 5.1 C: \"Upon reception of the INIT ACK chunk, endpoint \"A\" MUST stop the T1-init timer and leave the COOKIE-WAIT state. It then MUST send the State Cookie received in the INIT ACK chunk in a COOKIE ECHO chunk, start the T1-cookie timer, and enter the COOKIE-ECHOED state.\" and section 5.1: \"If the T1-cookie timer expires, the endpoint MUST retransmit COOKIE ECHO and restart the T1-cookie timer without changing state.\"",
			run: func(t *testing.T) {
				p := newPeer(t, lo1)
				c, _ := p.dial(sock.WithRTOInitial(50 * time.Millisecond))
				p.SendTag(p.TheirTag, p.initAckChunk())
				_, first := p.ExpectTag(wire.ChunkCookieEcho, p.MyTag)
				_, again := p.ExpectTag(wire.ChunkCookieEcho, p.MyTag)
				require.Equal(t, first.Value, again.Value, "the same cookie again")
				p.SendTag(p.TheirTag, wire.AppendCookieAck(nil))
				require.NoError(t, c.wait(t).err)
			},
		},
	}
}

// dialRejectsWith runs dialRejects with an INIT ACK built once the peer
// exists (*pp is set before build is called).
func dialRejectsWith(t *testing.T, pp **peer, build func() []byte, what string) {
	p := newPeer(t, lo1)
	*pp = p
	c, _ := p.dial(sock.WithRTOInitial(300*time.Millisecond), sock.WithMaxInitRetransmits(1))
	p.SendTag(p.TheirTag, build())
	r := c.wait(t)
	require.Errorf(t, r.err, "Connect must fail on an INIT ACK with %s", what)
	require.Falsef(t, errors.Is(r.err, sock.ErrTimeout),
		"an INIT ACK with %s must destroy the association attempt at once; instead it was ignored and INIT retried until Connect timed out: %v", what, r.err)
	require.Empty(t, c.ep.Associations(), "the TCB is discarded")
}

func hostNameParam() wire.Param {
	return wire.Param{Type: wire.ParamHostNameAddress, Value: []byte("peer.example\x00")}
}

func section51() []rule {
	return []rule{
		{
			name: "5.1-A/init-tag-0-and-initiate-tag",
			text: "RFC 9260 section 5.1 A: \"In the INIT chunk, 'A' MUST provide its Verification Tag (Tag_A) in the Initiate Tag field.\" and section 8.5.1 A: \"The sender MUST set the Verification Tag of the packet to 0.\"",
			run: func(t *testing.T) {
				p := newPeer(t, lo1)
				_, init := p.dial() // expectInit checks tag 0 and that the INIT is alone
				require.NotZero(t, init.InitiateTag)
				require.NotZero(t, init.OutStreams)
				require.NotZero(t, init.InStreams)
			},
		},
		{
			name: "5.1-B/init-answered-with-init-ack-with-tags",
			text: "RFC 9260 section 5.1 B: \"In the response, besides filling in other parameters, 'Z' MUST set the Verification Tag field to Tag_A, and also provide its own Verification Tag (Tag_Z) in the Initiate Tag field.\"",
			run: func(t *testing.T) {
				s := newServer(t)
				p := s.peerFor(t, lo1)
				ack, _ := p.initAck() // Verification Tag = Tag_A checked there
				require.NotZero(t, ack.InitiateTag, "RFC 9260 section 3.3.3: \"The Initiate Tag MUST NOT take the value 0.\"")
				require.NotZero(t, ack.OutStreams)
				require.NotZero(t, ack.InStreams)
				require.Empty(t, s.ep.Associations(), "section 5.1.3: no state is kept for an INIT")
			},
		},
		{
			name: "5.1-C/cookie-echo-answered-with-cookie-ack-first",
			text: "RFC 9260 section 5.1 D: \"Upon reception of the COOKIE ECHO chunk, endpoint 'Z' replies with a COOKIE ACK chunk after building a TCB and moving to the ESTABLISHED state. A COOKIE ACK chunk MAY be bundled with any pending DATA chunks (and/or SACK chunks), but the COOKIE ACK chunk MUST be the first chunk in the packet.\"",
			run: func(t *testing.T) {
				s := newServer(t)
				p := s.peerFor(t, lo1)
				ack, ck := p.initAck()
				p.TheirTag = ack.InitiateTag
				tsn, data := p.data("bundled with the cookie")
				p.SendTag(p.TheirTag, must(wire.AppendCookieEcho(nil, ck)), data)
				pk, _ := p.ExpectTag(wire.ChunkCookieAck, p.MyTag)
				require.Equal(t, wire.ChunkCookieAck, pk.Chunks[0].Type)
				a := nextEvent(t, s.ep, sock.EventUp).Association
				require.Equal(t, sock.StateEstablished, a.State())
				require.Equal(t, "bundled with the cookie", string(recvMessage(t, s.ep).Payload))
				if _, ok := pk.Chunk(wire.ChunkSack); !ok {
					_, c := p.ExpectTag(wire.ChunkSack, p.MyTag)
					require.Equal(t, tsn, sackOf(t, c).CumTSNAck())
				}
			},
		},
		{
			name: "5.1.2-A/no-address-parameters-source-only",
			text: "RFC 9260 section 5.1.2 A: \"If there are no address parameters present in the received INIT or INIT ACK chunk, the endpoint MUST take the source IP address from which the chunk arrives and record it, in combination with the SCTP source port number, as the only destination transport address for this peer.\"",
			run: func(t *testing.T) {
				_, _, a := established(t)
				paths := a.Paths()
				require.Len(t, paths, 1)
				require.Equal(t, lo1, paths[0].Remote)
				require.Equal(t, uint16(peerSCTPPort), a.PeerPort())
			},
		},
		{
			name: "5.1.2-C/listed-addresses-and-source-recorded",
			text: "RFC 9260 section 5.1.2 C: \"If there are only IPv4/IPv6 addresses present in the received INIT or INIT ACK chunk, the receiver MUST derive and record all the transport addresses from the received chunk AND the source IP address that sent the INIT or INIT ACK chunk.\"",
			run: func(t *testing.T) {
				s := newServer(t)
				p := s.peerFor(t, lo1)
				a := p.associate(s, wire.AddressParam(lo2))
				var remotes []string
				for _, pa := range a.Paths() {
					remotes = append(remotes, pa.Remote.String())
				}
				require.ElementsMatch(t, []string{"127.0.0.1", "127.0.0.2"}, remotes)
			},
		},
		{
			name: "5.1.2-B/host-name-in-init-abort-unresolvable",
			text: "RFC 9260 section 5.1.2 B: \"If there is a Host Name Address parameter present in the received INIT or INIT ACK chunk, the endpoint MUST immediately send an ABORT chunk and MAY include an 'Unresolvable Address' error cause to its peer.\"",
			run: func(t *testing.T) {
				s := newServer(t)
				p := s.peerFor(t, lo1)
				p.SendTag(0, initChunk(p.MyTag, p.NextTSN, hostNameParam()))
				pk, ok := p.Read(replyWait)
				require.True(t, ok, "an INIT with a Host Name Address gets an ABORT")
				c, isAbort := pk.Chunk(wire.ChunkAbort)
				require.Truef(t, isAbort, "an INIT with a Host Name Address must be answered with ABORT, got %v", pk)
				require.Equal(t, p.MyTag, pk.Header.VerificationTag)
				causes := causesOf(t, c)
				require.Truef(t, hasCause(causes, wire.CauseUnresolvableAddress), "ABORT causes %v, want Unresolvable Address", causeCodes(causes))
				require.Empty(t, s.ep.Associations())
			},
		},
		{
			name: "5.1.2-B/host-name-in-init-ack-abort-unresolvable",
			text: "RFC 9260 section 5.1.2 B: \"If there is a Host Name Address parameter present in the received INIT or INIT ACK chunk, the endpoint MUST immediately send an ABORT chunk and MAY include an 'Unresolvable Address' error cause to its peer.\"",
			run: func(t *testing.T) {
				p := newPeer(t, lo1)
				c, _ := p.dial(sock.WithRTOInitial(time.Second))
				p.SendTag(p.TheirTag, p.initAckChunk(hostNameParam()))
				pk, ok := p.Read(replyWait)
				require.True(t, ok, "an INIT ACK with a Host Name Address gets an ABORT")
				ab, isAbort := pk.Chunk(wire.ChunkAbort)
				require.Truef(t, isAbort, "an INIT ACK with a Host Name Address must be answered with ABORT, got %v", pk)
				require.Equal(t, p.MyTag, pk.Header.VerificationTag)
				causes := causesOf(t, ab)
				require.Truef(t, hasCause(causes, wire.CauseUnresolvableAddress), "ABORT causes %v, want Unresolvable Address", causeCodes(causes))
				require.Error(t, c.wait(t).err, "Connect fails")
			},
		},
	}
}

func section52() []rule {
	return []rule{
		{
			name: "5.2.1/init-in-cookie-wait-same-initiate-tag",
			text: "RFC 9260 section 5.2.1: \"Upon receipt of an INIT chunk in the COOKIE-WAIT state, an endpoint MUST respond with an INIT ACK chunk using the same parameters it sent in its original INIT chunk (including its Initiate Tag, unchanged).\"",
			run: func(t *testing.T) {
				p := newPeer(t, lo1)
				_, init := p.dial(sock.WithRTOInitial(2 * time.Second))
				p.SendTag(0, initChunk(p.MyTag, p.NextTSN))
				_, c := p.ExpectTag(wire.ChunkInitAck, p.MyTag)
				ack, err := wire.ParseInit(c.Value)
				require.NoError(t, err)
				require.Equal(t, init.InitiateTag, ack.InitiateTag, "the Initiate Tag of the original INIT")
				require.Equal(t, init.InitialTSN, ack.InitialTSN)
				require.Equal(t, init.OutStreams, ack.OutStreams)
				require.Equal(t, init.InStreams, ack.InStreams)
			},
		},
		{
			name: "5.2.1/init-in-cookie-echoed-same-initiate-tag",
			text: "RFC 9260 section 5.2.1: \"Upon receipt of an INIT chunk in the COOKIE-ECHOED state, an endpoint MUST respond with an INIT ACK chunk with the same parameters it sent in its original INIT chunk (including its Initiate Tag, unchanged), provided that no NEW address has been added to the forming association.\"",
			run: func(t *testing.T) {
				p := newPeer(t, lo1)
				_, init := p.dial(sock.WithRTOInitial(2 * time.Second))
				p.SendTag(p.TheirTag, p.initAckChunk())
				p.ExpectTag(wire.ChunkCookieEcho, p.MyTag)
				p.SendTag(0, initChunk(p.MyTag, p.NextTSN))
				_, c := p.ExpectTag(wire.ChunkInitAck, p.MyTag, wire.ChunkCookieEcho)
				ack, err := wire.ParseInit(c.Value)
				require.NoError(t, err)
				require.Equal(t, init.InitiateTag, ack.InitiateTag, "the Initiate Tag of the original INIT")
			},
		},
		{
			name: "5.2.1/init-with-new-address-in-cookie-echoed-discarded",
			text: "RFC 9260 section 5.2.1: \"If the INIT chunk indicates that a new address has been added to the association, then the entire INIT chunk MUST be discarded, and NO changes should be made to the existing association.\"",
			run: func(t *testing.T) {
				p := newPeer(t, lo1)
				c, _ := p.dial(sock.WithRTOInitial(2 * time.Second))
				p.SendTag(p.TheirTag, p.initAckChunk())
				p.ExpectTag(wire.ChunkCookieEcho, p.MyTag)
				p.SendTag(0, initChunk(p.MyTag, p.NextTSN, wire.AddressParam(lo2)))
				if pk, ok := p.Read(silenceWindow); ok {
					_, isAbort := pk.Chunk(wire.ChunkAbort)
					_, isEcho := pk.Chunk(wire.ChunkCookieEcho)
					require.Truef(t, isAbort || isEcho, "an INIT adding an address in COOKIE-ECHOED is discarded (an ABORT SHOULD answer it), got %v", pk)
				}
				as := c.ep.Associations()
				require.Len(t, as, 1)
				for _, pa := range as[0].Paths() {
					require.NotEqual(t, lo2, pa.Remote, "no change to the forming association")
				}
			},
		},
		{
			name: "5.2.2/init-in-established-new-initiate-tag",
			text: "RFC 9260 section 5.2.2: \"the outbound SCTP packet containing this INIT ACK chunk MUST carry a Verification Tag value equal to the Initiate Tag found in the unexpected INIT chunk. And the INIT ACK chunk MUST contain a new Initiate Tag (randomly generated; see Section 5.3.1).\"",
			run: func(t *testing.T) {
				_, p, a := established(t)
				const newTag = 0x5eed0002
				p.SendTag(0, initChunk(newTag, 5000))
				_, c := p.ExpectTag(wire.ChunkInitAck, newTag)
				ack, err := wire.ParseInit(c.Value)
				require.NoError(t, err)
				require.NotEqual(t, p.TheirTag, ack.InitiateTag, "a new Initiate Tag")
				require.NotZero(t, ack.InitiateTag)
				p.alive(a, "an unexpected INIT alone changes nothing")
			},
		},
		{
			name: "5.2.2/restart-with-new-addresses-abort",
			text: "RFC 9260 section 5.2.2: \"the endpoint MUST check to see if the unexpected INIT adds new addresses to the association. If new addresses are added to the association, the endpoint MUST respond with an ABORT, copying the 'Initiate Tag' of the unexpected INIT into the 'Verification Tag' of the outbound packet carrying the ABORT. In the ABORT response, the cause of error MAY be set to 'restart of an association with new addresses'.\"",
			run: func(t *testing.T) {
				_, p, a := established(t)
				const newTag = 0x5eed0003
				p.SendTag(0, initChunk(newTag, 5000, wire.AddressParam(lo2)))
				pk, ok := p.Read(replyWait)
				require.True(t, ok, "a reply to the restart INIT")
				c, isAbort := pk.Chunk(wire.ChunkAbort)
				require.Truef(t, isAbort, "a restart INIT adding 127.0.0.2 must get an ABORT, got %v", pk)
				require.Equal(t, uint32(newTag), pk.Header.VerificationTag)
				causes := causesOf(t, c)
				require.Truef(t, hasCause(causes, wire.CauseRestartWithNewAddresses), "ABORT causes %v", causeCodes(causes))
				p.alive(a, "the refused restart")
			},
		},
		{
			name: "5.2.3/init-ack-in-established-discarded",
			text: "RFC 9260 section 5.2.3: \"If an INIT ACK chunk is received by an endpoint in any state other than the COOKIE-WAIT or CLOSED state, the endpoint SHOULD discard the INIT ACK chunk.\"",
			run: func(t *testing.T) {
				_, p, a := established(t)
				p.SendAssoc(must(initValue(0x5eed0004, 1, wire.StateCookieParam(cookie)).Append(nil, wire.ChunkInitAck)))
				p.Silence("an unexpected INIT ACK is discarded")
				p.alive(a, "an unexpected INIT ACK")
			},
		},
		{
			name: "5.2.4-D/duplicate-cookie-echo-cookie-ack",
			text: "RFC 9260 section 5.2.4 D: \"When both local and remote tags match, the endpoint should enter the ESTABLISHED state, if it is in the COOKIE-ECHOED state. It should stop any cookie timer that may be running and send a COOKIE ACK chunk.\"",
			run: func(t *testing.T) {
				s := newServer(t)
				p := s.peerFor(t, lo1)
				ack, ck := p.initAck()
				p.TheirTag = ack.InitiateTag
				p.SendTag(p.TheirTag, must(wire.AppendCookieEcho(nil, ck)))
				p.ExpectTag(wire.ChunkCookieAck, p.MyTag)
				a := nextEvent(t, s.ep, sock.EventUp).Association
				p.SendTag(p.TheirTag, must(wire.AppendCookieEcho(nil, ck)))
				p.ExpectTag(wire.ChunkCookieAck, p.MyTag)
				require.Equal(t, []*sock.Association{a}, s.ep.Associations(), "the same association")
				p.alive(a, "a duplicate COOKIE ECHO")
			},
		},
		{
			name: "5.2.5/cookie-ack-in-established-discarded",
			text: "RFC 9260 section 5.2.5: \"At any state other than COOKIE-ECHOED, an endpoint SHOULD silently discard a received COOKIE ACK chunk.\"",
			run: func(t *testing.T) {
				_, p, a := established(t)
				p.SendAssoc(wire.AppendCookieAck(nil))
				p.Silence("a COOKIE ACK in ESTABLISHED is discarded")
				p.alive(a, "a late COOKIE ACK")
			},
		},
	}
}

// pathTo returns the association's path to addr.
func pathTo(t testing.TB, a *sock.Association, addr string) sock.Path {
	t.Helper()
	for _, p := range a.Paths() {
		if p.Remote.String() == addr {
			return p
		}
	}
	require.FailNowf(t, "no path", "no path to %s in %v", addr, a.Paths())
	return sock.Path{}
}

// twoAddressPeer associates a peer on 127.0.0.1 that lists 127.0.0.2 and
// returns the twin socket on 127.0.0.2 too.
func twoAddressPeer(t *testing.T) (*server, *peer, *peer, *sock.Association) {
	s := newServer(t)
	p := s.peerFor(t, lo1)
	a := p.associate(s, wire.AddressParam(lo2))
	return s, p, p.twin(lo2), a
}

func section54() []rule {
	return []rule{
		{
			name: "5.4-2/cookie-echo-from-other-address-init-ack-address-confirmed",
			text: "RFC 9260 section 5.4: \"2) For the receiver of the COOKIE ECHO chunk, the only CONFIRMED address is the one to which the INIT ACK chunk was sent.\"",
			run: func(t *testing.T) {
				s := newServer(t)
				p := s.peerFor(t, lo1)
				ack, ck := p.initAck(wire.AddressParam(lo2))
				p.TheirTag = ack.InitiateTag
				q := p.twin(lo2)
				q.SendTag(p.TheirTag, must(wire.AppendCookieEcho(nil, ck)))
				q.ExpectTag(wire.ChunkCookieAck, p.MyTag)
				a := nextEvent(t, s.ep, sock.EventUp).Association
				var one, two *sock.Path
				var got []string
				for _, pa := range a.Paths() {
					got = append(got, fmt.Sprintf("%v %v primary=%v", pa.Remote, pa.State, pa.Primary))
					switch pa.Remote {
					case lo1:
						one = &pa
					case lo2:
						two = &pa
					}
				}
				require.Truef(t, one != nil && one.Primary && one.State == sock.PathActive,
					"the INIT ACK went to 127.0.0.1: it must be the confirmed primary; paths after a COOKIE ECHO from 127.0.0.2: %v", got)
				require.Truef(t, two == nil || (!two.Primary && two.State == sock.PathUnconfirmed),
					"127.0.0.2, where only the COOKIE ECHO came from, is at most unconfirmed; paths: %v", got)
			},
		},
		{
			name: "5.4-3/listed-address-unconfirmed",
			text: "RFC 9260 section 5.4: \"3) All other addresses not covered by rules 1 and 2 are considered UNCONFIRMED and are subject to probing for verification.\"",
			run: func(t *testing.T) {
				_, _, _, a := twoAddressPeer(t)
				one, two := pathTo(t, a, "127.0.0.1"), pathTo(t, a, "127.0.0.2")
				require.Equal(t, sock.PathActive, one.State)
				require.True(t, one.Primary)
				require.Equal(t, sock.PathUnconfirmed, two.State)
			},
		},
		{
			name: "5.4/no-data-to-unconfirmed-address",
			text: "RFC 9260 section 5.4: \"An endpoint MUST NOT send any chunks to an UNCONFIRMED address, with the following exceptions: A HEARTBEAT chunk including a nonce MAY be sent to an UNCONFIRMED address. A HEARTBEAT ACK chunk MAY be sent to an UNCONFIRMED address. A COOKIE ACK chunk MAY be sent to an UNCONFIRMED address, but it MUST be sent to the address from which the COOKIE ECHO chunk was received. An ABORT chunk MAY be sent to an UNCONFIRMED address.\"",
			run: func(t *testing.T) {
				_, p, q, a := twoAddressPeer(t)
				for i := range 5 {
					require.NoError(t, a.Send(context.Background(), []byte{byte('a' + i)}, sock.SendInfo{}))
				}
				for range 5 {
					p.ExpectTag(wire.ChunkData, p.MyTag, wire.ChunkData)
				}
				q.Silence("nothing but HEARTBEATs goes to the unconfirmed 127.0.0.2", wire.ChunkHeartbeat)
			},
		},
		{
			name: "5.4/heartbeat-ack-with-nonce-confirms",
			text: "RFC 9260 section 5.4: \"Upon receipt of the HEARTBEAT ACK, a verification is made that the nonce included in the HEARTBEAT parameter is the one sent to the address indicated inside the HEARTBEAT parameter. When this match occurs, the address that the original HEARTBEAT was sent to is now considered CONFIRMED and available for normal data transfer.\"",
			run: func(t *testing.T) {
				s, _, q, a := twoAddressPeer(t)
				_, hb := q.ExpectTag(wire.ChunkHeartbeat, q.MyTag)
				info, err := wire.ParseHeartbeat(hb.Value)
				require.NoError(t, err)
				q.SendAssoc(must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeatAck, info)))
				ev := nextEvent(t, s.ep, sock.EventPathConfirmed)
				require.Equal(t, lo2, ev.Path)
				require.Equal(t, sock.PathActive, pathTo(t, a, "127.0.0.2").State)
			},
		},
		{
			name: "5.4/forged-heartbeat-ack-does-not-confirm",
			text: "RFC 9260 section 5.4: \"Upon receipt of the HEARTBEAT ACK, a verification is made that the nonce included in the HEARTBEAT parameter is the one sent to the address indicated inside the HEARTBEAT parameter.\"",
			run: func(t *testing.T) {
				_, _, q, a := twoAddressPeer(t)
				q.SendAssoc(must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeatAck, []byte("forged heartbeat info, no nonce of ours"))))
				q.Drain()
				require.Equal(t, sock.PathUnconfirmed, pathTo(t, a, "127.0.0.2").State)
			},
		},
	}
}

func section62() []rule {
	return []rule{
		{
			name: "6.2/duplicate-tsn-reported-at-once",
			text: "RFC 9260 section 6.2: \"When a packet arrives with duplicate DATA chunk(s) and with no new DATA chunk(s), the endpoint MUST immediately send a SACK chunk with no delay.\" and section 3.3.4: \"Every time a receiver gets a duplicate TSN (before sending the SACK), it adds it to the list of duplicates.\"",
			run: func(t *testing.T) {
				s, p, _ := established(t)
				tsn, data := p.data("twice")
				p.SendAssoc(data)
				p.ExpectTag(wire.ChunkSack, p.MyTag)
				require.Equal(t, "twice", string(recvMessage(t, s.ep).Payload))
				p.SendAssoc(data)
				_, c := p.ExpectTag(wire.ChunkSack, p.MyTag)
				v := sackOf(t, c)
				var dups []uint32
				for i := range v.NumDupTSNs() {
					dups = append(dups, v.DupTSN(i))
				}
				require.Containsf(t, dups, tsn, "the SACK answering a duplicate lists TSN %d as a Duplicate TSN; it lists %v", tsn, dups)
				noMessage(t, s.ep, "a duplicate is not delivered twice")
			},
		},
		{
			name: "6.2/data-beyond-window-dropped",
			text: "RFC 9260 section 3.3.2: \"Advertised Receiver Window Credit (a_rwnd): This value represents the dedicated buffer space, in number of bytes, the sender of the INIT chunk has reserved in association with this window.\" A TSN further ahead than a_rwnd bytes can hold is outside the window; section 6.2: \"When the receiver's advertised window is 0, the receiver MUST drop any new incoming DATA chunk with a TSN larger than the largest TSN received so far.\"",
			run: func(t *testing.T) {
				s, p, _ := established(t, sock.WithReceiveBuffer(4000), sock.WithMaxMessageSize(1000))
				before := drops(s.stack, sock.DropOverWindow)
				base := p.NextTSN
				// Every DATA chunk carries at least one byte: TSN base+5000
				// cannot be held in a window of 4,000 bytes.
				p.SendAssoc(dataChunk(base+5000, 0, 5000, "far ahead"))
				p.Drain()
				// Then fill from the bottom: the first in-window TSN.
				tsn, data := p.data("first")
				require.Equal(t, base, tsn)
				p.SendAssoc(data)
				_, c := p.ExpectTag(wire.ChunkSack, p.MyTag, wire.ChunkSack)
				v := sackOf(t, c)
				require.Equal(t, base, v.CumTSNAck())
				for i := range v.NumGapBlocks() {
					start, end := v.GapBlock(i)
					require.Falsef(t, 5000 >= start && 5000 <= end, "TSN %d beyond the window is acknowledged in gap block %d-%d: it was kept", base+5000, start, end)
				}
				require.Equal(t, "first", string(recvMessage(t, s.ep).Payload))
				require.Greaterf(t, drops(s.stack, sock.DropOverWindow), before, "the DATA beyond the window is counted in Stats().Drops[%v]", sock.DropOverWindow)
			},
		},
		{
			name: "6.2/at-most-one-sack-per-packet",
			text: "RFC 9260 section 6.2: \"An SCTP receiver MUST NOT generate more than one SACK chunk for every incoming packet, other than to update the offered window as the receiving application consumes new data.\"",
			run: func(t *testing.T) {
				_, p, _ := established(t)
				_, data := p.data("one packet")
				p.SendAssoc(data)
				_, c := p.ExpectTag(wire.ChunkSack, p.MyTag)
				first := sackOf(t, c)
				cum, rwnd := first.CumTSNAck(), first.ARwnd()
				deadline := time.Now().Add(silenceWindow)
				for time.Now().Before(deadline) {
					pk, ok := p.Read(time.Until(deadline))
					if !ok {
						break
					}
					if c, ok := pk.Chunk(wire.ChunkSack); ok {
						v := sackOf(t, c)
						require.Falsef(t, v.CumTSNAck() == cum && v.ARwnd() <= rwnd, "a second SACK for one packet that does not open the window: %v", pk)
					}
				}
			},
		},
		{
			name: "6.2/data-without-user-data-abort",
			text: "RFC 9260 section 6.2: \"If an endpoint receives a DATA chunk with no user data (i.e., the Length field is set to 16), it MUST send an ABORT chunk with a 'No User Data' error cause.\"",
			run: func(t *testing.T) {
				s, p, a := established(t)
				tsn := p.NextTSN
				p.SendAssoc(dataChunk(tsn, 0, 0, ""))
				_, c := p.ExpectTag(wire.ChunkAbort, p.MyTag, wire.ChunkSack)
				causes := causesOf(t, c)
				require.Truef(t, hasCause(causes, wire.CauseNoUserData), "causes %v", causeCodes(causes))
				for _, cs := range causes {
					if cs.Code == wire.CauseNoUserData {
						require.Equal(t, tsn, binary.BigEndian.Uint32(cs.Info), "the cause carries the TSN")
					}
				}
				nextEvent(t, s.ep, sock.EventDown)
				<-a.Done()
			},
		},
	}
}

func section65() []rule {
	return []rule{
		{
			name: "6.5/invalid-stream-acked-and-reported",
			text: "RFC 9260 section 6.5: \"Every DATA chunk MUST carry a valid stream identifier. If an endpoint receives a DATA chunk with an invalid stream identifier, it SHOULD acknowledge the reception of the DATA chunk following the normal procedure, immediately send an ERROR chunk with cause set to 'Invalid Stream Identifier' (see Section 3.3.10), and discard the DATA chunk.\"",
			run: func(t *testing.T) {
				s, p, a := established(t)
				tsn := p.NextTSN
				p.NextTSN++
				p.SendAssoc(dataChunk(tsn, 100, 0, "stream 100"))
				e, sack := p.errorAndSack()
				causes := causesOf(t, e)
				require.Truef(t, hasCause(causes, wire.CauseInvalidStreamID), "causes %v", causeCodes(causes))
				require.Equal(t, uint16(100), binary.BigEndian.Uint16(causes[0].Info))
				require.Equal(t, tsn, sackOf(t, sack).CumTSNAck(), "acknowledged as usual")
				noMessage(t, s.ep, "DATA on an invalid stream is discarded")
				p.alive(a, "DATA on an invalid stream")
			},
		},
		{
			name: "6.5/stream-sequence-numbers-start-at-0",
			text: "RFC 9260 section 6.5: \"The Stream Sequence Number in all the outgoing streams MUST start from 0 when the association is established.\"",
			run: func(t *testing.T) {
				_, p, a := established(t)
				for _, sid := range []uint16{0, 3, 7} {
					require.NoError(t, a.Send(context.Background(), []byte("first"), sock.SendInfo{Stream: sid}))
					_, d := p.ExpectTag(wire.ChunkData, p.MyTag, wire.ChunkData)
					require.GreaterOrEqual(t, len(d.Value), 12)
					require.Equal(t, sid, binary.BigEndian.Uint16(d.Value[4:]))
					require.Equalf(t, uint16(0), binary.BigEndian.Uint16(d.Value[6:]), "SSN of the first message on stream %d", sid)
				}
			},
		},
	}
}

func section610() []rule {
	const bundling = "RFC 9260 section 6.10: \"An endpoint MUST NOT bundle INIT, INIT ACK, or SHUTDOWN COMPLETE chunks with any other chunks.\""
	return []rule{
		{
			name: "6.10/init-bundled-discarded",
			text: bundling + " and section 8.5.1 A: \"When an endpoint receives an SCTP packet with the Verification Tag set to 0, it SHOULD verify that the packet contains only an INIT chunk. Otherwise, the receiver MUST silently discard the packet.\"",
			run: func(t *testing.T) {
				s := newServer(t)
				p := s.peerFor(t, lo1)
				_, data := p.data("bundled")
				p.SendTag(0, initChunk(p.MyTag, p.NextTSN), data)
				p.Silence("an INIT bundled with DATA is discarded")
				require.Empty(t, s.ep.Associations())
			},
		},
		{
			name: "6.10/control-chunks-first-data-in-tsn-order",
			text: "RFC 9260 section 6.10: \"When bundling control chunks with DATA chunks, an endpoint MUST place control chunks first in the outbound SCTP packet. The transmitter MUST transmit DATA chunks within an SCTP packet in increasing order of TSN.\"",
			run: func(t *testing.T) {
				s, p, a := established(t)
				// Unacknowledged messages come back bundled when the
				// retransmission timer fires (pion's RTO is at least 1 s).
				const n = 10
				ctx, cancel := context.WithTimeout(context.Background(), replyWait)
				defer cancel()
				for range n {
					require.NoError(t, a.Send(ctx, make([]byte, 100), sock.SendInfo{}))
				}
				var highest uint32
				datas, bundled := 0, 0
				check := func(pk rawpeer.Packet) {
					var last uint32
					seenData := false
					for _, c := range pk.Chunks {
						if c.Type != wire.ChunkData {
							require.Falsef(t, seenData, "a control chunk after DATA: %v", pk)
							continue
						}
						tsn, _ := wire.PeekDataTSN(c)
						if seenData {
							require.Truef(t, tsn > last, "DATA out of TSN order in one packet: %v", pk)
							bundled++
						}
						seenData, last = true, tsn
						highest = max(highest, tsn)
						datas++
					}
				}
				for {
					pk, ok := p.Read(silenceWindow)
					if !ok {
						break
					}
					check(pk)
				}
				require.Equal(t, n, datas, "every message is sent")
				for bundled == 0 {
					pk, ok := p.Read(replyWait)
					require.True(t, ok, "the unacknowledged DATA is retransmitted")
					check(pk)
				}
				_, data := p.data("ping")
				p.SendAssoc(must(wire.AppendSack(nil, highest, 1<<20, nil, nil)), data)
				require.Equal(t, "ping", string(recvMessage(t, s.ep).Payload))
				require.Positive(t, bundled, "some DATA chunks were bundled, so the order was checked")
			},
		},
		{
			name: "6.10/init-ack-bundled-discarded",
			text: bundling + " An INIT ACK bundled with another chunk breaks it: the packet is discarded, not answered with a COOKIE ECHO.",
			run: func(t *testing.T) {
				p := newPeer(t, lo1)
				c, _ := p.dial(sock.WithRTOInitial(time.Second))
				_, data := p.data("bundled")
				p.SendTag(p.TheirTag, p.initAckChunk(), data)
				p.Silence("an INIT ACK bundled with DATA is discarded: no COOKIE ECHO", wire.ChunkInit)
				_, done := c.returned()
				require.False(t, done, "Connect goes on")
			},
		},
		{
			name: "6.10/shutdown-complete-bundled-discarded",
			text: bundling + " A SHUTDOWN COMPLETE bundled with another chunk breaks it: the packet is discarded and the association stays in SHUTDOWN-ACK-SENT.",
			run: func(t *testing.T) {
				s, p, a := shutdownAckSent(t)
				p.SendAssoc(wire.AppendShutdownComplete(nil, false), heartbeat("bundled"))
				p.Drain()
				select {
				case <-a.Done():
					require.FailNow(t, "a SHUTDOWN COMPLETE bundled with a HEARTBEAT closed the association; it must be discarded")
				default:
				}
				p.SendAssoc(wire.AppendShutdownComplete(nil, false))
				nextEvent(t, s.ep, sock.EventDown)
			},
		},
	}
}

// ootbTargets are the two places an out-of-the-blue packet can land: a
// port with no endpoint (the stack's socket is open for another one) and
// an endpoint with no association.
func ootbTargets(t *testing.T) []*peer {
	s := newServer(t)
	toEndpoint := s.peerFor(t, lo1)
	nobody := s.peerFor(t, lo1)
	nobody.DstPort = s.ep.Port() + 1
	return []*peer{toEndpoint, nobody}
}

func ootbSilent(chunk []byte) func(t *testing.T) {
	return func(t *testing.T) {
		for _, p := range ootbTargets(t) {
			p.SendTag(0x0007b0b0, chunk)
			p.Silence("no reply to this out-of-the-blue packet")
		}
	}
}

func section84() []rule {
	return []rule{
		{
			name: "8.4-2/ootb-abort-silently-discarded",
			text: "RFC 9260 section 8.4: \"2) If the OOTB packet contains an ABORT chunk, the receiver MUST silently discard the OOTB packet and take no further action.\"",
			run: func(t *testing.T) {
				ootbSilent(abortChunk(false))(t)
				ootbSilent(abortChunk(true))(t)
			},
		},
		{
			name: "8.4-3/ootb-init-nobody-abort-with-initiate-tag",
			text: "RFC 9260 section 8.4: \"3) If the packet contains an INIT chunk with a Verification Tag set to 0, process it as described in Section 5.1. If, for whatever reason, the INIT cannot be processed normally and an ABORT has to be sent in response, the Verification Tag of the packet containing the ABORT chunk MUST be the Initiate Tag of the received INIT chunk, and the T bit of the ABORT chunk has to be set to 0, indicating that the Verification Tag is not reflected.\"",
			run: func(t *testing.T) {
				targets := ootbTargets(t)
				// A port nobody owns, and an endpoint that accepts nothing.
				s := testkit.NewStack(t)
				ep, err := s.NewEndpoint(nil, 0)
				require.NoError(t, err)
				refuser := newPeer(t, lo1)
				refuser.To, refuser.DstPort = netip.AddrPortFrom(lo1, s.UDPPort()), ep.Port()
				for _, p := range []*peer{targets[1], refuser} {
					p.SendTag(0, initChunk(0x1a1a1a1a, 1))
					_, c := p.ExpectTag(wire.ChunkAbort, 0x1a1a1a1a)
					require.Zero(t, c.Flags&wire.FlagT, "T bit 0")
					p.Silence("one reply")
				}
			},
		},
		{
			name: "8.4-4/ootb-cookie-echo-processed",
			text: "RFC 9260 section 8.4: \"4) If the packet contains a COOKIE ECHO chunk as the first chunk, process it as described in Section 5.1.\"",
			run: func(t *testing.T) {
				s := newServer(t)
				p := s.peerFor(t, lo1)
				a := p.associate(s)
				require.Equal(t, sock.StateEstablished, a.State())
			},
		},
		{
			name: "8.4-5/ootb-shutdown-ack-shutdown-complete-T-bit",
			text: "RFC 9260 section 8.4: \"5) If the packet contains a SHUTDOWN ACK chunk, the receiver should respond to the sender of the OOTB packet with a SHUTDOWN COMPLETE chunk. When sending the SHUTDOWN COMPLETE chunk, the receiver of the OOTB packet MUST fill in the Verification Tag field of the outbound packet with the Verification Tag received in the SHUTDOWN ACK chunk and set the T bit in the Chunk Flags to indicate that the Verification Tag is reflected.\"",
			run: func(t *testing.T) {
				for _, p := range ootbTargets(t) {
					p.SendTag(0x0007b0b1, wire.AppendShutdownAck(nil))
					pk, c := p.ExpectTag(wire.ChunkShutdownComplete, 0x0007b0b1)
					require.Equal(t, wire.FlagT, c.Flags&wire.FlagT, "T bit set")
					require.Len(t, pk.Chunks, 1, "RFC 9260 section 6.10: SHUTDOWN COMPLETE alone")
					p.Silence("one reply")
				}
			},
		},
		{
			name: "8.4-6/ootb-shutdown-complete-silently-discarded",
			text: "RFC 9260 section 8.4: \"6) If the packet contains a SHUTDOWN COMPLETE chunk, the receiver should silently discard the packet and take no further action.\"",
			run: func(t *testing.T) {
				ootbSilent(wire.AppendShutdownComplete(nil, false))(t)
				ootbSilent(wire.AppendShutdownComplete(nil, true))(t)
			},
		},
		{
			name: "8.4-7/ootb-stale-cookie-error-and-cookie-ack-discarded",
			text: "RFC 9260 section 8.4: \"7) If the packet contains a 'Stale Cookie' ERROR or a COOKIE ACK chunk, the SCTP packet should be silently discarded.\"",
			run: func(t *testing.T) {
				ootbSilent(must(wire.AppendErrorChunk(nil, wire.StaleCookieCause(1000))))(t)
				ootbSilent(wire.AppendCookieAck(nil))(t)
			},
		},
		{
			name: "8.4-8/ootb-other-abort-T-bit-reflected-tag",
			text: "RFC 9260 section 8.4: \"8) The receiver should respond to the sender of the OOTB packet with an ABORT chunk. When sending the ABORT chunk, the receiver of the OOTB packet MUST fill in the Verification Tag field of the outbound packet with the value found in the Verification Tag field of the OOTB packet and set the T bit in the Chunk Flags to indicate that the Verification Tag is reflected. After sending this ABORT chunk, the receiver of the OOTB packet MUST discard the OOTB packet and MUST NOT take any further action.\"",
			run: func(t *testing.T) {
				targets := ootbTargets(t)
				for _, chunk := range [][]byte{
					dataChunk(1, 0, 0, "x"),
					must(wire.AppendSack(nil, 1, 1000, nil, nil)),
					heartbeat("hb"),
					wire.AppendShutdown(nil, 1),
				} {
					for _, p := range targets {
						p.SendTag(0x0007b0b2, chunk)
						pk, c := p.ExpectTag(wire.ChunkAbort, 0x0007b0b2)
						require.Equal(t, wire.FlagT, c.Flags&wire.FlagT, "T bit set")
						require.LessOrEqual(t, len(pk.Raw), 12+len(chunk), "no reply bigger than the packet")
						p.Silence("one reply, no further action")
					}
				}
			},
		},
	}
}

func section85() []rule {
	const discard = "RFC 9260 section 8.5: \"When receiving an SCTP packet, the endpoint MUST ensure that the value in the Verification Tag field of the received SCTP packet matches its own tag. If the received Verification Tag value does not match the receiver's own tag value, the receiver MUST silently discard the packet and MUST NOT process it any further, except for those cases listed in Section 8.5.1.\""
	const abortRule = "RFC 9260 section 8.5.1 B: \"The receiver of an ABORT chunk MUST accept the packet if the Verification Tag field of the packet matches its own tag and the T bit is not set OR if it is set to its peer's tag and the T bit is set in the Chunk Flags. Otherwise, the receiver MUST silently discard the packet and take no further action.\""
	wrongTag := func(what string, chunk func(p *peer) []byte) rule {
		return rule{
			name: "8.5/wrong-tag-" + what + "-silently-discarded",
			text: discard,
			run: func(t *testing.T) {
				s, p, a := established(t)
				before := drops(s.stack, sock.DropWrongTag)
				p.SendTag(p.TheirTag^0x00ff00ff, chunk(p))
				p.Silence("a " + what + " with a wrong Verification Tag for an existing association is discarded silently (not answered as out of the blue)")
				noMessage(t, s.ep, "nothing delivered")
				require.Greater(t, drops(s.stack, sock.DropWrongTag), before, "counted as wrong_tag")
				p.alive(a, "a wrong tag")
			},
		}
	}
	abortAccepted := func(name string, tBit bool, tag func(p *peer) uint32) rule {
		return rule{name: name, text: abortRule, run: func(t *testing.T) {
			s, p, a := established(t)
			p.SendTag(tag(p), abortChunk(tBit))
			ev := nextEvent(t, s.ep, sock.EventDown)
			require.Equal(t, sock.ReasonAbortedByPeer, ev.Reason)
			<-a.Done()
		}}
	}
	abortDiscarded := func(name string, tBit bool, tag func(p *peer) uint32, what string) rule {
		return rule{name: name, text: abortRule, run: func(t *testing.T) {
			_, p, a := established(t)
			p.SendTag(tag(p), abortChunk(tBit))
			p.Silence("an ABORT " + what + " is discarded")
			select {
			case <-a.Done():
				require.FailNowf(t, "association removed", "an ABORT %s removed the association (reason %v); it must be discarded", what, a.Reason())
			default:
			}
			p.alive(a, "an ABORT "+what)
		}}
	}
	own := func(p *peer) uint32 { return p.TheirTag }
	peers := func(p *peer) uint32 { return p.MyTag }
	other := func(p *peer) uint32 { return p.TheirTag ^ 0x0f0f0f0f }
	return []rule{
		wrongTag("DATA", func(p *peer) []byte { _, c := p.data("intruder"); return c }),
		wrongTag("SACK", func(p *peer) []byte { return must(wire.AppendSack(nil, p.TheirTSN-1, 1<<20, nil, nil)) }),
		wrongTag("HEARTBEAT", func(p *peer) []byte { return heartbeat("hb") }),
		wrongTag("SHUTDOWN", func(p *peer) []byte { return wire.AppendShutdown(nil, p.TheirTSN-1) }),
		{
			name: "8.5.1-A/tag-0-without-init-discarded",
			text: "RFC 9260 section 8.5.1 A: \"When an endpoint receives an SCTP packet with the Verification Tag set to 0, it SHOULD verify that the packet contains only an INIT chunk. Otherwise, the receiver MUST silently discard the packet.\"",
			run: func(t *testing.T) {
				s, p, a := established(t)
				_, data := p.data("tag zero")
				p.SendTag(0, data)
				p.Silence("a DATA with tag 0 is discarded")
				noMessage(t, s.ep, "nothing delivered")
				p.alive(a, "a tag-0 packet")
			},
		},
		abortAccepted("8.5.1-B/abort-own-tag-accepted", false, own),
		abortAccepted("8.5.1-B/abort-T-bit-peer-tag-accepted", true, peers),
		abortDiscarded("8.5.1-B/abort-T-bit-own-tag-discarded", true, own, "with the T bit set and the receiver's own tag"),
		abortDiscarded("8.5.1-B/abort-peer-tag-without-T-bit-discarded", false, peers, "with the peer's tag and no T bit"),
		abortDiscarded("8.5.1-B/abort-wrong-tag-discarded", false, other, "with a wrong tag"),
		abortDiscarded("8.5.1-B/abort-T-bit-wrong-tag-discarded", true, other, "with the T bit and a wrong tag"),
		{
			name: "8.5.1-B/cookie-wait-abort-T-bit-tag-0-other-udp-port",
			text: abortRule + " In COOKIE-WAIT no peer tag is known, so tag 0 with the T bit matches nothing; RFC 6951 section 5.4: \"After finding the SCTP association (which includes checking the verification tag), the UDP source port MUST be stored as the encapsulation port for the destination address the SCTP packet is received from.\"",
			run: func(t *testing.T) {
				cookieWaitIntruder(t, abortChunk(true), "ABORT")
			},
		},
		{
			name: "8.5.1-C/cookie-wait-shutdown-complete-T-bit-tag-0-other-udp-port",
			text: shutdownCompleteRule + " and RFC 6951 section 5.4 (the UDP port is learned only after the tag check).",
			run: func(t *testing.T) {
				cookieWaitIntruder(t, wire.AppendShutdownComplete(nil, true), "SHUTDOWN COMPLETE")
			},
		},
		{
			name: "8.5.1-C/shutdown-complete-in-established-ignored",
			text: "RFC 9260 section 8.5.1 C: \"An endpoint MUST ignore the SHUTDOWN COMPLETE chunk if it is not in the SHUTDOWN-ACK-SENT state.\"",
			run: func(t *testing.T) {
				_, p, a := established(t)
				p.SendAssoc(wire.AppendShutdownComplete(nil, false))
				p.Silence("a SHUTDOWN COMPLETE in ESTABLISHED is ignored")
				p.alive(a, "a SHUTDOWN COMPLETE in ESTABLISHED")
			},
		},
		{
			name: "8.5.1-C/shutdown-complete-T-bit-peer-tag-accepted",
			text: shutdownCompleteRule,
			run: func(t *testing.T) {
				s, p, a := shutdownAckSent(t)
				p.SendTag(p.MyTag, wire.AppendShutdownComplete(nil, true))
				nextEvent(t, s.ep, sock.EventDown)
				<-a.Done()
			},
		},
		{
			name: "8.5.1-C/shutdown-complete-T-bit-own-tag-discarded",
			text: shutdownCompleteRule,
			run: func(t *testing.T) {
				s, p, a := shutdownAckSent(t)
				p.SendTag(p.TheirTag, wire.AppendShutdownComplete(nil, true))
				p.Silence("a SHUTDOWN COMPLETE with the T bit and the receiver's own tag is discarded", wire.ChunkShutdownAck)
				select {
				case <-a.Done():
					require.FailNow(t, "a SHUTDOWN COMPLETE with the T bit set and the receiver's own tag closed the association; it must be discarded")
				default:
				}
				p.SendAssoc(wire.AppendShutdownComplete(nil, false))
				nextEvent(t, s.ep, sock.EventDown)
			},
		},
		{
			name: "8.5.1-E/shutdown-ack-in-cookie-wait-treated-as-ootb",
			text: "RFC 9260 section 8.5.1 E: \"If the receiver is in COOKIE-ECHOED or COOKIE-WAIT state, the procedures in Section 8.4 SHOULD be followed; in other words, it is treated as an OOTB packet.\" and section 8.4 rule 5: \"the receiver of the OOTB packet MUST fill in the Verification Tag field of the outbound packet with the Verification Tag received in the SHUTDOWN ACK chunk and set the T bit\"",
			run: func(t *testing.T) {
				p := newPeer(t, lo1)
				c, _ := p.dial(sock.WithRTOInitial(2 * time.Second))
				p.SendAssoc(wire.AppendShutdownAck(nil))
				_, sc := p.ExpectTag(wire.ChunkShutdownComplete, p.TheirTag, wire.ChunkInit)
				require.Equal(t, wire.FlagT, sc.Flags&wire.FlagT, "T bit set")
				_, done := c.returned()
				require.False(t, done, "Connect goes on")
			},
		},
	}
}

const shutdownCompleteRule = "RFC 9260 section 8.5.1 C: \"The receiver of a SHUTDOWN COMPLETE shall accept the packet if the Verification Tag field of the packet matches its own tag and the T bit is not set OR if it is set to its peer's tag and the T bit is set in the Chunk Flags. Otherwise, the receiver MUST silently discard the packet and take no further action.\""

// shutdownAckSent returns an association the peer shut down: it answered
// the peer's SHUTDOWN with a SHUTDOWN ACK and is in SHUTDOWN-ACK-SENT.
func shutdownAckSent(t *testing.T) (*server, *peer, *sock.Association) {
	s, p, a := established(t)
	p.SendAssoc(wire.AppendShutdown(nil, p.TheirTSN-1))
	p.ExpectTag(wire.ChunkShutdownAck, p.MyTag, wire.ChunkSack)
	return s, p, a
}

// cookieWaitIntruder sends chunk, with the T bit and tag 0, from another
// UDP port of the peer's address while Connect is in COOKIE-WAIT: Connect
// must go on, its INIT retransmissions must stay on the original UDP port,
// and the handshake must then complete.
func cookieWaitIntruder(t *testing.T, chunk []byte, what string) {
	p := newPeer(t, lo1)
	c, _ := p.dial(sock.WithRTOInitial(150 * time.Millisecond))
	intruder := p.twin(lo1)
	intruder.SendTag(0, chunk)
	if pk, ok := intruder.Read(silenceWindow); ok {
		if _, isInit := pk.Chunk(wire.ChunkInit); isInit {
			require.FailNowf(t, "INIT moved", "after a %s with the T bit and tag 0 from UDP port %d, the INIT retransmission went to that port instead of the peer's %d: the port was learned from a packet that failed the tag check", what, intruder.UDPPort(), p.UDPPort())
		}
		require.FailNowf(t, "reply", "the %s gets no reply; got %v", what, pk)
	}
	if r, done := c.returned(); done {
		require.FailNowf(t, "Connect failed", "an intruding %s with the T bit and tag 0 from UDP port %d (not the peer's %d) failed Connect in COOKIE-WAIT: %v", what, intruder.UDPPort(), p.UDPPort(), r.err)
	}
	p.expectInit() // the retransmission, on the original port
	accepted := p.accept(c)
	require.Equal(t, p.UDPPort(), accepted.Paths()[0].RemoteUDPPort)
}

func rfc6951() []rule {
	const learn = "RFC 6951 section 5.4: \"When an encapsulated packet is received, the UDP header is removed. Then, the generic lookup is performed, as done by an SCTP stack whenever a packet is received, to find the association for the received SCTP packet. After finding the SCTP association (which includes checking the verification tag), the UDP source port MUST be stored as the encapsulation port for the destination address the SCTP packet is received from (see Section 5.1).\""
	return []rule{
		{
			name: "6951-5.4/wrong-tag-does-not-move-udp-port",
			text: learn,
			run: func(t *testing.T) {
				_, p, a := established(t)
				q := p.twin(lo1)
				q.SendTag(p.TheirTag^0x1, heartbeat("wrong tag"))
				q.Drain()
				require.Equal(t, p.UDPPort(), a.Paths()[0].RemoteUDPPort, "a packet that failed the tag check teaches no UDP port")
				p.alive(a, "a wrong tag from another UDP port")
			},
		},
		{
			name: "6951-5.4/valid-packet-moves-udp-port",
			text: learn,
			run: func(t *testing.T) {
				_, p, a := established(t)
				q := p.twin(lo1)
				q.SendAssoc(heartbeat("new port"))
				q.ExpectTag(wire.ChunkHeartbeatAck, p.MyTag)
				require.Equal(t, q.UDPPort(), a.Paths()[0].RemoteUDPPort)
				require.NoError(t, a.Send(context.Background(), []byte("to the new port"), sock.SendInfo{}))
				q.ExpectTag(wire.ChunkData, p.MyTag)
			},
		},
	}
}

// hostile holds the cases that used to take the process down: oversized
// replies built from what a peer sent.
func hostile() []rule {
	return []rule{
		{
			name: "3.2.1-11/init-of-33KB-with-reportable-parameter-bounded",
			text: "RFC 9260 section 3.2.1: \"11 - Skip this parameter and continue processing but report the unrecognized parameter, as described in Section 3.2.2.\" The report (and the State Cookie, which holds the INIT) must still fit in one INIT ACK: every reply stays bounded and nothing panics.",
			run: func(t *testing.T) {
				s := newServer(t)
				p := s.peerFor(t, lo1)
				big := wire.Param{Type: unknownParam11, Value: []byte(strings.Repeat("A", 33_000))}
				p.SendTag(0, initChunk(p.MyTag, p.NextTSN, big))
				replies := 0
				for {
					pk, ok := p.Read(silenceWindow)
					if !ok {
						break
					}
					replies++
					require.LessOrEqual(t, len(pk.Raw), 65_507, "a reply fits one UDP datagram")
				}
				require.LessOrEqual(t, replies, 1, "at most one reply")
				require.Zero(t, drops(s.stack, sock.DropPanic), "no panic on the receive path")
				// The endpoint still works.
				q := s.peerFor(t, lo1)
				q.MyTag = 0x5eed0099
				require.Equal(t, sock.StateEstablished, q.associate(s).State())
			},
		},
		{
			name: "3.2-11/8200-reportable-unknown-chunks-bounded",
			text: "RFC 9260 section 3.2: \"11 - Skip this chunk and continue processing, but report in an ERROR chunk using the 'Unrecognized Chunk Type' error cause.\" 8,200 such chunks in one packet cannot all be reported in one ERROR chunk (65,535 bytes at most): the reply stays bounded and nothing panics.",
			run: func(t *testing.T) {
				s, p, a := established(t)
				var chunks []byte
				for range 8200 {
					chunks = must(wire.AppendChunk(chunks, unknownChunk11, 0, nil))
				}
				p.SendAssoc(chunks)
				total := 0
				for {
					pk, ok := p.Read(silenceWindow)
					if !ok {
						break
					}
					total += len(pk.Raw)
				}
				require.LessOrEqual(t, total, 12+len(chunks)+1500, "replies no bigger than the packet that caused them")
				require.Zero(t, drops(s.stack, sock.DropPanic), "no panic on the receive path")
				p.alive(a, "8,200 unknown chunks")
			},
		},
	}
}

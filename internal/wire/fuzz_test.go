package wire

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// Every decoder has a fuzz target. Each checks that the decoder does not
// panic, that its errors wrap one of the package's sentinels, and that
// encoding a successful decode decodes to an equal value.

// checkSentinel fails unless err wraps one of the package errors.
func checkSentinel(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrShort) && !errors.Is(err, ErrBadLength) &&
		!errors.Is(err, ErrBadChunk) && !errors.Is(err, ErrBadChecksum) {
		t.Fatalf("error %q wraps no package sentinel", err)
	}
}

// seedChunkValues adds the value of every captured chunk of the given
// types, or of every type if none are given.
func seedChunkValues(f *testing.F, types ...ChunkType) {
	for _, c := range vectorChunks(f) {
		if len(types) == 0 || slices.Contains(types, c.Type) {
			f.Add(bytes.Clone(c.Value))
		}
	}
}

func FuzzCommonHeader(f *testing.F) {
	for _, name := range vectorFiles {
		f.Add(readHex(f, name))
	}
	f.Add([]byte{})
	f.Add(make([]byte, 11))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseCommonHeader(data)
		ok := VerifyChecksum(data)
		if err != nil {
			checkSentinel(t, err)
			if len(data) >= CommonHeaderSize || ok {
				t.Fatalf("rejected %d bytes (verified %v): %v", len(data), ok, err)
			}
			return
		}
		if ok != (h.Checksum == Checksum(data)) {
			t.Fatal("VerifyChecksum disagrees with Checksum")
		}
		var b [CommonHeaderSize]byte
		h.Put(b[:])
		if !bytes.Equal(b[:], data[:CommonHeaderSize]) {
			t.Fatalf("Put(Parse(x)) = %x, want %x", b, data[:CommonHeaderSize])
		}
		pkt := bytes.Clone(data)
		SetChecksum(pkt)
		if !VerifyChecksum(pkt) {
			t.Fatal("SetChecksum did not verify")
		}
		SetPorts(pkt, h.DstPort, h.SrcPort)
		h2, err := ParseCommonHeader(pkt)
		if err != nil || h2.SrcPort != h.DstPort || h2.DstPort != h.SrcPort {
			t.Fatalf("SetPorts: %+v, %v", h2, err)
		}
	})
}

// collectChunks iterates b and returns copies of its chunks.
func collectChunks(b []byte) ([]Chunk, error) {
	var out []Chunk
	it := NewChunkIter(b)
	for it.Next() {
		c := it.Chunk()
		c.Value = bytes.Clone(c.Value)
		if !bytes.Equal(it.Raw()[4:], c.Value) {
			panic("Raw and Chunk disagree")
		}
		out = append(out, c)
	}
	return out, it.Err()
}

func FuzzChunkIter(f *testing.F) {
	for _, name := range vectorFiles {
		f.Add(readHex(f, name)[CommonHeaderSize:])
	}
	for _, tc := range iterCases {
		f.Add(mustHex(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		chunks, err := collectChunks(data)
		if err != nil {
			checkSentinel(t, err)
		}
		var enc []byte
		for _, c := range chunks {
			enc = must(AppendChunk(enc, c.Type, c.Flags, c.Value))
		}
		again, err := collectChunks(enc)
		if err != nil {
			t.Fatalf("re-encoded chunks: %v", err)
		}
		if len(again) != len(chunks) {
			t.Fatalf("%d chunks, re-encoded %d", len(chunks), len(again))
		}
		for i := range chunks {
			if chunks[i].Type != again[i].Type || chunks[i].Flags != again[i].Flags ||
				!bytes.Equal(chunks[i].Value, again[i].Value) {
				t.Fatalf("chunk %d: %+v != %+v", i, chunks[i], again[i])
			}
		}
		if err == nil && len(chunks) > 0 && len(enc) > len(data)+3 {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(data), len(enc))
		}
	})
}

// collectParams iterates b and returns copies of its parameters.
func collectParams(b []byte) ([]Param, error) {
	var out []Param
	it := NewParamIter(b)
	for it.Next() {
		p := it.Param()
		p.Value = bytes.Clone(p.Value)
		out = append(out, p)
	}
	return out, it.Err()
}

func FuzzParamIter(f *testing.F) {
	for _, c := range vectorChunks(f) {
		if (c.Type == ChunkInit || c.Type == ChunkInitAck) && len(c.Value) >= initFixedSize {
			f.Add(bytes.Clone(c.Value[initFixedSize:]))
		}
	}
	for _, tc := range iterCases {
		f.Add(mustHex(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		params, err := collectParams(data)
		if err != nil {
			checkSentinel(t, err)
		}
		var enc []byte
		for _, p := range params {
			enc = must(AppendParam(enc, p.Type, p.Value))
		}
		again, err2 := collectParams(enc)
		if err2 != nil {
			t.Fatalf("re-encoded parameters: %v", err2)
		}
		if !slices.EqualFunc(params, again, Param.Equal) {
			t.Fatalf("%+v != %+v", params, again)
		}
		if err == nil && canonicalTLVs(data) && !bytes.Equal(enc[:min(len(enc), len(data))], data) {
			t.Fatalf("canonical input %x re-encoded as %x", data, enc)
		}
	})
}

// parseOneChunk returns the single chunk in b.
func parseOneChunk(t *testing.T, b []byte) Chunk {
	t.Helper()
	it := NewChunkIter(b)
	if !it.Next() {
		t.Fatalf("no chunk in %x: %v", b, it.Err())
	}
	c := it.Chunk()
	if it.Next() || it.Err() != nil {
		t.Fatalf("more than one chunk in %x: %v", b, it.Err())
	}
	return c
}

func FuzzParseInit(f *testing.F) {
	seedChunkValues(f, ChunkInit, ChunkInitAck)
	f.Add(mustHex("a1a2a3a4 00010000 0001 0002 00000007 8008 0005 82 000000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseInit(data)
		if err != nil {
			checkSentinel(t, err)
			return
		}
		// The typed readers must not panic.
		_, _ = in.Addresses()
		_, _ = in.SupportedExtensions()
		_, _ = in.Cookie()

		enc := must(in.Append(nil, ChunkInitAck))
		c := parseOneChunk(t, enc)
		again, err := ParseInit(c.Value)
		if err != nil {
			t.Fatalf("re-encoded INIT: %v", err)
		}
		if !in.Equal(again) {
			t.Fatalf("round trip:\n%+v\n%+v", in, again)
		}
		if canonicalTLVs(data[initFixedSize:]) && !bytes.Equal(c.Value, data) {
			t.Fatalf("canonical INIT %x re-encoded as %x", data, c.Value)
		}

		// The result must not alias the input.
		mutated := bytes.Clone(data)
		in2, err := ParseInit(mutated)
		if err != nil {
			t.Fatal(err)
		}
		for i := range mutated {
			mutated[i] ^= 0xff
		}
		if !in2.Equal(in) {
			t.Fatal("ParseInit result aliases its input")
		}
	})
}

func FuzzParseHeartbeat(f *testing.F) {
	seedChunkValues(f, ChunkHeartbeat, ChunkHeartbeatAck)
	f.Add(mustHex("00010009 0102030405 000000"))
	f.Add(mustHex("00010009 0102030405"))
	f.Add(mustHex("00010004 00010004"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseHeartbeat(data)
		if err != nil {
			checkSentinel(t, err)
			return
		}
		enc := must(AppendHeartbeat(nil, ChunkHeartbeatAck, info))
		c := parseOneChunk(t, enc)
		again, err := ParseHeartbeat(c.Value)
		if err != nil {
			t.Fatalf("re-encoded HEARTBEAT: %v", err)
		}
		if !bytes.Equal(info, again) {
			t.Fatalf("round trip %x != %x", info, again)
		}
		if canonicalTLVs(data) && !bytes.Equal(c.Value, data) {
			t.Fatalf("canonical HEARTBEAT %x re-encoded as %x", data, c.Value)
		}
	})
}

func FuzzParseCauses(f *testing.F) {
	seedChunkValues(f, ChunkAbort, ChunkError)
	f.Add(uint8(0), mustHex("0006000c c0000008 00000003"))
	f.Add(uint8(1), must(AppendCauses(nil, ProtocolViolationCause([]byte("x")), OutOfResourceCause())))
	f.Add(uint8(0), must(AppendCauses(nil, must(UnrecognizedParamsCause(Param{Type: 0x8123, Value: []byte{1}})))))
	f.Fuzz(func(t *testing.T, flags uint8, data []byte) {
		a, err := ParseAbort(Chunk{Type: ChunkAbort, Flags: flags, Value: data})
		causes, err2 := ParseErrorChunk(data)
		if err != nil {
			checkSentinel(t, err)
			if err2 == nil {
				t.Fatal("ERROR accepted what ABORT rejected")
			}
			checkSentinel(t, err2)
			return
		}
		if a.T != (flags&FlagT != 0) {
			t.Fatal("T bit")
		}
		if err2 != nil {
			checkSentinel(t, err2)
			if len(a.Causes) != 0 {
				t.Fatalf("ERROR rejected %d causes: %v", len(a.Causes), err2)
			}
		} else if !slices.EqualFunc(a.Causes, causes, ErrorCause.Equal) {
			t.Fatal("ABORT and ERROR disagree")
		}

		enc := must(a.Append(nil))
		c := parseOneChunk(t, enc)
		again, err := ParseAbort(c)
		if err != nil {
			t.Fatalf("re-encoded ABORT: %v", err)
		}
		if !a.Equal(again) {
			t.Fatalf("round trip %+v != %+v", a, again)
		}
		if canonicalTLVs(data) && !bytes.Equal(c.Value, data) {
			t.Fatalf("canonical ABORT %x re-encoded as %x", data, c.Value)
		}
		if len(causes) > 0 {
			c := parseOneChunk(t, must(AppendErrorChunk(nil, causes...)))
			again, err := ParseErrorChunk(c.Value)
			if err != nil || !slices.EqualFunc(causes, again, ErrorCause.Equal) {
				t.Fatalf("ERROR round trip: %v", err)
			}
		}
	})
}

func FuzzParseSackView(f *testing.F) {
	seedChunkValues(f, ChunkSack)
	f.Add(must(AppendSack(nil, 1, 2, []GapAckBlock{{2, 3}}, []uint32{9}))[4:])
	f.Add(mustHex("00000001 00001000 ffff ffff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSackView(data)
		if err != nil {
			checkSentinel(t, err)
			return
		}
		gaps := make([]GapAckBlock, s.NumGapBlocks())
		for i := range gaps {
			gaps[i].Start, gaps[i].End = s.GapBlock(i)
		}
		dups := make([]uint32, s.NumDupTSNs())
		for i := range dups {
			dups[i] = s.DupTSN(i)
		}
		c := parseOneChunk(t, must(AppendSack(nil, s.CumTSNAck(), s.ARwnd(), gaps, dups)))
		if !bytes.Equal(c.Value, data) {
			t.Fatalf("SACK %x re-encoded as %x", data, c.Value)
		}
	})
}

func FuzzPeekData(f *testing.F) {
	for _, c := range vectorChunks(f) {
		f.Add(uint8(c.Type), bytes.Clone(c.Value))
	}
	f.Add(uint8(ChunkIData), mustHex("01020304 0506 0000 0708090a 0b0c0d0e 41"))
	f.Add(uint8(ChunkData), mustHex("01020304 0506 0708 090a0b"))
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		c := Chunk{Type: ChunkType(typ), Value: data}
		tsn, ok := PeekDataTSN(c)
		sid, ok2 := PeekDataStream(c)
		want := (c.Type == ChunkData && len(data) >= 12) || (c.Type == ChunkIData && len(data) >= 16)
		if ok != want || ok2 != want {
			t.Fatalf("type %v, %d bytes: ok %v/%v, want %v", c.Type, len(data), ok, ok2, want)
		}
		if !ok {
			return
		}
		// Through the encoder and the iterator the peeks agree.
		c2 := parseOneChunk(t, must(AppendChunk(nil, c.Type, 0, data)))
		tsn2, _ := PeekDataTSN(c2)
		sid2, _ := PeekDataStream(c2)
		if tsn != tsn2 || sid != sid2 {
			t.Fatal("peek changed after re-encoding")
		}
	})
}

func FuzzParamValues(f *testing.F) {
	for _, c := range vectorChunks(f) {
		if (c.Type == ChunkInit || c.Type == ChunkInitAck) && len(c.Value) >= initFixedSize {
			it := NewParamIter(c.Value[initFixedSize:])
			for it.Next() {
				p := it.Param()
				f.Add(uint16(p.Type), bytes.Clone(p.Value))
			}
		}
	}
	f.Add(uint16(ParamUnrecognized), mustHex("80010008 00000001"))
	f.Add(uint16(ParamZeroChecksum), mustHex("00000001"))
	f.Add(uint16(ParamIPv6Address), mustHex("20010db8000000000000000000000001"))
	f.Fuzz(func(t *testing.T, typ uint16, data []byte) {
		p := Param{Type: ParamType(typ), Value: data}
		if a, err := p.Addr(); err != nil {
			checkSentinel(t, err)
		} else if !AddressParam(a).Equal(p) {
			t.Fatalf("address %v re-encoded as %+v", a, AddressParam(a))
		}
		if types, err := p.AddressTypes(); err != nil {
			checkSentinel(t, err)
		} else if !SupportedAddressTypesParam(types...).Equal(p) {
			t.Fatal("address types round trip")
		}
		if exts, err := p.Extensions(); err != nil {
			checkSentinel(t, err)
		} else if !SupportedExtensionsParam(exts...).Equal(p) {
			t.Fatal("extensions round trip")
		}
		if id, err := p.EDMID(); err != nil {
			checkSentinel(t, err)
		} else if !ZeroChecksumParam(id).Equal(p) {
			t.Fatal("EDMID round trip")
		}
		if inner, err := p.Unrecognized(); err != nil {
			checkSentinel(t, err)
		} else {
			again, err := must(UnrecognizedParam(inner)).Unrecognized()
			if err != nil || !again.Equal(inner) {
				t.Fatalf("Unrecognized Parameter round trip: %v", err)
			}
		}
		// ParseShutdown reads a bare value as well.
		if tsn, err := ParseShutdown(data); err != nil {
			checkSentinel(t, err)
		} else if c := parseOneChunk(t, AppendShutdown(nil, tsn)); !bytes.Equal(c.Value, data) {
			t.Fatal("SHUTDOWN round trip")
		}
	})
}

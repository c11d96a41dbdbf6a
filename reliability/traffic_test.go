package reliability

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/usock/usock/sock"
)

// The traffic of the fault suite: numbered messages on six streams, each
// carrying its own checksum so that a corrupted payload that got past the
// stack is caught.
//
//	stream 0..2: ordered, reliable
//	stream 3:    unordered, reliable
//	stream 4:    ordered, PR-SCTP timed (Lifetime)
//	stream 5:    unordered, PR-SCTP limited retransmissions
const numStreams = 6

func streamInfo(s uint16) sock.SendInfo {
	info := sock.SendInfo{Stream: s, PPID: 100 + uint32(s)}
	switch s {
	case 3:
		info.Unordered = true
	case 4:
		info.Lifetime = 300 * time.Millisecond
	case 5:
		info.Unordered = true
		info.MaxRetransmits = 1
	}
	return info
}

func reliable(s uint16) bool { return s < 4 }
func ordered(s uint16) bool  { return s != 3 && s != 5 }

// message layout: stream (2) | seq (4) | filler | crc32 (4) of the rest.
func makeMessage(rng *rand.Rand, stream uint16, seq uint32, size int) []byte {
	size = max(size, 10)
	b := make([]byte, size)
	binary.BigEndian.PutUint16(b, stream)
	binary.BigEndian.PutUint32(b[2:], seq)
	for i := 6; i < size-4; i++ {
		b[i] = byte(rng.Uint32())
	}
	binary.BigEndian.PutUint32(b[size-4:], crc32.ChecksumIEEE(b[:size-4]))
	return b
}

// errCorrupt marks a payload whose own checksum fails.
var errCorrupt = errors.New("corrupted payload")

func parseMessage(b []byte) (stream uint16, seq uint32, err error) {
	if len(b) < 10 {
		return 0, 0, fmt.Errorf("%w: %d bytes", errCorrupt, len(b))
	}
	if crc32.ChecksumIEEE(b[:len(b)-4]) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return 0, 0, fmt.Errorf("%w: checksum (%d bytes)", errCorrupt, len(b))
	}
	return binary.BigEndian.Uint16(b), binary.BigEndian.Uint32(b[2:]), nil
}

// plan is what one direction sends: the stream of each message in turn.
type plan struct {
	streams  []uint16
	sizes    []int
	reliable int // how many of them are reliable
	perStrm  [numStreams]uint32
}

// noPR makes plans without PR-SCTP messages.
var noPR = os.Getenv("RELIABILITY_NOPR") != ""

func newPlan(rng *rand.Rand, n int) *plan {
	p := &plan{}
	for range n {
		var s uint16
		// Three quarters reliable.
		if rng.IntN(4) == 0 && !noPR {
			s = 4 + uint16(rng.IntN(2))
		} else {
			s = uint16(rng.IntN(4))
		}
		size := 16 + rng.IntN(200)
		if rng.IntN(20) == 0 {
			size = 1300 + rng.IntN(3000) // fragmented
		}
		p.streams = append(p.streams, s)
		p.sizes = append(p.sizes, size)
		p.perStrm[s]++
		if reliable(s) {
			p.reliable++
		}
	}
	return p
}

// send sends the plan on a; seq numbers per stream from 0.
func (p *plan) send(ctx context.Context, a *sock.Association, rng *rand.Rand) error {
	var seq [numStreams]uint32
	for i, s := range p.streams {
		msg := makeMessage(rng, s, seq[s], p.sizes[i])
		seq[s]++
		if err := a.Send(ctx, msg, streamInfo(s)); err != nil {
			return fmt.Errorf("send %d (stream %d): %w", i, s, err)
		}
	}
	return nil
}

// checker verifies what one endpoint receives.
type checker struct {
	mu         sync.Mutex
	next       [numStreams]uint32 // ordered reliable: the next expected
	last       [numStreams]int64  // ordered PR: the last delivered
	seen       map[uint64]bool
	reliableIn int
	prIn       int
	problems   []string
}

func newChecker() *checker {
	c := &checker{seen: map[uint64]bool{}}
	for i := range c.last {
		c.last[i] = -1
	}
	return c
}

func (c *checker) problem(format string, args ...any) {
	if len(c.problems) < 20 {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

func (c *checker) add(m sock.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, seq, err := parseMessage(m.Payload)
	if err != nil {
		c.problem("stream %d: %v", m.Stream, err)
		return
	}
	if s != m.Stream || m.PPID != 100+uint32(s) || s >= numStreams {
		c.problem("message for stream %d PPID %d arrived on stream %d", s, m.PPID, m.Stream)
		return
	}
	k := uint64(s)<<32 | uint64(seq)
	if c.seen[k] {
		c.problem("stream %d seq %d delivered twice", s, seq)
		return
	}
	c.seen[k] = true
	switch {
	case reliable(s) && ordered(s):
		if seq != c.next[s] {
			c.problem("stream %d: seq %d, expected %d (out of order or lost)", s, seq, c.next[s])
		}
		c.next[s] = seq + 1
	case ordered(s):
		if int64(seq) <= c.last[s] {
			c.problem("PR stream %d: seq %d after %d", s, seq, c.last[s])
		}
		c.last[s] = int64(seq)
	}
	if reliable(s) {
		c.reliableIn++
	} else {
		c.prIn++
	}
}

func (c *checker) reliableCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reliableIn
}

// complete checks every reliable message of p arrived.
func (c *checker) complete(p *plan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range uint16(numStreams) {
		if !reliable(s) {
			continue
		}
		for seq := range p.perStrm[s] {
			if !c.seen[uint64(s)<<32|uint64(seq)] {
				c.problem("stream %d seq %d never delivered", s, seq)
			}
		}
	}
}

// receive reads ep until want reliable messages arrived (or ctx ends), then
// drains until nothing comes for idle.
func receive(ctx context.Context, ep *sock.Endpoint, c *checker, want int, idle time.Duration) error {
	for c.reliableCount() < want {
		m, err := ep.Recv(ctx)
		if err != nil {
			return fmt.Errorf("after %d of %d reliable messages: %w", c.reliableCount(), want, err)
		}
		c.add(m)
	}
	for {
		ictx, cancel := context.WithTimeout(ctx, idle)
		m, err := ep.Recv(ictx)
		cancel()
		if err != nil {
			return nil
		}
		c.add(m)
	}
}

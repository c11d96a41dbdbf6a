// Package harness holds the systems of the performance comparison
// (bench/compare and the benchmarks in bench): this stack (package sock),
// pion/sctp alone over a plain UDP socket, kernel TCP and plain UDP, each
// as a message connection with the same client measurements on top.
//
// The wire protocol of the measurements is the same for every system: data
// messages start with 'a'; a message starting with FlushByte asks the
// server for an 8-byte acknowledgement (ordered, on the same stream, so it
// arrives after everything sent before it); a server in echo mode returns
// every message unchanged.
package harness

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/usock/usock/internal/quantile"
)

// FlushByte starts a flush request; the server answers with Ack.
const FlushByte = 'F'

// Ack is the server's answer to a flush request.
var Ack = []byte("ACKACKAC")

// Server modes.
const (
	ModeSink = "sink" // count, answer flush requests
	ModeEcho = "echo" // return every message
)

// Conn is one message connection from a client to a server.
type Conn interface {
	// Send sends one message; it may block for window space.
	Send(p []byte) error
	// Recv returns the next message from the server; the slice is valid
	// until the next call.
	Recv() ([]byte, error)
	Close() error
}

// Sample is the outcome of one client measurement.
type Sample struct {
	Bytes      int64   `json:"bytes,omitempty"`
	Msgs       int64   `json:"msgs,omitempty"`
	Seconds    float64 `json:"seconds,omitempty"`
	CPUNs      int64   `json:"cpu_ns,omitempty"`        // the client process, timed phase
	ServerCPU  int64   `json:"server_cpu_ns,omitempty"` // the server process, between the flushes
	MedianNs   int64   `json:"median_ns,omitempty"`
	P99Ns      int64   `json:"p99_ns,omitempty"`
	P999Ns     int64   `json:"p999_ns,omitempty"` // the 99.9th percentile
	Handshakes int64   `json:"handshakes,omitempty"`
	// Memory measurements (per association on the accepting side).
	Assocs           int     `json:"assocs,omitempty"`
	BytesPerAssoc    float64 `json:"bytes_per_assoc,omitempty"`
	StackPerAssoc    float64 `json:"stack_per_assoc,omitempty"` // the goroutine stacks' part of BytesPerAssoc
	GoroutinesPerAsc float64 `json:"goroutines_per_assoc,omitempty"`
	FailoverMs       float64 `json:"failover_ms,omitempty"`
}

// Payload returns a data message of n bytes (n >= 1).
func Payload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}

// flush sends a flush request and waits for the acknowledgement, skipping
// echoes of earlier messages.
func flush(c Conn) error {
	if err := c.Send([]byte{FlushByte, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		return err
	}
	for {
		m, err := c.Recv()
		if err != nil {
			return err
		}
		if len(m) == len(Ack) && string(m) == string(Ack) {
			return nil
		}
	}
}

// Throughput sends size-byte messages for warmup (then a flush), then for
// d (then a flush) and returns what the timed phase moved.
func Throughput(c Conn, size int, warmup, d time.Duration) (Sample, error) {
	p := Payload(size)
	for end := time.Now().Add(warmup); time.Now().Before(end); {
		if err := c.Send(p); err != nil {
			return Sample{}, fmt.Errorf("warm-up send: %w", err)
		}
	}
	if err := flush(c); err != nil {
		return Sample{}, fmt.Errorf("flush: %w", err)
	}
	cpu0, t0 := CPUTime(), time.Now()
	var s Sample
	for end := t0.Add(d); ; {
		// time.Now every 16 messages: it costs as much as a small send.
		for range 16 {
			if err := c.Send(p); err != nil {
				return Sample{}, fmt.Errorf("send: %w", err)
			}
		}
		s.Msgs += 16
		if !time.Now().Before(end) {
			break
		}
	}
	if err := flush(c); err != nil {
		return Sample{}, fmt.Errorf("flush: %w", err)
	}
	s.Seconds = time.Since(t0).Seconds()
	s.CPUNs = int64(CPUTime() - cpu0)
	s.Bytes = s.Msgs * int64(size)
	return s, nil
}

// PingPong sends one size-byte message at a time to an echoing server for
// d after warmup and returns the round-trip median, 99th and 99.9th
// percentiles (nearest rank) and the client's CPU time.
func PingPong(c Conn, size int, warmup, d time.Duration) (Sample, error) {
	p := Payload(size)
	rtts := make([]time.Duration, 0, 1<<16)
	t0 := time.Now()
	start := t0.Add(warmup)
	end := start.Add(d)
	var cpu0 time.Duration
	warm := true
	for {
		t := time.Now()
		if warm && !t.Before(start) {
			warm, cpu0 = false, CPUTime()
		}
		if !t.Before(end) {
			break
		}
		if err := c.Send(p); err != nil {
			return Sample{}, fmt.Errorf("send: %w", err)
		}
		if _, err := c.Recv(); err != nil {
			return Sample{}, fmt.Errorf("recv: %w", err)
		}
		if !warm {
			rtts = append(rtts, time.Since(t))
		}
	}
	if len(rtts) == 0 {
		return Sample{}, errors.New("no round trips")
	}
	slices.Sort(rtts)
	return Sample{
		Msgs:     int64(len(rtts)),
		Seconds:  d.Seconds(),
		CPUNs:    int64(CPUTime() - cpu0),
		MedianNs: int64(quantile.Of(rtts, 500)),
		P99Ns:    int64(quantile.Of(rtts, 990)),
		P999Ns:   int64(quantile.Of(rtts, 999)),
	}, nil
}

// Handshakes runs par workers, each calling once in a loop, for d, and
// returns the number of completed calls.
func Handshakes(par int, d time.Duration, once func() error) (Sample, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		n     int64
		first error
	)
	cpu0, t0 := CPUTime(), time.Now()
	end := t0.Add(d)
	for range par {
		wg.Go(func() {
			for time.Now().Before(end) {
				if err := once(); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s := Sample{Handshakes: n, Seconds: time.Since(t0).Seconds(), CPUNs: int64(CPUTime() - cpu0)}
	if first != nil && n == 0 {
		return s, first
	}
	return s, nil
}

// Handler answers the messages of one client according to mode and
// records the CPU time at each flush request.
type Handler struct {
	Mode string
	mu   sync.Mutex
	// cpu at the last two flush requests
	last, prev time.Duration
	flushes    int
}

// Handle returns the reply to m, or nil.
func (h *Handler) Handle(m []byte) []byte {
	if h.Mode == ModeEcho {
		return m
	}
	if len(m) > 0 && m[0] == FlushByte {
		c := CPUTime()
		h.mu.Lock()
		h.prev, h.last = h.last, c
		h.flushes++
		h.mu.Unlock()
		return Ack
	}
	return nil
}

// FlushCPU returns the CPU time of the process between the last two flush
// requests (the client's timed phase), 0 before two of them.
func (h *Handler) FlushCPU() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.flushes < 2 {
		return 0
	}
	return h.last - h.prev
}

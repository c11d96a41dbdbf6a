package udpencap

import (
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usock/usock/internal/wire"
)

// benchPacket is a 1200-byte SCTP packet for SCTP port 5000.
func benchPacket() []byte {
	return makePacket(1, 5000, 1, make([]byte, 1200-wire.CommonHeaderSize))
}

func reportRate(b *testing.B, pkts int) {
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
}

type counter struct{ n atomic.Int64 }

func (c *counter) ReceivePacket([]byte, Meta) { c.n.Add(1) }

// BenchmarkDeliver measures the stack's own per-datagram work without
// sockets: length check, CRC32c and the Receiver's call.
func BenchmarkDeliver(b *testing.B) {
	var c counter
	tr, err := Open(Config{Receiver: &c})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	s := tr.socks[0]
	pkt := benchPacket()
	meta := Meta{Src: netip.MustParseAddrPort("127.0.0.1:1"), Local: s.local}
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		s.deliver(pkt, &meta)
	}
	reportRate(b, b.N)
}

// BenchmarkReceive measures datagrams received and delivered per second on
// IPv4 loopback. A sender transport keeps at most a window of datagrams in
// flight so that the receive socket buffer does not overflow; the rate is
// what the receiver delivered. Allocations of both sides are counted.
func BenchmarkReceive(b *testing.B) {
	b.Run("unbatched", func(b *testing.B) { benchReceive(b, true) })
	b.Run("batched", func(b *testing.B) { benchReceive(b, false) })
}

func benchReceive(b *testing.B, disable bool) {
	var c counter
	rx, err := Open(Config{Receiver: &c, DisableBatching: disable})
	if err != nil {
		b.Fatal(err)
	}
	defer rx.Close()
	tx, err := Open(Config{Receiver: new(counter)})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	if rx.Sockets()[0].Batching == disable {
		b.Fatalf("batching = %v with DisableBatching %v", rx.Sockets()[0].Batching, disable)
	}
	pkt := benchPacket()
	to := rx.LocalAddrs()[0]
	const window = 512

	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	sent := 0
	stall := time.Time{}
	for sent < b.N {
		got := int(c.n.Load())
		if sent-got >= window {
			// Wait for the receiver; after a long stall assume loss.
			if stall.IsZero() {
				stall = time.Now()
			} else if time.Since(stall) > 100*time.Millisecond {
				c.n.Add(int64(sent - got))
				stall = time.Time{}
			}
			runtime.Gosched()
			continue
		}
		stall = time.Time{}
		for k := min(DefaultBatchSize, b.N-sent, window-(sent-got)); k > 0; k-- {
			if err := tx.Enqueue(pkt, netip.Addr{}, to); err != nil {
				b.Fatal(err)
			}
			sent++
		}
	}
	deadline := time.Now().Add(time.Second)
	for int(c.n.Load()) < b.N && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	b.StopTimer()
	st := rx.Stats()
	reportRate(b, int(st.RxDatagrams))
	b.ReportMetric(float64(uint64(b.N)-min(st.RxDatagrams, uint64(b.N))), "lost")
}

// sink is a UDP socket nobody reads: the kernel drops what overflows its
// buffer, so senders measure only their own cost.
func sink(b *testing.B) (netip.AddrPort, func()) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), func() { _ = c.Close() }
}

// BenchmarkSend measures Send (one sendmsg per datagram) on loopback.
func BenchmarkSend(b *testing.B) {
	to, done := sink(b)
	defer done()
	tx, err := Open(Config{Receiver: new(counter), DisableBatching: true})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	pkt := benchPacket()
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := tx.Send(pkt, netip.Addr{}, to); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N)
}

// BenchmarkEnqueue measures Enqueue on loopback: in batching mode a
// burst waits in the send queue and leaves with sendmmsg and UDP_SEGMENT
// (Linux), else Enqueue is Send. One op is one datagram; Close's flush of
// what is still queued is inside the measurement.
func BenchmarkEnqueue(b *testing.B) {
	b.Run("batched", func(b *testing.B) { benchEnqueue(b, false) })
	b.Run("unbatched", func(b *testing.B) { benchEnqueue(b, true) })
}

func benchEnqueue(b *testing.B, disable bool) {
	to, done := sink(b)
	defer done()
	tx, err := Open(Config{Receiver: new(counter), DisableBatching: disable})
	if err != nil {
		b.Fatal(err)
	}
	pkt := benchPacket()
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := tx.Enqueue(pkt, netip.Addr{}, to); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportRate(b, b.N)
}

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

func (c *counter) ReceivePacket([]byte, wire.CommonHeader, Meta) { c.n.Add(1) }

// BenchmarkDeliver measures the stack's own per-datagram work without
// sockets: length check, CRC32c, header parse, receiver lookup and call.
func BenchmarkDeliver(b *testing.B) {
	tr, err := Open(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	var c counter
	if err := tr.Register(5000, &c); err != nil {
		b.Fatal(err)
	}
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
// what the receiver delivered. Allocations of both sides are counted (the
// sender's SendBatch does not allocate).
func BenchmarkReceive(b *testing.B) {
	b.Run("unbatched", func(b *testing.B) { benchReceive(b, true) })
	b.Run("batched", func(b *testing.B) { benchReceive(b, false) })
}

func benchReceive(b *testing.B, disable bool) {
	rx, err := Open(Config{DisableBatching: disable})
	if err != nil {
		b.Fatal(err)
	}
	defer rx.Close()
	tx, err := Open(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	if rx.Batching() == disable {
		b.Fatalf("batching = %v", rx.Batching())
	}
	var c counter
	if err := rx.Register(5000, &c); err != nil {
		b.Fatal(err)
	}
	pkt := benchPacket()
	to := rx.LocalAddrs()[0]
	const window = 512
	msgs := make([]Outgoing, DefaultBatchSize)
	for i := range msgs {
		msgs[i] = Outgoing{Pkt: pkt, To: to}
	}

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
		k := min(len(msgs), b.N-sent, window-(sent-got))
		n, err := tx.SendBatch(msgs[:k])
		if err != nil {
			b.Fatal(err)
		}
		sent += n
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
	tx, err := Open(Config{DisableBatching: true})
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

// BenchmarkSendBatch measures SendBatch with DefaultBatchSize datagrams
// per call (one sendmmsg on Linux); one op is one datagram.
func BenchmarkSendBatch(b *testing.B) {
	b.Run("batched", func(b *testing.B) { benchSendBatch(b, false) })
	b.Run("unbatched", func(b *testing.B) { benchSendBatch(b, true) })
}

func benchSendBatch(b *testing.B, disable bool) {
	to, done := sink(b)
	defer done()
	tx, err := Open(Config{DisableBatching: disable})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	pkt := benchPacket()
	msgs := make([]Outgoing, DefaultBatchSize)
	for i := range msgs {
		msgs[i] = Outgoing{Pkt: pkt, To: to}
	}
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		k := min(len(msgs), b.N-sent)
		n, err := tx.SendBatch(msgs[:k])
		if err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	b.StopTimer()
	reportRate(b, b.N)
}

package harness

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/usock/usock/sock"
)

// TunedFailover returns the "tuned" timer options of the failover
// measurements: RTO.Min 10 ms, RTO.Initial 100 ms, RTO.Max 1 s,
// HB.interval 100 ms, PF threshold 0.
func TunedFailover() []sock.EndpointOption {
	return []sock.EndpointOption{
		sock.WithRTOMin(10 * time.Millisecond), sock.WithRTOInitial(100 * time.Millisecond),
		sock.WithRTOMax(time.Second), sock.WithHeartbeatInterval(100 * time.Millisecond), sock.WithPFThreshold(0),
	}
}

// MeasureFailover connects cep to sep (listening on saddrs, its stack's UDP
// port udpPort), waits until both paths are confirmed, sends a message every
// millisecond, calls cut after the 200th and returns the time from the cut
// to the first message delivered after it. Every message must arrive in
// order.
func MeasureFailover(ctx context.Context, cep, sep *sock.Endpoint, saddrs []netip.Addr, udpPort uint16, cut func()) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a, err := cep.Connect(ctx, saddrs, sep.Port(), sock.WithRemoteUDPPort(udpPort))
	if err != nil {
		return 0, err
	}
	for {
		ps := a.Paths()
		if len(ps) == 2 && ps[0].State == sock.PathActive && ps[1].State == sock.PathActive {
			break
		}
		if ctx.Err() != nil {
			return 0, errors.New("paths not confirmed")
		}
		time.Sleep(time.Millisecond)
	}
	const cutAfter = 200
	cutCh := make(chan time.Time, 1)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; ; i++ {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(i))
			if a.Send(ctx, b[:], sock.SendInfo{}) != nil {
				return // the measurement is over (or failed below)
			}
			if i == cutAfter {
				cutCh <- time.Now()
				cut()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { cancel(); <-sent }()
	var cutAt time.Time
	for i := 0; ; i++ {
		m, err := sep.Recv(ctx)
		if err != nil {
			return 0, fmt.Errorf("message %d: %w", i, err)
		}
		if got := binary.BigEndian.Uint64(m.Payload); got != uint64(i) {
			return 0, fmt.Errorf("message %d arrived as %d", i, got)
		}
		if cutAt.IsZero() {
			select {
			case cutAt = <-cutCh:
			default:
			}
		}
		if i > cutAfter && !cutAt.IsZero() && m.Time.After(cutAt) {
			return m.Time.Sub(cutAt), nil
		}
	}
}

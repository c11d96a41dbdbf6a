package pathmgr

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	ok := testConfig()
	require.NoError(t, ok.Validate())

	tests := []struct {
		name   string
		modify func(*Config)
	}{
		{"RTOMin below 10ms", func(c *Config) { c.RTOMin = 9 * time.Millisecond }},
		{"RTOInitial below RTOMin", func(c *Config) { c.RTOInitial = c.RTOMin - 1 }},
		{"RTOMax below RTOInitial", func(c *Config) { c.RTOMax = c.RTOInitial - 1 }},
		{"RTOMax absurd", func(c *Config) { c.RTOMax = 25 * time.Hour }},
		{"negative HBInterval", func(c *Config) { c.HBInterval = -1 }},
		{"negative PathMaxRetrans", func(c *Config) { c.PathMaxRetrans = -1; c.PFThreshold = -1 }},
		{"negative AssocMaxRetrans", func(c *Config) { c.AssocMaxRetrans = -1 }},
		{"negative PFThreshold", func(c *Config) { c.PFThreshold = -1 }},
		{"PFThreshold above PathMaxRetrans", func(c *Config) { c.PFThreshold = c.PathMaxRetrans + 1 }},
		{"nil Rand", func(c *Config) { c.Rand = nil }},
		{"nil Nonce", func(c *Config) { c.Nonce = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			tt.modify(&c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrInvalidConfig)
			_, err = New(c)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}

	edge := testConfig()
	edge.RTOMin, edge.RTOInitial, edge.RTOMax = 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond
	edge.PathMaxRetrans, edge.AssocMaxRetrans, edge.PFThreshold = 0, 0, 0
	require.NoError(t, edge.Validate())
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	require.Equal(t, time.Second, c.RTOInitial)
	require.Equal(t, time.Second, c.RTOMin)
	require.Equal(t, 60*time.Second, c.RTOMax)
	require.Equal(t, 30*time.Second, c.HBInterval)
	require.Equal(t, 5, c.PathMaxRetrans)
	require.Equal(t, 10, c.AssocMaxRetrans)
	require.Equal(t, 0, c.PFThreshold)
	require.True(t, c.Switchback)
	require.Nil(t, c.Rand)
	require.ErrorIs(t, c.Validate(), ErrInvalidConfig)
}

func TestStrings(t *testing.T) {
	require.Equal(t, "Unconfirmed", Unconfirmed.String())
	require.Equal(t, "Active", Active.String())
	require.Equal(t, "PotentiallyFailed", PotentiallyFailed.String())
	require.Equal(t, "Inactive", Inactive.String())
	require.Equal(t, "State(9)", State(9).String())
	require.Equal(t, "SendHeartbeat", SendHeartbeat.String())
	require.Equal(t, "Retransmit", Retransmit.String())
	require.Equal(t, "PathStateChanged", PathStateChanged.String())
	require.Equal(t, "PrimaryChanged", PrimaryChanged.String())
	require.Equal(t, "AssociationFailed", AssociationFailed.String())
	require.Equal(t, "ActionKind(0)", ActionKind(0).String())
	require.Equal(t, "PathStateChanged(path 1, Active -> Inactive)",
		Action{Kind: PathStateChanged, Path: 1, Old: Active, New: Inactive}.String())
}

// RFC 9260 section 6.3.1 C1-C3, C6, C7.
func TestRTOCalculation(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	tests := []struct {
		name                  string
		rtoMin, rtoMax        time.Duration
		samples               []time.Duration
		srtt, rttvar, wantRTO time.Duration
	}{
		{"first sample C2", 10 * time.Millisecond, time.Minute, []time.Duration{ms(100)}, ms(100), ms(50), ms(300)},
		{"second sample C3", 10 * time.Millisecond, time.Minute, []time.Duration{ms(100), ms(200)}, ms(112.5), ms(62.5), ms(362.5)},
		{"third sample equal to SRTT", 10 * time.Millisecond, time.Minute, []time.Duration{ms(100), ms(200), ms(112.5)}, ms(112.5), ms(46.875), ms(300)},
		{"lower sample", 10 * time.Millisecond, time.Minute, []time.Duration{ms(400), ms(80)}, ms(360), ms(230), ms(1280)},
		{"clamped to RTOMin C6", time.Second, time.Minute, []time.Duration{ms(100)}, ms(100), ms(50), time.Second},
		{"clamped to RTOMax C7", time.Second, time.Minute, []time.Duration{30 * time.Second}, 30 * time.Second, 15 * time.Second, time.Minute},
		{"zero sample", 10 * time.Millisecond, time.Minute, []time.Duration{0}, 0, 0, 10 * time.Millisecond},
		{"negative sample counts as zero", 10 * time.Millisecond, time.Minute, []time.Duration{-time.Second}, 0, 0, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.RTOMin, cfg.RTOInitial, cfg.RTOMax = tt.rtoMin, tt.rtoMin, tt.rtoMax
			m := newManager(t, cfg)
			p := m.AddPath(true, t0)
			require.Equal(t, tt.rtoMin, info(t, m, p).RTO, "C1: RTO.Initial before any measurement")
			for _, s := range tt.samples {
				m.DataSent(p, t0)
				m.DataAcked(p, s, true, true, t0)
			}
			pi := info(t, m, p)
			require.Equal(t, tt.srtt, pi.SRTT, "SRTT")
			require.Equal(t, tt.rttvar, pi.RTTVAR, "RTTVAR")
			require.Equal(t, tt.wantRTO, pi.RTO, "RTO")
			// Karn (C5): without a valid sample nothing changes.
			m.DataAcked(p, time.Hour, false, true, t0)
			require.Equal(t, pi, info(t, m, p))
		})
	}
}

func TestRTOInitial(t *testing.T) {
	cfg := testConfig()
	cfg.RTOInitial = 3 * time.Second
	m := newManager(t, cfg)
	require.Equal(t, 3*time.Second, info(t, m, m.AddPath(true, t0)).RTO)
	require.Equal(t, 3*time.Second, info(t, m, m.AddPath(false, t0)).RTO)
}

// RFC 9260 section 6.3.3 E2: back off on T3-rtx expiry, capped at RTO.Max;
// the T3 restarts with the backed-off RTO.
func TestT3BackoffAndCap(t *testing.T) {
	cfg := testConfig()
	cfg.HBDisabled = true
	cfg.PathMaxRetrans, cfg.PFThreshold, cfg.AssocMaxRetrans = 20, 20, 20
	m := newManager(t, cfg)
	p := m.AddPath(true, t0)
	m.DataSent(p, t0)

	now := t0
	wantRTO := []time.Duration{2, 4, 8, 16, 32, 60, 60, 60}
	for i, want := range wantRTO {
		prevRTO := info(t, m, p).RTO
		d := deadline(t, m)
		require.Equal(t, now.Add(prevRTO), d, "expiry %d: T3 runs one RTO", i)
		now = d
		acts := m.Tick(now)
		require.Equal(t, []Action{{Kind: Retransmit, Path: p, To: p}}, acts)
		pi := info(t, m, p)
		require.Equal(t, want*time.Second, pi.RTO, "expiry %d", i)
		require.Equal(t, i+1, pi.ErrorCount)
		require.True(t, pi.T3Running, "E4: T3 restarted on the retransmission path")
	}
	// A new RTT sample replaces the backed-off value.
	m.DataAcked(p, 100*time.Millisecond, true, true, now)
	require.Equal(t, time.Second, info(t, m, p).RTO)
	require.False(t, info(t, m, p).T3Running)
}

// 6.3.2 R1, R2, R3.
func TestT3Rules(t *testing.T) {
	cfg := testConfig()
	cfg.HBDisabled = true
	m := newManager(t, cfg)
	p := m.AddPath(true, t0)
	_, ok := m.NextDeadline()
	require.False(t, ok)

	m.DataSent(p, t0)
	require.Equal(t, t0.Add(time.Second), deadline(t, m), "R1 starts T3")
	m.DataSent(p, t0.Add(500*time.Millisecond))
	require.Equal(t, t0.Add(time.Second), deadline(t, m), "R1 does not restart a running T3")
	m.DataAcked(p, 0, false, false, t0.Add(800*time.Millisecond))
	require.Equal(t, t0.Add(1800*time.Millisecond), deadline(t, m), "R3 restarts T3")
	m.DataAcked(p, 0, false, true, t0.Add(900*time.Millisecond))
	_, ok = m.NextDeadline()
	require.False(t, ok, "R2 stops T3")
	require.Empty(t, m.Tick(t0.Add(time.Hour)))
}

// RFC 9260 section 8.3: heartbeat interval is RTO + HB.interval, jittered by
// +/- 50% of the RTO.
func TestHeartbeatJitterBounds(t *testing.T) {
	below1 := math.Nextafter(1, 0)
	tests := []struct {
		name string
		r    float64
		rto  time.Duration // 0: RTO.Initial
		want time.Duration
	}{
		{"Rand 0: HB.interval + RTO/2", 0, 0, 30*time.Second + 500*time.Millisecond},
		{"Rand 0.5: HB.interval + RTO", 0.5, 0, 31 * time.Second},
		{"Rand just below 1: just below HB.interval + 3RTO/2", below1, 0, 31*time.Second + 500*time.Millisecond - time.Nanosecond},
		{"Rand 0 with measured RTO 3s", 0, 3 * time.Second, 31*time.Second + 500*time.Millisecond},
		{"Rand just below 1 with RTO 3s", below1, 3 * time.Second, 34*time.Second + 500*time.Millisecond - time.Nanosecond},
		{"out of range Rand is clamped (1)", 1, 0, 31*time.Second + 500*time.Millisecond - time.Nanosecond},
		{"NaN Rand is clamped", math.NaN(), 0, 30*time.Second + 500*time.Millisecond},
		{"out of range Rand is clamped (-1)", -1, 0, 30*time.Second + 500*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Rand = func() float64 { return tt.r }
			m := newManager(t, cfg)
			p := m.AddPath(true, t0)
			start := t0
			if tt.rto != 0 {
				// A first sample R gives RTO = 3R: a heartbeat with RTT 1s.
				acts := m.HeartbeatNow(p, t0)
				start = t0.Add(tt.rto / 3)
				require.True(t, m.HeartbeatAcked(p, acts[0].Nonce, start))
				require.Equal(t, tt.rto, info(t, m, p).RTO)
			}
			d := deadline(t, m)
			require.Equal(t, tt.want, d.Sub(start))
			require.GreaterOrEqual(t, d.Sub(start), cfg.HBInterval+info(t, m, p).RTO/2)
			require.Less(t, d.Sub(start), cfg.HBInterval+info(t, m, p).RTO*3/2)
			hb := heartbeatTo(t, m.Tick(d), p)
			require.True(t, info(t, m, p).Outstanding)
			require.Equal(t, uint64(1), info(t, m, p).HeartbeatsSent-map[bool]uint64{true: 1}[tt.rto != 0])
			require.NotZero(t, hb.Nonce)
		})
	}
}

// Heartbeats go to idle paths only, the ack measures RTT and restarts the
// period.
func TestHeartbeatIdleAndAck(t *testing.T) {
	m := newManager(t, testConfig()) // Rand 0: interval 30.5s with RTO 1s
	p := m.AddPath(true, t0)

	// DATA every 10s keeps the path from being idle.
	now := t0
	for range 10 {
		now = now.Add(10 * time.Second)
		require.Empty(t, m.Tick(now))
		m.DataSent(p, now)
		m.DataAcked(p, 0, false, true, now)
	}
	require.Zero(t, info(t, m, p).HeartbeatsSent)
	// The timer set in the previous period fires without effect and starts
	// a period at the last DATA; the heartbeat goes one interval after it.
	d := deadline(t, m)
	require.Equal(t, now.Add(20500*time.Millisecond), d)
	require.Empty(t, m.Tick(d))
	d = deadline(t, m)
	require.Equal(t, now.Add(30500*time.Millisecond), d)
	hb := heartbeatTo(t, m.Tick(d), p)
	require.Equal(t, d.Add(time.Second), deadline(t, m), "heartbeat times out after one RTO")

	ackAt := d.Add(200 * time.Millisecond)
	require.True(t, m.HeartbeatAcked(p, hb.Nonce, ackAt))
	pi := info(t, m, p)
	require.Equal(t, 200*time.Millisecond, pi.SRTT, "RTT = ack time - send time")
	require.Equal(t, time.Second, pi.RTO, "600ms clamped to RTO.Min")
	require.Equal(t, uint64(1), pi.HeartbeatsAcked)
	require.False(t, pi.Outstanding)
	require.Empty(t, m.Tick(ackAt), "an ack on an Active path changes no state")
	require.Equal(t, ackAt.Add(30500*time.Millisecond), deadline(t, m))
}

func TestHeartbeatNow(t *testing.T) {
	m := newManager(t, testConfig())
	p := m.AddPath(true, t0)
	require.Nil(t, m.HeartbeatNow(PathID(7), t0))
	acts := m.HeartbeatNow(p, t0)
	require.Len(t, acts, 1)
	require.Equal(t, SendHeartbeat, acts[0].Kind)
	require.Nil(t, m.HeartbeatNow(p, t0), "only one heartbeat outstanding per path")
	require.True(t, m.HeartbeatAcked(p, acts[0].Nonce, t0.Add(time.Millisecond)))
	require.NotNil(t, m.HeartbeatNow(p, t0.Add(time.Millisecond)))
}

func TestHBDisabled(t *testing.T) {
	cfg := testConfig()
	cfg.HBDisabled = true
	m := newManager(t, cfg)
	a := m.AddPath(true, t0)
	b := m.AddPath(false, t0)
	acts := m.Tick(t0)
	require.Equal(t, []Action{{Kind: SendHeartbeat, Path: b, Nonce: acts[0].Nonce}}, acts, "confirmation heartbeats still go")
	require.True(t, m.HeartbeatAcked(b, acts[0].Nonce, t0.Add(time.Millisecond)))
	require.Len(t, m.Tick(t0.Add(time.Millisecond)), 1) // PathStateChanged
	_, ok := m.NextDeadline()
	require.False(t, ok, "no periodic heartbeats")
	require.Empty(t, m.Tick(t0.Add(time.Hour)))
	require.Zero(t, info(t, m, a).HeartbeatsSent)
}

// RFC 9260 section 5.4: an unconfirmed path is probed at once, then once per
// (backed-off) RTO; it is confirmed only by the right nonce.
func TestUnconfirmedToActive(t *testing.T) {
	m := newManager(t, testConfig())
	a := m.AddPath(true, t0)
	b := m.AddPath(false, t0)
	require.Equal(t, Unconfirmed, info(t, m, b).State)
	require.ErrorIs(t, m.SetPrimary(b), ErrUnconfirmed)
	require.ErrorIs(t, m.SetPrimary(PathID(9)), ErrUnknownPath)
	require.Equal(t, t0, deadline(t, m), "confirmation heartbeat at once")

	hb := heartbeatTo(t, m.Tick(t0), b)
	// Every combination of a wrong path or nonce is refused.
	before := m.Paths()
	require.False(t, m.HeartbeatAcked(b, hb.Nonce+1, t0.Add(time.Millisecond)), "forged nonce")
	require.False(t, m.HeartbeatAcked(a, hb.Nonce, t0.Add(time.Millisecond)), "nonce of another path")
	require.False(t, m.HeartbeatAcked(PathID(5), hb.Nonce, t0.Add(time.Millisecond)), "unknown path")
	require.Equal(t, before, m.Paths(), "a refused ack changes nothing")
	require.Equal(t, t0.Add(time.Second), deadline(t, m))

	require.True(t, m.HeartbeatAcked(b, hb.Nonce, t0.Add(50*time.Millisecond)))
	require.False(t, m.HeartbeatAcked(b, hb.Nonce, t0.Add(60*time.Millisecond)), "replayed ack")
	acts := m.Tick(t0.Add(50 * time.Millisecond))
	require.Equal(t, []Action{{Kind: PathStateChanged, Path: b, Old: Unconfirmed, New: Active}}, acts)
	pi := info(t, m, b)
	require.Equal(t, Active, pi.State)
	require.Equal(t, 50*time.Millisecond, pi.SRTT)
	require.NoError(t, m.SetPrimary(b))
	require.Equal(t, b, m.Primary())
	require.Equal(t, []Action{{Kind: PrimaryChanged, Path: a, To: b}}, m.Tick(t0.Add(50*time.Millisecond)))
	dp, ok := m.DataPath()
	require.True(t, ok)
	require.Equal(t, b, dp)
}

// 5.4: unanswered probes count as path errors, never as association errors;
// past Path.Max.Retrans the path stays unconfirmed and the probe rate drops
// to the normal heartbeat rate.
func TestUnconfirmedProbingGivesUp(t *testing.T) {
	cfg := testConfig()
	cfg.AssocMaxRetrans = 0 // any association error would fail it
	cfg.HBDisabled = true   // no heartbeats on a; b's probes still go
	m := newManager(t, cfg)
	a := m.AddPath(true, t0)
	b := m.AddPath(false, t0)

	// Probes at 0, 1, 3, 7, 15, 31 s (RTO 1, 2, 4, 8, 16, 32).
	wantSends := []time.Duration{0, 1, 3, 7, 15, 31}
	for i, w := range wantSends {
		d := deadline(t, m)
		require.Equal(t, t0.Add(w*time.Second), d, "probe %d", i)
		acts := m.Tick(d)
		heartbeatTo(t, acts, b)
		require.Empty(t, ofKind(acts, PathStateChanged))
		require.Empty(t, ofKind(acts, AssociationFailed))
	}
	// The 6th probe times out at 31+32 = 63s: errors 6 > 5.
	d := deadline(t, m)
	require.Equal(t, t0.Add(63*time.Second), d)
	require.Empty(t, m.Tick(d))
	pi := info(t, m, b)
	require.Equal(t, Unconfirmed, pi.State)
	require.Equal(t, 6, pi.ErrorCount)
	require.Equal(t, 60*time.Second, pi.RTO)
	require.Zero(t, m.AssocErrors())
	require.False(t, m.Failed())

	// Next probe: the normal rate, HB.interval + RTO/2 (Rand 0).
	next := d.Add(30*time.Second + 30*time.Second)
	require.Equal(t, next, deadline(t, m))
	hb := heartbeatTo(t, m.Tick(next), b)
	require.Equal(t, 6, info(t, m, b).ErrorCount, "the counter stops increasing")
	// Never usable for data while unconfirmed.
	m.DataSent(b, next)
	require.False(t, info(t, m, b).T3Running)
	require.Equal(t, a, m.RetransmitPath(a))
	// A late confirmation still works.
	require.True(t, m.HeartbeatAcked(b, hb.Nonce, next.Add(time.Millisecond)))
	require.Equal(t, Active, info(t, m, b).State)
	require.Zero(t, info(t, m, b).ErrorCount)
}

// Active -> PF -> Inactive through T3-rtx timeouts (RFC 9260 8.2, RFC 7829).
func TestActiveToPFToInactive(t *testing.T) {
	tests := []struct {
		name           string
		pfThreshold    int
		wantPFAt       int // errors at which the path goes PF; 0: never
		wantInactiveAt int
	}{
		{"PFThreshold 0", 0, 1, 6},
		{"PFThreshold 2", 2, 3, 6},
		{"PFThreshold = PathMaxRetrans disables PF", 5, 0, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.HBDisabled = true
			cfg.PFThreshold = tt.pfThreshold
			cfg.AssocMaxRetrans = 100
			m := newManager(t, cfg)
			p := m.AddPath(true, t0)
			m.DataSent(p, t0)
			var got []Action
			for i := 1; i <= 8; i++ {
				acts := m.Tick(deadline(t, m))
				for _, a := range ofKind(acts, PathStateChanged) {
					require.Equal(t, i, info(t, m, p).ErrorCount)
					got = append(got, a)
				}
				require.Equal(t, min(i, cfg.PathMaxRetrans+1), info(t, m, p).ErrorCount)
				switch {
				case i >= tt.wantInactiveAt:
					require.Equal(t, Inactive, info(t, m, p).State)
				case tt.wantPFAt != 0 && i >= tt.wantPFAt:
					require.Equal(t, PotentiallyFailed, info(t, m, p).State)
				default:
					require.Equal(t, Active, info(t, m, p).State)
				}
			}
			var want []Action
			if tt.wantPFAt != 0 {
				want = append(want, Action{Kind: PathStateChanged, Path: p, Old: Active, New: PotentiallyFailed},
					Action{Kind: PathStateChanged, Path: p, Old: PotentiallyFailed, New: Inactive})
			} else {
				want = append(want, Action{Kind: PathStateChanged, Path: p, Old: Active, New: Inactive})
			}
			require.Equal(t, want, got)
		})
	}
}

// Active -> PF by an unanswered heartbeat; PF paths are probed once per RTO;
// PF -> Active by a heartbeat ack.
func TestHeartbeatTimeoutPFAndBack(t *testing.T) {
	m := newManager(t, testConfig())
	p := m.AddPath(true, t0)
	hbAt := t0.Add(30500 * time.Millisecond)
	require.Equal(t, hbAt, deadline(t, m))
	heartbeatTo(t, m.Tick(hbAt), p)

	timeout := hbAt.Add(time.Second)
	require.Equal(t, timeout, deadline(t, m))
	acts := m.Tick(timeout)
	require.Equal(t, Action{Kind: PathStateChanged, Path: p, Old: Active, New: PotentiallyFailed}, acts[0])
	hb2 := heartbeatTo(t, acts, p) // PF: the next heartbeat at once
	pi := info(t, m, p)
	require.Equal(t, 1, pi.ErrorCount)
	require.Equal(t, 2*time.Second, pi.RTO)
	require.Equal(t, 1, m.AssocErrors(), "the data path's heartbeat counts for the association")
	dp, ok := m.DataPath()
	require.True(t, ok, "RFC 7829: with no active path, use the PF one")
	require.Equal(t, p, dp)

	// Once per (backed-off) RTO while PF, no HB.interval.
	require.Equal(t, timeout.Add(2*time.Second), deadline(t, m))
	acts = m.Tick(timeout.Add(2 * time.Second))
	hb3 := heartbeatTo(t, acts, p)
	require.NotEqual(t, hb2.Nonce, hb3.Nonce)
	require.Equal(t, timeout.Add(6*time.Second), deadline(t, m))
	require.False(t, m.HeartbeatAcked(p, hb2.Nonce, timeout.Add(3*time.Second)), "stale nonce")

	ack := timeout.Add(3 * time.Second)
	require.True(t, m.HeartbeatAcked(p, hb3.Nonce, ack))
	require.Equal(t, []Action{{Kind: PathStateChanged, Path: p, Old: PotentiallyFailed, New: Active}}, m.Tick(ack))
	require.Zero(t, info(t, m, p).ErrorCount)
	require.Zero(t, m.AssocErrors())
}

// PF -> Active by a SACK of DATA (RFC 7829); the action comes with the next
// Tick, due at the time of the ack.
func TestPFToActiveByDataAck(t *testing.T) {
	cfg := testConfig()
	cfg.HBDisabled = true
	m := newManager(t, cfg)
	p := m.AddPath(true, t0)
	m.DataSent(p, t0)
	acts := m.Tick(t0.Add(time.Second))
	require.Equal(t, []Action{
		{Kind: PathStateChanged, Path: p, Old: Active, New: PotentiallyFailed},
		{Kind: Retransmit, Path: p, To: p},
	}, acts)
	at := t0.Add(1500 * time.Millisecond)
	m.DataAcked(p, 0, false, true, at)
	require.Equal(t, at, deadline(t, m), "queued action due at the ack")
	require.Equal(t, []Action{{Kind: PathStateChanged, Path: p, Old: PotentiallyFailed, New: Active}}, m.Tick(at))
	require.Zero(t, info(t, m, p).ErrorCount)
	require.Empty(t, m.Tick(at))
}

// Inactive -> Active by a heartbeat ack (RFC 9260 8.3).
func TestInactiveToActiveByHeartbeat(t *testing.T) {
	cfg := testConfig()
	cfg.PathMaxRetrans, cfg.PFThreshold = 1, 0
	cfg.AssocMaxRetrans = 100
	m := newManager(t, cfg)
	p := m.AddPath(true, t0)
	now := t0
	var last Action
	for info(t, m, p).State != Inactive {
		now = deadline(t, m)
		for _, a := range m.Tick(now) {
			if a.Kind == SendHeartbeat {
				last = a
			}
		}
	}
	require.Equal(t, 2, info(t, m, p).ErrorCount)
	_, ok := m.DataPath()
	require.False(t, ok, "no usable path")
	require.True(t, info(t, m, p).Outstanding, "inactive paths keep being probed")
	require.True(t, m.HeartbeatAcked(p, last.Nonce, now.Add(time.Millisecond)))
	require.Equal(t, []Action{{Kind: PathStateChanged, Path: p, Old: Inactive, New: Active}}, m.Tick(now.Add(time.Millisecond)))
	dp, ok := m.DataPath()
	require.True(t, ok)
	require.Equal(t, p, dp)
}

// The DataPath choice over path states.
func TestDataPathSelection(t *testing.T) {
	ms := time.Millisecond
	type pathSetup struct {
		state  State
		errors int
		srtt   time.Duration // 0: unmeasured
	}
	tests := []struct {
		name       string
		paths      []pathSetup
		primary    PathID
		current    PathID
		noSwitch   bool
		want       PathID
		wantOK     bool
		retransmit PathID // RetransmitPath(current)
	}{
		{"primary active", []pathSetup{{Active, 0, 50 * ms}, {Active, 0, 10 * ms}}, 0, 0, false, 0, true, 1},
		{"fewest errors", []pathSetup{{Inactive, 6, 0}, {Active, 1, 10 * ms}, {Active, 0, 90 * ms}}, 0, 0, false, 2, true, 2},
		{"lowest SRTT", []pathSetup{{PotentiallyFailed, 1, 0}, {Active, 0, 30 * ms}, {Active, 0, 20 * ms}}, 0, 0, false, 2, true, 2},
		{"measured before unmeasured", []pathSetup{{PotentiallyFailed, 1, 0}, {Active, 0, 0}, {Active, 0, 200 * ms}}, 0, 0, false, 2, true, 2},
		{"lowest ID", []pathSetup{{PotentiallyFailed, 1, 0}, {Active, 0, 20 * ms}, {Active, 0, 20 * ms}}, 0, 0, false, 1, true, 1},
		{"keep current active path", []pathSetup{{PotentiallyFailed, 1, 0}, {Active, 0, 90 * ms}, {Active, 0, 20 * ms}}, 0, 1, false, 1, true, 2},
		{"switchback to primary", []pathSetup{{Active, 0, 90 * ms}, {Active, 0, 20 * ms}}, 0, 1, false, 0, true, 0},
		{"no switchback", []pathSetup{{Active, 0, 90 * ms}, {Active, 0, 20 * ms}}, 0, 1, true, 1, true, 0},
		{"no switchback, current failed", []pathSetup{{Active, 0, 90 * ms}, {PotentiallyFailed, 1, 20 * ms}, {Active, 0, 10 * ms}}, 0, 1, true, 0, true, 0},
		{"all PF: fewest errors", []pathSetup{{PotentiallyFailed, 3, 0}, {PotentiallyFailed, 1, 0}, {Inactive, 6, 0}}, 0, 0, false, 1, true, 1},
		{"PF rather than unconfirmed", []pathSetup{{Inactive, 6, 0}, {Unconfirmed, 0, 0}, {PotentiallyFailed, 2, 0}}, 0, 0, false, 2, true, 2},
		{"all inactive", []pathSetup{{Inactive, 6, 0}, {Inactive, 6, 0}, {Unconfirmed, 0, 0}}, 0, 0, false, NoPath, false, 0},
		{"only unconfirmed", []pathSetup{{Unconfirmed, 0, 0}, {Unconfirmed, 0, 0}}, NoPath, NoPath, false, NoPath, false, NoPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Switchback = !tt.noSwitch
			m := newManager(t, cfg)
			for i, ps := range tt.paths {
				m.AddPath(ps.state != Unconfirmed, t0)
				p := m.paths[i]
				p.state, p.errors = ps.state, ps.errors
				p.srtt, p.measured = ps.srtt, ps.srtt != 0
			}
			m.primary, m.current = tt.primary, tt.current
			got, ok := m.DataPath()
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.retransmit, m.RetransmitPath(tt.current))
			for _, p := range m.paths {
				if p.state == Unconfirmed {
					require.NotEqual(t, p.id, got)
					require.NotEqual(t, p.id, m.RetransmitPath(p.id), "unconfirmed never returned")
				}
			}
		})
	}
}

// Failover on T3 expiry of the primary, retransmission to the alternate
// path, and the return of the primary with and without switchback.
func TestFailoverAndSwitchback(t *testing.T) {
	for _, switchback := range []bool{true, false} {
		t.Run(map[bool]string{true: "switchback", false: "no switchback"}[switchback], func(t *testing.T) {
			cfg := testConfig()
			cfg.Switchback = switchback
			m := newManager(t, cfg)
			a := m.AddPath(true, t0)
			b := m.AddPath(true, t0)
			require.Equal(t, a, m.Primary())
			dp, _ := m.DataPath()
			require.Equal(t, a, dp)

			m.DataSent(a, t0)
			now := t0.Add(time.Second)
			acts := m.Tick(now)
			require.Equal(t, []Action{
				{Kind: PathStateChanged, Path: a, Old: Active, New: PotentiallyFailed},
				{Kind: PrimaryChanged, Path: a, To: b},
				{Kind: Retransmit, Path: a, To: b},
			}, acts[:3])
			hb := heartbeatTo(t, acts, a) // PF probing starts at once
			require.True(t, info(t, m, b).T3Running, "T3 started on the retransmission path")
			require.Equal(t, a, m.Primary(), "the user's primary is unchanged")
			dp, _ = m.DataPath()
			require.Equal(t, b, dp)

			now = now.Add(10 * time.Millisecond)
			m.DataAcked(b, 0, false, true, now)
			require.True(t, m.HeartbeatAcked(a, hb.Nonce, now))
			acts = m.Tick(now)
			if switchback {
				require.Equal(t, []Action{
					{Kind: PathStateChanged, Path: a, Old: PotentiallyFailed, New: Active},
					{Kind: PrimaryChanged, Path: b, To: a},
				}, acts)
				dp, _ = m.DataPath()
				require.Equal(t, a, dp)
				return
			}
			require.Equal(t, []Action{{Kind: PathStateChanged, Path: a, Old: PotentiallyFailed, New: Active}}, acts)
			dp, _ = m.DataPath()
			require.Equal(t, b, dp, "data stays on the new working path")
			require.True(t, info(t, m, b).InUse)

			// When b fails, data goes back to the primary.
			m.DataSent(b, now)
			acts = m.Tick(now.Add(time.Second))
			require.Equal(t, []Action{
				{Kind: PathStateChanged, Path: b, Old: Active, New: PotentiallyFailed},
				{Kind: PrimaryChanged, Path: b, To: a},
				{Kind: Retransmit, Path: b, To: a},
			}, acts[:3])
			// SetPrimary to an Active path moves data there at once.
			require.NoError(t, m.SetPrimary(a))
			require.Empty(t, ofKind(m.Tick(now.Add(time.Second)), PrimaryChanged), "already there")
		})
	}
}

// RFC 9260 8.1: AssociationFailed when the association error counter
// exceeds Association.Max.Retrans, exactly once; SACKs reset the counter.
func TestAssociationFailedOnce(t *testing.T) {
	cfg := testConfig()
	cfg.HBDisabled = true
	cfg.AssocMaxRetrans = 3
	m := newManager(t, cfg)
	a := m.AddPath(true, t0)
	b := m.AddPath(true, t0)
	m.DataSent(a, t0)

	// Two expiries, then a SACK resets the counter.
	m.Tick(deadline(t, m))
	m.Tick(deadline(t, m))
	require.Equal(t, 2, m.AssocErrors())
	m.DataAcked(b, 0, false, false, deadline(t, m))
	require.Zero(t, m.AssocErrors())

	failures := 0
	for range 10 {
		d, ok := m.NextDeadline()
		if !ok {
			break
		}
		for _, act := range m.Tick(d) {
			if act.Kind == AssociationFailed {
				failures++
			}
		}
	}
	require.Equal(t, 1, failures)
	require.True(t, m.Failed())
	require.Equal(t, 4, m.AssocErrors())
	_, ok := m.NextDeadline()
	require.False(t, ok)
	require.Nil(t, m.Tick(t0.Add(24*time.Hour)))
	_, ok = m.DataPath()
	require.False(t, ok)
	require.Nil(t, m.HeartbeatNow(a, t0.Add(24*time.Hour)))
}

// RFC 9260 8.1: unanswered heartbeats on a path that does not carry data do
// not count for the association; on the data path they do.
func TestHeartbeatTimeoutsAndAssociationCounter(t *testing.T) {
	cfg := testConfig()
	m := newManager(t, cfg)
	a := m.AddPath(true, t0)                     // heartbeats at 30.5s
	b := m.AddPath(true, t0.Add(10*time.Second)) // heartbeats at 40.5s

	now := deadline(t, m)
	require.Equal(t, t0.Add(30500*time.Millisecond), now)
	hbA := heartbeatTo(t, m.Tick(now), a)
	require.True(t, m.HeartbeatAcked(a, hbA.Nonce, now.Add(100*time.Millisecond)))
	m.Tick(now.Add(100 * time.Millisecond))
	nextA := now.Add(100*time.Millisecond + 30500*time.Millisecond) // 61.1s

	// b's heartbeats all go unanswered: timeouts at 41.5, 43.5, 47.5, 55.5s.
	for {
		now = deadline(t, m)
		if !now.Before(nextA) {
			break
		}
		acts := m.Tick(now)
		require.Empty(t, ofKind(acts, PrimaryChanged))
		require.Zero(t, m.AssocErrors(), "b does not carry data")
	}
	require.Equal(t, 4, info(t, m, b).ErrorCount)
	require.Equal(t, PotentiallyFailed, info(t, m, b).State)

	// a's heartbeat goes unanswered too: it is the data path, so it counts.
	heartbeatTo(t, m.Tick(nextA), a)
	timeoutA := nextA.Add(time.Second)
	for now.Before(timeoutA) {
		now = deadline(t, m)
		m.Tick(now)
	}
	require.Equal(t, 1, m.AssocErrors())
	require.Equal(t, 1, info(t, m, a).ErrorCount)
}

// A path whose heartbeats are answered but whose DATA is lost flaps between
// PF and Active. The data path follows, but no faster than one T3 round:
// each switch away needs a T3-rtx expiry, at least one RTO (>= RTO.Min)
// after DATA went out on the path.
func TestFlappingPath(t *testing.T) {
	cfg := testConfig()
	cfg.AssocMaxRetrans = 1000
	m := newManager(t, cfg)
	a := m.AddPath(true, t0)
	b := m.AddPath(true, t0)

	type ack struct {
		at    time.Time
		path  PathID
		nonce uint64
	}
	var acks []ack
	var switchesAway []time.Time
	var switches, t3OnA int
	now := t0
	end := t0.Add(10 * time.Minute)
	for now.Before(end) {
		// Data flows continuously on the data path; b's is acknowledged,
		// a's is lost.
		dp, ok := m.DataPath()
		require.True(t, ok)
		m.DataSent(dp, now)
		if dp == b {
			m.DataAcked(b, 20*time.Millisecond, true, true, now)
		}

		next, _ := m.NextDeadline()
		if len(acks) > 0 && acks[0].at.Before(next) {
			next = acks[0].at
		}
		if next.Before(now) {
			next = now
		}
		now = next
		for len(acks) > 0 && !acks[0].at.After(now) {
			m.HeartbeatAcked(acks[0].path, acks[0].nonce, acks[0].at)
			acks = acks[1:]
		}
		for _, act := range m.Tick(now) {
			switch act.Kind {
			case SendHeartbeat:
				acks = append(acks, ack{now.Add(20 * time.Millisecond), act.Path, act.Nonce})
			case Retransmit:
				if act.Path == a {
					t3OnA++
				}
				m.DataSent(act.To, now)
			case PrimaryChanged:
				switches++
				if act.To == b {
					switchesAway = append(switchesAway, now)
				}
			case AssociationFailed:
				t.Fatal("association failed")
			}
		}
	}
	require.Greater(t, len(switchesAway), 10, "the path did flap")
	require.LessOrEqual(t, len(switchesAway), t3OnA, "one switch away per T3 expiry at most")
	require.LessOrEqual(t, switches, 2*len(switchesAway)+1)
	for i := 1; i < len(switchesAway); i++ {
		require.GreaterOrEqual(t, switchesAway[i].Sub(switchesAway[i-1]), cfg.RTOMin,
			"switches %d and %d", i-1, i)
	}
	require.LessOrEqual(t, len(switchesAway), int(10*time.Minute/cfg.RTOMin))
}

// A confirmed path added while all others are Inactive takes the data at
// once, with a PrimaryChanged.
func TestAddPathWhileAllInactive(t *testing.T) {
	cfg := testConfig()
	cfg.HBDisabled = true
	cfg.PathMaxRetrans, cfg.PFThreshold = 0, 0
	m := newManager(t, cfg)
	a := m.AddPath(true, t0)
	m.DataSent(a, t0)
	acts := m.Tick(t0.Add(time.Second))
	require.Equal(t, Action{Kind: PathStateChanged, Path: a, Old: Active, New: Inactive}, acts[0])
	_, ok := m.DataPath()
	require.False(t, ok)
	require.Equal(t, a, m.RetransmitPath(a), "with nothing else, retransmit where it was")

	now := t0.Add(2 * time.Second)
	b := m.AddPath(true, now)
	require.Equal(t, []Action{{Kind: PrimaryChanged, Path: a, To: b}}, m.Tick(now))
	require.Equal(t, a, m.Primary())
	require.Equal(t, b, m.RetransmitPath(a))
}

// NextDeadline: Tick before it does nothing, Tick at it does the work.
func TestNextDeadlineConsistency(t *testing.T) {
	cfg := testConfig()
	cfg.Rand = func() float64 { return 0.37 }
	m := newManager(t, cfg)
	_, ok := m.NextDeadline()
	require.False(t, ok, "no paths, no deadline")
	a := m.AddPath(true, t0)
	b := m.AddPath(false, t0)
	m.DataSent(a, t0)
	seen := map[ActionKind]int{}
	for range 200 {
		d, ok := m.NextDeadline()
		if !ok {
			break
		}
		require.Empty(t, m.Tick(d.Add(-time.Nanosecond)))
		for _, act := range m.Tick(d) {
			seen[act.Kind]++
			if act.Kind == SendHeartbeat && act.Path == b && seen[SendHeartbeat]%3 == 0 {
				m.HeartbeatAcked(b, act.Nonce, d.Add(time.Millisecond))
			}
		}
	}
	require.NotZero(t, seen[SendHeartbeat])
	require.NotZero(t, seen[Retransmit])
}

func TestErrorsAreComparable(t *testing.T) {
	c := testConfig()
	c.RTOMin = time.Millisecond
	err := c.Validate()
	require.True(t, errors.Is(err, ErrInvalidConfig))
	require.Contains(t, err.Error(), "RTOMin")
}

func TestDataMovedStopsT3(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rand = func() float64 { return 0.5 }
	cfg.Nonce = func() uint64 { return 1 }
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(100, 0)
	p := m.AddPath(true, now)
	m.DataSent(p, now)
	if !m.Paths()[0].T3Running {
		t.Fatal("T3 not started by DataSent")
	}
	m.DataMoved(p)
	in := m.Paths()[0]
	if in.T3Running {
		t.Fatal("T3 still running after DataMoved")
	}
	for _, a := range m.Tick(now.Add(cfg.RTOInitial + time.Millisecond)) {
		if a.Kind == Retransmit {
			t.Fatalf("a retransmission for moved data: %v", a)
		}
	}
	if m.AssocErrors() != 0 {
		t.Fatalf("association errors %d for a timer that was stopped", m.AssocErrors())
	}
	m.DataMoved(PathID(42)) // unknown: ignored
}

// RetransmitPath avoids the paths a copy of the DATA was lost on as it
// avoids the last one (pion's fast retransmissions re-send a TSN more than
// once before any T3-rtx can mark a dead path); with every active path
// avoided it keeps to the last copy's path, the one with the least time
// to have proved lost.
func TestRetransmitPathAvoidsLostCopies(t *testing.T) {
	cfg := testConfig()
	cfg.HBDisabled = true
	m := newManager(t, cfg)
	a := m.AddPath(true, t0)
	b := m.AddPath(true, t0)
	c := m.AddPath(true, t0)
	dp, ok := m.DataPath()
	require.True(t, ok)
	require.Equal(t, a, dp)

	require.Equal(t, b, m.RetransmitPath(a), "first re-send: away from the data path")
	require.Equal(t, c, m.RetransmitPath(b, a), "second: neither where it was nor where it was lost")
	require.Equal(t, b, m.RetransmitPath(b, a, c), "every active path tried: where it last went")
	require.Equal(t, a, m.RetransmitPath(b), "without a loss on the data path, back to it")
}

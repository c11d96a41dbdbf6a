package pathmgr

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// FuzzManager interprets the input as a configuration and a sequence of
// operations and checks the Manager's invariants after each one.
func FuzzManager(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 1, 5, 10, 5, 200, 3, 0, 2, 0, 50, 3, 5, 255})
	f.Add([]byte{1, 2, 3, 1, 7, 0, 1, 0, 1, 5, 255, 5, 255, 4, 1, 3, 1, 6, 1, 5, 100, 2, 1, 9})
	f.Add([]byte{3, 0, 1, 0, 0, 1, 1, 1, 1, 7, 0, 7, 1, 7, 0, 7, 1, 5, 255, 5, 255, 5, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzInput{data: data}
		cfg := DefaultConfig()
		cfg.RTOMin = time.Duration(10+int(in.byte())%100) * time.Millisecond
		cfg.RTOInitial = cfg.RTOMin + time.Duration(in.byte())*10*time.Millisecond
		cfg.RTOMax = cfg.RTOInitial + time.Duration(in.byte())*100*time.Millisecond
		cfg.HBInterval = time.Duration(in.byte()) * 100 * time.Millisecond
		flags := in.byte()
		cfg.HBDisabled = flags&1 != 0
		cfg.Switchback = flags&2 != 0
		cfg.PathMaxRetrans = int(in.byte() % 6)
		cfg.PFThreshold = int(in.byte()) % (cfg.PathMaxRetrans + 1)
		cfg.AssocMaxRetrans = int(in.byte() % 12)
		rng := rand.New(rand.NewPCG(uint64(len(data)), 42))
		cfg.Rand = rng.Float64
		// Valid nonces are even; the fuzzer forges odd ones.
		var nonce uint64
		cfg.Nonce = func() uint64 { nonce += 2; return nonce }

		m, err := New(cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		now := t0
		lastNonce := map[PathID]uint64{}
		failures := 0

		check := func(acts []Action) {
			t.Helper()
			for _, a := range acts {
				switch a.Kind {
				case SendHeartbeat:
					if a.Nonce%2 != 0 || m.get(a.Path) == nil {
						t.Fatalf("bad heartbeat %v", a)
					}
					lastNonce[a.Path] = a.Nonce
				case Retransmit, PrimaryChanged:
					if p := m.get(a.To); p == nil || p.state == Unconfirmed {
						t.Fatalf("%v goes to an unusable path", a)
					}
				case PathStateChanged:
					if a.Old == a.New || a.New == Unconfirmed {
						t.Fatalf("bad state change %v", a)
					}
				case AssociationFailed:
					failures++
				default:
					t.Fatalf("unknown action %v", a)
				}
			}
			if failures > 1 {
				t.Fatalf("AssociationFailed %d times", failures)
			}
			if failures == 1 && !m.Failed() {
				t.Fatal("AssociationFailed but not Failed")
			}
			if dp, ok := m.DataPath(); ok {
				if p := m.get(dp); p == nil || (p.state != Active && p.state != PotentiallyFailed) {
					t.Fatalf("DataPath %d is not usable", dp)
				}
				// Every change of the data path was announced.
				if dp != m.current {
					t.Fatalf("DataPath %d was not announced (in use: %d)", dp, m.current)
				}
			}
			if pr := m.Primary(); pr != NoPath && m.get(pr).state == Unconfirmed {
				t.Fatalf("primary %d is unconfirmed", pr)
			}
			for _, pi := range m.Paths() {
				if pi.ErrorCount < 0 || pi.ErrorCount > cfg.PathMaxRetrans+1 {
					t.Fatalf("path %d error count %d", pi.ID, pi.ErrorCount)
				}
				if pi.RTO < cfg.RTOMin || pi.RTO > cfg.RTOMax {
					t.Fatalf("path %d RTO %v outside [%v, %v]", pi.ID, pi.RTO, cfg.RTOMin, cfg.RTOMax)
				}
				if pi.HeartbeatsAcked > pi.HeartbeatsSent {
					t.Fatalf("path %d: %d acks for %d heartbeats", pi.ID, pi.HeartbeatsAcked, pi.HeartbeatsSent)
				}
				if rp := m.RetransmitPath(pi.ID); rp != NoPath && m.get(rp).state == Unconfirmed {
					t.Fatalf("RetransmitPath(%d) = unconfirmed %d", pi.ID, rp)
				}
			}
			if m.AssocErrors() < 0 || m.AssocErrors() > cfg.AssocMaxRetrans+1 {
				t.Fatalf("association error count %d", m.AssocErrors())
			}
			if d, ok := m.NextDeadline(); ok {
				if m.Failed() {
					t.Fatal("deadline after failure")
				}
				if acts := m.Tick(d.Add(-time.Nanosecond)); len(acts) != 0 {
					t.Fatalf("Tick before NextDeadline returned %v", acts)
				}
			}
		}

		for range 500 {
			if in.done() {
				break
			}
			path := PathID(int(in.byte()) % (len(m.paths) + 1)) // sometimes unknown
			var acts []Action
			switch in.byte() % 9 {
			case 0:
				if len(m.paths) < 6 {
					m.AddPath(in.byte()&1 == 0 || len(m.paths) == 0, now)
				}
			case 1:
				m.DataSent(path, now)
			case 2:
				b := in.byte()
				m.DataAcked(path, time.Duration(in.byte())*5*time.Millisecond, b&1 != 0, b&2 != 0, now)
			case 3:
				if n, ok := lastNonce[path]; ok {
					m.HeartbeatAcked(path, n, now)
				}
			case 4:
				before := m.Paths()
				bd, bok := m.NextDeadline()
				if m.HeartbeatAcked(path, uint64(in.byte())*2+1, now) {
					t.Fatal("forged nonce accepted")
				}
				ad, aok := m.NextDeadline()
				if !reflect.DeepEqual(before, m.Paths()) || bok != aok || !bd.Equal(ad) {
					t.Fatal("forged nonce changed the state")
				}
			case 5:
				now = now.Add(time.Duration(in.byte()) * 10 * time.Millisecond)
				acts = m.Tick(now)
			case 6:
				if err := m.SetPrimary(path); err == nil && m.Primary() != path {
					t.Fatal("SetPrimary did not set the primary")
				}
			case 7:
				if d, ok := m.NextDeadline(); ok && d.After(now) {
					now = d
				}
				acts = m.Tick(now)
			case 8:
				acts = m.HeartbeatNow(path, now)
			}
			if m.Failed() && len(acts) > 0 && acts[len(acts)-1].Kind != AssociationFailed {
				t.Fatalf("actions after failure: %v", acts)
			}
			check(acts)
		}
		if m.Failed() && len(m.Tick(now.Add(time.Hour))) != 0 {
			t.Fatal("Tick after failure")
		}
	})
}

// fuzzInput hands out the fuzz input one byte at a time, then zeros.
type fuzzInput struct {
	data []byte
	pos  int
}

func (in *fuzzInput) byte() byte {
	if in.pos >= len(in.data) {
		in.pos++
		return 0
	}
	b := in.data[in.pos]
	in.pos++
	return b
}

func (in *fuzzInput) done() bool { return in.pos >= len(in.data) }

package reliability

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/sock"
	"github.com/usock/usock/socktest"
)

// direction selects which way a fault applies.
type direction int

// Directions: both, from host A to host B, from host B to host A.
const (
	bothWays direction = iota
	aToB
	bToA
)

// fault is what happens to the packets of one path (0: both paths) in
// one direction. Shares are probabilities per packet, drawn by the
// network from its seed.
type fault struct {
	path int
	dir  direction
	// loss drops the share of packets.
	loss float64
	// duplicate delivers the share of packets twice (the copy up to
	// dupDelay later).
	duplicate float64
	dupDelay  time.Duration
	// delay holds back the share of packets by a uniform delayMin..delayMax:
	// a small share with a large delay reorders, a large share with a
	// spread of delays is jitter.
	delay              float64
	delayMin, delayMax time.Duration
	// bitFlip flips one random bit of the UDP payload of the share of
	// packets.
	bitFlip float64
}

// impairer switches faults on the Links of a world's network that they
// select.
type impairer struct {
	links  []*socktest.Link
	faults []fault
}

// impair returns the faults' impairer, off.
func impair(w *testkit.World, faults ...fault) *impairer {
	im := &impairer{faults: faults}
	for _, f := range faults {
		var from []netip.Prefix
		switch {
		case f.dir == aToB && f.path == 0:
			from = []netip.Prefix{netip.PrefixFrom(testkit.A1, 32), netip.PrefixFrom(testkit.A2, 32)}
		case f.dir == bToA && f.path == 0:
			from = []netip.Prefix{netip.PrefixFrom(testkit.B1, 32), netip.PrefixFrom(testkit.B2, 32)}
		case f.dir == aToB:
			from = []netip.Prefix{netip.PrefixFrom([]netip.Addr{testkit.A1, testkit.A2}[f.path-1], 32)}
		case f.dir == bToA:
			from = []netip.Prefix{netip.PrefixFrom([]netip.Addr{testkit.B1, testkit.B2}[f.path-1], 32)}
		case f.path == 0:
			from = []netip.Prefix{socktest.DefaultPrefix}
		default:
			from = []netip.Prefix{testkit.Subnet(f.path)} // both hosts' addresses: both ways
		}
		for _, p := range from {
			im.links = append(im.links, w.Net.Link(p, socktest.DefaultPrefix))
		}
	}
	return im
}

// setEnabled turns the faults on or off (off: packets pass untouched;
// delayed ones still arrive).
func (im *impairer) setEnabled(on bool) {
	i := 0
	for _, f := range im.faults {
		n := 1
		if f.path == 0 && f.dir != bothWays {
			n = 2
		}
		for _, l := range im.links[i : i+n] {
			l.Reset()
			if on {
				l.SetLoss(f.loss)
				l.SetDuplicate(f.duplicate, f.dupDelay)
				l.SetReorder(f.delay, f.delayMin, f.delayMax)
				l.SetCorrupt(f.bitFlip)
			}
		}
		i += n
	}
}

// counts returns what the faults did so far.
func (im *impairer) counts() socktest.Counters {
	var c socktest.Counters
	for _, l := range im.links {
		lc := l.Counters()
		c.Packets += lc.Packets
		c.Lost += lc.Lost
		c.Duplicated += lc.Duplicated
		c.Reordered += lc.Reordered
		c.Corrupted += lc.Corrupted
	}
	return c
}

// faultCase is one row of the fault suite.
type faultCase struct {
	name   string
	faults []fault
}

// impairments of one kind on a path (0: both) in a direction.
func kinds(path int, dir direction) []faultCase {
	one := func(f fault) []fault {
		f.path, f.dir = path, dir
		return []fault{f}
	}
	return []faultCase{
		{"loss1", one(fault{loss: 0.01})},
		{"loss5", one(fault{loss: 0.05})},
		{"loss20", one(fault{loss: 0.20})},
		// 10% of the packets 5-40 ms late: overtaken by the next ones.
		{"reorder", one(fault{delay: 0.10, delayMin: 5 * time.Millisecond, delayMax: 40 * time.Millisecond})},
		{"duplicate", one(fault{duplicate: 0.10, dupDelay: 20 * time.Millisecond})},
		// Every packet 0-30 ms late.
		{"jitter", one(fault{delay: 1, delayMax: 30 * time.Millisecond})},
		{"mix", one(fault{loss: 0.05, duplicate: 0.05, dupDelay: 30 * time.Millisecond,
			delay: 0.3, delayMax: 25 * time.Millisecond})},
	}
}

func faultCases() []faultCase {
	var out []faultCase
	for _, scope := range []struct {
		name string
		path int
	}{{"path1", 1}, {"both-paths", 0}} {
		for _, c := range kinds(scope.path, bothWays) {
			c.name = scope.name + "/" + c.name
			out = append(out, c)
		}
	}
	// One direction only (the data of one side and the SACKs of the other).
	for _, dir := range []struct {
		name string
		d    direction
	}{{"a-to-b", aToB}, {"b-to-a", bToA}} {
		for _, c := range kinds(0, dir.d) {
			if c.name == "loss20" || c.name == "mix" {
				c.name = dir.name + "/" + c.name
				out = append(out, c)
			}
		}
	}
	return out
}

// exchange runs the traffic both ways over p with the impairments on and
// checks it. n is the number of messages per direction.
func exchange(t *testing.T, w *testkit.World, p *testkit.Pair, im *impairer, seed uint64, n int) (toB, toA *checker) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	planAB, planBA := newPlan(rng, n), newPlan(rng, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	toB, toA = newChecker(), newChecker()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Go(func() { errs <- planAB.send(ctx, p.Client, rand.New(rand.NewPCG(seed, 2))) })
	wg.Go(func() { errs <- planBA.send(ctx, p.Server, rand.New(rand.NewPCG(seed, 3))) })
	wg.Go(func() { errs <- receive(ctx, p.ServerEP, toB, planAB.reliable, 5*time.Second) })
	wg.Go(func() { errs <- receive(ctx, p.ClientEP, toA, planBA.reliable, 5*time.Second) })
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	toB.complete(planAB)
	toA.complete(planBA)
	require.Empty(t, toB.problems, "A to B")
	require.Empty(t, toA.problems, "B to A")
	if im != nil {
		im.setEnabled(false)
	}
	// The association is alive afterwards, both ways.
	require.Equal(t, sock.StateEstablished, p.Client.State(), "client down: %v", p.Client.Reason())
	require.Equal(t, sock.StateEstablished, p.Server.State(), "server down: %v", p.Server.Reason())
	actx, acancel := context.WithTimeout(context.Background(), time.Minute)
	defer acancel()
	require.NoError(t, p.Client.Send(actx, []byte("alive?"), sock.SendInfo{Stream: 0}))
	m, err := p.ServerEP.Recv(actx)
	require.NoError(t, err)
	require.Equal(t, "alive?", string(m.Payload))
	require.NoError(t, p.Server.Send(actx, []byte("alive!"), sock.SendInfo{Stream: 0}))
	m, err = p.ClientEP.Recv(actx)
	require.NoError(t, err)
	require.Equal(t, "alive!", string(m.Payload))
	return toB, toA
}

// faultOpts are the fault suite's settings: the telecom ones, with the
// default Association.Max.Retrans.
func faultOpts() []sock.EndpointOption {
	return tuned()
}

func messagesPerDirection() int {
	if testing.Short() {
		return 300
	}
	return 2500
}

// TestFaults: under loss, reordering, duplication and jitter, on one path
// or both, one direction or both, every reliable message arrives exactly
// once, ordered streams in order, PR-SCTP messages intact or not at all,
// and the association survives.
func TestFaults(t *testing.T) {
	base := baseSeed(t)
	for i, c := range faultCases() {
		t.Run(c.name, func(t *testing.T) {
			seed := base + uint64(i)*0x9e3779b97f4a7c15
			reportSeed(t, seed)
			synctest.Test(t, func(t *testing.T) {
				w := testkit.NewWorld(t, seed)
				im := impair(w, c.faults...)
				p := w.Connect(t, faultOpts()...)
				im.setEnabled(true)
				start := time.Now()
				toB, toA := exchange(t, w, p, im, seed, messagesPerDirection())
				cn := im.counts()
				t.Logf("%s: %d packets seen, %d lost, %d duplicated, %d delayed; PR delivered %d/%d; %v simulated",
					c.name, cn.Packets, cn.Lost, cn.Duplicated, cn.Reordered, toB.prIn, toA.prIn, time.Since(start))
				if strings.Contains(c.name, "loss") || c.name == "mix" {
					require.NotZero(t, cn.Lost, "the impairment did something")
				}
			})
		})
	}
}

// TestBitFlips: a share of packets gets one bit flipped in transit (in the
// UDP payload: SCTP header, chunk headers or data). CRC32c catches every
// one; no corrupted payload reaches the user (each verifies its own
// checksum) and the reliable messages all arrive through retransmission.
func TestBitFlips(t *testing.T) {
	for _, share := range []struct {
		name string
		p    float64
	}{{"1pct", 0.01}, {"10pct", 0.10}} {
		t.Run(share.name, func(t *testing.T) {
			seed := baseSeed(t) ^ 0xb17f11b
			reportSeed(t, seed)
			synctest.Test(t, func(t *testing.T) {
				w := testkit.NewWorld(t, seed)
				im := impair(w, fault{bitFlip: share.p})
				p := w.Connect(t, faultOpts()...)
				bad0 := badChecksums(w)
				im.setEnabled(true)
				exchange(t, w, p, im, seed, messagesPerDirection())
				cn := im.counts()
				bad := badChecksums(w) - bad0
				t.Logf("%d packets, %d flipped, %d dropped for a bad CRC32c", cn.Packets, cn.Corrupted, bad)
				require.NotZero(t, cn.Corrupted)
				// Every flipped packet that arrived was dropped by the
				// CRC32c check (a flip can hit a packet also duplicated).
				require.GreaterOrEqual(t, bad, cn.Corrupted*9/10, "flipped packets caught by CRC32c")
			})
		})
	}
}

func badChecksums(w *testkit.World) uint64 {
	var n uint64
	for _, s := range []*sock.Stack{w.A, w.B} {
		for _, st := range s.Stats().Sockets {
			n += st.RxBadChecksum
		}
	}
	return n
}

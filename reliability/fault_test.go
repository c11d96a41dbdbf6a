package reliability

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/vnettest"
	"github.com/usock/usock/sock"
)

// faultCase is one row of the fault suite.
type faultCase struct {
	name string
	imps []vnettest.Impairment
}

// impairments of one kind on a path (0: both) in a direction.
func kinds(path int, dir vnettest.Direction) []faultCase {
	one := func(i vnettest.Impairment) []vnettest.Impairment {
		i.Path, i.Direction = path, dir
		return []vnettest.Impairment{i}
	}
	return []faultCase{
		{"loss1", one(vnettest.Impairment{Loss: 0.01})},
		{"loss5", one(vnettest.Impairment{Loss: 0.05})},
		{"loss20", one(vnettest.Impairment{Loss: 0.20})},
		// 10% of the packets 5-40 ms late: overtaken by the next ones.
		{"reorder", one(vnettest.Impairment{Delay: 0.10, DelayMin: 5 * time.Millisecond, DelayMax: 40 * time.Millisecond})},
		{"duplicate", one(vnettest.Impairment{Duplicate: 0.10, DupDelay: 20 * time.Millisecond})},
		// Every packet 0-30 ms late.
		{"jitter", one(vnettest.Impairment{Delay: 1, DelayMax: 30 * time.Millisecond})},
		{"mix", one(vnettest.Impairment{Loss: 0.05, Duplicate: 0.05, DupDelay: 30 * time.Millisecond,
			Delay: 0.3, DelayMax: 25 * time.Millisecond})},
	}
}

func faultCases() []faultCase {
	var out []faultCase
	for _, scope := range []struct {
		name string
		path int
	}{{"path1", 1}, {"both-paths", 0}} {
		for _, c := range kinds(scope.path, vnettest.Both) {
			c.name = scope.name + "/" + c.name
			out = append(out, c)
		}
	}
	// One direction only (the data of one side and the SACKs of the other).
	for _, dir := range []struct {
		name string
		d    vnettest.Direction
	}{{"a-to-b", vnettest.AToB}, {"b-to-a", vnettest.BToA}} {
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
func exchange(t *testing.T, w *world, p *pair, im *vnettest.Impairer, seed uint64, n int) (toB, toA *checker) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	planAB, planBA := newPlan(rng, n), newPlan(rng, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	toB, toA = newChecker(), newChecker()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Go(func() { errs <- planAB.send(ctx, p.client, rand.New(rand.NewPCG(seed, 2))) })
	wg.Go(func() { errs <- planBA.send(ctx, p.server, rand.New(rand.NewPCG(seed, 3))) })
	wg.Go(func() { errs <- receive(ctx, p.sep, toB, planAB.reliable, 5*time.Second) })
	wg.Go(func() { errs <- receive(ctx, p.cep, toA, planBA.reliable, 5*time.Second) })
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
		im.SetEnabled(false)
	}
	// The association is alive afterwards, both ways.
	require.Equal(t, "ESTABLISHED", p.client.State(), "client down: %v", p.client.Reason())
	require.Equal(t, "ESTABLISHED", p.server.State(), "server down: %v", p.server.Reason())
	actx, acancel := context.WithTimeout(context.Background(), time.Minute)
	defer acancel()
	require.NoError(t, p.client.Send(actx, []byte("alive?"), sock.SendInfo{Stream: 0}))
	m, err := p.sep.Recv(actx)
	require.NoError(t, err)
	require.Equal(t, "alive?", string(m.Payload))
	require.NoError(t, p.server.Send(actx, []byte("alive!"), sock.SendInfo{Stream: 0}))
	m, err = p.cep.Recv(actx)
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
				w := newWorld(t, seed)
				im, err := w.Impair(seed, c.imps...)
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, im.Close()) })
				im.SetEnabled(false)
				p := w.connect(t, faultOpts()...)
				im.SetEnabled(true)
				start := time.Now()
				toB, toA := exchange(t, w, p, im, seed, messagesPerDirection())
				cn := im.Counts()
				t.Logf("%s: %d packets seen, %d lost, %d duplicated, %d delayed; PR delivered %d/%d; %v simulated",
					c.name, cn.Seen, cn.Lost, cn.Duplicated, cn.Delayed, toB.prIn, toA.prIn, time.Since(start))
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
				w := newWorld(t, seed)
				im, err := w.Impair(seed, vnettest.Impairment{BitFlip: share.p})
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, im.Close()) })
				im.SetEnabled(false)
				p := w.connect(t, faultOpts()...)
				bad0 := badChecksums(w)
				im.SetEnabled(true)
				exchange(t, w, p, im, seed, messagesPerDirection())
				cn := im.Counts()
				bad := badChecksums(w) - bad0
				t.Logf("%d packets, %d flipped, %d dropped for a bad CRC32c", cn.Seen, cn.Flipped, bad)
				require.NotZero(t, cn.Flipped)
				// Every flipped packet that arrived was dropped by the
				// CRC32c check (a flip can hit a packet also duplicated).
				require.GreaterOrEqual(t, bad, cn.Flipped*9/10, "flipped packets caught by CRC32c")
			})
		})
	}
}

func badChecksums(w *world) uint64 {
	var n uint64
	for _, s := range []*sock.Stack{w.a, w.b} {
		for _, st := range s.Stats().Sockets {
			n += st.RxBadChecksum
		}
	}
	return n
}

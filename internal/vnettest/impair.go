package vnettest

import (
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v5/vnet"
)

// Direction selects which way an impairment applies.
type Direction int

// Directions: both, from host A to host B, from host B to host A.
const (
	Both Direction = iota
	AToB
	BToA
)

// Impairment describes what happens to the packets of one path (0: every
// path) in one direction. Shares are probabilities per packet, drawn from a
// seeded generator.
type Impairment struct {
	Path      int
	Direction Direction
	// Loss drops the share of packets.
	Loss float64
	// Duplicate delivers the share of packets twice (the copy after
	// DupDelay, between 0 and DupDelay).
	Duplicate float64
	DupDelay  time.Duration
	// Delay holds back the share of packets by a uniform DelayMin..DelayMax:
	// a small share with a large delay reorders, a large share with a
	// spread of delays is jitter.
	Delay              float64
	DelayMin, DelayMax time.Duration
	// BitFlip flips one random bit of the UDP payload of the share of
	// packets.
	BitFlip float64
}

// Impairer applies impairments to a World's router. Close it before the
// router stops (it cancels pending delayed deliveries).
type Impairer struct {
	w       *World
	imps    []Impairment
	delay   *vnet.DuplicationFilter
	dup     *vnet.DuplicationFilter
	delayFn vnet.ChunkFilter
	dupFn   vnet.ChunkFilter

	mu       sync.Mutex
	rnd      uint64
	on       bool
	reinject map[string]int // chunk tags whose clones come back
	counts   ImpairCounts
}

// ImpairCounts counts what an Impairer did.
type ImpairCounts struct {
	Seen, Lost, Duplicated, Delayed, Flipped uint64
}

// Impair adds impairments to the world; seed makes every draw reproducible
// (under synctest). Call it inside the bubble, once per world.
func (w *World) Impair(seed uint64, imps ...Impairment) (*Impairer, error) {
	im := &Impairer{w: w, imps: imps, rnd: seed*0x9e3779b97f4a7c15 | 1, on: true, reinject: map[string]int{}}
	maxDelay, maxDup := time.Duration(0), time.Duration(0)
	for _, i := range imps {
		maxDelay = max(maxDelay, i.DelayMax)
		maxDup = max(maxDup, i.DupDelay)
	}
	var err error
	// Both filters always copy (probability 1) with a delay drawn from
	// their own seeded generator; Impairer decides which packets.
	if im.delay, err = vnet.NewDuplicationFilter(w.Router, vnet.WithDuplicationProbability(1),
		vnet.WithDuplicationExtraDelay(0, max(maxDelay, time.Millisecond)), vnet.WithDuplicationSeed(int64(seed)+1)); err != nil {
		return nil, err
	}
	if im.dup, err = vnet.NewDuplicationFilter(w.Router, vnet.WithDuplicationProbability(1),
		vnet.WithDuplicationExtraDelay(0, max(maxDup, time.Millisecond)), vnet.WithDuplicationSeed(int64(seed)+2)); err != nil {
		return nil, err
	}
	im.delayFn, im.dupFn = im.delay.ChunkFilter(), im.dup.ChunkFilter()
	w.Router.AddChunkFilter(im.filter)
	return im, nil
}

// SetEnabled turns the impairments on or off (off: packets pass untouched;
// delayed ones still arrive).
func (im *Impairer) SetEnabled(on bool) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.on = on
}

// Counts returns what the impairer did so far.
func (im *Impairer) Counts() ImpairCounts {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.counts
}

// Close cancels pending delayed packets and stops impairing.
func (im *Impairer) Close() error {
	im.SetEnabled(false)
	err1 := im.delay.Close()
	err2 := im.dup.Close()
	if err1 != nil {
		return err1
	}
	return err2
}

// rand returns a float in [0, 1); im.mu held.
func (im *Impairer) rand() float64 {
	im.rnd ^= im.rnd >> 12
	im.rnd ^= im.rnd << 25
	im.rnd ^= im.rnd >> 27
	return float64((im.rnd*2685821657736338717)>>11) / float64(1<<53)
}

func (im *Impairer) filter(c vnet.Chunk) bool {
	src, ok := c.SourceAddr().(*net.UDPAddr)
	if !ok {
		return true
	}
	srcAddr := src.AddrPort().Addr().Unmap()
	im.mu.Lock()
	if n := im.reinject[c.Tag()]; n > 0 {
		// A delayed or duplicated copy coming back: it passes.
		if n == 1 {
			delete(im.reinject, c.Tag())
		} else {
			im.reinject[c.Tag()] = n - 1
		}
		im.mu.Unlock()
		return true
	}
	if !im.on {
		im.mu.Unlock()
		return true
	}
	im.counts.Seen++
	p := Path(srcAddr)
	fromA := srcAddr == A1 || srcAddr == A2
	var drop, dup, delay, flip bool
	for _, i := range im.imps {
		if i.Path != 0 && i.Path != p {
			continue
		}
		if (i.Direction == AToB && !fromA) || (i.Direction == BToA && fromA) {
			continue
		}
		if i.Loss > 0 && im.rand() < i.Loss {
			drop = true
		}
		if i.Duplicate > 0 && im.rand() < i.Duplicate {
			dup = true
		}
		if i.Delay > 0 && im.rand() < i.Delay {
			delay = true
		}
		if i.BitFlip > 0 && im.rand() < i.BitFlip {
			flip = true
		}
	}
	if drop {
		im.counts.Lost++
		im.mu.Unlock()
		return false
	}
	if flip {
		if ud := c.UserData(); len(ud) > 0 {
			bit := int(im.rand() * float64(len(ud)*8))
			ud[bit/8] ^= 1 << (bit % 8)
			im.counts.Flipped++
		}
	}
	if dup {
		im.counts.Duplicated++
		im.reinject[c.Tag()]++
	}
	if delay {
		im.counts.Delayed++
		im.reinject[c.Tag()]++
	}
	im.mu.Unlock()
	if dup {
		im.dupFn(c) // schedules a clone, passes the original
	}
	if delay {
		im.delayFn(c) // schedules a clone ...
		return false  // ... and holds the original back
	}
	return true
}

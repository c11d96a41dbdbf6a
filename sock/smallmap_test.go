package sock

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// smallMap holds what a map would, whichever streams come and go, and
// keeps no map while one stream at a time has entries.
func TestSmallMapMatchesMap(t *testing.T) {
	var s smallMap[uint16, rxEnds]
	want := map[uint16]rxEnds{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		id := uint16(rng.IntN(5))
		switch rng.IntN(4) {
		case 0, 1:
			e := rxEnds{count: rng.IntN(9) + 1, extra: i}
			s.set(id, e)
			want[id] = e
		case 2:
			s.del(id)
			delete(want, id)
		case 3:
			if rng.IntN(50) == 0 {
				s.clear()
				clear(want)
			}
		}
		keys := s.keys()
		slices.Sort(keys)
		if want := slices.Sorted(maps.Keys(want)); !slices.Equal(keys, want) {
			t.Fatalf("step %d: keys %v, want %v", i, keys, want)
		}
		for id := range uint16(5) {
			got, ok := s.get(id)
			w, wok := want[id]
			if ok != wok || got != w {
				t.Fatalf("step %d: stream %d: got %v %v, want %v %v", i, id, got, ok, w, wok)
			}
		}
	}

	var one smallMap[uint16, rxEnds]
	for id := range uint16(100) {
		one.set(id, rxEnds{count: 1})
		one.del(id)
	}
	if one.more != nil {
		t.Fatal("one stream at a time made a map")
	}
}

package sock

import "testing"

// A queue that never drains (one in, one out, one always waiting) keeps
// its order and its array small: it reuses the drained front instead of
// growing; a drained burst's large array goes.
func TestFifoSteadyStateStaysSmall(t *testing.T) {
	var f fifo[int]
	f.push(0)
	for i := 1; i < 10000; i++ {
		f.push(i)
		v, ok := f.pop(16)
		if !ok || v != i-1 {
			t.Fatalf("pop %d: got %d %v", i, v, ok)
		}
	}
	if c := cap(f.items); c > 8 {
		t.Fatalf("backing array of %d slots for one item queued", c)
	}
	for i := range 100 {
		f.push(i)
	}
	for f.len() > 0 {
		f.pop(16)
	}
	if f.items != nil {
		t.Fatal("a drained burst kept its array")
	}
}

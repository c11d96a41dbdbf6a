package testkit

import (
	"testing"
	"testing/synctest"
)

// TestBubbleGoroutines: the count follows the bubble's goroutines as
// they start and end.
func TestBubbleGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := BubbleGoroutines(t) // the test's and synctest's own
		if base < 1 {
			t.Fatalf("alone: %d goroutines", base)
		}
		stop := make(chan struct{})
		for range 3 {
			go func() { <-stop }()
		}
		synctest.Wait()
		if n := BubbleGoroutines(t); n != base+3 {
			t.Fatalf("with three more: %d goroutines, want %d", n, base+3)
		}
		close(stop)
		synctest.Wait()
		if n := BubbleGoroutines(t); n != base {
			t.Fatalf("after they ended: %d goroutines, want %d", n, base)
		}
	})
}

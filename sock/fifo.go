package sock

// fifo is a first-in first-out queue on a slice that holds memory for
// what it holds: it moves what is queued to the front rather than grow
// past a drained front, and once empty keeps its backing array only when
// that has at most keep slots, letting a burst's array go. Not safe for
// concurrent use: its owner's lock guards it.
type fifo[T any] struct {
	items []T // queued from items[head]
	head  int
}

// len returns the number of items queued.
func (f *fifo[T]) len() int { return len(f.items) - f.head }

// push queues v.
func (f *fifo[T]) push(v T) {
	if f.head > 0 && len(f.items) == cap(f.items) {
		k := copy(f.items, f.items[f.head:])
		clear(f.items[k:])
		f.items, f.head = f.items[:k], 0
	}
	f.items = append(f.items, v)
}

// pop takes the first item, if any; an emptied queue keeps at most keep
// slots.
func (f *fifo[T]) pop(keep int) (T, bool) {
	var zero T
	if f.head == len(f.items) {
		return zero, false
	}
	v := f.items[f.head]
	f.items[f.head] = zero
	f.head++
	if f.head == len(f.items) {
		f.head = 0
		if cap(f.items) > keep {
			f.items = nil
		} else {
			f.items = f.items[:0]
		}
	}
	return v, true
}

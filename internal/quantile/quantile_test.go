package quantile

import (
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	seq := func(n int) []time.Duration { // 1..n µs
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(i+1) * time.Microsecond
		}
		return s
	}
	us := time.Microsecond
	for _, tc := range []struct {
		name string
		in   []time.Duration
		pm   int
		want time.Duration
	}{
		{"empty", nil, 500, 0},
		{"one value, median", seq(1), 500, 1 * us},
		{"one value, p99.9", seq(1), 999, 1 * us},
		{"two values, median is the lower", seq(2), 500, 1 * us},
		{"three values, median", seq(3), 500, 2 * us},
		{"four values, median", seq(4), 500, 2 * us},
		{"100 values, p50", seq(100), 500, 50 * us},
		{"100 values, p99", seq(100), 990, 99 * us},
		{"100 values, p99.9 is the maximum", seq(100), 999, 100 * us},
		{"1000 values, p99", seq(1000), 990, 990 * us},
		{"1000 values, p99.9", seq(1000), 999, 999 * us},
		{"1001 values, p99.9 rounds the rank up", seq(1001), 999, 1000 * us},
		{"10000 values, p99.9", seq(10000), 999, 9990 * us},
		{"p0 is the minimum", seq(10), 0, 1 * us},
		{"p100 is the maximum", seq(10), 1000, 10 * us},
		{"ties", []time.Duration{5, 5, 5, 7}, 500, 5},
	} {
		if got := Of(tc.in, tc.pm); got != tc.want {
			t.Errorf("%s: Of(%d values, %d) = %v, want %v", tc.name, len(tc.in), tc.pm, got, tc.want)
		}
	}
}

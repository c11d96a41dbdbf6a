// Package quantile computes the percentiles the benchmarks report (the
// bench/compare harness and `usock bench`), one rule for both.
package quantile

import "time"

// Of returns the nearest-rank pm/1000 quantile of sorted (ascending): the
// smallest value with at least pm/1000 of the values at or below it. pm
// is in thousandths so that 99.9% (999) is exact; 0 for no values.
func Of(sorted []time.Duration, pm int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// rank = ceil(n * pm / 1000), in integers.
	rank := (n*pm + 999) / 1000
	return sorted[min(max(rank, 1), n)-1]
}

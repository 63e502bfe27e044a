package load

import (
	"math"
	"slices"
	"time"
)

// Latency summarizes a run's latencies. Percentiles are exact: the samples
// are sorted (a run keeps one duration per write, a few MB at most).
type Latency struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// Summarize sorts samples in place and returns their percentiles.
func Summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	return Latency{
		N:   len(samples),
		P50: Percentile(samples, 50),
		P90: Percentile(samples, 90),
		P99: Percentile(samples, 99),
		Max: samples[len(samples)-1],
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted: the smallest sample that at least p% of the samples do not
// exceed.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// rank = ceil(p*n/100); the small slack keeps a product that lands on
	// an integer (99% of 100) from rounding up past it.
	n := len(sorted)
	rank := int(math.Ceil(p*float64(n)/100 - 1e-9))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

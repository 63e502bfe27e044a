package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
)

// roundRatios returns a's throughput over b's in each round that ran both
// on rc, in round order.
func roundRatios(results []runResult, a, b string, rc runCase) []float64 {
	tput := func(system string) map[int]float64 {
		m := map[int]float64{}
		for _, r := range results {
			if r.of(system, rc) {
				m[r.round] = r.res.Throughput()
			}
		}
		return m
	}
	ta, tb := tput(a), tput(b)
	var out []float64
	for _, round := range slices.Sorted(maps.Keys(ta)) {
		if y, ok := tb[round]; ok && y > 0 {
			out = append(out, ta[round]/y)
		}
	}
	return out
}

// printRoundRatios prints the throughput ratio of a to b round by round:
// its median, its range, and in how many rounds a was ahead. Two systems of
// one round run minutes apart, so a pair shares most of what else the
// machine was doing, which the ratio of the medians does not cancel; how
// far the pairs spread says how much one run can be trusted.
func printRoundRatios(out io.Writer, results []runResult, a, b string, rc runCase) {
	rs := roundRatios(results, a, b, rc)
	if len(rs) < 2 {
		return
	}
	ahead := 0
	for _, r := range rs {
		if r > 1 {
			ahead++
		}
	}
	fmt.Fprintf(out, "    round by round: throughput %.2fx (%.2fx-%.2fx), ahead in %d of %d\n",
		median(rs), slices.Min(rs), slices.Max(rs), ahead, len(rs))
}

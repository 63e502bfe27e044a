package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/raftlab/raftlab/bench/load"
)

func TestSmokeShortensOnlyWhatIsNotGiven(t *testing.T) {
	c, err := parseFlags([]string{"-smoke", "-duration", "2s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.rounds != 1 || c.warmup != 200*time.Millisecond || c.duration != 2*time.Second || c.settle != 0 {
		t.Errorf("smoke gave rounds %d warmup %v duration %v settle %v, want 1, 200ms, the given 2s and 0", c.rounds, c.warmup, c.duration, c.settle)
	}
	c, err = parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.rounds != 3 || len(c.systems) != 3 || len(c.clients) != 2 || c.clients[1] != 64 || c.valueBytes != 256 || c.settle != 10*time.Second {
		t.Errorf("defaults: %+v, want 3 rounds of 3 systems with 1 and 64 clients, 256 B, 10s to settle", c)
	}
}

func TestBadFlagsAreRefused(t *testing.T) {
	for _, args := range [][]string{
		{"-systems", "raftlab,zookeeper"},
		{"-clients", "1,0"},
		{"-rounds", "0"},
		{"-pin", "4"},
		{"-settle", "-1s"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.xs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}

func TestFewerClientsThanMembersRunThroughLeaderAndFollower(t *testing.T) {
	c, err := parseFlags([]string{"-clients", "1,2,3,64"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(runCases(c, 3))
	want := "[1 client via leader 1 client via follower 2 clients via leader 2 clients via follower 3 clients 64 clients]"
	if got != want {
		t.Errorf("runCases = %s, want %s", got, want)
	}
	all := []string{"m1", "m2", "m3"}
	for _, tc := range []struct {
		leader int
		v      via
		want   string
	}{{1, viaLeader, "[m2]"}, {1, viaFollower, "[m3]"}, {2, viaFollower, "[m1]"}, {0, viaSpread, "[m1 m2 m3]"}} {
		if got := fmt.Sprint(endpointsFor(c, all, tc.leader, tc.v)); got != tc.want {
			t.Errorf("leader %d via %q: %s, want %s", tc.leader, tc.v, got, tc.want)
		}
	}
	c.pin = 3
	if runCases(c, 3)[0] != (runCase{1, viaSpread}) || fmt.Sprint(endpointsFor(c, all, 0, viaSpread)) != "[m3]" {
		t.Error("-pin 3 did not pin every run to member 3")
	}
}

// The RSS table has a column for each reading, and the ratios of the
// medians; without -settle, no column for it.
func TestRSSReport(t *testing.T) {
	const mb = 1 << 20
	results := []runResult{
		{system: "raftlab", rssBytes: []int64{100 * mb, 120 * mb, 110 * mb}, settledBytes: []int64{40 * mb, 44 * mb, 42 * mb}, peakBytes: []int64{130 * mb, 130 * mb, 140 * mb}},
		{system: "etcd-grpc", rssBytes: []int64{88 * mb, 88 * mb, 88 * mb}, settledBytes: []int64{84 * mb, 84 * mb, 84 * mb}, peakBytes: []int64{100 * mb, 100 * mb, 100 * mb}},
	}
	c := &config{systems: allSystems[:2], settle: 5 * time.Second}
	var b strings.Builder
	reportRSS(&b, c, results)
	for _, want := range []string{
		"at the end", "5s later", "peak",
		"110 (100-120)", "42 (40-44)", "130 (130-140)",
		"raftlab/etcd-grpc  RSS at the end  1.25x, 5s later  0.50x, peak  1.30x",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	c.settle = 0
	b.Reset()
	reportRSS(&b, c, results)
	if strings.Contains(b.String(), "later") {
		t.Errorf("report without -settle has a column for it:\n%s", b.String())
	}
}

// With two rounds or more, each ratio line is followed by the ratio of
// each round's pair: their median, range, and how often Raftlab was ahead.
func TestRoundRatios(t *testing.T) {
	c := &config{systems: allSystems[:2], rounds: 3, clients: []int{64}}
	rc := runCase{64, viaSpread}
	run := func(system string, round, ops int) runResult {
		return runResult{system: system, round: round, via: rc.via,
			res: load.Result{Clients: 64, Ops: ops, Window: time.Second}}
	}
	results := []runResult{
		run("raftlab", 1, 4000), run("etcd-grpc", 1, 2000),
		run("raftlab", 2, 3000), run("etcd-grpc", 2, 3100),
		run("raftlab", 3, 4500), run("etcd-grpc", 3, 3000),
		run("raftlab", 4, 9999), // a round the other system did not finish
	}
	if got := fmt.Sprintf("%.3f", roundRatios(results, "raftlab", "etcd-grpc", rc)); got != "[2.000 0.968 1.500]" {
		t.Errorf("roundRatios = %s, want [2.000 0.968 1.500]", got)
	}
	var b strings.Builder
	printSummary(&b, c, results)
	if want := "round by round: throughput 1.50x (0.97x-2.00x), ahead in 2 of 3"; !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
	b.Reset()
	printSummary(&b, &config{systems: allSystems[:2], rounds: 1, clients: []int{64}}, results[:2])
	if strings.Contains(b.String(), "round by round") {
		t.Errorf("one round printed a round-by-round line:\n%s", b.String())
	}
}

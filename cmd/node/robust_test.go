//go:build unix

package main

// The robustness suite, after etcd's (tests/robustness): real raftnode
// processes, traffic from 8 clients over 10 keys, one fault per run, and
// every history checked.
//
// A run starts a new cluster of 1 or 3 members, drives traffic for 1 s
// (+-0.2 s, seeded) before the fault, injects one fault and waits for it to
// end, drives 1 s (+-0.2 s) more, then makes a final write, which must
// succeed, and checks:
//
//   - linearizability of writes, deletes and linearizable reads with
//     porcupine, partitioned by key (robust_check_test.go);
//   - that every serializable read returned a value some write wrote;
//   - that every member ends with the same state digest at the same
//     applied index (GET /cluster/digest), and that no acknowledged write
//     was lost;
//   - that each member's /events stream was ordered and gap-free, and
//     resumes with ?since= (robust_events_test.go);
//   - that traffic ran at 100 ops/s or more before the fault, and that the
//     cluster recovered (measured: a new leader, a successful write).
//
// The faults are in robust_faults_test.go, the proxy that makes network
// faults in robust_proxy_test.go. `go test` runs every cell once (the quick
// tier); `make test-robust` runs each 20 times (RAFTLAB_ROBUST_RUNS) and
// prints a summary table. A failing run prints its seed and saves its
// history, porcupine's visualization and the members' logs in a directory
// it names; docs/reliability.md says how to run it again.
//
// Settings, from the environment:
//
//	RAFTLAB_ROBUST_RUNS=N       runs per cell (default 1)
//	RAFTLAB_ROBUST_SEED=S       seed of each cell's first run (default: the clock)
//	RAFTLAB_ROBUST_CELLS=REGEXP only the cells whose name matches (1/kill-leader, 3/blackhole...)
//	RAFTLAB_ROBUST_PARALLEL=P   runs at once (default 3)
//	RAFTLAB_ROBUST_OUT=DIR      where failing runs are saved, and the summary (default $TMPDIR/raftlab-robust)
//	RAFTLAB_ROBUST_SAVE=1       save passing runs too

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cell is one fault on one cluster size.
type cell struct {
	size  int
	fault *fault
}

func (c cell) name() string { return fmt.Sprintf("%d/%s", c.size, c.fault.name) }

// robustCells lists every fault on every size it makes sense for.
func robustCells() []cell {
	var cells []cell
	for _, size := range []int{1, 3} {
		for _, f := range faults {
			if slices.Contains(f.sizes, size) {
				cells = append(cells, cell{size, f})
			}
		}
	}
	return cells
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// robustOutDir is where failing runs and the summary are written.
func robustOutDir() string {
	if d := os.Getenv("RAFTLAB_ROBUST_OUT"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "raftlab-robust")
}

// TestRobustness runs the fault-injection suite: each cell
// RAFTLAB_ROBUST_RUNS times.
func TestRobustness(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process fault injection; not with -short")
	}
	needBinary(t)
	runs := envInt("RAFTLAB_ROBUST_RUNS", 1)
	parallel := envInt("RAFTLAB_ROBUST_PARALLEL", 3)
	var filter *regexp.Regexp
	if f := os.Getenv("RAFTLAB_ROBUST_CELLS"); f != "" {
		filter = regexp.MustCompile(f)
	}
	baseSeed := time.Now().UnixNano() % 1_000_000_000
	if s, err := strconv.ParseInt(os.Getenv("RAFTLAB_ROBUST_SEED"), 10, 64); err == nil {
		baseSeed = s
	}
	var cells []cell
	for _, c := range robustCells() {
		if filter == nil || filter.MatchString(c.name()) {
			cells = append(cells, c)
		}
	}
	if len(cells) == 0 {
		t.Fatalf("no cell matches RAFTLAB_ROBUST_CELLS=%q", os.Getenv("RAFTLAB_ROBUST_CELLS"))
	}
	t.Logf("robustness: %d cells x %d runs, %d at once, seeds from %d", len(cells), runs, parallel, baseSeed)

	var (
		mu      sync.Mutex
		reports []*runReport
		sem     = make(chan struct{}, parallel)
		wg      sync.WaitGroup
	)
	started := time.Now()
	// Runs go round-robin over the cells so that a long extended tier
	// shows every cell early; t.Run is called from several goroutines
	// (allowed), P at a time.
	for run := range runs {
		for ci, c := range cells {
			seed := baseSeed + int64(run)*1000 + int64(ci)
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				t.Run(fmt.Sprintf("%s/run%02d", c.name(), run+1), func(t *testing.T) {
					rep := runCell(t, c, seed)
					mu.Lock()
					reports = append(reports, rep)
					mu.Unlock()
				})
			}()
		}
	}
	wg.Wait()
	table := summaryTable(cells, reports, runs, time.Since(started))
	fmt.Println(table)
	t.Log("\n" + table)
	if dir := robustOutDir(); os.MkdirAll(dir, 0o755) == nil {
		path := filepath.Join(dir, "summary.md")
		if err := os.WriteFile(path, []byte(table), 0o644); err == nil {
			t.Logf("summary written to %s", path)
		}
	}
}

// runReport is what one run measured and found.
type runReport struct {
	Cell   string
	Seed   int64
	Target string // what the fault hit: "leader 2", "follower 3"...
	// Ops counts every request; OK the successful ones.
	Ops, OK int
	// Ops/s that succeeded before, during and after the fault.
	Before, During, After float64
	// Recovery is from the fault's start until a write called after it
	// succeeded; NewLeader until a leader in a newer term was seen, when
	// the fault hit the leader (0 otherwise).
	Recovery, NewLeader time.Duration
	// Violations are correctness failures; Errors are failures of the run
	// itself (traffic too slow, a fault that did not happen).
	Violations []string
	Errors     []string
	Dir        string
	Took       time.Duration
}

func (r *runReport) failed() bool { return len(r.Violations)+len(r.Errors) > 0 }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func durMax(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func durMedian(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func fmtDur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// summaryTable renders the runs per cell: faults x cluster size x runs.
func summaryTable(cells []cell, reports []*runReport, runs int, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Robustness summary: %d cells x %d runs = %d runs in %v\n\n", len(cells), runs, len(reports), took.Round(time.Second))
	b.WriteString("| fault | members | runs | passed | violations | requests ok / failed | ops/s before / during / after (median) | recovery median / max | new leader median / max |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	var totalRuns, totalPassed, totalViolations int
	for _, c := range cells {
		var (
			n, passed, violations int
			ok, failed            int
			before, during, after []float64
			rec, lead             []time.Duration
		)
		for _, r := range reports {
			if r.Cell != c.name() {
				continue
			}
			n++
			if !r.failed() {
				passed++
			}
			violations += len(r.Violations)
			ok += r.OK
			failed += r.Ops - r.OK
			before, during, after = append(before, r.Before), append(during, r.During), append(after, r.After)
			if r.Recovery > 0 {
				rec = append(rec, r.Recovery)
			}
			if r.NewLeader > 0 {
				lead = append(lead, r.NewLeader)
			}
		}
		totalRuns += n
		totalPassed += passed
		totalViolations += violations
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d / %d | %.0f / %.0f / %.0f | %s / %s | %s / %s |\n",
			c.fault.name, c.size, n, passed, violations, ok, failed, median(before), median(during), median(after),
			fmtDur(durMedian(rec)), fmtDur(durMax(rec)), fmtDur(durMedian(lead)), fmtDur(durMax(lead)))
	}
	fmt.Fprintf(&b, "\nTotal: %d runs, %d passed, violations = %d\n", totalRuns, totalPassed, totalViolations)
	var failedRuns []string
	for _, r := range reports {
		if r.failed() {
			failedRuns = append(failedRuns, fmt.Sprintf("- %s seed %d: %s (saved in %s)", r.Cell, r.Seed, strings.Join(append(r.Violations, r.Errors...), "; "), r.Dir))
		}
	}
	slices.Sort(failedRuns)
	if len(failedRuns) > 0 {
		b.WriteString("\nFailed runs:\n" + strings.Join(failedRuns, "\n") + "\n")
	}
	return b.String()
}

// rngFor returns the seeded randomness of a run.
func rngFor(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x726f62757374))
}

// jitter returns d +- spread, from rng.
func jitter(rng *rand.Rand, d, spread time.Duration) time.Duration {
	return d - spread + time.Duration(rng.Int64N(int64(2*spread)+1))
}

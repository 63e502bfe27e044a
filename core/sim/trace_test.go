package sim

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

var updateTraces = flag.Bool("update", false, "rewrite testdata/trace_hashes.golden")

// TestTraceHashesMatchGolden pins the trace hashes of a few chaotic runs in
// a committed file. Native and wasm test runs (make test-wasm) compare
// against the same file, which proves that the same seed and actions give
// the same run, event for event, on both.
func TestTraceHashesMatchGolden(t *testing.T) {
	var b strings.Builder
	for seed := uint64(1); seed <= 3; seed++ {
		cfg := Config{Nodes: 5, Seed: seed, Events: true, SnapshotEntries: 20, DiskMs: 2}
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ch := chaos
		ch.DurationMs = 30_000
		if err := ch.Run(c); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "seed %d: %d events, %d actions, %s\n", seed, c.EventCount(), len(c.Actions()), c.TraceHash())
	}
	got := b.String()
	const path = "testdata/trace_hashes.golden"
	if *updateTraces {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./core/sim -run TestTraceHashes -update)", err)
	}
	if got != string(want) {
		t.Fatalf("trace hashes on %s/%s differ from the golden file (a change in behaviour or a nondeterminism):\ngot:\n%swant:\n%s", runtime.GOOS, runtime.GOARCH, got, want)
	}
	t.Logf("%s/%s: trace hashes match the golden file\n%s", runtime.GOOS, runtime.GOARCH, got)
}

package core

import (
	"slices"
	"testing"

	"github.com/raftlab/raftlab/storage"
	"github.com/raftlab/raftlab/storage/memory"
)

// A snapshot behind a long log compacts it a step per Ready, so no Ready
// carries thousands of deletions (compact.go).
func TestLongLogCompactsInStepsOnePerReady(t *testing.T) {
	store, err := storage.Open(memory.New())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Bootstrap(store, []uint64{1}, nil); err != nil {
		t.Fatal(err)
	}
	var compacted []uint64
	n, err := NewNode(Config{ID: 1, ElectionTicks: 10, CatchUpEntries: 5, Events: func(e Event) {
		if e.Kind == KindCompact {
			compacted = append(compacted, e.Compact.Index)
		}
	}}, store)
	if err != nil {
		t.Fatal(err)
	}
	ready := func() {
		for n.HasReady() {
			if _, err := n.HandleReady(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := n.Campaign(); err != nil {
		t.Fatal(err)
	}
	ready()
	const entries = 3*compactStep + 100
	for i := uint64(1); i <= entries; i++ {
		if err := n.Propose(i, Command{Op: OpPut, Key: "k", Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		ready()
	}
	first0, _ := store.FirstIndex()
	snap, err := n.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	target := snap - 5
	if target-first0+1 <= 3*compactStep {
		t.Fatalf("log %d..%d too short for four steps", first0, target)
	}
	// The snapshot's own step.
	want := []uint64{first0 + compactStep - 1}
	if first, _ := store.FirstIndex(); first != first0+compactStep || !slices.Equal(compacted, want) {
		t.Fatalf("after the snapshot: first index %d, compact events %v; want %d and %v", first, compacted, first0+compactStep, want)
	}
	// One step per Ready after it, writes going on meanwhile.
	for k := 1; want[len(want)-1] != target; {
		if err := n.Propose(uint64(entries+k), Command{Op: OpPut, Key: "k", Value: []byte("w")}); err != nil {
			t.Fatal(err)
		}
		for n.HasReady() {
			if _, err := n.HandleReady(); err != nil {
				t.Fatal(err)
			}
			k++
			to := min(target, first0+uint64(k)*compactStep-1)
			if to != want[len(want)-1] {
				want = append(want, to)
			}
			if first, _ := store.FirstIndex(); first != to+1 || !slices.Equal(compacted, want) {
				t.Fatalf("Ready %d after the snapshot: first index %d, compact events %v; want %d and %v", k-1, first, compacted, to+1, want)
			}
		}
	}
	// Done: later Readies compact nothing more.
	if err := n.Propose(entries+100, Command{Op: OpPut, Key: "k", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	ready()
	if first, _ := store.FirstIndex(); first != target+1 || len(compacted) != len(want) {
		t.Fatalf("after the target: first index %d, compact events %v", first, compacted)
	}
	if got, _ := n.Store().LastIndex(); got <= snap {
		t.Fatalf("last index %d: the writes during the steps were lost", got)
	}
}

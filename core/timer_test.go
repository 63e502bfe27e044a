package core

import (
	"testing"

	"github.com/raftlab/raftlab/storage"
	"github.com/raftlab/raftlab/storage/memory"
)

// TestTimerFieldsExist fails loudly when raft renames or retypes the
// unexported fields the election timer is read from (timer.go): the UI's
// timer arcs would silently stay empty otherwise.
func TestTimerFieldsExist(t *testing.T) {
	if timerFields.err != nil {
		t.Fatalf("raft moved its election timer fields; update core/timer.go: %v", timerFields.err)
	}
	store, err := storage.Open(memory.New())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Bootstrap(store, []uint64{1, 2, 3}, nil); err != nil {
		t.Fatal(err)
	}
	n, err := NewNode(Config{ID: 1, ElectionTicks: 10}, store)
	if err != nil {
		t.Fatal(err)
	}
	tm := electionTimer(n.rn)
	if tm.Timeout < 10 || tm.Timeout >= 20 || tm.Elapsed != 0 {
		t.Fatalf("timer %+v: want elapsed 0 and a timeout in [10, 20)", tm)
	}
	for i := 0; i < 3; i++ {
		if err := n.Tick(); err != nil {
			t.Fatal(err)
		}
	}
	if got := electionTimer(n.rn); got.Elapsed != 3 {
		t.Fatalf("after 3 ticks the timer is %+v, want elapsed 3", got)
	}
}

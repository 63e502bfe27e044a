package core

import (
	"fmt"
	"testing"

	"github.com/raftlab/raftlab/storage"
)

// TestCatchUpOnSmallWrites: a member that was away while the others took
// thousands of small writes gets them in one append and applies them in one
// Ready. Both went to the engine as one batch each, more keys than Badger
// takes in one (6553 with Raftlab's memtable), and the member failed on
// every restart. Now no batch holds much more than storage.MaxChunkOps
// writes, and the member ends with the others' state.
func TestCatchUpOnSmallWrites(t *testing.T) {
	net := batchingNet(t)
	net.elect(1)
	net.down[3] = true
	const writes = 3 * storage.MaxChunkOps
	for id := uint64(1); id <= writes; id++ {
		if err := net.nodes[1].Propose(id, Command{Op: OpPut, Key: fmt.Sprint("k", id), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		if id%500 == 0 || id == writes {
			net.nodes[1].FlushProposals()
			net.ready(1)
			net.deliver(nil)
		}
	}
	want := net.nodes[1].Applied()
	l := net.logged(3)
	for i := 0; i < 5 && net.nodes[3].Applied() < want; i++ {
		if err := net.nodes[1].Tick(); err != nil {
			t.Fatal(err)
		}
		net.ready(1)
		net.deliver(nil)
	}
	if got := net.nodes[3].Applied(); got != want {
		t.Fatalf("member 3 applied %d, want %d", got, want)
	}
	biggest := 0
	for _, keys := range l.batches {
		biggest = max(biggest, len(keys))
	}
	if biggest > storage.MaxChunkOps+8 {
		t.Fatalf("a batch of %d writes, want at most about %d", biggest, storage.MaxChunkOps)
	}
	v, ok, err := GetKV(net.engines[3], fmt.Sprint("k", writes))
	if err != nil || !ok || string(v) != "v" {
		t.Fatalf("the last write on member 3: %q %v %v", v, ok, err)
	}
	t.Logf("%d writes caught up in %d batches of at most %d keys", writes, len(l.batches), biggest)
}

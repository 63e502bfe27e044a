package storagetest

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/storage"
)

// testRestart checks that a store closed and opened again (storage.Open on
// a new Factory.Open) reads exactly as before, at every stage of a log's
// life, unsynced writes included (a clean close keeps them).
func testRestart(t *testing.T, f Factory) {
	s, _ := openStore(t, f)
	check := func(stage string) {
		t.Helper()
		before := viewOf(t, s)
		s, _ = reopen(t, f, s)
		if d := before.diff(viewOf(t, s)); d != "" {
			t.Fatalf("%s: after a restart: %s", stage, d)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	check("fresh")
	check("fresh, twice")
	must(s.Append(ents(1, 5, 1)))
	check("unsynced append")
	must(s.SetHardState(hardState(1, 1, 3)))
	check("hard state")
	must(s.Save(hardState(2, 2, 3), ents(4, 9, 2), nil, true))
	check("truncating save")
	must(s.Save(hardState(2, 2, 7), nil, nil, false))
	check("unsynced commit")

	var kv storage.Batch
	kv.Put(storage.KVKey("x"), []byte("1"))
	must(s.SaveApplied(&kv, 5, &pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}))
	check("applied with a conf change")
	if s.Applied() != 5 {
		t.Fatalf("Applied() = %d after a restart, want 5", s.Applied())
	}
	if v, err := s.Engine().Get(storage.KVKey("x")); err != nil || string(v) != "1" {
		t.Fatalf("state machine key after a restart: %q, %v", v, err)
	}

	_, err := s.CreateSnapshot(6, &pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}, []byte("state at 6"))
	must(err)
	check("snapshot")
	must(s.Compact(4))
	check("compacted")
	must(s.Compact(6))
	check("compacted to the snapshot")
	must(s.Save(hardState(3, 0, 20), ents(21, 25, 3), snapshot(20, 3, []uint64{1, 2, 3}, "state at 20"), false))
	check("applied snapshot")
	must(s.Append(ents(26, 40, 3)))
	check("long unsynced append")
}

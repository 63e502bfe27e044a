package badger

import (
	"bytes"
	"testing"

	"github.com/raftlab/raftlab/storage"
	pb "go.etcd.io/raft/v3/raftpb"
)

// TestLongLogCompactsAndTakesASnapshot keeps a log several times longer
// than one Badger transaction may delete (1638 keys with a 1 MiB memtable;
// 6553 with the default 4 MiB; 13107 with the 8 MiB it was, which
// --snapshot-entries 30000 passed), then
// compacts it and replaces it with a snapshot. Both used to be one batch and
// stopped every member of a cluster at its first snapshot with "Txn is too
// big"; the store now deletes in chunks (Store.Compact, trimForSnapshot).
func TestLongLogCompactsAndTakesASnapshot(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, WithMemTableSize(1<<20))
	s, err := storage.Open(e)
	if err != nil {
		t.Fatal(err)
	}
	const n = 6000
	appendLog := func(from, to uint64) {
		for lo := from; lo <= to; lo += 500 {
			var es []*pb.Entry
			for i := lo; i < lo+500 && i <= to; i++ {
				es = append(es, &pb.Entry{Index: new(i), Term: new(uint64(2)), Data: bytes.Repeat([]byte{1}, 64)})
			}
			hs := &pb.HardState{Term: new(uint64(2)), Vote: new(uint64(1)), Commit: new(es[len(es)-1].GetIndex())}
			if err := s.Save(hs, es, nil, false); err != nil {
				t.Fatalf("appending %d..%d: %v", lo, es[len(es)-1].GetIndex(), err)
			}
		}
	}
	appendLog(1, n)
	cs := &pb.ConfState{Voters: []uint64{1}}
	if _, err := s.CreateSnapshot(5000, cs, nil); err != nil {
		t.Fatal(err)
	}
	// A refused compaction deletes nothing, even when it would take chunks.
	if err := s.Compact(5500); err == nil {
		t.Fatal("Compact past the snapshot succeeded")
	}
	if first, _ := s.FirstIndex(); first != 1 {
		t.Fatalf("a refused Compact moved the first index to %d", first)
	}
	if err := s.Compact(4999); err != nil {
		t.Fatalf("Compact of 4999 entries: %v", err)
	}
	if first, _ := s.FirstIndex(); first != 5000 {
		t.Fatalf("first index %d after Compact(4999), want 5000", first)
	}

	// A follower far behind: a snapshot from the leader replaces its log of
	// 4001 entries, all since its own latest snapshot.
	appendLog(n+1, 9000)
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(20000)), Term: new(uint64(3)), ConfState: cs}}
	hs := &pb.HardState{Term: new(uint64(3)), Commit: new(uint64(20000))}
	if err := s.Save(hs, nil, snap, true); err != nil {
		t.Fatalf("Save of a snapshot replacing a log of 4001 entries: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = storage.Open(openT(t, dir, WithMemTableSize(1<<20)))
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 20001 || last != 20000 {
		t.Fatalf("after the snapshot and a reopen: first %d last %d, want 20001 20000", first, last)
	}
}

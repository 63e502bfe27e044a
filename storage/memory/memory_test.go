package memory_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/storage"
	"github.com/raftlab/raftlab/storage/memory"
	"github.com/raftlab/raftlab/storage/storagetest"
)

// factory opens one memory engine: a new one the first time, the same one
// reopened (with what it held at Close) after that, as a disk would be.
type factory struct{ e *memory.Engine }

func (f *factory) Open() (storage.Engine, error) {
	if f.e == nil {
		f.e = memory.New()
	} else {
		f.e.Reopen()
	}
	return f.e, nil
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Factory { return &factory{} })
}

func put(t *testing.T, e *memory.Engine, sync bool, kv ...string) {
	t.Helper()
	var b storage.Batch
	for i := 0; i < len(kv); i += 2 {
		b.Put([]byte(kv[i]), []byte(kv[i+1]))
	}
	if err := e.Apply(&b, sync); err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, e *memory.Engine, sync bool, keys ...string) {
	t.Helper()
	var b storage.Batch
	for _, k := range keys {
		b.Delete([]byte(k))
	}
	if err := e.Apply(&b, sync); err != nil {
		t.Fatal(err)
	}
}

// contents lists every key=value of e.
func contents(t *testing.T, e *memory.Engine) []string {
	t.Helper()
	var out []string
	if err := e.Scan(nil, nil, func(k, v []byte) error {
		out = append(out, string(k)+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantContents(t *testing.T, e *memory.Engine, want ...string) {
	t.Helper()
	if got := contents(t, e); !slices.Equal(got, want) {
		t.Fatalf("engine holds %q, want %q", got, want)
	}
}

func TestSyncedWriteSurvivesCrash(t *testing.T) {
	e := memory.New()
	put(t, e, true, "a", "1")
	if lost := e.Crash(); len(lost) != 0 {
		t.Fatalf("Crash lost %q after a synced write", lost)
	}
	wantContents(t, e, "a=1")
}

func TestUnsyncedWriteIsLost(t *testing.T) {
	e := memory.New()
	put(t, e, true, "a", "1", "b", "2")
	put(t, e, false, "a", "changed", "c", "3")
	del(t, e, false, "b")
	if e.Unsynced() != 3 {
		t.Fatalf("Unsynced() = %d, want 3", e.Unsynced())
	}
	lost := e.Crash()
	// Crash returns the keys rolled back, oldest write first.
	if !slices.Equal(lost, []string{"a", "c", "b"}) {
		t.Fatalf("Crash returned %q, want [a c b]", lost)
	}
	// Every unsynced write is undone: the overwrite, the insert and the
	// delete.
	wantContents(t, e, "a=1", "b=2")
	if e.Unsynced() != 0 {
		t.Fatalf("Unsynced() = %d after Crash", e.Unsynced())
	}
	if lost := e.Crash(); len(lost) != 0 {
		t.Fatalf("a second Crash lost %q", lost)
	}
}

func TestSyncCoversEarlierWrites(t *testing.T) {
	e := memory.New()
	put(t, e, false, "a", "1")
	put(t, e, false, "a", "2", "b", "1")
	del(t, e, false, "b")
	syncs := e.Syncs()
	put(t, e, true, "c", "1") // makes everything before it durable too
	if e.Syncs() != syncs+1 {
		t.Fatalf("Syncs() = %d, want %d", e.Syncs(), syncs+1)
	}
	put(t, e, false, "d", "1")
	if lost := e.Crash(); !slices.Equal(lost, []string{"d"}) {
		t.Fatalf("Crash lost %q, want only the write after the sync", lost)
	}
	wantContents(t, e, "a=2", "c=1")

	// Sync, as the OS's writeback, makes writes durable without a synced
	// batch.
	put(t, e, false, "e", "1")
	e.Sync()
	if lost := e.Crash(); len(lost) != 0 {
		t.Fatalf("Crash lost %q after Sync", lost)
	}
	wantContents(t, e, "a=2", "c=1", "e=1")
}

func TestAckBeforeSyncLosesSyncedWrites(t *testing.T) {
	e := memory.NewWithOptions(memory.Options{AckBeforeSync: true})
	put(t, e, true, "a", "1")
	put(t, e, true, "b", "2")
	if e.Syncs() != 0 {
		t.Fatalf("Syncs() = %d with AckBeforeSync, want 0", e.Syncs())
	}
	if lost := e.Crash(); !slices.Equal(lost, []string{"a", "b"}) {
		t.Fatalf("Crash lost %q, want [a b]: AckBeforeSync ignores sync", lost)
	}
	wantContents(t, e)

	// Turned off, syncs work again.
	e.SetAckBeforeSync(false)
	put(t, e, true, "c", "3")
	if lost := e.Crash(); len(lost) != 0 {
		t.Fatalf("Crash lost %q after AckBeforeSync was turned off", lost)
	}
	wantContents(t, e, "c=3")
}

func TestCloseKeepsUnsyncedWrites(t *testing.T) {
	// A clean shutdown is not a crash: the page cache of a running system
	// still writes everything back.
	e := memory.New()
	put(t, e, false, "a", "1")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get([]byte("a")); err == nil {
		t.Fatal("Get on a closed engine succeeded")
	}
	e.Reopen()
	wantContents(t, e, "a=1")
}

// TestStoreCrash checks the durability model through a Store: a crash loses
// exactly the batches that were not synced, each as a whole, and the store
// opens on what survived.
func TestStoreCrash(t *testing.T) {
	e := memory.New()
	s, err := storage.Open(e)
	if err != nil {
		t.Fatal(err)
	}
	ent := func(i, term uint64) *pb.Entry { return &pb.Entry{Index: new(i), Term: new(term), Data: []byte("x")} }
	hs := &pb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(2))}
	// A Ready with MustSync: entries 1..3 and the HardState, synced.
	if err := s.Save(hs, []*pb.Entry{ent(1, 1), ent(2, 1), ent(3, 1)}, nil, true); err != nil {
		t.Fatal(err)
	}
	// Unsynced: more entries, the applied index, a compaction.
	if err := s.Append([]*pb.Entry{ent(4, 1), ent(5, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveApplied(nil, 2, nil); err != nil {
		t.Fatal(err)
	}
	lost := e.Crash()
	if !slices.Contains(lost, storage.KeyLastIndex) || !slices.Contains(lost, storage.KeyUncommitIndex) {
		t.Fatalf("Crash lost %q; want the unsynced last_index and uncommit_index among them", lost)
	}

	s, err = storage.Open(e)
	if err != nil {
		t.Fatalf("open after a crash: %v", err)
	}
	if last, _ := s.LastIndex(); last != 3 {
		t.Fatalf("LastIndex after a crash = %d, want 3 (the synced Save)", last)
	}
	if s.Applied() != 0 {
		t.Fatalf("Applied after a crash = %d, want 0: the unsynced SaveApplied was lost", s.Applied())
	}
	if got, _, _ := s.InitialState(); got.GetCommit() != 2 || got.GetTerm() != 1 {
		t.Fatalf("HardState after a crash = %v", got)
	}
	if _, err := s.Term(4); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("Term(4) after a crash: %v, want ErrUnavailable", err)
	}

	// With AckBeforeSync even the synced Save is lost: the store opens
	// fresh, the bug the simulator's checker must catch.
	e2 := memory.NewWithOptions(memory.Options{AckBeforeSync: true})
	s2, err := storage.Open(e2) // its initial keys are lost as well
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Save(hs, []*pb.Entry{ent(1, 1), ent(2, 1)}, nil, true); err != nil {
		t.Fatal(err)
	}
	e2.Crash()
	s2, err = storage.Open(e2)
	if err != nil {
		t.Fatal(err)
	}
	if last, _ := s2.LastIndex(); last != 0 {
		t.Fatalf("LastIndex after a crash with AckBeforeSync = %d, want 0", last)
	}
}

// TestCrashDuringSnapshotRestore: a snapshot's batch is durable, the state
// machine's restore after it is not yet; a crash then leaves the applied
// index behind the snapshot, and the reopened store finishes the restore
// from the durable snapshot.
func TestCrashDuringSnapshotRestore(t *testing.T) {
	e := memory.New()
	s, err := storage.Open(e)
	if err != nil {
		t.Fatal(err)
	}
	restorer := func(data []byte, apply func(*storage.Batch) error) error {
		for _, kv := range strings.Split(string(data), ",") {
			k, v, _ := strings.Cut(kv, "=")
			if err := apply(&storage.Batch{Ops: []storage.Op{{Key: storage.KVKey(k), Value: []byte(v)}}}); err != nil {
				return err
			}
		}
		return nil
	}
	s.SetRestorer(restorer)
	snap := &pb.Snapshot{Data: []byte("a=1,b=2,c=3"), Metadata: &pb.SnapshotMetadata{Index: new(uint64(10)), Term: new(uint64(2)), ConfState: &pb.ConfState{Voters: []uint64{1}}}}
	if err := s.Save(&pb.HardState{Term: new(uint64(2)), Commit: new(uint64(10))}, nil, snap, true); err != nil {
		t.Fatal(err)
	}
	if s.RestorePending() || s.Applied() != 10 {
		t.Fatalf("after Save: pending %v, applied %d", s.RestorePending(), s.Applied())
	}
	// The restore's batches were not synced: a crash loses them.
	if lost := e.Crash(); len(lost) == 0 {
		t.Fatal("the crash lost nothing; the restore should have been unsynced")
	}
	s2, err := storage.Open(e)
	if err != nil {
		t.Fatalf("a store with a pending restore must open: %v", err)
	}
	if !s2.RestorePending() || s2.Applied() >= 10 {
		t.Fatalf("after the crash: pending %v, applied %d", s2.RestorePending(), s2.Applied())
	}
	s2.SetRestorer(restorer)
	if err := s2.FinishRestore(); err != nil {
		t.Fatal(err)
	}
	if s2.RestorePending() || s2.Applied() != 10 {
		t.Fatalf("after FinishRestore: pending %v, applied %d", s2.RestorePending(), s2.Applied())
	}
	for k, want := range map[string]string{"a": "1", "b": "2", "c": "3"} {
		if v, err := e.Get(storage.KVKey(k)); err != nil || string(v) != want {
			t.Errorf("%s = %q %v, want %q", k, v, err, want)
		}
	}
}

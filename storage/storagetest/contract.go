package storagetest

import (
	"math"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlab/raftlab/storage"
)

// testContract checks the raft.Storage contract (storage.go of raft v3.7.0)
// and the MemoryStorage write methods on known cases.
func testContract(t *testing.T, newFactory func(t *testing.T) Factory) {
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	wantTerm := func(t *testing.T, s *storage.Store, i, want uint64, wantErr string) {
		t.Helper()
		term, err := s.Term(i)
		if errClass(err) != wantErr || (err == nil && term != want) {
			t.Fatalf("Term(%d) = %d, %s; want %d, %s", i, term, errClass(err), want, wantErr)
		}
	}
	wantIndexes := func(t *testing.T, s *storage.Store, first, last uint64) {
		t.Helper()
		f, err1 := s.FirstIndex()
		l, err2 := s.LastIndex()
		if f != first || l != last || err1 != nil || err2 != nil {
			t.Fatalf("FirstIndex, LastIndex = %d (%v), %d (%v); want %d, %d", f, err1, l, err2, first, last)
		}
	}
	wantEntries := func(t *testing.T, s *storage.Store, lo, hi, maxSize uint64, want []*pb.Entry, wantErr string) {
		t.Helper()
		got, err := s.Entries(lo, hi, maxSize)
		if errClass(err) != wantErr || !sameEntries(got, want) {
			t.Fatalf("Entries(%d, %d, %d) = %s, %s; want %s, %s", lo, hi, maxSize, describeEntries(got), errClass(err), describeEntries(want), wantErr)
		}
	}

	t.Run("Fresh", func(t *testing.T) {
		s, _ := openStore(t, newFactory(t))
		wantIndexes(t, s, 1, 0)
		wantTerm(t, s, 0, 0, "ok")
		wantTerm(t, s, 1, 0, "ErrUnavailable")
		wantEntries(t, s, 1, 1, math.MaxUint64, nil, "ErrUnavailable")
		snap, err := s.Snapshot()
		if err != nil || !raft.IsEmptySnap(snap) {
			t.Fatalf("Snapshot() = %s, %v; want an empty snapshot", describeSnapshot(snap), err)
		}
		hs, cs, err := s.InitialState()
		if err != nil || hs == nil || !raft.IsEmptyHardState(hs) || len(cs.GetVoters()) != 0 {
			t.Fatalf("InitialState() = %v, %v, %v; want an empty HardState and ConfState", hs, cs, err)
		}
		if s.Applied() != 0 {
			t.Fatalf("Applied() = %d, want 0", s.Applied())
		}
	})

	t.Run("Entries", func(t *testing.T) {
		s, _ := openStore(t, newFactory(t))
		all := []*pb.Entry{nil} // all[i] is entry i
		for i := uint64(1); i <= 10; i++ {
			all = append(all, ent(i, 1+i/4, string(make([]byte, 10*i))))
		}
		must(t, s.Append(all[1:]))
		wantIndexes(t, s, 1, 10)
		wantEntries(t, s, 1, 11, math.MaxUint64, all[1:], "ok")
		wantEntries(t, s, 3, 7, math.MaxUint64, all[3:7], "ok")
		wantEntries(t, s, 3, 3, math.MaxUint64, nil, "ok")
		wantEntries(t, s, 11, 11, math.MaxUint64, nil, "ok")
		// maxSize counts the encoded size; at least one entry comes back.
		size := func(e *pb.Entry) uint64 { return uint64(proto.Size(e)) }
		wantEntries(t, s, 3, 7, 0, all[3:4], "ok")
		wantEntries(t, s, 3, 7, 1, all[3:4], "ok")
		wantEntries(t, s, 3, 7, size(all[3])+size(all[4]), all[3:5], "ok")
		wantEntries(t, s, 3, 7, size(all[3])+size(all[4])-1, all[3:4], "ok")
		wantEntries(t, s, 3, 7, size(all[3])+size(all[4])+size(all[5])+size(all[6]), all[3:7], "ok")
		// Below FirstIndex: compacted; beyond LastIndex: unavailable (an
		// error where MemoryStorage panics).
		wantEntries(t, s, 0, 5, math.MaxUint64, nil, "ErrCompacted")
		wantEntries(t, s, 5, 12, math.MaxUint64, nil, "ErrUnavailable")
		wantEntries(t, s, 12, 12, math.MaxUint64, nil, "ErrUnavailable")

		// The caller owns the returned slice: appending to it must not
		// change what the store returns next.
		got, err := s.Entries(3, 5, math.MaxUint64)
		must(t, err)
		_ = append(got, ent(99, 9, "x"))
		got[0] = ent(99, 9, "y")
		wantEntries(t, s, 3, 6, math.MaxUint64, all[3:6], "ok")
	})

	t.Run("Term", func(t *testing.T) {
		s, _ := openStore(t, newFactory(t))
		must(t, s.Append([]*pb.Entry{ent(1, 1, ""), ent(2, 1, ""), ent(3, 2, ""), ent(4, 3, ""), ent(5, 3, "")}))
		for i, want := range []uint64{0, 1, 1, 2, 3, 3} {
			wantTerm(t, s, uint64(i), want, "ok")
		}
		wantTerm(t, s, 6, 0, "ErrUnavailable")
	})

	t.Run("Truncation", func(t *testing.T) {
		s, _ := openStore(t, newFactory(t))
		must(t, s.Append(ents(1, 10, 1)))
		must(t, s.SetHardState(hardState(2, 1, 3)))
		// Appending at i <= LastIndex removes every entry >= i, so the
		// last index goes down (Raft §5.3).
		must(t, s.Append(ents(6, 7, 2)))
		wantIndexes(t, s, 1, 7)
		wantTerm(t, s, 5, 1, "ok")
		wantTerm(t, s, 6, 2, "ok")
		wantTerm(t, s, 8, 0, "ErrUnavailable")
		wantEntries(t, s, 1, 8, math.MaxUint64, append(ents(1, 5, 1), ents(6, 7, 2)...), "ok")
		wantEntries(t, s, 6, 11, math.MaxUint64, nil, "ErrUnavailable")
		// Right after commit.
		must(t, s.Append(ents(4, 4, 2)))
		wantIndexes(t, s, 1, 4)
		wantEntries(t, s, 1, 5, math.MaxUint64, append(ents(1, 3, 1), ents(4, 4, 2)...), "ok")
		// At LastIndex+1: a plain append.
		must(t, s.Append(ents(5, 6, 2)))
		wantIndexes(t, s, 1, 6)
	})

	t.Run("TruncationReopen", func(t *testing.T) {
		f := newFactory(t)
		s, _ := openStore(t, f)
		must(t, s.Append(ents(1, 10, 1)))
		must(t, s.Append(ents(4, 5, 2)))
		s, _ = reopen(t, f, s)
		wantIndexes(t, s, 1, 5)
		wantEntries(t, s, 1, 6, math.MaxUint64, append(ents(1, 3, 1), ents(4, 5, 2)...), "ok")
		wantTerm(t, s, 6, 0, "ErrUnavailable")
	})

	t.Run("AppendBelowFirst", func(t *testing.T) {
		s, _ := openStore(t, newFactory(t))
		must(t, s.Append(ents(1, 5, 1)))
		must(t, s.SetHardState(hardState(1, 0, 5)))
		_, err := s.CreateSnapshot(5, &pb.ConfState{Voters: []uint64{1}}, nil)
		must(t, err)
		must(t, s.Compact(5))
		wantIndexes(t, s, 6, 5)
		// Entries below FirstIndex are ignored, as by MemoryStorage.
		must(t, s.Append(ents(2, 4, 1)))
		wantIndexes(t, s, 6, 5)
		must(t, s.Append(append(ents(4, 5, 1), ents(6, 8, 2)...)))
		wantIndexes(t, s, 6, 8)
		wantEntries(t, s, 6, 9, math.MaxUint64, ents(6, 8, 2), "ok")
		wantTerm(t, s, 5, 1, "ok")
	})

	t.Run("CompactAndSnapshot", func(t *testing.T) {
		s, _ := openStore(t, newFactory(t))
		must(t, s.Append(append(ents(1, 5, 1), ents(6, 10, 2)...)))
		must(t, s.SetHardState(hardState(2, 1, 10)))
		cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
		snap, err := s.CreateSnapshot(6, cs, []byte("state at 6"))
		must(t, err)
		// A snapshot's term is the term of the entry at its index.
		if md := snap.GetMetadata(); md.GetIndex() != 6 || md.GetTerm() != 2 || string(snap.GetData()) != "state at 6" ||
			!proto.Equal(normConfState(md.GetConfState()), normConfState(cs)) {
			t.Fatalf("CreateSnapshot(6) = %s", describeSnapshot(snap))
		}
		got, err := s.Snapshot()
		if err != nil || !proto.Equal(normSnapshot(got), normSnapshot(snap)) {
			t.Fatalf("Snapshot() = %s, %v; want %s", describeSnapshot(got), err, describeSnapshot(snap))
		}
		if _, err := s.CreateSnapshot(6, nil, nil); errClass(err) != "ErrSnapOutOfDate" {
			t.Fatalf("CreateSnapshot at the snapshot's index: %v, want ErrSnapOutOfDate", err)
		}
		if _, err := s.CreateSnapshot(5, nil, nil); errClass(err) != "ErrSnapOutOfDate" {
			t.Fatalf("CreateSnapshot below the snapshot: %v, want ErrSnapOutOfDate", err)
		}

		must(t, s.Compact(4))
		wantIndexes(t, s, 5, 10)
		wantTerm(t, s, 4, 1, "ok") // FirstIndex-1 keeps its term
		wantTerm(t, s, 3, 0, "ErrCompacted")
		wantEntries(t, s, 4, 6, math.MaxUint64, nil, "ErrCompacted")
		wantEntries(t, s, 5, 11, math.MaxUint64, append(ents(5, 5, 1), ents(6, 10, 2)...), "ok")
		for _, i := range []uint64{4, 3, 0} {
			if err := s.Compact(i); errClass(err) != "ErrCompacted" {
				t.Fatalf("Compact(%d) after Compact(4): %v, want ErrCompacted", i, err)
			}
		}
		// Up to the snapshot: Term(FirstIndex-1) is the snapshot's term.
		must(t, s.Compact(6))
		wantIndexes(t, s, 7, 10)
		wantTerm(t, s, 6, 2, "ok")
		wantTerm(t, s, 5, 0, "ErrCompacted")

		// A later snapshot with a nil ConfState keeps the previous one.
		snap2, err := s.CreateSnapshot(9, nil, []byte("state at 9"))
		must(t, err)
		if !proto.Equal(normConfState(snap2.GetMetadata().GetConfState()), normConfState(cs)) {
			t.Fatalf("CreateSnapshot(9, nil) ConfState = %v, want %v", snap2.GetMetadata().GetConfState(), cs)
		}
		// CreateSnapshot moved the applied index, so the snapshot's
		// ConfState is the one to restart with, as with MemoryStorage.
		if _, gotCS, _ := s.InitialState(); !proto.Equal(normConfState(gotCS), normConfState(cs)) {
			t.Fatalf("InitialState ConfState = %v, want %v", gotCS, cs)
		}
		if s.Applied() != 9 {
			t.Fatalf("Applied() = %d after CreateSnapshot(9), want 9", s.Applied())
		}
	})

	t.Run("ApplySnapshot", func(t *testing.T) {
		s, _ := openStore(t, newFactory(t))
		must(t, s.Append(ents(1, 10, 1)))
		must(t, s.SetHardState(hardState(1, 1, 5)))
		cs := &pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}
		snap := snapshot(20, 4, cs.Voters, "state at 20")
		snap.Metadata.ConfState = cs
		must(t, s.ApplySnapshot(snap))
		wantIndexes(t, s, 21, 20)
		wantTerm(t, s, 20, 4, "ok")
		wantTerm(t, s, 19, 0, "ErrCompacted")
		wantTerm(t, s, 21, 0, "ErrUnavailable")
		wantEntries(t, s, 21, 21, math.MaxUint64, nil, "ErrUnavailable")
		wantEntries(t, s, 5, 6, math.MaxUint64, nil, "ErrCompacted")
		got, err := s.Snapshot()
		if err != nil || !proto.Equal(normSnapshot(got), normSnapshot(snap)) {
			t.Fatalf("Snapshot() = %s, %v; want %s", describeSnapshot(got), err, describeSnapshot(snap))
		}
		_, gotCS, _ := s.InitialState()
		if !proto.Equal(normConfState(gotCS), normConfState(cs)) {
			t.Fatalf("InitialState ConfState = %v, want the snapshot's %v", gotCS, cs)
		}
		for _, i := range []uint64{20, 15} {
			if err := s.ApplySnapshot(snapshot(i, 4, nil, "")); errClass(err) != "ErrSnapOutOfDate" {
				t.Fatalf("ApplySnapshot(%d) after a snapshot at 20: %v, want ErrSnapOutOfDate", i, err)
			}
		}
		must(t, s.SetHardState(hardState(4, 0, 20)))
		must(t, s.Append(ents(21, 23, 4)))
		wantIndexes(t, s, 21, 23)
		wantEntries(t, s, 21, 24, math.MaxUint64, ents(21, 23, 4), "ok")
		// A snapshot inside the log replaces the whole log, as with
		// MemoryStorage.
		must(t, s.ApplySnapshot(snapshot(22, 4, []uint64{1}, "state at 22")))
		wantIndexes(t, s, 23, 22)
		wantTerm(t, s, 22, 4, "ok")
		wantTerm(t, s, 23, 0, "ErrUnavailable")
	})

	t.Run("Save", func(t *testing.T) {
		f := newFactory(t)
		s, re := openStore(t, f)
		// One Ready of a follower that is far behind: a snapshot, the
		// entries after it and the HardState, in one synced batch even
		// though mustSync is false (Ready.MustSync ignores snapshots).
		snap := snapshot(10, 2, []uint64{1, 2, 3}, "state at 10")
		hs := hardState(3, 2, 10)
		n := len(re.applies)
		must(t, s.Save(hs, ents(11, 13, 3), snap, false))
		if len(re.applies) != n+1 {
			t.Fatalf("Save wrote %d batches, want 1", len(re.applies)-n)
		}
		rec := re.applies[n]
		if !rec.sync {
			t.Fatalf("Save with a snapshot was not synced")
		}
		for _, key := range []string{storage.KeySnapshot, "/raft/entry/11", "/raft/entry/13", storage.KeyHardState, storage.KeyFirstIndex, storage.KeyLastIndex, storage.KeyConfState, storage.KeyUncommitIndex} {
			if !contains(rec.keys, key) {
				t.Fatalf("Save's batch %q lacks %s", rec.keys, key)
			}
		}
		check := func(t *testing.T, s *storage.Store) {
			t.Helper()
			wantIndexes(t, s, 11, 13)
			wantTerm(t, s, 10, 2, "ok")
			wantEntries(t, s, 11, 14, math.MaxUint64, ents(11, 13, 3), "ok")
			gotHS, gotCS, err := s.InitialState()
			if err != nil || normHardState(gotHS) != normHardState(hs) || len(gotCS.GetVoters()) != 3 {
				t.Fatalf("InitialState() = %s %v %v", normHardState(gotHS), gotCS, err)
			}
		}
		check(t, s)
		s, re = reopen(t, f, s)
		check(t, s)

		// A Ready of a leader in a new term truncating an uncommitted
		// suffix: entries and HardState, synced because mustSync.
		n = len(re.applies)
		must(t, s.Save(hardState(4, 1, 11), ents(12, 12, 4), nil, true))
		if len(re.applies) != n+1 || !re.applies[n].sync {
			t.Fatalf("Save(mustSync) wrote %d batches (%v)", len(re.applies)-n, re.applies[n:])
		}
		wantIndexes(t, s, 11, 12)
		wantTerm(t, s, 12, 4, "ok")
		// Only a commit change: mustSync false, not synced.
		must(t, s.Save(hardState(4, 1, 12), nil, nil, false))
		if rec := re.applies[len(re.applies)-1]; rec.sync || len(rec.keys) != 1 || rec.keys[0] != storage.KeyHardState {
			t.Fatalf("Save of a commit change: %+v, want one unsynced hard_state write", rec)
		}
		// An empty Ready writes nothing.
		n = len(re.applies)
		must(t, s.Save(nil, nil, nil, false))
		must(t, s.Save(&pb.HardState{}, nil, &pb.Snapshot{}, false))
		if len(re.applies) != n {
			t.Fatalf("an empty Save wrote %v", re.applies[n:])
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

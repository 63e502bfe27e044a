package storagetest

import (
	"math"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlab/raftlab/storage"
)

// testLongAppend checks appends longer than one engine batch holds: a
// follower catching up gets up to MaxSizePerMsg (1 MiB) of entries in one
// append, tens of thousands when they are small, and a deposed leader may
// have as many uncommitted entries to give up. Badger takes 6553 keys in a
// batch with Raftlab's memtable; such a Save used to fail, and the member
// with it, on every restart.
func testLongAppend(t *testing.T, newFactory func(t *testing.T) Factory) {
	// Entries of a few bytes each, as small as a write of one short key.
	tiny := func(lo, hi, term uint64) []*pb.Entry {
		var out []*pb.Entry
		for i := lo; i <= hi; i++ {
			out = append(out, ent(i, term, "k=v"))
		}
		return out
	}
	const long = 3*storage.MaxChunkOps + 17

	t.Run("Append", func(t *testing.T) {
		f := newFactory(t)
		s, re := openStore(t, f)
		// 1 MiB of the smallest entries raft sends, as one append.
		var batch []*pb.Entry
		size := 0
		for i := uint64(1); size < 1<<20; i++ {
			e := ent(i, 1, "")
			batch = append(batch, e)
			size += proto.Size(e)
		}
		if err := s.Save(hardState(1, 1, 0), batch, nil, true); err != nil {
			t.Fatalf("Save of %d entries: %v", len(batch), err)
		}
		last := uint64(len(batch))
		if len(re.applies) < 2 || !re.applies[len(re.applies)-1].sync {
			t.Fatalf("%d batches, the last synced: %v; want several", len(re.applies), re.applies[len(re.applies)-1].sync)
		}
		for i, a := range re.applies {
			if len(a.keys) > storage.MaxChunkOps+5 {
				t.Fatalf("batch %d holds %d writes", i, len(a.keys))
			}
		}
		s, _ = reopen(t, f, s)
		if l, _ := s.LastIndex(); l != last {
			t.Fatalf("LastIndex() = %d after a restart, want %d", l, last)
		}
		got, err := s.Entries(last-2, last+1, math.MaxUint64)
		if err != nil || !sameEntries(got, batch[last-3:]) {
			t.Fatalf("Entries() = %s, %v", describeEntries(got), err)
		}
	})

	t.Run("Truncation", func(t *testing.T) {
		// A deposed leader's long uncommitted tail, replaced by one entry of
		// the new leader's.
		f := newFactory(t)
		s, _ := openStore(t, f)
		must(t, s.Save(hardState(1, 1, 5), tiny(1, long, 1), nil, true))
		must(t, s.Save(hardState(2, 0, 5), tiny(6, 6, 2), nil, true))
		want := append(tiny(1, 5, 1), tiny(6, 6, 2)...)
		s, _ = reopen(t, f, s)
		got, err := s.Entries(1, 7, math.MaxUint64)
		if err != nil || !sameEntries(got, want) {
			t.Fatalf("Entries() = %s, %v; want %s", describeEntries(got), err, describeEntries(want))
		}
		if l, _ := s.LastIndex(); l != 6 {
			t.Fatalf("LastIndex() = %d, want 6", l)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		// A Save the store refuses changes nothing, however long.
		s, re := openStore(t, newFactory(t))
		must(t, s.Save(hardState(2, 1, 0), nil, nil, true))
		before := viewOf(t, s)
		n := len(re.applies)
		if err := s.Save(hardState(1, 1, 0), tiny(1, long, 1), nil, true); err == nil {
			t.Fatal("a term going back was accepted")
		}
		if err := s.Save(hardState(2, 1, long+1), tiny(1, long, 1), nil, true); err == nil {
			t.Fatal("a commit past the new last index was accepted")
		}
		if len(re.applies) != n {
			t.Fatalf("%d batches written by refused saves", len(re.applies)-n)
		}
		if d := before.diff(viewOf(t, s)); d != "" {
			t.Fatalf("after refused saves: %s", d)
		}
	})

	t.Run("Crash", func(t *testing.T) {
		// Stop the engine after each batch of a long overwriting Save in
		// turn: what is left must open, and hold the old log's first
		// entries followed by some of the new ones, in order.
		old := tiny(1, long, 1)
		repl := tiny(11, long+storage.MaxChunkOps, 2)
		for stop := 1; ; stop++ {
			f := newFactory(t)
			s, re := openStore(t, f)
			must(t, s.Save(hardState(1, 1, 10), old, nil, true))
			re.failAt = stop
			err := s.Save(hardState(2, 2, 10), repl, nil, true)
			if err == nil {
				if stop < 3 {
					t.Fatalf("the Save took %d batches, want several", stop-1)
				}
				break
			}
			s, _ = reopen(t, f, s)
			last, _ := s.LastIndex()
			got, err := s.Entries(1, last+1, math.MaxUint64)
			if err != nil {
				t.Fatalf("stopped after %d batches: Entries: %v", stop-1, err)
			}
			for i, e := range got {
				idx := uint64(i) + 1
				wantTerm := uint64(1)
				if idx > 10 && e.GetTerm() == 2 {
					wantTerm = 2
				}
				if e.GetIndex() != idx || e.GetTerm() != wantTerm || (i > 0 && e.GetTerm() < got[i-1].GetTerm()) {
					t.Fatalf("stopped after %d batches: entry %d/%d at position %d", stop-1, e.GetIndex(), e.GetTerm(), i)
				}
			}
			hs, _, _ := s.InitialState()
			if hs.GetTerm() != 1 || hs.GetCommit() != 10 {
				t.Fatalf("stopped after %d batches: HardState %s, want the old one", stop-1, normHardState(hs))
			}
			s.Close()
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

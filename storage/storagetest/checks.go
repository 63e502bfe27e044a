package storagetest

import (
	"math"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/storage"
)

// testStoreChecks checks what the store refuses on top of MemoryStorage
// (where MemoryStorage accepts, or panics): each refused write returns an
// error, writes no batch, tells the observer nothing, and leaves every read,
// before and after a restart, as it was.
func testStoreChecks(t *testing.T, newFactory func(t *testing.T) Factory) {
	// The starting point of every case: entries 3..10 (1..2 compacted),
	// terms 1 up to 3, HardState {term 3, vote 1, commit 6}, snapshot at 4.
	setup := func(t *testing.T, s *storage.Store) {
		t.Helper()
		steps := []func() error{
			func() error { return s.Append(append(append(ents(1, 3, 1), ents(4, 7, 2)...), ents(8, 10, 3)...)) },
			func() error { return s.SetHardState(hardState(3, 1, 6)) },
			func() error {
				_, err := s.CreateSnapshot(4, &pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("state at 4"))
				return err
			},
			func() error { return s.Compact(2) },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("setup: %v", err)
			}
		}
	}

	cases := []struct {
		name string
		do   func(s *storage.Store) error
	}{
		// HardState: term and vote never go back (§5.2: one vote per
		// term), and commit stays within the log.
		{"term going back", func(s *storage.Store) error { return s.SetHardState(hardState(2, 1, 6)) }},
		{"vote changing in a term", func(s *storage.Store) error { return s.SetHardState(hardState(3, 2, 6)) }},
		{"vote reset in a term", func(s *storage.Store) error { return s.SetHardState(hardState(3, 0, 6)) }},
		{"commit beyond last index", func(s *storage.Store) error { return s.SetHardState(hardState(3, 1, 11)) }},
		// Compact: never past the latest snapshot, never beyond the log.
		{"compact past the snapshot", func(s *storage.Store) error { return s.Compact(5) }},
		{"compact beyond last index", func(s *storage.Store) error { return s.Compact(11) }},
		// Append: no gap, no overwriting committed entries, entries that
		// follow one another with terms that do not go down.
		{"append leaving a gap", func(s *storage.Store) error { return s.Append(ents(12, 13, 3)) }},
		{"append overwriting a committed entry", func(s *storage.Store) error { return s.Append(ents(6, 8, 4)) }},
		{"append of entries not in sequence", func(s *storage.Store) error {
			return s.Append([]*pb.Entry{ent(11, 3, ""), ent(13, 3, "")})
		}},
		{"append with a term going down", func(s *storage.Store) error {
			return s.Append([]*pb.Entry{ent(11, 3, ""), ent(12, 2, "")})
		}},
		// Snapshots: none beyond commit, none leaving commit beyond the log.
		{"snapshot beyond commit", func(s *storage.Store) error {
			_, err := s.CreateSnapshot(7, nil, []byte("state at 7"))
			return err
		}},
		{"snapshot beyond last index", func(s *storage.Store) error {
			_, err := s.CreateSnapshot(12, nil, nil)
			return err
		}},
		{"applied snapshot below commit", func(s *storage.Store) error {
			return s.ApplySnapshot(snapshot(5, 2, []uint64{1}, "state at 5"))
		}},
		// Save is refused as a whole: a valid snapshot and entries are not
		// written when its HardState is refused.
		{"save with a term going back", func(s *storage.Store) error {
			return s.Save(hardState(2, 0, 20), ents(21, 22, 4), snapshot(20, 4, []uint64{1}, "state at 20"), true)
		}},
		{"save of entries with a vote changing", func(s *storage.Store) error {
			return s.Save(hardState(3, 3, 6), ents(11, 12, 3), nil, true)
		}},
		{"save with a gap after the snapshot", func(s *storage.Store) error {
			return s.Save(hardState(4, 0, 20), ents(22, 23, 4), snapshot(20, 4, []uint64{1}, "state at 20"), true)
		}},
		{"save of a stale snapshot", func(s *storage.Store) error {
			return s.Save(hardState(4, 0, 6), ents(11, 11, 4), snapshot(3, 1, []uint64{1}, ""), true)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFactory(t)
			s, re := openStore(t, f)
			setup(t, s)
			before := viewOf(t, s)
			var heard []storage.KeyChange
			s.SetObserver(func(kc storage.KeyChange) { heard = append(heard, kc) })
			n := len(re.applies)

			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				err = c.do(s)
			}()
			if err == nil {
				t.Fatal("accepted, want an error")
			}
			t.Logf("refused: %v", err)
			if len(re.applies) != n {
				t.Fatalf("a refused write applied batches %+v", re.applies[n:])
			}
			if len(heard) != 0 {
				t.Fatalf("the observer heard %+v of a refused write", heard)
			}
			if d := before.diff(viewOf(t, s)); d != "" {
				t.Fatalf("a refused write changed the store: %s", d)
			}
			s, _ = reopen(t, f, s)
			if d := before.diff(viewOf(t, s)); d != "" {
				t.Fatalf("after a refused write and a restart: %s", d)
			}
		})
	}

	t.Run("entries beyond last index", func(t *testing.T) {
		// MemoryStorage panics; the store returns ErrUnavailable.
		s, _ := openStore(t, newFactory(t))
		setup(t, s)
		if _, err := s.Entries(5, 12, math.MaxUint64); errClass(err) != "ErrUnavailable" {
			t.Fatalf("Entries(5, 12) with last index 10: %v, want ErrUnavailable", err)
		}
		if _, err := s.Entries(12, 12, math.MaxUint64); errClass(err) != "ErrUnavailable" {
			t.Fatalf("Entries(12, 12) with last index 10: %v, want ErrUnavailable", err)
		}
	})

	t.Run("closed store", func(t *testing.T) {
		s, _ := openStore(t, newFactory(t))
		setup(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := s.LastIndex(); err != storage.ErrClosed {
			t.Fatalf("LastIndex on a closed store: %v, want ErrClosed", err)
		}
		if err := s.Append(ents(11, 11, 3)); err == nil {
			t.Fatal("Append on a closed store succeeded")
		}
		if _, err := s.Entries(3, 4, math.MaxUint64); err != storage.ErrClosed {
			t.Fatalf("Entries on a closed store: %v, want ErrClosed", err)
		}
		var _ raft.Storage = s
	})
}

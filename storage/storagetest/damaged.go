package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlab/raftlab/storage"
)

// testDamaged checks that storage.Open refuses a damaged store with a
// *storage.CorruptError whose text names the key, never panics, and never
// repairs: the engine holds the same keys after the failed Open.
func testDamaged(t *testing.T, newFactory func(t *testing.T) Factory) {
	// The healthy store: snapshot at 3, entries 3..8 (first index 3),
	// HardState {term 2, vote 1, commit 5}, applied 3.
	build := func(t *testing.T, f Factory) {
		t.Helper()
		s, _ := openStore(t, f)
		steps := []func() error{
			func() error { return s.Append(append(ents(1, 4, 1), ents(5, 8, 2)...)) },
			func() error { return s.SetHardState(hardState(2, 1, 5)) },
			func() error {
				_, err := s.CreateSnapshot(3, &pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("state at 3"))
				return err
			},
			func() error { return s.Compact(2) },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("build: %v", err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	entryBytes := func(i, term uint64) []byte {
		b, err := proto.Marshal(ent(i, term, fmt.Sprintf("data-%d-%d", i, term)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pair := func(a, b uint64) []byte {
		v := make([]byte, 16)
		for i := range 8 {
			v[7-i] = byte(a >> (8 * i))
			v[15-i] = byte(b >> (8 * i))
		}
		return v
	}
	u64 := func(a uint64) []byte { return pair(a, 0)[:8] }
	hsBytes := func(term, vote, commit uint64) []byte {
		b, err := proto.Marshal(hardState(term, vote, commit))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// garbage is neither a protobuf message nor a fixed-width integer: a
	// truncated varint.
	garbage := []byte{0xff, 0xff, 0xff}

	type damage struct {
		name string
		do   func(b *storage.Batch)
		// wantKey is the key the CorruptError names; wantText must also
		// appear in the message (the key that was damaged, when the error
		// is found on another one).
		wantKey, wantText string
	}
	var cases []damage
	for _, key := range []string{storage.KeyFirstIndex, storage.KeyLastIndex, storage.KeyHardState, storage.KeyConfState, storage.KeyUncommitIndex, storage.KeySnapshot} {
		cases = append(cases,
			damage{"missing " + key, func(b *storage.Batch) { b.Delete([]byte(key)) }, key, key},
			damage{"garbage in " + key, func(b *storage.Batch) { b.Put([]byte(key), garbage) }, key, key},
		)
	}
	cases = append(cases, []damage{
		{"entry missing in the middle", func(b *storage.Batch) { b.Delete(storage.EntryKey(5)) }, "/raft/entry/5", "missing"},
		{"entry missing at the end", func(b *storage.Batch) { b.Delete(storage.EntryKey(8)) }, "/raft/entry/8", "missing"},
		{"entry missing at first index", func(b *storage.Batch) { b.Delete(storage.EntryKey(3)) }, "/raft/entry/3", "missing"},
		{"extra entry beyond last index", func(b *storage.Batch) { b.Put(storage.EntryKey(9), entryBytes(9, 2)) }, "/raft/entry/9", storage.KeyLastIndex},
		{"last index below the entries", func(b *storage.Batch) {
			b.Put([]byte(storage.KeyLastIndex), u64(7))
			b.Put([]byte(storage.KeyUncommitIndex), pair(3, 7))
		}, "/raft/entry/8", storage.KeyLastIndex},
		{"last index beyond the entries", func(b *storage.Batch) {
			b.Put([]byte(storage.KeyLastIndex), u64(10))
			b.Put([]byte(storage.KeyUncommitIndex), pair(3, 10))
		}, "/raft/entry/9", storage.KeyLastIndex},
		{"last index disagreeing with uncommit index", func(b *storage.Batch) {
			b.Put([]byte(storage.KeyLastIndex), u64(7))
		}, storage.KeyUncommitIndex, storage.KeyLastIndex},
		{"entry key holding another index", func(b *storage.Batch) { b.Put(storage.EntryKey(6), entryBytes(7, 2)) }, "/raft/entry/6", "holds entry 7"},
		{"garbage in an entry", func(b *storage.Batch) { b.Put(storage.EntryKey(6), garbage) }, "/raft/entry/6", "undecodable"},
		{"entry with a term going down", func(b *storage.Batch) { b.Put(storage.EntryKey(7), entryBytes(7, 1)) }, "/raft/entry/7", "term"},
		{"commit beyond last index", func(b *storage.Batch) { b.Put([]byte(storage.KeyHardState), hsBytes(2, 1, 9)) }, storage.KeyHardState, "commit 9"},
		{"first index beyond the snapshot", func(b *storage.Batch) {
			b.Put([]byte(storage.KeyFirstIndex), pair(6, 2))
		}, storage.KeyFirstIndex, "snapshot"},
	}...)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFactory(t)
			build(t, f)

			e, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			var b storage.Batch
			c.do(&b)
			if err := e.Apply(&b, true); err != nil {
				t.Fatal(err)
			}
			before := rawDump(t, e)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}

			e, err = f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			var s *storage.Store
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("storage.Open panicked: %v", p)
					}
				}()
				s, err = storage.Open(e)
			}()
			if err == nil {
				s.Close()
				t.Fatal("storage.Open accepted a damaged store")
			}
			t.Logf("refused: %v", err)
			var ce *storage.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *storage.CorruptError", err, err)
			}
			if ce.Key != c.wantKey || !strings.Contains(err.Error(), c.wantKey) || !strings.Contains(err.Error(), c.wantText) {
				t.Fatalf("error %q names %s; want %s and %q in the text", err, ce.Key, c.wantKey, c.wantText)
			}
			if after := rawDump(t, e); !slices.Equal(before, after) {
				t.Fatalf("a failed Open changed the engine:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

// testEntriesBelowFirst checks that entry keys below the first index are
// not damage: a snapshot replacing a long log deletes the entries it covers
// after recording itself, and a crash in between leaves some. Open deletes
// them and keeps everything else.
func testEntriesBelowFirst(t *testing.T, f Factory) {
	s, _ := openStore(t, f)
	for _, err := range []error{
		s.Append(append(ents(1, 4, 1), ents(5, 8, 2)...)),
		s.SetHardState(hardState(2, 1, 5)),
		func() error {
			_, err := s.CreateSnapshot(3, &pb.ConfState{Voters: []uint64{1}}, nil)
			return err
		}(),
		s.Compact(2),
		s.Close(),
	} {
		if err != nil {
			t.Fatalf("build: %v", err)
		}
	}
	e, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	var b storage.Batch
	for i := uint64(1); i <= 2; i++ {
		v, err := proto.Marshal(ent(i, 1, "left behind"))
		if err != nil {
			t.Fatal(err)
		}
		b.Put(storage.EntryKey(i), v)
	}
	if err := e.Apply(&b, true); err != nil {
		t.Fatal(err)
	}
	s, err = storage.Open(e)
	if err != nil {
		t.Fatalf("Open with entries below the first index: %v", err)
	}
	defer s.Close()
	for i := uint64(1); i <= 2; i++ {
		if _, err := e.Get(storage.EntryKey(i)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("entry %d below the first index still there after Open: %v", i, err)
		}
	}
	first, _ := s.FirstIndex()
	got, err := s.Entries(first, 9, 1<<30)
	if first != 3 || err != nil || len(got) != 6 {
		t.Fatalf("after Open: first %d, %d entries, %v; want 3, 6", first, len(got), err)
	}
}

// rawDump lists every key and value of e.
func rawDump(t *testing.T, e storage.Engine) []string {
	t.Helper()
	var out []string
	if err := e.Scan(nil, nil, func(k, v []byte) error {
		out = append(out, fmt.Sprintf("%s=%x", storage.DisplayKey(k), v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

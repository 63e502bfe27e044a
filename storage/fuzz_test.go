package storage_test

import (
	"bytes"
	"errors"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/storage"
	"github.com/raftlab/raftlab/storage/memory"
)

// FuzzOpen: a store's values come from disk, where anything can happen to
// them. Open reads and checks every raft key; whatever one holds, Open
// returns a store or an error (a *CorruptError for a value that cannot be
// right), never panics, and a store it returns answers raft's calls
// without panicking.
func FuzzOpen(f *testing.F) {
	base := sampleStore(f)
	var keys [][]byte
	_ = base.Scan(nil, nil, func(k, _ []byte) error {
		keys = append(keys, bytes.Clone(k))
		return nil
	})
	for i, k := range keys {
		v, _ := base.Get(k)
		f.Add(uint8(i), false, v)
		if len(v) > 0 {
			f.Add(uint8(i), false, v[:len(v)-1])
			flipped := bytes.Clone(v)
			flipped[len(flipped)/2] ^= 0x01
			f.Add(uint8(i), false, flipped)
		}
		f.Add(uint8(i), true, []byte(nil))
	}
	f.Fuzz(func(t *testing.T, which uint8, del bool, value []byte) {
		e := memory.New()
		var b storage.Batch
		_ = base.Scan(nil, nil, func(k, v []byte) error {
			b.Put(bytes.Clone(k), bytes.Clone(v))
			return nil
		})
		k := keys[int(which)%len(keys)]
		if del {
			b.Delete(k)
		} else {
			b.Put(k, value)
		}
		if err := e.Apply(&b, true); err != nil {
			t.Fatal(err)
		}
		s, err := storage.Open(e)
		if err != nil {
			var ce *storage.CorruptError
			if !errors.As(err, &ce) && !bytes.HasPrefix(k, []byte("/kv/")) {
				t.Logf("%s: %v", storage.DisplayKey(k), err)
			}
			return
		}
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		for i := first - 1; i <= last+1; i++ {
			_, _ = s.Term(i)
		}
		if last >= first {
			_, _ = s.Entries(first, last+1, 1<<20)
		}
		_, _ = s.Snapshot()
		_, _, _ = s.InitialState()
		_ = s.Dump(true, func(storage.KeyChange) {})
	})
}

// sampleStore returns an engine holding a small raft log: a snapshot, a few
// entries, a HardState and a state machine key.
func sampleStore(tb testing.TB) *memory.Engine {
	e := memory.New()
	s, err := storage.Open(e)
	if err != nil {
		tb.Fatal(err)
	}
	snap := &pb.Snapshot{Data: []byte{1, 0}, Metadata: &pb.SnapshotMetadata{Index: new(uint64(2)), Term: new(uint64(1)),
		ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}}
	var ents []*pb.Entry
	for i := uint64(3); i <= 6; i++ {
		ents = append(ents, &pb.Entry{Index: new(i), Term: new(uint64(2)), Data: []byte("entry")})
	}
	hs := &pb.HardState{Term: new(uint64(2)), Vote: new(uint64(1)), Commit: new(uint64(5))}
	if err := s.Save(hs, ents, snap, true); err != nil {
		tb.Fatal(err)
	}
	var b storage.Batch
	b.Put(storage.KVKey("k"), []byte("v"))
	if err := s.SaveApplied(&b, 4, nil); err != nil {
		tb.Fatal(err)
	}
	return e
}

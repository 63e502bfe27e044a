package storagetest

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// testTail checks the entries a store serves from memory, right after it
// wrote them (storage/tail.go), against what it wrote, at the edges of what
// it keeps there: more entries than it keeps, entries larger than its byte
// bound, a size limit across the edge, an overwritten suffix, a batch the
// engine refused, a compaction, a snapshot, a restart.
func testTail(t *testing.T, f Factory) {
	s, re := openStore(t, f)
	log := []*pb.Entry{nil} // log[i] is the entry at index i
	add := func(es []*pb.Entry) {
		t.Helper()
		if err := s.Append(es); err != nil {
			t.Fatalf("Append(%s): %v", describeEntries(es[:1]), err)
		}
		log = append(log[:es[0].GetIndex()], es...)
	}
	want := func(lo, hi, maxSize uint64) {
		t.Helper()
		got, err := s.Entries(lo, hi, maxSize)
		if err != nil {
			t.Fatalf("Entries(%d, %d, %d): %v", lo, hi, maxSize, err)
		}
		// The first entry always, then as many as fit maxSize.
		var w []*pb.Entry
		var size uint64
		for _, e := range log[lo:hi] {
			size += uint64(proto.Size(e))
			if len(w) > 0 && size > maxSize {
				break
			}
			w = append(w, e)
		}
		if !sameEntries(got, w) {
			t.Fatalf("Entries(%d, %d, %d) = %s; want %s", lo, hi, maxSize, describeEntries(got), describeEntries(w))
		}
	}

	// One batch of more entries than the tail keeps, read back across it.
	add(ents(1, 1500, 1))
	for _, r := range [][2]uint64{{1, 1501}, {400, 600}, {1000, 1100}, {1490, 1501}} {
		want(r[0], r[1], math.MaxUint64)
	}
	// Then up to three thousand, a hundred to a batch.
	for lo := uint64(1501); lo <= 3000; lo += 100 {
		add(ents(lo, lo+99, 1))
	}
	for _, r := range [][2]uint64{{1, 3001}, {1, 2}, {1500, 2500}, {1970, 1985}, {2500, 3001}, {3000, 3001}} {
		want(r[0], r[1], math.MaxUint64)
	}
	// What a member reads right after writing it (the entries of its last
	// few Readies) does not go to the engine.
	re.scans = 0
	want(2901, 3001, math.MaxUint64)
	want(3000, 3001, math.MaxUint64)
	if re.scans != 0 {
		t.Fatalf("reading the newest 100 entries scanned the engine %d times, want 0", re.scans)
	}
	// A size limit cuts the same wherever the entries are read from.
	one := uint64(proto.Size(log[2000]))
	for lo := uint64(1900); lo <= 3000; lo += 37 {
		want(lo, min(lo+50, 3001), 5*one+1)
		want(lo, min(lo+50, 3001), 0)
	}

	// An overwritten suffix reads back new, below it old.
	add(ents(2950, 2960, 2))
	want(2900, 2961, math.MaxUint64)
	if _, err := s.Entries(2950, 2962, math.MaxUint64); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("Entries past the truncated last index: %v, want ErrUnavailable", err)
	}

	// A batch the engine refuses changes nothing that is read.
	re.refuse = true
	if err := s.Append(ents(2955, 2970, 3)); err == nil {
		t.Fatal("Append with the engine refusing: no error")
	}
	if err := s.Append(ents(2961, 2965, 2)); err == nil {
		t.Fatal("Append with the engine refusing: no error")
	}
	re.refuse = false
	want(2900, 2961, math.MaxUint64)
	add(ents(2961, 2965, 2))
	want(2940, 2966, math.MaxUint64)

	// Entries larger than the tail's byte bound, one to a batch.
	big := func(i uint64) *pb.Entry { return ent(i, 2, string(bytes.Repeat([]byte{byte('a' + i%26)}, 400<<10))) }
	for i := uint64(2966); i <= 2970; i++ {
		add([]*pb.Entry{big(i)})
		want(i-3, i+1, math.MaxUint64)
		want(2960, i+1, 2*uint64(proto.Size(big(i)))) // cut at the first big one
	}
	add(ents(2971, 2980, 2))
	want(2960, 2981, math.MaxUint64)

	// A compaction: below it is gone, above it reads as before.
	if err := s.SetHardState(hardState(2, 1, 2975)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSnapshot(2974, &pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("state at 2974")); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(2972); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Entries(2972, 2975, math.MaxUint64); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Entries below the first index after Compact: %v, want ErrCompacted", err)
	}
	want(2973, 2981, math.MaxUint64)

	// After a restart every entry comes from the engine; then new ones are kept again.
	s, _ = reopen(t, f, s)
	want(2973, 2981, math.MaxUint64)
	add(ents(2981, 2990, 2))
	want(2973, 2991, math.MaxUint64)

	// A snapshot replaces the log; appends after it read back.
	if err := s.ApplySnapshot(snapshot(3000, 2, []uint64{1, 2, 3}, "state")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Entries(2985, 2990, math.MaxUint64); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Entries below a snapshot: %v, want ErrCompacted", err)
	}
	for len(log) <= 3000 {
		log = append(log, nil)
	}
	add(ents(3001, 3010, 3))
	want(3001, 3011, math.MaxUint64)
}

package storage

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// The tail's bounds and bookkeeping; what it serves is checked against the
// engines by storagetest's Tail.
func TestEntryTailBounds(t *testing.T) {
	e := func(i uint64) *pb.Entry { return &pb.Entry{Index: new(i), Term: new(uint64(1))} }
	check := func(tl entryTail, last uint64) {
		t.Helper()
		sum := 0
		for _, s := range tl.sizes {
			sum += s
		}
		switch {
		case len(tl.ents) != len(tl.sizes) || tl.bytes != sum:
			t.Fatalf("%d entries, %d sizes, bytes %d, sum of sizes %d", len(tl.ents), len(tl.sizes), tl.bytes, sum)
		case len(tl.ents) > tailMaxEntries || tl.bytes > tailMaxBytes:
			t.Fatalf("%d entries of %d bytes kept, bounds %d and %d", len(tl.ents), tl.bytes, tailMaxEntries, tailMaxBytes)
		case len(tl.ents) > 0 && (tl.first+uint64(len(tl.ents))-1 != last || tl.ents[0].GetIndex() != tl.first):
			t.Fatalf("tail from %d (entry %d), %d entries, want it to end at %d", tl.first, tl.ents[0].GetIndex(), len(tl.ents), last)
		}
	}

	// Small entries: bounded by count.
	tl := entryTail{}.below(1)
	for i := uint64(1); i <= 3*tailMaxEntries; i++ {
		tl.push(e(i), 100)
		check(tl, i)
	}
	if len(tl.ents) != tailMaxEntries {
		t.Fatalf("%d small entries kept, want %d", len(tl.ents), tailMaxEntries)
	}
	// Large ones: bounded by bytes; one larger than the bound is not kept.
	for i := uint64(3*tailMaxEntries + 1); i <= 3*tailMaxEntries+10; i++ {
		tl.push(e(i), tailMaxBytes/3)
		check(tl, i)
	}
	if len(tl.ents) != 3 {
		t.Fatalf("%d entries of a third of the bound kept, want 3", len(tl.ents))
	}
	last := uint64(3*tailMaxEntries + 11)
	tl.push(e(last), tailMaxBytes+1)
	check(tl, last)
	if len(tl.ents) != 0 {
		t.Fatalf("an entry larger than the bound kept %d entries", len(tl.ents))
	}

	// below copies when it drops entries: the tail it came from is intact.
	tl = entryTail{}.below(1)
	for i := uint64(1); i <= 10; i++ {
		tl.push(e(i), 10)
	}
	cut := tl.below(6)
	cut.push(e(6), 20)
	check(cut, 6)
	check(tl, 10)
	if tl.sizes[5] != 10 || tl.ents[5] == cut.ents[5] {
		t.Fatal("below(6) then push wrote into the tail it came from")
	}
	// from drops what a compaction removed.
	for _, c := range []struct{ from, first, n uint64 }{{1, 1, 10}, {4, 4, 7}, {10, 10, 1}, {11, 11, 0}, {50, 11, 0}} {
		f := tl.from(c.from)
		if len(f.ents) > 0 {
			check(f, 10)
		}
		if uint64(len(f.ents)) != c.n || (c.n > 0 && f.first != c.first) {
			t.Fatalf("from(%d): first %d, %d entries; want %d, %d", c.from, f.first, len(f.ents), c.first, c.n)
		}
	}
}

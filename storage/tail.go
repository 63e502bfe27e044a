package storage

import (
	"slices"

	pb "go.etcd.io/raft/v3/raftpb"
)

// entryTail holds the newest entries this process stored, ents[i] at index
// first+i, each with the size of its stored value. Raft reads entries back
// right after it wrote them: the committed ones to apply them (on every
// member, on every Ready), and the ones a follower still needs. Serving
// those from memory spares an engine scan each, as raft.MemoryStorage does:
// with Badger 2.4-7 µs for one entry and 8-22 µs for twelve, more as it holds
// more tables (a new iterator over the memtables and every level), against
// 26 and 50 ns from here (BenchmarkEntries in storage/badger).
//
// The tail is empty after Open and holds at most tailMaxEntries entries and
// tailMaxBytes of stored values; older entries are read from the engine. It
// is part of the store's state, replaced only once a batch was applied, so it
// never holds what the engine does not. Like state.terms, states share its
// arrays: nothing is ever written below a state's length (below copies
// instead).
type entryTail struct {
	first uint64
	ents  []*pb.Entry
	sizes []int
	bytes int
}

const (
	tailMaxEntries = 1024
	tailMaxBytes   = 1 << 20
)

// below returns the tail cut to the entries before lo, for appends from lo.
func (t entryTail) below(lo uint64) entryTail {
	if len(t.ents) == 0 || lo < t.first || lo > t.first+uint64(len(t.ents)) {
		return entryTail{first: lo}
	}
	n := int(lo - t.first)
	if n == len(t.ents) {
		return t
	}
	// Entries at lo and after are being replaced: copy, so that the tail of
	// the current state stays intact if this batch fails.
	out := entryTail{first: t.first, ents: slices.Clone(t.ents[:n]), sizes: slices.Clone(t.sizes[:n])}
	for _, s := range out.sizes {
		out.bytes += s
	}
	return out
}

// push adds e, the entry at the next index, whose stored value has size
// bytes, and lets the oldest entries go past the bounds.
func (t *entryTail) push(e *pb.Entry, size int) {
	t.ents = append(t.ents, e)
	t.sizes = append(t.sizes, size)
	t.bytes += size
	for len(t.ents) > 0 && (len(t.ents) > tailMaxEntries || t.bytes > tailMaxBytes) {
		t.bytes -= t.sizes[0]
		t.ents, t.sizes = t.ents[1:], t.sizes[1:]
		t.first++
	}
}

// from returns the tail without the entries before i (a compaction).
func (t entryTail) from(i uint64) entryTail {
	if len(t.ents) == 0 || i <= t.first {
		return t
	}
	n := int(min(i-t.first, uint64(len(t.ents))))
	out := entryTail{first: t.first + uint64(n), ents: t.ents[n:], sizes: t.sizes[n:], bytes: t.bytes}
	for _, s := range t.sizes[:n] {
		out.bytes -= s
	}
	return out
}

// slice returns the entries [lo, hi) cut to maxSize as Store.Entries cuts
// what it reads (the first entry always, then as long as the stored sizes
// stay within maxSize), and whether the tail holds them all. The slice is
// the caller's, as one read from the engine is; the entries are shared, and
// raft never changes an entry once made.
func (t entryTail) slice(lo, hi, maxSize uint64) ([]*pb.Entry, bool) {
	if lo < t.first || hi > t.first+uint64(len(t.ents)) || lo >= hi {
		return nil, false
	}
	from := int(lo - t.first)
	n := 0
	var size uint64
	for i := from; i < int(hi-t.first); i++ {
		size += uint64(t.sizes[i])
		if n > 0 && size > maxSize {
			break
		}
		n++
	}
	return slices.Clone(t.ents[from : from+n]), true
}

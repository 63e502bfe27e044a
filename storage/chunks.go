package storage

import (
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// An engine bounds what one batch holds (Badger: 15% of its memtable, and
// one key per 96 bytes of that: 6553 keys with Raftlab's 4 MiB memtable,
// 1638 with the smallest), so whatever the store writes in bulk goes in
// chunks: a compaction, the entries a snapshot replaced, a restore, an
// append too long for one batch, a long apply (core). Each chunk is a state
// a member can restart from.

// MaxChunkOps bounds the writes of a bulk batch: 1024 keys fit an engine
// batch of Badger with its smallest memtable, and a batch costs little next
// to a thousand writes.
const MaxChunkOps = 1024

// ChunkOpsSlack is how many writes a bulk batch may hold beyond
// MaxChunkOps: a chunk is cut before the write that passes the bound, and
// the batch that ends it also carries the raft keys that change with it
// (the last and uncommitted indexes, the HardState, the ConfState, a
// member's address).
const ChunkOpsSlack = 64

// DefaultChunkBytes bounds the bytes of a bulk batch, all but its last
// value, for an engine that does not say what it holds (a ChunkSizer says).
const DefaultChunkBytes = 64 << 10

// A ChunkSizer is an engine whose batches are bounded in bytes, and says by
// how much: ChunkBytes is how many bytes of keys and values a batch of at
// most MaxChunkOps+ChunkOpsSlack writes may hold, beside one more value of
// any size the engine accepts, and still fit one Apply.
type ChunkSizer interface {
	ChunkBytes() int
}

// ChunkBytes returns the bytes of keys and values a bulk batch of e holds,
// all but its last value: what e says (ChunkSizer), or DefaultChunkBytes.
// Badger's chunks are four times larger than the default with its 4 MiB
// memtable, so that a Ready of large values goes in one batch, not six
// (docs/performance-log.md item 24).
func ChunkBytes(e Engine) int {
	if c, ok := e.(ChunkSizer); ok {
		return max(c.ChunkBytes(), 0)
	}
	return DefaultChunkBytes
}

// ChunkBytes returns the bytes of keys and values a bulk batch of the
// store's engine holds, all but its last value (the package's ChunkBytes).
func (s *Store) ChunkBytes() int { return s.chunkBytes }

// entryKeyBytes is the length of an entry's key (EntryKey), which a chunk of
// entries counts beside each entry.
const entryKeyBytes = len(KeyEntryPrefix) + 8

// fitsOneBatch says whether appending entries, whose checks passed
// (appendable), fits one batch beside what t holds already.
func (t *txn) fitsOneBatch(entries []*pb.Entry) bool {
	if len(entries) == 0 {
		return true
	}
	ops := uint64(t.b.Len() + len(entries))
	if newLast := entries[len(entries)-1].GetIndex(); newLast < t.st.last {
		ops += t.st.last - newLast // the conflicting suffix goes too
	}
	if ops > MaxChunkOps {
		return false
	}
	if len(entries) == 1 && t.b.Len() == 0 {
		// One entry goes alone whatever its size; beside a snapshot
		// (which may be as large as an engine keeps inline) it must fit
		// a chunk, like any other.
		return true
	}
	size := 0
	for _, e := range entries {
		if size += entryKeyBytes + proto.Size(e); size > t.s.chunkBytes {
			return false
		}
	}
	return true
}

// appendInBatches appends entries that one batch cannot hold, in several,
// each leaving a log that Open accepts and raft may restart from (§5.3: a
// follower's log may lose uncommitted entries, never have a gap or one out
// of order). First the log is cut back to the first new index, newest
// entries first, so that what stays is always a prefix of the old log; then
// the new entries go, oldest first, MaxChunkOps or ChunkBytes at a time.
// Every batch but the last is committed unsynced: the last one syncs them
// all. It returns the txn holding the last batch, for the caller to add the
// HardState to and commit. Until then the HardState on disk is the old one,
// whose commit index is below the first new entry (appendable refuses to
// overwrite committed entries), so a crash in between leaves a log that only
// lacks what raft had not acknowledged.
//
// A write the store refuses (a HardState going back, or committing past the
// new last index) is refused before the first batch, so that it still
// changes nothing. Whatever t holds already (a snapshot) is committed first,
// alone.
func (s *Store) appendInBatches(t *txn, entries []*pb.Entry, hs *pb.HardState) (*txn, error) {
	final := t.st
	final.last = entries[len(entries)-1].GetIndex()
	if hs != nil {
		if err := final.hardStateFollows(hs); err != nil {
			return nil, err
		}
		final.hs = hs
	}
	if err := final.refusal(); err != nil {
		return nil, err
	}
	if t.b.Len() > 0 || t.dirty != 0 {
		if err := t.commit(false); err != nil {
			return nil, err
		}
		t = s.begin()
	}
	lo := entries[0].GetIndex()
	for t.st.last >= lo {
		from := lo
		if t.st.last-lo >= MaxChunkOps {
			from = t.st.last - MaxChunkOps + 1
		}
		t.truncate(from)
		if err := t.commit(false); err != nil {
			return nil, err
		}
		t = s.begin()
	}
	for {
		n, size := 0, 0
		for n < len(entries) && n < MaxChunkOps {
			size += entryKeyBytes + proto.Size(entries[n])
			if n > 0 && size > s.chunkBytes {
				break
			}
			n++
		}
		if err := t.append(entries[:n]); err != nil {
			return nil, err
		}
		if entries = entries[n:]; len(entries) == 0 {
			if hs != nil {
				return t, t.setHardState(hs)
			}
			return t, nil
		}
		if err := t.commit(false); err != nil {
			return nil, err
		}
		t = s.begin()
	}
}

// truncate deletes the stored entries [from, last]; from is above the commit
// index and at or above the first index.
func (t *txn) truncate(from uint64) {
	t.deleteEntries(from, t.st.last)
	t.st.terms = t.st.terms[:from-t.st.first]
	t.st.tail = t.st.tail.below(from)
	t.st.last = from - 1
	t.dirty |= dirtyLast | dirtyUncommit
}

// appendAll adds entries to t and then hs, unless it is nil or empty, in
// several batches when one cannot hold the entries (appendInBatches); it
// returns the txn to commit last.
func (s *Store) appendAll(t *txn, entries []*pb.Entry, hs *pb.HardState) (*txn, error) {
	if raft.IsEmptyHardState(hs) {
		hs = nil
	}
	entries, err := t.appendable(entries)
	if err != nil {
		return nil, err
	}
	if !t.fitsOneBatch(entries) {
		return s.appendInBatches(t, entries, hs)
	}
	if err := t.append(entries); err != nil {
		return nil, err
	}
	if hs != nil {
		return t, t.setHardState(hs)
	}
	return t, nil
}

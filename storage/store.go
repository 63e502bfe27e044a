package storage

import (
	"bytes"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Store is the raft log of one member over an Engine, under the keys of
// keys.go. It implements raft.Storage, the write methods of
// raft.MemoryStorage with the same signatures, and Save, the one atomic
// write per Ready.
//
// A Store is owned by one goroutine (the one that drives the raft member):
// its methods must not be called concurrently.
type Store struct {
	e Engine
	// chunkBytes is what a bulk batch of e holds (ChunkBytes).
	chunkBytes int

	// The cached state. Invariant: it equals what the engine holds, because
	// it is only replaced after a batch was applied.
	st state

	observer  Observer
	describer EntryDescriber
	restorer  Restorer
	closed    bool
}

// state is the part of the store kept in memory; every field mirrors a key.
type state struct {
	first    uint64 // /raft/first_index
	prevTerm uint64 // term of first-1, in /raft/first_index
	last     uint64 // /raft/last_index; last >= first-1
	applied  uint64 // start of /raft/uncommit_index; first-1 <= ... <= commit
	hs       *pb.HardState
	cs       *pb.ConfState
	snap     *pb.SnapshotMetadata // metadata of /raft/snapshot
	// terms holds the term of every stored entry, terms[i-first] for
	// index i: raft asks for terms all the time (matching appends,
	// answering probes) and they need not cost an engine read. Shared
	// between states: never written below its length (see txn.append).
	terms []uint64
	// tail holds the newest entries written by this process (tail.go).
	tail entryTail
	// below counts entry keys left below first by a snapshot that
	// replaced a long log, still to delete (Store.dropBelow).
	below uint64
}

// Restorer replaces the state machine with the snapshot data: it hands
// apply the writes to make, in batches of at most the engine's ChunkBytes
// (all but the last value) and MaxChunkOps writes each, so that a state
// machine larger than an engine's batch still restores. The store records
// the snapshot first, with the applied index still behind it: until the
// restore ends the member knows it is incomplete, and a member that crashed
// in the middle restores again from the snapshot when it opens
// (FinishRestore).
type Restorer func(data []byte, apply func(*Batch) error) error

var _ raft.Storage = (*Store)(nil)

// ErrClosed is returned by every method of a closed Store.
var ErrClosed = errors.New("storage: store is closed")

// Open returns the Store kept in e. An engine with no raft key is a new
// member: Open writes the initial keys (an empty log) in one synced batch.
// An engine with some keys must hold a consistent log; otherwise Open fails
// with a *CorruptError naming the key, and never repairs or truncates.
func Open(e Engine) (*Store, error) {
	s := &Store{e: e, chunkBytes: ChunkBytes(e)}
	st, err := load(e)
	if errors.Is(err, errFresh) {
		st = state{first: 1, hs: &pb.HardState{}, cs: &pb.ConfState{}, snap: pb.EnsureSnapshotMetadata(nil)}
		t := s.begin()
		t.st = st
		t.dirty = dirtyAll
		t.put(keySnapshot, marshal(pb.EnsureSnapshot(nil)), SnapshotValue{ConfState: ConfStateValue{Voters: []uint64{}}})
		if err := t.commit(true); err != nil {
			return nil, err
		}
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	s.st = st
	if err := s.dropBelow(); err != nil {
		return nil, err
	}
	return s, nil
}

// SetObserver makes o receive every key change from now on; nil stops it.
func (s *Store) SetObserver(o Observer) { s.observer = o }

// SetDescriber sets how observed entries describe their data.
func (s *Store) SetDescriber(d EntryDescriber) { s.describer = d }

// SetRestorer sets how a snapshot's data replaces the state machine. Without
// one, a snapshot only replaces the log (as raft.MemoryStorage does).
func (s *Store) SetRestorer(r Restorer) { s.restorer = r }

// RestorePending reports whether a snapshot was recorded but the state
// machine not yet restored from it (the member crashed during the restore).
func (s *Store) RestorePending() bool {
	return s.st.applied < s.st.snap.GetIndex()
}

// FinishRestore completes a restore that a crash interrupted, from the
// stored snapshot; it does nothing when none is pending. A member must call
// it before it starts raft: the state machine is behind the log until then.
func (s *Store) FinishRestore() error {
	if !s.RestorePending() {
		return nil
	}
	if s.restorer == nil {
		return errors.New("storage: a snapshot restore is pending and no restorer is set")
	}
	snap, err := s.Snapshot()
	if err != nil {
		return err
	}
	return s.restore(snap)
}

// restore writes the state machine of snap in chunks, then the applied
// index, which ends the restore.
func (s *Store) restore(snap *pb.Snapshot) error {
	idx := snap.GetMetadata().GetIndex()
	err := s.restorer(snap.GetData(), func(b *Batch) error {
		t := s.begin()
		t.stateMachine(b)
		return t.commit(false)
	})
	if err != nil {
		return fmt.Errorf("storage: restore snapshot %d: %w", idx, err)
	}
	t := s.begin()
	t.st.applied = idx
	t.dirty |= dirtyUncommit
	return t.commit(false)
}

// Engine returns the engine, for the state machine's reads.
func (s *Store) Engine() Engine { return s.e }

// Close closes the engine.
func (s *Store) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.e.Close()
}

// InitialState implements raft.Storage: the HardState and the ConfState as
// of the applied index.
func (s *Store) InitialState() (*pb.HardState, *pb.ConfState, error) {
	if s.closed {
		return nil, nil, ErrClosed
	}
	return proto.Clone(s.st.hs).(*pb.HardState), proto.Clone(s.st.cs).(*pb.ConfState), nil
}

// Applied returns the index of the last entry applied to the state machine,
// the start of /raft/uncommit_index: on restart, raft's Config.Applied.
func (s *Store) Applied() uint64 { return s.st.applied }

// HardState returns the stored HardState. The caller must not modify it.
func (s *Store) HardState() *pb.HardState { return s.st.hs }

// ConfState returns the stored ConfState. The caller must not modify it.
func (s *Store) ConfState() *pb.ConfState { return s.st.cs }

// SnapshotMetadata returns the metadata of the latest snapshot. The caller
// must not modify it.
func (s *Store) SnapshotMetadata() *pb.SnapshotMetadata { return s.st.snap }

// FirstIndex implements raft.Storage.
func (s *Store) FirstIndex() (uint64, error) {
	if s.closed {
		return 0, ErrClosed
	}
	return s.st.first, nil
}

// LastIndex implements raft.Storage.
func (s *Store) LastIndex() (uint64, error) {
	if s.closed {
		return 0, ErrClosed
	}
	return s.st.last, nil
}

// Term implements raft.Storage. The term of FirstIndex-1 is kept after
// compaction for raft's log-matching check.
func (s *Store) Term(i uint64) (uint64, error) {
	if s.closed {
		return 0, ErrClosed
	}
	switch {
	case i < s.st.first-1:
		return 0, raft.ErrCompacted
	case i > s.st.last:
		return 0, raft.ErrUnavailable
	case i == s.st.first-1:
		return s.st.prevTerm, nil
	}
	return s.st.terms[i-s.st.first], nil
}

// Entries implements raft.Storage: the entries [lo, hi), at most maxSize
// bytes of them but at least one.
func (s *Store) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if lo < s.st.first {
		return nil, raft.ErrCompacted
	}
	if hi > s.st.last+1 {
		return nil, fmt.Errorf("storage: entries [%d, %d) beyond last index %d: %w", lo, hi, s.st.last, raft.ErrUnavailable)
	}
	if s.st.last < s.st.first {
		return nil, raft.ErrUnavailable
	}
	if lo >= hi {
		return nil, nil
	}
	if ents, ok := s.st.tail.slice(lo, hi, maxSize); ok {
		return ents, nil
	}
	ents := make([]*pb.Entry, 0, min(hi-lo, 64))
	var size uint64
	want := lo
	errFull := errors.New("full")
	err := s.e.Scan(EntryKey(lo), EntryKey(hi), func(k, v []byte) error {
		idx, _ := entryKeyIndex(k)
		if idx != want {
			return &CorruptError{Key: DisplayKey(EntryKey(want)), Reason: "missing"}
		}
		size += uint64(len(v))
		if len(ents) > 0 && size > maxSize {
			return errFull
		}
		e := &pb.Entry{}
		if err := unmarshal(DisplayKey(k), v, e); err != nil {
			return err
		}
		ents = append(ents, e)
		want++
		return nil
	})
	if err != nil && err != errFull {
		return nil, err
	}
	if err == nil && want != hi {
		return nil, &CorruptError{Key: DisplayKey(EntryKey(want)), Reason: "missing"}
	}
	return ents, nil
}

// Snapshot implements raft.Storage: the latest snapshot with its data.
func (s *Store) Snapshot() (*pb.Snapshot, error) {
	if s.closed {
		return nil, ErrClosed
	}
	v, err := s.e.Get(keySnapshot)
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", KeySnapshot, err)
	}
	snap := &pb.Snapshot{}
	if err := unmarshal(KeySnapshot, v, snap); err != nil {
		return nil, err
	}
	return pb.EnsureSnapshot(snap), nil
}

func (s *Store) entry(i uint64) (*pb.Entry, error) {
	key := EntryKey(i)
	v, err := s.e.Get(key)
	if errors.Is(err, ErrNotFound) {
		return nil, &CorruptError{Key: DisplayKey(key), Reason: "missing"}
	}
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", DisplayKey(key), err)
	}
	e := &pb.Entry{}
	if err := unmarshal(DisplayKey(key), v, e); err != nil {
		return nil, err
	}
	return e, nil
}

// Append writes entries (raft.MemoryStorage.Append): entries below
// FirstIndex are ignored, and every stored entry at or after the first new
// one is replaced, so LastIndex can go down (§5.3). It does not sync. Like
// Save, it takes more batches than one when one cannot hold the entries.
func (s *Store) Append(entries []*pb.Entry) error {
	t, err := s.appendAll(s.begin(), entries, nil)
	if err != nil {
		return err
	}
	return t.commit(false)
}

// SetHardState writes st (raft.MemoryStorage.SetHardState). It syncs.
func (s *Store) SetHardState(st *pb.HardState) error {
	t := s.begin()
	if err := t.setHardState(st); err != nil {
		return err
	}
	return t.commit(true)
}

// ApplySnapshot replaces the log with snap (raft.MemoryStorage.ApplySnapshot),
// and the state machine with its data when a Restorer is set. It syncs.
func (s *Store) ApplySnapshot(snap *pb.Snapshot) error {
	t := s.begin()
	if err := t.applySnapshot(snap); err != nil {
		return err
	}
	if err := t.commit(true); err != nil {
		return err
	}
	if err := s.dropBelow(); err != nil {
		return err
	}
	if s.RestorePending() {
		return s.restore(snap)
	}
	return nil
}

// CreateSnapshot records a snapshot of the state machine as of index i,
// whose data the caller took at i (raft.MemoryStorage.CreateSnapshot). cs is
// the ConfState as of i; nil keeps the previous snapshot's. It syncs.
func (s *Store) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error) {
	t := s.begin()
	snap, err := t.createSnapshot(i, cs, data)
	if err != nil {
		return nil, err
	}
	if err := t.commit(true); err != nil {
		return nil, err
	}
	return snap, nil
}

// Compact discards the entries up to and including compactIndex
// (raft.MemoryStorage.Compact). Unlike MemoryStorage it refuses to compact
// past the latest snapshot: those entries would be in no snapshot, and a
// follower that needs them could never catch up. It does not sync.
//
// It deletes at most MaxChunkOps entries per batch, lowest first: an engine
// bounds its batches (Badger's is 15% of its memtable), and a log of 30000
// entries behind a snapshot must still go. Each batch is a whole
// compaction to a lower index, so a crash between two leaves a valid log.
func (s *Store) Compact(compactIndex uint64) error {
	if s.closed {
		return ErrClosed
	}
	// The whole request is checked first: a refused one deletes nothing.
	if err := s.st.compactable(compactIndex); err != nil {
		return err
	}
	for {
		to := compactIndex
		if to-s.st.first >= MaxChunkOps {
			to = s.st.first + MaxChunkOps - 1
		}
		t := s.begin()
		if err := t.compact(to); err != nil {
			return err
		}
		if err := t.commit(false); err != nil {
			return err
		}
		if to == compactIndex {
			return nil
		}
	}
}

// dropBelow deletes the entry keys below the first index that a snapshot
// replacing a long log left (txn.applySnapshot), MaxChunkOps per batch. The
// snapshot covers them: deleting them is tidying, and a crash half way
// leaves the rest for the next Open.
func (s *Store) dropBelow() error {
	if s.st.below == 0 {
		return nil
	}
	var keys [][]byte
	err := s.e.Scan(keyEntryPrefix, EntryKey(s.st.first), func(k, _ []byte) error {
		keys = append(keys, bytes.Clone(k))
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: scan the entries below %d: %w", s.st.first, err)
	}
	for len(keys) > 0 {
		n := min(len(keys), MaxChunkOps)
		t := s.begin()
		for _, k := range keys[:n] {
			t.del(k)
		}
		t.st.below = uint64(len(keys) - n)
		if err := t.commit(false); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// Save writes what one Ready asks to persist in one atomic batch, in raft's
// order: the snapshot, the entries (truncating a conflicting suffix), the
// HardState. It syncs when mustSync is true or a snapshot is present
// (Ready.MustSync ignores snapshots). Entries too many for one batch (a
// follower catching up on small entries) go in several, the HardState with
// the last (appendInBatches).
func (s *Store) Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot, mustSync bool) error {
	t := s.begin()
	if !raft.IsEmptySnap(snap) {
		if err := t.applySnapshot(snap); err != nil {
			return err
		}
		mustSync = true
	}
	t, err := s.appendAll(t, entries, hs)
	if err != nil {
		return err
	}
	if err := t.commit(mustSync); err != nil {
		return err
	}
	if err := s.dropBelow(); err != nil {
		return err
	}
	if !raft.IsEmptySnap(snap) && s.RestorePending() {
		return s.restore(snap)
	}
	return nil
}

// SaveApplied records that the state machine applied every entry up to
// applied, in one batch with b (the state machine's own writes) and, when cs
// is not nil, the ConfState that a conf change produced. It does not sync:
// after a crash raft re-delivers what was lost, from the applied index that
// survived with it.
func (s *Store) SaveApplied(b *Batch, applied uint64, cs *pb.ConfState) error {
	return s.SaveCommitApplied(nil, b, applied, cs)
}

// SaveCommitApplied is SaveApplied with a HardState written first in the
// same batch, when it is not nil: for a Ready that only moves the commit
// index (Ready.MustSync false, no entries, no snapshot) and applies, one
// engine write instead of two. Not synced either: raft asks no sync for such
// a HardState.
func (s *Store) SaveCommitApplied(hs *pb.HardState, b *Batch, applied uint64, cs *pb.ConfState) error {
	t := s.begin()
	if !raft.IsEmptyHardState(hs) {
		if err := t.setHardState(hs); err != nil {
			return err
		}
	}
	if applied < t.st.applied {
		return fmt.Errorf("storage: applied index going back from %d to %d", t.st.applied, applied)
	}
	if applied > t.st.hs.GetCommit() {
		return fmt.Errorf("storage: applied index %d beyond commit %d", applied, t.st.hs.GetCommit())
	}
	if b != nil {
		t.stateMachine(b)
	}
	t.st.applied = applied
	t.dirty |= dirtyUncommit
	if cs != nil {
		t.st.cs = cs
		t.dirty |= dirtyConfState
	}
	return t.commit(false)
}

// Dump reports the current value of every raft key (each entry included) and,
// when withKV is true, of the state machine's keys (members, then the
// key-value map), as Synced changes. The UI
// uses it to fill its storage panel when a member starts.
func (s *Store) Dump(withKV bool, fn func(KeyChange)) error {
	if s.closed {
		return ErrClosed
	}
	snap, err := s.Snapshot()
	if err != nil {
		return err
	}
	for _, c := range []struct {
		key string
		v   any
	}{
		{KeyFirstIndex, FirstIndexValue{Index: s.st.first, PrevTerm: s.st.prevTerm}},
		{KeyLastIndex, LastIndexValue{Index: s.st.last}},
		{KeyHardState, DescribeHardState(s.st.hs)},
		{KeyConfState, DescribeConfState(s.st.cs)},
		{KeyUncommitIndex, UncommitValue{Applied: s.st.applied, Last: s.st.last}},
		{KeySnapshot, DescribeSnapshot(snap)},
	} {
		fn(KeyChange{Key: c.key, Value: c.v, Synced: true})
	}
	err = s.e.Scan(keyEntryPrefix, prefixEnd(keyEntryPrefix), func(k, v []byte) error {
		e := &pb.Entry{}
		if err := unmarshal(DisplayKey(k), v, e); err != nil {
			return err
		}
		fn(KeyChange{Key: DisplayKey(k), Value: DescribeEntry(e, s.describer), Synced: true})
		return nil
	})
	if err != nil || !withKV {
		return err
	}
	for _, p := range [][]byte{[]byte(MembersPrefix), []byte(KVPrefix)} {
		err := s.e.Scan(p, prefixEnd(p), func(k, v []byte) error {
			fn(KeyChange{Key: DisplayKey(k), Value: string(v), Synced: true})
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

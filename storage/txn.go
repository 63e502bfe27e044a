package storage

import (
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// dirty flags say which of the small keys a txn must rewrite at commit, so a
// batch writes each of them once however many steps changed it.
type dirty uint8

const (
	dirtyFirst dirty = 1 << iota
	dirtyLast
	dirtyHardState
	dirtyConfState
	dirtyUncommit
	dirtyAll = dirtyFirst | dirtyLast | dirtyHardState | dirtyConfState | dirtyUncommit
)

// txn builds one engine batch and the state the store will have once it is
// applied. Nothing changes in the store until commit succeeds.
type txn struct {
	s     *Store
	st    state
	b     Batch
	dirty dirty
	// values holds the decoded value of each op of b, for the observer
	// (nil when there is none).
	values []any
}

func (s *Store) begin() *txn {
	return &txn{s: s, st: s.st}
}

func (t *txn) observed() bool { return t.s.observer != nil }

func (t *txn) put(key, value []byte, decoded any) {
	t.b.Put(key, value)
	if t.observed() {
		t.values = append(t.values, decoded)
	}
}

func (t *txn) del(key []byte) {
	t.b.Delete(key)
	if t.observed() {
		t.values = append(t.values, nil)
	}
}

// stateMachine adds the state machine's writes of b (a restore chunk, or
// what applied entries wrote); observers see their values as strings.
func (t *txn) stateMachine(b *Batch) {
	for _, op := range b.Ops {
		if op.Delete {
			t.del(op.Key)
			continue
		}
		var v any
		if t.observed() {
			v = string(op.Value)
		}
		t.put(op.Key, op.Value, v)
	}
}

// deleteEntries deletes the stored entries [lo, hi].
func (t *txn) deleteEntries(lo, hi uint64) {
	for i := lo; i <= hi; i++ {
		t.del(EntryKey(i))
	}
}

// appendable checks that entries may be appended to the log of t, and
// returns those not compacted already (none at all is no error).
func (t *txn) appendable(entries []*pb.Entry) ([]*pb.Entry, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	for i := 1; i < len(entries); i++ {
		prev, e := entries[i-1], entries[i]
		if e.GetIndex() != prev.GetIndex()+1 || e.GetTerm() < prev.GetTerm() {
			return nil, fmt.Errorf("storage: append: entry %d/%d does not follow %d/%d", e.GetIndex(), e.GetTerm(), prev.GetIndex(), prev.GetTerm())
		}
	}
	if last := entries[len(entries)-1].GetIndex(); last < t.st.first {
		return nil, nil // all compacted already
	}
	if t.st.first > entries[0].GetIndex() {
		entries = entries[t.st.first-entries[0].GetIndex():]
	}
	lo := entries[0].GetIndex()
	if lo > t.st.last+1 {
		return nil, fmt.Errorf("storage: append at %d leaves a gap after last index %d", lo, t.st.last)
	}
	if lo <= t.st.hs.GetCommit() && lo <= t.st.last {
		return nil, fmt.Errorf("storage: append at %d would overwrite committed entries (commit %d)", lo, t.st.hs.GetCommit())
	}
	return entries, nil
}

func (t *txn) append(entries []*pb.Entry) error {
	entries, err := t.appendable(entries)
	if err != nil || len(entries) == 0 {
		return err
	}
	lo := entries[0].GetIndex()
	newLast := entries[len(entries)-1].GetIndex()
	// Truncate the conflicting suffix beyond what the new entries overwrite.
	if newLast < t.st.last {
		t.deleteEntries(newLast+1, t.st.last)
	}
	keep := lo - t.st.first
	terms := t.st.terms[:keep]
	if keep < uint64(len(t.st.terms)) {
		// Overwriting: copy, so the current state's terms stay intact if
		// this batch fails.
		terms = slices.Clone(terms)
	}
	for _, e := range entries {
		terms = append(terms, e.GetTerm())
	}
	t.st.terms = terms
	tail := t.st.tail.below(lo)
	for _, e := range entries {
		var v any
		if t.observed() {
			v = DescribeEntry(e, t.s.describer)
		}
		b := marshal(e)
		t.put(EntryKey(e.GetIndex()), b, v)
		tail.push(e, len(b))
	}
	t.st.tail = tail
	t.st.last = newLast
	if t.st.applied > newLast {
		// Unreachable while appends never overwrite committed entries.
		return fmt.Errorf("storage: append would truncate applied entries (applied %d, last %d)", t.st.applied, newLast)
	}
	t.dirty |= dirtyLast | dirtyUncommit
	return nil
}

// hardStateFollows says why hs may not replace the HardState of st, or nil.
func (st *state) hardStateFollows(hs *pb.HardState) error {
	old := st.hs
	switch {
	case hs.GetTerm() < old.GetTerm():
		return fmt.Errorf("storage: hard state term going back from %d to %d", old.GetTerm(), hs.GetTerm())
	case hs.GetTerm() == old.GetTerm() && old.GetVote() != 0 && hs.GetVote() != old.GetVote():
		return fmt.Errorf("storage: hard state vote changing from %d to %d in term %d", old.GetVote(), hs.GetVote(), hs.GetTerm())
	}
	return nil
}

func (t *txn) setHardState(hs *pb.HardState) error {
	if err := t.st.hardStateFollows(hs); err != nil {
		return err
	}
	t.st.hs = proto.Clone(hs).(*pb.HardState)
	t.dirty |= dirtyHardState
	return nil
}

func (t *txn) applySnapshot(snap *pb.Snapshot) error {
	snap = pb.EnsureSnapshot(snap)
	md := snap.GetMetadata()
	if cur := t.st.snap.GetIndex(); cur != 0 && cur >= md.GetIndex() {
		return raft.ErrSnapOutOfDate
	}
	// The old log goes. Entries past the snapshot go in this batch; those
	// it covers too, unless there are more than one batch should hold (a
	// log of 30000 entries is more than Badger's transaction takes): then
	// they stay below the new first index, to be deleted in chunks once
	// this batch is written (Store.dropBelow), or at the next Open.
	if t.st.last >= t.st.first {
		covered := min(t.st.last, md.GetIndex())
		if covered >= t.st.first && covered-t.st.first >= MaxChunkOps {
			t.st.below += covered - t.st.first + 1
			if t.st.last > covered {
				t.deleteEntries(covered+1, t.st.last)
			}
		} else {
			t.deleteEntries(t.st.first, t.st.last)
		}
	}
	t.st.first, t.st.prevTerm = md.GetIndex()+1, md.GetTerm()
	t.st.last = md.GetIndex()
	t.st.terms = nil
	t.st.tail = entryTail{}
	// With a restorer the state machine is restored after this batch, and
	// the applied index moves when it is done (Store.restore); until then
	// applied behind the snapshot marks the restore as pending.
	if t.s.restorer == nil {
		t.st.applied = md.GetIndex()
	}
	t.st.cs = proto.Clone(md.GetConfState()).(*pb.ConfState)
	t.st.snap = proto.Clone(md).(*pb.SnapshotMetadata)
	t.putSnapshot(snap)
	t.dirty |= dirtyFirst | dirtyLast | dirtyConfState | dirtyUncommit
	return nil
}

func (t *txn) putSnapshot(snap *pb.Snapshot) {
	var v any
	if t.observed() {
		v = DescribeSnapshot(snap)
	}
	t.put(keySnapshot, marshal(snap), v)
}

func (t *txn) createSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error) {
	if i <= t.st.snap.GetIndex() {
		return nil, raft.ErrSnapOutOfDate
	}
	if i > t.st.hs.GetCommit() {
		return nil, fmt.Errorf("storage: snapshot at %d beyond commit %d", i, t.st.hs.GetCommit())
	}
	term, err := t.s.Term(i)
	if err != nil {
		return nil, err
	}
	md := &pb.SnapshotMetadata{Index: new(i), Term: new(term), ConfState: t.st.snap.GetConfState()}
	if cs != nil {
		md.ConfState = cs
	}
	snap := pb.EnsureSnapshot(&pb.Snapshot{Metadata: proto.Clone(md).(*pb.SnapshotMetadata), Data: data})
	t.st.snap = snap.GetMetadata()
	// The caller took data at i, so the state machine has applied i.
	if t.st.applied < i {
		t.st.applied = i
		t.dirty |= dirtyUncommit
		// cs is then the ConfState as of the new applied index, the one
		// InitialState must return (a caller that never uses SaveApplied,
		// as with raft.MemoryStorage, would otherwise restart without its
		// voters).
		if cs != nil {
			t.st.cs = proto.Clone(cs).(*pb.ConfState)
			t.dirty |= dirtyConfState
		}
	}
	t.putSnapshot(snap)
	return proto.Clone(snap).(*pb.Snapshot), nil
}

// compactable says why the log in st cannot be compacted up to i, or nil.
func (st *state) compactable(i uint64) error {
	switch {
	case i < st.first:
		return raft.ErrCompacted
	case i > st.last:
		return fmt.Errorf("storage: compact %d beyond last index %d", i, st.last)
	case i > st.snap.GetIndex():
		return fmt.Errorf("storage: compact %d beyond the latest snapshot %d would drop entries no snapshot holds", i, st.snap.GetIndex())
	}
	return nil
}

func (t *txn) compact(i uint64) error {
	if err := t.st.compactable(i); err != nil {
		return err
	}
	term, err := t.s.Term(i)
	if err != nil {
		return err
	}
	t.deleteEntries(t.st.first, i)
	t.st.terms = t.st.terms[i+1-t.st.first:]
	t.st.tail = t.st.tail.from(i + 1)
	t.st.first, t.st.prevTerm = i+1, term
	t.dirty |= dirtyFirst
	return nil
}

// commit checks the resulting state, writes the dirty keys after the ops
// already in the batch, applies the batch, and only then updates the store
// and tells the observer.
func (t *txn) commit(sync bool) error {
	s := t.s
	if s.closed {
		return ErrClosed
	}
	if err := t.st.refusal(); err != nil {
		return err
	}
	if t.dirty&dirtyFirst != 0 {
		t.put(keyFirstIndex, putUint64Pair(t.st.first, t.st.prevTerm), FirstIndexValue{Index: t.st.first, PrevTerm: t.st.prevTerm})
	}
	if t.dirty&dirtyLast != 0 {
		t.put(keyLastIndex, putUint64(t.st.last), LastIndexValue{Index: t.st.last})
	}
	if t.dirty&dirtyHardState != 0 {
		t.put(keyHardState, marshal(t.st.hs), DescribeHardState(t.st.hs))
	}
	if t.dirty&dirtyConfState != 0 {
		t.put(keyConfState, marshal(t.st.cs), DescribeConfState(t.st.cs))
	}
	if t.dirty&dirtyUncommit != 0 {
		t.put(keyUncommitIndex, putUint64Pair(t.st.applied, t.st.last), UncommitValue{Applied: t.st.applied, Last: t.st.last})
	}
	if t.b.Len() == 0 && !sync {
		return nil
	}
	if err := s.e.Apply(&t.b, sync); err != nil {
		return fmt.Errorf("storage: write batch: %w", err)
	}
	s.st = t.st
	if s.observer != nil {
		for i, op := range t.b.Ops {
			s.observer(KeyChange{Key: DisplayKey(op.Key), Deleted: op.Delete, Value: t.values[i], Synced: sync})
		}
	}
	return nil
}

// refusal is the error of a write that would leave the store in st, when st
// breaks an invariant (check), or nil.
func (st *state) refusal() error {
	if key, reason := st.check(); reason != "" {
		return fmt.Errorf("storage: refusing a write that would break %s: %s", key, reason)
	}
	return nil
}

// check returns the key and the reason when st breaks an invariant of the
// log, and "" when it holds. Stores only ever reach states that pass it;
// load also runs it on what it reads.
func (st *state) check() (key, reason string) {
	switch {
	case st.first == 0:
		return KeyFirstIndex, "first index 0"
	case st.last+1 < st.first:
		return KeyLastIndex, fmt.Sprintf("last index %d below first index %d minus one", st.last, st.first)
	case st.snap.GetIndex() < st.first-1:
		return KeyFirstIndex, fmt.Sprintf("first index %d beyond snapshot %d plus one", st.first, st.snap.GetIndex())
	case st.snap.GetIndex() > st.last:
		return KeySnapshot, fmt.Sprintf("snapshot %d beyond last index %d", st.snap.GetIndex(), st.last)
	case st.hs.GetCommit() > st.last:
		return KeyHardState, fmt.Sprintf("commit %d beyond last index %d", st.hs.GetCommit(), st.last)
	case st.applied > st.hs.GetCommit() && st.applied > st.snap.GetIndex():
		return KeyUncommitIndex, fmt.Sprintf("applied %d beyond commit %d", st.applied, st.hs.GetCommit())
	case st.applied+1 < st.first && st.first-1 != st.snap.GetIndex():
		// Behind the snapshot is a restore in progress; behind a
		// compaction that no snapshot covers is lost state.
		return KeyUncommitIndex, fmt.Sprintf("applied %d below compacted index %d", st.applied, st.first-1)
	}
	return "", ""
}

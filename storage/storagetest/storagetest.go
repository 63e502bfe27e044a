// Package storagetest is the conformance suite that every storage.Engine runs,
// through storage.Store, in the spirit of testing/fstest.TestFS: an engine's
// test calls Run with a way to open its engine, and the suite checks the raw
// engine, raft's Storage contract, the checks the store adds, the observer,
// restarts, damaged stores, and a long randomized comparison with
// raft.MemoryStorage.
//
// storage.Store is a drop-in replacement for raft.MemoryStorage, with these
// intentional differences, each checked here:
//
//   - Errors instead of panics. Where MemoryStorage panics (Entries beyond
//     the last index, CreateSnapshot or Compact beyond the last index, an
//     Append that leaves a gap), the store returns an error: a node should
//     stop with a clear error, not crash in the middle of a write.
//   - Compact refuses to go past the latest snapshot: those entries would be
//     in no snapshot, and a follower that needs them could never catch up
//     (RAFT-NOTES rule 6). MemoryStorage compacts anything up to LastIndex.
//   - CreateSnapshot refuses an index beyond the HardState's commit: a
//     snapshot holds applied state, and nothing beyond commit is applied.
//   - Append refuses to overwrite committed entries, entries that do not
//     follow one another, and entries whose terms go down; SetHardState
//     refuses a term going back, a vote changing within a term, and a commit
//     beyond the last index; ApplySnapshot refuses a snapshot that leaves the
//     commit beyond the log. Raft never asks for any of these; a store that
//     did them would double-vote or forget acknowledged entries.
//   - A refused write changes nothing: not the store, not the engine, and
//     the observer hears nothing. A Save is refused or done as a whole,
//     except one too long for an engine batch: it takes several, and an
//     engine failing in between leaves a log Open accepts (LongAppend).
//   - InitialState returns an empty HardState, never nil, before the first
//     one is set, and the ConfState as of the applied index (SaveApplied,
//     ApplySnapshot, or a CreateSnapshot that moves the applied index),
//     where MemoryStorage returns its latest snapshot's. The two agree
//     whenever, as in the randomized test, the state machine is only ever
//     described by snapshots.
package storagetest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlab/raftlab/storage"
)

// Factory opens the engine under test. Successive calls to Open, each made
// after the engine of the previous call was closed, return engines holding
// the same persisted data. The first call sees an empty engine.
type Factory interface {
	Open() (storage.Engine, error)
}

// Run runs the conformance suite. newFactory is called once per subtest and
// must return a factory over a new, empty location (a new temporary
// directory, a new in-memory engine).
func Run(t *testing.T, newFactory func(t *testing.T) Factory) {
	t.Run("Engine", func(t *testing.T) { testEngine(t, newFactory) })
	t.Run("Contract", func(t *testing.T) { testContract(t, newFactory) })
	t.Run("StoreChecks", func(t *testing.T) { testStoreChecks(t, newFactory) })
	t.Run("Observer", func(t *testing.T) { testObserver(t, newFactory(t)) })
	t.Run("Restart", func(t *testing.T) { testRestart(t, newFactory(t)) })
	t.Run("Damaged", func(t *testing.T) { testDamaged(t, newFactory) })
	t.Run("EntriesBelowFirst", func(t *testing.T) { testEntriesBelowFirst(t, newFactory(t)) })
	t.Run("Tail", func(t *testing.T) { testTail(t, newFactory(t)) })
	t.Run("LongAppend", func(t *testing.T) { testLongAppend(t, newFactory) })
	t.Run("Differential", func(t *testing.T) { testDifferential(t, newFactory(t)) })
}

// recEngine records every batch an engine applied, so tests can count the
// batches of one store call and see whether they were synced.
type recEngine struct {
	storage.Engine
	applies []applyRecord
	// refuse makes Apply fail, writing nothing: an engine error.
	refuse bool
	// failAt, when not 0, sets refuse at the failAt-th Apply from now: a
	// member stopping in the middle of a store call.
	failAt int
	// scans counts Scan calls.
	scans int
}

func (r *recEngine) Scan(start, end []byte, fn func(k, v []byte) error) error {
	r.scans++
	return r.Engine.Scan(start, end, fn)
}

var errRefused = errors.New("storagetest: engine refused the batch")

type applyRecord struct {
	keys []string // display keys, in batch order
	sync bool
}

// ChunkBytes passes on the chunk size of the engine under test: embedding
// the Engine interface hides it, and the suite would cut Badger's chunks at
// the default instead of its own.
func (r *recEngine) ChunkBytes() int { return storage.ChunkBytes(r.Engine) }

func (r *recEngine) Apply(b *storage.Batch, sync bool) error {
	if r.failAt > 0 {
		if r.failAt--; r.failAt == 0 {
			r.refuse = true
		}
	}
	if r.refuse {
		return errRefused
	}
	if err := r.Engine.Apply(b, sync); err != nil {
		return err
	}
	rec := applyRecord{sync: sync}
	for _, op := range b.Ops {
		rec.keys = append(rec.keys, storage.DisplayKey(op.Key))
	}
	r.applies = append(r.applies, rec)
	return nil
}

// openStore opens the factory's engine and a Store on it, closed at the end
// of the test.
func openStore(t *testing.T, f Factory) (*storage.Store, *recEngine) {
	t.Helper()
	e, err := f.Open()
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	re := &recEngine{Engine: e}
	s, err := storage.Open(re)
	if err != nil {
		e.Close()
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, re
}

// reopen closes s and opens the store again from what was persisted.
func reopen(t *testing.T, f Factory, s *storage.Store) (*storage.Store, *recEngine) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	return openStore(t, f)
}

// ent returns the entry at index i of term, with data.
func ent(i, term uint64, data string) *pb.Entry {
	e := &pb.Entry{Index: new(i), Term: new(term), Type: pb.EntryNormal.Enum()}
	if data != "" {
		e.Data = []byte(data)
	}
	return e
}

// ents returns the entries [lo, hi] of term, each with a few bytes of data.
func ents(lo, hi, term uint64) []*pb.Entry {
	var out []*pb.Entry
	for i := lo; i <= hi; i++ {
		out = append(out, ent(i, term, fmt.Sprintf("data-%d-%d", i, term)))
	}
	return out
}

func hardState(term, vote, commit uint64) *pb.HardState {
	return &pb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
}

func snapshot(index, term uint64, voters []uint64, data string) *pb.Snapshot {
	return &pb.Snapshot{
		Data: []byte(data),
		Metadata: &pb.SnapshotMetadata{
			Index:     new(index),
			Term:      new(term),
			ConfState: &pb.ConfState{Voters: voters},
		},
	}
}

// errClass names the raft error err is, for comparisons and messages.
func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, raft.ErrCompacted):
		return "ErrCompacted"
	case errors.Is(err, raft.ErrUnavailable):
		return "ErrUnavailable"
	case errors.Is(err, raft.ErrSnapOutOfDate):
		return "ErrSnapOutOfDate"
	}
	return "error(" + err.Error() + ")"
}

func normHardState(hs *pb.HardState) string {
	return fmt.Sprintf("{term %d vote %d commit %d}", hs.GetTerm(), hs.GetVote(), hs.GetCommit())
}

// normConfState returns a copy of cs with presence differences that do not
// matter (nil vs empty, AutoLeave unset vs false) removed.
func normConfState(cs *pb.ConfState) *pb.ConfState {
	if cs == nil {
		return pb.EnsureConfState(nil)
	}
	return pb.EnsureConfState(proto.Clone(cs).(*pb.ConfState))
}

func normSnapshot(s *pb.Snapshot) *pb.Snapshot {
	if s == nil {
		return pb.EnsureSnapshot(nil)
	}
	s = pb.EnsureSnapshot(proto.Clone(s).(*pb.Snapshot))
	s.Metadata.ConfState = normConfState(s.Metadata.ConfState)
	if len(s.Data) == 0 {
		s.Data = nil
	}
	return s
}

func describeSnapshot(s *pb.Snapshot) string {
	md := s.GetMetadata()
	return fmt.Sprintf("{index %d term %d %s data %q}", md.GetIndex(), md.GetTerm(), raft.DescribeConfState(normConfState(md.GetConfState())), s.GetData())
}

func describeEntries(es []*pb.Entry) string {
	var b strings.Builder
	b.WriteString("[")
	for i, e := range es {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%d/%d", e.GetIndex(), e.GetTerm())
	}
	b.WriteString("]")
	return b.String()
}

func sameEntries(a, b []*pb.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// view is everything raft.Storage shows, and what the store adds, rendered
// so that two views compare as strings.
type view struct {
	lines []string
}

func (v *view) addf(format string, args ...any) {
	v.lines = append(v.lines, fmt.Sprintf(format, args...))
}

// diff returns the first line where v and w differ, or "".
func (v view) diff(w view) string {
	for i := range max(len(v.lines), len(w.lines)) {
		var a, b string
		if i < len(v.lines) {
			a = v.lines[i]
		}
		if i < len(w.lines) {
			b = w.lines[i]
		}
		if a != b {
			return fmt.Sprintf("%q != %q", a, b)
		}
	}
	return ""
}

// viewOf reads every observable value of s: indexes, every term from two
// below FirstIndex-1 to two past LastIndex, all entries, the snapshot, the
// initial state and the applied index.
func viewOf(t *testing.T, s *storage.Store) view {
	t.Helper()
	var v view
	first, err := s.FirstIndex()
	v.addf("first %d %s", first, errClass(err))
	last, err := s.LastIndex()
	v.addf("last %d %s", last, errClass(err))
	for i := sat(first, 3); i <= last+2; i++ {
		term, err := s.Term(i)
		v.addf("term(%d) %d %s", i, term, errClass(err))
	}
	es, err := s.Entries(first, last+1, math.MaxUint64)
	if err == nil {
		for _, e := range es {
			v.addf("entry %s", raft.DescribeEntry(e, nil))
		}
	} else {
		v.addf("entries %s", errClass(err))
	}
	snap, err := s.Snapshot()
	v.addf("snapshot %s %s", describeSnapshot(normSnapshot(snap)), errClass(err))
	hs, cs, err := s.InitialState()
	v.addf("initial %s %s %s", normHardState(hs), raft.DescribeConfState(normConfState(cs)), errClass(err))
	v.addf("applied %d", s.Applied())
	return v
}

// sat returns a-b, or 0 when b > a.
func sat(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

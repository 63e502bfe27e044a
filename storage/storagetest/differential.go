package storagetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlab/raftlab/storage"
)

// SeedEnv names the environment variable that fixes the seed of the
// randomized test, to replay a failure.
const SeedEnv = "STORAGETEST_SEED"

// DifferentialOps is the number of operations of the randomized test, per
// engine; a tenth of it with -short.
const DifferentialOps = 10_000

// testDifferential drives a store and a raft.MemoryStorage with the same
// seeded sequence of raft-valid operations, and after every one compares
// every read: FirstIndex, LastIndex, Term over the whole log and a bit
// beyond, Entries over several ranges and sizes (errors included),
// Snapshot and InitialState. Once in a while the store is closed and
// opened again.
func testDifferential(t *testing.T, f Factory) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(SeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, s, err)
		}
	}
	n := DifferentialOps
	if testing.Short() {
		n /= 10
	}
	s, _ := openStore(t, f)
	d := &differ{t: t, f: f, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), ms: raft.NewMemoryStorage(), s: s, hs: &pb.HardState{}}
	start := time.Now()
	for d.op = 1; d.op <= n; d.op++ {
		d.step()
		d.compare()
	}
	t.Logf("seed %d: %d operations in %v: %v; longest log %d entries", seed, n, time.Since(start).Round(time.Millisecond), d.counts, d.longest)
}

type differ struct {
	t    *testing.T
	f    Factory
	seed uint64
	rng  *rand.Rand
	ms   *raft.MemoryStorage
	s    *storage.Store
	// hs is the HardState last set; raft.MemoryStorage keeps the pointer.
	hs *pb.HardState

	op      int
	recent  []string // descriptions of the last operations, for failures
	counts  map[string]int
	longest uint64
}

func (d *differ) fatalf(format string, args ...any) {
	d.t.Helper()
	d.t.Fatalf("%s\nseed %d (rerun with %s=%d), operation %d; the last operations:\n  %s",
		fmt.Sprintf(format, args...), d.seed, SeedEnv, d.seed, d.op, strings.Join(d.recent, "\n  "))
}

func (d *differ) note(kind, format string, args ...any) {
	if d.counts == nil {
		d.counts = map[string]int{}
	}
	d.counts[kind]++
	d.recent = append(d.recent, fmt.Sprintf("%d %s: %s", d.op, kind, fmt.Sprintf(format, args...)))
	if len(d.recent) > 12 {
		d.recent = d.recent[1:]
	}
}

// state returns what the generator needs to know, read from the reference.
func (d *differ) state() (first, last, snapIndex uint64) {
	first, _ = d.ms.FirstIndex()
	last, _ = d.ms.LastIndex()
	snap, _ := d.ms.Snapshot()
	return first, last, snap.GetMetadata().GetIndex()
}

// both runs a write on the reference and on the store; they must agree on
// the outcome (both nil, or the same raft error).
func (d *differ) both(ref, store func() error) {
	d.t.Helper()
	refErr, storeErr := ref(), store()
	if errClass(refErr) != errClass(storeErr) {
		d.fatalf("MemoryStorage returned %s, the store %s", errClass(refErr), errClass(storeErr))
	}
}

func (d *differ) entries(lo, n, term uint64) []*pb.Entry {
	out := make([]*pb.Entry, n)
	for i := range n {
		e := &pb.Entry{Index: new(lo + i), Term: new(term)}
		switch r := d.rng.IntN(20); {
		case r == 0:
			e.Type = pb.EntryConfChangeV2.Enum()
			e.Data = d.data(40)
		case r < 3:
			// A new leader's empty entry (§8), with the type left unset.
		default:
			e.Type = pb.EntryNormal.Enum()
			e.Data = d.data(400)
		}
		out[i] = e
	}
	return out
}

func (d *differ) data(maxLen int) []byte {
	b := make([]byte, d.rng.IntN(maxLen)+1)
	for i := range b {
		b[i] = byte(d.rng.UintN(256))
	}
	return b
}

func (d *differ) confState() *pb.ConfState {
	cs := &pb.ConfState{}
	for id := uint64(1); id <= 5; id++ {
		switch d.rng.IntN(3) {
		case 0:
			cs.Voters = append(cs.Voters, id)
		case 1:
			if d.rng.IntN(3) == 0 {
				cs.Learners = append(cs.Learners, id)
			}
		}
	}
	if d.rng.IntN(8) == 0 {
		cs.VotersOutgoing = []uint64{1, 2, 3}
		cs.AutoLeave = new(d.rng.IntN(2) == 0)
	}
	return cs
}

// nextHardState returns a HardState raft could write next: the term stays
// or goes up; the vote is set once per term; commit never goes down and
// stays within last.
func (d *differ) nextHardState(minTerm, commitLo, commitHi uint64) *pb.HardState {
	term, vote := d.hs.GetTerm(), d.hs.GetVote()
	if d.rng.IntN(3) == 0 || term < minTerm || term == 0 {
		term = max(term+1+uint64(d.rng.IntN(2)), minTerm)
		vote = 0
	}
	if vote == 0 && d.rng.IntN(2) == 0 {
		vote = 1 + uint64(d.rng.IntN(3))
	}
	commit := commitLo
	if commitHi > commitLo {
		commit += uint64(d.rng.IntN(int(commitHi - commitLo + 1)))
	}
	return &pb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
}

// step runs one operation. Invariants kept (as raft keeps them): entry
// terms never go down and never exceed the HardState's term; snapshot
// index <= commit <= last; first-1 <= snapshot index.
func (d *differ) step() {
	d.t.Helper()
	first, last, snapIndex := d.state()
	commit := d.hs.GetCommit()
	d.longest = max(d.longest, last+1-first)

	// A longer log makes snapshots and compactions likelier, as a node's
	// snapshot policy would.
	long := last+1-first > 40
	r := d.rng.IntN(100)
	switch {
	case r < 1:
		d.note("reopen", "close and open the store again")
		d.s, _ = reopen(d.t, d.f, d.s)

	case d.hs.GetTerm() == 0 || r < 14:
		hs := d.nextHardState(d.hs.GetTerm(), commit, last)
		d.note("hardState", "%s", normHardState(hs))
		if d.rng.IntN(2) == 0 {
			d.both(func() error { return d.ms.SetHardState(hs) }, func() error { return d.s.SetHardState(hs) })
		} else {
			sync := d.rng.IntN(2) == 0
			d.both(func() error { return d.ms.SetHardState(hs) }, func() error { return d.s.Save(hs, nil, nil, sync) })
		}
		d.hs = hs

	case r < 40 && !long:
		// Append at the end, alone or with a HardState in one Save.
		es := d.entries(last+1, 1+uint64(d.rng.IntN(8)), d.hs.GetTerm())
		if d.rng.IntN(2) == 0 {
			d.note("append", "%s", describeEntries(es))
			d.both(func() error { return d.ms.Append(es) }, func() error { return d.s.Append(es) })
			break
		}
		hs := d.nextHardState(d.hs.GetTerm(), commit, last+uint64(len(es)))
		// Entries of the new term would follow; keep the appended ones
		// at the old term, which is still <= the new one.
		sync := d.rng.IntN(4) != 0
		d.note("save", "%s + %s sync %v", describeEntries(es), normHardState(hs), sync)
		d.both(func() error {
			if err := d.ms.Append(es); err != nil {
				return err
			}
			return d.ms.SetHardState(hs)
		}, func() error { return d.s.Save(hs, es, nil, sync) })
		d.hs = hs

	case r >= 40 && r < 52 && last > commit:
		// A new leader overwrites an uncommitted suffix (§5.3): its entries
		// are of a newer term, which the HardState reaches first.
		lo := commit + 1 + uint64(d.rng.IntN(int(last-commit)))
		hs := d.nextHardState(d.hs.GetTerm()+1, commit, commit)
		es := d.entries(lo, 1+uint64(d.rng.IntN(8)), hs.GetTerm())
		d.note("truncate", "%s at %d (last %d) + %s", describeEntries(es), lo, last, normHardState(hs))
		if d.rng.IntN(2) == 0 {
			d.both(func() error { return d.ms.SetHardState(hs) }, func() error { return d.s.SetHardState(hs) })
			d.hs = hs
			d.both(func() error { return d.ms.Append(es) }, func() error { return d.s.Append(es) })
		} else {
			d.both(func() error {
				if err := d.ms.Append(es); err != nil {
					return err
				}
				return d.ms.SetHardState(hs)
			}, func() error { return d.s.Save(hs, es, nil, true) })
			d.hs = hs
		}

	case r >= 52 && r < 66 && (commit > snapIndex || d.rng.IntN(8) == 0):
		// A snapshot of the applied state at i <= commit; or, now and
		// then, one at or below the latest: ErrSnapOutOfDate for both.
		var i uint64
		if commit > snapIndex {
			i = snapIndex + 1 + uint64(d.rng.IntN(int(commit-snapIndex)))
		} else {
			i = uint64(d.rng.IntN(int(snapIndex + 1)))
		}
		var cs *pb.ConfState
		if d.rng.IntN(2) == 0 {
			cs = d.confState()
		}
		data := d.data(200)
		d.note("createSnapshot", "at %d (snapshot %d, commit %d) cs %v", i, snapIndex, commit, cs != nil)
		var refSnap, storeSnap *pb.Snapshot
		d.both(func() (err error) {
			refSnap, err = d.ms.CreateSnapshot(i, cs, data)
			return err
		}, func() (err error) {
			storeSnap, err = d.s.CreateSnapshot(i, cs, data)
			return err
		})
		if !proto.Equal(normSnapshot(refSnap), normSnapshot(storeSnap)) {
			d.fatalf("CreateSnapshot returned %s, the store %s", describeSnapshot(refSnap), describeSnapshot(storeSnap))
		}

	case r >= 66 && r < 80 && (snapIndex >= first || d.rng.IntN(8) == 0):
		// Compact up to the latest snapshot; or below FirstIndex:
		// ErrCompacted for both.
		var i uint64
		if snapIndex >= first {
			i = first + uint64(d.rng.IntN(int(snapIndex-first+1)))
		} else {
			i = uint64(d.rng.IntN(int(first)))
		}
		d.note("compact", "at %d (first %d, snapshot %d)", i, first, snapIndex)
		d.both(func() error { return d.ms.Compact(i) }, func() error { return d.s.Compact(i) })

	case r >= 80 && r < 87:
		// A snapshot from the leader, beyond commit and the latest
		// snapshot, maybe inside the log; alone, then the HardState, or in
		// one Save with the entries after it. Now and then a stale one.
		base := max(commit, snapIndex)
		index := base + 1 + uint64(d.rng.IntN(int(sat(last, base)+10)))
		term := d.hs.GetTerm() + uint64(d.rng.IntN(2))
		if d.rng.IntN(10) == 0 && snapIndex > 0 {
			index = 1 + uint64(d.rng.IntN(int(snapIndex)))
		}
		snap := &pb.Snapshot{Data: d.data(300), Metadata: &pb.SnapshotMetadata{Index: new(index), Term: new(term), ConfState: d.confState()}}
		stale := index <= snapIndex
		hs := d.nextHardState(term, index, index)
		switch {
		case stale || d.rng.IntN(2) == 0:
			d.note("applySnapshot", "at %d term %d (snapshot %d, commit %d, last %d)", index, term, snapIndex, commit, last)
			d.both(func() error { return d.ms.ApplySnapshot(snap) }, func() error { return d.s.ApplySnapshot(snap) })
			if stale {
				break
			}
			d.note("hardState", "%s", normHardState(hs))
			d.both(func() error { return d.ms.SetHardState(hs) }, func() error { return d.s.SetHardState(hs) })
			d.hs = hs
		default:
			var es []*pb.Entry
			if d.rng.IntN(2) == 0 {
				es = d.entries(index+1, 1+uint64(d.rng.IntN(5)), hs.GetTerm())
			}
			d.note("saveSnapshot", "at %d term %d + %s + %s (snapshot %d, commit %d, last %d)", index, term, describeEntries(es), normHardState(hs), snapIndex, commit, last)
			d.both(func() error {
				if err := d.ms.ApplySnapshot(snap); err != nil {
					return err
				}
				if err := d.ms.Append(es); err != nil {
					return err
				}
				return d.ms.SetHardState(hs)
			}, func() error { return d.s.Save(hs, es, snap, false) })
			d.hs = hs
		}

	default:
		// Advance commit, as a follower learns it.
		if last > commit {
			hs := proto.Clone(d.hs).(*pb.HardState)
			hs.Commit = new(commit + 1 + uint64(d.rng.IntN(int(last-commit))))
			d.note("commit", "%s", normHardState(hs))
			d.both(func() error { return d.ms.SetHardState(hs) }, func() error { return d.s.Save(hs, nil, nil, false) })
			d.hs = hs
		} else {
			d.note("noop", "empty Save")
			d.both(func() error { return nil }, func() error { return d.s.Save(nil, nil, nil, false) })
		}
	}
}

// compare checks every read of the store against the reference.
func (d *differ) compare() {
	d.t.Helper()
	ms, s := d.ms, d.s
	first, err1 := s.FirstIndex()
	last, err2 := s.LastIndex()
	refFirst, _ := ms.FirstIndex()
	refLast, _ := ms.LastIndex()
	if first != refFirst || last != refLast || err1 != nil || err2 != nil {
		d.fatalf("FirstIndex, LastIndex = %d (%v), %d (%v); MemoryStorage %d, %d", first, err1, last, err2, refFirst, refLast)
	}
	for i := sat(first, 3); i <= last+3; i++ {
		term, err := s.Term(i)
		refTerm, refErr := ms.Term(i)
		if term != refTerm || errClass(err) != errClass(refErr) {
			d.fatalf("Term(%d) = %d, %s; MemoryStorage %d, %s", i, term, errClass(err), refTerm, errClass(refErr))
		}
	}

	sizes := []uint64{0, 1, 100, 300, 1000, 4000, math.MaxUint64}
	check := func(lo, hi, maxSize uint64) {
		d.t.Helper()
		got, err := s.Entries(lo, hi, maxSize)
		if lo >= first && hi > last+1 {
			// MemoryStorage panics here.
			if errClass(err) != "ErrUnavailable" {
				d.fatalf("Entries(%d, %d, %d) beyond last index %d = %s, %s; want ErrUnavailable", lo, hi, maxSize, last, describeEntries(got), errClass(err))
			}
			return
		}
		want, refErr := ms.Entries(lo, hi, maxSize)
		if errClass(err) != errClass(refErr) || !sameEntries(got, want) {
			d.fatalf("Entries(%d, %d, %d) = %s, %s; MemoryStorage %s, %s", lo, hi, maxSize, describeEntries(got), errClass(err), describeEntries(want), errClass(refErr))
		}
	}
	check(first, last+1, math.MaxUint64)
	check(first, last+1, sizes[d.rng.IntN(len(sizes))])
	for range 3 {
		lo := sat(first, 2) + uint64(d.rng.IntN(int(last+4-sat(first, 2))))
		hi := lo + uint64(d.rng.IntN(int(last+3-lo)+1))
		check(lo, hi, sizes[d.rng.IntN(len(sizes))])
	}

	snap, err := s.Snapshot()
	refSnap, _ := ms.Snapshot()
	if err != nil || !proto.Equal(normSnapshot(snap), normSnapshot(refSnap)) {
		d.fatalf("Snapshot() = %s, %v; MemoryStorage %s", describeSnapshot(snap), err, describeSnapshot(refSnap))
	}
	hs, cs, err := s.InitialState()
	refHS, refCS, _ := ms.InitialState()
	if err != nil || normHardState(hs) != normHardState(refHS) || !proto.Equal(normConfState(cs), normConfState(refCS)) {
		d.fatalf("InitialState() = %s %s, %v; MemoryStorage %s %s", normHardState(hs), raft.DescribeConfState(normConfState(cs)),
			err, normHardState(refHS), raft.DescribeConfState(normConfState(refCS)))
	}
}

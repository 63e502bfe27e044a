package sim

import (
	"errors"
	"fmt"
	"hash/fnv"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/core"
)

// Checker checks Raft's safety properties (Figure 3 of the paper) after
// every step of a run, incrementally, from what each member persists,
// commits, applies and sends:
//
//   - election safety: at most one leader per term (§5.2);
//   - log matching: entries with the same index and term are identical and
//     so are their predecessors (§5.3);
//   - leader completeness: a leader of term T holds every entry committed in
//     a term before T (§5.4);
//   - state machine safety: every member applies the same entry at an
//     index, so applied sequences are prefixes of each other (§5.4.3);
//   - commit never decreases within a member's life;
//   - durability: a member restarts with a term at least as high as any
//     message it sent, and with the vote it granted in that term (Figure
//     2: currentTerm and votedFor are persisted before responding);
//   - acknowledged writes survive: an acknowledged write is the entry the
//     whole cluster applies at its index.
//
// The first violation halts the run with an error that names the seed.
type Checker struct {
	c *Cluster

	leaders   map[uint64]uint64      // term -> leader
	entries   map[entryID]entryFact  // every entry ever persisted
	committed map[uint64]entryFact   // index -> the committed entry
	applied   map[uint64]uint64      // index -> hash of the entry applied there
	ackedAt   map[uint64]uint64      // index -> request id of an acked write
	members   map[uint64]*memberFact // per member

	// skipDurability turns the restart check off, so a test can measure
	// how often a durability bug shows in the paper's properties alone.
	skipDurability bool

	// Stats of the run.
	Stats Stats
}

// Stats counts what a run went through, for the figures tests print.
type Stats struct {
	Elections    int    // leaders elected
	MaxTerm      uint64 // highest term reached
	Committed    uint64 // highest index committed
	AckedWrites  int    // writes acknowledged to the client
	Crashes      int
	Restarts     int
	SnapshotsIn  int // snapshots applied from a leader
	Readies      int
	MessagesSent int
}

type entryID struct{ index, term uint64 }

type entryFact struct {
	term, hash, prevTerm uint64
}

type memberFact struct {
	commit   uint64 // highest commit of this incarnation
	sentTerm uint64 // highest term of a non-PreVote message ever sent
	// vote granted in voteTerm, the latest term this member voted in.
	voteTerm, vote uint64
	starts         int
}

func newChecker(c *Cluster) *Checker {
	return &Checker{
		c:         c,
		leaders:   map[uint64]uint64{},
		entries:   map[entryID]entryFact{},
		committed: map[uint64]entryFact{},
		applied:   map[uint64]uint64{},
		ackedAt:   map[uint64]uint64{},
		members:   map[uint64]*memberFact{},
	}
}

// ErrViolation is wrapped by every safety violation.
var ErrViolation = errors.New("safety violation")

func (k *Checker) violation(format string, args ...any) {
	k.c.halt(fmt.Errorf("%w: %s", ErrViolation, fmt.Sprintf(format, args...)))
}

func entryHash(e *pb.Entry) uint64 {
	h := fnv.New64a()
	h.Write([]byte{byte(e.GetType())})
	h.Write(e.GetData())
	return h.Sum64()
}

func (k *Checker) fact(id uint64) *memberFact {
	f := k.members[id]
	if f == nil {
		f = &memberFact{}
		k.members[id] = f
	}
	return f
}

// started checks what a member restarts with against what it said before
// it went down.
func (k *Checker) started(m *member) {
	f := k.fact(m.id)
	f.starts++
	if f.starts > 1 {
		k.Stats.Restarts++
	}
	hs := m.store.HardState()
	f.commit = hs.GetCommit()
	if k.skipDurability {
		return
	}
	if hs.GetTerm() < f.sentTerm {
		k.violation("member %d restarted at term %d but had sent messages in term %d: its term was not durable (Figure 2)", m.id, hs.GetTerm(), f.sentTerm)
		return
	}
	if hs.GetTerm() == f.voteTerm && f.vote != 0 && hs.GetVote() != f.vote {
		k.violation("member %d restarted with vote %d in term %d but had granted its vote to %d: it may vote twice (§5.2)", m.id, hs.GetVote(), hs.GetTerm(), f.vote)
	}
}

func (k *Checker) crashed(m *member) { k.Stats.Crashes++ }

func (k *Checker) removed(m *member) {}

// sent notes what a member told others: it must remember it.
func (k *Checker) sent(m *member, msg *pb.Message) {
	k.Stats.MessagesSent++
	f := k.fact(m.id)
	switch msg.GetType() {
	case pb.MsgPreVote, pb.MsgPreVoteResp:
		return // a PreVote carries a term nobody moved to
	case pb.MsgVoteResp:
		if !msg.GetReject() {
			f.voteTerm, f.vote = msg.GetTerm(), msg.GetTo()
		}
	}
	if t := msg.GetTerm(); t > f.sentTerm {
		f.sentTerm = t
	}
}

// afterReady checks what member m just persisted, committed and applied.
func (k *Checker) afterReady(m *member, out core.Output) {
	k.Stats.Readies++
	rd := out.Ready
	store := m.store
	// Log matching: same (index, term) means same entry and same
	// predecessor term.
	for _, e := range rd.Entries {
		// prevTerm 0: the predecessor is compacted, nothing to compare.
		prev, _ := store.Term(e.GetIndex() - 1)
		id := entryID{e.GetIndex(), e.GetTerm()}
		fact := entryFact{term: e.GetTerm(), hash: entryHash(e), prevTerm: prev}
		if old, ok := k.entries[id]; ok {
			if old.hash != fact.hash || (old.prevTerm != fact.prevTerm && old.prevTerm != 0 && prev != 0) {
				k.violation("log matching: member %d has a different entry %d at term %d", m.id, e.GetIndex(), e.GetTerm())
				return
			}
		} else {
			k.entries[id] = fact
		}
	}
	if rd.Snapshot != nil && rd.Snapshot.GetMetadata().GetIndex() > 0 {
		k.Stats.SnapshotsIn++
	}

	// Commit: never back, and a committed index never changes entry.
	f := k.fact(m.id)
	if hs := rd.HardState; hs != nil && hs.GetCommit() != 0 {
		c := hs.GetCommit()
		if c < f.commit {
			k.violation("member %d commit went from %d back to %d", m.id, f.commit, c)
			return
		}
		first, _ := store.FirstIndex()
		lo := max(f.commit+1, first)
		if c >= lo {
			ents, err := store.Entries(lo, c+1, 1<<62)
			if err != nil {
				k.violation("member %d cannot read its committed entries [%d, %d]: %v", m.id, lo, c, err)
				return
			}
			for _, e := range ents {
				k.noteCommitted(m.id, e)
			}
		}
		f.commit = c
		if c > k.Stats.Committed {
			k.Stats.Committed = c
		}
	}

	// State machine safety: the same entry at the same index everywhere.
	for _, e := range rd.CommittedEntries {
		h := entryHash(e)
		if old, ok := k.applied[e.GetIndex()]; ok && old != h {
			k.violation("member %d applied a different entry at index %d than another member", m.id, e.GetIndex())
			return
		} else if !ok {
			k.applied[e.GetIndex()] = h
		}
	}

	// Election safety and leader completeness.
	if rd.SoftState != nil && m.node.IsLeader() {
		term := m.node.Term()
		k.Stats.Elections++
		if term > k.Stats.MaxTerm {
			k.Stats.MaxTerm = term
		}
		if other, ok := k.leaders[term]; ok && other != m.id {
			k.violation("two leaders in term %d: %d and %d (§5.2)", term, other, m.id)
			return
		}
		k.leaders[term] = m.id
		k.checkComplete(m, term)
	}
}

func (k *Checker) noteCommitted(id uint64, e *pb.Entry) {
	fact := entryFact{term: e.GetTerm(), hash: entryHash(e)}
	if old, ok := k.committed[e.GetIndex()]; ok {
		if old.term != fact.term || old.hash != fact.hash {
			k.violation("member %d committed a different entry at index %d (term %d) than was committed before (term %d)", id, e.GetIndex(), e.GetTerm(), old.term)
		}
		return
	}
	k.committed[e.GetIndex()] = fact
}

// checkComplete checks that a new leader of term holds every entry
// committed in an earlier term (§5.4.1).
func (k *Checker) checkComplete(m *member, term uint64) {
	first, _ := m.store.FirstIndex()
	last, _ := m.store.LastIndex()
	for idx := first; idx <= k.Stats.Committed; idx++ {
		fact, ok := k.committed[idx]
		if !ok || fact.term >= term {
			continue
		}
		if idx > last {
			k.violation("leader %d of term %d lacks committed entry %d (§5.4.1)", m.id, term, idx)
			return
		}
		if t, err := m.store.Term(idx); err != nil || t != fact.term {
			k.violation("leader %d of term %d has term %d at committed index %d, want %d (§5.4.1)", m.id, term, t, idx, fact.term)
			return
		}
	}
}

// acked checks an acknowledged write against what was applied at its
// index.
func (k *Checker) acked(w AckedWrite) {
	k.Stats.AckedWrites++
	if _, ok := k.applied[w.Index]; !ok {
		k.violation("write %d acknowledged at index %d that nobody applied", w.ReqID, w.Index)
	}
	k.ackedAt[w.Index] = w.ReqID
}

func (k *Checker) afterStep() {}

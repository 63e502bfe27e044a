package core

import (
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlab/raftlab/storage"
)

// apply applies committed entries in order and records the new applied
// index, the state machine's writes and any new ConfState in one batch, so
// that a crash either keeps all of it or none and raft re-delivers exactly
// what is missing (§5.3: an entry is applied once it is committed). A
// HardState hs that only moves the commit index goes first in the same batch
// (Store.SaveCommitApplied), or alone when nothing is left to apply.
//
// More entries than a batch holds (a member catching up on thousands of
// small writes gets them in one Ready) go in several batches, each ending at
// an entry with the applied index moved to it: after a crash, each batch is
// a state the member restarts from.
func (n *Node) apply(ents []*pb.Entry, hs *pb.HardState, out *Output) error {
	if len(ents) == 0 {
		return n.saveCommit(hs)
	}
	b := &n.applyBatch
	b.Reset()
	var cs *pb.ConfState
	var results []Result
	var described []storage.EntryValue
	last, size := n.applied, 0
	// flush writes what the entries up to last wrote, and the applied index.
	flush := func() error {
		if last == n.applied {
			return nil
		}
		n.emit(Event{Kind: KindApply, Apply: &ApplyInfo{From: n.applied + 1, To: last, Entries: described}})
		if err := n.store.SaveCommitApplied(hs, b, last, cs); err != nil {
			return err
		}
		n.applied = last
		if cs != nil {
			n.confState = cs
		}
		hs, cs, described, size = nil, nil, nil, 0
		b.Reset()
		return nil
	}
	for _, e := range ents {
		idx := e.GetIndex()
		if idx <= n.applied {
			continue // a snapshot in this Ready already covered it
		}
		if idx != last+1 {
			return fmt.Errorf("core: committed entry %d does not follow applied %d", idx, last)
		}
		if b.Len() >= storage.MaxChunkOps || size >= n.store.ChunkBytes() {
			if err := flush(); err != nil {
				return err
			}
		}
		last = idx
		size += len(e.GetData())
		if n.sink != nil {
			if described == nil {
				described = make([]storage.EntryValue, 0, len(ents))
			}
			described = append(described, storage.DescribeEntry(e, DescribeEntryData))
		}
		switch e.GetType() {
		case pb.EntryNormal:
			results = n.applyNormal(b, e, results)
		case pb.EntryConfChange, pb.EntryConfChangeV2:
			var r *Result
			cs, r = n.applyConfChange(b, e, cs)
			if r != nil {
				results = append(results, *r)
			}
		}
	}
	if last == n.applied {
		return n.saveCommit(hs)
	}
	if err := flush(); err != nil {
		return err
	}
	out.Results = append(out.Results, results...)
	return nil
}

// saveCommit writes a HardState that apply was to write with its batch,
// when there was nothing to apply after all.
func (n *Node) saveCommit(hs *pb.HardState) error {
	if hs == nil {
		return nil
	}
	return n.store.Save(hs, nil, nil, false)
}

// applyNormal applies a client write, answering its proposer and failing
// any proposal of ours that was appended at this index but lost it.
func (n *Node) applyNormal(b *storage.Batch, e *pb.Entry, results []Result) []Result {
	idx := e.GetIndex()
	var mine uint64
	var isMine bool
	if len(e.GetData()) > 0 {
		r, c, err := decodeCommand(e.GetData())
		if err != nil {
			// Only a bug or a foreign writer puts such an entry in the
			// log; every member skips it alike, so they stay equal.
			n.emit(Event{Kind: KindLog, Log: &LogInfo{Level: "error", Text: fmt.Sprintf("entry %d: %v; skipped", idx, err)}})
		} else {
			applyCommand(b, c)
			if r.proposer == n.id && n.props[r.reqID] != nil {
				mine, isMine = r.reqID, true
				delete(n.props, r.reqID)
				results = append(results, Result{ReqID: r.reqID, Index: idx})
				n.emit(Event{Kind: KindProposal, Proposal: &ProposalInfo{Phase: "applied", ReqID: r.reqID, Command: c.String(), Index: idx}})
			}
		}
	}
	// Our other proposals appended at this index lost it to another entry.
	for _, id := range n.propIdx[idx] {
		if isMine && id == mine {
			continue
		}
		if p := n.props[id]; p != nil && p.index == idx {
			delete(n.props, id)
			results = append(results, Result{ReqID: id, Index: idx, Err: ErrProposalLost})
			n.emit(Event{Kind: KindProposal, Proposal: &ProposalInfo{Phase: "failed", ReqID: id, Command: p.cmd.String(), Index: idx, Error: ErrProposalLost.Error()}})
		}
	}
	delete(n.propIdx, idx)
	return results
}

// applyConfChange applies a committed membership change (§6), unless the
// configuration it would produce is invalid; every member decides that alike
// from the same ConfState, so all skip it together.
func (n *Node) applyConfChange(b *storage.Batch, e *pb.Entry, cs *pb.ConfState) (*pb.ConfState, *Result) {
	cc, err := unmarshalConfChange(e)
	if err != nil {
		n.emit(Event{Kind: KindLog, Log: &LogInfo{Level: "error", Text: fmt.Sprintf("entry %d: %v; skipped", e.GetIndex(), err)}})
		return cs, nil
	}
	cur := n.confState
	if cs != nil {
		cur = cs
	}
	var res *Result
	r, mine := decodeContext(cc.GetContext())
	mine = mine && r.proposer == n.id && n.ccs[r.reqID] != nil
	if mine {
		delete(n.ccs, r.reqID)
	}
	if err := checkConfChange(cur, cc); err != nil {
		n.emit(Event{Kind: KindConfChange, ConfChange: &ConfChangeInfo{Phase: "refused", Changes: describeChanges(cc), Index: e.GetIndex(), Reason: err.Error()}})
		if mine {
			res = &Result{ReqID: r.reqID, Index: e.GetIndex(), Err: fmt.Errorf("%w: %v", ErrConfChangeIgnored, err)}
		}
		return cs, res
	}
	next := n.rn.ApplyConfChange(cc)
	// The members' addresses change with the membership, in the same batch.
	urls := decodeConfURLs(cc.GetContext())
	for _, ch := range cc.GetChanges() {
		id := ch.GetNodeId()
		switch ch.GetType() {
		case pb.ConfChangeRemoveNode:
			b.Delete(storage.MemberKey(id))
		default:
			if u, ok := urls[id]; ok {
				b.Put(storage.MemberKey(id), []byte(u))
			}
		}
	}
	v := storage.DescribeConfState(next)
	info := &ConfChangeInfo{Phase: "applied", Changes: describeChanges(cc), Index: e.GetIndex(), ConfState: &v}
	if mine {
		info.ReqID = r.reqID
		res = &Result{ReqID: r.reqID, Index: e.GetIndex(), ConfState: next}
	}
	n.emit(Event{Kind: KindConfChange, ConfChange: info})
	return next, res
}

func unmarshalConfChange(e *pb.Entry) (*pb.ConfChangeV2, error) {
	switch e.GetType() {
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			return nil, fmt.Errorf("core: undecodable conf change: %w", err)
		}
		return cc.AsV2(), nil
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			return nil, fmt.Errorf("core: undecodable conf change: %w", err)
		}
		return &cc, nil
	}
	return nil, errors.New("core: not a conf change")
}

// noteReadStates matches raft's read states to waiting reads.
func (n *Node) noteReadStates(rss []raft.ReadState) {
	for _, rs := range rss {
		r, ok := decodeContext(rs.RequestCtx)
		if !ok || r.proposer != n.id {
			continue
		}
		for _, p := range n.reads {
			if p.reqID == r.reqID && !p.ready {
				p.index, p.ready = rs.Index, true
				n.emit(Event{Kind: KindRead, Read: &ReadInfo{Phase: "ready", ReqID: p.reqID, Key: p.key, Index: rs.Index}})
			}
		}
	}
}

// serveReads answers every read whose read index is applied.
func (n *Node) serveReads(out *Output) {
	kept := n.reads[:0]
	for _, p := range n.reads {
		if !p.ready || p.index > n.applied {
			kept = append(kept, p)
			continue
		}
		v, found, err := GetKV(n.store.Engine(), p.key)
		out.Results = append(out.Results, Result{ReqID: p.reqID, Index: p.index, Value: v, Found: found, Err: err})
		info := &ReadInfo{Phase: "served", ReqID: p.reqID, Key: p.key, Index: p.index, Found: found, Value: string(v)}
		if err != nil {
			info.Phase, info.Error = "failed", err.Error()
		}
		n.emit(Event{Kind: KindRead, Read: info})
	}
	clear(n.reads[len(kept):])
	n.reads = kept
}

// Snapshot takes a snapshot of the state machine now (§7) and compacts the
// log behind it, keeping CatchUpEntries: a long log in steps, one per Ready
// (compact.go). It returns the snapshot's index.
func (n *Node) Snapshot() (index uint64, err error) {
	if n.stopped != nil {
		return 0, n.stopped
	}
	if n.applied <= n.snapIndex {
		return n.snapIndex, raft.ErrSnapOutOfDate
	}
	index, err = n.snapshot()
	if err != nil {
		return 0, n.fail(err)
	}
	return index, nil
}

// snapshot records a snapshot at the applied index and compacts the log
// behind it. It records no data: the state machine is the data, copied
// when a follower needs it (snapsend.go).
func (n *Node) snapshot() (uint64, error) {
	snap, err := n.store.CreateSnapshot(n.applied, n.confState, nil)
	if err != nil {
		return 0, err
	}
	md := snap.GetMetadata()
	n.snapIndex = md.GetIndex()
	n.emit(Event{Kind: KindSnapshot, Snapshot: &SnapshotInfo{Phase: "created", Index: md.GetIndex(), Term: md.GetTerm(), ConfState: storage.DescribeConfState(md.GetConfState())}})
	if md.GetIndex() > n.cfg.CatchUpEntries {
		// The first step now, the rest in the Readies that follow
		// (compact.go).
		n.compactTo = max(n.compactTo, md.GetIndex()-n.cfg.CatchUpEntries)
		if err := n.compactSome(); err != nil {
			return 0, err
		}
	}
	return md.GetIndex(), nil
}

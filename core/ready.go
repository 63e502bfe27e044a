package core

import (
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/raftlab/raftlab/storage"
)

// Result answers one request of the driver: a proposal (Index), a read
// (Index, Value, Found) or a conf change (Index, ConfState); or its error.
type Result struct {
	ReqID     uint64
	Index     uint64
	Value     []byte
	Found     bool
	ConfState *pb.ConfState
	Err       error
}

// Output is what the driver must do after one Ready: send Messages (in
// order; for each MsgSnap call ReportSnapshot when the send ends, and
// ReportUnreachable when a send fails) and hand out Results.
type Output struct {
	Messages []*pb.Message
	Results  []Result
	// Ready is the raft Ready that was handled, for checkers. Read-only:
	// its slices are shared with raft.
	Ready raft.Ready
}

// HandleReady carries out one Ready by raft's contract (RAFT-NOTES.md):
// persist the snapshot, entries and HardState in one batch, synced when raft
// says so or a snapshot is present; release the messages; restore the
// snapshot and apply the committed entries with the applied index in one
// batch; serve reads; Advance. Call it while HasReady. An error stops the
// member.
func (n *Node) HandleReady() (out Output, err error) {
	return n.HandleReadyEarly(nil, nil)
}

// HandleReadyEarly is HandleReady for a driver that pipelines: early
// receives the Ready's messages as soon as they may go, and Output.Messages
// is empty. When the member leads (before and after this Ready), that is
// before the batch is persisted: a leader may send its appends while it
// writes them itself (thesis §10.2.1), since an entry is committed only once
// a majority persisted it and the leader's own vote in that majority waits
// for its write. A follower's or a candidate's messages acknowledge what it
// persists, so they go right after the batch, before the apply.
//
// answer, when not nil, also takes the driver's answers out of the Ready's
// order: a Ready that must sync new entries first applies the committed
// entries earlier Readies stored, and hands their results to answer before
// the sync, instead of in Output.Results after it. Under load nearly every
// Ready both appends and commits, and the answers would otherwise wait for
// a sync of entries they do not depend on (etcd applies in a goroutine of
// its own for the same reason). Membership changes keep the taught order.
func (n *Node) HandleReadyEarly(early func([]*pb.Message), answer func([]Result)) (out Output, err error) {
	if n.stopped != nil {
		return out, n.stopped
	}
	if !n.rn.HasReady() {
		return out, nil
	}
	defer n.guard(&err)
	rd := n.rn.Ready()
	out.Ready = rd
	n.readyNum++

	sendEarly := early != nil && len(rd.Messages) > 0 && n.role == raft.StateLeader &&
		(rd.SoftState == nil || rd.SoftState.RaftState == raft.StateLeader)
	if n.sink != nil {
		info := readyInfo(n.readyNum, rd)
		info.SentBeforePersist = sendEarly
		n.emit(Event{Kind: KindReady, Ready: info})
	}
	n.noteRole(rd, &out)
	if err := n.fillSnapshots(rd.Messages); err != nil {
		return out, n.fail(err)
	}
	if sendEarly {
		early(rd.Messages)
		n.noteOutgoing(rd.Messages)
	}
	// A follower's forwarded proposals and reads promise nothing about its
	// storage, so they need not wait for its write: a write proposed
	// through a follower would otherwise wait for the follower's sync of
	// entries it does not depend on before it even reaches the leader.
	msgs := rd.Messages
	if early != nil && !sendEarly {
		var fwd []*pb.Message
		if fwd, msgs = splitForwards(msgs); len(fwd) > 0 {
			early(fwd)
			n.noteOutgoing(fwd)
		}
	}

	confBefore := n.confState
	committed := rd.CommittedEntries
	if answer != nil && rd.MustSync && len(rd.Entries) > 0 && raft.IsEmptySnap(rd.Snapshot) {
		if sendEarly && len(committed) > 0 {
			n.failpoint(FailpointAfterSend)
		}
		if committed, err = n.applyStable(rd, answer); err != nil {
			return out, n.fail(err)
		}
	}

	// 1. Persist, in one batch (Figure 2: persistent state is updated on
	// stable storage before responding to RPCs).
	persists := len(rd.Entries) > 0 || !raft.IsEmptyHardState(rd.HardState) || !raft.IsEmptySnap(rd.Snapshot)
	if persists {
		n.failpoint(FailpointBeforeSave)
	}
	// A Ready that only moves the commit index and applies (the leader's
	// after an acknowledgement, a follower's after the leader's commit) is
	// on the path of every write: a pipelining driver's member writes its
	// HardState with the applied batch, one engine write instead of two.
	// HandleReady (the simulator) keeps the two apart, as the pipeline is
	// taught. MustSync is false for a Ready without entries whose term
	// and vote are unchanged; it ignores snapshots.
	hs, applyHS := rd.HardState, (*pb.HardState)(nil)
	if early != nil && !rd.MustSync && raft.IsEmptySnap(rd.Snapshot) &&
		!raft.IsEmptyHardState(hs) && len(rd.CommittedEntries) > 0 {
		hs, applyHS = nil, hs
	}
	if err := n.store.Save(hs, rd.Entries, rd.Snapshot, rd.MustSync); err != nil {
		return out, n.fail(err)
	}
	if persists {
		n.failpoint(FailpointAfterSave)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		n.snapshotApplied(rd.Snapshot, &out)
	}
	n.noteAppended(rd.Entries, &out)

	// 2. Release the messages: only now may a follower acknowledge. A
	// pipelining driver gets them at once, not after the apply and the
	// bookkeeping below: a follower's acknowledgement is on the path of
	// every write.
	if !sendEarly {
		if early != nil && len(msgs) > 0 {
			early(msgs)
		} else {
			out.Messages = msgs
		}
		n.noteOutgoing(msgs)
	}

	n.noteCommit(rd.HardState)

	// 3. Apply what is committed, with the applied index in one batch.
	if len(committed) > 0 {
		n.failpoint(FailpointAfterSend)
	}
	if err := n.apply(committed, applyHS, &out); err != nil {
		return out, n.fail(err)
	}

	// 4. Reads wait for their read index to be applied.
	n.noteReadStates(rd.ReadStates)
	n.serveReads(&out)

	// 5. Advance: raft may now hand out the next Ready.
	n.rn.Advance(rd)
	confChanged := n.confState != confBefore

	if confChanged {
		// Applying a conf change may have made raft step down (a removed
		// leader); say so now rather than at the next Ready, which a
		// removed member may never have.
		st := n.rn.BasicStatus()
		n.noteRole(raft.Ready{SoftState: &st.SoftState}, &out)
	}
	if n.cfg.SnapshotEntries > 0 && n.applied-n.snapIndex >= n.cfg.SnapshotEntries {
		if _, err := n.snapshot(); err != nil {
			return out, n.fail(err)
		}
	} else if err := n.compactSome(); err != nil {
		return out, n.fail(err)
	}
	if n.sink != nil {
		n.noteProgress()
		n.noteTimer()
	}
	return out, nil
}

// splitForwards separates the proposals and read requests a follower
// forwards to its leader from the rest of msgs, keeping the order of each.
func splitForwards(msgs []*pb.Message) (fwd, rest []*pb.Message) {
	isFwd := func(m *pb.Message) bool { return m.GetType() == pb.MsgProp || m.GetType() == pb.MsgReadIndex }
	if !slices.ContainsFunc(msgs, isFwd) {
		return nil, msgs
	}
	for _, m := range msgs {
		if isFwd(m) {
			fwd = append(fwd, m)
		} else {
			rest = append(rest, m)
		}
	}
	return fwd, rest
}

// noteCommit reports a commit index that hs moves forward.
func (n *Node) noteCommit(hs *pb.HardState) {
	if hs != nil && hs.GetCommit() > n.commit {
		n.emit(Event{Kind: KindCommit, Commit: &CommitInfo{From: n.commit, To: hs.GetCommit()}})
		n.commit = hs.GetCommit()
	}
}

// applyStable applies, before the Ready's write, its committed entries
// that earlier Readies stored, up to the first membership change, and
// hands their results to answer (HandleReadyEarly). The applied batch
// carries the Ready's HardState with its commit index cut to below the
// Ready's first new entry: the entries from there on are not written yet,
// and a follower's stored entries there may be the stale ones the Ready
// replaces (its log truncated by a new leader, §5.3), which a commit index
// must never cover. It returns the committed entries left to apply after
// the write.
func (n *Node) applyStable(rd raft.Ready, answer func([]Result)) ([]*pb.Entry, error) {
	ents, next := rd.CommittedEntries, rd.Entries[0].GetIndex()
	k := 0
	for k < len(ents) && ents[k].GetIndex() < next && ents[k].GetType() == pb.EntryNormal {
		k++
	}
	if k == 0 {
		return ents, nil
	}
	var hs *pb.HardState
	if !raft.IsEmptyHardState(rd.HardState) {
		hs = proto.Clone(rd.HardState).(*pb.HardState)
		hs.Commit = new(min(hs.GetCommit(), next-1))
	}
	n.noteCommit(rd.HardState)
	var out Output
	if err := n.apply(ents[:k], hs, &out); err != nil {
		return nil, err
	}
	answer(out.Results)
	return ents[k:], nil
}

func readyInfo(num uint64, rd raft.Ready) *ReadyInfo {
	info := &ReadyInfo{
		Number:     num,
		MustSync:   rd.MustSync,
		Synced:     rd.MustSync || !raft.IsEmptySnap(rd.Snapshot),
		Messages:   len(rd.Messages),
		ReadStates: len(rd.ReadStates),
	}
	if len(rd.Entries) > 0 {
		info.EntriesFrom, info.EntriesTo = rd.Entries[0].GetIndex(), rd.Entries[len(rd.Entries)-1].GetIndex()
	}
	if len(rd.CommittedEntries) > 0 {
		info.CommittedFrom, info.CommittedTo = rd.CommittedEntries[0].GetIndex(), rd.CommittedEntries[len(rd.CommittedEntries)-1].GetIndex()
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		v := storage.DescribeHardState(rd.HardState)
		info.HardState = &v
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		info.Snapshot = rd.Snapshot.GetMetadata().GetIndex()
	}
	return info
}

// noteRole emits a role event when role, term or leader changed.
func (n *Node) noteRole(rd raft.Ready, out *Output) {
	role, lead, term := n.role, n.lead, n.term
	if rd.SoftState != nil {
		role, lead = rd.SoftState.RaftState, rd.SoftState.Lead
	}
	if rd.HardState != nil && rd.HardState.GetTerm() != 0 {
		term = rd.HardState.GetTerm()
	}
	if role == n.role && lead == n.lead && term == n.term {
		return
	}
	wasLeader := n.role == raft.StateLeader
	termChanged, leadChanged := term != n.term, lead != n.lead
	n.role, n.lead, n.term = role, lead, term
	n.emitRole()
	if termChanged || leadChanged {
		n.failUnreadyReads(out)
	}
	if role == raft.StateCandidate || role == raft.StatePreCandidate {
		// A candidate votes for itself (§5.2); raft does it without a
		// message, so the event stands in for one.
		n.emit(Event{Kind: KindVote, Vote: &VoteInfo{Decision: "granted", Candidate: n.id, Voter: n.id, Term: n.candidateTerm(role), Pre: role == raft.StatePreCandidate}})
	}
	if wasLeader && role != raft.StateLeader {
		clear(n.progress)
	}
}

// candidateTerm is the term a (pre)candidate campaigns for: a PreVote asks
// for the next term without moving to it.
func (n *Node) candidateTerm(role raft.StateType) uint64 {
	if role == raft.StatePreCandidate {
		return n.term + 1
	}
	return n.term
}

// noteAppended finds our proposals and conf changes among the entries just
// persisted, to learn their index (and detect a conf change raft dropped).
func (n *Node) noteAppended(ents []*pb.Entry, out *Output) {
	for _, e := range ents {
		switch e.GetType() {
		case pb.EntryNormal:
			if len(e.GetData()) == 0 || (len(n.props) == 0) {
				continue
			}
			r, c, err := decodeCommand(e.GetData())
			if err != nil || r.proposer != n.id {
				continue
			}
			if p := n.props[r.reqID]; p != nil && p.index != e.GetIndex() {
				p.index = e.GetIndex()
				n.propIdx[e.GetIndex()] = append(n.propIdx[e.GetIndex()], r.reqID)
				n.emit(Event{Kind: KindProposal, Proposal: &ProposalInfo{Phase: "appended", ReqID: r.reqID, Command: c.String(), Index: e.GetIndex()}})
			}
		case pb.EntryConfChange, pb.EntryConfChangeV2:
			cc, err := unmarshalConfChange(e)
			if err != nil {
				continue
			}
			if r, ok := decodeContext(cc.GetContext()); ok && r.proposer == n.id {
				if p := n.ccs[r.reqID]; p != nil {
					p.index = e.GetIndex()
					n.ccChecks = slices.DeleteFunc(n.ccChecks, func(id uint64) bool { return id == r.reqID })
				}
			}
		}
	}
	// A conf change proposed while leader that is not among the entries
	// raft appended was replaced by an empty entry (raft#354).
	for _, id := range n.ccChecks {
		if p := n.ccs[id]; p != nil && p.index == 0 {
			delete(n.ccs, id)
			out.Results = append(out.Results, Result{ReqID: id, Err: ErrConfChangeIgnored})
			n.emit(Event{Kind: KindConfChange, ConfChange: &ConfChangeInfo{Phase: "refused", Changes: describeChanges(p.cc), ReqID: id, Reason: "raft ignored it: another change is pending or the joint state does not allow it"}})
		}
	}
	n.ccChecks = n.ccChecks[:0]
}

// noteOutgoing emits what the released messages mean for people: votes asked
// and given, snapshots sent, leadership handed over.
func (n *Node) noteOutgoing(msgs []*pb.Message) {
	if n.sink == nil {
		return
	}
	for _, m := range msgs {
		switch m.GetType() {
		case pb.MsgVote, pb.MsgPreVote:
			n.emit(Event{Kind: KindVote, Vote: &VoteInfo{Decision: "requested", Candidate: n.id, Voter: m.GetTo(), Term: m.GetTerm(), Pre: m.GetType() == pb.MsgPreVote}})
		case pb.MsgVoteResp, pb.MsgPreVoteResp:
			d := "granted"
			if m.GetReject() {
				d = "rejected"
			}
			n.emit(Event{Kind: KindVote, Vote: &VoteInfo{Decision: d, Candidate: m.GetTo(), Voter: n.id, Term: m.GetTerm(), Pre: m.GetType() == pb.MsgPreVoteResp}})
		case pb.MsgSnap:
			s := m.GetSnapshot()
			md := s.GetMetadata()
			n.emit(Event{Kind: KindSnapshot, Snapshot: &SnapshotInfo{Phase: "sent", Index: md.GetIndex(), Term: md.GetTerm(), Peer: m.GetTo(), Size: len(s.GetData()), ConfState: storage.DescribeConfState(md.GetConfState())}})
		case pb.MsgTimeoutNow:
			n.emit(Event{Kind: KindTransfer, Transfer: &TransferInfo{Phase: "timeoutNow", From: n.id, To: m.GetTo()}})
		}
	}
}

// snapshotApplied updates the member after a snapshot replaced its log and
// state machine (the Save batch did both).
func (n *Node) snapshotApplied(s *pb.Snapshot, out *Output) {
	md := s.GetMetadata()
	n.applied, n.snapIndex = md.GetIndex(), md.GetIndex()
	n.confState = md.GetConfState()
	n.emit(Event{Kind: KindSnapshot, Snapshot: &SnapshotInfo{Phase: "applied", Index: md.GetIndex(), Term: md.GetTerm(), Size: len(s.GetData()), ConfState: storage.DescribeConfState(md.GetConfState())}})
	// Proposals appended at or below the snapshot may have been applied by
	// the cluster; this member cannot tell.
	var unknown []Result
	for idx, ids := range n.propIdx {
		if idx > md.GetIndex() {
			continue
		}
		delete(n.propIdx, idx)
		for _, id := range ids {
			if n.props[id] != nil {
				delete(n.props, id)
				unknown = append(unknown, Result{ReqID: id, Index: idx, Err: ErrUnknownOutcome})
			}
		}
	}
	// Map order must not decide the order of answers.
	slices.SortFunc(unknown, func(a, b Result) int { return compareUint64(a.ReqID, b.ReqID) })
	out.Results = append(out.Results, unknown...)
}

// failUnreadyReads fails the reads still waiting for a read index: raft
// drops them when the term or leader changes (a leader stepping down forgets
// its pending read requests; a forwarded one is lost with the old leader).
// Reads that have their index stay valid and are served once applied.
func (n *Node) failUnreadyReads(out *Output) {
	kept := n.reads[:0]
	for _, p := range n.reads {
		if p.ready {
			kept = append(kept, p)
			continue
		}
		out.Results = append(out.Results, Result{ReqID: p.reqID, Err: ErrLeaderChanged})
		n.emit(Event{Kind: KindRead, Read: &ReadInfo{Phase: "failed", ReqID: p.reqID, Key: p.key, Error: ErrLeaderChanged.Error()}})
	}
	clear(n.reads[len(kept):])
	n.reads = kept
}

func compareUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// noteProgress emits the leader's view of each follower that changed.
//
// It runs after every Ready a leader handles, so it reads the progress in
// place (RawNode.WithProgress) rather than through raft.Status, which copies
// every follower's in-flight window and the configuration: at one client
// that copy was 12% of everything a leader allocated. WithProgress leaves
// out the in-flight count; inflightFromProgress tells it whenever it can,
// and Status is asked only when it cannot (several appends in flight).
func (n *Node) noteProgress() {
	if n.role != raft.StateLeader {
		return
	}
	infos := n.progressScratch[:0]
	counted := true
	// Visited in order of id.
	n.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id == n.id {
			return
		}
		info := progressInfo(id, pr)
		var ok bool
		if info.Inflight, ok = inflightFromProgress(pr); !ok {
			counted = false
		}
		infos = append(infos, info)
	})
	n.progressScratch = infos
	if !counted {
		st := n.rn.Status()
		for i := range infos {
			if pr, ok := st.Progress[infos[i].Peer]; ok && pr.Inflights != nil {
				infos[i].Inflight = pr.Inflights.Count()
			}
		}
	}
	for _, info := range infos {
		if old, ok := n.progress[info.Peer]; !ok || old != info {
			n.progress[info.Peer] = info
			n.emit(Event{Kind: KindProgress, Progress: &info})
		}
	}
}

// inflightFromProgress returns how many appends to a follower raft counts as
// in flight (thesis §10.2.1, pipelining), when its progress alone tells: a
// follower not in StateReplicate has none (raft empties the window on every
// change of state, and counts appends only while replicating); a replicating
// one has one for each append that carried entries past Match, each counted
// at its last index, which raft frees once Match reaches it, and the last of
// which is Next-1. So with Next-1 == Match none is in flight, and with
// Next-1 == Match+1 exactly one. With more entries unacknowledged the
// appends may have carried them one by one or together: ok is false.
// TestInflightFromProgress holds this against raft's own count.
func inflightFromProgress(pr tracker.Progress) (count int, ok bool) {
	if pr.State != tracker.StateReplicate || pr.Next <= pr.Match+1 {
		return 0, true
	}
	if pr.Next == pr.Match+2 {
		return 1, true
	}
	return 0, false
}

// progressInfo is the event form of raft's view of follower id.
func progressInfo(id uint64, pr tracker.Progress) ProgressInfo {
	info := ProgressInfo{
		Peer:            id,
		Match:           pr.Match,
		Next:            pr.Next,
		RecentActive:    pr.RecentActive,
		Paused:          pr.MsgAppFlowPaused,
		PendingSnapshot: pr.PendingSnapshot,
		Learner:         pr.IsLearner,
	}
	switch pr.State {
	case tracker.StateProbe:
		info.State = "probe"
	case tracker.StateReplicate:
		info.State = "replicate"
	case tracker.StateSnapshot:
		info.State = "snapshot"
	}
	// Nil under RawNode.WithProgress (noteProgress counts it then).
	if pr.Inflights != nil {
		info.Inflight = pr.Inflights.Count()
	}
	return info
}

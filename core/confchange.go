package core

import (
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/confchange"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/raftlab/raftlab/storage"
)

// Membership changes (§6, thesis §4.3) go through raft's ConfChangeV2: one
// voter added or removed at a time is a simple change; anything more enters
// a joint configuration (both old and new majorities must agree), which raft
// leaves by itself with an empty change.

// ParseConfChanges parses raft's notation: "v4" adds voter 4, "l5" adds
// learner 5 (or demotes), "r2" removes 2, "u3" updates 3; several changes
// separated by spaces enter joint consensus. "" leaves a joint state.
func ParseConfChanges(s string) (*pb.ConfChangeV2, error) {
	ccs, err := pb.ConfChangesFromString(s)
	if err != nil {
		return nil, fmt.Errorf("core: conf change %q: %w", s, err)
	}
	for _, c := range ccs {
		if c.GetNodeId() == 0 {
			return nil, fmt.Errorf("core: conf change %q: member id 0", s)
		}
	}
	return &pb.ConfChangeV2{Changes: ccs}, nil
}

// ProposeConfChange proposes a membership change on the leader. urls gives
// the address of members it adds (may be nil); every member records them
// when it applies the change. The answer is a Result with reqID once it is
// applied, or an error: now if the change is invalid against the current
// configuration, later if raft ignored it.
func (n *Node) ProposeConfChange(reqID uint64, cc *pb.ConfChangeV2, urls map[uint64]string) (err error) {
	if n.stopped != nil {
		return n.stopped
	}
	if n.role != raft.StateLeader {
		if n.lead == 0 {
			return ErrNoLeader
		}
		return fmt.Errorf("%w (leader is %d)", ErrNotLeader, n.lead)
	}
	if _, dup := n.ccs[reqID]; dup {
		return ErrDuplicateRequest
	}
	refuse := func(err error) error {
		n.emit(Event{Kind: KindConfChange, ConfChange: &ConfChangeInfo{Phase: "refused", Changes: describeChanges(cc), ReqID: reqID, Reason: err.Error()}})
		return err
	}
	for _, p := range n.ccs {
		if p.index == 0 || p.index > n.applied {
			return refuse(fmt.Errorf("%w: another conf change is pending", ErrConfChangeIgnored))
		}
	}
	if err := checkConfChange(n.confState, cc); err != nil {
		return refuse(err)
	}
	for id, u := range urls {
		if id == 0 || len(u) > MaxURLBytes {
			return fmt.Errorf("core: conf change: bad address for member %d", id)
		}
	}
	defer n.guard(&err)
	cc = proto.Clone(cc).(*pb.ConfChangeV2)
	cc.Context = encodeConfContext(request{n.id, reqID}, urls)
	if err := n.rn.ProposeConfChange(cc); err != nil {
		return err
	}
	n.ccs[reqID] = &pendingCC{cc: cc}
	n.ccChecks = append(n.ccChecks, reqID)
	n.emit(Event{Kind: KindConfChange, ConfChange: &ConfChangeInfo{Phase: "proposed", Changes: describeChanges(cc), ReqID: reqID}})
	return nil
}

// checkConfChange returns why cc cannot apply to the configuration cs, or
// nil. raft panics when it applies an invalid change, so every change is
// checked before it is proposed and again before it is applied.
func checkConfChange(cs *pb.ConfState, cc *pb.ConfChangeV2) error {
	chg := confchange.Changer{Tracker: tracker.MakeProgressTracker(1, 0), LastIndex: 1}
	cfg, prs, err := confchange.Restore(chg, cs)
	if err != nil {
		return fmt.Errorf("core: current configuration: %w", err)
	}
	chg.Tracker.Config, chg.Tracker.Progress = cfg, prs
	joint := len(cs.GetVotersOutgoing()) > 0
	switch autoLeave, enter := cc.EnterJoint(); {
	case cc.LeaveJoint():
		if !joint {
			return errors.New("core: conf change: not in a joint configuration")
		}
		_, _, err = chg.LeaveJoint()
	case joint:
		return errors.New("core: conf change: leave the joint configuration first")
	case enter:
		_, _, err = chg.EnterJoint(autoLeave, cc.GetChanges()...)
	default:
		_, _, err = chg.Simple(cc.GetChanges()...)
	}
	if err != nil {
		return fmt.Errorf("core: conf change %s: %w", describeChanges(cc), err)
	}
	return nil
}

// Bootstrap makes store the first log of a new cluster whose voters are
// voters: a snapshot at index 1, term 1, holding that membership and a state
// machine with only the members' addresses (urls, may be nil). It does
// nothing to a store that already holds a log, so existing data wins over a
// cluster list given again at restart (as in etcd). It reports whether it
// wrote anything.
func Bootstrap(store *storage.Store, voters []uint64, urls map[uint64]string) (bool, error) {
	if last, _ := store.LastIndex(); last > 0 || store.HardState().GetTerm() > 0 {
		return false, nil
	}
	if len(voters) == 0 {
		return false, errors.New("core: bootstrap needs at least one voter")
	}
	seen := map[uint64]bool{}
	for _, v := range voters {
		if v == 0 || seen[v] {
			return false, fmt.Errorf("core: bootstrap: bad or repeated member id %d", v)
		}
		seen[v] = true
	}
	var body []byte
	var n uint64
	sorted := slices.Sorted(slices.Values(voters))
	for _, id := range sorted {
		if u, ok := urls[id]; ok {
			body = appendPair(body, storage.MemberKey(id), []byte(u))
			n++
		}
	}
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{
		Index:     new(uint64(1)),
		Term:      new(uint64(1)),
		ConfState: &pb.ConfState{Voters: sorted, AutoLeave: new(false)},
	}, Data: finishSnapshotData(n, body)}
	hs := &pb.HardState{Term: new(uint64(1)), Commit: new(uint64(1)), Vote: new(uint64(0))}
	// The snapshot's data is written to the state machine in its batch.
	store.SetRestorer(kvRestorer(store.Engine(), nil))
	if err := store.Save(hs, nil, snap, true); err != nil {
		return false, err
	}
	return true, nil
}

package core

import (
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/storage"
)

// Status is a member's state as the cluster API and the UI show it.
type Status struct {
	ID             uint64                 `json:"id"`
	Role           string                 `json:"role"`
	Term           uint64                 `json:"term"`
	Vote           uint64                 `json:"vote"`
	Lead           uint64                 `json:"lead"`
	Commit         uint64                 `json:"commit"`
	Applied        uint64                 `json:"applied"`
	FirstIndex     uint64                 `json:"firstIndex"`
	LastIndex      uint64                 `json:"lastIndex"`
	SnapshotIndex  uint64                 `json:"snapshotIndex"`
	ConfState      storage.ConfStateValue `json:"confState"`
	LeadTransferee uint64                 `json:"leadTransferee,omitempty"`
	// Members lists every member of the configuration with its address.
	Members []Member `json:"members"`
	// Progress is the leader's view of every other member, by id.
	Progress []ProgressInfo `json:"progress,omitempty"`
	Stopped  string         `json:"stopped,omitempty"`
}

// Member is one member of the configuration.
type Member struct {
	ID uint64 `json:"id"`
	// URL is where peers and clients reach it ("" if never given).
	URL string `json:"url"`
	// Role is "voter", "learner", or "outgoing" (a voter of the old
	// configuration only, during joint consensus).
	Role string `json:"role"`
}

// Members returns the members of the configuration as of the applied index,
// by id, with their addresses.
func (n *Node) Members() []Member {
	urls := map[uint64]string{}
	p := []byte(storage.MembersPrefix)
	_ = n.store.Engine().Scan(p, prefixEnd(p), func(k, v []byte) error {
		if id, ok := storage.MemberKeyID(k); ok {
			urls[id] = string(v)
		}
		return nil
	})
	var out []Member
	add := func(ids []uint64, role string) {
		for _, id := range ids {
			if !slices.ContainsFunc(out, func(m Member) bool { return m.ID == id }) {
				out = append(out, Member{ID: id, URL: urls[id], Role: role})
			}
		}
	}
	cs := n.confState
	add(cs.GetVoters(), "voter")
	add(cs.GetLearners(), "learner")
	add(cs.GetLearnersNext(), "learner")
	add(cs.GetVotersOutgoing(), "outgoing")
	slices.SortFunc(out, func(a, b Member) int { return compareUint64(a.ID, b.ID) })
	return out
}

// Status returns the member's current state.
func (n *Node) Status() Status {
	first, _ := n.store.FirstIndex()
	last, _ := n.store.LastIndex()
	s := Status{
		ID:            n.id,
		Applied:       n.applied,
		FirstIndex:    first,
		LastIndex:     last,
		SnapshotIndex: n.snapIndex,
		ConfState:     storage.DescribeConfState(n.confState),
		Members:       n.Members(),
	}
	if n.stopped != nil {
		s.Stopped = n.stopped.Error()
		s.Role = "stopped"
		return s
	}
	st := n.rn.Status()
	s.Role = roleName(st.RaftState)
	s.Term, s.Vote, s.Commit = st.GetTerm(), st.GetVote(), st.GetCommit()
	s.Lead, s.LeadTransferee = st.Lead, st.LeadTransferee
	if st.RaftState == raft.StateLeader {
		for id, pr := range st.Progress {
			if id == n.id {
				continue
			}
			s.Progress = append(s.Progress, progressInfo(id, pr))
		}
		slices.SortFunc(s.Progress, func(a, b ProgressInfo) int { return compareUint64(a.Peer, b.Peer) })
	}
	return s
}

// ConfState returns the membership as of the applied index. The caller must
// not modify it; it is replaced, never changed, when membership changes.
func (n *Node) ConfState() *pb.ConfState { return n.confState }

// Applied returns the index of the last entry applied.
func (n *Node) Applied() uint64 { return n.applied }

// Term returns the member's current term.
func (n *Node) Term() uint64 { return n.term }

// Lead returns the leader the member knows of, 0 for none.
func (n *Node) Lead() uint64 { return n.lead }

// IsLeader reports whether the member leads.
func (n *Node) IsLeader() bool { return n.stopped == nil && n.role == raft.StateLeader }

package storage

import (
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"
)

// KeyChange reports one key written or deleted by a Store, with its value
// decoded for people. Observers receive them in the order of the batch,
// after the batch was applied.
type KeyChange struct {
	// Key as DisplayKey renders it (/raft/entry/12, /kv/name).
	Key string `json:"key"`
	// Deleted is true for a delete; Value is then nil.
	Deleted bool `json:"deleted,omitempty"`
	// Value is one of the *Value types of this file, or a string for a key
	// of the state machine.
	Value any `json:"value,omitempty"`
	// Synced is true when the batch was synced: such a write survives a
	// crash; an unsynced one may not.
	Synced bool `json:"synced"`
}

// Observer receives every key change of a Store.
type Observer func(KeyChange)

// EntryDescriber renders the data of a normal entry for people, for example
// "put x=1". The Store uses a byte count when none is set.
type EntryDescriber func(e *pb.Entry) string

// FirstIndexValue is the decoded /raft/first_index.
type FirstIndexValue struct {
	Index    uint64 `json:"index"`
	PrevTerm uint64 `json:"prevTerm"`
}

// LastIndexValue is the decoded /raft/last_index.
type LastIndexValue struct {
	Index uint64 `json:"index"`
}

// HardStateValue is the decoded /raft/hard_state.
type HardStateValue struct {
	Term   uint64 `json:"term"`
	Vote   uint64 `json:"vote"`
	Commit uint64 `json:"commit"`
}

// ConfStateValue is the decoded /raft/conf_state, and the ConfState of a
// snapshot.
type ConfStateValue struct {
	Voters         []uint64 `json:"voters"`
	Learners       []uint64 `json:"learners,omitempty"`
	VotersOutgoing []uint64 `json:"votersOutgoing,omitempty"`
	LearnersNext   []uint64 `json:"learnersNext,omitempty"`
	AutoLeave      bool     `json:"autoLeave,omitempty"`
}

// EntryValue is a decoded /raft/entry/{idx}.
type EntryValue struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	// Type is "normal", "confChange" or "confChangeV2".
	Type string `json:"type"`
	// Size is the length of the entry's data in bytes.
	Size int `json:"size"`
	// Data describes the data: the command, the conf change, or "" for an
	// empty entry (a new leader's no-op, §8).
	Data string `json:"data,omitempty"`
}

// UncommitValue is the decoded /raft/uncommit_index: the range
// (applied, last].
type UncommitValue struct {
	Applied uint64 `json:"applied"`
	Last    uint64 `json:"last"`
}

// SnapshotValue is the decoded /raft/snapshot, without the data itself.
type SnapshotValue struct {
	Index     uint64         `json:"index"`
	Term      uint64         `json:"term"`
	ConfState ConfStateValue `json:"confState"`
	Size      int            `json:"size"`
}

// DescribeConfState returns the decoded form of cs.
func DescribeConfState(cs *pb.ConfState) ConfStateValue {
	return ConfStateValue{
		Voters:         nonNil(cs.GetVoters()),
		Learners:       cs.GetLearners(),
		VotersOutgoing: cs.GetVotersOutgoing(),
		LearnersNext:   cs.GetLearnersNext(),
		AutoLeave:      cs.GetAutoLeave(),
	}
}

func nonNil(s []uint64) []uint64 {
	if s == nil {
		return []uint64{}
	}
	return s
}

// DescribeEntry returns the decoded form of e, describing its data with d
// (nil for a byte count).
func DescribeEntry(e *pb.Entry, d EntryDescriber) EntryValue {
	v := EntryValue{Index: e.GetIndex(), Term: e.GetTerm(), Size: len(e.GetData())}
	switch e.GetType() {
	case pb.EntryConfChange:
		v.Type = "confChange"
	case pb.EntryConfChangeV2:
		v.Type = "confChangeV2"
	default:
		v.Type = "normal"
	}
	switch {
	case d != nil:
		v.Data = d(e)
	case len(e.GetData()) > 0:
		v.Data = fmt.Sprintf("%d bytes", len(e.GetData()))
	}
	return v
}

// DescribeHardState returns the decoded form of hs.
func DescribeHardState(hs *pb.HardState) HardStateValue {
	return HardStateValue{Term: hs.GetTerm(), Vote: hs.GetVote(), Commit: hs.GetCommit()}
}

// DescribeSnapshot returns the decoded form of s, without its data.
func DescribeSnapshot(s *pb.Snapshot) SnapshotValue {
	md := s.GetMetadata()
	return SnapshotValue{Index: md.GetIndex(), Term: md.GetTerm(), ConfState: DescribeConfState(md.GetConfState()), Size: len(s.GetData())}
}

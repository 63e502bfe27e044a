package core

import (
	"strings"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlab/raftlab/storage"
)

// msgTypeNames are the wire names of raft's message types as events carry
// them: stable strings, not protobuf's String(), whose format varies.
var msgTypeNames = map[pb.MessageType]string{
	pb.MsgHup:               "MsgHup",
	pb.MsgBeat:              "MsgBeat",
	pb.MsgProp:              "MsgProp",
	pb.MsgApp:               "MsgApp",
	pb.MsgAppResp:           "MsgAppResp",
	pb.MsgVote:              "MsgVote",
	pb.MsgVoteResp:          "MsgVoteResp",
	pb.MsgSnap:              "MsgSnap",
	pb.MsgHeartbeat:         "MsgHeartbeat",
	pb.MsgHeartbeatResp:     "MsgHeartbeatResp",
	pb.MsgUnreachable:       "MsgUnreachable",
	pb.MsgSnapStatus:        "MsgSnapStatus",
	pb.MsgCheckQuorum:       "MsgCheckQuorum",
	pb.MsgTransferLeader:    "MsgTransferLeader",
	pb.MsgTimeoutNow:        "MsgTimeoutNow",
	pb.MsgReadIndex:         "MsgReadIndex",
	pb.MsgReadIndexResp:     "MsgReadIndexResp",
	pb.MsgPreVote:           "MsgPreVote",
	pb.MsgPreVoteResp:       "MsgPreVoteResp",
	pb.MsgStorageAppend:     "MsgStorageAppend",
	pb.MsgStorageAppendResp: "MsgStorageAppendResp",
	pb.MsgStorageApply:      "MsgStorageApply",
	pb.MsgStorageApplyResp:  "MsgStorageApplyResp",
	pb.MsgForgetLeader:      "MsgForgetLeader",
}

// MsgTypeName returns the stable name of a message type.
func MsgTypeName(t pb.MessageType) string {
	if s, ok := msgTypeNames[t]; ok {
		return s
	}
	return "MsgUnknown"
}

// maxDescribedEntries caps the entries a message event lists; the count is
// still exact through Index and the size.
const maxDescribedEntries = 16

// DescribeMessage returns the event form of m with the given id. It does
// not keep m.
func DescribeMessage(id uint64, m *pb.Message) *MsgInfo {
	info := &MsgInfo{
		ID:         id,
		Type:       MsgTypeName(m.GetType()),
		From:       m.GetFrom(),
		To:         m.GetTo(),
		Term:       m.GetTerm(),
		LogTerm:    m.GetLogTerm(),
		Index:      m.GetIndex(),
		Commit:     m.GetCommit(),
		Vote:       m.GetVote(),
		Reject:     m.GetReject(),
		RejectHint: m.GetRejectHint(),
		Size:       proto.Size(m),
	}
	if ents := m.GetEntries(); len(ents) > 0 {
		ents = ents[:min(len(ents), maxDescribedEntries)]
		info.Entries = make([]storage.EntryValue, len(ents))
		for i, e := range ents {
			info.Entries[i] = storage.DescribeEntry(e, DescribeEntryData)
		}
	}
	if s := m.GetSnapshot(); s != nil && !raft.IsEmptySnap(s) {
		v := storage.DescribeSnapshot(s)
		info.Snapshot = &v
	}
	return info
}

// DescribeEntryData renders an entry's data for people: the command of a
// normal entry, the changes of a conf change, "" for an empty entry.
func DescribeEntryData(e *pb.Entry) string {
	data := e.GetData()
	switch e.GetType() {
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if proto.Unmarshal(data, &cc) != nil {
			return "undecodable conf change"
		}
		return "conf change " + describeChanges(cc.AsV2())
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if proto.Unmarshal(data, &cc) != nil {
			return "undecodable conf change"
		}
		return "conf change " + describeChanges(&cc)
	}
	if len(data) == 0 {
		return ""
	}
	_, c, err := decodeCommand(data)
	if err != nil {
		return "undecodable command"
	}
	return c.String()
}

// describeChanges renders a ConfChangeV2 in raft's notation ("v2 l3 r4"),
// "leave joint" for the empty change that ends a joint configuration.
func describeChanges(cc *pb.ConfChangeV2) string {
	if len(cc.GetChanges()) == 0 {
		return "leave joint"
	}
	s := pb.ConfChangesToString(cc.GetChanges())
	if cc.GetTransition() == pb.ConfChangeTransitionJointExplicit {
		s += " (joint, explicit leave)"
	}
	return strings.TrimSpace(s)
}

// roleName returns the event name of a raft state.
func roleName(s raft.StateType) string {
	switch s {
	case raft.StateFollower:
		return "follower"
	case raft.StateCandidate:
		return "candidate"
	case raft.StatePreCandidate:
		return "preCandidate"
	case raft.StateLeader:
		return "leader"
	}
	return "unknown"
}

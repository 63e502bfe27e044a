package core

import (
	pb "go.etcd.io/raft/v3/raftpb"
)

// A snapshot this member takes records only where it stands (index, term,
// membership): the state machine in the engine, under /kv/ and /members/,
// is the snapshot's data, as in etcd and in the thesis's disk-based state
// machines (§5.2). Copying the whole map into /raft/snapshot every
// SnapshotEntries entries costs time and disk in proportion to the map at
// every snapshot, and stalls the member while it copies.
//
// The data is made only when a follower needs it: fillSnapshots gives each
// MsgSnap raft is about to send a snapshot of the state machine as it is
// now, at the applied index, with that entry's term and the membership as
// of it (etcd's merged snapshot). It is newer than the one raft chose, which
// raft allows: the follower acknowledges the later index, and the leader
// replicates from there; every entry after the applied index is still in
// the log, since the log is never compacted past what was applied.
func (n *Node) fillSnapshots(msgs []*pb.Message) error {
	for _, m := range msgs {
		if m.GetType() != pb.MsgSnap {
			continue
		}
		snap, err := n.currentSnapshot()
		if err != nil {
			return err
		}
		m.Snapshot = snap
	}
	return nil
}

// currentSnapshot encodes the state machine at the applied index.
func (n *Node) currentSnapshot() (*pb.Snapshot, error) {
	term, err := n.store.Term(n.applied)
	if err != nil {
		return nil, err
	}
	data, err := kvSnapshot(n.store.Engine())
	if err != nil {
		return nil, err
	}
	return &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{
		Index: new(n.applied), Term: new(term), ConfState: n.confState,
	}}, nil
}

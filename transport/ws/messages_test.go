package ws

import (
	"bytes"
	"encoding/binary"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// wireTypes are the message types that cross the network: every type raft
// has but the local ones.
func wireTypes() []pb.MessageType {
	var ts []pb.MessageType
	for v := range int32(len(pb.MessageType_name)) {
		if t := pb.MessageType(v); !raft.IsLocalMsg(t) {
			ts = append(ts, t)
		}
	}
	return ts
}

// localTypes are raft's local message types.
func localTypes() []pb.MessageType {
	var ts []pb.MessageType
	for v := range int32(len(pb.MessageType_name)) {
		if t := pb.MessageType(v); raft.IsLocalMsg(t) {
			ts = append(ts, t)
		}
	}
	return ts
}

// sampleMessage returns a message of type t from -> to whose fields vary
// with seq, filled the way raft fills that type.
func sampleMessage(t pb.MessageType, from, to, seq uint64) *pb.Message {
	m := &pb.Message{Type: t.Enum(), From: new(from), To: new(to), Term: new(seq%7 + 1)}
	switch t {
	case pb.MsgProp, pb.MsgReadIndex, pb.MsgForgetLeader:
		// Forwarded by a follower with Term 0: raft treats it as local on
		// arrival, so the transport must keep the 0, not drop the field.
		m.Term = new(uint64(0))
	}
	switch t {
	case pb.MsgApp, pb.MsgProp:
		m.Index, m.LogTerm, m.Commit = new(seq*3), new(seq%7), new(seq*2)
		for i := range seq%4 + 1 {
			m.Entries = append(m.Entries, &pb.Entry{
				Term: new(seq%7 + 1), Index: new(seq*3 + i + 1), Type: pb.EntryNormal.Enum(),
				Data: bytes.Repeat([]byte{byte(seq), byte(i)}, int(seq%50)),
			})
		}
		if seq%5 == 0 {
			m.Entries = append(m.Entries, &pb.Entry{Term: new(uint64(1)), Index: new(seq*3 + 9), Type: pb.EntryConfChangeV2.Enum()})
		}
	case pb.MsgAppResp:
		m.Index = new(seq * 3)
		if seq%3 == 0 {
			m.Reject, m.RejectHint, m.LogTerm = new(true), new(seq), new(seq%7)
		}
	case pb.MsgVote, pb.MsgPreVote:
		m.Index, m.LogTerm = new(seq), new(seq%7)
		if seq%2 == 0 {
			m.Context = []byte("CampaignTransfer")
		}
	case pb.MsgVoteResp, pb.MsgPreVoteResp:
		m.Reject = new(seq%2 == 0)
	case pb.MsgSnap:
		m.Snapshot = &pb.Snapshot{
			Data: bytes.Repeat([]byte("snap"), int(seq%100)+1),
			Metadata: &pb.SnapshotMetadata{
				Index: new(seq * 10), Term: new(seq%7 + 1),
				ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}},
			},
		}
	case pb.MsgHeartbeat:
		m.Commit = new(seq)
		m.Context = binary.BigEndian.AppendUint64(nil, seq)
	case pb.MsgHeartbeatResp:
		m.Context = binary.BigEndian.AppendUint64(nil, seq)
	case pb.MsgReadIndexResp:
		m.Index = new(seq)
		m.Entries = []*pb.Entry{{Data: binary.BigEndian.AppendUint64(nil, seq)}}
	case pb.MsgReadIndex:
		m.Entries = []*pb.Entry{{Data: binary.BigEndian.AppendUint64(nil, seq)}}
	}
	return m
}

// mustMarshal marshals m, for tests that build frames by hand.
func mustMarshal(m *pb.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// rawFrame builds frame bytes by hand, so tests can write what EncodeFrame
// refuses to.
func rawFrame(cluster, from, to uint64, count uint32, parts ...rawPart) []byte {
	b := []byte{'R', 'L', FrameVersion, 0}
	b = binary.BigEndian.AppendUint64(b, cluster)
	b = binary.BigEndian.AppendUint64(b, from)
	b = binary.BigEndian.AppendUint64(b, to)
	b = binary.BigEndian.AppendUint32(b, count)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint64(b, p.id)
		n := uint32(len(p.data))
		if p.length != nil {
			n = *p.length
		}
		b = binary.BigEndian.AppendUint32(b, n)
		b = append(b, p.data...)
	}
	return b
}

type rawPart struct {
	id     uint64
	data   []byte
	length *uint32 // overrides len(data)
}

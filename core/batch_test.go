package core

import (
	"errors"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// batchingNet is a testNet whose members queue proposals
// (Config.BatchProposals), as core/live's are.
func batchingNet(t *testing.T) *testNet {
	net := newTestNet(t, 1, 2, 3)
	for _, n := range net.nodes {
		n.cfg.BatchProposals = true
	}
	return net
}

// TestBatchedProposalsOneAppend: writes queued on the leader go to raft in
// one proposal, so each follower gets one append carrying all of them, and
// every write is answered; writes queued on a follower are forwarded in
// one message.
func TestBatchedProposalsOneAppend(t *testing.T) {
	net := batchingNet(t)
	net.elect(1)
	for id := uint64(1); id <= 5; id++ {
		if err := net.nodes[1].Propose(id, Command{Op: OpPut, Key: "k", Value: []byte{byte(id)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := net.nodes[1].Propose(3, Command{Op: OpPut, Key: "k", Value: []byte("x")}); !errors.Is(err, ErrDuplicateRequest) {
		t.Fatalf("a duplicate of a queued request: %v, want ErrDuplicateRequest", err)
	}
	if failed := net.nodes[1].FlushProposals(); len(failed) != 0 {
		t.Fatalf("flush on the leader failed %+v", failed)
	}
	net.ready(1)
	apps := 0
	for _, m := range net.queue {
		if m.GetType() == pb.MsgApp {
			apps++
			if len(m.GetEntries()) != 5 {
				t.Fatalf("an append to %d carries %d entries, want the 5 writes", m.GetTo(), len(m.GetEntries()))
			}
		}
	}
	if apps != 2 {
		t.Fatalf("%d appends for 5 writes, want one per follower", apps)
	}
	net.deliver(nil)
	for id := uint64(1); id <= 5; id++ {
		if r, ok := net.results[id]; !ok || r.Err != nil {
			t.Fatalf("write %d: %+v %v", id, r, ok)
		}
	}

	for id := uint64(10); id < 13; id++ {
		if err := net.nodes[2].Propose(id, Command{Op: OpPut, Key: "f", Value: []byte{byte(id)}}); err != nil {
			t.Fatal(err)
		}
	}
	net.nodes[2].FlushProposals()
	net.ready(2)
	if len(net.queue) != 1 || net.queue[0].GetType() != pb.MsgProp || len(net.queue[0].GetEntries()) != 3 {
		t.Fatalf("a follower forwarded %d messages for 3 writes, want one MsgProp of 3: %v", len(net.queue), net.queue)
	}
	net.deliver(nil)
	for id := uint64(10); id < 13; id++ {
		if r, ok := net.results[id]; !ok || r.Err != nil {
			t.Fatalf("write %d through a follower: %+v %v", id, r, ok)
		}
	}
}

// TestBatchedProposalsRefusedTogether: raft drops a proposal message whole
// (here: no leader); every queued write gets its own failed answer, with
// the error an unbatched Propose returns, and a write whose proposer gave
// up before the flush is not proposed.
func TestBatchedProposalsRefusedTogether(t *testing.T) {
	net := batchingNet(t)
	n := net.nodes[1]
	for id := uint64(1); id <= 3; id++ {
		if err := n.Propose(id, Command{Op: OpPut, Key: "k", Value: []byte("v")}); err != nil {
			t.Fatalf("queueing a write: %v", err)
		}
	}
	n.Cancel(2)
	failed := n.FlushProposals()
	if len(failed) != 2 || failed[0].ReqID != 1 || failed[1].ReqID != 3 {
		t.Fatalf("failed %+v, want requests 1 and 3 (2 was cancelled)", failed)
	}
	for _, r := range failed {
		if !errors.Is(r.Err, ErrNoLeader) {
			t.Fatalf("request %d: %v, want ErrNoLeader", r.ReqID, r.Err)
		}
	}
	if n.pending() != 0 {
		t.Fatalf("%d requests still pending after the refusal", n.pending())
	}
	if failed := n.FlushProposals(); len(failed) != 0 {
		t.Fatalf("a second flush failed %+v again", failed)
	}
}

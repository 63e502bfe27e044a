package core

import (
	"errors"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/storage"
	"github.com/raftlab/raftlab/storage/memory"
)

// testNet is a hand-driven cluster for unit tests: messages wait in a queue
// until the test delivers them, so a test can stop a message anywhere.
type testNet struct {
	t       *testing.T
	nodes   map[uint64]*Node
	engines map[uint64]*memory.Engine
	queue   []*pb.Message
	results map[uint64]Result
	down    map[uint64]bool
	// crashes lets a member stop (a test's crash point) without failing
	// the test.
	crashes bool
	// pipelined makes ready use HandleReadyEarly, as core/live does.
	pipelined bool
	// onAnswer, when set, is HandleReadyEarly's answer (with pipelined):
	// it sees the results answered before a Ready's write.
	onAnswer func(id uint64, rs []Result)
}

func newTestNet(t *testing.T, ids ...uint64) *testNet {
	net := &testNet{t: t, nodes: map[uint64]*Node{}, engines: map[uint64]*memory.Engine{}, results: map[uint64]Result{}, down: map[uint64]bool{}}
	for _, id := range ids {
		e := memory.New()
		store, err := storage.Open(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Bootstrap(store, ids, nil); err != nil {
			t.Fatal(err)
		}
		net.engines[id] = e
		net.start(id, store)
	}
	return net
}

func (net *testNet) start(id uint64, store *storage.Store) {
	n, err := NewNode(Config{ID: id, ElectionTicks: 10, SnapshotEntries: 0, CatchUpEntries: 2}, store)
	if err != nil {
		net.t.Fatal(err)
	}
	net.nodes[id] = n
	delete(net.down, id)
}

// crash loses what id did not sync, and restarts it from its engine.
func (net *testNet) crashRestart(id uint64) {
	e := net.engines[id]
	e.Crash()
	store, err := storage.Open(e)
	if err != nil {
		net.t.Fatal(err)
	}
	net.start(id, store)
}

// ready handles every Ready of id and queues its messages.
func (net *testNet) ready(id uint64) {
	n := net.nodes[id]
	for n.HasReady() {
		var early func([]*pb.Message)
		if net.pipelined {
			early = func(msgs []*pb.Message) { net.queue = append(net.queue, msgs...) }
		}
		var answer func([]Result)
		if net.pipelined && net.onAnswer != nil {
			answer = func(rs []Result) {
				net.onAnswer(id, rs)
				for _, r := range rs {
					net.results[r.ReqID] = r
				}
			}
		}
		out, err := n.HandleReadyEarly(early, answer)
		if err != nil && net.crashes && n.Stopped() != nil {
			return
		}
		if err != nil {
			net.t.Fatal(err)
		}
		net.queue = append(net.queue, out.Messages...)
		for _, r := range out.Results {
			net.results[r.ReqID] = r
		}
	}
}

// deliver hands over queued messages that pass keep, dropping the others,
// until the queue is empty.
func (net *testNet) deliver(keep func(m *pb.Message) bool) {
	net.deliverUntil(keep, func() bool { return false })
}

// deliverUntil delivers like deliver but stops as soon as stop holds.
func (net *testNet) deliverUntil(keep func(m *pb.Message) bool, stop func() bool) {
	for len(net.queue) > 0 && !stop() {
		m := net.queue[0]
		net.queue = net.queue[1:]
		if net.down[m.GetTo()] || net.nodes[m.GetTo()] == nil || (keep != nil && !keep(m)) {
			continue
		}
		_ = net.nodes[m.GetTo()].Step(m)
		net.ready(m.GetTo())
	}
}

func (net *testNet) settle() {
	for id := range net.nodes {
		net.ready(id)
	}
	net.deliver(nil)
}

func (net *testNet) elect(id uint64) {
	if err := net.nodes[id].Campaign(); err != nil {
		net.t.Fatal(err)
	}
	net.ready(id)
	net.deliver(nil)
	if !net.nodes[id].IsLeader() {
		net.t.Fatalf("%d did not win the election", id)
	}
}

func TestProposalAnsweredWithIndex(t *testing.T) {
	net := newTestNet(t, 1, 2, 3)
	net.elect(1)
	if err := net.nodes[2].Propose(7, Command{Op: OpPut, Key: "x", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	net.ready(2)
	net.deliver(nil)
	r, ok := net.results[7]
	if !ok || r.Err != nil || r.Index != 3 {
		t.Fatalf("proposal forwarded from a follower: result %+v (%v), want index 3", r, ok)
	}
	for id, n := range net.nodes {
		v, found, err := n.Get("x")
		if err != nil || !found || string(v) != "1" {
			t.Errorf("member %d: x = %q %v %v", id, v, found, err)
		}
	}
	if err := net.nodes[1].Propose(7, Command{Op: OpPut, Key: "", Value: nil}); err == nil {
		t.Error("an empty key was accepted")
	}
}

// TestConfChangeIgnoredByRaft: a new leader refuses conf changes until it has
// applied its whole log; raft then turns the proposal into an empty entry
// while Propose returns nil (raft#354). The member must say so.
func TestConfChangeIgnoredByRaft(t *testing.T) {
	net := newTestNet(t, 1, 2, 3)
	net.elect(1)
	net.settle()
	// Member 1 replicates a write to 2 and 3 but crashes before anyone
	// learns it committed.
	if err := net.nodes[1].Propose(1, Command{Op: OpPut, Key: "x", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	net.ready(1)
	net.deliver(func(m *pb.Message) bool { return m.GetTo() != 1 })
	net.down[1] = true
	// 2 or 3 wins, with an unapplied entry in its log, once their
	// timers run out (§5.2).
	var lead uint64
	leads := func() bool {
		for _, id := range []uint64{2, 3} {
			if net.nodes[id].IsLeader() {
				lead = id
			}
		}
		return lead != 0
	}
	for i := 0; i < 100 && lead == 0; i++ {
		for _, id := range []uint64{2, 3} {
			_ = net.nodes[id].Tick()
			net.ready(id)
		}
		net.deliverUntil(nil, leads)
	}
	if lead == 0 {
		t.Fatal("no new leader")
	}
	if n := net.nodes[lead]; n.Applied() >= 3 {
		t.Fatalf("the new leader already applied %d; the test needs an unapplied entry", n.Applied())
	}
	cc, err := ParseConfChanges("r1")
	if err != nil {
		t.Fatal(err)
	}
	if err := net.nodes[lead].ProposeConfChange(100, cc, nil); err != nil {
		t.Fatalf("the member's own checks should pass: %v", err)
	}
	net.ready(lead)
	r, ok := net.results[100]
	if !ok || !errors.Is(r.Err, ErrConfChangeIgnored) {
		t.Fatalf("result %+v (%v), want ErrConfChangeIgnored", r, ok)
	}
}

func TestConfChangeCheckedBeforeProposing(t *testing.T) {
	net := newTestNet(t, 1)
	net.elect(1)
	net.settle()
	cc, _ := ParseConfChanges("r1")
	if err := net.nodes[1].ProposeConfChange(1, cc, nil); err == nil {
		t.Fatal("removing the last voter was accepted; raft would panic applying it")
	}
	cc, _ = ParseConfChanges("v2 v3")
	if err := net.nodes[1].ProposeConfChange(2, cc, nil); err != nil {
		t.Fatalf("entering a joint configuration: %v", err)
	}
	cc, _ = ParseConfChanges("v4")
	if err := net.nodes[1].ProposeConfChange(3, cc, nil); err == nil {
		t.Fatal("a second conf change while one is pending was accepted")
	}
	if _, err := ParseConfChanges("x9"); err == nil {
		t.Fatal("nonsense parsed as a conf change")
	}
}

// TestApplyExactlyOnceAcrossCrash: the applied index is written with the
// state machine; when a crash loses both, raft re-delivers the entries and
// they are applied again, once.
func TestApplyExactlyOnceAcrossCrash(t *testing.T) {
	net := newTestNet(t, 1)
	net.elect(1)
	net.settle()
	for i := uint64(1); i <= 3; i++ {
		if err := net.nodes[1].Propose(i, Command{Op: OpPut, Key: "k", Value: []byte{byte('0' + i)}}); err != nil {
			t.Fatal(err)
		}
		net.ready(1)
	}
	if got := net.nodes[1].Applied(); got != 5 {
		t.Fatalf("applied %d, want 5", got)
	}
	// The apply batches were not synced: a crash loses them.
	lostApplied := net.engines[1].Unsynced()
	net.crashRestart(1)
	n := net.nodes[1]
	if lostApplied == 0 || n.Applied() == 5 {
		t.Fatalf("the crash lost nothing (unsynced %d, applied %d); the test needs an unsynced apply", lostApplied, n.Applied())
	}
	before := n.Applied()
	net.elect(1)
	net.settle()
	if n.Applied() < 5 {
		t.Fatalf("applied %d after restart (was %d), want >= 5", n.Applied(), before)
	}
	if v, _, _ := n.Get("k"); string(v) != "3" {
		t.Fatalf("k = %q, want 3", v)
	}
}

// TestForgedHeartbeatStopsMemberWithoutPanic: a heartbeat claiming a commit
// index beyond the log makes raft panic (commitTo). That must reach the
// driver as an error and a stopped member, never as a crash of the process;
// transport authentication keeps such messages out in the first place.
func TestForgedHeartbeatStopsMemberWithoutPanic(t *testing.T) {
	net := newTestNet(t, 1, 2)
	net.elect(1)
	net.settle()
	forged := &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: new(uint64(1)), To: new(uint64(2)), Term: new(net.nodes[1].Term()), Commit: new(uint64(1000))}
	err := net.nodes[2].Step(forged)
	if !errors.Is(err, ErrStopped) || net.nodes[2].Stopped() == nil {
		t.Fatalf("Step = %v, want a stopped member", err)
	}
	if _, err := net.nodes[2].HandleReady(); !errors.Is(err, ErrStopped) {
		t.Fatalf("HandleReady on a stopped member = %v", err)
	}
	if err := net.nodes[1].Step(&pb.Message{Type: pb.MsgApp.Enum(), From: new(uint64(2)), To: new(uint64(3))}); err == nil {
		t.Fatal("a message for another member was accepted")
	}
	if err := net.nodes[1].Step(&pb.Message{Type: pb.MsgHup.Enum(), From: new(uint64(2)), To: new(uint64(1))}); !errors.Is(err, raft.ErrStepLocalMsg) {
		t.Fatalf("a local message type from the network: %v", err)
	}
}

func TestSnapshotCompactsKeepingCatchUp(t *testing.T) {
	net := newTestNet(t, 1)
	net.elect(1)
	net.settle()
	for i := uint64(1); i <= 6; i++ {
		_ = net.nodes[1].Propose(i, Command{Op: OpPut, Key: "k", Value: []byte("v")})
		net.ready(1)
	}
	n := net.nodes[1]
	idx, err := n.Snapshot()
	if err != nil || idx != n.Applied() {
		t.Fatalf("Snapshot = %d, %v; applied %d", idx, err, n.Applied())
	}
	first, _ := n.Store().FirstIndex()
	if first != idx-2+1 {
		t.Fatalf("first index %d after a snapshot at %d keeping 2 entries", first, idx)
	}
	if _, err := n.Snapshot(); !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("a second snapshot with nothing new: %v", err)
	}
}

func TestReadIndexNeedsALeader(t *testing.T) {
	net := newTestNet(t, 1, 2, 3)
	if err := net.nodes[1].ReadIndex(1, "x"); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("ReadIndex without a leader: %v", err)
	}
	net.elect(1)
	net.settle()
	_ = net.nodes[1].Propose(5, Command{Op: OpPut, Key: "x", Value: []byte("9")})
	net.ready(1)
	net.deliver(nil)
	if err := net.nodes[3].ReadIndex(6, "x"); err != nil {
		t.Fatal(err)
	}
	net.ready(3)
	net.deliver(nil)
	r, ok := net.results[6]
	if !ok || r.Err != nil || !r.Found || string(r.Value) != "9" {
		t.Fatalf("read on a follower: %+v %v", r, ok)
	}
}

func TestMemberURLsFollowMembership(t *testing.T) {
	e := memory.New()
	store, err := storage.Open(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Bootstrap(store, []uint64{1}, map[uint64]string{1: "http://127.0.0.1:7001"}); err != nil {
		t.Fatal(err)
	}
	net := &testNet{t: t, nodes: map[uint64]*Node{}, engines: map[uint64]*memory.Engine{1: e}, results: map[uint64]Result{}, down: map[uint64]bool{}}
	net.start(1, store)
	net.elect(1)
	net.settle()
	n := net.nodes[1]
	if got := n.Members(); len(got) != 1 || got[0] != (Member{ID: 1, URL: "http://127.0.0.1:7001", Role: "voter"}) {
		t.Fatalf("members after bootstrap: %+v", got)
	}
	cc, _ := ParseConfChanges("l4")
	if err := n.ProposeConfChange(1, cc, map[uint64]string{4: "http://127.0.0.1:7004"}); err != nil {
		t.Fatal(err)
	}
	net.settle()
	if got := n.Members(); len(got) != 2 || got[1] != (Member{ID: 4, URL: "http://127.0.0.1:7004", Role: "learner"}) {
		t.Fatalf("members after adding learner 4: %+v", got)
	}
	// The addresses are state machine data: a snapshot sent to a follower
	// carries them.
	snap, err := n.currentSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := decodeKVSnapshot(snap.GetData())
	if err != nil || len(pairs) != 2 {
		t.Fatalf("snapshot holds %d pairs (%v), want the 2 addresses", len(pairs), err)
	}
	cc, _ = ParseConfChanges("r4")
	if err := n.ProposeConfChange(2, cc, nil); err != nil {
		t.Fatal(err)
	}
	net.settle()
	if got := n.Members(); len(got) != 1 {
		t.Fatalf("members after removing 4: %+v", got)
	}
	if _, err := e.Get(storage.MemberKey(4)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("member 4's address survived its removal: %v", err)
	}
}

package core

import (
	"bytes"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/storage"
)

// batchLog is an engine that records the keys of every batch written.
type batchLog struct {
	storage.Engine
	batches [][]string
}

func (l *batchLog) Apply(b *storage.Batch, sync bool) error {
	var keys []string
	for _, op := range b.Ops {
		keys = append(keys, string(op.Key))
	}
	l.batches = append(l.batches, keys)
	return l.Engine.Apply(b, sync)
}

// wrote reports whether a batch l recorded wrote key.
func (l *batchLog) wrote(key []byte) bool {
	for _, keys := range l.batches {
		for _, k := range keys {
			if k == string(key) {
				return true
			}
		}
	}
	return false
}

// put proposes a write of key on member id and handles its Readies.
func (net *testNet) put(id, reqID uint64, key string) {
	net.t.Helper()
	if err := net.nodes[id].Propose(reqID, Command{Op: OpPut, Key: key, Value: []byte("v")}); err != nil {
		net.t.Fatal(err)
	}
	net.ready(id)
}

// logged restarts member id of net over a batchLog of its engine.
func (net *testNet) logged(id uint64) *batchLog {
	l := &batchLog{Engine: net.engines[id]}
	store, err := storage.Open(l)
	if err != nil {
		net.t.Fatal(err)
	}
	net.start(id, store)
	return l
}

// holdFor delivers the queued messages, and those they lead to, except the
// ones to held, which it returns, and the ones to skip, which it drops.
func (net *testNet) holdFor(held, skip uint64) []*pb.Message {
	var out []*pb.Message
	for len(net.queue) > 0 {
		m := net.queue[0]
		net.queue = net.queue[1:]
		switch m.GetTo() {
		case held:
			out = append(out, m)
		case skip:
		default:
			_ = net.nodes[m.GetTo()].Step(m)
			net.ready(m.GetTo())
		}
	}
	return out
}

// TestPipelinedCommitWritesHardStateWithApply: with HandleReadyEarly, a
// Ready that only moves the commit index and applies writes the HardState
// in the applied batch (one engine write), on the leader and on a follower,
// and either restarts after a crash; HandleReady keeps the two writes apart.
func TestPipelinedCommitWritesHardStateWithApply(t *testing.T) {
	for _, pipelined := range []bool{true, false} {
		net := newTestNet(t, 1, 2, 3)
		net.pipelined = pipelined
		logs := map[uint64]*batchLog{1: net.logged(1), 2: net.logged(2)}
		net.elect(1)
		for _, l := range logs {
			l.batches = nil
		}
		if err := net.nodes[1].Propose(9, Command{Op: OpPut, Key: "x", Value: []byte("1")}); err != nil {
			t.Fatal(err)
		}
		net.ready(1)
		net.deliver(nil)
		if r, ok := net.results[9]; !ok || r.Err != nil {
			t.Fatalf("pipelined %v: proposal: %+v %v", pipelined, r, ok)
		}
		for id, l := range logs {
			merged, alone := false, false
			for _, keys := range l.batches {
				hasKV, hasHS := false, false
				for _, k := range keys {
					hasKV = hasKV || bytes.Equal([]byte(k), storage.KVKey("x"))
					hasHS = hasHS || k == storage.KeyHardState
				}
				merged = merged || (hasKV && hasHS)
				alone = alone || (hasHS && len(keys) == 1)
			}
			if merged != pipelined || alone == pipelined {
				t.Errorf("pipelined %v, member %d: HardState in the applied batch %v, alone %v; batches %q", pipelined, id, merged, alone, l.batches)
			}
		}
		// An unsynced batch may be lost in a crash, never half of it: the
		// restart checks that the applied index is within the commit.
		for _, id := range []uint64{1, 2} {
			net.crashRestart(id)
		}
	}
}

// TestCommittedAnsweredBeforeTheNextSync: with an answer, a Ready that
// appends new entries and commits older ones applies and answers the older
// ones before it writes the new ones, so their answer does not wait for an
// unrelated sync; the applied batch's HardState commits no further than
// the stored log (the store refuses any other). A membership change keeps
// the taught order.
func TestCommittedAnsweredBeforeTheNextSync(t *testing.T) {
	net := newTestNet(t, 1, 2, 3)
	net.pipelined = true
	leaderLog := net.logged(1)
	net.elect(1)
	// propose puts key on the leader and returns the log index it gets.
	propose := func(reqID uint64, key string) uint64 {
		t.Helper()
		last, _ := net.nodes[1].store.LastIndex()
		if err := net.nodes[1].Propose(reqID, Command{Op: OpPut, Key: key, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		return last + 1
	}
	type answered struct{ applied, newEntryWritten bool }
	answers := map[uint64]answered{}
	var newEntry uint64
	net.onAnswer = func(id uint64, rs []Result) {
		for _, r := range rs {
			answers[r.ReqID] = answered{leaderLog.wrote(storage.KVKey("a")), newEntry != 0 && leaderLog.wrote(storage.EntryKey(newEntry))}
		}
	}

	// a is appended everywhere, and the acknowledgements held back.
	propose(1, "a")
	net.ready(1)
	acks := net.holdFor(1, 0)
	// b is proposed before the acknowledgements arrive: the leader's next
	// Ready appends b and commits a.
	newEntry = propose(2, "b")
	for _, m := range acks {
		if err := net.nodes[1].Step(m); err != nil {
			t.Fatal(err)
		}
	}
	net.ready(1)
	got, ok := answers[1]
	if !ok || !got.applied || got.newEntryWritten {
		t.Fatalf("a answered early %v, applied then %v, entry %d of b written then %v", ok, got.applied, newEntry, got.newEntryWritten)
	}
	hs, _, err := net.nodes[1].store.InitialState()
	if err != nil || hs.GetCommit() < 3 {
		t.Fatalf("HardState after the Ready %v, %v", hs, err)
	}
	// A membership change committed alongside a new entry is applied after
	// the write, and answered in Output.Results.
	cc, err := ParseConfChanges("l4")
	if err != nil {
		t.Fatal(err)
	}
	if err := net.nodes[1].ProposeConfChange(10, cc, nil); err != nil {
		t.Fatal(err)
	}
	net.ready(1)
	acks = net.holdFor(1, 4)
	propose(11, "c")
	for _, m := range acks {
		_ = net.nodes[1].Step(m)
	}
	net.ready(1)
	if _, early := answers[10]; early {
		t.Fatal("a membership change was answered before the Ready's write")
	}
	if r, ok := net.results[10]; !ok || r.Err != nil || r.ConfState == nil {
		t.Fatalf("membership change: %+v %v", r, ok)
	}
	// An unsynced applied batch may be lost in a crash, never half of it;
	// the store reopens with its invariants (commit within the log).
	net.crashRestart(1)
}

// TestFollowerCommitCutToItsStoredLog: a follower whose Ready appends b
// while the commit index it learned covers b commits a (stored before) in
// its early applied batch with the commit index cut to its stored log; a
// store refuses a commit beyond its last entry, and the follower would
// stop.
func TestFollowerCommitCutToItsStoredLog(t *testing.T) {
	net := newTestNet(t, 1, 2, 3)
	net.pipelined = true
	net.onAnswer = func(uint64, []Result) {}
	net.elect(1)
	take := func() []*pb.Message {
		q := net.queue
		net.queue = nil
		return q
	}
	step := func(m *pb.Message) {
		t.Helper()
		if err := net.nodes[m.GetTo()].Step(m); err != nil {
			t.Fatal(err)
		}
	}

	// a reaches both followers; their acknowledgements are held.
	net.put(1, 1, "a")
	var held []*pb.Message
	for _, m := range take() {
		step(m)
		net.ready(m.GetTo())
	}
	held = append(held, take()...)
	// b reaches follower 2 only; follower 3's append is held.
	net.put(1, 2, "b")
	var toThree []*pb.Message
	for _, m := range take() {
		if m.GetTo() == 3 {
			toThree = append(toThree, m)
			continue
		}
		step(m)
		net.ready(m.GetTo())
	}
	held = append(held, take()...)
	// The leader commits a and b on follower 2's acknowledgements.
	for _, m := range held {
		if m.GetFrom() == 2 {
			step(m)
		}
	}
	net.ready(1)
	for _, m := range take() {
		if m.GetTo() == 3 {
			toThree = append(toThree, m)
		}
	}
	// Follower 3 gets b and the commit index of b in one Ready.
	for _, m := range toThree {
		step(m)
	}
	net.ready(3)
	if err := net.nodes[3].Stopped(); err != nil {
		t.Fatalf("follower 3 stopped: %v", err)
	}
	if got := net.nodes[3].applied; got < 4 {
		t.Fatalf("follower 3 applied %d, want a and b (4)", got)
	}
}

// TestFollowerForwardsBeforeItsWrite: a pipelining follower hands over the
// proposals it forwards to the leader before it writes its Ready's entries,
// and its acknowledgement of those entries only after the write.
func TestFollowerForwardsBeforeItsWrite(t *testing.T) {
	net := newTestNet(t, 1, 2, 3)
	net.pipelined = true
	followerLog := net.logged(2)
	net.elect(1)

	if err := net.nodes[1].Propose(1, Command{Op: OpPut, Key: "a", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	net.ready(1)
	var app *pb.Message
	for _, m := range net.queue {
		if m.GetTo() == 2 && m.GetType() == pb.MsgApp && len(m.GetEntries()) > 0 {
			app = m
		}
	}
	net.queue = nil
	if app == nil {
		t.Fatal("no append to follower 2")
	}
	entry := storage.EntryKey(app.GetEntries()[0].GetIndex())
	// One Ready on follower 2: the leader's append and a client's write.
	if err := net.nodes[2].Step(app); err != nil {
		t.Fatal(err)
	}
	if err := net.nodes[2].Propose(2, Command{Op: OpPut, Key: "b", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	sent := map[pb.MessageType]bool{} // type -> the entry was written when sent
	for net.nodes[2].HasReady() {
		if _, err := net.nodes[2].HandleReadyEarly(func(msgs []*pb.Message) {
			for _, m := range msgs {
				sent[m.GetType()] = followerLog.wrote(entry)
			}
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if w, ok := sent[pb.MsgProp]; !ok || w {
		t.Fatalf("forwarded proposal sent %v, after the write %v", ok, w)
	}
	if w, ok := sent[pb.MsgAppResp]; !ok || !w {
		t.Fatalf("acknowledgement sent %v, after the write %v", ok, w)
	}
}

// TestTruncatingFollowerCommitsBelowItsNewEntries: a follower whose Ready
// replaces a stale suffix of its log (entries of an old leader that never
// committed) while it commits older entries may not write a commit index
// that reaches into that suffix: the stored entry there is the stale one,
// and the store then refuses the very append that replaces it. The kill
// -9 cycles of cmd/node found this ("append at 34 would overwrite
// committed entries (commit 34)").
func TestTruncatingFollowerCommitsBelowItsNewEntries(t *testing.T) {
	net := newTestNet(t, 1, 2, 3)
	net.pipelined = true
	net.onAnswer = func(uint64, []Result) {}
	net.elect(1)
	// a reaches 2 and 3; their acknowledgements are lost, so 1 never
	// learns that a is committed.
	net.put(1, 1, "a")
	net.holdFor(1, 0)
	// b stays on 1 alone: a stale entry once another member leads.
	net.put(1, 2, "b")
	net.queue = nil
	net.down[1] = true
	// 2 and 3 time out and elect one of them (neither has b).
	lead := uint64(0)
	for range 100 {
		for _, id := range []uint64{2, 3} {
			_ = net.nodes[id].Tick()
			net.ready(id)
		}
		net.deliver(nil)
		for _, id := range []uint64{2, 3} {
			if net.nodes[id].IsLeader() {
				lead = id
			}
		}
		if lead != 0 {
			break
		}
	}
	if lead == 0 {
		t.Fatal("no new leader among 2 and 3")
	}
	net.settle()
	// 1 comes back; the new leader's append replaces b, and commits a
	// (stored on 1 before) and its own first entry, in one Ready of 1.
	net.crashRestart(1)
	for range 3 {
		_ = net.nodes[lead].Tick()
		net.ready(lead)
		net.deliver(nil)
	}
	if err := net.nodes[1].Stopped(); err != nil {
		t.Fatalf("member 1 stopped: %v", err)
	}
	last, _ := net.nodes[lead].store.LastIndex()
	if got := net.nodes[1].applied; got != last {
		t.Fatalf("member 1 applied %d, want the leader's log up to %d", got, last)
	}
}

package core

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/raftlab/raftlab/storage"
)

// errCrash is what a test failpoint panics with: the member stops where a
// real build would have killed the process.
var errCrash = errors.New("crash point")

// withFailpoint restarts member id from its engine as it is (no crash),
// with fp as its crash-point hook. Call it before the member did anything.
func (net *testNet) withFailpoint(id uint64, fp func(string)) {
	store, err := storage.Open(net.engines[id])
	if err != nil {
		net.t.Fatal(err)
	}
	n, err := NewNode(Config{ID: id, ElectionTicks: 10, CatchUpEntries: 2, Failpoint: fp}, store)
	if err != nil {
		net.t.Fatal(err)
	}
	net.nodes[id] = n
	net.crashes = true
}

// heal ticks the leader and delivers until every member applied what the
// leader applied, or gives up.
func (net *testNet) heal(leader uint64) {
	for range 50 {
		_ = net.nodes[leader].Tick()
		net.settle()
		done := true
		for _, n := range net.nodes {
			done = done && n.Applied() == net.nodes[leader].Applied()
		}
		if done {
			return
		}
	}
}

// sameState fails unless every member has the same state digest at the
// same applied index.
func (net *testNet) sameState() {
	net.t.Helper()
	var first StateDigest
	for id := uint64(1); id <= uint64(len(net.nodes)); id++ {
		d, err := net.nodes[id].StateDigest()
		if err != nil {
			net.t.Fatalf("member %d: %v", id, err)
		}
		if id == 1 {
			first = d
		} else if d != first {
			net.t.Fatalf("member %d: digest %+v, member 1: %+v", id, d, first)
		}
	}
}

// The crash points are reached in the Ready loop's order, each only when
// its step has work: a follower persists (before-save, after-save), then
// releases its acknowledgement, then applies (after-send).
func TestFailpointsInReadyOrder(t *testing.T) {
	net := newTestNet(t, 1, 2, 3)
	var seen []string
	net.withFailpoint(2, func(name string) {
		last, _ := net.nodes[2].Store().LastIndex()
		seen = append(seen, fmt.Sprintf("%s last=%d applied=%d", name, last, net.nodes[2].Applied()))
	})
	net.elect(1)
	net.settle()
	seen = nil
	last, _ := net.nodes[2].Store().LastIndex()
	if err := net.nodes[1].Propose(1, Command{Op: OpPut, Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	net.ready(1)
	net.deliver(nil)
	_ = net.nodes[1].Tick() // the heartbeat that carries the commit
	net.settle()
	applied := net.nodes[1].Applied()
	want := []string{
		fmt.Sprintf("before-save last=%d applied=%d", last, applied-1),
		fmt.Sprintf("after-save last=%d applied=%d", last+1, applied-1),
	}
	if len(seen) < 2 || !slices.Equal(seen[:2], want) {
		t.Fatalf("member 2's crash points: %q, want to start with %q", seen, want)
	}
	if !slices.ContainsFunc(seen, func(s string) bool { return s == fmt.Sprintf("after-send last=%d applied=%d", last+1, applied-1) }) {
		t.Fatalf("member 2 never reached after-send with the entry committed and unapplied: %q", seen)
	}
}

// A member that crashes at any crash point loses at most what it had not
// synced, restarts from its store, and ends with the others' state: the
// write it was handling is applied once, everywhere.
func TestCrashAtEachFailpoint(t *testing.T) {
	for _, point := range []string{FailpointBeforeSave, FailpointAfterSave, FailpointAfterSend} {
		for _, victim := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("%s/member%d", point, victim), func(t *testing.T) {
				net := newTestNet(t, 1, 2, 3)
				armed := false
				net.withFailpoint(victim, func(name string) {
					if armed && name == point {
						armed = false
						panic(errCrash)
					}
				})
				net.elect(1)
				net.settle()
				armed = true
				if err := net.nodes[1].Propose(1, Command{Op: OpPut, Key: "k", Value: []byte("v")}); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 5 && net.nodes[victim].Stopped() == nil; i++ {
					net.ready(1)
					net.deliver(nil)
					_ = net.nodes[1].Tick()
				}
				if net.nodes[victim].Stopped() == nil {
					t.Fatalf("member %d never reached %s", victim, point)
				}
				net.crashRestart(victim)
				lead := uint64(1)
				if victim == 1 {
					net.down[1] = true
					lead = electOne(t, net, 2, 3)
					net.down[1] = false
				}
				if err := net.nodes[lead].Propose(2, Command{Op: OpPut, Key: "after", Value: []byte("crash")}); err != nil {
					t.Fatal(err)
				}
				net.heal(lead)
				net.sameState()
				for id, n := range net.nodes {
					if v, _, _ := n.Get("after"); string(v) != "crash" {
						t.Fatalf("member %d: after = %q", id, v)
					}
				}
			})
		}
	}
}

// electOne ticks ids until one of them leads, and returns it.
func electOne(t *testing.T, net *testNet, ids ...uint64) uint64 {
	t.Helper()
	for range 200 {
		for _, id := range ids {
			_ = net.nodes[id].Tick()
			net.ready(id)
		}
		net.deliver(nil)
		for _, id := range ids {
			if net.nodes[id].IsLeader() {
				return id
			}
		}
	}
	t.Fatal("no leader")
	return 0
}

// A member that crashes in the middle of restoring a snapshot from the
// leader finds the restore pending when it opens its store, finishes it
// before raft starts, and catches up.
func TestCrashDuringRestore(t *testing.T) {
	net := newTestNet(t, 1, 2, 3)
	armed := true
	net.withFailpoint(3, func(name string) {
		if armed && name == FailpointDuringRestore {
			armed = false
			panic(errCrash)
		}
	})
	net.elect(1)
	net.settle()
	net.down[3] = true
	for i := uint64(1); i <= 8; i++ {
		if err := net.nodes[1].Propose(i, Command{Op: OpPut, Key: fmt.Sprintf("k%d", i%3), Value: []byte{byte('a' + i)}}); err != nil {
			t.Fatal(err)
		}
		net.ready(1)
		net.deliver(nil)
	}
	if _, err := net.nodes[1].Snapshot(); err != nil {
		t.Fatal(err)
	}
	net.down[3] = false
	for i := 0; i < 20 && net.nodes[3].Stopped() == nil; i++ {
		_ = net.nodes[1].Tick()
		net.settle()
	}
	if net.nodes[3].Stopped() == nil {
		t.Fatal("member 3 never restored a snapshot")
	}
	net.nodes[1].ReportSnapshot(3, false) // the connection died with it
	net.engines[3].Crash()
	store, err := storage.Open(net.engines[3])
	if err != nil {
		t.Fatal(err)
	}
	if !store.RestorePending() {
		t.Fatal("no restore pending after a crash in the middle of one")
	}
	net.start(3, store)
	if net.nodes[3].Store().RestorePending() {
		t.Fatal("the restore is still pending after the member started")
	}
	net.heal(1)
	net.sameState()
}

// The digest covers every key and value of the state machine, and only
// them: it changes with a write, and two members that applied the same
// entries agree.
func TestStateDigest(t *testing.T) {
	net := newTestNet(t, 1, 2)
	net.elect(1)
	net.settle()
	before, err := net.nodes[1].StateDigest()
	if err != nil {
		t.Fatal(err)
	}
	if before.Keys != 0 {
		t.Fatalf("a new cluster without URLs: %d keys", before.Keys)
	}
	_ = net.nodes[1].Propose(1, Command{Op: OpPut, Key: "k", Value: []byte("v")})
	net.heal(1)
	net.sameState()
	after, _ := net.nodes[1].StateDigest()
	if after.Hash == before.Hash || after.Keys != 1 || after.Applied <= before.Applied {
		t.Fatalf("digest before %+v, after a write %+v", before, after)
	}
	// A key and value that concatenate to the same bytes hash apart.
	a, _ := digestSM(pairsScan([2]string{storage.KVPrefix + "ab", "c"}))
	b, _ := digestSM(pairsScan([2]string{storage.KVPrefix + "a", "bc"}))
	if a.Hash == b.Hash {
		t.Fatal("length prefixes missing")
	}
}

// pairsScan scans fixed pairs, as an engine would.
func pairsScan(pairs ...[2]string) func(start, end []byte, fn func(k, v []byte) error) error {
	return func(start, end []byte, fn func(k, v []byte) error) error {
		for _, p := range pairs {
			if p[0] >= string(start) && p[0] < string(end) {
				if err := fn([]byte(p[0]), []byte(p[1])); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

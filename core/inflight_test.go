package core

import (
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"
)

// inflightFromProgress against raft's own count (raft.Status copies each
// follower's in-flight window), on a leader driven hard: three raw nodes,
// a window of 4 appends, small messages so that entries go out one or two
// at a time, and a network that drops, duplicates and reorders, with
// partitions that make raft fall back to probing and snapshots. It is
// checked after every step of every leader; where the count cannot be told
// the test only counts how often, to show both cases were seen. Raft draws
// its election timeouts from its own random source, so runs differ; the
// rule must hold in every one.
func TestInflightFromProgress(t *testing.T) {
	told, untold := 0, 0
	states := map[tracker.StateType]int{}
	for seed := uint64(1); seed <= 8; seed++ {
		c := newInflightCluster(t, seed)
		for step := range 4000 {
			c.step()
			for _, n := range c.nodes {
				if n.BasicStatus().RaftState != raft.StateLeader {
					continue
				}
				st := n.Status()
				n.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
					if id == st.ID {
						return
					}
					want := st.Progress[id].Inflights.Count()
					states[pr.State]++
					got, ok := inflightFromProgress(pr)
					if !ok {
						untold++
						return
					}
					told++
					if got != want {
						t.Fatalf("seed %d step %d: leader %d, follower %d (%s match %d next %d): %d in flight, raft counts %d",
							seed, step, st.ID, id, pr.State, pr.Match, pr.Next, got, want)
					}
				})
			}
		}
	}
	t.Logf("counts told %d times, left to raft %d; followers seen %v", told, untold, states)
	if told == 0 || untold == 0 {
		t.Errorf("both cases must be seen: told %d, left to raft %d", told, untold)
	}
	for _, s := range []tracker.StateType{tracker.StateProbe, tracker.StateReplicate, tracker.StateSnapshot} {
		if states[s] == 0 {
			t.Errorf("no follower seen in %s", s)
		}
	}
}

type inflightCluster struct {
	t       *testing.T
	rng     *rand.Rand
	nodes   []*raft.RawNode
	stores  []*raft.MemoryStorage
	queue   []*pb.Message
	cut     uint64 // a member cut off from the others, 0 for none
	applied []uint64
	confs   []*pb.ConfState
}

func newInflightCluster(t *testing.T, seed uint64) *inflightCluster {
	c := &inflightCluster{t: t, rng: rand.New(rand.NewPCG(seed, 7))}
	peers := []raft.Peer{{ID: 1}, {ID: 2}, {ID: 3}}
	for id := uint64(1); id <= 3; id++ {
		s := raft.NewMemoryStorage()
		rn, err := raft.NewRawNode(&raft.Config{
			ID: id, ElectionTick: 10, HeartbeatTick: 1, Storage: s,
			MaxSizePerMsg: 64, MaxInflightMsgs: 4, Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := rn.Bootstrap(peers); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, rn)
		c.stores = append(c.stores, s)
		c.applied = append(c.applied, 0)
		c.confs = append(c.confs, &pb.ConfState{})
	}
	return c
}

// step does one random thing: a tick, a proposal, a delivery, a change of
// partition, or a Ready on each node.
func (c *inflightCluster) step() {
	switch r := c.rng.IntN(100); {
	case r < 3:
		for _, n := range c.nodes {
			n.Tick()
		}
	case r < 15:
		data := []byte(fmt.Sprintf("write %d", c.rng.IntN(1000)))
		for _, n := range c.nodes {
			if n.BasicStatus().RaftState == raft.StateLeader {
				_ = n.Propose(data)
			}
		}
	case r < 16:
		c.cut = uint64(c.rng.IntN(6)) // 0, 4, 5: heal
	case r < 75 && len(c.queue) > 0:
		// Deliver a random message: reordering; sometimes keep it for
		// another delivery (duplicates), sometimes lose it.
		i := c.rng.IntN(len(c.queue))
		m := c.queue[i]
		if c.rng.IntN(10) > 0 {
			c.queue = append(c.queue[:i], c.queue[i+1:]...)
		}
		if c.rng.IntN(20) == 0 || c.cut == m.GetFrom() || c.cut == m.GetTo() {
			return
		}
		_ = c.nodes[m.GetTo()-1].Step(m)
	default:
		for i, n := range c.nodes {
			if n.HasReady() {
				c.handle(i, n.Ready())
			}
		}
	}
}

// handle persists, sends and applies one Ready, compacting the log now and
// then so that a follower far behind is sent a snapshot.
func (c *inflightCluster) handle(i int, rd raft.Ready) {
	s := c.stores[i]
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := s.ApplySnapshot(rd.Snapshot); err != nil {
			c.t.Fatal(err)
		}
		c.applied[i] = rd.Snapshot.GetMetadata().GetIndex()
		c.confs[i] = rd.Snapshot.GetMetadata().GetConfState()
	}
	if err := s.Append(rd.Entries); err != nil {
		c.t.Fatal(err)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := s.SetHardState(rd.HardState); err != nil {
			c.t.Fatal(err)
		}
	}
	c.queue = append(c.queue, rd.Messages...)
	for _, e := range rd.CommittedEntries {
		if e.GetType() == pb.EntryConfChange {
			var cc pb.ConfChange
			if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
				c.t.Fatal(err)
			}
			c.confs[i] = c.nodes[i].ApplyConfChange(&cc)
		}
		c.applied[i] = e.GetIndex()
	}
	c.nodes[i].Advance(rd)
	if c.applied[i] > 50 && c.rng.IntN(20) == 0 {
		snap, err := s.CreateSnapshot(c.applied[i], c.confs[i], nil)
		if err != nil && err != raft.ErrSnapOutOfDate {
			c.t.Fatal(err)
		}
		if err == nil {
			if err := s.Compact(snap.GetMetadata().GetIndex() - 10); err != nil && err != raft.ErrCompacted {
				c.t.Fatal(err)
			}
		}
	}
}

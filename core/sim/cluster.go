package sim

import (
	"fmt"
	"slices"

	mrand "math/rand/v2"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/core"
)

// Cluster is a simulated raft cluster. It is not safe for concurrent use;
// different clusters may run in parallel.
type Cluster struct {
	cfg Config
	now int64
	// steps counts the items processed; actions record it so a replay
	// applies each action at exactly the same point.
	steps uint64

	// net draws every decision of the network and the fault schedule;
	// raftRand is what raft reads as crypto/rand.Reader.
	net      *mrand.Rand
	raftRand *seededStream

	queue   queue
	itemSeq uint64
	// inflight maps message ids to their delivery items, for drop and
	// delay by id.
	inflight map[uint64]*item
	msgSeq   uint64

	members map[uint64]*member
	ids     []uint64 // sorted ids of every member ever created
	network network

	actions []Action
	client  client
	checker *Checker

	events  eventLog
	halted  error
	nextGen uint64
}

// New builds a cluster of cfg.Nodes voters, bootstrapped and started, at
// virtual time 0.
func New(cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	installRandSource()
	c := &Cluster{
		cfg:      cfg,
		net:      mrand.New(newSeededStream(cfg.Seed, "network").c),
		raftRand: newSeededStream(cfg.Seed, "raft"),
		inflight: map[uint64]*item{},
		members:  map[uint64]*member{},
		network: network{
			lastAt:    map[[2]uint64]int64{},
			latencyMs: cfg.LatencyMs,
			jitterMs:  cfg.JitterMs,
			lossRatio: cfg.LossRatio,
			diskMs:    cfg.DiskMs,
		},
	}
	c.events.max = cfg.MaxBufferedEvents
	c.events.on = cfg.Events
	c.checker = newChecker(c)
	c.client.init()
	defer c.enter()()
	voters := make([]uint64, cfg.Nodes)
	for i := range voters {
		voters[i] = uint64(i + 1)
	}
	for _, id := range voters {
		if err := c.createMember(id, voters); err != nil {
			return nil, err
		}
	}
	c.emitNetwork()
	return c, nil
}

// Config returns the cluster's configuration with defaults filled in.
func (c *Cluster) Config() Config { return c.cfg }

// Now returns the virtual time in milliseconds.
func (c *Cluster) Now() int64 { return c.now }

// Steps returns the number of scheduled items processed so far.
func (c *Cluster) Steps() uint64 { return c.steps }

// Checker returns the safety checker.
func (c *Cluster) Checker() *Checker { return c.checker }

// Err returns the first safety violation or internal failure, which stops
// the run; nil while all is well.
func (c *Cluster) Err() error { return c.halted }

// RunUntil processes every item due at or before t, then sets the clock to
// t. It stops early at a safety violation (see Err).
func (c *Cluster) RunUntil(t int64) error {
	defer c.enter()()
	for c.halted == nil {
		it := c.peek()
		if it == nil || it.at > t {
			break
		}
		c.process(c.pop())
	}
	if c.halted == nil && t > c.now {
		c.now = t
	}
	return c.halted
}

// Step processes the next scheduled item (one tick, delivery, release or
// timeout) and moves the clock to its time. It returns false when nothing
// is scheduled or the run halted.
func (c *Cluster) Step() bool {
	defer c.enter()()
	it := c.peek()
	if it == nil || c.halted != nil {
		return false
	}
	c.process(c.pop())
	return c.halted == nil
}

// NextAt returns the time of the next scheduled item, and false if none.
func (c *Cluster) NextAt() (int64, bool) {
	if it := c.peek(); it != nil {
		return it.at, true
	}
	return 0, false
}

func (c *Cluster) process(it *item) {
	if it.at > c.now {
		c.now = it.at
	}
	c.steps++
	if it.void {
		return
	}
	m := c.members[it.node]
	switch it.kind {
	case itemTick:
		if m == nil || !m.up || m.gen != it.gen {
			return
		}
		if c.postponeIfBusy(m, it) {
			return
		}
		c.schedule(&item{at: c.now + c.cfg.TickMs, kind: itemTick, node: m.id, gen: m.gen})
		if err := m.node.Tick(); err != nil {
			c.memberFailed(m, err)
			return
		}
		c.drive(m)
	case itemDeliver:
		c.deliver(it)
	case itemRelease:
		if m == nil || !m.up || m.gen != it.gen {
			return // crashed while writing: the messages never left
		}
		c.send(m, it.msgs)
		c.drive(m)
	case itemTimeout:
		c.client.timeout(c, it.reqID)
	}
	c.checker.afterStep()
}

// postponeIfBusy moves an item for a member that is still writing to disk
// to when the write ends: a synchronous Ready loop handles nothing else
// meanwhile.
func (c *Cluster) postponeIfBusy(m *member, it *item) bool {
	if c.now >= m.busyUntil {
		return false
	}
	it.at = m.busyUntil
	c.schedule(it)
	return true
}

// drive runs m's Ready loop until raft has nothing more to hand out.
func (c *Cluster) drive(m *member) {
	for m.up && c.halted == nil && m.node.HasReady() {
		prev := m.node.ConfState()
		out, err := m.node.HandleReady()
		if err != nil {
			c.memberFailed(m, err)
			return
		}
		c.checker.afterReady(m, out)
		c.noteRemovals(m, prev)
		c.client.results(c, m, out.Results)
		synced := out.Ready.MustSync || !raft.IsEmptySnap(out.Ready.Snapshot)
		if synced && c.network.diskMs > 0 && len(out.Messages) > 0 {
			m.busyUntil = c.now + c.network.diskMs
			c.schedule(&item{at: m.busyUntil, kind: itemRelease, node: m.id, gen: m.gen, msgs: out.Messages})
			return
		}
		c.send(m, out.Messages)
		if m.removedPending {
			c.stopRemoved(m)
			return
		}
	}
}

// memberFailed takes a member down after an error it cannot go on from.
// That is a bug in the member (or a deliberately injected one), so it also
// halts the run for the checker to report.
func (c *Cluster) memberFailed(m *member, err error) {
	m.up = false
	c.halt(fmt.Errorf("member %d stopped: %w", m.id, err))
}

func (c *Cluster) halt(err error) {
	if c.halted == nil {
		c.halted = fmt.Errorf("sim: seed %d at %d ms: %w", c.cfg.Seed, c.now, err)
	}
}

// Members returns the ids of the members that exist (up or down, not
// removed), sorted.
func (c *Cluster) Members() []uint64 {
	var out []uint64
	for _, id := range c.ids {
		if m := c.members[id]; m != nil && !m.removed {
			out = append(out, id)
		}
	}
	return out
}

// Node returns the core member id, or nil when it is down or unknown. For
// inspection only: driving it directly breaks determinism.
func (c *Cluster) Node(id uint64) *core.Node {
	if m := c.members[id]; m != nil && m.up {
		return m.node
	}
	return nil
}

// Up reports whether member id is running.
func (c *Cluster) Up(id uint64) bool {
	m := c.members[id]
	return m != nil && m.up
}

// Leader returns the id of a member that is up and leads in the highest
// term among those that are up, and 0 if none.
func (c *Cluster) Leader() uint64 {
	var lead, term uint64
	for _, id := range c.ids {
		m := c.members[id]
		if m == nil || !m.up {
			continue
		}
		st := m.node.Status()
		if st.Role == "leader" && st.Term >= term {
			lead, term = id, st.Term
		}
	}
	return lead
}

func (c *Cluster) addID(id uint64) {
	if !slices.Contains(c.ids, id) {
		c.ids = append(c.ids, id)
		slices.Sort(c.ids)
	}
}

// noteRemovals stops the members that a conf change (or snapshot) applied by
// m removed (§6): m itself once this Ready's messages are out, any other
// removed member now. etcd shuts a removed member down; so do we.
func (c *Cluster) noteRemovals(m *member, prev *pb.ConfState) {
	next := m.node.ConfState()
	if next == prev {
		return
	}
	for _, id := range confStateIDs(prev) {
		if inConfState(next, id) {
			continue
		}
		if id == m.id {
			m.removedPending = true
		} else if x := c.members[id]; x != nil && x.up {
			c.stopRemoved(x)
		}
	}
}

func confStateIDs(cs *pb.ConfState) []uint64 {
	ids := slices.Concat(cs.GetVoters(), cs.GetLearners(), cs.GetVotersOutgoing(), cs.GetLearnersNext())
	slices.Sort(ids)
	return slices.Compact(ids)
}

func inConfState(cs *pb.ConfState, id uint64) bool {
	return slices.Contains(confStateIDs(cs), id)
}

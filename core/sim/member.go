package sim

import (
	"fmt"

	"github.com/raftlab/raftlab/core"
	"github.com/raftlab/raftlab/storage"
	"github.com/raftlab/raftlab/storage/memory"
)

// member is one simulated machine: a memory engine that outlives crashes,
// and the core member running on it while it is up.
type member struct {
	id     uint64
	engine *memory.Engine
	store  *storage.Store
	node   *core.Node
	up     bool
	// gen is the incarnation: it changes at every start, voiding the
	// scheduled items of the previous one.
	gen uint64
	// busyUntil is when the member's current synced write ends.
	busyUntil int64
	// removed: the member left the cluster and was stopped for good.
	removed bool
	// removedPending: the member applied its own removal; it stops after
	// sending what the current Ready holds.
	removedPending bool
	// reqSeq numbers the client requests proposed on this member; unique
	// across restarts because the member struct survives them.
	reqSeq uint64
}

// createMember makes a new machine with an empty engine and starts it. With
// voters it bootstraps a new cluster; without, it starts empty and waits for
// the leader's snapshot (a member added later).
func (c *Cluster) createMember(id uint64, voters []uint64) error {
	if old := c.members[id]; old != nil && !old.removed {
		return fmt.Errorf("sim: member %d exists", id)
	}
	m := &member{id: id, engine: memory.New()}
	if voters != nil {
		store, err := storage.Open(m.engine)
		if err != nil {
			return err
		}
		if _, err := core.Bootstrap(store, voters, nil); err != nil {
			return err
		}
		if err := store.Close(); err != nil {
			return err
		}
		m.engine.Reopen()
	}
	if c.cfg.AckBeforeSync {
		m.engine.SetAckBeforeSync(true)
	}
	c.members[id] = m
	c.addID(id)
	return c.start(m)
}

// start runs a member on what its engine holds.
func (c *Cluster) start(m *member) error {
	store, err := storage.Open(m.engine)
	if err != nil {
		return fmt.Errorf("sim: member %d: %w", m.id, err)
	}
	cfg := core.Config{
		ID:              m.id,
		ElectionTicks:   c.cfg.ElectionTicks,
		HeartbeatTicks:  c.cfg.HeartbeatTicks,
		SnapshotEntries: c.cfg.SnapshotEntries,
		CatchUpEntries:  c.cfg.CatchUpEntries,
		// Small messages make replication visible entry by entry.
		MaxSizePerMsg:   64 << 10,
		MaxInflightMsgs: 64,
	}
	if c.events.on {
		cfg.Events = func(e core.Event) { c.record(e) }
	}
	node, err := core.NewNode(cfg, store)
	if err != nil {
		return fmt.Errorf("sim: member %d: %w", m.id, err)
	}
	c.nextGen++
	m.store, m.node, m.up, m.gen, m.busyUntil = store, node, true, c.nextGen, 0
	c.checker.started(m)
	// Members tick with their own phase, as real machines do.
	phase := c.net.Int64N(c.cfg.TickMs) + 1
	c.schedule(&item{at: c.now + phase, kind: itemTick, node: m.id, gen: m.gen})
	return nil
}

// crash stops m as a power failure would: volatile state gone, unsynced
// writes rolled back, in-flight work of this incarnation void.
func (c *Cluster) crash(m *member) {
	if !m.up {
		return
	}
	m.up = false
	lost := m.engine.Crash()
	c.record(core.Event{V: core.SchemaVersion, Node: m.id, Kind: core.KindCrash, Lost: lost})
	c.client.memberDown(c, m.id)
	c.checker.crashed(m)
}

// restart starts a crashed member again from what survived on its disk.
func (c *Cluster) restart(m *member) error {
	if m.up || m.removed {
		return fmt.Errorf("sim: member %d is not down", m.id)
	}
	return c.start(m)
}

// stopRemoved stops a member that left the cluster (§6): etcd shuts a
// removed member down, and so do we.
func (c *Cluster) stopRemoved(m *member) {
	if !m.up {
		return
	}
	m.up, m.removed, m.removedPending = false, true, false
	c.record(core.Event{V: core.SchemaVersion, Node: m.id, Kind: core.KindStop, Error: "removed from the cluster"})
	c.client.memberDown(c, m.id)
	c.checker.removed(m)
	c.emitNetwork()
}

package sim

import (
	"errors"
	"fmt"
	"slices"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/core"
)

// Action is one thing a user (or a test, or a lesson) does to the cluster.
// Actions are plain data: the action log, replayed from the same seed and
// configuration, reproduces a run exactly. At and Step say when the action
// happened; Do fills them in.
type Action struct {
	// At is the virtual time, Step the number of scheduled items processed
	// before the action.
	At   int64  `json:"at"`
	Step uint64 `json:"step"`
	Kind string `json:"kind"`
	// Node is the member acted on (crash, restart, put, read, ...); for
	// put, delete and read 0 means the leader (or member 1 without one).
	Node uint64 `json:"node,omitempty"`
	// Peer is the other member: the target of a transfer, the far end of
	// a cut link, the member added or removed.
	Peer   uint64     `json:"peer,omitempty"`
	Groups [][]uint64 `json:"groups,omitempty"`
	Key    string     `json:"key,omitempty"`
	Value  string     `json:"value,omitempty"`
	// MsgID names an in-flight message (drop, delay).
	MsgID   uint64 `json:"msgId,omitempty"`
	DelayMs int64  `json:"delayMs,omitempty"`
	// Network settings for "network"; nil keeps a setting.
	LatencyMs *int64   `json:"latencyMs,omitempty"`
	JitterMs  *int64   `json:"jitterMs,omitempty"`
	LossRatio *float64 `json:"lossRatio,omitempty"`
	DiskMs    *int64   `json:"diskMs,omitempty"`
	// Changes is a membership change in raft's notation for "confChange":
	// "v4 v5" adds two voters at once (joint consensus), "" leaves a joint
	// configuration.
	Changes string `json:"changes,omitempty"`
}

// The action kinds.
const (
	ActCrash      = "crash"      // Node
	ActRestart    = "restart"    // Node
	ActPartition  = "partition"  // Groups
	ActHeal       = "heal"       // no partition, no cut links
	ActCut        = "cut"        // Node -> Peer dropped
	ActUncut      = "uncut"      // Node -> Peer restored
	ActNetwork    = "network"    // LatencyMs, JitterMs, LossRatio, DiskMs
	ActPut        = "put"        // Node (0: leader), Key, Value
	ActDelete     = "delete"     // Node, Key
	ActRead       = "read"       // Node, Key: linearizable, via ReadIndex
	ActSnapshot   = "snapshot"   // Node: snapshot now
	ActAddNode    = "addNode"    // Peer: new voter (a new machine)
	ActAddLearner = "addLearner" // Peer: new learner (a new machine)
	ActPromote    = "promote"    // Peer: learner to voter
	ActRemove     = "remove"     // Peer: leaves the cluster
	ActConfChange = "confChange" // Changes: any ConfChangeV2, e.g. joint
	ActTransfer   = "transfer"   // Peer: leadership to Peer
	ActCampaign   = "campaign"   // Node: start an election now
	ActDropMsg    = "dropMsg"    // MsgID
	ActDelayMsg   = "delayMsg"   // MsgID, DelayMs
)

// ErrBadAction is wrapped by every error about an action's arguments.
var ErrBadAction = errors.New("sim: bad action")

func badAction(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadAction, fmt.Sprintf(format, args...))
}

// Do performs a at the current time and, if it was valid, appends it to the
// action log. A refused request (no leader, say) is valid: it is logged, so
// a replay refuses it too, and its error is returned.
func (c *Cluster) Do(a Action) error {
	if c.halted != nil {
		return c.halted
	}
	defer c.enter()()
	a.At, a.Step = c.now, c.steps
	if err := c.validate(a); err != nil {
		return err
	}
	c.actions = append(c.actions, a)
	err := c.perform(a)
	c.checker.afterStep()
	return err
}

// Actions returns the action log.
func (c *Cluster) Actions() []Action { return slices.Clone(c.actions) }

func (c *Cluster) validate(a Action) error {
	member := func(id uint64) (*member, error) {
		m := c.members[id]
		if m == nil || m.removed {
			return nil, badAction("%s: no member %d", a.Kind, id)
		}
		return m, nil
	}
	switch a.Kind {
	case ActCrash:
		m, err := member(a.Node)
		if err == nil && !m.up {
			err = badAction("crash: member %d is already down", a.Node)
		}
		return err
	case ActRestart:
		m, err := member(a.Node)
		if err == nil && m.up {
			err = badAction("restart: member %d is up", a.Node)
		}
		return err
	case ActPartition:
		seen := map[uint64]bool{}
		for _, g := range a.Groups {
			for _, id := range g {
				if _, err := member(id); err != nil {
					return err
				}
				if seen[id] {
					return badAction("partition: member %d in two groups", id)
				}
				seen[id] = true
			}
		}
		if len(a.Groups) == 0 {
			return badAction("partition: no groups")
		}
	case ActHeal:
	case ActCut, ActUncut:
		if _, err := member(a.Node); err != nil {
			return err
		}
		if _, err := member(a.Peer); err != nil {
			return err
		}
		if a.Node == a.Peer {
			return badAction("%s: a link needs two members", a.Kind)
		}
	case ActNetwork:
		for _, v := range []*int64{a.LatencyMs, a.JitterMs, a.DiskMs} {
			if v != nil && (*v < 0 || *v > 60_000) {
				return badAction("network: times must be in [0, 60000] ms")
			}
		}
		if a.LossRatio != nil && !(*a.LossRatio >= 0 && *a.LossRatio <= 1) {
			return badAction("network: loss ratio must be in [0, 1]")
		}
	case ActPut, ActDelete, ActRead:
		if a.Node != 0 {
			if _, err := member(a.Node); err != nil {
				return err
			}
		}
		cmd := core.Command{Op: core.OpPut, Key: a.Key, Value: []byte(a.Value)}
		if a.Kind != ActPut {
			cmd = core.Command{Op: core.OpDelete, Key: a.Key}
		}
		if err := cmd.Validate(); err != nil {
			return badAction("%s: %v", a.Kind, err)
		}
	case ActSnapshot, ActCampaign:
		m, err := member(a.Node)
		if err == nil && !m.up {
			err = badAction("%s: member %d is down", a.Kind, a.Node)
		}
		return err
	case ActAddNode, ActAddLearner:
		if a.Peer == 0 || a.Peer > 1<<20 {
			return badAction("%s: member id %d out of range", a.Kind, a.Peer)
		}
		if m := c.members[a.Peer]; m != nil && !m.removed {
			return badAction("%s: member %d exists", a.Kind, a.Peer)
		}
		if len(c.Members()) >= MaxNodes {
			return badAction("%s: the simulator runs at most %d members", a.Kind, MaxNodes)
		}
	case ActPromote, ActRemove, ActTransfer:
		if _, err := member(a.Peer); err != nil {
			return err
		}
	case ActConfChange:
		cc, err := core.ParseConfChanges(a.Changes)
		if err != nil {
			return badAction("confChange: %v", err)
		}
		added := c.newMembers(cc.GetChanges())
		for _, ch := range cc.GetChanges() {
			if id := ch.GetNodeId(); id > 1<<20 {
				return badAction("confChange: member id %d out of range", id)
			} else if !slices.Contains(added, id) {
				if _, err := member(id); err != nil {
					return err
				}
			}
		}
		if len(c.Members())+len(added) > MaxNodes {
			return badAction("confChange: the simulator runs at most %d members", MaxNodes)
		}
	case ActDropMsg, ActDelayMsg:
		if c.inflight[a.MsgID] == nil {
			return badAction("%s: message %d is not in flight", a.Kind, a.MsgID)
		}
		if a.Kind == ActDelayMsg && (a.DelayMs <= 0 || a.DelayMs > 60_000) {
			return badAction("delayMsg: delay must be in (0, 60000] ms")
		}
	default:
		return badAction("unknown kind %q", a.Kind)
	}
	return nil
}

func (c *Cluster) perform(a Action) error {
	switch a.Kind {
	case ActCrash:
		c.crash(c.members[a.Node])
		c.emitNetwork()
	case ActRestart:
		if err := c.restart(c.members[a.Node]); err != nil {
			c.halt(err)
			return err
		}
		c.emitNetwork()
	case ActPartition:
		c.network.groups = nil
		for _, g := range a.Groups {
			if len(g) > 0 {
				c.network.groups = append(c.network.groups, slices.Sorted(slices.Values(g)))
			}
		}
		c.emitNetwork()
	case ActHeal:
		c.network.groups, c.network.cuts = nil, nil
		c.emitNetwork()
	case ActCut:
		link := [2]uint64{a.Node, a.Peer}
		if !slices.Contains(c.network.cuts, link) {
			c.network.cuts = append(c.network.cuts, link)
		}
		c.emitNetwork()
	case ActUncut:
		c.network.cuts = slices.DeleteFunc(c.network.cuts, func(l [2]uint64) bool { return l == [2]uint64{a.Node, a.Peer} })
		c.emitNetwork()
	case ActNetwork:
		if a.LatencyMs != nil {
			c.network.latencyMs = *a.LatencyMs
		}
		if a.JitterMs != nil {
			c.network.jitterMs = *a.JitterMs
		}
		if a.LossRatio != nil {
			c.network.lossRatio = *a.LossRatio
		}
		if a.DiskMs != nil {
			c.network.diskMs = *a.DiskMs
		}
		c.emitNetwork()
	case ActPut, ActDelete, ActRead:
		return c.request(a)
	case ActSnapshot:
		m := c.members[a.Node]
		if _, err := m.node.Snapshot(); err != nil {
			if m.node.Stopped() != nil {
				c.memberFailed(m, err)
			}
			return err
		}
		c.drive(m)
	case ActCampaign:
		m := c.members[a.Node]
		if err := m.node.Campaign(); err != nil {
			return err
		}
		c.drive(m)
	case ActAddNode, ActAddLearner, ActPromote, ActRemove, ActConfChange:
		return c.changeMembership(a)
	case ActTransfer:
		lead := c.members[c.Leader()]
		if lead == nil {
			return core.ErrNoLeader
		}
		if err := lead.node.TransferLeader(a.Peer); err != nil {
			return err
		}
		c.drive(lead)
	case ActDropMsg:
		c.inflight[a.MsgID].dropped = true
	case ActDelayMsg:
		it := c.inflight[a.MsgID]
		// Rescheduling is a new item: the old one is voided in place.
		moved := *it
		it.void = true
		moved.at += a.DelayMs
		c.inflight[a.MsgID] = &moved
		c.schedule(&moved)
	}
	return nil
}

// request sends a client write or read to a member.
func (c *Cluster) request(a Action) error {
	id := a.Node
	if id == 0 {
		if id = c.Leader(); id == 0 {
			id = c.Members()[0]
		}
	}
	m := c.members[id]
	if !m.up {
		return fmt.Errorf("sim: member %d is down", id)
	}
	c.client.nextID++
	r := &request{id: c.client.nextID, member: id, key: a.Key}
	var err error
	switch a.Kind {
	case ActRead:
		r.read = true
		err = m.node.ReadIndex(r.id, a.Key)
	case ActPut:
		r.cmd = core.Command{Op: core.OpPut, Key: a.Key, Value: []byte(a.Value)}
		err = m.node.Propose(r.id, r.cmd)
	case ActDelete:
		r.cmd = core.Command{Op: core.OpDelete, Key: a.Key}
		err = m.node.Propose(r.id, r.cmd)
	}
	if err != nil {
		if m.node.Stopped() != nil {
			c.memberFailed(m, err)
		}
		if r.read {
			c.record(core.Event{Node: id, Kind: core.KindRead, Read: &core.ReadInfo{Phase: "failed", ReqID: r.id, Key: a.Key, Error: err.Error()}})
		}
		return err
	}
	c.client.add(c, r)
	c.drive(m)
	return nil
}

// changeMembership proposes a conf change on the leader, and for a new
// member creates its machine, empty: it catches up from the leader's
// snapshot (§6, §7).
func (c *Cluster) changeMembership(a Action) error {
	lead := c.members[c.Leader()]
	if lead == nil {
		return core.ErrNoLeader
	}
	var changes string
	switch a.Kind {
	case ActAddNode, ActPromote:
		changes = fmt.Sprintf("v%d", a.Peer)
	case ActAddLearner:
		changes = fmt.Sprintf("l%d", a.Peer)
	case ActRemove:
		changes = fmt.Sprintf("r%d", a.Peer)
	case ActConfChange:
		changes = a.Changes
	}
	cc, err := core.ParseConfChanges(changes)
	if err != nil {
		return err
	}
	c.client.nextID++
	if err := lead.node.ProposeConfChange(c.client.nextID, cc, nil); err != nil {
		return err
	}
	var added []uint64
	switch a.Kind {
	case ActAddNode, ActAddLearner:
		added = []uint64{a.Peer}
	case ActConfChange:
		added = c.newMembers(cc.GetChanges())
	}
	for _, id := range added {
		if err := c.createMember(id, nil); err != nil {
			c.halt(err)
			return err
		}
	}
	if len(added) > 0 {
		c.emitNetwork()
	}
	c.drive(lead)
	return nil
}

func isBadAction(err error) bool { return errors.Is(err, ErrBadAction) }

// newMembers returns the ids, sorted, that changes make a voter or learner
// and that have no machine yet (or only a removed one): each needs a new,
// empty machine.
func (c *Cluster) newMembers(changes []*pb.ConfChangeSingle) []uint64 {
	var ids []uint64
	for _, ch := range changes {
		switch ch.GetType() {
		case pb.ConfChangeAddNode, pb.ConfChangeAddLearnerNode:
			if m := c.members[ch.GetNodeId()]; m == nil || m.removed {
				ids = append(ids, ch.GetNodeId())
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

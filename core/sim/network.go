package sim

import (
	"slices"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/core"
)

// network is the simulated network between members: every message takes
// latency plus a random jitter, may be lost, and never crosses a partition
// or a cut link.
type network struct {
	latencyMs, jitterMs, diskMs int64
	lossRatio                   float64
	// groups partition the members: two members talk only within one
	// group. Members in no group form one more group. Empty: no partition.
	groups [][]uint64
	// cuts are one-way links that drop everything.
	cuts [][2]uint64
	// lastAt is the delivery time of the latest message on each link:
	// links are FIFO, as the real transport's connections are, so jitter
	// delays messages but never reorders them.
	lastAt map[[2]uint64]int64
}

// group returns the index of id's group, len(groups) for the rest.
func (n *network) group(id uint64) int {
	for i, g := range n.groups {
		if slices.Contains(g, id) {
			return i
		}
	}
	return len(n.groups)
}

// blocked returns why a message from -> to cannot pass now, or "".
func (n *network) blocked(from, to uint64) string {
	if len(n.groups) > 0 && n.group(from) != n.group(to) {
		return "partition"
	}
	for _, cut := range n.cuts {
		if cut[0] == from && cut[1] == to {
			return "link cut"
		}
	}
	return ""
}

// send puts m's messages on the network, in order.
func (c *Cluster) send(m *member, msgs []*pb.Message) {
	for _, msg := range msgs {
		c.msgSeq++
		id := c.msgSeq
		c.checker.sent(m, msg)
		at := c.now + c.network.latencyMs
		if c.network.jitterMs > 0 {
			at += c.net.Int64N(c.network.jitterMs + 1)
		}
		link := [2]uint64{msg.GetFrom(), msg.GetTo()}
		at = max(at, c.network.lastAt[link])
		c.network.lastAt[link] = at
		var info *core.MsgInfo
		if c.events.on {
			info = core.DescribeMessage(id, msg)
			info.DeliverAt = at
			c.record(core.Event{V: core.SchemaVersion, Node: m.id, Kind: core.KindSend, Msg: info})
		}
		reason := c.network.blocked(msg.GetFrom(), msg.GetTo())
		if reason == "" && c.network.lossRatio > 0 && c.net.Float64() < c.network.lossRatio {
			reason = "lost"
		}
		if reason != "" {
			c.dropped(m.id, id, msg, info, reason)
			continue
		}
		it := &item{at: at, kind: itemDeliver, node: msg.GetTo(), msg: msg, msgID: id}
		c.inflight[id] = it
		c.schedule(it)
	}
}

// deliver hands an in-flight message to its recipient, unless the network
// or the recipient changed while it travelled.
func (c *Cluster) deliver(it *item) {
	delete(c.inflight, it.msgID)
	msg := it.msg
	var info *core.MsgInfo
	if c.events.on {
		info = core.DescribeMessage(it.msgID, msg)
	}
	to := c.members[msg.GetTo()]
	reason := ""
	switch {
	case it.dropped:
		reason = "dropped by user"
	case to == nil || to.removed:
		reason = "no such member"
	case !to.up:
		reason = "member down"
	default:
		reason = c.network.blocked(msg.GetFrom(), msg.GetTo())
	}
	if reason != "" {
		c.dropped(msg.GetTo(), it.msgID, msg, info, reason)
		return
	}
	if c.postponeIfBusy(to, it) {
		c.inflight[it.msgID] = it
		return
	}
	c.record(core.Event{V: core.SchemaVersion, Node: to.id, Kind: core.KindDeliver, Msg: info})
	if err := to.node.Step(msg); err != nil && to.node.Stopped() != nil {
		c.memberFailed(to, err)
		return
	}
	c.reportSnapshot(msg, true)
	c.drive(to)
}

// dropped records a lost message, and tells its sender what a real
// transport would: a failed snapshot, an unreachable peer.
func (c *Cluster) dropped(at, id uint64, msg *pb.Message, info *core.MsgInfo, reason string) {
	if info != nil {
		info.Reason = reason
		c.record(core.Event{V: core.SchemaVersion, Node: at, Kind: core.KindDrop, Msg: info})
	}
	if reason != "lost" {
		if from := c.members[msg.GetFrom()]; from != nil && from.up {
			from.node.ReportUnreachable(msg.GetTo())
		}
	}
	c.reportSnapshot(msg, false)
}

// reportSnapshot tells the sender of a MsgSnap how the send ended; raft
// keeps the follower in StateSnapshot until it hears (RAFT-NOTES.md).
func (c *Cluster) reportSnapshot(msg *pb.Message, ok bool) {
	if msg.GetType() != pb.MsgSnap {
		return
	}
	if from := c.members[msg.GetFrom()]; from != nil && from.up {
		from.node.ReportSnapshot(msg.GetTo(), ok)
		c.drive(from)
	}
}

// emitNetwork records the network as it is now.
func (c *Cluster) emitNetwork() {
	if !c.events.on {
		return
	}
	info := &core.NetworkInfo{
		LatencyMs: c.network.latencyMs,
		JitterMs:  c.network.jitterMs,
		LossRatio: c.network.lossRatio,
		DiskMs:    c.network.diskMs,
	}
	for _, g := range c.network.groups {
		info.Groups = append(info.Groups, slices.Clone(g))
	}
	info.Cuts = slices.Clone(c.network.cuts)
	for _, id := range c.ids {
		m := c.members[id]
		if m.removed {
			continue
		}
		info.Membership = append(info.Membership, id)
		if !m.up {
			info.Down = append(info.Down, id)
		}
	}
	c.record(core.Event{V: core.SchemaVersion, Kind: core.KindNetwork, Network: info})
}

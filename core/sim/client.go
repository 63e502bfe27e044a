package sim

import (
	"slices"

	"github.com/raftlab/raftlab/core"
)

// client is the simulated client: it sends writes and reads to members,
// waits for their answers, and gives up after ClientTimeoutMs. The checker
// holds it to its acknowledged writes.
type client struct {
	nextID  uint64
	pending map[uint64]*request
	// order lists pending ids in the order they were made, so that
	// failing them never depends on map order.
	order []uint64
	// Acked lists every write the cluster acknowledged, in order.
	acked []AckedWrite
}

type request struct {
	id     uint64
	member uint64
	read   bool
	cmd    core.Command
	key    string
}

// AckedWrite is a write that a member answered as applied: Raft promises it
// is never lost (§5.4).
type AckedWrite struct {
	ReqID uint64
	Index uint64
	Cmd   core.Command
}

func (cl *client) init() { cl.pending = map[uint64]*request{} }

func (cl *client) add(c *Cluster, r *request) {
	cl.pending[r.id] = r
	cl.order = append(cl.order, r.id)
	c.schedule(&item{at: c.now + c.cfg.ClientTimeoutMs, kind: itemTimeout, reqID: r.id})
}

func (cl *client) remove(id uint64) *request {
	r := cl.pending[id]
	if r != nil {
		delete(cl.pending, id)
		cl.order = slices.DeleteFunc(cl.order, func(x uint64) bool { return x == id })
	}
	return r
}

// results takes the answers a member gave in one Ready.
func (cl *client) results(c *Cluster, m *member, rs []core.Result) {
	for _, res := range rs {
		r := cl.remove(res.ReqID)
		if r == nil {
			continue // a conf change, or a request that timed out
		}
		if !r.read && res.Err == nil {
			w := AckedWrite{ReqID: r.id, Index: res.Index, Cmd: r.cmd}
			cl.acked = append(cl.acked, w)
			c.checker.acked(w)
		}
	}
}

// timeout fails a request that got no answer in time.
func (cl *client) timeout(c *Cluster, id uint64) {
	if r := cl.remove(id); r != nil {
		if m := c.members[r.member]; m != nil && m.up {
			m.node.Cancel(id)
		}
		cl.fail(c, r, "timeout")
	}
}

// memberDown fails every request waiting on a member that went down.
func (cl *client) memberDown(c *Cluster, member uint64) {
	for _, id := range slices.Clone(cl.order) {
		if r := cl.pending[id]; r != nil && r.member == member {
			cl.remove(id)
			cl.fail(c, r, "member down")
		}
	}
}

func (cl *client) fail(c *Cluster, r *request, why string) {
	if r.read {
		c.record(core.Event{Node: r.member, Kind: core.KindRead, Read: &core.ReadInfo{Phase: "failed", ReqID: r.id, Key: r.key, Error: why}})
		return
	}
	c.record(core.Event{Node: r.member, Kind: core.KindProposal, Proposal: &core.ProposalInfo{Phase: "failed", ReqID: r.id, Command: r.cmd.String(), Error: why}})
}

// Acked returns the acknowledged writes so far.
func (c *Cluster) Acked() []AckedWrite { return slices.Clone(c.client.acked) }

// Pending returns how many client requests wait for an answer.
func (c *Cluster) Pending() int { return len(c.client.pending) }

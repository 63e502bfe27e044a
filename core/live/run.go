package live

import (
	"slices"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/core"
)

// maxBatch bounds how many queued inputs the loop takes before it handles a
// Ready: enough to batch a burst of proposals into one Ready (one fsync),
// few enough to keep ticks on time.
const maxBatch = 512

// maxBatchBytes bounds the entry bytes (proposed, or received in appends)
// taken before a Ready, so that a Ready's batch stays well inside what the
// engine writes at once (Badger: 15% of its memtable), whatever the load.
const maxBatchBytes = 256 << 10

// run is the driver's goroutine: it owns the member.
func (d *Driver) run() {
	defer close(d.done)
	defer d.failFutures()
	ticker := time.NewTicker(d.cfg.TickInterval)
	defer ticker.Stop()
	d.noteMembership()
	d.handleReady()
	for d.err == nil {
		select {
		case <-d.stop:
			return
		case <-ticker.C:
			if err := d.node.Tick(); err != nil {
				d.fail(err)
			}
			d.refreshStatus(true)
		case in := <-d.inbox:
			d.handleInbound(in)
		case f := <-d.reqs:
			f()
		}
		// Take what else is queued before handling the Ready, so that a
		// burst of messages and proposals becomes one Ready and one sync.
		for n := 0; n < maxBatch && d.batchBytes < maxBatchBytes && d.err == nil; n++ {
			select {
			case in := <-d.inbox:
				d.handleInbound(in)
				continue
			case f := <-d.reqs:
				f()
				continue
			default:
			}
			break
		}
		d.handleReady()
		d.batchBytes = 0
	}
}

func (d *Driver) handleInbound(in inbound) {
	switch in.report {
	case reportUnreachable:
		d.node.ReportUnreachable(in.peer)
	case reportSnapshot:
		d.node.ReportSnapshot(in.peer, in.ok)
	default:
		for _, e := range in.m.GetEntries() {
			d.batchBytes += len(e.GetData())
		}
		if d.cfg.MessageEvents && d.cfg.Events != nil {
			d.emit(core.Event{Node: d.node.ID(), Kind: core.KindDeliver, Msg: core.DescribeMessage(in.id, in.m)})
		}
		if err := d.node.Step(in.m); err != nil && d.node.Stopped() != nil {
			d.fail(err)
		}
	}
}

// handleReady runs the member's Ready loop to the end: persist, send,
// apply, answer. The writes proposed since the last Ready go to raft
// first, together (core.Config.BatchProposals).
func (d *Driver) handleReady() {
	d.deliver(d.node.FlushProposals())
	for d.err == nil && d.node.HasReady() {
		// A leader sends while it persists (thesis §10.2.1); what was
		// committed before is answered before the new entries' sync.
		out, err := d.node.HandleReadyEarly(d.sendFn, d.deliverFn)
		if err != nil {
			d.fail(err)
			return
		}
		// Messages and answers leave before the send events are made:
		// describing a message (its entries' commands) costs more than
		// handing it on, and a peer or a client waits for these.
		first := d.handOff(out.Messages)
		d.deliver(out.Results)
		d.emitSends(first, out.Messages)
		if d.node.ConfState() != d.confState {
			d.noteMembership()
		}
	}
	if err := d.node.Stopped(); err != nil {
		d.fail(err)
	}
	d.refreshStatus(false)
}

// deliver hands each result to the request waiting for it.
func (d *Driver) deliver(rs []core.Result) {
	for _, r := range rs {
		if ch, ok := d.futures[r.ReqID]; ok {
			delete(d.futures, r.ReqID)
			ch <- r
		}
	}
}

// statusEvery bounds how often the published status is rebuilt under load;
// a change of role, term, leader or membership is published at once.
const statusEvery = 20 * time.Millisecond

// refreshStatus publishes the member's status for other goroutines.
func (d *Driver) refreshStatus(force bool) {
	old := d.status.Load()
	n := d.node
	changed := old == nil || old.Term != n.Term() || old.Lead != n.Lead() || (old.Role == "leader") != n.IsLeader() || d.node.Stopped() != nil
	now := d.cfg.Now()
	if !force && !changed && now.Sub(d.statusAt) < statusEvery {
		return
	}
	d.statusAt = now
	st := n.Status()
	d.status.Store(&st)
}

// send hands messages to the transport, in order, each with its id, and
// then reports them.
func (d *Driver) send(msgs []*pb.Message) {
	d.emitSends(d.handOff(msgs), msgs)
}

// handOff hands messages to the transport, in order, numbering them from
// the id it returns.
func (d *Driver) handOff(msgs []*pb.Message) (first uint64) {
	first = d.nextMsgID + 1
	for _, m := range msgs {
		d.nextMsgID++
		d.tr.Send(d.nextMsgID, m)
	}
	return first
}

// emitSends reports the messages handOff numbered from first. The peer's
// deliver event can now carry an earlier time than the send event (it could
// already when the two fell in one millisecond): consumers match the two by
// sender and id, not by order.
func (d *Driver) emitSends(first uint64, msgs []*pb.Message) {
	if !d.cfg.MessageEvents || d.cfg.Events == nil {
		return
	}
	for i, m := range msgs {
		d.emit(core.Event{Node: d.node.ID(), Kind: core.KindSend, Msg: core.DescribeMessage(first+uint64(i), m)})
	}
}

// noteMembership tells the owner about a new membership, and stops the
// driver once this member was removed from it (§6): etcd's members shut
// down then, and so do ours.
func (d *Driver) noteMembership() {
	d.confState = d.node.ConfState()
	members := d.node.Members()
	isMember := slices.ContainsFunc(members, func(m core.Member) bool { return m.ID == d.node.ID() })
	if d.wasMember && !isMember {
		d.emit(core.Event{Node: d.node.ID(), Kind: core.KindStop, Error: "removed from the cluster"})
		d.fail(ErrRemoved)
	}
	d.wasMember = d.wasMember || isMember
	if d.cfg.OnMembership != nil {
		d.cfg.OnMembership(members)
	}
	d.refreshStatus(true)
}

// failFutures answers every waiting request when the driver stops.
func (d *Driver) failFutures() {
	err := d.err
	if err == nil {
		err = ErrStopped
	}
	for id, ch := range d.futures {
		ch <- core.Result{ReqID: id, Err: err}
	}
	clear(d.futures)
}

// Package live is the real-time driver of core.Node: one goroutine owns the
// member and feeds it ticks from a ticker, messages from a bounded inbound
// queue and requests from callers, runs its Ready loop, hands outgoing
// messages to a Transport, and answers each request through a future. It is
// what a native node (cmd/node) runs, and later a browser tab that joins a
// real cluster.
package live

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/core"
)

// Transport carries raft messages to peers. Send must not block: a
// transport queues, and drops (reporting the peer unreachable) when full.
// id is the message id that pairs a send with its delivery in the events.
type Transport interface {
	Send(id uint64, m *pb.Message)
}

// Config configures a Driver. Zero values are defaults.
type Config struct {
	// TickInterval is the real time of one raft tick. Default 100 ms.
	TickInterval time.Duration
	// InboxSize bounds the messages waiting for the member; beyond it
	// messages are dropped (raft retransmits). Default 4096.
	InboxSize int
	// Events stamps and passes on the driver's own events (messages sent
	// and delivered); give the same Events to core.Config.Events so the
	// member's events share its sequence. Nil: no events.
	Events *Events
	// MessageEvents also reports every message sent and delivered. It costs
	// a description per message.
	MessageEvents bool
	// OnMembership is called from the driver's goroutine at start and
	// whenever the membership changes, with the members and their
	// addresses: the transport's peer list follows it.
	OnMembership func([]core.Member)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Errors a Driver returns.
var (
	ErrStopped = errors.New("live: driver stopped")
	// ErrRemoved: this member was removed from the cluster.
	ErrRemoved = errors.New("live: member removed from the cluster")
	// ErrBusy: the request queue is full.
	ErrBusy = errors.New("live: too many requests waiting")
)

// Driver runs one core.Node in real time. Its methods are safe for
// concurrent use.
type Driver struct {
	cfg  Config
	node *core.Node
	tr   Transport

	inbox chan inbound
	reqs  chan func()
	stop  chan struct{}
	done  chan struct{}
	err   error // set before done closes

	// Owned by the loop goroutine.
	futures   map[uint64]chan core.Result
	nextReq   uint64
	nextMsgID uint64
	confState *pb.ConfState
	wasMember bool
	statusAt  time.Time
	// batchBytes counts the entry bytes taken since the last Ready.
	batchBytes int

	// sendFn and deliverFn are d.send and d.deliver, made once rather
	// than for every Ready.
	sendFn    func([]*pb.Message)
	deliverFn func([]core.Result)

	dropped atomic.Uint64 // inbound messages dropped on a full inbox
	status  atomic.Pointer[core.Status]
	stopper sync.Once
}

type inbound struct {
	id      uint64
	m       *pb.Message
	report  uint8 // 0: a message; reportUnreachable; reportSnapshot
	peer    uint64
	ok      bool
	arrived time.Time
}

const (
	reportUnreachable = 1 + iota
	reportSnapshot
)

// Start runs node until Stop or until the member stops (see Err).
func Start(node *core.Node, tr Transport, cfg Config) *Driver {
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 100 * time.Millisecond
	}
	if cfg.InboxSize <= 0 {
		cfg.InboxSize = 4096
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Driver{
		cfg:     cfg,
		node:    node,
		tr:      tr,
		inbox:   make(chan inbound, cfg.InboxSize),
		reqs:    make(chan func(), 1024),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		futures: map[uint64]chan core.Result{},
		// Request ids must be unique for this member across restarts
		// (core.Node.Propose): start from the clock in nanoseconds, which
		// no earlier run can have caught up with.
		nextReq: uint64(cfg.Now().UnixNano()),
	}
	d.sendFn, d.deliverFn = d.send, d.deliver
	st := node.Status()
	d.status.Store(&st)
	go d.run()
	return d
}

// Step queues a message from a peer. It never blocks: when the inbox is
// full the message is dropped and counted, and raft retransmits.
func (d *Driver) Step(id uint64, m *pb.Message) bool {
	select {
	case d.inbox <- inbound{id: id, m: m}:
		return true
	default:
		d.dropped.Add(1)
		return false
	}
}

// ReportUnreachable tells the member a send to peer failed.
func (d *Driver) ReportUnreachable(peer uint64) {
	select {
	case d.inbox <- inbound{report: reportUnreachable, peer: peer}:
	default:
		d.dropped.Add(1)
	}
}

// ReportSnapshot tells the member how sending a snapshot to peer ended. It
// waits for room rather than dropping: a lost report leaves the follower in
// StateSnapshot.
func (d *Driver) ReportSnapshot(peer uint64, ok bool) {
	select {
	case d.inbox <- inbound{report: reportSnapshot, peer: peer, ok: ok}:
	case <-d.done:
	}
}

// Dropped returns how many inbound messages were dropped on a full inbox.
func (d *Driver) Dropped() uint64 { return d.dropped.Load() }

// Stop stops the driver and waits for its goroutine. The node's store is
// the caller's to close.
func (d *Driver) Stop() {
	d.stopper.Do(func() { close(d.stop) })
	<-d.done
}

// Done is closed when the driver stopped, by Stop or because the member
// did (Err says why).
func (d *Driver) Done() <-chan struct{} { return d.done }

// Err returns why the driver stopped: nil after Stop, ErrRemoved, or the
// member's error.
func (d *Driver) Err() error {
	select {
	case <-d.done:
		return d.err
	default:
		return nil
	}
}

// Status returns the member's status as of its latest Ready.
func (d *Driver) Status() core.Status { return *d.status.Load() }

// Node returns the member, for reads that are safe from any goroutine
// (core.Node.Get reads the engine).
func (d *Driver) Node() *core.Node { return d.node }

// do runs f on the driver's goroutine. The loop handles the member's Ready
// after f and whatever else was queued with it: requests never handle a
// Ready themselves, so a burst of proposals becomes one Ready and one sync
// (the batching the throughput depends on).
func (d *Driver) do(ctx context.Context, f func()) error {
	select {
	case d.reqs <- f:
		return nil
	case <-d.done:
		return d.stoppedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Driver) stoppedErr() error {
	if d.err != nil {
		return d.err
	}
	return ErrStopped
}

// await starts a request with start (on the driver's goroutine, given a
// fresh request id) and waits for its result.
func (d *Driver) await(ctx context.Context, start func(reqID uint64) error) (core.Result, error) {
	ch := make(chan core.Result, 1)
	var reqID uint64
	errc := make(chan error, 1)
	if err := d.do(ctx, func() {
		d.nextReq++
		reqID = d.nextReq
		if err := start(reqID); err != nil {
			errc <- err
			return
		}
		d.futures[reqID] = ch
		errc <- nil
	}); err != nil {
		return core.Result{}, err
	}
	select {
	case err := <-errc:
		if err != nil {
			return core.Result{}, err
		}
	case <-d.done:
		return core.Result{}, d.stoppedErr()
	}
	select {
	case r := <-ch:
		return r, r.Err
	case <-ctx.Done():
		// Give up: the member forgets the request.
		_ = d.do(context.Background(), func() {
			delete(d.futures, reqID)
			d.node.Cancel(reqID)
		})
		return core.Result{}, ctx.Err()
	case <-d.done:
		return core.Result{}, d.stoppedErr()
	}
}

// Propose writes c through raft and returns its index once it is applied
// on this member.
func (d *Driver) Propose(ctx context.Context, c core.Command) (uint64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	r, err := d.await(ctx, func(id uint64) error {
		d.batchBytes += len(c.Key) + len(c.Value)
		return d.node.Propose(id, c)
	})
	return r.Index, err
}

// Read reads key linearizably (ReadIndex): the value as of a commit index
// the leader confirmed after the call started.
func (d *Driver) Read(ctx context.Context, key string) (value []byte, found bool, index uint64, err error) {
	r, err := d.await(ctx, func(id uint64) error { return d.node.ReadIndex(id, key) })
	return r.Value, r.Found, r.Index, err
}

// ConfChange proposes a membership change (on the leader only) and returns
// the resulting membership once applied here.
func (d *Driver) ConfChange(ctx context.Context, cc *pb.ConfChangeV2, urls map[uint64]string) (*pb.ConfState, uint64, error) {
	r, err := d.await(ctx, func(id uint64) error { return d.node.ProposeConfChange(id, cc, urls) })
	return r.ConfState, r.Index, err
}

// TransferLeader asks the leader to hand leadership to member to.
func (d *Driver) TransferLeader(ctx context.Context, to uint64) error {
	errc := make(chan error, 1)
	if err := d.do(ctx, func() {
		errc <- d.node.TransferLeader(to)
	}); err != nil {
		return err
	}
	return <-errc
}

// Snapshot makes the member snapshot its state machine now.
func (d *Driver) Snapshot(ctx context.Context) (uint64, error) {
	type res struct {
		idx uint64
		err error
	}
	c := make(chan res, 1)
	if err := d.do(ctx, func() {
		idx, err := d.node.Snapshot()
		c <- res{idx, err}
	}); err != nil {
		return 0, err
	}
	r := <-c
	return r.idx, r.err
}

// Campaign makes the member start an election now.
func (d *Driver) Campaign(ctx context.Context) error {
	errc := make(chan error, 1)
	if err := d.do(ctx, func() {
		errc <- d.node.Campaign()
	}); err != nil {
		return err
	}
	return <-errc
}

func (d *Driver) emit(e core.Event) {
	if d.cfg.Events != nil {
		d.cfg.Events.Emit(e)
	}
}

// Events stamps events with one gapless sequence and the wall-clock time in
// Unix milliseconds, and hands them on. A member's events and its driver's
// go through one Events.
type Events struct {
	mu  sync.Mutex
	seq uint64
	now func() time.Time
	out func(core.Event)
}

// NewEvents returns an Events that hands stamped events to out, which must
// not block. now nil is time.Now.
func NewEvents(out func(core.Event), now func() time.Time) *Events {
	if now == nil {
		now = time.Now
	}
	return &Events{out: out, now: now}
}

// Emit stamps e and hands it on.
func (ev *Events) Emit(e core.Event) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.seq++
	e.V = core.SchemaVersion
	e.Seq = ev.seq
	e.Time = ev.now().UnixMilli()
	ev.out(e)
}

func (d *Driver) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// StateDigest returns the digest of the member's state machine at its
// applied index, computed on the driver's goroutine so that the two agree.
func (d *Driver) StateDigest(ctx context.Context) (core.StateDigest, error) {
	type res struct {
		d   core.StateDigest
		err error
	}
	c := make(chan res, 1)
	if err := d.do(ctx, func() {
		dg, err := d.node.StateDigest()
		c <- res{dg, err}
	}); err != nil {
		return core.StateDigest{}, err
	}
	select {
	case r := <-c:
		return r.d, r.err
	case <-d.done:
		return core.StateDigest{}, d.stoppedErr()
	case <-ctx.Done():
		return core.StateDigest{}, ctx.Err()
	}
}

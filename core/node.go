// Package core is one raft member as a pure, single-threaded state machine:
// the production raft library (go.etcd.io/raft/v3) driven through its
// RawNode, over a storage.Store, applying committed entries to a replicated
// key-value map, and reporting everything it does as events.
//
// core has no goroutines, clock, network or disk of its own: a driver
// (core/sim, deterministic; core/live, real time) feeds it ticks, messages
// and requests, calls HandleReady while HasReady, and sends the messages it
// returns. A test enforces the absence of I/O.
package core

import (
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/storage"
)

// Errors of the environment, returned to the driver.
var (
	// ErrStopped is wrapped by every call on a member that stopped.
	ErrStopped = errors.New("core: member stopped")
	// ErrNoLeader: the member knows no leader to take the request.
	ErrNoLeader = errors.New("core: no leader")
	// ErrNotLeader: the request must go to the leader (conf changes).
	ErrNotLeader = errors.New("core: not the leader")
	// ErrProposalLost: another entry was committed where the proposal had
	// been appended; it will never be applied.
	ErrProposalLost = errors.New("core: proposal lost to a leader change")
	// ErrUnknownOutcome: the member jumped past the proposal's index with a
	// snapshot; the proposal may or may not have been applied.
	ErrUnknownOutcome = errors.New("core: proposal outcome unknown")
	// ErrConfChangeIgnored: raft turned the conf change into an empty entry
	// (raft#354), or every member refused it when applying.
	ErrConfChangeIgnored = errors.New("core: conf change ignored")
	// ErrDuplicateRequest: the request id is already waiting.
	ErrDuplicateRequest = errors.New("core: duplicate request id")
	// ErrLeaderChanged: a read lost its way when the term or the leader
	// changed before it got a read index; retry it.
	ErrLeaderChanged = errors.New("core: leader changed; retry")
	// ErrTooManyRequests: maxPending requests already wait.
	ErrTooManyRequests = errors.New("core: too many requests waiting")
)

// maxPending bounds the requests waiting for an answer in one member.
const maxPending = 100_000

// Node is one raft member. It is not safe for concurrent use.
type Node struct {
	cfg   Config
	id    uint64
	rn    *raft.RawNode
	store *storage.Store
	sink  func(Event)

	// What the member last reported, to emit changes only.
	role     raft.StateType
	lead     uint64
	term     uint64
	commit   uint64
	timer    TimerInfo
	progress map[uint64]ProgressInfo
	// progressScratch is noteProgress's buffer, kept between Readies.
	progressScratch []ProgressInfo
	readyNum        uint64

	// Invariant: applied is the store's applied index; confState is the
	// membership as of applied; snapIndex is the latest snapshot's index.
	applied   uint64
	confState *pb.ConfState
	snapIndex uint64
	// compactTo is where the log is being compacted to, a step per Ready
	// (compact.go); 0 when it is not.
	compactTo uint64

	// Requests waiting for an answer, all keyed by the driver's request id.
	props map[uint64]*proposal
	// queued are the writes Propose holds for FlushProposals
	// (Config.BatchProposals), in order.
	queued []queuedProposal
	// propIdx maps a log index to our proposals appended there, oldest
	// first: a new leader may overwrite one with another, and only the
	// entry applied at the index says which won.
	propIdx  map[uint64][]uint64
	reads    []*pendingRead // in request order
	ccs      map[uint64]*pendingCC
	ccChecks []uint64 // conf changes proposed as leader, to find in the next Ready

	applyBatch storage.Batch
	stopped    error
}

type proposal struct {
	cmd   Command
	index uint64 // 0 until appended to our log
}

type pendingRead struct {
	reqID uint64
	key   string
	index uint64
	ready bool
}

type pendingCC struct {
	cc    *pb.ConfChangeV2
	index uint64
}

// NewNode starts a member over store, which holds its log (new or from a
// previous run). A new member of a new cluster needs Bootstrap first; a
// member joining a running cluster starts empty and receives a snapshot.
func NewNode(cfg Config, store *storage.Store) (n *Node, err error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// A crash during a snapshot's restore left the state machine behind
	// the log: finish it before anything reads the store.
	store.SetRestorer(kvRestorer(store.Engine(), c.Failpoint))
	if err := store.FinishRestore(); err != nil {
		return nil, err
	}
	n = &Node{
		cfg:       c,
		id:        c.ID,
		store:     store,
		sink:      c.Events,
		props:     map[uint64]*proposal{},
		propIdx:   map[uint64][]uint64{},
		ccs:       map[uint64]*pendingCC{},
		progress:  map[uint64]ProgressInfo{},
		applied:   store.Applied(),
		confState: store.ConfState(),
		snapIndex: store.SnapshotMetadata().GetIndex(),
	}
	hs := store.HardState()
	n.term, n.commit = hs.GetTerm(), hs.GetCommit()
	store.SetDescriber(DescribeEntryData)
	if n.sink != nil {
		store.SetObserver(func(c storage.KeyChange) { n.emit(Event{Kind: KindKey, Key: &c}) })
	}
	rc := &raft.Config{
		ID:                        c.ID,
		ElectionTick:              c.ElectionTicks,
		HeartbeatTick:             c.HeartbeatTicks,
		Storage:                   store,
		Applied:                   n.applied,
		MaxSizePerMsg:             c.MaxSizePerMsg,
		MaxInflightMsgs:           c.MaxInflightMsgs,
		MaxUncommittedEntriesSize: c.MaxUncommittedEntriesSize,
		CheckQuorum:               true, // §6.2 of the thesis: a leader cut off steps down
		PreVote:                   true, // thesis §9.6: a rejoining member does not disrupt
		StepDownOnRemoval:         true, // a removed leader stops leading (etcd#11038)
		ReadOnlyOption:            raft.ReadOnlySafe,
		Logger:                    &raftLogger{n: n, next: c.Logger, debug: c.DebugLog},
	}
	// raft panics on a state it cannot start from; that is bad input from
	// disk, so it becomes an error.
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("core: raft refused the stored state: %v", r)
			}
		}()
		n.rn, err = raft.NewRawNode(rc)
	}()
	if err != nil {
		store.SetObserver(nil)
		return nil, err
	}
	st := n.rn.BasicStatus()
	n.role, n.lead = st.RaftState, st.Lead
	if n.sink != nil {
		first, _ := store.FirstIndex()
		last, _ := store.LastIndex()
		// A member fresh from Bootstrap holds term 1, no vote and the
		// bootstrap snapshot only; anything more was written by a run.
		restart := hs.GetTerm() > 1 || hs.GetVote() != 0 || last > 1
		n.emit(Event{Kind: KindStart, Start: &StartInfo{
			Restart:        restart,
			Term:           hs.GetTerm(),
			Vote:           hs.GetVote(),
			Commit:         hs.GetCommit(),
			Applied:        n.applied,
			FirstIndex:     first,
			LastIndex:      last,
			ConfState:      storage.DescribeConfState(n.confState),
			ElectionTicks:  c.ElectionTicks,
			HeartbeatTicks: c.HeartbeatTicks,
		}})
		n.emitRole()
		n.noteTimer()
		n.emitStorage()
	}
	return n, nil
}

// maxDumpedKeys bounds the keys a member reports when it starts.
const maxDumpedKeys = 20_000

// emitStorage reports every stored key as it is on disk when the member
// starts, so that an event stream alone shows the whole storage (the keys
// a bootstrap or an earlier run wrote included).
func (n *Node) emitStorage() {
	count := 0
	_ = n.store.Dump(true, func(c storage.KeyChange) {
		count++
		if count <= maxDumpedKeys {
			n.emit(Event{Kind: KindKey, Key: &c})
		}
	})
	if count > maxDumpedKeys {
		n.emit(Event{Kind: KindLog, Log: &LogInfo{Level: "warning", Text: fmt.Sprintf("storage holds %d keys; the first %d were reported", count, maxDumpedKeys)}})
	}
}

// failpoint calls the configured crash point name, if any.
func (n *Node) failpoint(name string) {
	if n.cfg.Failpoint != nil {
		n.cfg.Failpoint(name)
	}
}

// ID returns the member's id.
func (n *Node) ID() uint64 { return n.id }

// Store returns the member's store.
func (n *Node) Store() *storage.Store { return n.store }

// Stopped returns the error that stopped the member, or nil.
func (n *Node) Stopped() error { return n.stopped }

func (n *Node) emit(e Event) {
	if n.sink == nil {
		return
	}
	e.V = SchemaVersion
	e.Node = n.id
	n.sink(e)
}

// fail stops the member: every later call returns err. A member that saw an
// error it cannot handle (a write that failed, a panic from raft on a message
// it could not accept) must not go on, because raft's state may no longer
// match its storage.
func (n *Node) fail(err error) error {
	if n.stopped == nil {
		n.stopped = fmt.Errorf("%w: %v", ErrStopped, err)
		n.emit(Event{Kind: KindStop, Error: err.Error()})
	}
	return n.stopped
}

// guard turns a panic from raft into a stopped member.
func (n *Node) guard(err *error) {
	if r := recover(); r != nil {
		*err = n.fail(fmt.Errorf("raft panicked: %v", r))
	}
}

// Tick advances the member's logical clock by one tick: election and
// heartbeat timers count ticks (§5.2).
func (n *Node) Tick() (err error) {
	if n.stopped != nil {
		return n.stopped
	}
	defer n.guard(&err)
	n.rn.Tick()
	n.noteTimer()
	return nil
}

// Step hands the member a message from a peer. Messages for another member
// and local message types are refused.
func (n *Node) Step(m *pb.Message) (err error) {
	if n.stopped != nil {
		return n.stopped
	}
	if m.GetTo() != n.id {
		return fmt.Errorf("core: message for %d stepped on %d", m.GetTo(), n.id)
	}
	if m.GetFrom() == 0 || m.GetFrom() == n.id {
		return fmt.Errorf("core: message from %d refused on %d", m.GetFrom(), n.id)
	}
	defer n.guard(&err)
	if m.GetType() == pb.MsgSnap {
		s := m.GetSnapshot()
		md := s.GetMetadata()
		n.emit(Event{Kind: KindSnapshot, Snapshot: &SnapshotInfo{Phase: "received", Index: md.GetIndex(), Term: md.GetTerm(), Peer: m.GetFrom(), Size: len(s.GetData()), ConfState: storage.DescribeConfState(md.GetConfState())}})
	}
	if err := n.rn.Step(m); err != nil {
		return err
	}
	n.noteTimer()
	return nil
}

// Campaign makes the member start an election now (§5.2), as its timer
// would.
func (n *Node) Campaign() (err error) {
	if n.stopped != nil {
		return n.stopped
	}
	defer n.guard(&err)
	return n.rn.Campaign()
}

// Propose proposes a client write. reqID must be unique for this member,
// across restarts too; the answer comes as a Result with that id from
// HandleReady once the write is applied, or as an error now (with
// Config.BatchProposals, a refusal by raft comes from FlushProposals).
func (n *Node) Propose(reqID uint64, c Command) (err error) {
	if n.stopped != nil {
		return n.stopped
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if _, dup := n.props[reqID]; dup {
		return ErrDuplicateRequest
	}
	if n.pending() >= maxPending {
		return ErrTooManyRequests
	}
	data := encodeCommand(request{n.id, reqID}, c)
	if n.cfg.BatchProposals {
		n.props[reqID] = &proposal{cmd: c}
		n.queued = append(n.queued, queuedProposal{reqID: reqID, entry: &pb.Entry{Data: data}})
		return nil
	}
	defer n.guard(&err)
	if err := n.rn.Propose(data); err != nil {
		return n.proposalFailed(reqID, c, err)
	}
	n.props[reqID] = &proposal{cmd: c}
	n.emit(Event{Kind: KindProposal, Proposal: &ProposalInfo{Phase: "proposed", ReqID: reqID, Command: c.String()}})
	return nil
}

// proposalFailed reports a proposal raft refused and returns the error
// its proposer gets.
func (n *Node) proposalFailed(reqID uint64, c Command, err error) error {
	n.emit(Event{Kind: KindProposal, Proposal: &ProposalInfo{Phase: "failed", ReqID: reqID, Command: c.String(), Error: err.Error()}})
	if errors.Is(err, raft.ErrProposalDropped) && n.lead == 0 {
		return fmt.Errorf("%w: %v", ErrNoLeader, err)
	}
	return err
}

// queuedProposal is a client write Propose queued (Config.BatchProposals).
type queuedProposal struct {
	reqID uint64
	entry *pb.Entry
}

// FlushProposals hands the writes Propose queued to raft in one proposal
// message (Config.BatchProposals), and returns a failed Result for each
// when raft refuses them (no leader, a leadership transfer under way, too
// many uncommitted bytes): raft takes or drops such a message whole.
func (n *Node) FlushProposals() (failed []Result) {
	// A write cancelled while queued (its proposer gave up) is not
	// proposed at all.
	q := slices.DeleteFunc(n.queued, func(p queuedProposal) bool { return n.props[p.reqID] == nil })
	// The array is kept for the next batch, without the entries' data.
	defer func() { clear(q); n.queued = q[:0] }()
	if len(q) == 0 {
		return nil
	}
	err := n.stopped
	if err == nil {
		ents := make([]*pb.Entry, len(q))
		for i, p := range q {
			ents[i] = p.entry
		}
		err = n.stepProposals(ents)
	}
	for _, p := range q {
		c := n.props[p.reqID].cmd
		if err != nil {
			delete(n.props, p.reqID)
			failed = append(failed, Result{ReqID: p.reqID, Err: n.proposalFailed(p.reqID, c, err)})
			continue
		}
		n.emit(Event{Kind: KindProposal, Proposal: &ProposalInfo{Phase: "proposed", ReqID: p.reqID, Command: c.String()}})
	}
	return failed
}

// stepProposals steps one MsgProp with ents, as RawNode.Propose does with
// one entry.
func (n *Node) stepProposals(ents []*pb.Entry) (err error) {
	defer n.guard(&err)
	return n.rn.Step(&pb.Message{Type: pb.MsgProp.Enum(), From: new(n.id), Entries: ents})
}

// ReadIndex asks for a linearizable read of key (§8, thesis §6.4): the
// leader confirms it still leads and returns its commit index; the member
// answers once it applied that far. The answer is a Result with reqID.
func (n *Node) ReadIndex(reqID uint64, key string) (err error) {
	if n.stopped != nil {
		return n.stopped
	}
	if key == "" || len(key) > MaxKeyBytes {
		return fmt.Errorf("core: bad key length %d", len(key))
	}
	if n.lead == 0 {
		return ErrNoLeader
	}
	for _, r := range n.reads {
		if r.reqID == reqID {
			return ErrDuplicateRequest
		}
	}
	if n.pending() >= maxPending {
		return ErrTooManyRequests
	}
	defer n.guard(&err)
	n.reads = append(n.reads, &pendingRead{reqID: reqID, key: key})
	n.rn.ReadIndex(encodeContext(request{n.id, reqID}))
	n.emit(Event{Kind: KindRead, Read: &ReadInfo{Phase: "requested", ReqID: reqID, Key: key}})
	return nil
}

// Get reads key from the local state machine: a serializable read, which may
// be stale (§8).
func (n *Node) Get(key string) ([]byte, bool, error) {
	if n.stopped != nil {
		return nil, false, n.stopped
	}
	return GetKV(n.store.Engine(), key)
}

// TransferLeader asks the leader to hand leadership to member to (thesis
// §3.10): it brings to's log up to date and sends it MsgTimeoutNow.
func (n *Node) TransferLeader(to uint64) (err error) {
	if n.stopped != nil {
		return n.stopped
	}
	if n.role != raft.StateLeader {
		return fmt.Errorf("%w (leader is %d)", ErrNotLeader, n.lead)
	}
	defer n.guard(&err)
	n.emit(Event{Kind: KindTransfer, Transfer: &TransferInfo{Phase: "requested", From: n.id, To: to}})
	n.rn.TransferLeader(to)
	return nil
}

// ReportUnreachable tells raft a send to id failed, so the leader probes it
// instead of streaming to it.
func (n *Node) ReportUnreachable(id uint64) {
	if n.stopped == nil {
		n.rn.ReportUnreachable(id)
	}
}

// ReportSnapshot tells raft whether a snapshot sent to id arrived. The
// driver must call it for every MsgSnap, or the follower stays in
// StateSnapshot.
func (n *Node) ReportSnapshot(id uint64, ok bool) {
	if n.stopped != nil {
		return
	}
	status := raft.SnapshotFinish
	if !ok {
		status = raft.SnapshotFailure
	}
	n.rn.ReportSnapshot(id, status)
	md := n.store.SnapshotMetadata()
	n.emit(Event{Kind: KindSnapshot, Snapshot: &SnapshotInfo{Phase: "reported", Index: md.GetIndex(), Term: md.GetTerm(), Peer: id, Failed: !ok, ConfState: storage.DescribeConfState(md.GetConfState())}})
}

// Cancel forgets request reqID: its answer will not come. A driver calls it
// when it gave up on a request (a client timeout), so that requests whose
// outcome the member cannot learn (a proposal forwarded to a leader that
// dropped it) do not pile up.
func (n *Node) Cancel(reqID uint64) {
	if p := n.props[reqID]; p != nil {
		delete(n.props, reqID)
		if ids := n.propIdx[p.index]; len(ids) > 0 {
			ids = slices.DeleteFunc(ids, func(id uint64) bool { return id == reqID })
			if len(ids) == 0 {
				delete(n.propIdx, p.index)
			} else {
				n.propIdx[p.index] = ids
			}
		}
	}
	n.reads = slices.DeleteFunc(n.reads, func(r *pendingRead) bool { return r.reqID == reqID })
	delete(n.ccs, reqID)
	n.ccChecks = slices.DeleteFunc(n.ccChecks, func(id uint64) bool { return id == reqID })
}

func (n *Node) pending() int { return len(n.props) + len(n.reads) + len(n.ccs) }

// HasReady reports whether HandleReady has work.
func (n *Node) HasReady() bool {
	return n.stopped == nil && n.rn.HasReady()
}

func (n *Node) noteTimer() {
	if n.sink == nil {
		return
	}
	t := electionTimer(n.rn)
	// Between resets the timer moves one per tick, which the UI draws
	// itself; report only resets and new timeouts.
	if t.Timeout != n.timer.Timeout || t.Elapsed < n.timer.Elapsed || (t.Elapsed > n.timer.Elapsed+1) {
		n.emit(Event{Kind: KindTimer, Timer: &t})
	}
	n.timer = t
}

func (n *Node) emitRole() {
	n.emit(Event{Kind: KindRole, Role: &RoleInfo{Role: roleName(n.role), Term: n.term, Lead: n.lead}})
}

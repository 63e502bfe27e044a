package core

import "github.com/raftlab/raftlab/storage"

// SchemaVersion is the version of the event schema. It changes whenever a
// field changes meaning or disappears; the UI refuses a stream of another
// version. testdata/events.golden.json pins the encoding.
const SchemaVersion = 1

// Kind names what an event is about. Kinds cross to JavaScript as strings.
type Kind string

// The event kinds. The ui/model/events.js type file mirrors this list.
const (
	// A member started: fresh, or restarted from its storage (Start).
	KindStart Kind = "start"
	// The driver crashed a member: volatile state lost, unsynced writes
	// rolled back (Lost lists them).
	KindCrash Kind = "crash"
	// A member stopped because it hit an error it cannot continue from
	// (Error), or because it was removed from the cluster.
	KindStop Kind = "stop"
	// Role, term or known leader changed (Role). §5.1, §5.2.
	KindRole Kind = "role"
	// The election timer was reset or re-randomized (Timer). Between two
	// timer events it advances one per tick. §5.2.
	KindTimer Kind = "timer"
	// A vote was requested, granted or rejected (Vote), PreVote included.
	// §5.2, thesis §9.6.
	KindVote Kind = "vote"
	// A message left a member, reached one, or was dropped (Msg). Send and
	// delivery carry the same message id.
	KindSend    Kind = "send"
	KindDeliver Kind = "deliver"
	KindDrop    Kind = "drop"
	// raft handed the member a Ready; Ready says what it asked for, in the
	// order the member carries it out: persist, sync, send, apply, advance.
	KindReady Kind = "ready"
	// A storage key was written or deleted (Key).
	KindKey Kind = "key"
	// The commit index advanced (Commit). §5.3, §5.4.2.
	KindCommit Kind = "commit"
	// Committed entries were applied to the state machine (Apply).
	KindApply Kind = "apply"
	// A snapshot was created, sent, received or applied (Snapshot). §7.
	KindSnapshot Kind = "snapshot"
	// The log was compacted up to an index (Compact). §7.
	KindCompact Kind = "compact"
	// A membership change was proposed, applied or refused (ConfChange). §6.
	KindConfChange Kind = "confChange"
	// A leadership transfer was requested or its TimeoutNow sent
	// (Transfer). Thesis §3.10.
	KindTransfer Kind = "transfer"
	// A linearizable read was requested, got its read index, or was served
	// (Read). §8, thesis §6.4.
	KindRead Kind = "read"
	// A client proposal was made, applied, dropped or lost (Proposal).
	KindProposal Kind = "proposal"
	// The leader's view of a follower changed (Progress).
	KindProgress Kind = "progress"
	// The simulated network changed: partitions, cut links, latency, loss
	// (Network).
	KindNetwork Kind = "network"
	// A line of raft's own log (Log).
	KindLog Kind = "log"
	// A bounded buffer overflowed and events were lost (Dropped).
	KindDropped Kind = "dropped"
)

// Kinds lists every kind, in the order above.
var Kinds = []Kind{KindStart, KindCrash, KindStop, KindRole, KindTimer, KindVote, KindSend, KindDeliver, KindDrop,
	KindReady, KindKey, KindCommit, KindApply, KindSnapshot, KindCompact, KindConfChange, KindTransfer, KindRead,
	KindProposal, KindProgress, KindNetwork, KindLog, KindDropped}

// Event is one thing that happened to one member. Exactly one of the
// payload fields is set, the one its Kind names.
type Event struct {
	// V is SchemaVersion.
	V int `json:"v"`
	// Seq orders the events of one source (a simulation, or one real
	// member) without gaps; a consumer that sees a gap lost events.
	Seq uint64 `json:"seq"`
	// Time is virtual milliseconds in a simulation, Unix milliseconds on a
	// real member.
	Time int64 `json:"time"`
	// Node is the member the event is about; 0 for cluster-wide events.
	Node uint64 `json:"node"`
	Kind Kind   `json:"kind"`

	Start      *StartInfo         `json:"start,omitempty"`
	Lost       []string           `json:"lost,omitempty"`
	Error      string             `json:"error,omitempty"`
	Role       *RoleInfo          `json:"role,omitempty"`
	Timer      *TimerInfo         `json:"timer,omitempty"`
	Vote       *VoteInfo          `json:"vote,omitempty"`
	Msg        *MsgInfo           `json:"msg,omitempty"`
	Ready      *ReadyInfo         `json:"ready,omitempty"`
	Key        *storage.KeyChange `json:"key,omitempty"`
	Commit     *CommitInfo        `json:"commit,omitempty"`
	Apply      *ApplyInfo         `json:"apply,omitempty"`
	Snapshot   *SnapshotInfo      `json:"snapshot,omitempty"`
	Compact    *CompactInfo       `json:"compact,omitempty"`
	ConfChange *ConfChangeInfo    `json:"confChange,omitempty"`
	Transfer   *TransferInfo      `json:"transfer,omitempty"`
	Read       *ReadInfo          `json:"read,omitempty"`
	Proposal   *ProposalInfo      `json:"proposal,omitempty"`
	Progress   *ProgressInfo      `json:"progress,omitempty"`
	Network    *NetworkInfo       `json:"network,omitempty"`
	Log        *LogInfo           `json:"log,omitempty"`
	Dropped    *DroppedInfo       `json:"dropped,omitempty"`
}

// StartInfo describes a member as it starts.
type StartInfo struct {
	// Restart is true when the member found state in its storage.
	Restart bool `json:"restart"`
	// Term, Vote and Commit come from the stored HardState.
	Term   uint64 `json:"term"`
	Vote   uint64 `json:"vote"`
	Commit uint64 `json:"commit"`
	// Applied is where the state machine stands (Config.Applied).
	Applied    uint64                 `json:"applied"`
	FirstIndex uint64                 `json:"firstIndex"`
	LastIndex  uint64                 `json:"lastIndex"`
	ConfState  storage.ConfStateValue `json:"confState"`
	// ElectionTicks and HeartbeatTicks are the member's timing in ticks.
	ElectionTicks  int `json:"electionTicks"`
	HeartbeatTicks int `json:"heartbeatTicks"`
}

// RoleInfo is a member's role, term and leader.
type RoleInfo struct {
	// Role is "follower", "preCandidate", "candidate" or "leader".
	Role string `json:"role"`
	Term uint64 `json:"term"`
	// Lead is the leader this member knows of, 0 for none.
	Lead uint64 `json:"lead"`
}

// TimerInfo is the election timer in ticks: it fires when Elapsed reaches
// Timeout, randomized in [electionTicks, 2*electionTicks) (§5.2).
type TimerInfo struct {
	Elapsed int `json:"elapsed"`
	Timeout int `json:"timeout"`
}

// VoteInfo is one step of an election.
type VoteInfo struct {
	// Decision is "requested", "granted" or "rejected".
	Decision  string `json:"decision"`
	Candidate uint64 `json:"candidate"`
	Voter     uint64 `json:"voter"`
	// Term is the term the vote is for.
	Term uint64 `json:"term"`
	// Pre is true for a PreVote, which changes no one's term.
	Pre bool `json:"pre"`
}

// MsgInfo describes a raft message on the wire.
type MsgInfo struct {
	// ID pairs a send with its delivery or drop. It is unique per sender.
	ID      uint64 `json:"id"`
	Type    string `json:"type"`
	From    uint64 `json:"from"`
	To      uint64 `json:"to"`
	Term    uint64 `json:"term"`
	LogTerm uint64 `json:"logTerm,omitempty"`
	Index   uint64 `json:"index,omitempty"`
	Commit  uint64 `json:"commit,omitempty"`
	Vote    uint64 `json:"vote,omitempty"`
	Reject  bool   `json:"reject,omitempty"`
	// RejectHint is the follower's hint of where its log diverges.
	RejectHint uint64 `json:"rejectHint,omitempty"`
	// Entries summarizes the entries carried.
	Entries []storage.EntryValue `json:"entries,omitempty"`
	// Snapshot is the metadata of a carried snapshot.
	Snapshot *storage.SnapshotValue `json:"snapshot,omitempty"`
	// Size is the message's encoded size in bytes.
	Size int `json:"size"`
	// Reason says why a message was dropped.
	Reason string `json:"reason,omitempty"`
	// DeliverAt is the virtual time a simulated message is due to arrive.
	DeliverAt int64 `json:"deliverAt,omitempty"`
}

// ReadyInfo is what one Ready asked the member to do.
type ReadyInfo struct {
	// Number counts the Readies of this member since it started.
	Number uint64 `json:"number"`
	// Entries to persist, as the range [EntriesFrom, EntriesTo]; both 0
	// for none.
	EntriesFrom uint64 `json:"entriesFrom,omitempty"`
	EntriesTo   uint64 `json:"entriesTo,omitempty"`
	// HardState is set when it changed.
	HardState *storage.HardStateValue `json:"hardState,omitempty"`
	// Snapshot is the index of a snapshot to persist and restore.
	Snapshot uint64 `json:"snapshot,omitempty"`
	// MustSync is raft's verdict; Synced is what the member did (it also
	// syncs for a snapshot).
	MustSync bool `json:"mustSync"`
	Synced   bool `json:"synced"`
	// Messages is how many messages were released.
	Messages int `json:"messages"`
	// SentBeforePersist: a leader sent its messages while it persisted
	// (thesis §10.2.1); otherwise they left after the write.
	SentBeforePersist bool `json:"sentBeforePersist,omitempty"`
	// Committed entries to apply, as [CommittedFrom, CommittedTo].
	CommittedFrom uint64 `json:"committedFrom,omitempty"`
	CommittedTo   uint64 `json:"committedTo,omitempty"`
	ReadStates    int    `json:"readStates,omitempty"`
}

// CommitInfo is a commit index advance.
type CommitInfo struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// ApplyInfo is a batch of entries applied to the state machine.
type ApplyInfo struct {
	From    uint64               `json:"from"`
	To      uint64               `json:"to"`
	Entries []storage.EntryValue `json:"entries"`
}

// SnapshotInfo is a step in a snapshot's life.
type SnapshotInfo struct {
	// Phase is "created", "sent", "received", "applied" or "reported".
	Phase string `json:"phase"`
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	// Peer is the other member for "sent", "received" and "reported".
	Peer uint64 `json:"peer,omitempty"`
	// Size of the state machine data in bytes.
	Size      int                    `json:"size"`
	ConfState storage.ConfStateValue `json:"confState"`
	// Failed is set on "reported" when the send failed.
	Failed bool `json:"failed,omitempty"`
}

// CompactInfo is a log compaction: entries up to Index are gone.
type CompactInfo struct {
	Index uint64 `json:"index"`
}

// ConfChangeInfo is a step of a membership change.
type ConfChangeInfo struct {
	// Phase is "proposed", "applied" or "refused".
	Phase string `json:"phase"`
	// Changes in raft's notation, e.g. "v4 l5" or "r2"; "" to leave a
	// joint configuration.
	Changes string `json:"changes"`
	ReqID   uint64 `json:"reqId,omitempty"`
	Index   uint64 `json:"index,omitempty"`
	// ConfState after an applied change.
	ConfState *storage.ConfStateValue `json:"confState,omitempty"`
	// Reason a change was refused.
	Reason string `json:"reason,omitempty"`
}

// TransferInfo is a step of a leadership transfer.
type TransferInfo struct {
	// Phase is "requested" or "timeoutNow".
	Phase string `json:"phase"`
	From  uint64 `json:"from"`
	To    uint64 `json:"to"`
}

// ReadInfo is a step of a linearizable read.
type ReadInfo struct {
	// Phase is "requested", "ready" (the read index is known), "served"
	// or "failed".
	Phase string `json:"phase"`
	ReqID uint64 `json:"reqId"`
	Key   string `json:"key"`
	// Index is the read index.
	Index uint64 `json:"index,omitempty"`
	Found bool   `json:"found,omitempty"`
	Value string `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
}

// ProposalInfo is a step of a client write.
type ProposalInfo struct {
	// Phase is "proposed", "appended", "applied" or "failed".
	Phase   string `json:"phase"`
	ReqID   uint64 `json:"reqId"`
	Command string `json:"command"`
	Index   uint64 `json:"index,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ProgressInfo is the leader's view of one follower (§5.3; raft's
// tracker.Progress).
type ProgressInfo struct {
	Peer  uint64 `json:"peer"`
	Match uint64 `json:"match"`
	Next  uint64 `json:"next"`
	// State is "probe", "replicate" or "snapshot".
	State           string `json:"state"`
	Inflight        int    `json:"inflight"`
	RecentActive    bool   `json:"recentActive"`
	Paused          bool   `json:"paused"`
	PendingSnapshot uint64 `json:"pendingSnapshot,omitempty"`
	Learner         bool   `json:"learner,omitempty"`
}

// NetworkInfo is the simulated network as a change left it.
type NetworkInfo struct {
	// Groups partition the members; empty when there is no partition.
	Groups [][]uint64 `json:"groups,omitempty"`
	// Cuts are one-way links that drop everything: [from, to] pairs.
	Cuts       [][2]uint64 `json:"cuts,omitempty"`
	LatencyMs  int64       `json:"latencyMs"`
	JitterMs   int64       `json:"jitterMs"`
	LossRatio  float64     `json:"lossRatio"`
	DiskMs     int64       `json:"diskMs"`
	Down       []uint64    `json:"down,omitempty"`
	Membership []uint64    `json:"members,omitempty"`
}

// LogInfo is a line of raft's logger.
type LogInfo struct {
	Level string `json:"level"`
	Text  string `json:"text"`
}

// DroppedInfo counts events lost to a full buffer.
type DroppedInfo struct {
	Count uint64 `json:"count"`
}

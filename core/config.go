package core

import (
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
)

// Config configures a Node. The zero value of every field but ID is a sane
// default.
type Config struct {
	// ID is the member's id; not 0.
	ID uint64
	// ElectionTicks is the election timeout in ticks; each member randomizes
	// its own in [ElectionTicks, 2*ElectionTicks) (§5.2). Default 10.
	ElectionTicks int
	// HeartbeatTicks is how often a leader sends heartbeats. Default 1.
	HeartbeatTicks int
	// SnapshotEntries makes the member snapshot its state machine every time
	// this many entries were applied since the last snapshot (§7). 0 means
	// only on demand.
	SnapshotEntries uint64
	// CatchUpEntries is how many entries a snapshot keeps in the log behind
	// it, so a follower that lags a little catches up with entries rather
	// than a whole snapshot (etcd's SnapshotCatchUpEntries).
	CatchUpEntries uint64
	// MaxSizePerMsg caps the bytes of entries in one append message.
	// Default 1 MiB.
	MaxSizePerMsg uint64
	// MaxInflightMsgs caps the append messages in flight to one follower.
	// Default 256.
	MaxInflightMsgs int
	// MaxUncommittedEntriesSize caps the bytes of proposals waiting to
	// commit on a leader; beyond it proposals are dropped. Default 64 MiB.
	MaxUncommittedEntriesSize uint64
	// BatchProposals makes Propose queue client writes until
	// FlushProposals, which hands them to raft in one proposal message: a
	// leader then appends them together and sends each follower one
	// append for all of them, not one per write (and a follower forwards
	// them to the leader in one message). For a driver that takes a burst
	// of requests before it handles the Ready (core/live). Off: each
	// write is proposed at once, as the simulator shows it.
	BatchProposals bool
	// Events receives every event of the member, without Seq and Time
	// (the driver stamps them). Nil turns events off.
	Events func(Event)
	// DebugLog also turns raft's debug lines into events.
	DebugLog bool
	// Logger receives raft's log lines too. Nil: only events.
	Logger raft.Logger
	// Failpoint, when set, is called at the named crash points of the Ready
	// loop and of a snapshot's restore (see the Failpoint* constants), so
	// that a test build can crash the process exactly there. It must not
	// call back into the Node. Nil: no crash points.
	Failpoint func(name string)
}

// The crash points a Config.Failpoint is called at. Each is reached only
// when there is work at that step, so a crash there always loses
// something the step was about to do.
const (
	// FailpointBeforeSave: a Ready with entries, a HardState or a snapshot
	// to persist, before the batch is written (a leader may already have
	// sent its appends, thesis §10.2.1).
	FailpointBeforeSave = "before-save"
	// FailpointAfterSave: the batch is durable, the Ready's messages not
	// yet released (a follower has not acknowledged what it persisted; a
	// leader sent its appends before it saved, and a pipelining follower
	// the proposals and reads it forwards).
	FailpointAfterSave = "after-save"
	// FailpointAfterSend: a Ready with committed entries released its
	// messages (a leader's were handed to the transport), and applies none
	// yet.
	FailpointAfterSend = "after-send"
	// FailpointDuringRestore: a snapshot from the leader was recorded and
	// one chunk of its state machine written, the restore not finished
	// (the applied index still behind it).
	FailpointDuringRestore = "during-restore"
)

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.ID == 0 {
		return out, errors.New("core: member id 0 is reserved for none")
	}
	if out.ElectionTicks == 0 {
		out.ElectionTicks = 10
	}
	if out.HeartbeatTicks == 0 {
		out.HeartbeatTicks = 1
	}
	if out.HeartbeatTicks < 0 || out.ElectionTicks <= out.HeartbeatTicks {
		return out, fmt.Errorf("core: election ticks (%d) must exceed heartbeat ticks (%d), both positive", out.ElectionTicks, out.HeartbeatTicks)
	}
	if out.MaxSizePerMsg == 0 {
		out.MaxSizePerMsg = 1 << 20
	}
	if out.MaxInflightMsgs <= 0 {
		out.MaxInflightMsgs = 256
	}
	if out.MaxUncommittedEntriesSize == 0 {
		out.MaxUncommittedEntriesSize = 64 << 20
	}
	return out, nil
}

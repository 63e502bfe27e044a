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
	// Events receives every event of the member, without Seq and Time
	// (the driver stamps them). Nil turns events off.
	Events func(Event)
	// DebugLog also turns raft's debug lines into events.
	DebugLog bool
	// Logger receives raft's log lines too. Nil: only events.
	Logger raft.Logger
}

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

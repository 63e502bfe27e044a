// Package sim is the deterministic driver of core.Node: a cluster of
// members on a virtual clock, a simulated network (latency, jitter, loss,
// partitions, cut links), crashes that lose unsynced writes, a simulated
// client, and a safety checker that runs after every step.
//
// A run is reproduced exactly, event for event, natively and under wasm,
// from (seed, Config, action log). Time is virtual milliseconds; nothing in a
// run depends on the wall clock, map order or goroutines. raft draws its
// randomized election timeouts from crypto/rand.Reader, so while a cluster
// runs, the simulator installs a seeded stream there (randsource.go); no
// other package does.
package sim

import "fmt"

// Config describes a simulated cluster. Units are in the names; zero means
// the default.
type Config struct {
	// Nodes is the number of voters at the start, ids 1..Nodes (1 to 9).
	Nodes int `json:"nodes"`
	// Seed makes the run reproducible.
	Seed uint64 `json:"seed"`
	// TickMs is the virtual time between two ticks of a member. Default 100.
	TickMs int64 `json:"tickMs,omitempty"`
	// ElectionTicks and HeartbeatTicks: raft's timing. Defaults 10 and 1.
	ElectionTicks  int `json:"electionTicks,omitempty"`
	HeartbeatTicks int `json:"heartbeatTicks,omitempty"`
	// LatencyMs is the one-way delay of a message; JitterMs adds a uniform
	// random [0, JitterMs]. Defaults 20 and 10. A negative value means 0.
	LatencyMs int64 `json:"latencyMs,omitempty"`
	JitterMs  int64 `json:"jitterMs,omitempty"`
	// LossRatio is the chance that a message is lost, in [0, 1].
	LossRatio float64 `json:"lossRatio,omitempty"`
	// DiskMs is how long a synced write takes: a member's messages from a
	// Ready that syncs leave that much later, and the member handles
	// nothing else meanwhile. Default 0.
	DiskMs int64 `json:"diskMs,omitempty"`
	// SnapshotEntries and CatchUpEntries: see core.Config. Defaults 0
	// (snapshots on demand only) and 5.
	SnapshotEntries uint64 `json:"snapshotEntries,omitempty"`
	CatchUpEntries  uint64 `json:"catchUpEntries,omitempty"`
	// ClientTimeoutMs fails a client request that got no answer. Default
	// 5000.
	ClientTimeoutMs int64 `json:"clientTimeoutMs,omitempty"`
	// Events turns on the event stream (TakeEvents) and the trace hash.
	// Simulation tests that only check safety leave it off for speed.
	Events bool `json:"events,omitempty"`
	// MaxBufferedEvents bounds the events waiting for TakeEvents; beyond
	// it events are counted as dropped. Default 200000.
	MaxBufferedEvents int `json:"maxBufferedEvents,omitempty"`
	// AckBeforeSync turns on the classic bug in every member's engine
	// after bootstrap: writes are acknowledged before they are durable.
	// Test-only, to prove the checker catches it.
	AckBeforeSync bool `json:"ackBeforeSync,omitempty"`
}

// MaxNodes is the largest cluster the simulator builds.
const MaxNodes = 9

func (c Config) withDefaults() (Config, error) {
	if c.Nodes < 1 || c.Nodes > MaxNodes {
		return c, fmt.Errorf("sim: nodes %d out of range [1, %d]", c.Nodes, MaxNodes)
	}
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		} else if *v < 0 {
			*v = 0
		}
	}
	def(&c.TickMs, 100)
	if c.TickMs == 0 {
		c.TickMs = 1
	}
	def(&c.LatencyMs, 20)
	def(&c.JitterMs, 10)
	def(&c.DiskMs, 0)
	def(&c.ClientTimeoutMs, 5000)
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.HeartbeatTicks < 1 || c.ElectionTicks <= c.HeartbeatTicks || c.ElectionTicks > 1000 {
		return c, fmt.Errorf("sim: election ticks %d must exceed heartbeat ticks %d (and stay <= 1000)", c.ElectionTicks, c.HeartbeatTicks)
	}
	if c.CatchUpEntries == 0 {
		c.CatchUpEntries = 5
	}
	if c.LossRatio < 0 || c.LossRatio > 1 || c.LossRatio != c.LossRatio {
		return c, fmt.Errorf("sim: loss ratio %v out of [0, 1]", c.LossRatio)
	}
	if c.TickMs > 60_000 || c.LatencyMs > 60_000 || c.JitterMs > 60_000 || c.DiskMs > 60_000 {
		return c, fmt.Errorf("sim: times are capped at 60000 ms")
	}
	if c.MaxBufferedEvents == 0 {
		c.MaxBufferedEvents = 200_000
	}
	return c, nil
}

package sim

import (
	"fmt"

	mrand "math/rand/v2"
)

// Chaos drives a cluster with client traffic and random faults, one action
// at a time through Do, so a chaotic run is an ordinary action log that
// replays exactly. Its decisions come from its own seeded stream, never from
// the cluster's.
type Chaos struct {
	// DurationMs is how long to run, in virtual ms.
	DurationMs int64
	// WriteEveryMs is the mean time between client writes (0: none).
	WriteEveryMs int64
	// ReadEveryMs is the mean time between linearizable reads (0: none).
	ReadEveryMs int64
	// FaultEveryMs is the mean time between faults (0: none).
	FaultEveryMs int64
	// Keys is the number of distinct keys written. Default 10.
	Keys int
}

// Run runs the chaos on c from now for DurationMs.
func (ch Chaos) Run(c *Cluster) error {
	rng := mrand.New(newSeededStream(c.cfg.Seed, "chaos").c)
	keys := ch.Keys
	if keys == 0 {
		keys = 10
	}
	end := c.now + ch.DurationMs
	next := func(mean int64) int64 {
		if mean <= 0 {
			return end + 1
		}
		return c.now + 1 + rng.Int64N(2*mean)
	}
	nextWrite, nextRead, nextFault := next(ch.WriteEveryMs), next(ch.ReadEveryMs), next(ch.FaultEveryMs)
	var written int
	for {
		t := min(nextWrite, nextRead, nextFault, end)
		if err := c.RunUntil(t); err != nil {
			return err
		}
		if t >= end {
			return nil
		}
		switch t {
		case nextWrite:
			written++
			_ = c.Do(Action{Kind: ActPut, Node: ch.anyUp(c, rng), Key: fmt.Sprintf("k%d", rng.IntN(keys)), Value: fmt.Sprintf("v%d", written)})
			nextWrite = next(ch.WriteEveryMs)
		case nextRead:
			_ = c.Do(Action{Kind: ActRead, Node: ch.anyUp(c, rng), Key: fmt.Sprintf("k%d", rng.IntN(keys))})
			nextRead = next(ch.ReadEveryMs)
		case nextFault:
			ch.fault(c, rng)
			nextFault = next(ch.FaultEveryMs)
		}
		if c.halted != nil {
			return c.halted
		}
	}
}

// anyUp picks a running member, 0 (the leader) when none is up.
func (Chaos) anyUp(c *Cluster, rng *mrand.Rand) uint64 {
	var up []uint64
	for _, id := range c.Members() {
		if c.Up(id) {
			up = append(up, id)
		}
	}
	if len(up) == 0 {
		return 0
	}
	return up[rng.IntN(len(up))]
}

// fault applies one random fault. Members that are down are restarted
// often, so the cluster keeps making progress between faults.
func (ch Chaos) fault(c *Cluster, rng *mrand.Rand) {
	members := c.Members()
	var up, down []uint64
	for _, id := range members {
		if c.Up(id) {
			up = append(up, id)
		} else {
			down = append(down, id)
		}
	}
	pick := func(ids []uint64) uint64 { return ids[rng.IntN(len(ids))] }
	switch r := rng.IntN(100); {
	case len(down) > 0 && r < 35:
		_ = c.Do(Action{Kind: ActRestart, Node: pick(down)})
	case len(up) > 0 && r < 55:
		_ = c.Do(Action{Kind: ActCrash, Node: pick(up)})
	case r < 65 && len(members) > 1:
		// A random split into two groups.
		var a, b []uint64
		for _, id := range members {
			if rng.IntN(2) == 0 {
				a = append(a, id)
			} else {
				b = append(b, id)
			}
		}
		_ = c.Do(Action{Kind: ActPartition, Groups: [][]uint64{a, b}})
	case r < 75:
		_ = c.Do(Action{Kind: ActHeal})
	case r < 80 && len(members) > 1:
		from, to := pick(members), pick(members)
		if from != to {
			_ = c.Do(Action{Kind: ActCut, Node: from, Peer: to})
		}
	case r < 85:
		loss := float64(rng.IntN(4)) / 10
		_ = c.Do(Action{Kind: ActNetwork, LossRatio: &loss})
	case r < 90 && len(up) > 0:
		_ = c.Do(Action{Kind: ActSnapshot, Node: pick(up)})
	case r < 95 && len(up) > 0:
		_ = c.Do(Action{Kind: ActTransfer, Peer: pick(up)})
	case len(up) > 0:
		_ = c.Do(Action{Kind: ActCampaign, Node: pick(up)})
	}
}

package main

import "fmt"

// A load with fewer clients than members cannot be spread evenly: with one
// client, every write goes through member 1, and whether that member leads
// decides the latency (a write through a follower takes one more hop to the
// leader and one back, §6 of the Raft paper). Leaders land differently in
// the two systems (etcd's first member wins its first election most of the
// time, Raftlab's leader is anyone), so such a run would compare the
// systems' luck. Instead such a client count runs twice on every cluster:
// through the leader and through a follower.

// clusterMembers is the size of every cluster compare starts.
const clusterMembers = 3

// via says where a run's clients send their writes.
type via string

const (
	viaSpread   via = ""         // connection j to member j % members
	viaLeader   via = "leader"   // every client on the leader
	viaFollower via = "follower" // every client on one follower
)

// runCase is one load run on every cluster: a client count and a path.
type runCase struct {
	clients int
	via     via
}

func (rc runCase) String() string {
	noun := "clients"
	if rc.clients == 1 {
		noun = "client"
	}
	if rc.via == viaSpread {
		return fmt.Sprintf("%d %s", rc.clients, noun)
	}
	return fmt.Sprintf("%d %s via %s", rc.clients, noun, rc.via)
}

// runCases lists the runs on each cluster, in order: each client count,
// twice (leader, follower) when there are fewer clients than members and
// the load is not pinned to a member with -pin.
func runCases(c *config, members int) []runCase {
	var rcs []runCase
	for _, n := range c.clients {
		if c.pin == 0 && n < members {
			rcs = append(rcs, runCase{n, viaLeader}, runCase{n, viaFollower})
		} else {
			rcs = append(rcs, runCase{n, viaSpread})
		}
	}
	return rcs
}

// endpointsFor returns the client URLs a run sends to: the leader's, the
// first follower's, or all (or the pinned member's) otherwise.
func endpointsFor(c *config, all []string, leader int, v via) []string {
	switch {
	case c.pin > 0:
		return all[c.pin-1 : c.pin]
	case v == viaLeader:
		return all[leader : leader+1]
	case v == viaFollower:
		f := (leader + 1) % len(all)
		return all[f : f+1]
	}
	return all
}

//go:build unix

package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/raftlab/raftlab/core"
)

// A member that is down while the others take two automatic snapshots (and
// compact their logs past where it stopped) catches up by snapshot when it
// comes back (§7): the leader's events show the snapshot sent to it, its own
// show it received and applied, and its data matches.
func TestCatchUpBySnapshot(t *testing.T) {
	t.Parallel()
	const every, keep = 40, 10
	c := StartCluster(t, ClusterOptions{Size: 3, Flags: []string{
		"--tick", "50ms",
		"--snapshot-entries", fmt.Sprint(every),
		"--snapshot-catchup-entries", fmt.Sprint(keep),
	}})
	cl := c.NewClient()
	leader := c.Leader(t)
	lagger := c.Followers(t, leader)[0]
	cl.MustPut(t, leader, "before", "the lagger saw this")
	lagger.WaitApplied(t, leader.MustStatus(t).Commit)
	stoppedAt := lagger.MustStatus(t).Applied
	lagger.Kill(t)

	snaps := func(e core.Event) bool { return e.Kind == core.KindSnapshot || e.Kind == core.KindCompact }
	leaderEvents := leader.Events(t, EventsFromNow, snaps)
	const writes = 3*every + 5
	for i := range writes {
		cl.MustPut(t, leader, fmt.Sprintf("s%03d", i), fmt.Sprintf("value %d", i))
	}
	// Two automatic snapshots, and a log compacted past the lagger.
	var created []uint64
	leaderEvents.WaitFor(t, "the leader's second automatic snapshot", func(e core.Event) bool {
		if e.Kind == core.KindSnapshot && e.Snapshot.Phase == "created" && !slices.Contains(created, e.Snapshot.Index) {
			created = append(created, e.Snapshot.Index)
		}
		return len(created) >= 2
	})
	first := leader.MustStatus(t).Status.FirstIndex
	if first <= stoppedAt+1 {
		t.Fatalf("leader's log starts at %d: not compacted past the lagger's %d", first, stoppedAt)
	}
	t.Logf("member %d stopped at %d; leader %d snapshotted at %v, its log now starts at %d", lagger.ID, stoppedAt, leader.ID, created, first)

	restarted := time.Now()
	lagger.Start(t)
	sent := leaderEvents.WaitFor(t, fmt.Sprintf("leader %d to send member %d a snapshot", leader.ID, lagger.ID), func(e core.Event) bool {
		return e.Kind == core.KindSnapshot && e.Snapshot.Phase == "sent" && e.Snapshot.Peer == lagger.ID
	})
	// The lagger's own stream from the start of its run: received, then
	// applied, the snapshot the leader sent.
	laggerEvents := lagger.Events(t, 0, snaps)
	received := laggerEvents.WaitFor(t, "the lagger to receive the snapshot", func(e core.Event) bool {
		return e.Kind == core.KindSnapshot && e.Snapshot.Phase == "received" && e.Snapshot.Peer == leader.ID && e.Snapshot.Index == sent.Snapshot.Index
	})
	applied := laggerEvents.WaitFor(t, "the lagger to apply the snapshot", func(e core.Event) bool {
		return e.Kind == core.KindSnapshot && e.Snapshot.Phase == "applied" && e.Snapshot.Index == sent.Snapshot.Index
	})
	if applied.Seq < received.Seq {
		t.Fatalf("applied (seq %d) before received (seq %d)", applied.Seq, received.Seq)
	}
	if !slices.Contains(applied.Snapshot.ConfState.Voters, lagger.ID) {
		t.Fatalf("applied snapshot's membership %+v lacks member %d", applied.Snapshot.ConfState, lagger.ID)
	}
	t.Logf("leader sent snapshot %d (%d bytes of state); member %d received and applied it; caught up %v after restart",
		sent.Snapshot.Index, sent.Snapshot.Size, lagger.ID, time.Since(restarted).Round(time.Millisecond))

	// Its data matches: every key, read locally.
	cl.MustPut(t, leader, "after", "the snapshot")
	cl.WaitValue(t, lagger, "after", "serializable", "the snapshot")
	cl.WantValue(t, lagger, "before", "serializable", "the lagger saw this")
	for i := range writes {
		cl.WantValue(t, lagger, fmt.Sprintf("s%03d", i), "serializable", fmt.Sprintf("value %d", i))
	}
	if st := lagger.MustStatus(t).Status; st.SnapshotIndex < sent.Snapshot.Index {
		t.Fatalf("lagger's snapshot index %d, want at least %d", st.SnapshotIndex, sent.Snapshot.Index)
	}
}

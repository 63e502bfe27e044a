package core

// Log compaction after a snapshot (§7 of the Raft paper): the entries a
// snapshot covers may go, but for CatchUpEntries kept for followers that lag
// a little.
//
// Deleting them is not free. Each entry is a key of its own in the store
// (/raft/entry/{idx}), so compacting the 10000 entries a real member's
// snapshot leaves behind is 10000 deletions and 10000 key events: 23-29 ms
// in Badger (storage/badger BenchmarkCompact), and 24-135 ms measured on the
// members of a cluster under 64 clients, which held every write in flight
// for that long, on all three members at once (they snapshot at the same
// index). So a member compacts in steps of compactStep entries: one when it
// takes the snapshot and one in each Ready after that, until the log is
// down to the target. A step costs about 0.7 ms in Badger; a member deletes
// compactStep entries per Ready and appends a few dozen at most, so the log
// still shrinks at once under load. A log shorter than a step (a simulated
// cluster's, with its small snapshot settings) is compacted at once, as
// before.
//
// The target lives in memory only: a member that restarts before the steps
// end keeps the rest of those entries until its next snapshot, whose
// compaction takes them too.
const compactStep = 256

// compactSome compacts the log by at most compactStep entries toward
// n.compactTo and reports each step with a compact event.
func (n *Node) compactSome() error {
	if n.compactTo == 0 {
		return nil
	}
	first, err := n.store.FirstIndex()
	if err != nil {
		return err
	}
	if n.compactTo < first {
		// Done, or a snapshot from the leader replaced the log.
		n.compactTo = 0
		return nil
	}
	to := min(n.compactTo, first+compactStep-1)
	if err := n.store.Compact(to); err != nil {
		return err
	}
	n.emit(Event{Kind: KindCompact, Compact: &CompactInfo{Index: to}})
	if to == n.compactTo {
		n.compactTo = 0
	}
	return nil
}

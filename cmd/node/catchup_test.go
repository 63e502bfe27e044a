//go:build unix

package main

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// A member that is down while the others take thousands of small writes
// catches up by appends when it comes back (no snapshot: the log is never
// compacted here): the leader sends it every missed entry in one append, and
// it applies them in one Ready. Each was one Badger transaction, past
// Badger's limit of 6553 keys, and the member stopped with "Txn is too big"
// on every restart; the store and core now write them in chunks
// (storage/chunks.go).
func TestCatchUpOnManySmallWrites(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, ClusterOptions{Size: 3, Flags: []string{"--snapshot-entries", "0"}})
	leader := c.Leader(t)
	lagger := c.Followers(t, leader)[0]
	lagger.Kill(t)

	// 14000 writes of a short key and a one-byte value, more than Badger took
	// in one transaction even with the 8 MiB memtable of before: 16 writers.
	const writers, each = 16, 875
	var wg sync.WaitGroup
	errs := make(chan string, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c.NewClient()
			for i := range each {
				if op := cl.Put(leader, fmt.Sprintf("k%02d-%03d", w, i), "v"); !op.OK() {
					errs <- op.String()
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("a write failed: %s", e)
	}
	cl := c.NewClient()
	last := cl.MustPut(t, leader, "last", "written after the others")

	restarted := time.Now()
	lagger.Start(t)
	// Entries apply in order: "last" there means every write is.
	cl.WaitValue(t, lagger, "last", "serializable", "written after the others")
	for w := range writers {
		cl.WantValue(t, lagger, fmt.Sprintf("k%02d-%03d", w, each-1), "serializable", "v")
	}
	if !lagger.Running() {
		t.Fatalf("member %d stopped after catching up: %s", lagger.ID, lagger.ExitState())
	}
	t.Logf("member %d caught up on %d writes (to index %d) in %v", lagger.ID, writers*each, last.Index, time.Since(restarted).Round(time.Millisecond))
}

package main

import (
	rtmetrics "runtime/metrics"
	"testing"
	"time"
)

var sink [][]byte

func releasedHeap() uint64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64()
}

// A member gives back the heap a burst left once it is quiet, and only
// then: not while it applies entries, and in one quiet spell again only
// after a gap that doubles.
func TestQuietMemberGivesHeapBack(t *testing.T) {
	burst := func() {
		// The peak of a burst, 96 MiB live at once, then garbage.
		for range 96 {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			sink = append(sink, b)
		}
		sink = nil
		if held := heldHeap(); held < heapToRelease {
			t.Fatalf("held heap %d MiB after the burst, want at least %d", held>>20, heapToRelease>>20)
		}
	}
	burst()
	now := time.Now()
	q := quietRelease{last: 10}
	if q.observe(now, 20) {
		t.Fatal("released while entries were being applied")
	}
	before := releasedHeap()
	now = now.Add(quietCheck)
	if !q.observe(now, 20) {
		t.Fatalf("a quiet member holding %d MiB did not release", heldHeap()>>20)
	}
	if got := releasedHeap() - before; got < 48<<20 {
		t.Errorf("gave back %d MiB of a 96 MiB burst's garbage, want at least 48", got>>20)
	}

	// The same quiet spell: the next release after firstGap, the one
	// after that twice as long after it.
	burst()
	for _, step := range []struct {
		after time.Duration
		want  bool
	}{{quietCheck, false}, {firstGap - quietCheck, true}, {firstGap, false}, {2 * firstGap, true}} {
		now = now.Add(step.after)
		if got := q.observe(now, 20); got != step.want {
			t.Fatalf("%v later: released %v, want %v", step.after, got, step.want)
		}
		if step.want {
			burst()
		}
	}

	// Work again, then quiet: released at the first quiet look.
	q.observe(now.Add(quietCheck), 30)
	if !q.observe(now.Add(2*quietCheck), 30) {
		t.Error("no release at the first quiet look after more work")
	}
}

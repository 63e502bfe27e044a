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
// then: not while it applies entries, and not again right away.
func TestQuietMemberGivesHeapBack(t *testing.T) {
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
	if q.observe(now.Add(quietCheck), 20) {
		t.Error("released again within releaseGap")
	}
}

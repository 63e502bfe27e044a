package main

import (
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
)

// A member gives the heap a burst of writes left behind back to the OS once
// it goes quiet.
//
// Badger builds each table it flushes or compacts in buffers of the Go heap:
// tens of MB for one flush of the 8 MiB memtable (the builder keeps every
// block, and a copy sized for the worst case of its compression), several
// builders at once in a compaction. The collector lets the heap grow to
// twice what was live at its last cycle, so during a burst the heap reaches
// several times what stays live after it. After a 20-second burst of
// single-client writes, members held 85-100 MiB of heap against 16 MiB of
// live objects, and ten seconds of quiet later still did: the runtime hands
// pages back only as far as the goal set at its last collection, made at
// the peak, and a member that allocates nothing runs no collection for two
// minutes.
const (
	// quietCheck is how often the member looks: a second with no entry
	// applied is quiet.
	quietCheck = time.Second
	// heapToRelease is the heap (in objects, or free and not yet given
	// back) above which a quiet member collects and gives back what is
	// free; a member at rest holds 15-30 MiB.
	heapToRelease = 48 << 20
	// releaseGap bounds how often it does so, should its live heap itself
	// be above heapToRelease.
	releaseGap = 10 * time.Second
)

// releaseWhenQuiet runs until the member stops.
func (s *server) releaseWhenQuiet() {
	t := time.NewTicker(quietCheck)
	defer t.Stop()
	q := quietRelease{last: s.driver.Status().Applied}
	for {
		select {
		case <-s.stopping:
			return
		case now := <-t.C:
			q.observe(now, s.driver.Status().Applied)
		}
	}
}

// quietRelease decides, from the applied index seen every quietCheck,
// when to give memory back.
type quietRelease struct {
	last       uint64
	releasedAt time.Time
}

// observe takes the applied index at now, and collects and gives back the
// free heap if the member was quiet since the last look and holds enough;
// it says whether it did.
func (q *quietRelease) observe(now time.Time, applied uint64) bool {
	quiet := applied == q.last
	q.last = applied
	if !quiet || now.Sub(q.releasedAt) < releaseGap || heldHeap() < heapToRelease {
		return false
	}
	debug.FreeOSMemory()
	q.releasedAt = now
	return true
}

// heldHeap is the heap the process holds from the OS: its objects, live or
// not yet collected, and the free pages it has not given back.
func heldHeap() uint64 {
	s := []rtmetrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	rtmetrics.Read(s)
	var n uint64
	for _, x := range s {
		if x.Value.Kind() == rtmetrics.KindUint64 {
			n += x.Value.Uint64()
		}
	}
	return n
}

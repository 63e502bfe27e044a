package main

import (
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
)

// A member gives the heap a burst of writes left behind back to the OS once
// it goes quiet.
//
// Under load the heap holds Badger's memtables (a flush keeps the full one
// beside the new one), its block cache, and what the collector lets pile up
// between cycles: it lets the heap grow to twice what was live at its last
// one. The runtime hands pages back only as far as the goal set at its last
// collection, made under load; a member that allocates nothing runs no
// collection for two minutes. So after a burst a member holds more heap
// than it needs at rest. It was worst while Badger built its tables in the
// Go heap (up to 28 MB for one flush of a 4 MiB memtable; on Linux the
// builders are now outside it, storage/badger/offheap.go): after 20 s of
// single-client writes members had 84-95 MB of heap in use against 16 MB
// live, still so ten seconds later.
//
// A quiet member therefore collects and gives back what is free, again
// after 2, 4, 8 ... s while it stays quiet, and not at all while it holds
// little.
const (
	// quietCheck is how often the member looks: a look with no entry
	// applied since the last is quiet.
	quietCheck = time.Second
	// heapToRelease is the heap (in objects, or free and not yet given
	// back) below which there is nothing worth a collection; a member at
	// rest holds 15-30 MiB.
	heapToRelease = 32 << 20
	// firstGap and maxGap bound the time between two releases in one
	// quiet spell, which doubles from the one to the other.
	firstGap = 2 * time.Second
	maxGap   = 64 * time.Second
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
	last uint64
	// next is the earliest time of the next release in this quiet spell
	// (zero: at its first quiet look), gap the wait before it.
	next time.Time
	gap  time.Duration
}

// observe takes the applied index at now, and collects and gives back the
// free heap if the member was quiet since the last look, holds enough, and
// its time has come; it says whether it did.
func (q *quietRelease) observe(now time.Time, applied uint64) bool {
	if applied != q.last {
		q.last, q.next, q.gap = applied, time.Time{}, 0
		return false
	}
	if now.Before(q.next) || heldHeap() < heapToRelease {
		return false
	}
	debug.FreeOSMemory()
	q.gap = min(max(2*q.gap, firstGap), maxGap)
	q.next = now.Add(q.gap)
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

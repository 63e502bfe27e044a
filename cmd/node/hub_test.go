package main

import (
	"math"
	"testing"

	"github.com/raftlab/raftlab/core"
)

// The hub's history and resumption: what a consumer gets back for each
// since, including ones the history no longer reaches and ones beyond it.
func TestHubResume(t *testing.T) {
	h := newHub(100, nil)
	for seq := uint64(1); seq <= 250; seq++ {
		h.publish(core.Event{Seq: seq, Kind: core.KindLog})
	}
	for _, tc := range []struct {
		since         uint64
		first, missed uint64 // first event of the backlog (0: none)
	}{
		{0, 151, 150},
		{149, 151, 1},
		{150, 151, 0},
		{200, 201, 0},
		{250, 0, 0},
		{5000, 0, 0}, // a consumer of an earlier run of the member
		{math.MaxUint64, 0, 0},
	} {
		backlog, missed, sub := h.subscribe(tc.since, nil)
		h.unsubscribe(sub)
		first := uint64(0)
		if len(backlog) > 0 {
			first = backlog[0].Seq
			if last := backlog[len(backlog)-1].Seq; last != 250 {
				t.Errorf("since %d: backlog ends at %d", tc.since, last)
			}
		}
		if first != tc.first || missed != tc.missed {
			t.Errorf("since %d: backlog from %d, missed %d; want from %d, missed %d", tc.since, first, missed, tc.first, tc.missed)
		}
	}
	if got := h.lastSeq(); got != 250 {
		t.Errorf("lastSeq %d", got)
	}
}

// A subscriber that does not keep up is cut off; publishing never blocks
// and the others go on.
func TestHubCutsOffSlowSubscriber(t *testing.T) {
	h := newHub(100, nil)
	_, _, slow := h.subscribe(0, nil)
	_, _, fast := h.subscribe(0, nil)
	var got []*hubEvent
	for seq := uint64(1); seq <= subscriberBuffer+1; seq++ {
		h.publish(core.Event{Seq: seq})
		if got = h.take(fast, got); len(got) != 1 || got[0].Seq != seq {
			t.Fatalf("fast subscriber took %d events at event %d", len(got), seq)
		}
	}
	select {
	case <-slow.cut:
	default:
		t.Fatal("slow subscriber not cut off")
	}
	select {
	case <-fast.cut:
		t.Fatal("fast subscriber cut off")
	default:
	}
}

// Nobody watching, publishing allocates nothing: a loaded leader makes
// tens of thousands of events a second, and each used to cost two
// allocations (the event moved to the heap, and its copy in the history).
func TestHubPublishUnwatchedAllocatesNothing(t *testing.T) {
	observed := 0
	h := newHub(100, func(e *core.Event) { observed++ })
	seq := uint64(0)
	commit := &core.CommitInfo{} // the payload is the caller's allocation
	publish := func() {
		seq++
		h.publish(core.Event{Seq: seq, Kind: core.KindCommit, Commit: commit})
	}
	for range 150 { // fill the ring, which grows as events come
		publish()
	}
	if allocs := testing.AllocsPerRun(1000, publish); allocs != 0 {
		t.Errorf("publish allocates %.1f times an event with no subscriber", allocs)
	}
	if observed != int(seq) {
		t.Errorf("observed %d events of %d", observed, seq)
	}
	// A subscriber costs one allocation an event, shared by every stream,
	// once its batches have grown.
	_, _, a := h.subscribe(seq, nil)
	_, _, b := h.subscribe(seq, nil)
	var doneA, doneB []*hubEvent
	for range 2 {
		for range 200 {
			publish()
		}
		doneA, doneB = h.take(a, doneA), h.take(b, doneB)
	}
	if allocs := testing.AllocsPerRun(100, publish); allocs != 1 {
		t.Errorf("publish allocates %.1f times an event with two subscribers, want 1", allocs)
	}
	gotA, gotB := h.take(a, doneA), h.take(b, doneB)
	if len(gotA) != 101 || len(gotB) != 101 || gotA[0] != gotB[0] || gotA[0].Seq != seq-100 {
		t.Errorf("took %d and %d events, first %v and %v: want the same 101 events", len(gotA), len(gotB), gotA[0], gotB[0])
	}
}

// A hub asked to keep no history still keeps the newest event, and does
// not fail on the first.
func TestHubOfNoHistory(t *testing.T) {
	h := newHub(0, nil)
	h.publish(core.Event{Seq: 1})
	h.publish(core.Event{Seq: 2})
	if got := h.lastSeq(); got != 2 {
		t.Errorf("lastSeq %d, want 2", got)
	}
	if backlog, missed, sub := h.subscribe(0, nil); len(backlog) != 1 || backlog[0].Seq != 2 || missed != 1 {
		t.Errorf("backlog %d events, missed %d; want event 2, 1 missed", len(backlog), missed)
	} else {
		h.unsubscribe(sub)
	}
}

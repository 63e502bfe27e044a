package main

import (
	"fmt"
	"testing"

	"github.com/raftlab/raftlab/core"
	"github.com/raftlab/raftlab/storage"
)

// t0 is an event time in Unix ms, on a refill boundary.
const t0 = int64(1_700_000_000_000)

// perWindow is what a limit of 2000 a second gives in each refill window.
const perWindow = int(2000 * refillMs / 1000)

// kinds describes a stream's events as the tests compare them: the kind,
// and for a "dropped" event its count.
func kinds(evs []*hubEvent) []string {
	var out []string
	for _, e := range evs {
		s := string(e.Kind)
		if e.Kind == core.KindDropped {
			s += fmt.Sprintf("(%d)", e.Dropped.Count)
		}
		out = append(out, s)
	}
	return out
}

// TestRateLimitKeepsTheStoryAndCountsTheRest: detail events beyond the rate
// are skipped and counted in one "dropped" event; the events that tell what
// happens to the cluster always pass, in order.
func TestRateLimitKeepsTheStoryAndCountsTheRest(t *testing.T) {
	h := newHub(100, nil)
	_, _, sub := h.subscribe(0, newRateLimit(3))
	for seq := uint64(1); seq <= 10; seq++ {
		kind := core.KindKey
		if seq == 6 {
			kind = core.KindRole
		}
		h.publish(core.Event{Seq: seq, Time: t0, Node: 1, Kind: kind})
	}
	got := h.take(sub, nil)
	if want := "[key key key dropped(2) role]"; fmt.Sprint(kinds(got)) != want {
		t.Fatalf("got %v, want %s", kinds(got), want)
	}
	if d := got[3]; d.Seq != 5 || d.Node != 1 || d.Time != t0 {
		t.Errorf("dropped event %+v: want seq 5 (the last skipped), node 1, the time of the event after it", d.Event)
	}
	// A second later the bucket is full again, and the skipped events at
	// the end of the first batch are reported with the next one sent.
	h.publish(core.Event{Seq: 11, Time: t0 + 1000, Node: 1, Kind: core.KindKey})
	got = h.take(sub, got)
	if len(got) != 2 || got[0].Kind != core.KindDropped || got[0].Dropped.Count != 4 || got[0].Seq != 10 || got[1].Seq != 11 {
		t.Fatalf("after a second: %v", kinds(got))
	}
}

// TestRateLimitRefillsEachWindow: a loaded stream gets rate*refillMs/1000
// detail events in each window, the windows' boundaries fixed by the
// events' times, and a clock stepped back adds nothing.
func TestRateLimitRefillsEachWindow(t *testing.T) {
	l := newRateLimit(2000)
	sent := func(from int64, n int) int {
		c := 0
		for i := range n {
			if l.admit(&core.Event{Seq: uint64(i), Time: from + int64(i)%refillMs, Kind: core.KindSend}) != skip {
				c++
			}
		}
		return c
	}
	if got := sent(t0, 5000); got != 2000 {
		t.Fatalf("first window: %d sent, want the burst of 2000", got)
	}
	for w := int64(1); w <= 3; w++ {
		if got := sent(t0+w*refillMs, 500); got != perWindow {
			t.Fatalf("window %d: %d sent, want %d", w, got, perWindow)
		}
	}
	if got := sent(t0+refillMs, 500); got != 0 {
		t.Fatalf("clock stepped back: %d sent, want 0", got)
	}
	if got := sent(t0+2*refillMs, 500); got != perWindow {
		t.Fatalf("a window after the step back: %d sent, want %d", got, perWindow)
	}
}

// TestRateLimitCutsAppliedEntries: an apply event always passes, with its
// entries' descriptions while the stream has a token for each, and with
// the first appliedEntriesKept of them once it has not; a stream without a
// limit still gets the whole event.
func TestRateLimitCutsAppliedEntries(t *testing.T) {
	h := newHub(100, nil)
	_, _, limited := h.subscribe(0, newRateLimit(30))
	_, _, all := h.subscribe(0, nil)
	apply := func(seq uint64, n int) {
		ents := make([]storage.EntryValue, n)
		for i := range ents {
			ents[i] = storage.EntryValue{Index: uint64(i + 1), Data: "put k v"}
		}
		h.publish(core.Event{Seq: seq, Time: t0, Kind: core.KindApply, Apply: &core.ApplyInfo{From: 1, To: uint64(n), Entries: ents}})
	}
	apply(1, 20)
	apply(2, 20)
	apply(3, 3)
	out := h.take(limited, nil)
	if len(out) != 3 {
		t.Fatalf("%d events out of 3 applies: %v", len(out), kinds(out))
	}
	if len(out[0].Apply.Entries) != 20 {
		t.Fatalf("first apply (20 tokens of 30): %d entries, want all 20", len(out[0].Apply.Entries))
	}
	if got := out[1].Apply; len(got.Entries) != appliedEntriesKept || got.From != 1 || got.To != 20 {
		t.Fatalf("second apply (10 tokens left): %+v, want its range and %d entries", got, appliedEntriesKept)
	}
	if len(out[2].Apply.Entries) != 3 {
		t.Fatalf("third apply: %d entries, want its 3", len(out[2].Apply.Entries))
	}
	whole := h.take(all, nil)
	if len(whole) != 3 || len(whole[1].Apply.Entries) != 20 || whole[0] != out[0] || whole[2] != out[2] {
		t.Fatalf("the stream without a limit: %v; want the same three events, the second whole", kinds(whole))
	}
}

// TestLimitedStreamsShareEvents: streams of the same rate, opened at
// different times, send the same events once their bursts are spent, so
// each is encoded once; an event every limit skips costs no allocation.
func TestLimitedStreamsShareEvents(t *testing.T) {
	h := newHub(100, nil)
	seq := uint64(0)
	now := t0
	publish := func(n int) { // n detail events in each of the next ten windows
		for range 10 {
			for range n {
				seq++
				h.publish(core.Event{Seq: seq, Time: now, Kind: core.KindSend})
			}
			now += refillMs
		}
	}
	_, _, a := h.subscribe(0, newRateLimit(2000))
	publish(1000)
	_, _, b := h.subscribe(seq, newRateLimit(2000))
	publish(1000)
	var gotA, gotB []*hubEvent
	gotA, gotB = h.take(a, gotA), h.take(b, gotB)
	publish(1000)
	gotA, gotB = h.take(a, gotA), h.take(b, gotB)
	if len(gotA) != len(gotB) || len(gotA) != 10*(perWindow+1) {
		t.Fatalf("took %d and %d events in ten loaded windows, want %d and a dropped event in each", len(gotA), len(gotB), perWindow)
	}
	for i := range gotA {
		if gotA[i].Kind != core.KindDropped && gotA[i] != gotB[i] {
			t.Fatalf("event %d: the streams got %d and %d, want the same event", i, gotA[i].Seq, gotB[i].Seq)
		}
	}
	// Both buckets are empty in this window: the next event is skipped.
	if allocs := testing.AllocsPerRun(100, func() {
		seq++
		h.publish(core.Event{Seq: seq, Time: now - 1, Kind: core.KindSend})
	}); allocs != 0 {
		t.Errorf("publishing an event both limits skip allocates %.1f times", allocs)
	}
}

// TestLimitedBacklog: a stream that resumes gets its backlog under its
// limit, and the events after it under what is left of the burst.
func TestLimitedBacklog(t *testing.T) {
	h := newHub(1000, nil)
	for seq := uint64(1); seq <= 100; seq++ {
		h.publish(core.Event{Seq: seq, Time: t0, Kind: core.KindKey})
	}
	h.publish(core.Event{Seq: 101, Time: t0, Kind: core.KindRole})
	backlog, missed, sub := h.subscribe(0, newRateLimit(10))
	if got := kinds(backlog); missed != 0 || len(got) != 12 || got[10] != "dropped(90)" || got[11] != "role" {
		t.Fatalf("backlog %v, missed %d: want 10 keys, dropped(90), role", got, missed)
	}
	h.publish(core.Event{Seq: 102, Time: t0, Kind: core.KindKey})
	h.publish(core.Event{Seq: 103, Time: t0, Kind: core.KindCommit, Commit: &core.CommitInfo{}})
	if got := fmt.Sprint(kinds(h.take(sub, nil))); got != "[dropped(1) commit]" {
		t.Fatalf("after the backlog: %s, want [dropped(1) commit]", got)
	}
}

package main

import (
	"testing"
	"time"

	"github.com/raftlab/raftlab/core"
	"github.com/raftlab/raftlab/storage"
)

// TestRateLimitKeepsTheStoryAndCountsTheRest: detail events beyond the rate
// are skipped and counted in one "dropped" event; the events that tell what
// happens to the cluster always pass, in order.
func TestRateLimitKeepsTheStoryAndCountsTheRest(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newRateLimit(3)
	l.now = func() time.Time { return now }
	var batch []*hubEvent
	for seq := uint64(1); seq <= 10; seq++ {
		kind := core.KindKey
		if seq == 6 {
			kind = core.KindRole
		}
		batch = append(batch, &hubEvent{Event: core.Event{Seq: seq, Kind: kind}})
	}
	out := l.filter(batch, 1)
	var got []string
	for _, e := range out {
		s := string(e.Kind)
		if e.Kind == core.KindDropped {
			s += "(" + string(rune('0'+e.Dropped.Count)) + ")"
		}
		got = append(got, s)
	}
	want := []string{"key", "key", "key", "dropped(2)", "role"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// A second later the bucket is full again, and the skipped events at
	// the end of the first batch are reported with the next one sent.
	now = now.Add(time.Second)
	out = l.filter([]*hubEvent{{Event: core.Event{Seq: 11, Kind: core.KindKey}}}, 1)
	if len(out) != 2 || out[0].Kind != core.KindDropped || out[0].Dropped.Count != 4 || out[0].Seq != 10 || out[1].Seq != 11 {
		t.Fatalf("after a second: %+v", out)
	}
}

// TestRateLimitCutsAppliedEntries: an apply event always passes, with its
// entries' descriptions while the stream has a token for each, and with
// the first appliedEntriesKept of them once it has not; the event the
// other streams share is not changed.
func TestRateLimitCutsAppliedEntries(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newRateLimit(30)
	l.now = func() time.Time { return now }
	apply := func(seq uint64, n int) *hubEvent {
		ents := make([]storage.EntryValue, n)
		for i := range ents {
			ents[i] = storage.EntryValue{Index: uint64(i + 1), Data: "put k v"}
		}
		return &hubEvent{Event: core.Event{Seq: seq, Kind: core.KindApply, Apply: &core.ApplyInfo{From: 1, To: uint64(n), Entries: ents}}}
	}
	whole, big, small := apply(1, 20), apply(2, 20), apply(3, 3)
	out := l.filter([]*hubEvent{whole, big, small}, 1)
	if len(out) != 3 {
		t.Fatalf("%d events out of 3 applies: %+v", len(out), out)
	}
	if out[0] != whole || len(out[0].Apply.Entries) != 20 {
		t.Fatalf("first apply (20 tokens of 30): %d entries, want all 20", len(out[0].Apply.Entries))
	}
	if got := out[1].Apply; len(got.Entries) != appliedEntriesKept || got.From != 1 || got.To != 20 {
		t.Fatalf("second apply (10 tokens left): %+v, want its range and %d entries", got, appliedEntriesKept)
	}
	if len(big.Apply.Entries) != 20 {
		t.Fatalf("the shared event lost its entries: %d left", len(big.Apply.Entries))
	}
	if out[2] != small {
		t.Fatal("an apply of no more than the kept entries was copied")
	}
}

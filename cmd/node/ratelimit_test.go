package main

import (
	"testing"
	"time"

	"github.com/raftlab/raftlab/core"
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

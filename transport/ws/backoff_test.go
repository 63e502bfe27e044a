package ws

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	want := b.min
	for i := range 20 {
		d := b.next()
		if d < want/2 || d > want {
			t.Fatalf("attempt %d: %v, want within [%v, %v]", i, d, want/2, want)
		}
		want = min(2*want, b.max)
	}
	b.reset()
	if d := b.next(); d > b.min {
		t.Fatalf("after reset: %v", d)
	}
	// Jitter: members that lost the same peer do not redial in lockstep.
	seen := map[time.Duration]bool{}
	for range 20 {
		b.reset()
		seen[b.next()] = true
	}
	if len(seen) < 2 {
		t.Fatal("no jitter")
	}
}

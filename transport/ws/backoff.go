package ws

import (
	"math/rand/v2"
	"time"
)

// Redial delays: a peer that went away is retried quickly at first, then
// at most every few seconds, so a cluster coming back heals fast without a
// down member being hammered.
const (
	minRedialDelay = 100 * time.Millisecond
	maxRedialDelay = 5 * time.Second
)

// backoff yields exponentially growing delays with jitter, so members that
// lost the same peer at the same moment do not redial in lockstep.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

// next returns the delay before the next attempt: uniformly drawn from
// [d/2, d] where d doubles each call from min up to max ("equal jitter").
func (b *backoff) next() time.Duration {
	if b.cur < b.min {
		b.cur = b.min
	}
	d := b.cur
	b.cur = min(2*b.cur, b.max)
	half := int64(d / 2)
	return time.Duration(half + rand.Int64N(half+1))
}

// reset starts over from min after a connection that proved healthy.
func (b *backoff) reset() { b.cur = 0 }

package main

import (
	"time"

	"github.com/raftlab/raftlab/core"
)

// A visualizer cannot follow a loaded member event by event: at thousands
// of writes a second there are tens of thousands of storage writes and
// messages. With /events?rate=N a stream carries at most N of those detail
// events a second (a token bucket, N of burst); the events that say what
// happens to the cluster (roles, votes, commits, snapshots, membership,
// crashes) always pass. Skipped events are reported as one "dropped" event,
// so the consumer knows, and they are never encoded, so a watched member
// pays for what is sent only. An apply's entry descriptions are detail too
// (rateLimit.applied).

// detailKinds are the kinds a rate limit may skip.
var detailKinds = map[core.Kind]bool{
	core.KindSend: true, core.KindDeliver: true, core.KindDrop: true, core.KindKey: true,
	core.KindReady: true, core.KindProposal: true, core.KindRead: true, core.KindProgress: true,
	core.KindTimer: true, core.KindLog: true,
}

type rateLimit struct {
	rate    float64 // tokens a second
	tokens  float64
	last    time.Time
	skipped uint64 // detail events skipped since the last one sent
	lastSeq uint64 // the newest skipped event
	now     func() time.Time
}

func newRateLimit(perSecond float64) *rateLimit {
	return &rateLimit{rate: perSecond, tokens: perSecond, now: time.Now}
}

// filter returns the events of batch the limit lets through, with a
// "dropped" event before the first one sent after skipped ones. It reuses
// batch's array.
func (l *rateLimit) filter(batch []*hubEvent, member uint64) []*hubEvent {
	now := l.now()
	if !l.last.IsZero() {
		l.tokens = min(l.rate, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	out := batch[:0]
	for _, e := range batch {
		if e.Kind == core.KindApply {
			e = l.applied(e)
		}
		if detailKinds[e.Kind] {
			if l.tokens < 1 {
				l.skipped++
				l.lastSeq = e.Seq
				continue
			}
			l.tokens--
		}
		if l.skipped > 0 {
			out = append(out, &hubEvent{Event: core.Event{V: core.SchemaVersion, Seq: l.lastSeq, Time: e.Time, Node: member, Kind: core.KindDropped, Dropped: &core.DroppedInfo{Count: l.skipped}}})
			l.skipped = 0
		}
		out = append(out, e)
	}
	return out
}

// appliedEntriesKept is how many entry descriptions an apply event keeps
// when its stream is over its rate: the feed shows three and an ellipsis.
const appliedEntriesKept = 4

// applied returns an apply event as the stream may send it: an apply
// always passes (the applied index is the story), but the descriptions of
// its entries are detail, one token each. Under load one apply covers a
// dozen entries or more, many times a second, and those descriptions were
// most of what a watched member sent.
func (l *rateLimit) applied(e *hubEvent) *hubEvent {
	a := e.Apply
	if a == nil || len(a.Entries) <= appliedEntriesKept {
		return e
	}
	if n := float64(len(a.Entries)); l.tokens >= n {
		l.tokens -= n
		return e
	}
	cut := *a
	cut.Entries = a.Entries[:appliedEntriesKept]
	out := &hubEvent{Event: e.Event}
	out.Apply = &cut
	return out
}

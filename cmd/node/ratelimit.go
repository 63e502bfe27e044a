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
//
// The hub applies the limit as it publishes (hub.publish), not the stream
// as it sends: a loaded leader makes about 50,000 events a second, and
// filtering them at the stream made the hub queue every one for every
// watcher, to skip most (docs/performance-log.md, item 29). The bucket fills by
// the events' own clock (their Time, Unix ms), once per refillMs window on
// boundaries every stream shares: streams of the same rate then pick the
// same events, and each is encoded once for all of them.

// refillMs is the refill window in ms: the streams' flush period, so that
// each frame a loaded stream sends holds its share of detail events.
const refillMs = int64(eventsFlush / time.Millisecond)

// isDetail reports whether a rate limit may skip events of kind k. A switch,
// not a map: the hub asks for every event and every limited stream.
func isDetail(k core.Kind) bool {
	switch k {
	case core.KindSend, core.KindDeliver, core.KindDrop, core.KindKey,
		core.KindReady, core.KindProposal, core.KindRead, core.KindProgress,
		core.KindTimer, core.KindLog:
		return true
	}
	return false
}

// verdict is what a limited stream sends of an event.
type verdict uint8

const (
	skip      verdict = iota
	sendWhole         // the event as published
	sendCut           // an apply with only its first appliedEntriesKept entries described
)

// rateLimit is one stream's bucket. The hub's lock guards it.
type rateLimit struct {
	rate    float64 // tokens a second
	tokens  float64
	window  int64  // the refill window of the newest event seen
	seen    bool   // whether window is set
	skipped uint64 // detail events skipped since the last one sent
	lastSeq uint64 // the newest skipped event
}

func newRateLimit(perSecond float64) *rateLimit {
	return &rateLimit{rate: perSecond, tokens: perSecond}
}

// admit says what the stream sends of e, and counts what it skips.
func (l *rateLimit) admit(e *core.Event) verdict {
	l.refill(e.Time)
	if e.Kind == core.KindApply {
		return l.applied(e)
	}
	if isDetail(e.Kind) {
		if l.tokens < 1 {
			l.skipped++
			l.lastSeq = e.Seq
			return skip
		}
		l.tokens--
	}
	return sendWhole
}

// refill adds the tokens of the windows passed since the last event's. A
// clock stepped back starts the count again from there.
func (l *rateLimit) refill(ms int64) {
	w := ms / refillMs
	if l.seen && w > l.window {
		l.tokens = min(l.rate, l.tokens+float64(w-l.window)*l.rate*float64(refillMs)/1000)
	}
	l.window, l.seen = w, true
}

// dropped returns the "dropped" event the stream owes before e, the first
// event it sends after skipping some, or nil.
func (l *rateLimit) dropped(e *core.Event) *hubEvent {
	if l.skipped == 0 {
		return nil
	}
	d := &hubEvent{Event: core.Event{V: core.SchemaVersion, Seq: l.lastSeq, Time: e.Time, Node: e.Node, Kind: core.KindDropped, Dropped: &core.DroppedInfo{Count: l.skipped}}}
	l.skipped = 0
	return d
}

// appliedEntriesKept is how many entry descriptions an apply event keeps
// when its stream is over its rate: the feed shows three and an ellipsis.
const appliedEntriesKept = 4

// applied says how an apply event is sent: an apply always passes (the
// applied index is the story), but the descriptions of its entries are
// detail, one token each. Under load one apply covers a dozen entries or
// more, many times a second, and those descriptions were most of what a
// watched member sent.
func (l *rateLimit) applied(e *core.Event) verdict {
	a := e.Apply
	if a == nil || len(a.Entries) <= appliedEntriesKept {
		return sendWhole
	}
	if n := float64(len(a.Entries)); l.tokens >= n {
		l.tokens -= n
		return sendWhole
	}
	return sendCut
}

// cutApply returns apply event e with only its first appliedEntriesKept
// entries described. The published event, which other streams may send
// whole, is not changed.
func cutApply(e *core.Event) *hubEvent {
	cut := *e.Apply
	cut.Entries = cut.Entries[:appliedEntriesKept]
	out := &hubEvent{Event: *e}
	out.Apply = &cut
	return out
}

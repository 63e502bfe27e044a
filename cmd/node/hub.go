package main

import (
	"slices"
	"sort"
	"sync"

	"github.com/raftlab/raftlab/core"
)

// hub keeps a bounded history of the member's events and fans them out to
// subscribers. Publishing never blocks: a subscriber that cannot keep up is
// cut off (it may resume from its last sequence number), so a slow UI never
// slows the member or the other UIs.
//
// Each subscriber's events wait in a slice the stream takes whole at each
// flush (take), not in a channel: a loaded leader makes about 50,000 events
// a second, and a channel send per event and stream, then a receive, was a
// third of what four watchers cost it (docs/performance-log.md, item 28).
//
// A stream's rate limit (ratelimit.go) is applied here, as events are
// published: an event no stream sends is never queued or copied.
//
// The history holds the events themselves, not pointers to copies: a loaded
// leader makes about 50,000 events a second, and nobody watches most of
// them. Publishing allocates only for subscribers, once per event however
// many there are (docs/performance-log.md, item 25).
type hub struct {
	mu   sync.Mutex
	ring []core.Event // the last size events, oldest at next once full
	size int
	next int // where the next event goes once the ring is full
	subs []*subscriber
	// observe gets every event before subscribers (metrics).
	observe func(*core.Event)
}

// subscriberBuffer is how many events a subscriber may be behind before it
// is cut off.
const subscriberBuffer = 8192

// hubEvent is an event as the streams send it: encoded to JSON once, by the
// first stream that sends it, however many streams do. Observing a member
// from four browsers costs one encoding per event, not four.
type hubEvent struct {
	core.Event
	once sync.Once
	js   []byte
}

// json returns the event's encoding.
func (e *hubEvent) json() []byte {
	e.once.Do(func() {
		// Most events take 100-200 bytes: one allocation, not a slice
		// grown from nothing.
		b, err := e.Event.AppendJSON(make([]byte, 0, 256))
		if err != nil {
			b = []byte(`{"kind":"log","log":{"level":"error","text":"event not encodable"}}`)
		}
		e.js = b
	})
	return e.js
}

type subscriber struct {
	// pending are the events published since the stream last took them,
	// under the hub's lock.
	pending []*hubEvent
	// cut is closed when the hub cut the subscriber off.
	cut chan struct{}
	// limit is the stream's rate limit, nil for none.
	limit *rateLimit
}

func newHub(history int, observe func(*core.Event)) *hub {
	// The ring grows as events come (a member may be given a history of
	// millions it never reaches). It holds at least the newest event.
	history = max(history, 1)
	return &hub{ring: make([]core.Event, 0, min(history, 1024)), size: history, observe: observe}
}

// publish records e and hands it to every subscriber.
func (h *hub) publish(e core.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var slot *core.Event
	if len(h.ring) < h.size {
		h.ring = append(h.ring, e)
		slot = &h.ring[len(h.ring)-1]
	} else {
		slot = &h.ring[h.next]
		*slot = e
		h.next = (h.next + 1) % len(h.ring)
	}
	// The slot, not &e: a pointer to the parameter would move every
	// event to the heap.
	if h.observe != nil {
		h.observe(slot)
	}
	if len(h.subs) == 0 {
		return
	}
	// Made for the first stream that sends them, shared by the rest; an
	// event every stream's limit skips costs no allocation.
	var whole, cut *hubEvent
	for i := 0; i < len(h.subs); {
		s := h.subs[i]
		if len(s.pending) >= subscriberBuffer {
			close(s.cut)
			h.removeLocked(i)
			continue
		}
		i++
		v := sendWhole
		if s.limit != nil {
			v = s.limit.admit(slot)
		}
		var he *hubEvent
		switch v {
		case skip:
			continue
		case sendWhole:
			if whole == nil {
				whole = &hubEvent{Event: e}
			}
			he = whole
		case sendCut:
			if cut == nil {
				cut = cutApply(slot)
			}
			he = cut
		}
		if s.limit != nil {
			if d := s.limit.dropped(slot); d != nil {
				s.pending = append(s.pending, d)
			}
		}
		s.pending = append(s.pending, he)
	}
}

// take returns the events published for s since its last take, oldest
// first, and keeps done (the batch the stream has sent) to fill next, so
// that a stream's two batches are all it ever allocates.
func (h *hub) take(s *subscriber, done []*hubEvent) []*hubEvent {
	clear(done)
	h.mu.Lock()
	defer h.mu.Unlock()
	got := s.pending
	s.pending = done[:0]
	return got
}

// removeLocked drops the i-th subscriber; their order does not matter.
func (h *hub) removeLocked(i int) {
	last := len(h.subs) - 1
	h.subs[i] = h.subs[last]
	h.subs[last] = nil
	h.subs = h.subs[:last]
}

// atLocked returns the i-th oldest recorded event.
func (h *hub) atLocked(i int) *core.Event {
	return &h.ring[(h.next+i)%len(h.ring)]
}

// subscribe returns the recorded events after since that limit lets
// through (nil: all of them), how many events after since the history no
// longer holds (a gap the consumer must be told of), and a subscription to
// what follows, under the same limit.
func (h *hub) subscribe(since uint64, limit *rateLimit) (backlog []*hubEvent, missed uint64, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.ring)
	// Written so that no since overflows (?since=18446744073709551615).
	if n > 0 && since < h.atLocked(0).Seq-1 {
		missed = h.atLocked(0).Seq - 1 - since
	}
	first := sort.Search(n, func(i int) bool { return h.atLocked(i).Seq > since })
	if first < n {
		// One allocation for the events of the backlog, made while the
		// driver waits on the lock.
		evs := make([]hubEvent, 0, n-first)
		backlog = make([]*hubEvent, 0, n-first)
		for i := first; i < n; i++ {
			e := h.atLocked(i)
			if limit != nil {
				v := limit.admit(e)
				if v == skip {
					continue
				}
				if d := limit.dropped(e); d != nil {
					backlog = append(backlog, d)
				}
				if v == sendCut {
					backlog = append(backlog, cutApply(e))
					continue
				}
			}
			evs = append(evs, hubEvent{Event: *e})
			backlog = append(backlog, &evs[len(evs)-1])
		}
	}
	s = &subscriber{cut: make(chan struct{}), limit: limit}
	h.subs = append(h.subs, s)
	return backlog, missed, s
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.Index(h.subs, s); i >= 0 {
		h.removeLocked(i)
	}
}

// lastSeq returns the newest sequence number, 0 if none.
func (h *hub) lastSeq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ring) == 0 {
		return 0
	}
	return h.atLocked(len(h.ring) - 1).Seq
}

package main

import (
	"sync"

	"github.com/raftlab/raftlab/core"
)

// hub keeps a bounded history of the member's events and fans them out to
// subscribers. Publishing never blocks: a subscriber that cannot keep up is
// cut off (it may resume from its last sequence number), so a slow UI never
// slows the member or the other UIs.
type hub struct {
	mu   sync.Mutex
	ring []*hubEvent // the last cap(ring) events, oldest at start
	next int         // where the next event goes once the ring is full
	full bool
	subs map[*subscriber]struct{}
	// observe gets every event before subscribers (metrics).
	observe func(*core.Event)
}

// subscriberBuffer is how many events a subscriber may be behind before it
// is cut off.
const subscriberBuffer = 8192

// hubEvent is an event as the hub holds it: encoded to JSON once, by the
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
	ch chan *hubEvent
	// cut is closed when the hub cut the subscriber off.
	cut  chan struct{}
	once sync.Once
}

func newHub(history int, observe func(*core.Event)) *hub {
	return &hub{ring: make([]*hubEvent, 0, history), subs: map[*subscriber]struct{}{}, observe: observe}
}

// publish records e and hands it to every subscriber.
func (h *hub) publish(e core.Event) {
	if h.observe != nil {
		h.observe(&e)
	}
	he := &hubEvent{Event: e}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ring) < cap(h.ring) {
		h.ring = append(h.ring, he)
	} else {
		h.ring[h.next] = he
		h.next = (h.next + 1) % len(h.ring)
		h.full = true
	}
	for s := range h.subs {
		select {
		case s.ch <- he:
		default:
			s.once.Do(func() { close(s.cut) })
			delete(h.subs, s)
		}
	}
}

// history returns the recorded events in order.
func (h *hub) historyLocked() []*hubEvent {
	if !h.full {
		return h.ring
	}
	return append(append([]*hubEvent(nil), h.ring[h.next:]...), h.ring[:h.next]...)
}

// subscribe returns the recorded events after since, how many events after
// since the history no longer holds (a gap the consumer must be told of),
// and a subscription to what follows.
func (h *hub) subscribe(since uint64) (backlog []*hubEvent, missed uint64, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hist := h.historyLocked()
	// Written so that no since overflows (?since=18446744073709551615).
	if len(hist) > 0 && since < hist[0].Seq-1 {
		missed = hist[0].Seq - 1 - since
	}
	for i, e := range hist {
		if e.Seq > since {
			backlog = append([]*hubEvent(nil), hist[i:]...)
			break
		}
	}
	s = &subscriber{ch: make(chan *hubEvent, subscriberBuffer), cut: make(chan struct{})}
	h.subs[s] = struct{}{}
	return backlog, missed, s
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

// lastSeq returns the newest sequence number, 0 if none.
func (h *hub) lastSeq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	hist := h.historyLocked()
	if len(hist) == 0 {
		return 0
	}
	return hist[len(hist)-1].Seq
}

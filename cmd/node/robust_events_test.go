//go:build unix

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/raftlab/raftlab/core"
)

// eventWatch follows one member process's /events from its first event,
// resuming with ?since= whenever the member cuts it off, and records each
// event's sequence number and kind: what the checks need, at little cost.
type eventWatch struct {
	member uint64
	addr   string
	pid    int

	mu      sync.Mutex
	recs    []eventRec
	resumes int
	err     error
	done    chan struct{}
	conn    *websocket.Conn
	closed  bool
}

type eventRec struct {
	Seq     uint64
	Kind    core.Kind
	Dropped uint64 // for a "dropped" event, how many it stands for
}

// streamEvent is the part of an event the watch reads.
type streamEvent struct {
	Seq     uint64            `json:"seq"`
	Kind    core.Kind         `json:"kind"`
	Dropped *core.DroppedInfo `json:"dropped,omitempty"`
}

type streamFrameLite struct {
	Hello  *streamHello  `json:"hello,omitempty"`
	Events []streamEvent `json:"events,omitempty"`
}

// watch starts following m's events, for the run's checks.
func (r *robustRun) watch(m *Member) {
	w := &eventWatch{member: m.ID, addr: m.Addr, pid: m.PID(), done: make(chan struct{})}
	r.mu.Lock()
	r.watches = append(r.watches, w)
	r.mu.Unlock()
	go w.follow()
	r.t.Cleanup(w.close)
}

func (w *eventWatch) close() {
	w.mu.Lock()
	w.closed = true
	if w.conn != nil {
		w.conn.Close()
	}
	w.mu.Unlock()
	<-w.done
}

// follow reads the stream until the member goes away; a cut-off (close
// code 4001, a consumer too slow) is resumed after the last event.
func (w *eventWatch) follow() {
	defer close(w.done)
	var last uint64
	for attempt := 0; ; attempt++ {
		err := w.stream(last)
		w.mu.Lock()
		n := len(w.recs)
		if n > 0 {
			last = w.recs[n-1].Seq
		}
		closed := w.closed
		w.mu.Unlock()
		var ce *websocket.CloseError
		if closed || !errors.As(err, &ce) || ce.Code != closeTooSlow {
			w.mu.Lock()
			if !closed {
				w.err = err
			}
			w.mu.Unlock()
			return
		}
		w.mu.Lock()
		w.resumes++
		w.mu.Unlock()
	}
}

// stream reads one connection of the stream, after event since.
func (w *eventWatch) stream(since uint64) error {
	u := "ws://" + w.addr + "/events"
	if since > 0 {
		u += "?since=" + strconv.FormatUint(since, 10)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(u, nil)
	if err != nil {
		return err
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		conn.Close()
		return errors.New("closed")
	}
	w.conn = conn
	w.mu.Unlock()
	defer conn.Close()
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		var f streamFrameLite
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		w.mu.Lock()
		for _, e := range f.Events {
			rec := eventRec{Seq: e.Seq, Kind: e.Kind}
			if e.Dropped != nil {
				rec.Dropped = e.Dropped.Count
			}
			w.recs = append(w.recs, rec)
		}
		w.mu.Unlock()
	}
}

// check returns what is wrong with the recorded stream: every event
// follows the one before it (a "dropped" event stands for those the
// history no longer held), from the first.
func (w *eventWatch) check() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	if len(w.recs) == 0 {
		return []string{fmt.Sprintf("member %d (pid %d): no event recorded (%v)", w.member, w.pid, w.err)}
	}
	first := w.recs[0]
	if first.Seq != 1 && !(first.Kind == core.KindDropped && first.Dropped == first.Seq) {
		out = append(out, fmt.Sprintf("member %d (pid %d): stream starts at seq %d (%s)", w.member, w.pid, first.Seq, first.Kind))
	}
	for i := 1; i < len(w.recs); i++ {
		if prev, e := w.recs[i-1], w.recs[i]; e.Seq != prev.Seq+1 {
			out = append(out, fmt.Sprintf("member %d (pid %d): seq %d after %d (event %d of %d, %d resumes)", w.member, w.pid, e.Seq, prev.Seq, i, len(w.recs), w.resumes))
			if len(out) > 5 {
				break
			}
		}
	}
	return out
}

// resumeWindow is how many recorded events a resumed stream is compared
// with.
const resumeWindow = 300

// checkResume opens the stream again with ?since= a recorded event a
// little back, and checks it repeats what was recorded after it.
func (w *eventWatch) checkResume() error {
	w.mu.Lock()
	recs := append([]eventRec(nil), w.recs...)
	w.mu.Unlock()
	if len(recs) < 2 {
		return nil
	}
	from := max(0, len(recs)-resumeWindow-1)
	since := recs[from].Seq
	want := recs[from+1:]
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial("ws://"+w.addr+"/events?since="+strconv.FormatUint(since, 10), nil)
	if err != nil {
		return fmt.Errorf("member %d: resume after %d: %v", w.member, since, err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []eventRec
	for len(got) < len(want) {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return fmt.Errorf("member %d: resume after %d: %d of %d events, then %v", w.member, since, len(got), len(want), err)
		}
		var f streamFrameLite
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		for _, e := range f.Events {
			got = append(got, eventRec{Seq: e.Seq, Kind: e.Kind})
		}
	}
	for i, e := range want {
		if got[i].Seq != e.Seq || got[i].Kind != e.Kind {
			return fmt.Errorf("member %d: resumed after %d, event %d is seq %d %s, recorded seq %d %s", w.member, since, i, got[i].Seq, got[i].Kind, e.Seq, e.Kind)
		}
	}
	return nil
}

// checkEvents checks every member process's stream, and that the streams
// of the members still running resume.
func (r *robustRun) checkEvents() {
	r.mu.Lock()
	watches := append([]*eventWatch(nil), r.watches...)
	r.mu.Unlock()
	running := map[int]bool{}
	for _, m := range r.c.Members() {
		if pid := m.PID(); pid != 0 {
			running[pid] = true
		}
	}
	for _, w := range watches {
		for _, v := range w.check() {
			r.violation("events: %s", v)
		}
		if running[w.pid] {
			if err := w.checkResume(); err != nil {
				r.violation("events: %v", err)
			}
		}
	}
}

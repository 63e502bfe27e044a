package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"

	"github.com/raftlab/raftlab/core"
)

// eventLog stamps, hashes and buffers the events of a run. Each event is
// encoded to JSON once: the same bytes feed the trace hash and go to the
// page. The buffer is bounded: when the consumer falls behind, events are
// counted as dropped and a KindDropped event says how many, once there is
// room again.
type eventLog struct {
	on      bool
	max     int
	seq     uint64
	buf     [][]byte
	dropped uint64
	trace   hash.Hash
	// arena holds the encoded events: one allocation for many events,
	// where each had its own, grown as it was written.
	arena []byte
}

// arenaSize is the size of one block of encoded events; an event is about
// 150 bytes.
const arenaSize = 64 << 10

// record stamps e with the next sequence number and the virtual time,
// folds it into the trace hash and buffers it.
func (c *Cluster) record(e core.Event) {
	l := &c.events
	if !l.on {
		return
	}
	if l.dropped > 0 && len(l.buf) < l.max {
		l.seq++
		d := core.Event{V: core.SchemaVersion, Seq: l.seq, Time: c.now, Kind: core.KindDropped, Dropped: &core.DroppedInfo{Count: l.dropped}}
		l.buf = append(l.buf, l.encode(d))
		l.dropped = 0
	}
	l.seq++
	e.V = core.SchemaVersion
	e.Seq = l.seq
	e.Time = c.now
	b := l.encode(e)
	if len(l.buf) >= l.max {
		l.dropped++
		return
	}
	l.buf = append(l.buf, b)
}

// encode returns e as JSON and folds it into the trace hash.
func (l *eventLog) encode(e core.Event) []byte {
	if l.trace == nil {
		l.trace = sha256.New()
	}
	if cap(l.arena)-len(l.arena) < 1024 {
		l.arena = make([]byte, 0, arenaSize)
	}
	start := len(l.arena)
	a, err := e.AppendJSON(l.arena)
	if err != nil {
		panic("sim: event not encodable: " + err.Error())
	}
	// Capped: nothing appended to one event's bytes runs into the next's.
	b := a[start:len(a):len(a)]
	if len(a) <= cap(l.arena) {
		l.arena = a // it fitted, so it is still the same block
	}
	l.trace.Write(b)
	l.trace.Write([]byte{'\n'})
	return b
}

// take removes and returns up to max buffered events (all when max <= 0).
func (l *eventLog) take(max int) [][]byte {
	n := len(l.buf)
	if max > 0 && max < n {
		n = max
	}
	out := make([][]byte, n)
	copy(out, l.buf[:n])
	rest := copy(l.buf, l.buf[n:])
	clear(l.buf[rest:])
	l.buf = l.buf[:rest]
	return out
}

// TakeEvents returns up to max buffered events (all when max <= 0) and
// removes them from the buffer.
func (c *Cluster) TakeEvents(max int) []core.Event {
	raw := c.events.take(max)
	out := make([]core.Event, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			panic("sim: an event does not decode: " + err.Error())
		}
	}
	return out
}

// TakeEventsJSON is TakeEvents as a JSON array, the bytes the events were
// encoded to once: what the page receives, without encoding them again.
func (c *Cluster) TakeEventsJSON(max int) (json.RawMessage, int) {
	raw := c.events.take(max)
	size := 2 + len(raw)
	for _, b := range raw {
		size += len(b)
	}
	out := make([]byte, 0, size)
	out = append(out, '[')
	for i, b := range raw {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	return append(out, ']'), len(raw)
}

// BufferedEvents returns how many events wait for TakeEvents.
func (c *Cluster) BufferedEvents() int { return len(c.events.buf) }

// TraceHash returns the SHA-256 of every event of the run so far, in
// order, as JSON lines: two runs are the same run when their hashes are
// equal. Empty when events are off.
func (c *Cluster) TraceHash() string {
	if c.events.trace == nil {
		return ""
	}
	return hex.EncodeToString(c.events.trace.Sum(nil))
}

// EventCount returns how many events the run produced.
func (c *Cluster) EventCount() uint64 { return c.events.seq }

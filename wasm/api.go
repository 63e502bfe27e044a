// Package main is the js/wasm entry of the visualizer: it registers one
// global object, raftlab, whose methods create simulated clusters, advance
// them by virtual time, apply actions and hand back events in batches, one
// call per animation frame. Data crosses the boundary as JSON built from
// dedicated structs; every method checks its arguments and never lets a
// panic cross (it becomes an error the page can show).
//
// api.go holds the logic, free of syscall/js so it is tested natively;
// main_js.go binds it to JavaScript.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strconv"

	"github.com/raftlab/raftlab/core"
	"github.com/raftlab/raftlab/core/sim"
	"github.com/raftlab/raftlab/storage"
)

// maxClusters bounds the clusters a page may hold (a fork replaces one).
const maxClusters = 16

// api holds the page's clusters by handle.
type api struct {
	clusters map[int]*sim.Cluster
	next     int
}

func newAPI() *api { return &api{clusters: map[int]*sim.Cluster{}} }

// reply is every method's answer: a result or an error message.
type reply struct {
	OK     any    `json:"ok,omitempty"`
	Error  string `json:"error,omitempty"`
	Panics bool   `json:"panic,omitempty"`
}

// call runs f, turning an error or a panic into a reply, and encodes it.
func call(f func() (any, error)) (out string) {
	defer func() {
		if r := recover(); r != nil {
			b, _ := json.Marshal(reply{Error: fmt.Sprintf("internal error: %v\n%s", r, debug.Stack()), Panics: true})
			out = string(b)
		}
	}()
	v, err := f()
	if b, ok := v.(batch); ok && err == nil {
		return string(b.appendReply(nil))
	}
	r := reply{OK: v}
	if err != nil {
		r = reply{Error: err.Error()}
	}
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(reply{Error: "encoding the answer: " + err.Error()})
	}
	return string(b)
}

func decode(what, s string, v any) error {
	if len(s) > 8<<20 {
		return fmt.Errorf("%s: %d bytes is too large", what, len(s))
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("%s: bad JSON: %v", what, err)
	}
	return nil
}

func (a *api) cluster(h int) (*sim.Cluster, error) {
	c := a.clusters[h]
	if c == nil {
		return nil, fmt.Errorf("no cluster %d", h)
	}
	return c, nil
}

func (a *api) add(c *sim.Cluster) (int, error) {
	if len(a.clusters) >= maxClusters {
		return 0, fmt.Errorf("at most %d clusters: destroy one first", maxClusters)
	}
	a.next++
	a.clusters[a.next] = c
	return a.next, nil
}

// create(configJSON) -> handle. The configuration is sim.Config; events
// are always on.
func (a *api) create(configJSON string) (any, error) {
	var cfg sim.Config
	if err := decode("config", configJSON, &cfg); err != nil {
		return nil, err
	}
	cfg.Events = true
	c, err := sim.New(cfg)
	if err != nil {
		return nil, err
	}
	return a.add(c)
}

// batch is what advance and step hand back.
type batch struct {
	Now    int64           `json:"now"`
	Steps  uint64          `json:"steps"`
	NextAt *int64          `json:"nextAt,omitempty"`
	Events json.RawMessage `json:"events"`
	// More is true when events are left in the buffer (ask again).
	More bool `json:"more"`
	// Halted is the run's safety violation or failure, once it stopped.
	Halted string `json:"halted,omitempty"`
}

// appendReply appends the reply {"ok": b}, the bytes json.Marshal makes,
// without the check json.Marshal runs over b.Events: they were encoded as
// they happened, and checking them again cost a third of a frame's call.
func (b batch) appendReply(dst []byte) []byte {
	dst = append(dst, `{"ok":{"now":`...)
	dst = strconv.AppendInt(dst, b.Now, 10)
	dst = append(dst, `,"steps":`...)
	dst = strconv.AppendUint(dst, b.Steps, 10)
	if b.NextAt != nil {
		dst = append(dst, `,"nextAt":`...)
		dst = strconv.AppendInt(dst, *b.NextAt, 10)
	}
	dst = append(dst, `,"events":`...)
	if b.Events == nil {
		dst = append(dst, "null"...)
	}
	dst = append(dst, b.Events...)
	dst = append(dst, `,"more":`...)
	dst = strconv.AppendBool(dst, b.More)
	if b.Halted != "" {
		h, _ := json.Marshal(b.Halted)
		dst = append(dst, `,"halted":`...)
		dst = append(dst, h...)
	}
	return append(dst, "}}"...)
}

func (a *api) batchOf(c *sim.Cluster, maxEvents int) batch {
	events, _ := c.TakeEventsJSON(maxEvents)
	b := batch{Now: c.Now(), Steps: c.Steps(), Events: events}
	if t, ok := c.NextAt(); ok {
		b.NextAt = &t
	}
	b.More = c.BufferedEvents() > 0
	if err := c.Err(); err != nil {
		b.Halted = err.Error()
	}
	return b
}

// advance(handle, untilMs, maxEvents) runs the cluster to untilMs (never
// backwards) and returns up to maxEvents events.
func (a *api) advance(h int, untilMs int64, maxEvents int) (any, error) {
	c, err := a.cluster(h)
	if err != nil {
		return nil, err
	}
	if untilMs > c.Now()+3_600_000 {
		return nil, errors.New("advance: at most one virtual hour per call")
	}
	if maxEvents <= 0 || maxEvents > 100_000 {
		maxEvents = 100_000
	}
	if untilMs > c.Now() && c.BufferedEvents() < maxEvents {
		_ = c.RunUntil(untilMs) // a halt is reported in the batch
	}
	return a.batchOf(c, maxEvents), nil
}

// step(handle) processes one scheduled item and returns its events.
func (a *api) step(h int) (any, error) {
	c, err := a.cluster(h)
	if err != nil {
		return nil, err
	}
	c.Step()
	return a.batchOf(c, 0), nil
}

// act(handle, actionJSON) performs a sim.Action now. A refused request
// (no leader) is still recorded; its error comes back.
func (a *api) act(h int, actionJSON string) (any, error) {
	c, err := a.cluster(h)
	if err != nil {
		return nil, err
	}
	var act sim.Action
	if err := decode("action", actionJSON, &act); err != nil {
		return nil, err
	}
	if err := c.Do(act); err != nil {
		return nil, err
	}
	return true, nil
}

// replayArgs are the arguments of replay.
type replayArgs struct {
	Config  sim.Config   `json:"config"`
	Actions []sim.Action `json:"actions"`
	UntilMs int64        `json:"untilMs"`
}

// replay(argsJSON) rebuilds a run from its seed, configuration and action
// log up to untilMs: a fork from the past, or a shared URL. Its events
// since the start wait in the buffer.
func (a *api) replay(argsJSON string) (any, error) {
	var args replayArgs
	if err := decode("replay", argsJSON, &args); err != nil {
		return nil, err
	}
	if args.UntilMs < 0 || args.UntilMs > 24*3_600_000 {
		return nil, errors.New("replay: untilMs out of range")
	}
	args.Config.Events = true
	c, err := sim.Replay(args.Config, args.Actions, args.UntilMs)
	if err != nil && c == nil {
		return nil, err
	}
	if err != nil && !errors.Is(err, sim.ErrViolation) {
		return nil, err
	}
	return a.add(c)
}

// memberStatus is one member in status.
type memberStatus struct {
	ID     uint64       `json:"id"`
	Up     bool         `json:"up"`
	Status *core.Status `json:"status,omitempty"`
}

// clusterStatus is the answer of status.
type clusterStatus struct {
	Now       int64          `json:"now"`
	Leader    uint64         `json:"leader"`
	Members   []memberStatus `json:"members"`
	Actions   []sim.Action   `json:"actions"`
	Config    sim.Config     `json:"config"`
	TraceHash string         `json:"traceHash"`
	Events    uint64         `json:"events"`
	Halted    string         `json:"halted,omitempty"`
}

// status(handle) describes every member, the action log and the trace
// hash.
func (a *api) status(h int) (any, error) {
	c, err := a.cluster(h)
	if err != nil {
		return nil, err
	}
	st := clusterStatus{Now: c.Now(), Leader: c.Leader(), Actions: c.Actions(), Config: c.Config(), TraceHash: c.TraceHash(), Events: c.EventCount()}
	if st.Actions == nil {
		st.Actions = []sim.Action{}
	}
	for _, id := range c.Members() {
		ms := memberStatus{ID: id, Up: c.Up(id)}
		if n := c.Node(id); n != nil {
			s := n.Status()
			ms.Status = &s
		}
		st.Members = append(st.Members, ms)
	}
	if err := c.Err(); err != nil {
		st.Halted = err.Error()
	}
	return st, nil
}

// storageDump(handle, member) lists every key of a running member with its
// decoded value: what its storage panel starts from.
func (a *api) storageDump(h int, member uint64) (any, error) {
	c, err := a.cluster(h)
	if err != nil {
		return nil, err
	}
	n := c.Node(member)
	if n == nil {
		return nil, fmt.Errorf("member %d is not running", member)
	}
	var out []storage.KeyChange
	err = n.Store().Dump(true, func(k storage.KeyChange) { out = append(out, k) })
	return out, err
}

// destroy(handle) drops a cluster.
func (a *api) destroy(h int) (any, error) {
	if _, err := a.cluster(h); err != nil {
		return nil, err
	}
	delete(a.clusters, h)
	return true, nil
}

// handles lists the live handles (for debugging a page).
func (a *api) handles() []int {
	var hs []int
	for h := range a.clusters {
		hs = append(hs, h)
	}
	sort.Ints(hs)
	return hs
}

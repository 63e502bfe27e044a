package ui_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/raftlab/raftlab/core"
	"github.com/raftlab/raftlab/core/sim"
	"github.com/raftlab/raftlab/storage"
	"github.com/raftlab/raftlab/ui"
)

// The lessons (ui/lessons/*.json) promise what the student will see: each
// step's narration says what happens and its `expect` conditions say how
// to tell. These tests run every lesson in core/sim exactly as the page's
// runner (ui/js/lessons.js) does: the same configuration, the step's
// actions when it starts, the run rule checked every checkMs of virtual
// time from the step's start, and the step ending at the first check where
// it holds (plus afterMs), or after maxMs. Then every expectation must
// hold. So a change in raft, in the simulator or in a lesson that stops a
// lesson from showing what its text says fails here.
//
// The conditions are implemented twice, here on core/sim (Cluster.Leader,
// Node(id).Status(), the event stream) and in lessons.js on the UI's model.
// TestLessonVocabularyMatchesJS compares the two vocabularies;
// TestLessonConditionsAgreeWithJS evaluates the JS conditions in Node.js on
// the very events of each Go run and compares every verdict.

// checkMs is lessons.js's CHECK_MS: how often the run rule is checked.
const checkMs = 10

// maxStepMs is lessons.js's MAX_STEP_MS.
const maxStepMs = 60_000

// --- the lesson format (mirrors ui/lessons/README.md) ---

type lessonText struct {
	En string `json:"en"`
	Zh string `json:"zh"`
}

type lessonIndex struct {
	Lessons []string `json:"lessons"`
}

type lesson struct {
	ID      string       `json:"id"`
	Title   lessonText   `json:"title"`
	Summary lessonText   `json:"summary"`
	Config  lessonConfig `json:"config"`
	Speed   *float64     `json:"speed"`
	Steps   []lessonStep `json:"steps"`
}

// lessonConfig is the part of sim.Config a lesson may set.
type lessonConfig struct {
	Nodes           int     `json:"nodes"`
	Seed            uint64  `json:"seed"`
	TickMs          int64   `json:"tickMs"`
	ElectionTicks   int     `json:"electionTicks"`
	HeartbeatTicks  int     `json:"heartbeatTicks"`
	LatencyMs       int64   `json:"latencyMs"`
	JitterMs        int64   `json:"jitterMs"`
	LossRatio       float64 `json:"lossRatio"`
	DiskMs          int64   `json:"diskMs"`
	SnapshotEntries uint64  `json:"snapshotEntries"`
	CatchUpEntries  uint64  `json:"catchUpEntries"`
	ClientTimeoutMs int64   `json:"clientTimeoutMs"`
}

type lessonStep struct {
	Text         lessonText        `json:"text"`
	Actions      []json.RawMessage `json:"actions"`
	Run          runRule           `json:"run"`
	Expect       []json.RawMessage `json:"expect"`
	Tab          string            `json:"tab"`
	Select       uint64            `json:"select"`
	Highlight    []string          `json:"highlight"`
	Pace         *float64          `json:"pace"`
	AllowRefusal bool              `json:"allowRefusal"`

	actions []sim.Action
	until   condition
	expect  []condition
}

type runRule struct {
	Until   json.RawMessage `json:"until"`
	MaxMs   *int64          `json:"maxMs"`
	AfterMs *int64          `json:"afterMs"`
	ForMs   *int64          `json:"forMs"`
}

// The names lessons.js accepts for a step's tab and highlight, and the
// action kinds of core/sim/actions.go.
var (
	lessonTabs       = []string{"logs", "storage", "ready", "progress"}
	lessonHighlights = []string{"cluster", "legend", "inspector", "controls", "scrub", "actions", "feed"}
	actionKinds      = []string{sim.ActCrash, sim.ActRestart, sim.ActPartition, sim.ActHeal, sim.ActCut, sim.ActUncut,
		sim.ActNetwork, sim.ActPut, sim.ActDelete, sim.ActRead, sim.ActSnapshot, sim.ActAddNode, sim.ActAddLearner,
		sim.ActPromote, sim.ActRemove, sim.ActConfChange, sim.ActTransfer, sim.ActCampaign, sim.ActDropMsg, sim.ActDelayMsg}
)

// decodeStrict decodes one JSON value, refusing unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

var (
	lessonID   = regexp.MustCompile(`^[a-z0-9_]+$`)
	sectionRef = regexp.MustCompile(`§\s?[0-9]+(\.[0-9]+)*`)
	enSentence = regexp.MustCompile(`[.!?](\s|$)`)
	zhSentence = regexp.MustCompile(`[。！？]`)
)

func checkText(v lessonText, where string, narration bool) error {
	if strings.TrimSpace(v.En) == "" || strings.TrimSpace(v.Zh) == "" {
		return fmt.Errorf("%s: needs both en and zh", where)
	}
	if !strings.ContainsFunc(v.Zh, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
		return fmt.Errorf("%s: zh has no Chinese: %q", where, v.Zh)
	}
	if !narration {
		return nil
	}
	// 1-3 short sentences, citing the paper the same way in both languages.
	if n := len(enSentence.FindAllString(v.En, -1)); n < 1 || n > 3 {
		return fmt.Errorf("%s: en has %d sentences, want 1 to 3: %q", where, n, v.En)
	}
	if n := len(zhSentence.FindAllString(v.Zh, -1)); n < 1 || n > 3 {
		return fmt.Errorf("%s: zh has %d sentences, want 1 to 3: %q", where, n, v.Zh)
	}
	if len([]rune(v.En)) > 420 {
		return fmt.Errorf("%s: en narration is %d characters; keep it short", where, len([]rune(v.En)))
	}
	refs := func(s string) []string {
		var out []string
		for _, m := range sectionRef.FindAllString(s, -1) {
			out = append(out, strings.ReplaceAll(m, " ", ""))
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	en, zh := refs(v.En), refs(v.Zh)
	if len(en) == 0 {
		return fmt.Errorf("%s: cite the paper section (§5.2): %q", where, v.En)
	}
	if !slices.Equal(en, zh) {
		return fmt.Errorf("%s: en cites %v, zh cites %v", where, en, zh)
	}
	return nil
}

// parseLesson decodes and checks one lesson file.
func parseLesson(name string, data []byte) (*lesson, error) {
	var l lesson
	if err := decodeStrict(data, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	fail := func(format string, args ...any) (*lesson, error) {
		return nil, fmt.Errorf("%s: "+format, append([]any{name}, args...)...)
	}
	if !lessonID.MatchString(l.ID) || l.ID+".json" != name {
		return fail("id %q must be the file's name", l.ID)
	}
	for _, x := range []struct {
		t    lessonText
		what string
	}{{l.Title, "title"}, {l.Summary, "summary"}} {
		if err := checkText(x.t, x.what, false); err != nil {
			return fail("%v", err)
		}
	}
	if l.Config.Nodes < 1 || l.Config.Nodes > sim.MaxNodes {
		return fail("config.nodes %d out of [1, %d]", l.Config.Nodes, sim.MaxNodes)
	}
	if l.Speed != nil && (*l.Speed <= 0 || *l.Speed > 10) {
		return fail("speed %v out of (0, 10]", *l.Speed)
	}
	if len(l.Steps) == 0 {
		return fail("no steps")
	}
	for i := range l.Steps {
		s := &l.Steps[i]
		w := fmt.Sprintf("steps[%d]", i)
		if err := checkText(s.Text, w+".text", true); err != nil {
			return fail("%v", err)
		}
		for j, raw := range s.Actions {
			var keys map[string]json.RawMessage
			if err := json.Unmarshal(raw, &keys); err != nil {
				return fail("%s.actions[%d]: %v", w, j, err)
			}
			if _, ok := keys["at"]; ok {
				return fail("%s.actions[%d]: no at: a step's actions happen when it starts", w, j)
			}
			if _, ok := keys["step"]; ok {
				return fail("%s.actions[%d]: no step", w, j)
			}
			var a sim.Action
			if err := decodeStrict(raw, &a); err != nil {
				return fail("%s.actions[%d]: %v", w, j, err)
			}
			if !slices.Contains(actionKinds, a.Kind) {
				return fail("%s.actions[%d]: unknown action kind %q", w, j, a.Kind)
			}
			s.actions = append(s.actions, a)
		}
		r := s.Run
		inRange := func(v *int64, lo int64) bool { return v != nil && *v >= lo && *v <= maxStepMs }
		if r.ForMs != nil {
			if !inRange(r.ForMs, 0) || r.Until != nil || r.MaxMs != nil || r.AfterMs != nil {
				return fail("%s.run: forMs in [0, %d] goes alone", w, maxStepMs)
			}
		} else {
			if r.Until == nil || !inRange(r.MaxMs, 1) || (r.AfterMs != nil && !inRange(r.AfterMs, 0)) {
				return fail("%s.run: until with maxMs in [1, %d] (and afterMs), or forMs", w, maxStepMs)
			}
			var err error
			if bytes.HasPrefix(bytes.TrimSpace(r.Until), []byte("[")) {
				s.until, err = parseCondition(json.RawMessage(`{"all":`+string(r.Until)+`}`), false)
			} else {
				s.until, err = parseCondition(r.Until, false)
			}
			if err != nil {
				return fail("%s.run.until: %v", w, err)
			}
		}
		for j, raw := range s.Expect {
			c, err := parseCondition(raw, true)
			if err != nil {
				return fail("%s.expect[%d]: %v", w, j, err)
			}
			s.expect = append(s.expect, c)
		}
		if s.Tab != "" && !slices.Contains(lessonTabs, s.Tab) {
			return fail("%s.tab %q: one of %v", w, s.Tab, lessonTabs)
		}
		for _, h := range s.Highlight {
			if !slices.Contains(lessonHighlights, h) {
				return fail("%s.highlight %q: one of %v", w, h, lessonHighlights)
			}
		}
		if s.Pace != nil && (*s.Pace <= 0 || *s.Pace > 100) {
			return fail("%s.pace %v out of (0, 100]", w, *s.Pace)
		}
	}
	return &l, nil
}

// loadLessons reads the lessons from the embedded UI, in the order of
// index.json, which must list every lesson file exactly once.
func loadLessons(t *testing.T) []*lesson {
	t.Helper()
	fsys := ui.FS()
	data, err := fs.ReadFile(fsys, "lessons/index.json")
	if err != nil {
		t.Fatal(err)
	}
	var idx lessonIndex
	if err := decodeStrict(data, &idx); err != nil {
		t.Fatalf("lessons/index.json: %v", err)
	}
	files, err := fs.Glob(fsys, "lessons/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, f := range files {
		if b := path.Base(f); b != "index.json" {
			onDisk = append(onDisk, strings.TrimSuffix(b, ".json"))
		}
	}
	listed := slices.Sorted(slices.Values(idx.Lessons))
	if !slices.Equal(listed, onDisk) || len(slices.Compact(slices.Clone(listed))) != len(listed) {
		t.Fatalf("lessons/index.json lists %v; the files are %v", idx.Lessons, onDisk)
	}
	var out []*lesson
	for _, id := range idx.Lessons {
		data, err := fs.ReadFile(fsys, "lessons/"+id+".json")
		if err != nil {
			t.Fatal(err)
		}
		l, err := parseLesson(id+".json", data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// --- the condition vocabulary (lessons.js's CONDITIONS) ---

// evalCtx is what a condition sees: the cluster at the moment checked and
// the events of the step so far (its actions' events included).
type evalCtx struct {
	c       *sim.Cluster
	events  []map[string]any
	created map[uint64]bool
	// progress is each leader's view of its followers as its progress
	// events reported it, which is what the page shows: core reports it
	// after each Ready, while raft's Status can be a few ms ahead.
	progress map[uint64]map[uint64]core.ProgressInfo
}

type condition struct {
	kind string
	eval func(x *evalCtx) bool
	// raw is the JSON of the condition, for the cross-check with JS.
	raw json.RawMessage
}

type leaderArgs struct {
	Is    *uint64 `json:"is"`
	IsNot *uint64 `json:"isNot"`
}
type roleArgs struct {
	Node uint64 `json:"node"`
	Is   string `json:"is"`
}
type termArgs struct {
	Node    *uint64 `json:"node"`
	AtLeast *uint64 `json:"atLeast"`
	AtMost  *uint64 `json:"atMost"`
}
type indexArgs struct {
	Index uint64          `json:"index"`
	On    json.RawMessage `json:"on"`
}
type entryArgs struct {
	Node  uint64  `json:"node"`
	Index uint64  `json:"index"`
	Term  *uint64 `json:"term"`
}
type configArgs struct {
	Node     json.RawMessage `json:"node"`
	Voters   *[]uint64       `json:"voters"`
	Learners *[]uint64       `json:"learners"`
	Outgoing *[]uint64       `json:"outgoing"`
}
type snapshotArgs struct {
	Node    uint64 `json:"node"`
	AtLeast uint64 `json:"atLeast"`
}
type snapshotAppliedArgs struct {
	Node uint64 `json:"node"`
}
type progressArgs struct {
	Peer         uint64  `json:"peer"`
	State        *string `json:"state"`
	MatchAtLeast *uint64 `json:"matchAtLeast"`
}
type kvArgs struct {
	Node  uint64  `json:"node"`
	Key   string  `json:"key"`
	Value *string `json:"value"`
}
type countArgs struct {
	Event   map[string]any `json:"event"`
	AtLeast *int           `json:"atLeast"`
	AtMost  *int           `json:"atMost"`
}

// conditionArgs is the Go side of lessons.js's CONDITIONS: an argument
// struct (its json fields are the argument names) or a word for a scalar
// or nested argument.
var conditionArgs = map[string]any{
	"leader":          leaderArgs{},
	"role":            roleArgs{},
	"term":            termArgs{},
	"committed":       indexArgs{},
	"applied":         indexArgs{},
	"entry":           entryArgs{},
	"up":              "node",
	"down":            "node",
	"removed":         "node",
	"config":          configArgs{},
	"snapshot":        snapshotArgs{},
	"snapshotApplied": snapshotAppliedArgs{},
	"progress":        progressArgs{},
	"kv":              kvArgs{},
	"event":           "pattern",
	"count":           countArgs{},
	"all":             "conditions",
	"any":             "conditions",
	"not":             "condition",
}

var (
	conditionRoles = []string{"follower", "preCandidate", "candidate", "leader", "down", "stopped"}
	progressStates = []string{"probe", "replicate", "snapshot"}
)

// jsonFields lists the json names of a struct's fields.
func jsonFields(v any) []string {
	var out []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// parseCondition decodes a condition strictly. An expectation (top) may
// carry a "look" text, and must when it is about events or combines
// conditions (their generated description would be poor).
func parseCondition(raw json.RawMessage, top bool) (condition, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return condition{}, fmt.Errorf("a condition is an object: %s", raw)
	}
	if look, ok := obj["look"]; ok {
		if !top {
			return condition{}, errors.New(`only a step's expectations carry "look"`)
		}
		var lt lessonText
		if err := decodeStrict(look, &lt); err != nil {
			return condition{}, fmt.Errorf("look: %w", err)
		}
		if err := checkText(lt, "look", false); err != nil {
			return condition{}, err
		}
		delete(obj, "look")
	}
	if len(obj) != 1 {
		return condition{}, fmt.Errorf("a condition has one kind: %s", raw)
	}
	var kind string
	var arg json.RawMessage
	for k, v := range obj {
		kind, arg = k, v
	}
	if _, ok := conditionArgs[kind]; !ok {
		return condition{}, fmt.Errorf("unknown condition %q", kind)
	}
	if top && !strings.Contains(string(raw), `"look"`) && slices.Contains([]string{"event", "count", "all", "any", "not"}, kind) {
		return condition{}, fmt.Errorf("a %q expectation needs a look text", kind)
	}
	ev, err := parseArgs(kind, arg)
	if err != nil {
		return condition{}, fmt.Errorf("%s: %w", kind, err)
	}
	return condition{kind: kind, eval: ev, raw: raw}, nil
}

func parseArgs(kind string, arg json.RawMessage) (func(x *evalCtx) bool, error) {
	node := func() (uint64, error) {
		var id uint64
		if err := decodeStrict(arg, &id); err != nil || id == 0 {
			return 0, fmt.Errorf("a member id, not %s", arg)
		}
		return id, nil
	}
	need := func(ok bool, what string) error {
		if !ok {
			return errors.New(what)
		}
		return nil
	}
	switch kind {
	case "leader":
		var a leaderArgs
		if err := decodeStrict(arg, &a); err != nil {
			return nil, err
		}
		if err := need((a.Is == nil || *a.Is > 0) && (a.IsNot == nil || *a.IsNot > 0), "is, isNot: member ids"); err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool {
			lead := x.c.Leader()
			return lead != 0 && (a.Is == nil || lead == *a.Is) && (a.IsNot == nil || lead != *a.IsNot)
		}, nil
	case "role":
		var a roleArgs
		if err := decodeStrict(arg, &a); err != nil {
			return nil, err
		}
		if err := need(a.Node > 0 && slices.Contains(conditionRoles, a.Is), "node: a member id; is: one of "+strings.Join(conditionRoles, ", ")); err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool { return x.role(a.Node) == a.Is }, nil
	case "term":
		var a termArgs
		if err := decodeStrict(arg, &a); err != nil {
			return nil, err
		}
		if err := need((a.AtLeast != nil || a.AtMost != nil) && (a.Node == nil || *a.Node > 0), "atLeast or atMost (and node: a member id)"); err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool {
			var term uint64
			if a.Node != nil {
				n := x.c.Node(*a.Node)
				if n == nil {
					return false
				}
				term = n.Status().Term
			} else {
				up := x.up()
				if len(up) == 0 {
					return false
				}
				for _, id := range up {
					term = max(term, x.c.Node(id).Status().Term)
				}
			}
			return (a.AtLeast == nil || term >= *a.AtLeast) && (a.AtMost == nil || term <= *a.AtMost)
		}, nil
	case "committed", "applied":
		var a indexArgs
		if err := decodeStrict(arg, &a); err != nil {
			return nil, err
		}
		on, err := parseOn(a.On)
		if err != nil {
			return nil, err
		}
		if err := need(a.Index > 0, "index: a log index"); err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool {
			return x.onMembers(on, func(st core.Status) bool {
				if kind == "committed" {
					return st.Commit >= a.Index
				}
				return st.Applied >= a.Index
			})
		}, nil
	case "entry":
		var a entryArgs
		if err := decodeStrict(arg, &a); err != nil {
			return nil, err
		}
		if err := need(a.Node > 0 && a.Index > 0 && a.Term != nil, "node, index and term"); err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool {
			n := x.c.Node(a.Node)
			if n == nil {
				return false
			}
			st := n.Status()
			if a.Index < st.FirstIndex || a.Index > st.LastIndex {
				return false
			}
			term, err := n.Store().Term(a.Index)
			return err == nil && term == *a.Term
		}, nil
	case "up", "down", "removed":
		id, err := node()
		if err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool {
			switch r := x.role(id); kind {
			case "up":
				return r != "none" && r != "down" && r != "stopped"
			case "down":
				return r == "down"
			default:
				return r == "stopped"
			}
		}, nil
	case "config":
		var a configArgs
		if err := decodeStrict(arg, &a); err != nil {
			return nil, err
		}
		var who uint64
		if string(a.Node) != `"leader"` {
			if err := json.Unmarshal(a.Node, &who); err != nil || who == 0 {
				return nil, errors.New(`node: a member id or "leader"`)
			}
		}
		if err := need(a.Voters != nil || a.Learners != nil || a.Outgoing != nil, "voters, learners or outgoing"); err != nil {
			return nil, err
		}
		same := func(want *[]uint64, got []uint64) bool {
			return want == nil || slices.Equal(slices.Sorted(slices.Values(*want)), slices.Sorted(slices.Values(got)))
		}
		return func(x *evalCtx) bool {
			id := who
			if id == 0 {
				id = x.c.Leader()
			}
			n := x.c.Node(id)
			if n == nil {
				return false
			}
			cs := n.Status().ConfState
			return same(a.Voters, cs.Voters) && same(a.Learners, cs.Learners) && same(a.Outgoing, cs.VotersOutgoing)
		}, nil
	case "snapshot":
		var a snapshotArgs
		if err := decodeStrict(arg, &a); err != nil {
			return nil, err
		}
		if err := need(a.Node > 0 && a.AtLeast > 0, "node and atLeast"); err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool {
			n := x.c.Node(a.Node)
			return n != nil && n.Status().SnapshotIndex >= a.AtLeast
		}, nil
	case "snapshotApplied":
		var a snapshotAppliedArgs
		if err := decodeStrict(arg, &a); err != nil {
			return nil, err
		}
		if err := need(a.Node > 0, "node: a member id"); err != nil {
			return nil, err
		}
		p := map[string]any{"kind": "snapshot", "phase": "applied", "node": float64(a.Node)}
		return func(x *evalCtx) bool { return x.count(p) > 0 }, nil
	case "progress":
		var a progressArgs
		if err := decodeStrict(arg, &a); err != nil {
			return nil, err
		}
		if err := need(a.Peer > 0 && (a.State == nil || slices.Contains(progressStates, *a.State)), "peer: a member id; state: one of "+strings.Join(progressStates, ", ")); err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool {
			p, ok := x.progress[x.c.Leader()][a.Peer]
			return ok && (a.State == nil || p.State == *a.State) && (a.MatchAtLeast == nil || p.Match >= *a.MatchAtLeast)
		}, nil
	case "kv":
		var a kvArgs
		if err := decodeStrict(arg, &a); err != nil {
			return nil, err
		}
		if err := need(a.Node > 0 && a.Key != "" && a.Value != nil, "node, key and value"); err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool {
			n := x.c.Node(a.Node)
			if n == nil {
				return false
			}
			v, err := n.Store().Engine().Get([]byte(storage.KVPrefix + a.Key))
			return err == nil && string(v) == *a.Value
		}, nil
	case "event":
		p, err := parsePattern(arg)
		if err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool { return x.count(p) > 0 }, nil
	case "count":
		var a countArgs
		if err := decodeStrict(arg, &a); err != nil {
			return nil, err
		}
		ev, _ := json.Marshal(a.Event)
		p, err := parsePattern(ev)
		if err != nil {
			return nil, err
		}
		if err := need((a.AtLeast != nil || a.AtMost != nil) && (a.AtLeast == nil || *a.AtLeast >= 0) && (a.AtMost == nil || *a.AtMost >= 0), "atLeast or atMost"); err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool {
			n := x.count(p)
			return (a.AtLeast == nil || n >= *a.AtLeast) && (a.AtMost == nil || n <= *a.AtMost)
		}, nil
	case "all", "any":
		var list []json.RawMessage
		if err := json.Unmarshal(arg, &list); err != nil || len(list) == 0 {
			return nil, errors.New("a list of conditions")
		}
		var cs []condition
		for _, r := range list {
			c, err := parseCondition(r, false)
			if err != nil {
				return nil, err
			}
			cs = append(cs, c)
		}
		return func(x *evalCtx) bool {
			for _, c := range cs {
				if c.eval(x) != (kind == "all") {
					return kind == "any"
				}
			}
			return kind == "all"
		}, nil
	case "not":
		c, err := parseCondition(arg, false)
		if err != nil {
			return nil, err
		}
		return func(x *evalCtx) bool { return !c.eval(x) }, nil
	}
	return nil, fmt.Errorf("unknown condition %q", kind)
}

// parseOn reads where a committed or applied condition looks: "all",
// "majority", "leader" or a member id (0 stands for "leader" below only
// after parsing; ids start at 1).
func parseOn(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil && (s == "all" || s == "majority" || s == "leader") {
		return s, nil
	}
	var id uint64
	if json.Unmarshal(raw, &id) == nil && id > 0 {
		return fmt.Sprint(id), nil
	}
	return "", fmt.Errorf(`on: "all", "majority", "leader" or a member id, not %s`, raw)
}

func parsePattern(raw json.RawMessage) (map[string]any, error) {
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil || p == nil {
		return nil, errors.New("an event pattern is an object")
	}
	kind, _ := p["kind"].(string)
	if !slices.Contains(core.Kinds, core.Kind(kind)) {
		return nil, fmt.Errorf("pattern kind %q is not an event kind", p["kind"])
	}
	for k, v := range p {
		switch v.(type) {
		case string, float64, bool:
		default:
			return nil, fmt.Errorf("pattern field %s: a string, number or boolean", k)
		}
	}
	return p, nil
}

// role is a member's role as a role condition sees it: raft's, "down"
// (crashed), "stopped" (removed) or "none" (never existed).
func (x *evalCtx) role(id uint64) string {
	switch {
	case !x.created[id]:
		return "none"
	case !slices.Contains(x.c.Members(), id):
		return "stopped"
	case !x.c.Up(id):
		return "down"
	}
	return x.c.Node(id).Status().Role
}

// up lists the members that run.
func (x *evalCtx) up() []uint64 {
	return slices.DeleteFunc(x.c.Members(), func(id uint64) bool { return !x.c.Up(id) })
}

// onMembers: "all" every running member, "majority" more than half of the
// members (down ones failing), "leader", or one member that must run.
func (x *evalCtx) onMembers(on string, test func(core.Status) bool) bool {
	switch on {
	case "all":
		for _, id := range x.up() {
			if !test(x.c.Node(id).Status()) {
				return false
			}
		}
		return true
	case "majority":
		ms := x.c.Members()
		n := 0
		for _, id := range ms {
			if x.c.Up(id) && test(x.c.Node(id).Status()) {
				n++
			}
		}
		return n*2 > len(ms)
	}
	var id uint64
	if on == "leader" {
		id = x.c.Leader()
	} else {
		fmt.Sscan(on, &id)
	}
	n := x.c.Node(id)
	return n != nil && test(n.Status())
}

// count counts the step's events matching p.
func (x *evalCtx) count(p map[string]any) int {
	n := 0
	for _, e := range x.events {
		if matchEvent(e, p) {
			n++
		}
	}
	return n
}

// matchEvent is lessons.js's matchEvent: every pattern field equals the
// event's, looked up in the payload first (the event's one object field),
// then among the event's own scalar fields; a field the event leaves out
// (omitempty) equals its zero value.
func matchEvent(e, p map[string]any) bool {
	for k, want := range p {
		got, ok := lookupField(e, k)
		if !ok || got == nil {
			switch want.(type) {
			case bool:
				got = false
			case float64:
				got = float64(0)
			default:
				got = ""
			}
		}
		if got != want {
			return false
		}
	}
	return true
}

func lookupField(e map[string]any, k string) (any, bool) {
	for _, v := range e {
		if m, isMap := v.(map[string]any); isMap {
			if g, found := m[k]; found {
				return g, true
			}
		}
	}
	if v, ok := e[k]; ok {
		if _, isMap := v.(map[string]any); !isMap {
			return v, true
		}
	}
	return nil, false
}

// --- running a lesson as the page does ---

// stepTrace records what the Go run saw, for the JS cross-check.
type stepTrace struct {
	Start int64 `json:"start"`
	Index int   `json:"index"`
	// Conds are the step's conditions: until (if any) first, then the
	// expectations; Checks their verdicts at each check point.
	Conds  []json.RawMessage `json:"conds"`
	Checks []checkTrace      `json:"checks"`
}

type checkTrace struct {
	Time    int64  `json:"time"`
	Events  int    `json:"events"`
	Results []bool `json:"results"`
}

type lessonTrace struct {
	ID     string            `json:"id"`
	Events []json.RawMessage `json:"events"`
	Steps  []stepTrace       `json:"steps"`
}

type lessonRun struct {
	t        *testing.T
	l        *lesson
	c        *sim.Cluster
	events   []map[string]any
	created  map[uint64]bool
	progress map[uint64]map[uint64]core.ProgressInfo
	trace    *lessonTrace
}

func (r *lessonRun) take() {
	for _, e := range r.c.TakeEvents(0) {
		data, err := json.Marshal(e)
		if err != nil {
			r.t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			r.t.Fatal(err)
		}
		r.events = append(r.events, m)
		if r.trace != nil {
			r.trace.Events = append(r.trace.Events, data)
		}
		switch e.Kind {
		case core.KindStart:
			r.created[e.Node] = true
			delete(r.progress, e.Node)
		case core.KindCrash, core.KindStop:
			delete(r.progress, e.Node)
		case core.KindRole:
			if e.Role.Role != "leader" {
				delete(r.progress, e.Node)
			}
		case core.KindProgress:
			if r.progress[e.Node] == nil {
				r.progress[e.Node] = map[uint64]core.ProgressInfo{}
			}
			r.progress[e.Node][e.Progress.Peer] = *e.Progress
		}
	}
}

// runTo runs the cluster to time tt, failing the lesson at a halt.
func (r *lessonRun) runTo(tt int64) {
	if tt > r.c.Now() {
		if err := r.c.RunUntil(tt); err != nil {
			r.t.Fatalf("lesson %s: the simulation halted: %v", r.l.ID, err)
		}
	}
	r.take()
}

// runLesson runs every step as lessons.js does and checks each step's
// expectations. It returns the virtual time the lesson took.
func runLesson(t *testing.T, l *lesson, trace *lessonTrace) int64 {
	c := l.Config
	cfg := sim.Config{Nodes: c.Nodes, Seed: c.Seed, TickMs: c.TickMs, ElectionTicks: c.ElectionTicks,
		HeartbeatTicks: c.HeartbeatTicks, LatencyMs: c.LatencyMs, JitterMs: c.JitterMs, LossRatio: c.LossRatio,
		DiskMs: c.DiskMs, SnapshotEntries: c.SnapshotEntries, CatchUpEntries: c.CatchUpEntries,
		ClientTimeoutMs: c.ClientTimeoutMs, Events: true}
	cl, err := sim.New(cfg)
	if err != nil {
		t.Fatalf("lesson %s: config: %v", l.ID, err)
	}
	r := &lessonRun{t: t, l: l, c: cl, created: map[uint64]bool{}, progress: map[uint64]map[uint64]core.ProgressInfo{}, trace: trace}
	r.take()
	var end int64
	for k := range l.Steps {
		s := &l.Steps[k]
		where := fmt.Sprintf("lesson %s step %d (%.60q)", l.ID, k+1, s.Text.En)
		start := cl.Now()
		if start != end {
			t.Fatalf("%s: starts at %d ms, the step before ended at %d ms", where, start, end)
		}
		idx := len(r.events)
		if s.Select != 0 && !slices.Contains(cl.Members(), s.Select) {
			t.Errorf("%s: select %d: no such member", where, s.Select)
		}
		refused := false
		for _, a := range s.actions {
			err := cl.Do(a)
			r.take()
			if err != nil && (errors.Is(err, sim.ErrBadAction) || cl.Err() != nil || !s.AllowRefusal) {
				t.Fatalf("%s: action %+v: %v", where, a, err)
			}
			refused = refused || err != nil
		}
		if s.AllowRefusal && !refused {
			// The narration says a request is turned down: it must be.
			t.Errorf("%s: allowRefusal, but every action was accepted", where)
		}
		conds := s.expect
		if s.until.eval != nil {
			conds = append([]condition{s.until}, s.expect...)
		}
		var st *stepTrace
		if trace != nil {
			trace.Steps = append(trace.Steps, stepTrace{Start: start, Index: idx})
			st = &trace.Steps[len(trace.Steps)-1]
			for _, c := range conds {
				st.Conds = append(st.Conds, c.raw)
			}
		}
		ctx := func() *evalCtx {
			return &evalCtx{c: cl, events: r.events[idx:], created: r.created, progress: r.progress}
		}
		// check evaluates at a check point, recording every verdict for
		// the JS cross-check.
		check := func(tt int64) *evalCtx {
			r.runTo(tt)
			x := ctx()
			if st != nil {
				ct := checkTrace{Time: tt, Events: len(r.events)}
				for _, c := range conds {
					ct.Results = append(ct.Results, c.eval(x))
				}
				st.Checks = append(st.Checks, ct)
			}
			return x
		}
		run := s.Run
		switch {
		case run.ForMs != nil:
			end = start + *run.ForMs
		default:
			held := false
			for tt := start; tt <= start+*run.MaxMs; tt += checkMs {
				if s.until.eval(check(tt)) {
					held, end = true, tt
					if run.AfterMs != nil {
						end += *run.AfterMs
					}
					break
				}
			}
			if !held {
				t.Errorf("%s: run.until %s did not hold within %d ms", where, run.Until, *run.MaxMs)
				end = start + *run.MaxMs
			}
		}
		// Play to the end in check steps: the same run (no actions), and
		// more points for the cross-check.
		for tt := min(cl.Now()+checkMs, end); tt < end; tt += checkMs {
			check(tt)
		}
		x := check(end)
		for j, c := range s.expect {
			if !c.eval(x) {
				t.Errorf("%s: at %d ms, expectation %d does not hold: %s", where, end, j+1, c.raw)
			}
		}
		if t.Failed() {
			return end
		}
	}
	return end
}

// TestLessons validates every lesson strictly and runs it in core/sim as
// the page would, checking every step's expectations.
func TestLessons(t *testing.T) {
	lessons := loadLessons(t)
	if len(lessons) < 12 {
		t.Errorf("%d lessons; the course has at least 12", len(lessons))
	}
	for _, l := range lessons {
		t.Run(l.ID, func(t *testing.T) {
			t0 := time.Now()
			end := runLesson(t, l, nil)
			t.Logf("%-22s %2d steps  %6d ms virtual  (ran in %v)", l.ID, len(l.Steps), end, time.Since(t0).Round(time.Millisecond))
		})
	}
}

// TestLessonValidationRefusesBadLessons: the validator is not a rubber
// stamp.
func TestLessonValidationRefusesBadLessons(t *testing.T) {
	good := `{"id":"x","title":{"en":"T","zh":"标题"},"summary":{"en":"S","zh":"摘要"},"config":{"nodes":3,"seed":1},
		"steps":[{"text":{"en":"A leader is elected (§5.2).","zh":"选出领导者（§5.2）。"},"run":{"until":{"leader":{}},"maxMs":5000},"expect":[{"leader":{}}]}]}`
	if _, err := parseLesson("x.json", []byte(good)); err != nil {
		t.Fatalf("a good lesson was refused: %v", err)
	}
	bad := map[string][2]string{
		"unknown field":       {`"seed":1}`, `"seed":1,"events":true}`},
		"no zh":               {`"zh":"标题"`, `"zh":""`},
		"english zh":          {`"zh":"选出领导者（§5.2）。"`, `"zh":"A leader (§5.2)."`},
		"no section":          {`"en":"A leader is elected (§5.2)."`, `"en":"A leader is elected."`},
		"sections differ":     {`"zh":"选出领导者（§5.2）。"`, `"zh":"选出领导者（§5.3）。"`},
		"unknown condition":   {`{"leader":{}}]`, `{"leaders":{}}]`},
		"unknown argument":    {`{"leader":{}}]`, `{"leader":{"id":1}}]`},
		"bad role":            {`{"leader":{}}]`, `{"role":{"node":1,"is":"boss"}}]`},
		"event without look":  {`{"leader":{}}]`, `{"event":{"kind":"vote"}}]`},
		"bad event kind":      {`{"leader":{}}]`, `{"event":{"kind":"votes"},"look":{"en":"x","zh":"投票"}}]`},
		"no maxMs":            {`,"maxMs":5000`, ``},
		"forMs with until":    {`"maxMs":5000`, `"maxMs":5000,"forMs":10`},
		"unknown action":      {`"run":`, `"actions":[{"kind":"explode"}],"run":`},
		"action field":        {`"run":`, `"actions":[{"kind":"crash","node":1,"nodes":2}],"run":`},
		"action with at":      {`"run":`, `"actions":[{"kind":"crash","node":1,"at":5}],"run":`},
		"bad tab":             {`"run":`, `"tab":"nope","run":`},
		"too many sentences":  {`"en":"A leader is elected (§5.2)."`, `"en":"One (§5.2). Two. Three. Four."`},
		"id not the filename": {`"id":"x"`, `"id":"y"`},
	}
	for name, sub := range bad {
		src := strings.Replace(good, sub[0], sub[1], 1)
		if src == good {
			t.Fatalf("%s: the substitution did not apply", name)
		}
		if _, err := parseLesson("x.json", []byte(src)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// jsLiteral reads `export const name = <JSON>` from a JS source.
func jsLiteral(t *testing.T, src, name string, v any) {
	t.Helper()
	marker := "export const " + name + " = "
	i := strings.Index(src, marker)
	if i < 0 {
		t.Fatalf("lessons.js: no %s", marker)
	}
	if err := json.NewDecoder(strings.NewReader(src[i+len(marker):])).Decode(v); err != nil {
		t.Fatalf("lessons.js: %s is not JSON: %v", name, err)
	}
}

// TestLessonVocabularyMatchesJS compares the names both implementations
// accept: the condition kinds and their arguments, the step fields, the
// config and action fields, the action kinds, tabs, highlights, roles.
func TestLessonVocabularyMatchesJS(t *testing.T) {
	data, err := fs.ReadFile(ui.FS(), "js/lessons.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	var jsConds map[string]any
	jsLiteral(t, src, "CONDITIONS", &jsConds)
	goConds := map[string]any{}
	for k, v := range conditionArgs {
		if s, ok := v.(string); ok {
			goConds[k] = s
		} else {
			var names []any
			for _, f := range jsonFields(v) {
				names = append(names, f)
			}
			goConds[k] = names
		}
	}
	if !reflect.DeepEqual(jsConds, goConds) {
		t.Errorf("condition vocabularies differ:\n  lessons.js: %v\n  Go:         %v", jsConds, goConds)
	}
	var checkMsJS int
	jsLiteral(t, src, "CHECK_MS", &checkMsJS)
	var maxStepJS int64
	jsLiteral(t, src, "MAX_STEP_MS", &maxStepJS)
	if checkMsJS != checkMs || maxStepJS != maxStepMs {
		t.Errorf("CHECK_MS %d, MAX_STEP_MS %d in lessons.js; %d, %d here", checkMsJS, maxStepJS, checkMs, maxStepMs)
	}
	sorted := func(s []string) []string { return slices.Sorted(slices.Values(s)) }
	same := func(name string, js, goList []string) {
		if !slices.Equal(sorted(js), sorted(goList)) {
			t.Errorf("%s differ:\n  lessons.js: %v\n  Go:         %v", name, js, goList)
		}
	}
	lists := map[string][]string{
		"LESSON_FIELDS":   jsonFields(lesson{}),
		"STEP_FIELDS":     jsonFields(lessonStep{}),
		"RUN_FIELDS":      jsonFields(runRule{}),
		"CONFIG_FIELDS":   jsonFields(lessonConfig{}),
		"ACTION_FIELDS":   slices.DeleteFunc(jsonFields(sim.Action{}), func(f string) bool { return f == "at" || f == "step" }),
		"ACTION_KINDS":    actionKinds,
		"TABS":            lessonTabs,
		"ROLES":           conditionRoles,
		"PROGRESS_STATES": progressStates,
	}
	for name, goList := range lists {
		var js []string
		jsLiteral(t, src, name, &js)
		same(name, js, goList)
	}
	var hl map[string]string
	jsLiteral(t, src, "HIGHLIGHTS", &hl)
	same("HIGHLIGHTS", slices.Collect(func(yield func(string) bool) {
		for k := range hl {
			if !yield(k) {
				return
			}
		}
	}), lessonHighlights)
	// A lesson's config is a sim.Config without the test-only switches.
	simFields := slices.DeleteFunc(jsonFields(sim.Config{}), func(f string) bool {
		return f == "events" || f == "maxBufferedEvents" || f == "ackBeforeSync"
	})
	same("lessonConfig vs sim.Config", jsonFields(lessonConfig{}), simFields)
}

// nodeScript evaluates lessons.js's conditions on the events of a Go run
// and prints every verdict that differs from Go's, one JSON line each.
const nodeScript = `
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [jsDir, ...files] = process.argv.slice(1);
const { Timeline } = await import(pathToFileURL(jsDir + '/model/timeline.js'));
const { evaluate } = await import(pathToFileURL(jsDir + '/lessons.js'));
let checks = 0;
for (const f of files) {
  const tr = JSON.parse(readFileSync(f, 'utf8'));
  const tl = new Timeline();
  tl.push(tr.events);
  for (const [k, st] of tr.steps.entries()) {
    for (const c of st.checks) {
      // The next step's actions happen at this step's end: not part of it
      // (lessons.js ctxAt).
      const next = tr.steps[k + 1];
      let idx = tl.indexAt(c.time);
      if (next && next.start <= c.time) idx = Math.min(idx, next.index);
      if (idx !== c.events) {
        console.log(JSON.stringify({ lesson: tr.id, step: k + 1, time: c.time, problem: 'events at that time: JS ' + idx + ', Go ' + c.events }));
        continue;
      }
      const ctx = { state: tl.stateAtIndex(idx, c.time), events: tl.events.slice(st.index, idx) };
      st.conds.forEach((cond, i) => {
        checks++;
        const js = evaluate(cond, ctx);
        if (js !== c.results[i]) console.log(JSON.stringify({ lesson: tr.id, step: k + 1, time: c.time, cond, js, go: c.results[i] }));
      });
    }
  }
}
console.log(JSON.stringify({ checks }));
`

// TestLessonConditionsAgreeWithJS runs every lesson in Go, then evaluates
// the same conditions with lessons.js on the UI's model (Node.js), at every
// check point, on the very same events: the two implementations must give
// the same verdict every time.
func TestLessonConditionsAgreeWithJS(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is needed to compare the JS conditions")
		}
		t.Skip("node not found: cannot compare the JS conditions")
	}
	dir := t.TempDir()
	var files []string
	for _, l := range loadLessons(t) {
		tr := &lessonTrace{ID: l.ID}
		runLesson(t, l, tr)
		data, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, l.ID+".json")
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if t.Failed() {
		return
	}
	jsDir, err := filepath.Abs("js")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nodeBin, append([]string{"--input-type=module", "-e", nodeScript, jsDir}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var summary struct{ Checks int }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); err != nil || summary.Checks == 0 {
		t.Fatalf("node printed no summary: %s\n%s", out, stderr.String())
	}
	diffs := lines[:len(lines)-1]
	sort.Strings(diffs)
	for i, d := range diffs {
		if i == 30 {
			t.Errorf("... and %d more", len(diffs)-30)
			break
		}
		t.Errorf("JS and Go disagree: %s", d)
	}
	t.Logf("%d verdicts compared", summary.Checks)
}

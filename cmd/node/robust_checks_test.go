//go:build unix

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftlab/raftlab/core"
)

// The checks of the robustness suite must be able to fail: each is shown a
// history with a planted bug.

func op(client int, kind, key, value string, call, ret int, status int, index uint64) Op {
	return Op{Client: client, Kind: kind, Key: key, Value: value, Member: 1, Call: time.Duration(call) * time.Millisecond,
		Return: time.Duration(ret) * time.Millisecond, Status: status, Index: index}
}

func TestLinearizabilityCheckCatchesStaleRead(t *testing.T) {
	good := []Op{
		op(1, "put", "x", "1", 0, 10, 200, 5),
		op(2, "put", "x", "2", 20, 30, 200, 6),
		op(3, "get", "x", "2", 40, 50, 200, 6),
		op(3, "put", "y", "a", 40, 50, 200, 7),
	}
	if res := checkLinearizable(good); !res.ok {
		t.Fatalf("a linearizable history: %s", res.why)
	}
	stale := append(good[:len(good):len(good)], op(4, "get", "x", "1", 60, 70, 200, 6))
	res := checkLinearizable(stale)
	if res.ok || !strings.Contains(res.why, "not linearizable") {
		t.Fatalf("a stale read passed: %+v", res)
	}
	// The visualization of the failure can be saved.
	path := t.TempDir() + "/history.html"
	if err := res.visualize(path); err != nil {
		t.Fatal(err)
	}
	// A write that failed may have happened, at any time after its call:
	// a read of it is linearizable, even long after.
	open := []Op{
		op(1, "put", "x", "1", 0, 10, 200, 5),
		op(2, "put", "x", "lost?", 20, 4000, 0, 0),
		op(3, "get", "x", "lost?", 5000, 5010, 200, 9),
	}
	if res := checkLinearizable(open); !res.ok {
		t.Fatalf("a read of a write with an unknown outcome: %s", res.why)
	}
	// A write the member refused before proposing it had no effect: a
	// read of its value is a violation (the member lied). An unknown one
	// that no read saw is left out.
	refused := op(2, "put", "x", "refused", 20, 30, http.StatusServiceUnavailable, 0)
	refused.Err = "no leader: the cluster is electing one or lost its majority; retry"
	if !notApplied(refused) || notApplied(open[1]) {
		t.Fatal("notApplied")
	}
	if res := checkLinearizable([]Op{open[0], refused, op(3, "get", "x", "refused", 40, 50, 200, 9)}); res.ok {
		t.Fatal("a read of a refused write passed")
	}
	if n := len(porcupineHistory(open[:2])); n != 1 {
		t.Fatalf("an unobserved write of unknown outcome was kept: %d operations", n)
	}
	// A failed read says nothing; a read that did not find a key that an
	// acknowledged write set does.
	absent := []Op{
		op(1, "put", "x", "1", 0, 10, 200, 5),
		op(2, "get", "x", "", 20, 30, http.StatusServiceUnavailable, 0),
		op(3, "get", "x", "", 40, 50, http.StatusNotFound, 0),
	}
	if res := checkLinearizable(absent[:2]); !res.ok {
		t.Fatalf("a failed read: %s", res.why)
	}
	if res := checkLinearizable(absent); res.ok {
		t.Fatal("a read missing an acknowledged write passed")
	}
}

func TestSerializableCheck(t *testing.T) {
	ops := []Op{
		op(1, "put", "x", "1", 0, 10, 0, 0), // unknown outcome: may be read
		{Client: 2, Kind: "get", Key: "x", Value: "1", Consistency: "serializable", Status: 200, Call: 20 * time.Millisecond, Return: 30 * time.Millisecond},
	}
	if v := checkSerializable(ops); len(v) != 0 {
		t.Fatal(v)
	}
	ops = append(ops, Op{Client: 2, Kind: "get", Key: "x", Value: "invented", Consistency: "serializable", Status: 200, Return: 40 * time.Millisecond})
	if v := checkSerializable(ops); len(v) != 1 {
		t.Fatalf("an invented value: %v", v)
	}
}

func TestLostWriteCheck(t *testing.T) {
	ops := []Op{
		op(1, "put", "x", "1", 0, 10, 200, 5),
		op(1, "put", "x", "2", 20, 30, 200, 8),
		op(2, "put", "x", "3", 25, 4000, 0, 0), // unknown
		op(1, "delete", "y", "", 0, 10, 200, 6),
	}
	final := func(v string, found bool) Op {
		o := Op{Kind: "get", Status: 404}
		if found {
			o.Status, o.Value = 200, v
		}
		return o
	}
	cases := []struct {
		x    Op
		lost bool
	}{
		{final("2", true), false},
		{final("3", true), false}, // the unknown write landed later
		{final("1", true), true},  // an older acknowledged value came back
		{final("", false), true},  // the key vanished
	}
	for _, c := range cases {
		v := checkLostWrites(ops, map[uint64]map[string]Op{1: {"x": c.x, "y": final("", false)}})
		if (len(v) > 0) != c.lost {
			t.Errorf("final x=%q (found %v): %v", c.x.Value, c.x.Found(), v)
		}
	}
	if v := checkLostWrites(ops, map[uint64]map[string]Op{1: {"y": final("back", true)}}); len(v) != 1 {
		t.Errorf("a deleted key came back: %v", v)
	}
}

func TestEventsCheck(t *testing.T) {
	w := &eventWatch{member: 1, recs: []eventRec{{Seq: 1}, {Seq: 2}, {Seq: 3}}}
	if v := w.check(); len(v) != 0 {
		t.Fatal(v)
	}
	w.recs = append(w.recs, eventRec{Seq: 5})
	if v := w.check(); len(v) != 1 {
		t.Fatalf("a gap: %v", v)
	}
	w.recs = []eventRec{{Seq: 40, Kind: core.KindDropped, Dropped: 40}, {Seq: 41}}
	if v := w.check(); len(v) != 0 {
		t.Fatalf("a history that no longer reaches back, said so: %v", v)
	}
	w.recs = []eventRec{{Seq: 41}, {Seq: 42}}
	if v := w.check(); len(v) != 1 {
		t.Fatalf("a stream that starts late without saying so: %v", v)
	}
}

// TestRecheckSavedHistory checks a history a failing run saved
// (RAFTLAB_RECHECK=.../history.json) again, without a cluster: to study a
// failure, or to try a changed checker on it. Without the variable it
// checks that a saved history reads back.
func TestRecheckSavedHistory(t *testing.T) {
	path := os.Getenv("RAFTLAB_RECHECK")
	if path == "" {
		h := savedHistory{Cell: "3/test", Seed: 1, Ops: []Op{op(1, "put", "x", "1", 0, 10, 200, 5)}}
		b, _ := json.Marshal(h)
		var back savedHistory
		if err := json.Unmarshal(b, &back); err != nil || len(back.Ops) != 1 || back.Ops[0] != h.Ops[0] {
			t.Fatalf("a saved history does not read back: %v %+v", err, back)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h savedHistory
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s seed %d (%s): %d requests; fault from %v to %v", h.Cell, h.Seed, h.Target, len(h.Ops), h.FaultStart, h.FaultEnd)
	for _, v := range checkSerializable(h.Ops) {
		t.Error(v)
	}
	res := checkLinearizable(h.Ops)
	if !res.ok {
		out := filepath.Join(filepath.Dir(path), "recheck.html")
		if err := res.visualize(out); err == nil {
			t.Logf("visualization: %s", out)
		}
		t.Error(res.why)
	}
}

//go:build unix

package main

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// The checks of a run's history.
//
// Linearizability (porcupine v1.3.1): each key is a register that is absent
// or holds a value; a put sets it, a delete clears it, a linearizable get
// returns it. The history is partitioned by key (keys are independent, and
// an unpartitioned KV history takes porcupine minutes). A write that failed
// or got no answer may still have happened (a timeout, a leader that died
// after committing it): as in etcd's suite, its return is left open
// (math.MaxInt64), so porcupine may place it anywhere after its call, or
// nowhere. A read that failed tells nothing and is dropped. Serializable
// reads are not linearizable and are checked apart. Unknown (the checker
// ran out of time) counts as a failure.

// kvInput is a request to one key.
type kvInput struct {
	Kind  string // put, delete, get
	Key   string
	Value string
}

// kvOutput is what a get returned; for writes it is empty.
type kvOutput struct {
	Found bool
	Value string
}

// kvState is one key's register.
type kvState struct {
	Found bool
	Value string
}

var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		slices.Sort(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return kvState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in := state.(kvState), input.(kvInput)
		switch in.Kind {
		case "put":
			return true, kvState{Found: true, Value: in.Value}
		case "delete":
			return true, kvState{}
		default:
			out := output.(kvOutput)
			return out.Found == s.Found && (!s.Found || out.Value == s.Value), s
		}
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		switch in.Kind {
		case "put":
			return fmt.Sprintf("put(%s, %s)", in.Key, in.Value)
		case "delete":
			return fmt.Sprintf("delete(%s)", in.Key)
		}
		out := output.(kvOutput)
		if !out.Found {
			return fmt.Sprintf("get(%s) -> not found", in.Key)
		}
		return fmt.Sprintf("get(%s) -> %s", in.Key, out.Value)
	},
	DescribeState: func(state any) string {
		s := state.(kvState)
		if !s.Found {
			return "(absent)"
		}
		return s.Value
	},
}

// notApplied reports whether a failed write certainly had no effect: the
// request never reached the member (connection refused), or the member
// refused it before proposing it (no leader: raft dropped the proposal; too
// many requests), or it lost its log index to another entry (proposal lost).
// Leaving such writes out makes the check stronger, not weaker: if one did
// take effect, a read of its unique value has no write to explain it.
func notApplied(o Op) bool {
	if o.OK() {
		return false
	}
	if o.Status == 0 {
		return strings.Contains(o.Err, "connection refused")
	}
	if o.Status != http.StatusServiceUnavailable {
		return false
	}
	for _, s := range []string{"no leader", "proposal lost", "too many requests"} {
		if strings.Contains(o.Err, s) {
			return true
		}
	}
	return false
}

// porcupineHistory turns the requests of a run into porcupine operations:
// writes (an open return when their outcome is unknown), and successful
// linearizable reads.
//
// A put whose outcome is unknown and whose value no read ever returned is
// left out: had it happened, leaving it out changes nothing a read saw (no
// read falls between it and the next write of its key, or a read would
// have returned its unique value), so the history is linearizable with it
// exactly when it is without. Each such open write would otherwise
// multiply porcupine's search.
func porcupineHistory(ops []Op) []porcupine.Operation {
	observed := map[string]bool{}
	for _, o := range ops {
		if o.Found() {
			observed[o.Key+"\x00"+o.Value] = true
		}
	}
	var out []porcupine.Operation
	for _, o := range ops {
		in := kvInput{Kind: o.Kind, Key: o.Key, Value: o.Value}
		p := porcupine.Operation{ClientId: o.Client - 1, Input: in, Call: int64(o.Call), Return: int64(o.Return), Output: kvOutput{}, Metadata: o.String()}
		switch o.Kind {
		case "put", "delete":
			if notApplied(o) || (o.Kind == "put" && !o.OK() && !observed[o.Key+"\x00"+o.Value]) {
				continue
			}
			if !o.OK() {
				p.Return = math.MaxInt64
			}
		case "get":
			if o.Consistency != "" || !o.OK() {
				continue
			}
			p.Output = kvOutput{Found: o.Found(), Value: o.Value}
		}
		if p.ClientId < 0 {
			p.ClientId = 0
		}
		out = append(out, p)
	}
	return out
}

// linResult is porcupine's verdict, and a way to draw it.
type linResult struct {
	ok        bool
	why       string
	visualize func(path string) error
}

// linearizabilityTimeout bounds porcupine; running out is a failure.
const linearizabilityTimeout = time.Minute

func checkLinearizable(ops []Op) linResult {
	history := porcupineHistory(ops)
	res, info := porcupine.CheckOperationsVerbose(kvModel, history, linearizabilityTimeout)
	lr := linResult{ok: res == porcupine.Ok, visualize: func(path string) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return porcupine.Visualize(kvModel, info, f)
	}}
	switch res {
	case porcupine.Illegal:
		lr.why = fmt.Sprintf("porcupine: history of %d operations is not linearizable", len(history))
	case porcupine.Unknown:
		lr.why = fmt.Sprintf("porcupine: no verdict on %d operations within %v (counts as a failure)", len(history), linearizabilityTimeout)
	}
	return lr
}

// checkSerializable checks that every serializable read found nothing or a
// value that some put of that key, called before the read returned, wrote.
func checkSerializable(ops []Op) []string {
	written := map[string][]Op{}
	for _, o := range ops {
		if o.Kind == "put" && !notApplied(o) {
			written[o.Key+"\x00"+o.Value] = append(written[o.Key+"\x00"+o.Value], o)
		}
	}
	var out []string
	for _, o := range ops {
		if o.Kind != "get" || o.Consistency != "serializable" || !o.Found() {
			continue
		}
		ok := slices.ContainsFunc(written[o.Key+"\x00"+o.Value], func(w Op) bool { return w.Call <= o.Return })
		if !ok {
			out = append(out, fmt.Sprintf("serializable read %s returned %q, which no write wrote", o, o.Value))
		}
	}
	return out
}

// checkLostWrites checks each member's final state (finals: a serializable
// read of every key, once the members converged) against the acknowledged
// writes: a key must hold what its last acknowledged write (by log index)
// left, unless a write whose outcome is unknown came after it.
func checkLostWrites(ops []Op, finals map[uint64]map[string]Op) []string {
	type keyWrites struct {
		last    *Op // acknowledged, highest index
		unknown []Op
		acked   []Op
	}
	writes := map[string]*keyWrites{}
	for _, o := range ops {
		if o.Kind != "put" && o.Kind != "delete" {
			continue
		}
		kw := writes[o.Key]
		if kw == nil {
			kw = &keyWrites{}
			writes[o.Key] = kw
		}
		if o.OK() {
			kw.acked = append(kw.acked, o)
			if kw.last == nil || o.Index > kw.last.Index {
				l := o
				kw.last = &l
			}
		} else if !notApplied(o) {
			kw.unknown = append(kw.unknown, o)
		}
	}
	var out []string
	ids := make([]uint64, 0, len(finals))
	for id := range finals {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		keys := make([]string, 0, len(finals[id]))
		for k := range finals[id] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, key := range keys {
			f := finals[id][key]
			if !f.OK() {
				out = append(out, fmt.Sprintf("member %d: final read of %s failed: %s", id, key, f))
				continue
			}
			kw := writes[key]
			if kw == nil || kw.last == nil {
				continue // nothing acknowledged; the serializable check covers the value
			}
			explained := func() bool {
				// A write of unknown outcome may have landed after the
				// last acknowledged one.
				return slices.ContainsFunc(kw.unknown, func(u Op) bool {
					if f.Found() {
						return u.Kind == "put" && u.Value == f.Value
					}
					return u.Kind == "delete"
				})
			}
			last := kw.last
			switch {
			case last.Kind == "put" && f.Found() && f.Value == last.Value:
			case last.Kind == "delete" && !f.Found():
			case explained():
			default:
				have := "nothing"
				if f.Found() {
					have = fmt.Sprintf("%q", f.Value)
				}
				out = append(out, fmt.Sprintf("member %d: %s holds %s, but the last acknowledged write was %s %q at index %d: lost",
					id, key, have, last.Kind, last.Value, last.Index))
			}
		}
	}
	return out
}

// describeOps renders ops, one a line, for failure messages.
func describeOps(ops []Op) string {
	var b strings.Builder
	for _, o := range ops {
		fmt.Fprintf(&b, "%v-%v %s %s=%q\n", o.Call, o.Return, o.Kind, o.Key, o.Value)
	}
	return b.String()
}

package core

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"

	"github.com/raftlab/raftlab/storage"
)

// TestAppendJSONMatchesMarshal holds AppendJSON to json.Marshal's bytes:
// every sample event, then events with random payloads, one kind or two at
// a time, random strings included (escapes, non-ASCII, invalid UTF-8).
func TestAppendJSONMatchesMarshal(t *testing.T) {
	check := func(e Event) {
		t.Helper()
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[6:], want) || string(got[:6]) != "prefix" {
			t.Fatalf("AppendJSON:\n got %s\nwant prefix%s", got, want)
		}
	}
	for _, e := range sampleEvents() {
		check(e)
		// The same with only the fields a fast path writes.
		if e.Msg != nil {
			m := *e.Msg
			m.Entries, m.Snapshot = nil, nil
			e.Msg = &m
			check(e)
		}
	}
	rnd := rand.New(rand.NewSource(1))
	payloads := []reflect.Type{
		reflect.TypeFor[*RoleInfo](), reflect.TypeFor[*TimerInfo](), reflect.TypeFor[*VoteInfo](),
		reflect.TypeFor[*MsgInfo](), reflect.TypeFor[*ReadyInfo](), reflect.TypeFor[*CommitInfo](),
		reflect.TypeFor[*CompactInfo](), reflect.TypeFor[*ProgressInfo](), reflect.TypeFor[*DroppedInfo](),
		reflect.TypeFor[*SnapshotInfo](), reflect.TypeFor[*ProposalInfo](), reflect.TypeFor[*ApplyInfo](),
		reflect.TypeFor[*ReadInfo](), reflect.TypeFor[*LogInfo](), reflect.TypeFor[*storage.KeyChange](),
	}
	field := map[reflect.Type]int{}
	et := reflect.TypeFor[Event]()
	for i := range et.NumField() {
		field[et.Field(i).Type] = i
	}
	for i := range 20000 {
		var e Event
		for _, f := range []string{"V", "Seq", "Time", "Node", "Kind"} {
			v, _ := quick.Value(fieldType(f), rnd)
			reflect.ValueOf(&e).Elem().FieldByName(f).Set(v)
		}
		switch i % 3 {
		case 0:
			e.Kind = Kinds[rnd.Intn(len(Kinds))]
		case 1:
			e.Kind = Kind(tricky[rnd.Intn(len(tricky))])
		}
		for range 1 + rnd.Intn(2) {
			pt := payloads[rnd.Intn(len(payloads))]
			var v reflect.Value
			ok := true
			if pt == reflect.TypeFor[*storage.KeyChange]() {
				// quick makes no value of an interface.
				k := &storage.KeyChange{Key: tricky[rnd.Intn(len(tricky))], Synced: rnd.Intn(2) == 0}
				v = reflect.ValueOf(k)
			} else {
				v, ok = quick.Value(pt, rnd)
			}
			if !ok {
				t.Fatalf("no random %v", pt)
			}
			if v.IsNil() {
				v = reflect.New(pt.Elem())
			}
			switch p := v.Interface().(type) {
			case *MsgInfo:
				switch rnd.Intn(4) {
				case 0, 1:
					p.Entries, p.Snapshot = nil, nil
				case 2:
					p.Snapshot = nil
				}
			case *storage.KeyChange:
				p.Value = randomValue(rnd)
				p.Deleted = p.Value == nil && rnd.Intn(2) == 0
			}
			if rnd.Intn(3) == 0 {
				zeroSome(v.Elem(), rnd)
			}
			if rnd.Intn(2) == 0 {
				trickyStrings(v.Elem(), rnd)
			}
			reflect.ValueOf(&e).Elem().Field(field[pt]).Set(v)
		}
		check(e)
	}
}

// randomValue returns a key's value of a random type: each one AppendJSON
// writes itself, and ones it leaves to json.Marshal.
func randomValue(rnd *rand.Rand) any {
	types := []reflect.Type{
		reflect.TypeFor[string](), reflect.TypeFor[storage.EntryValue](), reflect.TypeFor[storage.HardStateValue](),
		reflect.TypeFor[storage.UncommitValue](), reflect.TypeFor[storage.LastIndexValue](),
		reflect.TypeFor[storage.FirstIndexValue](), reflect.TypeFor[storage.ConfStateValue](),
		reflect.TypeFor[*storage.EntryValue](),
	}
	i := rnd.Intn(len(types) + 1)
	if i == len(types) {
		return nil
	}
	v, _ := quick.Value(types[i], rnd)
	if types[i].Kind() == reflect.Struct && rnd.Intn(3) == 0 {
		zeroSome(v, rnd)
	}
	if _, ok := v.Interface().(string); ok && rnd.Intn(2) == 0 {
		return tricky[rnd.Intn(len(tricky))]
	}
	return v.Interface()
}

func fieldType(name string) reflect.Type {
	f, _ := reflect.TypeFor[Event]().FieldByName(name)
	return f.Type
}

// zeroSome zeroes random fields, so omitempty fields are both set and not.
func zeroSome(v reflect.Value, rnd *rand.Rand) {
	for i := range v.NumField() {
		if rnd.Intn(2) == 0 {
			v.Field(i).SetZero()
		}
	}
}

// tricky holds strings json.Marshal escapes, or nearly does.
var tricky = []string{"", "MsgApp", "a<b", "a>b", "a&b", `say "hi"`, `back\slash`, "tab\there", "\x01", "\x7f",
	"héllo", "\u2028", "\u2029", "\xff\xfe", "日本", "/raft/entry/7"}

// trickyStrings sets random string fields to tricky ones.
func trickyStrings(v reflect.Value, rnd *rand.Rand) {
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String && rnd.Intn(2) == 0 {
			f.SetString(tricky[rnd.Intn(len(tricky))])
		}
	}
}

// TestAppendJSONWritesLoadedMembersEvents: the events a loaded member makes
// most, and streams send most, are written without json.Marshal (which
// allocates): sends with entries, storage writes, applies, proposals.
func TestAppendJSONWritesLoadedMembersEvents(t *testing.T) {
	ents := []storage.EntryValue{{Index: 41, Term: 2, Type: "normal", Size: 30, Data: "put k41=v"}, {Index: 42, Term: 2, Type: "normal"}}
	for _, e := range []Event{
		{Kind: KindSend, Msg: &MsgInfo{Type: "MsgApp", From: 1, To: 2, Entries: ents}},
		{Kind: KindKey, Key: &storage.KeyChange{Key: "/raft/entry/41", Value: ents[0], Synced: true}},
		{Kind: KindKey, Key: &storage.KeyChange{Key: "/raft/hard_state", Value: storage.HardStateValue{Term: 2, Commit: 40}}},
		{Kind: KindKey, Key: &storage.KeyChange{Key: "/raft/uncommit_index", Value: storage.UncommitValue{Applied: 40, Last: 42}}},
		{Kind: KindKey, Key: &storage.KeyChange{Key: "/raft/last_index", Value: storage.LastIndexValue{Index: 42}}},
		{Kind: KindKey, Key: &storage.KeyChange{Key: "/raft/first_index", Value: storage.FirstIndexValue{Index: 1}}},
		{Kind: KindKey, Key: &storage.KeyChange{Key: "/kv/k41", Value: "v"}},
		{Kind: KindKey, Key: &storage.KeyChange{Key: "/raft/entry/3", Deleted: true}},
		{Kind: KindApply, Apply: &ApplyInfo{From: 41, To: 42, Entries: ents}},
		{Kind: KindProposal, Proposal: &ProposalInfo{Phase: "proposed", ReqID: 9, Command: "put k41=v"}},
		{Kind: KindRead, Read: &ReadInfo{Phase: "done", ReqID: 10, Key: "k41", Found: true, Value: "v"}},
		{Kind: KindLog, Log: &LogInfo{Level: "info", Text: "became leader"}},
	} {
		buf := make([]byte, 0, 1024)
		if allocs := testing.AllocsPerRun(10, func() { buf, _ = e.AppendJSON(buf[:0]) }); allocs != 0 {
			t.Errorf("%s event: AppendJSON allocates %.0f times: it went through json.Marshal", e.Kind, allocs)
		}
	}
}

// BenchmarkEventJSON encodes a member's usual mix of events (a send, a
// delivery, a Ready, a timer and a progress event) with AppendJSON and with
// json.Marshal, side by side.
func BenchmarkEventJSON(b *testing.B) {
	base := Event{V: SchemaVersion, Seq: 812, Time: 1764230400123, Node: 2}
	with := func(k Kind, f func(*Event)) Event { e := base; e.Kind = k; f(&e); return e }
	msg := &MsgInfo{ID: 77, Type: "MsgApp", From: 1, To: 2, Term: 3, LogTerm: 3, Index: 140, Commit: 139, Size: 310}
	mix := []Event{
		with(KindSend, func(e *Event) { e.Msg = msg }),
		with(KindDeliver, func(e *Event) { e.Msg = msg }),
		with(KindReady, func(e *Event) {
			e.Ready = &ReadyInfo{Number: 90, EntriesFrom: 141, EntriesTo: 141, MustSync: true, Synced: true, Messages: 2}
		}),
		with(KindTimer, func(e *Event) { e.Timer = &TimerInfo{Elapsed: 0, Timeout: 14} }),
		with(KindProgress, func(e *Event) {
			e.Progress = &ProgressInfo{Peer: 3, Match: 140, Next: 141, State: "StateReplicate", Inflight: 1, RecentActive: true}
		}),
	}
	benchmarkEncoders(b, mix)
}

// BenchmarkEventJSONStorage does the same for what a loaded member writes
// with each entry: the entry's key, the last index, the hard state and the
// uncommitted range, the state machine's key, and an apply of a dozen
// entries.
func BenchmarkEventJSONStorage(b *testing.B) {
	base := Event{V: SchemaVersion, Seq: 812, Time: 1764230400123, Node: 2, Kind: KindKey}
	key := func(k string, v any) Event {
		e := base
		e.Key = &storage.KeyChange{Key: k, Value: v, Synced: true}
		return e
	}
	ent := storage.EntryValue{Index: 141, Term: 3, Type: "normal", Size: 300, Data: "put k141=v0123456789abcdef…"}
	ents := make([]storage.EntryValue, 12)
	for i := range ents {
		ents[i] = ent
		ents[i].Index += uint64(i)
	}
	apply := base
	apply.Kind, apply.Apply = KindApply, &ApplyInfo{From: 141, To: 152, Entries: ents}
	mix := []Event{
		key("/raft/entry/141", ent),
		key("/raft/last_index", storage.LastIndexValue{Index: 141}),
		key("/raft/hard_state", storage.HardStateValue{Term: 3, Vote: 1, Commit: 140}),
		key("/raft/uncommit_index", storage.UncommitValue{Applied: 139, Last: 141}),
		key("/kv/k141", "v0123456789abcdef"),
		apply,
	}
	benchmarkEncoders(b, mix)
}

// benchmarkEncoders encodes mix in turn with AppendJSON and with
// json.Marshal, as two sub-benchmarks.
func benchmarkEncoders(b *testing.B, mix []Event) {
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for i := range b.N {
			e := &mix[i%len(mix)]
			buf, _ = e.AppendJSON(buf[:0])
		}
	})
	b.Run("marshal", func(b *testing.B) {
		for i := range b.N {
			_, _ = json.Marshal(&mix[i%len(mix)])
		}
	})
}

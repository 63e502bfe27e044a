package core

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"
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
		reflect.TypeFor[*SnapshotInfo](), reflect.TypeFor[*ProposalInfo](),
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
			v, ok := quick.Value(pt, rnd)
			if !ok {
				t.Fatalf("no random %v", pt)
			}
			if v.IsNil() {
				v = reflect.New(pt.Elem())
			}
			if m, ok := v.Interface().(*MsgInfo); ok && rnd.Intn(4) > 0 {
				m.Entries, m.Snapshot = nil, nil
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

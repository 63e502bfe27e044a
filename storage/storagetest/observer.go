package storagetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/storage"
)

// testObserver checks that the observer hears every key a store writes or
// deletes, with its decoded value and whether the batch was synced: a model
// built from Dump and the changes heard must equal a fresh Dump after every
// step.
func testObserver(t *testing.T, f Factory) {
	s, _ := openStore(t, f)
	s.SetDescriber(func(e *pb.Entry) string { return "cmd " + string(e.GetData()) })
	s.SetRestorer(func(data []byte, apply func(*storage.Batch) error) error {
		// A state machine whose snapshot is "k=v,k=v": drop every key,
		// then write the snapshot's, one key per batch (as a large state
		// machine would take many).
		var gone [][]byte
		if err := s.Engine().Scan([]byte(storage.KVPrefix), []byte("/kv0"), func(k, _ []byte) error {
			gone = append(gone, slices.Clone(k))
			return nil
		}); err != nil {
			return err
		}
		for _, k := range gone {
			if err := apply(&storage.Batch{Ops: []storage.Op{{Key: k, Delete: true}}}); err != nil {
				return err
			}
		}
		for kv := range strings.SplitSeq(string(data), ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				if err := apply(&storage.Batch{Ops: []storage.Op{{Key: storage.KVKey(k), Value: []byte(v)}}}); err != nil {
					return err
				}
			}
		}
		return nil
	})

	dump := func() map[string]any {
		t.Helper()
		m := map[string]any{}
		if err := s.Dump(true, func(kc storage.KeyChange) { m[kc.Key] = kc.Value }); err != nil {
			t.Fatalf("Dump: %v", err)
		}
		return m
	}
	model := dump()
	var heard []storage.KeyChange
	s.SetObserver(func(kc storage.KeyChange) { heard = append(heard, kc) })

	// step runs one write and checks what the observer heard: the model
	// after the changes equals the store, every change has the wanted
	// synced flag, and every key in wantKeys was heard.
	step := func(name string, synced syncRule, do func() error, wantKeys ...string) []storage.KeyChange {
		t.Helper()
		heard = nil
		if err := do(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(heard) == 0 {
			t.Fatalf("%s: the observer heard nothing", name)
		}
		for _, kc := range heard {
			if want := synced(kc); kc.Synced != want {
				t.Fatalf("%s: %s reported with Synced %v, want %v", name, kc.Key, kc.Synced, want)
			}
			if kc.Deleted {
				if kc.Value != nil {
					t.Fatalf("%s: delete of %s reported with value %v", name, kc.Key, kc.Value)
				}
				delete(model, kc.Key)
				continue
			}
			if kc.Value == nil {
				t.Fatalf("%s: write of %s reported without a decoded value", name, kc.Key)
			}
			model[kc.Key] = kc.Value
		}
		for _, k := range wantKeys {
			if !slices.ContainsFunc(heard, func(kc storage.KeyChange) bool { return kc.Key == k }) {
				t.Fatalf("%s: %s not heard in %v", name, k, keysOf(heard))
			}
		}
		if got := dump(); !reflect.DeepEqual(got, model) {
			t.Fatalf("%s: the changes heard do not add up to the store:\nheard %+v\nmodel %+v\nstore %+v", name, heard, model, got)
		}
		return heard
	}

	got := step("append", always(false), func() error { return s.Append(ents(1, 12, 1)) },
		"/raft/entry/1", "/raft/entry/12", storage.KeyLastIndex, storage.KeyUncommitIndex)
	for _, kc := range got {
		if kc.Key == "/raft/entry/12" {
			want := storage.EntryValue{Index: 12, Term: 1, Type: "normal", Size: len("data-12-1"), Data: "cmd data-12-1"}
			if kc.Value != want {
				t.Fatalf("entry 12 reported as %#v, want %#v", kc.Value, want)
			}
		}
		if kc.Key == storage.KeyLastIndex && kc.Value != (storage.LastIndexValue{Index: 12}) {
			t.Fatalf("last index reported as %#v", kc.Value)
		}
		if strings.ContainsAny(kc.Key, "\x00\x01") {
			t.Fatalf("key %q not rendered for people", kc.Key)
		}
	}

	got = step("hard state", always(true), func() error { return s.SetHardState(hardState(2, 3, 8)) }, storage.KeyHardState)
	if got[0].Value != (storage.HardStateValue{Term: 2, Vote: 3, Commit: 8}) {
		t.Fatalf("hard state reported as %#v", got[0].Value)
	}

	got = step("truncation", always(false), func() error { return s.Append(ents(10, 10, 2)) },
		"/raft/entry/10", "/raft/entry/11", "/raft/entry/12", storage.KeyLastIndex)
	for _, kc := range got {
		if (kc.Key == "/raft/entry/11" || kc.Key == "/raft/entry/12") && !kc.Deleted {
			t.Fatalf("truncated %s reported as %+v, want a delete", kc.Key, kc)
		}
	}

	step("snapshot", always(true), func() error {
		_, err := s.CreateSnapshot(6, &pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("a=1,b=2"))
		return err
	}, storage.KeySnapshot, storage.KeyConfState, storage.KeyUncommitIndex)

	step("compact", always(false), func() error { return s.Compact(4) }, "/raft/entry/1", "/raft/entry/4", storage.KeyFirstIndex)

	var kv storage.Batch
	kv.Put(storage.KVKey("a"), []byte("1"))
	kv.Put(storage.KVKey("b"), []byte("2"))
	got = step("applied", always(false), func() error {
		return s.SaveApplied(&kv, 8, &pb.ConfState{Voters: []uint64{1, 2, 3, 4}})
	}, "/kv/a", "/kv/b", storage.KeyUncommitIndex, storage.KeyConfState)
	for _, kc := range got {
		if kc.Key == "/kv/a" && kc.Value != "1" {
			t.Fatalf("state machine key reported as %#v, want the string \"1\"", kc.Value)
		}
	}

	// The snapshot's batch is synced; the state machine is restored after
	// it, in unsynced batches ending with the applied index (a crash in
	// between restores again from the durable snapshot).
	restored := func(kc storage.KeyChange) bool {
		return !strings.HasPrefix(kc.Key, storage.KVPrefix) && !(kc.Key == storage.KeyUncommitIndex && !kc.Synced)
	}
	step("save with a snapshot", restored, func() error {
		return s.Save(hardState(3, 0, 20), ents(21, 22, 3), snapshot(20, 3, []uint64{1, 2}, "c=3"), false)
	}, storage.KeySnapshot, storage.KeyFirstIndex, storage.KeyLastIndex, storage.KeyHardState, "/raft/entry/21", "/raft/entry/5", "/kv/a", "/kv/c")

	step("save", always(false), func() error { return s.Save(hardState(3, 0, 21), ents(23, 23, 3), nil, false) }, "/raft/entry/23", storage.KeyHardState)

	// A refused write is not heard.
	heard = nil
	if err := s.SetHardState(hardState(1, 0, 0)); err == nil {
		t.Fatal("a term going back was accepted")
	}
	if len(heard) != 0 {
		t.Fatalf("the observer heard a refused write: %+v", heard)
	}
	// nil stops the observer.
	s.SetObserver(nil)
	if err := s.Append(ents(24, 24, 3)); err != nil {
		t.Fatal(err)
	}
	if len(heard) != 0 {
		t.Fatalf("the observer heard a write after SetObserver(nil): %+v", heard)
	}
}

func keysOf(kcs []storage.KeyChange) []string {
	var out []string
	for _, kc := range kcs {
		s := kc.Key
		if kc.Deleted {
			s = "-" + s
		}
		out = append(out, fmt.Sprint(s))
	}
	return out
}

// syncRule says whether a key change must have been reported synced.
type syncRule func(storage.KeyChange) bool

func always(synced bool) syncRule { return func(storage.KeyChange) bool { return synced } }

package core

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"testing"

	"github.com/raftlab/raftlab/storage"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sampleEvents holds one event of every kind with every field set, so the
// golden file pins the whole schema: a renamed tag, a removed field or a new
// kind changes it, and the change must be made on purpose (-update) and
// mirrored in ui/model/events.js.
func sampleEvents() []Event {
	cs := storage.ConfStateValue{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}, VotersOutgoing: []uint64{1, 2}, LearnersNext: []uint64{5}, AutoLeave: true}
	ent := storage.EntryValue{Index: 7, Term: 2, Type: "normal", Size: 9, Data: "put x=1"}
	snap := storage.SnapshotValue{Index: 5, Term: 2, ConfState: cs, Size: 42}
	hs := storage.HardStateValue{Term: 3, Vote: 2, Commit: 6}
	base := func(kind Kind) Event { return Event{V: SchemaVersion, Seq: 1, Time: 1000, Node: 2, Kind: kind} }
	with := func(kind Kind, f func(*Event)) Event { e := base(kind); f(&e); return e }
	msg := &MsgInfo{ID: 11, Type: "MsgApp", From: 1, To: 2, Term: 3, LogTerm: 2, Index: 6, Commit: 5, Vote: 1, Reject: true, RejectHint: 4,
		Entries: []storage.EntryValue{ent}, Snapshot: &snap, Size: 120, Reason: "partition", DeliverAt: 1030}
	return []Event{
		with(KindStart, func(e *Event) {
			e.Start = &StartInfo{Restart: true, Term: 3, Vote: 2, Commit: 6, Applied: 5, FirstIndex: 2, LastIndex: 7, ConfState: cs, ElectionTicks: 10, HeartbeatTicks: 1}
		}),
		with(KindCrash, func(e *Event) { e.Lost = []string{"/raft/entry/7", "/raft/last_index"} }),
		with(KindStop, func(e *Event) { e.Error = "removed from the cluster" }),
		with(KindRole, func(e *Event) { e.Role = &RoleInfo{Role: "leader", Term: 3, Lead: 2} }),
		with(KindTimer, func(e *Event) { e.Timer = &TimerInfo{Elapsed: 3, Timeout: 14} }),
		with(KindVote, func(e *Event) { e.Vote = &VoteInfo{Decision: "granted", Candidate: 1, Voter: 2, Term: 3, Pre: true} }),
		with(KindSend, func(e *Event) { e.Msg = msg }),
		with(KindDeliver, func(e *Event) { e.Msg = msg }),
		with(KindDrop, func(e *Event) { e.Msg = msg }),
		with(KindReady, func(e *Event) {
			e.Ready = &ReadyInfo{Number: 4, EntriesFrom: 6, EntriesTo: 7, HardState: &hs, Snapshot: 5, MustSync: true, Synced: true, Messages: 4, SentBeforePersist: true, CommittedFrom: 5, CommittedTo: 6, ReadStates: 1}
		}),
		with(KindKey, func(e *Event) { e.Key = &storage.KeyChange{Key: "/raft/hard_state", Value: hs, Synced: true} }),
		with(KindCommit, func(e *Event) { e.Commit = &CommitInfo{From: 5, To: 6} }),
		with(KindApply, func(e *Event) { e.Apply = &ApplyInfo{From: 6, To: 7, Entries: []storage.EntryValue{ent}} }),
		with(KindSnapshot, func(e *Event) {
			e.Snapshot = &SnapshotInfo{Phase: "reported", Index: 5, Term: 2, Peer: 3, Size: 42, ConfState: cs, Failed: true}
		}),
		with(KindCompact, func(e *Event) { e.Compact = &CompactInfo{Index: 4} }),
		with(KindConfChange, func(e *Event) {
			e.ConfChange = &ConfChangeInfo{Phase: "applied", Changes: "v4", ReqID: 9, Index: 8, ConfState: &cs, Reason: "why"}
		}),
		with(KindTransfer, func(e *Event) { e.Transfer = &TransferInfo{Phase: "timeoutNow", From: 1, To: 3} }),
		with(KindRead, func(e *Event) {
			e.Read = &ReadInfo{Phase: "served", ReqID: 12, Key: "x", Index: 6, Found: true, Value: "1", Error: "none"}
		}),
		with(KindProposal, func(e *Event) {
			e.Proposal = &ProposalInfo{Phase: "applied", ReqID: 13, Command: "put x=1", Index: 7, Error: "none"}
		}),
		with(KindProgress, func(e *Event) {
			e.Progress = &ProgressInfo{Peer: 3, Match: 6, Next: 8, State: "replicate", Inflight: 1, RecentActive: true, Paused: true, PendingSnapshot: 5, Learner: true}
		}),
		with(KindNetwork, func(e *Event) {
			e.Node = 0
			e.Network = &NetworkInfo{Groups: [][]uint64{{1, 2}, {3}}, Cuts: [][2]uint64{{1, 3}}, LatencyMs: 20, JitterMs: 10, LossRatio: 0.25, DiskMs: 2, Down: []uint64{3}, Membership: []uint64{1, 2, 3}}
		}),
		with(KindLog, func(e *Event) { e.Log = &LogInfo{Level: "info", Text: "2 became leader at term 3"} }),
		with(KindDropped, func(e *Event) { e.Dropped = &DroppedInfo{Count: 17} }),
	}
}

func TestEventSchemaGolden(t *testing.T) {
	events := sampleEvents()
	var kinds []Kind
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Equal(kinds, Kinds) {
		t.Fatalf("sample events cover %v, the schema has %v: add a sample for every kind", kinds, Kinds)
	}
	got, err := json.MarshalIndent(events, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const path = "testdata/events.golden.json"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./core -run TestEventSchemaGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the event schema changed; if on purpose, bump SchemaVersion when a field changed meaning, update ui/model/events.js, and rerun with -update.\ngot:\n%s", got)
	}
}

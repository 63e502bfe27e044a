package sim

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/raftlab/raftlab/core"
	"github.com/raftlab/raftlab/storage"
)

// TestScenarios runs the transcripts in core/testdata: each is a behaviour a
// student can watch (first_election.txt, split_vote.txt, ...), driven
// through the simulator with the real raft. Regenerate the expected output
// after a deliberate change with
//
//	go test ./core/sim -run TestScenarios -rewrite
//
// and read the diff: it is the change in behaviour.
//
// Commands: cluster (nodes= seed= latency= jitter= election=
// snapshot-entries= catch-up= disk=); run ms=; await leader | leader=N |
// applied=N [node=N] [max=]; crash N; restart N; partition 1 2 | 3;
// heal; cut A B; uncut A B; network loss= latency= jitter= disk=;
// put key= value= [node=]; delete key= [node=]; read key= [node=];
// snapshot N; campaign N; add-voter N; add-learner N; promote N; remove N;
// conf-change v4 v5 (raft's notation; alone: leave a joint configuration);
// transfer N; status; progress; log; kv N; storage N. Every command that
// lets time pass or acts prints the events since the last print: show=
// picks them (see parseShow), only=1,2 keeps those of some members.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("../testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			s := &scenario{}
			datadriven.RunTest(t, f, s.handle)
		})
	}
}

// scenario holds the cluster of one transcript and what was printed of it.
type scenario struct {
	c *Cluster
	// pending holds the events not yet printed.
	pending []core.Event
}

func (s *scenario) handle(t *testing.T, d *datadriven.TestData) string {
	if d.Cmd != "cluster" && s.c == nil {
		t.Fatalf("%s: start with a cluster command", d.Pos)
	}
	args := map[string]string{}
	var pos []string
	for _, a := range d.CmdArgs {
		if len(a.Vals) == 0 {
			pos = append(pos, a.Key)
		} else {
			args[a.Key] = strings.Join(a.Vals, ",")
		}
	}
	num := func(key string, def int64) int64 {
		v, ok := args[key]
		if !ok {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s: %s=%q: %v", d.Pos, key, v, err)
		}
		return n
	}
	id := func(i int) uint64 {
		if i >= len(pos) {
			t.Fatalf("%s: %s needs a member id", d.Pos, d.Cmd)
		}
		n, err := strconv.ParseUint(pos[i], 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		return n
	}
	show := func() showSet {
		sh := parseShow(t, d, args["show"])
		if v, ok := args["only"]; ok {
			for _, f := range strings.Split(v, ",") {
				n, err := strconv.ParseUint(f, 10, 64)
				if err != nil {
					t.Fatalf("%s: only=%q: %v", d.Pos, v, err)
				}
				sh.nodes = append(sh.nodes, n)
			}
		}
		return sh
	}
	do := func(a Action) string {
		if err := s.c.Do(a); err != nil {
			return s.drain(show()) + "error: " + err.Error() + "\n"
		}
		return s.drain(show())
	}
	switch d.Cmd {
	case "cluster":
		cfg := Config{
			Nodes:           int(num("nodes", 3)),
			Seed:            uint64(num("seed", 1)),
			LatencyMs:       num("latency", 0),
			JitterMs:        num("jitter", 0),
			ElectionTicks:   int(num("election", 0)),
			SnapshotEntries: uint64(num("snapshot-entries", 0)),
			CatchUpEntries:  uint64(num("catch-up", 0)),
			DiskMs:          num("disk", 0),
			Events:          true,
		}
		c, err := New(cfg)
		if err != nil {
			return "error: " + err.Error()
		}
		s.c = c
		s.drain(showSet{})
		return fmt.Sprintf("%d members, seed %d\n", cfg.Nodes, cfg.Seed)
	case "run":
		err := s.c.RunUntil(s.c.Now() + num("ms", 1000))
		out := s.drain(show())
		if err != nil {
			out += "halted: " + err.Error() + "\n"
		}
		return out + fmt.Sprintf("now %d ms\n", s.c.Now())
	case "await":
		// await leader | await leader=N | await applied=N [node=N]: run
		// until it holds, in 10 ms steps, at most max ms.
		limit := s.c.Now() + num("max", 20_000)
		for s.c.Now() < limit && !s.holds(pos, args) {
			if err := s.c.RunUntil(s.c.Now() + 10); err != nil {
				return s.drain(show()) + "halted: " + err.Error() + "\n"
			}
		}
		out := s.drain(show())
		if !s.holds(pos, args) {
			return out + fmt.Sprintf("timed out at %d ms\n", s.c.Now())
		}
		return out + fmt.Sprintf("now %d ms\n", s.c.Now())
	case "crash":
		return do(Action{Kind: ActCrash, Node: id(0)})
	case "restart":
		return do(Action{Kind: ActRestart, Node: id(0)})
	case "partition":
		var groups [][]uint64
		var g []uint64
		for _, p := range pos {
			if p == "|" {
				groups, g = append(groups, g), nil
				continue
			}
			n, _ := strconv.ParseUint(p, 10, 64)
			g = append(g, n)
		}
		return do(Action{Kind: ActPartition, Groups: append(groups, g)})
	case "heal":
		return do(Action{Kind: ActHeal})
	case "cut":
		return do(Action{Kind: ActCut, Node: id(0), Peer: id(1)})
	case "uncut":
		return do(Action{Kind: ActUncut, Node: id(0), Peer: id(1)})
	case "network":
		// network loss=0.2 latency=50 jitter=10 disk=5: absent keys keep
		// their setting.
		a := Action{Kind: ActNetwork}
		for key, dst := range map[string]**int64{"latency": &a.LatencyMs, "jitter": &a.JitterMs, "disk": &a.DiskMs} {
			if _, ok := args[key]; ok {
				*dst = new(num(key, 0))
			}
		}
		if v, ok := args["loss"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: loss=%q: %v", d.Pos, v, err)
			}
			a.LossRatio = &f
		}
		return do(a)
	case "put":
		return do(Action{Kind: ActPut, Node: uint64(num("node", 0)), Key: args["key"], Value: args["value"]})
	case "delete":
		return do(Action{Kind: ActDelete, Node: uint64(num("node", 0)), Key: args["key"]})
	case "read":
		return do(Action{Kind: ActRead, Node: uint64(num("node", 0)), Key: args["key"]})
	case "snapshot":
		return do(Action{Kind: ActSnapshot, Node: id(0)})
	case "campaign":
		return do(Action{Kind: ActCampaign, Node: id(0)})
	case "add-voter":
		return do(Action{Kind: ActAddNode, Peer: id(0)})
	case "add-learner":
		return do(Action{Kind: ActAddLearner, Peer: id(0)})
	case "promote":
		return do(Action{Kind: ActPromote, Peer: id(0)})
	case "remove":
		return do(Action{Kind: ActRemove, Peer: id(0)})
	case "conf-change":
		// conf-change v4 v5 | conf-change r1 l1 | conf-change (alone:
		// leave a joint configuration), in raft's notation.
		return do(Action{Kind: ActConfChange, Changes: strings.Join(pos, " ")})
	case "transfer":
		return do(Action{Kind: ActTransfer, Peer: id(0)})
	case "status":
		return s.status()
	case "progress":
		return s.progress()
	case "log":
		return s.logs()
	case "kv":
		return s.kv(id(0))
	case "storage":
		return s.storage(id(0))
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return ""
}

// holds evaluates an await condition.
func (s *scenario) holds(pos []string, args map[string]string) bool {
	if slices.Contains(pos, "leader") && s.c.Leader() == 0 {
		return false
	}
	if v, ok := args["leader"]; ok {
		want, _ := strconv.ParseUint(v, 10, 64)
		if s.c.Leader() != want {
			return false
		}
	}
	if v, ok := args["applied"]; ok {
		want, _ := strconv.ParseUint(v, 10, 64)
		ids := s.c.Members()
		if v, ok := args["node"]; ok {
			only, _ := strconv.ParseUint(v, 10, 64)
			ids = []uint64{only}
		}
		for _, id := range ids {
			if n := s.c.Node(id); n != nil && n.Applied() < want {
				return false
			}
		}
	}
	return true
}

// defaultKinds are the events a transcript shows unless told otherwise:
// the ones a student follows.
var defaultKinds = []core.Kind{core.KindRole, core.KindVote, core.KindCommit, core.KindSnapshot, core.KindCompact,
	core.KindConfChange, core.KindTransfer, core.KindRead, core.KindProposal, core.KindCrash, core.KindStop, core.KindStart}

// showSet selects the events a command prints.
type showSet struct {
	kinds []core.Kind
	// msgTypes, when set, restricts send, deliver and drop events to
	// these message types.
	msgTypes []string
	// nodes, when set, restricts the events to these members.
	nodes []uint64
}

// parseShow reads a show= argument: "" for the default kinds, "none",
// "all", or a comma-separated list of event kinds (role, vote, apply, key,
// send, deliver, drop, ready, timer, progress, network, log, ...) and
// message types (MsgApp, MsgSnap, ...). A list starting with "+" adds to
// the default kinds. A message type alone shows its sends and drops.
func parseShow(t *testing.T, d *datadriven.TestData, s string) showSet {
	switch s {
	case "":
		return showSet{kinds: defaultKinds}
	case "none":
		return showSet{}
	case "all":
		return showSet{kinds: allKinds}
	}
	var out showSet
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		out.kinds, s = slices.Clone(defaultKinds), rest
	}
	var msgKinds bool
	for _, k := range strings.Split(s, ",") {
		switch {
		case strings.HasPrefix(k, "Msg"):
			out.msgTypes = append(out.msgTypes, k)
		case slices.Contains(allKinds, core.Kind(k)):
			out.kinds = append(out.kinds, core.Kind(k))
			msgKinds = msgKinds || k == string(core.KindSend) || k == string(core.KindDeliver) || k == string(core.KindDrop)
		default:
			t.Fatalf("%s: show: unknown event kind or message type %q", d.Pos, k)
		}
	}
	if len(out.msgTypes) > 0 && !msgKinds {
		out.kinds = append(out.kinds, core.KindSend, core.KindDrop)
	}
	return out
}

// allKinds are every event kind, in the order events.go lists them.
var allKinds = []core.Kind{core.KindStart, core.KindCrash, core.KindStop, core.KindRole, core.KindTimer, core.KindVote,
	core.KindSend, core.KindDeliver, core.KindDrop, core.KindReady, core.KindKey, core.KindCommit, core.KindApply,
	core.KindSnapshot, core.KindCompact, core.KindConfChange, core.KindTransfer, core.KindRead, core.KindProposal,
	core.KindProgress, core.KindNetwork, core.KindLog, core.KindDropped}

func (sh showSet) match(e core.Event) bool {
	if !slices.Contains(sh.kinds, e.Kind) {
		return false
	}
	if len(sh.nodes) > 0 && !slices.Contains(sh.nodes, e.Node) {
		return false
	}
	if e.Msg != nil && len(sh.msgTypes) > 0 {
		return slices.Contains(sh.msgTypes, e.Msg.Type)
	}
	return true
}

// drain prints the events since the last print that show selects.
func (s *scenario) drain(show showSet) string {
	var b strings.Builder
	for _, e := range s.c.TakeEvents(0) {
		if show.match(e) {
			if line := describe(e); line != "" {
				fmt.Fprintf(&b, "%6d ms  n%d  %s\n", e.Time, e.Node, line)
			}
		}
	}
	return b.String()
}

// describe renders an event in one deterministic line.
func describe(e core.Event) string {
	switch e.Kind {
	case core.KindStart:
		if e.Start.Restart {
			return fmt.Sprintf("restarted: term %d, commit %d, applied %d, log [%d, %d]", e.Start.Term, e.Start.Commit, e.Start.Applied, e.Start.FirstIndex, e.Start.LastIndex)
		}
		return "" // a fresh start says nothing new
	case core.KindCrash:
		return fmt.Sprintf("crashed, %d unsynced writes lost", len(e.Lost))
	case core.KindStop:
		return "stopped: " + e.Error
	case core.KindRole:
		return fmt.Sprintf("%s in term %d (leader %d)", e.Role.Role, e.Role.Term, e.Role.Lead)
	case core.KindVote:
		v := e.Vote
		pre := ""
		if v.Pre {
			pre = "pre-"
		}
		if v.Decision == "requested" {
			return fmt.Sprintf("asks n%d for a %svote in term %d", v.Voter, pre, v.Term)
		}
		return fmt.Sprintf("%svote for n%d in term %d %s by n%d", pre, v.Candidate, v.Term, v.Decision, v.Voter)
	case core.KindCommit:
		return fmt.Sprintf("commit %d -> %d", e.Commit.From, e.Commit.To)
	case core.KindSnapshot:
		sn := e.Snapshot
		peer := ""
		if sn.Peer != 0 {
			peer = fmt.Sprintf(" peer n%d", sn.Peer)
		}
		return fmt.Sprintf("snapshot %s at index %d term %d%s", sn.Phase, sn.Index, sn.Term, peer)
	case core.KindCompact:
		return fmt.Sprintf("log compacted through %d", e.Compact.Index)
	case core.KindConfChange:
		cc := e.ConfChange
		s := fmt.Sprintf("conf change %s %q", cc.Phase, cc.Changes)
		if cc.ConfState != nil {
			s += fmt.Sprintf(" -> voters %v learners %v outgoing %v", cc.ConfState.Voters, cc.ConfState.Learners, cc.ConfState.VotersOutgoing)
			if cc.ConfState.AutoLeave {
				s += " auto-leave"
			}
		}
		if cc.Reason != "" {
			s += ": " + cc.Reason
		}
		return s
	case core.KindTransfer:
		return fmt.Sprintf("leadership transfer %s: n%d -> n%d", e.Transfer.Phase, e.Transfer.From, e.Transfer.To)
	case core.KindRead:
		r := e.Read
		switch r.Phase {
		case "served":
			if !r.Found {
				return fmt.Sprintf("read %s at index %d: not found", r.Key, r.Index)
			}
			return fmt.Sprintf("read %s at index %d: %q", r.Key, r.Index, r.Value)
		case "failed":
			return fmt.Sprintf("read %s failed: %s", r.Key, r.Error)
		}
		if r.Index == 0 {
			return fmt.Sprintf("read %s %s", r.Key, r.Phase)
		}
		return fmt.Sprintf("read %s %s (index %d)", r.Key, r.Phase, r.Index)
	case core.KindProposal:
		p := e.Proposal
		if p.Phase == "failed" {
			return fmt.Sprintf("%s failed: %s", p.Command, p.Error)
		}
		if p.Index == 0 {
			return fmt.Sprintf("%s %s", p.Command, p.Phase)
		}
		return fmt.Sprintf("%s %s (index %d)", p.Command, p.Phase, p.Index)
	case core.KindSend, core.KindDeliver, core.KindDrop:
		s := fmt.Sprintf("%s %s", e.Kind, describeMsg(e.Msg))
		if e.Msg.Reason != "" {
			s += " (" + e.Msg.Reason + ")"
		}
		return s
	case core.KindApply:
		var ents []string
		for _, v := range e.Apply.Entries {
			ents = append(ents, describeEntry(v))
		}
		return fmt.Sprintf("applied %s", strings.Join(ents, ", "))
	case core.KindNetwork:
		return fmt.Sprintf("network: groups %v cuts %v down %v loss %v", e.Network.Groups, e.Network.Cuts, e.Network.Down, e.Network.LossRatio)
	case core.KindTimer:
		return fmt.Sprintf("election timer %d/%d ticks", e.Timer.Elapsed, e.Timer.Timeout)
	case core.KindReady:
		return describeReady(e.Ready)
	case core.KindKey:
		if e.Key.Deleted {
			return fmt.Sprintf("key %s deleted", e.Key.Key)
		}
		sync := ""
		if e.Key.Synced {
			sync = " (synced)"
		}
		return fmt.Sprintf("key %s = %s%s", e.Key.Key, jsonValue(e.Key.Value), sync)
	case core.KindProgress:
		p := e.Progress
		s := fmt.Sprintf("progress of n%d: match %d next %d %s", p.Peer, p.Match, p.Next, p.State)
		if p.PendingSnapshot != 0 {
			s += fmt.Sprintf(" (pending snapshot %d)", p.PendingSnapshot)
		}
		if !p.RecentActive {
			s += " inactive"
		}
		if p.Learner {
			s += " learner"
		}
		return s
	case core.KindLog:
		return fmt.Sprintf("raft %s: %s", e.Log.Level, e.Log.Text)
	case core.KindDropped:
		return fmt.Sprintf("%d events dropped", e.Dropped.Count)
	}
	return string(e.Kind)
}

// describeEntry renders an entry as index/term and its data.
func describeEntry(v storage.EntryValue) string {
	s := fmt.Sprintf("%d/%d", v.Index, v.Term)
	if v.Data != "" {
		s += " " + v.Data
	} else if v.Type == "normal" {
		s += " (empty)"
	}
	return s
}

// describeMsg renders a message with the fields its type uses.
func describeMsg(m *core.MsgInfo) string {
	s := fmt.Sprintf("%s n%d->n%d term %d", m.Type, m.From, m.To, m.Term)
	switch m.Type {
	case "MsgApp":
		var ents []string
		for _, v := range m.Entries {
			ents = append(ents, fmt.Sprintf("%d/%d", v.Index, v.Term))
		}
		s += fmt.Sprintf(" after %d/%d entries [%s] commit %d", m.Index, m.LogTerm, strings.Join(ents, " "), m.Commit)
	case "MsgAppResp":
		if m.Reject {
			s += fmt.Sprintf(" rejects index %d (hint %d)", m.Index, m.RejectHint)
		} else {
			s += fmt.Sprintf(" index %d", m.Index)
		}
	case "MsgHeartbeat":
		s += fmt.Sprintf(" commit %d", m.Commit)
	case "MsgVote", "MsgPreVote":
		s += fmt.Sprintf(" last log %d/%d", m.Index, m.LogTerm)
	case "MsgVoteResp", "MsgPreVoteResp":
		if m.Reject {
			s += " rejected"
		} else {
			s += " granted"
		}
	case "MsgSnap":
		if m.Snapshot != nil {
			s += fmt.Sprintf(" snapshot %d/%d voters %v learners %v", m.Snapshot.Index, m.Snapshot.Term, m.Snapshot.ConfState.Voters, m.Snapshot.ConfState.Learners)
		}
	case "MsgReadIndexResp":
		s += fmt.Sprintf(" index %d", m.Index)
	}
	return s
}

// describeReady renders what one Ready asked a member to do, in the order
// it does it.
func describeReady(r *core.ReadyInfo) string {
	var parts []string
	if r.Snapshot != 0 {
		parts = append(parts, fmt.Sprintf("snapshot %d", r.Snapshot))
	}
	if r.EntriesTo != 0 {
		parts = append(parts, fmt.Sprintf("entries %d..%d", r.EntriesFrom, r.EntriesTo))
	}
	if r.HardState != nil {
		parts = append(parts, fmt.Sprintf("hard state %+v", *r.HardState))
	}
	if r.Synced {
		parts = append(parts, "sync")
	}
	if r.Messages > 0 {
		parts = append(parts, fmt.Sprintf("send %d", r.Messages))
	}
	if r.CommittedTo != 0 {
		parts = append(parts, fmt.Sprintf("apply %d..%d", r.CommittedFrom, r.CommittedTo))
	}
	if r.ReadStates > 0 {
		parts = append(parts, fmt.Sprintf("%d read states", r.ReadStates))
	}
	return fmt.Sprintf("ready #%d: %s", r.Number, strings.Join(parts, ", "))
}

func (s *scenario) status() string {
	var b strings.Builder
	fmt.Fprintf(&b, "id  role          term lead commit applied log      snap\n")
	for _, id := range s.c.Members() {
		n := s.c.Node(id)
		if n == nil {
			fmt.Fprintf(&b, "%-3d down\n", id)
			continue
		}
		st := n.Status()
		fmt.Fprintf(&b, "%-3d %-13s %-4d %-4d %-6d %-7d [%d,%d] %d\n", id, st.Role, st.Term, st.Lead, st.Commit, st.Applied, st.FirstIndex, st.LastIndex, st.SnapshotIndex)
	}
	return b.String()
}

// progress prints the leader's view of each follower (§5.3: nextIndex and
// matchIndex; raft's probe, replicate and snapshot states).
func (s *scenario) progress() string {
	lead := s.c.Leader()
	if lead == 0 {
		return "no leader\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "leader n%d\n", lead)
	for _, p := range s.c.Node(lead).Status().Progress {
		line := describe(core.Event{Kind: core.KindProgress, Progress: &p})
		fmt.Fprintf(&b, "%s\n", strings.TrimPrefix(line, "progress of "))
	}
	return b.String()
}

// logs prints every running member's log as index/term cells, with the
// commit index marked.
func (s *scenario) logs() string {
	var b strings.Builder
	for _, id := range s.c.Members() {
		n := s.c.Node(id)
		if n == nil {
			fmt.Fprintf(&b, "n%d: down\n", id)
			continue
		}
		st := n.Status()
		fmt.Fprintf(&b, "n%d:", id)
		if st.FirstIndex > 1 {
			fmt.Fprintf(&b, " [snap %d]", st.FirstIndex-1)
		}
		if st.LastIndex >= st.FirstIndex {
			ents, err := n.Store().Entries(st.FirstIndex, st.LastIndex+1, 1<<62)
			if err != nil {
				fmt.Fprintf(&b, " error: %v", err)
			}
			for _, e := range ents {
				mark := ""
				if e.GetIndex() == st.Commit {
					mark = "|"
				}
				fmt.Fprintf(&b, " %d/%d%s", e.GetIndex(), e.GetTerm(), mark)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (s *scenario) kv(id uint64) string {
	n := s.c.Node(id)
	if n == nil {
		return fmt.Sprintf("n%d is down\n", id)
	}
	var b strings.Builder
	prefix := []byte(storage.KVPrefix)
	end := append(slices.Clone(prefix[:len(prefix)-1]), prefix[len(prefix)-1]+1)
	_ = n.Store().Engine().Scan(prefix, end, func(k, v []byte) error {
		fmt.Fprintf(&b, "%s = %s\n", k[len(prefix):], v)
		return nil
	})
	if b.Len() == 0 {
		return "empty\n"
	}
	return b.String()
}

func (s *scenario) storage(id uint64) string {
	n := s.c.Node(id)
	if n == nil {
		return fmt.Sprintf("n%d is down\n", id)
	}
	var b strings.Builder
	_ = n.Store().Dump(false, func(c storage.KeyChange) {
		fmt.Fprintf(&b, "%s = %s\n", c.Key, jsonValue(c.Value))
	})
	return b.String()
}

// jsonValue renders a decoded storage value as compact JSON, the form the
// event stream carries it in.
func jsonValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

package ui_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// The simulator view, driven like a student would: crash the leader,
// isolate a member, write through the client, share the run as a URL.

const leaderJS = `(() => { const l = document.querySelector('g.node[data-role="leader"]'); return l ? Number(l.dataset.nodeId) : 0; })()`

func TestBrowserCrashedLeaderIsReplaced(t *testing.T) {
	ctx := browser(t, 1400, 1000)
	openSim(t, ctx, serveUI(t))
	eval[any](t, ctx, `raftlabApp.setSpeed(3)`)
	waitFor(t, ctx, "a leader", leaderJS+` > 0`, 30*time.Second)
	old := eval[float64](t, ctx, leaderJS)
	eval[any](t, ctx, `raftlabApp.act({kind: 'crash', node: `+ftoa(old)+`})`)
	waitFor(t, ctx, "the old leader drawn down", `document.querySelector('g.node[data-node-id="`+ftoa(old)+`"]').dataset.role === 'down'`, 10*time.Second)
	waitFor(t, ctx, "a new leader", leaderJS+` > 0 && `+leaderJS+` !== `+ftoa(old), 30*time.Second)
	screenshot(t, ctx, "crash.png")
}

func TestBrowserPartitionIsolatesAMember(t *testing.T) {
	ctx := browser(t, 1400, 1000)
	openSim(t, ctx, serveUI(t))
	eval[any](t, ctx, `raftlabApp.setSpeed(3)`)
	waitFor(t, ctx, "a leader", leaderJS+` > 0`, 30*time.Second)
	lead := ftoa(eval[float64](t, ctx, leaderJS))
	eval[any](t, ctx, `raftlabApp.act({kind: 'partition', groups: [[`+lead+`]]})`)
	// Every link of the isolated member is drawn cut, and the others elect
	// a leader of their own in a higher term (§5.2).
	waitFor(t, ctx, "the isolated member's links cut", `[...document.querySelectorAll('#links line.cut')].length === 4`, 10*time.Second)
	waitFor(t, ctx, "a leader on the majority side", leaderJS+` > 0 && `+leaderJS+` !== `+lead, 30*time.Second)
	screenshot(t, ctx, "partition.png")
	eval[any](t, ctx, `raftlabApp.act({kind: 'heal'})`)
	waitFor(t, ctx, "healed links", `document.querySelectorAll('#links line.cut').length === 0`, 10*time.Second)
}

func TestBrowserClientWriteReachesEveryLog(t *testing.T) {
	ctx := browser(t, 1400, 1000)
	openSim(t, ctx, serveUI(t))
	eval[any](t, ctx, `raftlabApp.setSpeed(3); raftlabApp.setTab('logs')`)
	waitFor(t, ctx, "a leader", leaderJS+` > 0`, 30*time.Second)
	eval[any](t, ctx, `(() => { document.getElementById('act-key').value = 'course'; document.getElementById('act-value').value = 'raft'; document.querySelector('[data-act="put"]').click(); })()`)
	// The entry appears in every member's log row, committed, and in every
	// state machine.
	waitFor(t, ctx, "the write in every log", `(() => {
		const rows = [...document.querySelectorAll('.log-row')];
		return rows.length === 5 && rows.every((r) => [...r.querySelectorAll('.cell')].some((c) => (c.title || '').includes('put course=raft') && !c.classList.contains('uncommitted')));
	})()`, 30*time.Second)
	waitFor(t, ctx, "the write in every state machine", `Object.values(raftlabApp.state().nodes).every((n) => n.keys['/kv/course'] && n.keys['/kv/course'].value === 'raft')`, 30*time.Second)
	screenshot(t, ctx, "logs.png")
}

// TestBrowserSharedURLReproducesTheRun: a run shared as a URL (seed,
// settings and actions), opened in another tab, replays to the very same
// event trace.
func TestBrowserSharedURLReproducesTheRun(t *testing.T) {
	ctx := browser(t, 1400, 1000)
	url := serveUI(t)
	openSim(t, ctx, url)
	eval[any](t, ctx, `raftlabApp.setSpeed(5)`)
	waitFor(t, ctx, "a leader", leaderJS+` > 0`, 30*time.Second)
	eval[any](t, ctx, `raftlabApp.act({kind: 'put', key: 'a', value: '1'})`)
	eval[any](t, ctx, `raftlabApp.act({kind: 'crash', node: 2})`)
	waitFor(t, ctx, "time to pass", `raftlabApp.simTime > 6000`, 30*time.Second)
	eval[any](t, ctx, `raftlabApp.act({kind: 'restart', node: 2})`)
	waitFor(t, ctx, "more time to pass", `raftlabApp.simTime > 9000`, 30*time.Second)
	eval[any](t, ctx, `raftlabApp.play(false)`)
	shared := eval[string](t, ctx, `raftlabApp.shareURL()`)
	want := eval[string](t, ctx, `(async () => { const st = raftlabApp.sim.status(raftlabApp.h); return st.traceHash + ' ' + st.events; })()`)
	if !strings.Contains(shared, "#run=") {
		t.Fatalf("share URL %q has no run", shared)
	}
	// The state shown at the moment shared must be the same too.
	wantView := eval[string](t, ctx, `JSON.stringify(Object.values(raftlabApp.state().nodes).map((n) => [n.id, n.role, n.term, n.commit, n.applied]))`)

	ctx2 := browser(t, 1400, 1000)
	openSim(t, ctx2, shared)
	got := eval[string](t, ctx2, `(async () => { const st = raftlabApp.sim.status(raftlabApp.h); return st.traceHash + ' ' + st.events; })()`)
	if got != want {
		t.Fatalf("the shared URL replayed to %q, the run was %q", got, want)
	}
	gotView := eval[string](t, ctx2, `JSON.stringify(Object.values(raftlabApp.state().nodes).map((n) => [n.id, n.role, n.term, n.commit, n.applied]))`)
	if gotView != wantView {
		t.Fatalf("the shared URL shows %s, the run showed %s", gotView, wantView)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// TestBrowserPartitionByChoosingGroups: the partition builder puts members
// in groups by clicking them, and the links between groups are cut.
func TestBrowserPartitionByChoosingGroups(t *testing.T) {
	ctx := browser(t, 1400, 1000)
	openSim(t, ctx, serveUI(t))
	eval[any](t, ctx, `raftlabApp.setSpeed(3)`)
	waitFor(t, ctx, "a leader", leaderJS+` > 0`, 30*time.Second)
	eval[any](t, ctx, `document.querySelector('[data-act="groups"]').click()`)
	// n1 and n2 to group B: a 2 | 3 split.
	eval[any](t, ctx, `document.querySelector('#node-menu [data-member="1"]').click(); document.querySelector('#node-menu [data-member="2"]').click(); document.querySelector('[data-act="apply-groups"]').click()`)
	waitFor(t, ctx, "six links cut", `document.querySelectorAll('#links line.cut').length === 6`, 10*time.Second)
	groups := eval[string](t, ctx, `JSON.stringify(raftlabApp.state().network.groups)`)
	if groups != `[[3,4,5],[1,2]]` && groups != `[[1,2],[3,4,5]]` {
		t.Fatalf("groups %s, want n1 n2 apart from n3 n4 n5", groups)
	}
}

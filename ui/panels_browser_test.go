package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The inspector's panels (render/storage.js, ready.js, progress.js) in a
// real browser: the seven keys of the selected member, a row that lights up
// when an election rewrites /raft/hard_state, the keys a crash rolls back,
// the Ready pipeline and the leader's view of its followers.

// panelShot saves a PNG of one element when RAFTLAB_SHOTS names a directory.
func panelShot(t *testing.T, ctx context.Context, sel, name string) {
	t.Helper()
	dir := os.Getenv("RAFTLAB_SHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, name), buf, 0o644)
}

// storageRow is the expression of the selected member's storage row of key.
func storageRow(key string) string {
	return fmt.Sprintf(`document.querySelector('#panel-storage [data-key=%q]')`, key)
}

func TestBrowserPanels(t *testing.T) {
	ctx := browser(t, 1400, 1000)
	openSim(t, ctx, serveUI(t))
	eval[chromedp.Void](t, ctx, `raftlabApp.setSpeed(3)`)
	waitFor(t, ctx, "a leader", `document.querySelector('g.node[data-role="leader"]') !== null`, 30*time.Second)

	// Storage of a follower: every one of the seven keys has its row.
	f := eval[int](t, ctx, `(() => {
		const f = Object.values(raftlabApp.state().nodes).find((n) => n.up && n.role === 'follower');
		raftlabApp.select(f.id);
		raftlabApp.setTab('storage');
		return f.id;
	})()`)
	keys := []string{"/raft/first_index", "/raft/last_index", "/raft/hard_state", "/raft/conf_state", "/raft/entry/{idx}", "/raft/uncommit_index", "/raft/snapshot"}
	var all []string
	for _, k := range keys {
		all = append(all, storageRow(k)+` !== null`)
	}
	waitFor(t, ctx, "the seven raft keys", strings.Join(all, " && "), 5*time.Second)
	if got := eval[string](t, ctx, `document.querySelector('#panel-storage .pnl-title').textContent`); !strings.Contains(got, fmt.Sprintf("n%d", f)) {
		t.Errorf("storage title %q does not name n%d", got, f)
	}
	order := eval[string](t, ctx, `[...document.querySelectorAll('#panel-storage .stg-rows:not(.sm) > [data-key]')].map((e) => e.dataset.key).join(' ')`)
	if order != strings.Join(keys, " ") {
		t.Errorf("raft keys in order %q, want %q", order, strings.Join(keys, " "))
	}

	// A write reaches the member's log and state machine.
	eval[chromedp.Void](t, ctx, `raftlabApp.act({kind: 'put', key: 'x', value: '1'})`)
	waitFor(t, ctx, "/kv/x on the follower", storageRow("/kv/x")+` !== null && `+storageRow("/kv/x")+`.textContent.includes('"1"')`, 5*time.Second)
	waitFor(t, ctx, "entry rows", `document.querySelectorAll('#panel-storage tr[data-key^="/raft/entry/"]').length >= 2`, 5*time.Second)

	// An election (leadership handed to the follower) rewrites its
	// HardState: the row changes and lights up.
	before := eval[string](t, ctx, storageRow("/raft/hard_state")+`.querySelector('.v').textContent`)
	eval[chromedp.Void](t, ctx, fmt.Sprintf(`raftlabApp.act({kind: 'transfer', peer: %d})`, f))
	waitFor(t, ctx, "/raft/hard_state to change", fmt.Sprintf(`(() => { const r = %s; return r.querySelector('.v').textContent !== %q && /chg-[ab]/.test(r.className); })()`, storageRow("/raft/hard_state"), before), 10*time.Second)
	waitFor(t, ctx, fmt.Sprintf("n%d to lead", f), fmt.Sprintf(`raftlabApp.state().nodes[%d].role === 'leader'`, f), 10*time.Second)
	screenshot(t, ctx, "panels-storage.png")
	panelShot(t, ctx, ".inspector", "panels-storage-inspector.png")

	// The Ready pipeline: five steps, the Ready's number.
	eval[chromedp.Void](t, ctx, `raftlabApp.setTab('ready')`)
	waitFor(t, ctx, "the Ready pipeline", `document.querySelectorAll('#panel-ready .rdy-step').length === 5 && /#\d+/.test(document.querySelector('#panel-ready .pnl-title')?.textContent)`, 5*time.Second)
	if n := eval[int](t, ctx, `document.querySelectorAll('#panel-ready .rdy-step.active').length`); n < 1 {
		t.Errorf("no active Ready step")
	}
	panelShot(t, ctx, ".inspector", "panels-ready.png")

	// The leader's view: one row per follower, naming the leader.
	eval[chromedp.Void](t, ctx, `raftlabApp.setTab('progress')`)
	waitFor(t, ctx, "the leader's view", fmt.Sprintf(`document.querySelector('#panel-progress .pnl-title')?.textContent.includes('n%d') && document.querySelectorAll('#panel-progress tbody.pg-follower').length === Object.keys(raftlabApp.state().nodes).length - 1`, f), 5*time.Second)
	panelShot(t, ctx, ".inspector", "panels-progress.png")

	// A crash of the new leader while its applied writes are only in the page
	// cache: the storage panel strikes out what the crash rolled back.
	eval[chromedp.Void](t, ctx, `raftlabApp.setTab('storage')`)
	eval[chromedp.Void](t, ctx, `raftlabApp.act({kind: 'put', key: 'y', value: '2'})`)
	waitFor(t, ctx, "an unsynced write", fmt.Sprintf(`raftlabApp.state().nodes[%d].keys['/kv/y'] !== undefined && raftlabApp.state().nodes[%d].unsynced.length > 0`, f, f), 5*time.Second)
	eval[chromedp.Void](t, ctx, `raftlabApp.play(false)`)
	if n := eval[int](t, ctx, `document.querySelectorAll('#panel-storage [data-disk="cache"]').length`); n < 1 {
		t.Errorf("no write marked as in page cache before the crash")
	}
	eval[chromedp.Void](t, ctx, fmt.Sprintf(`raftlabApp.act({kind: 'crash', node: %d})`, f))
	waitFor(t, ctx, "lost keys", `document.querySelectorAll('#panel-storage [data-disk="lost"]').length > 0 && document.querySelector('#panel-storage .stg-sum')?.dataset.state === 'lost'`, 5*time.Second)
	lost := eval[[]string](t, ctx, fmt.Sprintf(`raftlabApp.state().nodes[%d].lost`, f))
	for _, k := range lost {
		if k == "/raft/entry/{idx}" {
			continue
		}
		if !eval[bool](t, ctx, fmt.Sprintf(`(() => { const r = document.querySelector('#panel-storage [data-key=%q]'); return !r || r.dataset.disk === 'lost'; })()`, k)) {
			t.Errorf("lost key %s not marked lost", k)
		}
	}
	screenshot(t, ctx, "panels-crash.png")
	panelShot(t, ctx, ".inspector", "panels-crash-inspector.png")
}

// TestBrowserPanelsPhone checks the panels fit a phone's width (400 px).
func TestBrowserPanelsPhone(t *testing.T) {
	ctx := browser(t, 500, 800)
	do(t, ctx, chromedp.EmulateViewport(400, 800, chromedp.EmulateScale(2)))
	openSim(t, ctx, serveUI(t))
	eval[chromedp.Void](t, ctx, `raftlabApp.setSpeed(3)`)
	waitFor(t, ctx, "a leader", `document.querySelector('g.node[data-role="leader"]') !== null`, 30*time.Second)
	eval[chromedp.Void](t, ctx, `raftlabApp.act({kind: 'put', key: 'x', value: '1'})`)
	waitFor(t, ctx, "x applied", `Object.values(raftlabApp.state().nodes).some((n) => n.keys['/kv/x'])`, 5*time.Second)
	eval[chromedp.Void](t, ctx, `raftlabApp.play(false)`)
	if os.Getenv("RAFTLAB_SHOTS") != "" {
		// For the pictures only: give the inspector room to show a whole
		// panel (the page's own phone layout keeps it short).
		eval[chromedp.Void](t, ctx, `(() => { const s = document.createElement('style'); s.textContent = '.layout { height: auto !important; } .inspector { max-height: none !important; } .panel { overflow: visible !important; }'; document.head.append(s); })()`)
	}
	for _, tab := range []string{"storage", "ready", "progress"} {
		eval[chromedp.Void](t, ctx, fmt.Sprintf(`raftlabApp.setTab(%q)`, tab))
		waitFor(t, ctx, tab, fmt.Sprintf(`document.querySelector('#panel-%s .pnl-title')?.textContent.length > 0`, tab), 5*time.Second)
		// Nothing wider than the panel: no sideways scrolling on a phone.
		if over := eval[int](t, ctx, fmt.Sprintf(`(() => { const p = document.getElementById('panel-%s'); return p.scrollWidth - p.clientWidth; })()`, tab)); over > 1 {
			t.Errorf("%s panel overflows the phone's width by %d px", tab, over)
		}
		panelShot(t, ctx, "#panel-"+tab, "panels-phone-"+tab+".png")
	}
}

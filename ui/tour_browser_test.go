package ui_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserTour walks the main views a student sees and, with
// RAFTLAB_SHOTS=docs/screenshots, saves the screenshots the docs show:
//
//	RAFTLAB_SHOTS=$PWD/docs/screenshots go test ./ui -run TestBrowserTour
func TestBrowserTour(t *testing.T) {
	ctx := browser(t, 1440, 900)
	url := serveUI(t)
	openSim(t, ctx, url+"?lang=en")
	eval[any](t, ctx, `raftlabApp.newCluster({nodes: 5, seed: 11, tickMs: 100, electionTicks: 10, heartbeatTicks: 1, latencyMs: 50, jitterMs: 20, snapshotEntries: 20, catchUpEntries: 5}); raftlabApp.setSpeed(2); raftlabApp.play(true)`)
	waitFor(t, ctx, "a leader", leaderJS+` > 0`, 30*time.Second)
	eval[any](t, ctx, `(() => { for (const [k, v] of [['x', '1'], ['course', 'raft'], ['y', '2']]) raftlabApp.act({kind: 'put', key: k, value: v}); })()`)
	waitFor(t, ctx, "the writes applied", `Object.values(raftlabApp.state().nodes).every((n) => n.keys['/kv/y'])`, 30*time.Second)
	// Catch the moment messages fly: slow down and play a little.
	eval[any](t, ctx, `raftlabApp.setSpeed(0.1); raftlabApp.act({kind: 'put', key: 'z', value: '3'})`)
	waitFor(t, ctx, "appends in flight", `document.querySelectorAll('g.msg[data-type="MsgApp"]').length >= 2`, 20*time.Second)
	eval[any](t, ctx, `raftlabApp.play(false)`)
	screenshot(t, ctx, "main.png")

	// The storage panel right after a crash: what was only in the page
	// cache is lost.
	lead := eval[float64](t, ctx, leaderJS)
	eval[any](t, ctx, `raftlabApp.setSpeed(1); raftlabApp.play(true); raftlabApp.act({kind: 'put', key: 'lost', value: 'maybe'})`)
	follower := 1.0
	if lead == 1 {
		follower = 2
	}
	eval[any](t, ctx, `raftlabApp.act({kind: 'crash', node: `+ftoa(follower)+`}); raftlabApp.select(`+ftoa(follower)+`); raftlabApp.setTab('storage'); raftlabApp.play(false)`)
	waitFor(t, ctx, "the crashed member's storage", `document.querySelector('[data-key="/raft/hard_state"]') !== null`, 10*time.Second)
	screenshot(t, ctx, "storage-after-crash.png")

	eval[any](t, ctx, `raftlabApp.act({kind: 'restart', node: `+ftoa(follower)+`}); raftlabApp.select(`+ftoa(lead)+`); raftlabApp.setTab('ready'); raftlabApp.play(true)`)
	do(t, ctx)
	waitFor(t, ctx, "a Ready", `document.querySelector('#panel-ready').textContent.length > 100`, 10*time.Second)
	eval[any](t, ctx, `raftlabApp.play(false)`)
	screenshot(t, ctx, "ready.png")
	eval[any](t, ctx, `raftlabApp.setTab('progress')`)
	screenshot(t, ctx, "leaders-view.png")

	// A lesson, in Chinese.
	eval[any](t, ctx, `raftlabApp.setLanguage('zh'); raftlabApp.setTab('logs'); raftlabApp.controls.setMode('lessons')`)
	waitFor(t, ctx, "the lesson list", `document.querySelectorAll('#lesson button').length > 3`, 10*time.Second)
	eval[any](t, ctx, `[...document.querySelectorAll('#lesson button')].find((b) => /first_election|选举/.test(b.dataset.lesson || b.textContent))?.click()`)
	waitFor(t, ctx, "a lesson step", `document.querySelector('#lesson') && !document.querySelector('#lesson').hidden`, 10*time.Second)
	eval[any](t, ctx, `raftlabApp.setSpeed(1)`)
	for i := 0; i < 3; i++ {
		eval[any](t, ctx, `document.querySelector('[data-lesson-nav="next"]')?.click()`)
		do(t, ctx, chromedp.Sleep(300*time.Millisecond))
	}
	waitFor(t, ctx, "the lesson's first election", leaderJS+` > 0`, 30*time.Second)
	screenshot(t, ctx, "lesson-zh.png")
	eval[any](t, ctx, `raftlabApp.setLanguage('en'); raftlabApp.lessons.close(); raftlabApp.controls.setMode('sim')`)
}

// TestBrowserTourPhone: the same page on a phone-sized screen, and the
// projector's large mode.
func TestBrowserTourPhone(t *testing.T) {
	ctx := browser(t, 500, 900)
	openSim(t, ctx, serveUI(t)+"?lang=en")
	eval[any](t, ctx, `raftlabApp.setSpeed(2)`)
	waitFor(t, ctx, "a leader", leaderJS+` > 0`, 30*time.Second)
	screenshot(t, ctx, "phone.png")
	width := eval[float64](t, ctx, `document.documentElement.scrollWidth`)
	if width > 520 {
		t.Errorf("the page is %v px wide on a 500 px screen: it scrolls sideways", width)
	}

	large := browser(t, 1600, 900)
	openSim(t, large, serveUI(t)+"?lang=en")
	eval[any](t, large, `raftlabApp.controls.toggleLarge(); raftlabApp.setSpeed(2)`)
	waitFor(t, large, "a leader", leaderJS+` > 0`, 30*time.Second)
	size := eval[string](t, large, `getComputedStyle(document.body).fontSize`)
	if size != "20px" {
		t.Errorf("large mode font size %s, want 20px", size)
	}
	screenshot(t, large, "large.png")
	eval[any](t, large, `raftlabApp.controls.toggleLarge()`)
}

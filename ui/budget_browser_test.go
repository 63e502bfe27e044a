package ui_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserBudgets measures the UI's budgets in headless Chromium and
// prints them; it asserts nothing about speed (the machines are shared).
// The figures go in the closing note:
//
//   - the simulator's transferred size (brotli when the browser takes it);
//   - from navigation to the first leader shown, with the default settings;
//   - frame time (simulation step + render), p95, 9 members at full speed,
//     the script alone and with the style and layout it causes, on the
//     logs tab (the default) and then on each other tab;
//   - input response: a click on a member's Crash to the member drawn down;
//   - idle: how many times a paused page draws in two seconds.
func TestBrowserBudgets(t *testing.T) {
	ctx := browser(t, 1400, 1000)
	url := serveUI(t)
	openSim(t, ctx, url)
	waitFor(t, ctx, "a leader", `raftlabApp.firstLeaderAt > 0`, 60*time.Second)
	firstLeader := eval[float64](t, ctx, `raftlabApp.firstLeaderAt`)
	ready := eval[float64](t, ctx, `performance.getEntriesByType('navigation')[0].duration`)
	wasm := eval[map[string]float64](t, ctx, `(() => { const e = performance.getEntriesByType('resource').find((r) => r.name.endsWith('core.wasm')); return e ? {transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize} : {}; })()`)
	br, _ := os.Stat("wasm/core.wasm.br")

	// Full speed with nine members.
	eval[chromedp.Void](t, ctx, `raftlabApp.newCluster({nodes: 9, seed: 3, tickMs: 100, electionTicks: 10, heartbeatTicks: 1, latencyMs: 50, jitterMs: 20, snapshotEntries: 20, catchUpEntries: 5}); raftlabApp.setSpeed(10); raftlabApp.play(true); raftlabApp.frameTimes.length = 0; raftlabApp.pullTimes = []; raftlabApp.panelTimes = []`)
	waitFor(t, ctx, "nine members", `document.querySelectorAll('g.node').length === 9`, 10*time.Second)
	// A frame's JavaScript, and the same with the style and layout it
	// leaves to the browser (forced at its end): work moved out of the
	// script into layout must not pass for work saved.
	eval[chromedp.Void](t, ctx, `(() => { const A = raftlabApp; const f = A.frame.bind(A); window.__laidOut = [];
		A.frame = (ts) => { const t0 = performance.now(); f(ts); void document.body.offsetHeight; window.__laidOut?.push(performance.now() - t0); }; })()`)
	do(t, ctx, chromedp.Sleep(2*time.Second))
	const puts = `(() => { for (let i = 0; i < 20; i++) raftlabApp.act({kind: 'put', key: 'k' + i, value: 'v'}); })()`
	eval[chromedp.Void](t, ctx, `window.__laidOut = []; `+puts)
	do(t, ctx, chromedp.Sleep(4*time.Second))
	frames := timings(t, ctx, "raftlabApp.frameTimes", false)
	laidOut := timings(t, ctx, "window.__laidOut", false)
	// The simulation's share of a frame: pulling the next events from wasm.
	pulls := timings(t, ctx, "raftlabApp.pullTimes", true)
	// And the inspector panel's (the selected tab, drawn when events came).
	panels := timings(t, ctx, "raftlabApp.panelTimes", false)

	// The other tabs of the inspector, each for 3 s of the same play: the
	// frame with style and layout, p50/p95 (the logs tab is the one above),
	// with twenty more writes to replicate.
	var tabs []string
	for _, tab := range []string{"storage", "ready", "progress"} {
		eval[chromedp.Void](t, ctx, `raftlabApp.setTab('`+tab+`'); window.__laidOut = []; raftlabApp.panelTimes = []; `+puts)
		do(t, ctx, chromedp.Sleep(3*time.Second))
		f := timings(t, ctx, "window.__laidOut", false)
		p := timings(t, ctx, "raftlabApp.panelTimes", false)
		tabs = append(tabs, fmt.Sprintf("%s p50 %.2f ms, p95 %.2f ms (panel p95 %.2f ms)", tab, f["p50"], f["p95"], p["p95"]))
	}
	eval[chromedp.Void](t, ctx, `raftlabApp.setTab('logs'); window.__laidOut = null; raftlabApp.panelTimes = null`)

	// Input response: Crash on a member, until it is drawn down.
	eval[chromedp.Void](t, ctx, `raftlabApp.play(false); window.__crashAt = 0; window.__downAt = 0;
		new MutationObserver(() => { if (!window.__downAt && document.querySelector('g.node[data-node-id="2"]')?.getAttribute('data-role') === 'down') window.__downAt = performance.now(); })
			.observe(document.getElementById('nodes'), {subtree: true, attributes: true});
		raftlabApp.select(2);`)
	do(t, ctx, chromedp.Sleep(200*time.Millisecond))
	eval[chromedp.Void](t, ctx, `window.__crashAt = performance.now(); document.querySelector('[data-act="crash-toggle"]').click()`)
	waitFor(t, ctx, "member 2 down", `window.__downAt > 0`, 10*time.Second)
	input := eval[float64](t, ctx, `window.__downAt - window.__crashAt`)

	// Idle: paused, nothing changes, nothing should be drawn.
	before := eval[float64](t, ctx, `raftlabApp.renders`)
	do(t, ctx, chromedp.Sleep(2*time.Second))
	idle := eval[float64](t, ctx, `raftlabApp.renders`) - before

	msg := fmt.Sprintf("budgets: core.wasm brotli file %d bytes, transferred %.0f bytes (encoded %.0f, decoded %.0f); page load %.0f ms; first leader shown %.0f ms after navigation (default speed, quiet time skipped); frame p50 %.2f ms, p95 %.2f ms, max %.2f ms over %.0f frames (9 members, 10x; of which simulation p50 %.2f ms, p95 %.2f ms; panel p50 %.2f ms, p95 %.2f ms); with style and layout p50 %.2f ms, p95 %.2f ms; other tabs with style and layout: %s; input response %.1f ms; paused page drew %.0f times in 2 s",
		sizeOf(br), wasm["transfer"], wasm["encoded"], wasm["decoded"], ready, firstLeader, frames["p50"], frames["p95"], frames["max"], frames["n"], pulls["p50"], pulls["p95"], panels["p50"], panels["p95"], laidOut["p50"], laidOut["p95"], strings.Join(tabs, "; "), input, idle)
	t.Log(msg)
	fmt.Fprintln(os.Stderr, msg)
}

// timings returns the count (n), p50, p95 and max of the durations in
// milliseconds the page collects in the array expr; stop has the page stop
// collecting them (the array becomes null).
func timings(t *testing.T, ctx context.Context, expr string, stop bool) map[string]float64 {
	js := `(() => { const a = [...` + expr + `].sort((x, y) => x - y); `
	if stop {
		js += expr + ` = null; `
	}
	js += `const q = (p) => a[Math.min(a.length - 1, Math.floor(p * a.length))] || 0; return {n: a.length, p50: q(0.5), p95: q(0.95), max: q(1)}; })()`
	return eval[map[string]float64](t, ctx, js)
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}

package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The lesson runner in a real Chromium, with the simulator in wasm: open
// the Lessons tab, start a lesson, go through it with Next, check each
// step's expectations are met when it ends, go Back and forward again, and
// check that the steps started at the very times the Go run of the same
// lesson (ui/lessons_test.go) gives: the page and the test agree on the
// run, not just on the outcome.

// lessonPanel is the state of the #lesson panel.
type lessonPanel struct {
	Lesson  string  `json:"lesson"`
	Step    string  `json:"step"`
	Done    string  `json:"done"`
	Met     string  `json:"met"`
	Status  string  `json:"status"`
	Playing bool    `json:"playing"`
	View    float64 `json:"view"`
	Starts  []int64 `json:"starts"`
}

const panelJS = `(() => {
  const p = document.getElementById('lesson');
  const app = raftlabApp;
  return { lesson: p.dataset.lesson || '', step: p.dataset.step || '', done: p.dataset.done || '', met: p.dataset.met || '',
    status: p.querySelector('.lesson-status')?.textContent || '', playing: app.playing, view: app.viewTime,
    starts: app.lessons.recs.map((r) => r.start) };
})()`

func panel(t *testing.T, ctx context.Context) lessonPanel {
	t.Helper()
	return eval[lessonPanel](t, ctx, panelJS)
}

// goStarts runs lesson id in Go and returns the start time of each step.
func goStarts(t *testing.T, id string) []int64 {
	t.Helper()
	for _, l := range loadLessons(t) {
		if l.ID == id {
			tr := &lessonTrace{ID: id}
			runLesson(t, l, tr)
			var out []int64
			for _, s := range tr.Steps {
				out = append(out, s.Start)
			}
			return out
		}
	}
	t.Fatalf("no lesson %s", id)
	return nil
}

func TestBrowserLessonFirstElection(t *testing.T) {
	const id = "first_election"
	want := goStarts(t, id)
	ctx := browser(t, 1400, 1000)
	openSim(t, ctx, serveUI(t))
	eval[chromedp.Void](t, ctx, `document.querySelector('.modes [data-mode="lessons"]').click()`)
	waitFor(t, ctx, "the list of lessons", `document.querySelectorAll('#lesson [data-lesson]').length >= 12`, 10*time.Second)
	screenshot(t, ctx, "lessons-list.png")
	eval[chromedp.Void](t, ctx, fmt.Sprintf(`document.querySelector('#lesson [data-lesson=%q]').click()`, id))
	waitFor(t, ctx, "step 1", fmt.Sprintf(`document.getElementById('lesson').dataset.lesson === %q && document.getElementById('lesson').dataset.step === "1"`, id), 10*time.Second)
	if p := panel(t, ctx); !p.Playing || p.Done != "false" {
		t.Fatalf("step 1 does not play: %+v", p)
	}
	screenshot(t, ctx, "lesson-step1.png")

	steps := len(want)
	for k := 1; k <= steps; k++ {
		stepIs := fmt.Sprintf(`document.getElementById('lesson').dataset.step === "%d"`, k)
		waitFor(t, ctx, fmt.Sprintf("step %d", k), stepIs, 10*time.Second)
		if k == 1 {
			// Next before the step finished (5 s at the lesson's speed):
			// it runs to its end at once, never waits.
			if p := panel(t, ctx); p.Done == "true" {
				t.Fatalf("step 1 finished before Next: %+v", p)
			}
		} else {
			waitFor(t, ctx, fmt.Sprintf("step %d to finish", k), `document.getElementById('lesson').dataset.done === "true"`, 15*time.Second)
			p := panel(t, ctx)
			if p.Met != "true" || p.Playing {
				t.Errorf("step %d done: expectations met %s, playing %v", k, p.Met, p.Playing)
			}
			if k == 3 {
				screenshot(t, ctx, "lesson-step3-done.png")
			}
		}
		if k < steps {
			eval[chromedp.Void](t, ctx, `document.querySelector('#lesson [data-lesson-nav="next"]').click()`)
		}
		if k == 1 {
			// Faster than a class would watch, so the test stays short;
			// the runner keeps the speed the student chose.
			eval[chromedp.Void](t, ctx, `raftlabApp.setSpeed(4)`)
		}
	}
	p := panel(t, ctx)
	if p.Step != fmt.Sprint(steps) || p.Done != "true" || p.Met != "true" || !strings.Contains(p.Status, "complete") {
		t.Fatalf("the lesson did not end on its last step with its expectations met: %+v", p)
	}
	if !slices.Equal(p.Starts, want) {
		t.Errorf("steps started at %v ms in the page, at %v ms in the Go run", p.Starts, want)
	}
	screenshot(t, ctx, "lesson-last.png")

	// Back: the previous step, at its start, paused.
	eval[chromedp.Void](t, ctx, `document.querySelector('#lesson [data-lesson-nav="back"]').click()`)
	waitFor(t, ctx, "back to the previous step", fmt.Sprintf(`document.getElementById('lesson').dataset.step === "%d"`, steps-1), 5*time.Second)
	p = panel(t, ctx)
	if p.Playing || int64(p.View) != want[steps-2] {
		t.Errorf("after Back: playing %v, view %v ms; want paused at %d ms", p.Playing, p.View, want[steps-2])
	}
	screenshot(t, ctx, "lesson-back.png")

	// And forward again with the keyboard: the same run, replayed.
	eval[chromedp.Void](t, ctx, `document.dispatchEvent(new KeyboardEvent('keydown', { key: 'n', bubbles: true }))`)
	waitFor(t, ctx, "the last step again", fmt.Sprintf(`document.getElementById('lesson').dataset.step === "%d"`, steps), 5*time.Second)
	waitFor(t, ctx, "the last step to finish again", `document.getElementById('lesson').dataset.done === "true"`, 15*time.Second)
	if p := panel(t, ctx); p.Met != "true" || !slices.Equal(p.Starts, want) {
		t.Errorf("after Back and Next: %+v, want starts %v", p, want)
	}

	// The narration follows the language.
	eval[chromedp.Void](t, ctx, `raftlabApp.setLanguage('zh')`)
	waitFor(t, ctx, "Chinese narration", `/[\u4e00-\u9fff]/.test(document.querySelector('#lesson .lesson-text').textContent)`, 5*time.Second)
	screenshot(t, ctx, "lesson-zh.png")
	eval[chromedp.Void](t, ctx, `raftlabApp.setLanguage('en')`)
}

// TestBrowserLessonSmallScreen: on a phone the narration sits under the
// cluster, readable and reachable.
func TestBrowserLessonSmallScreen(t *testing.T) {
	ctx := browser(t, 400, 800)
	// Headless Chromium keeps windows at least 500 px wide: emulate the phone.
	do(t, ctx, chromedp.EmulateViewport(400, 800))
	openSim(t, ctx, serveUI(t))
	eval[chromedp.Void](t, ctx, `document.querySelector('.modes [data-mode="lessons"]').click()`)
	waitFor(t, ctx, "the list of lessons", `document.querySelectorAll('#lesson [data-lesson]').length >= 12`, 10*time.Second)
	eval[chromedp.Void](t, ctx, `document.getElementById('lesson').scrollIntoView({ block: 'start' })`)
	viewportShot(t, ctx, "lessons-list-400.png")
	eval[chromedp.Void](t, ctx, `document.querySelector('#lesson [data-lesson="intro"]').click()`)
	waitFor(t, ctx, "step 1", `document.getElementById('lesson').dataset.step === "1"`, 10*time.Second)
	eval[chromedp.Void](t, ctx, `raftlabApp.setSpeed(4)`)
	eval[chromedp.Void](t, ctx, `document.querySelector('#lesson [data-lesson-nav="next"]').click()`)
	waitFor(t, ctx, "step 2 done", `document.getElementById('lesson').dataset.step === "2" && document.getElementById('lesson').dataset.done === "true"`, 15*time.Second)
	// The whole panel shows, inside the page's width, with its buttons
	// hittable.
	type box struct {
		Left, Right, Top, Bottom, Width float64
		Hit                             bool
	}
	b := eval[box](t, ctx, `(() => {
	  const p = document.getElementById('lesson');
	  const next = p.querySelector('[data-lesson-nav="next"]');
	  next.scrollIntoView({ block: 'center' });
	  const r = p.getBoundingClientRect(), n = next.getBoundingClientRect();
	  const at = document.elementFromPoint(n.left + n.width / 2, n.top + n.height / 2);
	  return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: document.documentElement.clientWidth, hit: at === next || next.contains(at) };
	})()`)
	if b.Left < 0 || b.Right > b.Width+1 || b.Bottom-b.Top < 120 || !b.Hit {
		t.Errorf("the narration panel is cut off or covered on a 400 px screen: %+v", b)
	}
	eval[chromedp.Void](t, ctx, `document.getElementById('lesson').scrollIntoView({ block: 'end' })`)
	viewportShot(t, ctx, "lesson-400.png")
}

// viewportShot saves what the viewport shows (a full-page capture lays
// the page out again at its full height), when RAFTLAB_SHOTS is set.
func viewportShot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("RAFTLAB_SHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, name), buf, 0o644)
}

// TestBrowserEveryLessonAgreesWithGo runs every lesson in the page, Next
// after Next without waiting (each step then runs to its end at once, and
// the run forks where a step acts), and checks that each step starts where
// the Go run starts it and that every step's expectations hold at its end
// on the page's model: the wasm simulator, the JS model and the JS
// conditions give the lesson the Go test checked.
func TestBrowserEveryLessonAgreesWithGo(t *testing.T) {
	lessons := loadLessons(t)
	ctx := browser(t, 1400, 1000)
	openSim(t, ctx, serveUI(t))
	eval[chromedp.Void](t, ctx, `document.querySelector('.modes [data-mode="lessons"]').click()`)
	waitFor(t, ctx, "the list of lessons", `document.querySelectorAll('#lesson [data-lesson]').length >= 12`, 10*time.Second)
	type result struct {
		Starts []int64  `json:"starts"`
		Failed []string `json:"failed"`
		Banner string   `json:"banner"`
	}
	for _, l := range lessons {
		want := goStarts(t, l.ID)
		r := eval[result](t, ctx, fmt.Sprintf(`(async () => {
		  const { evaluate } = await import('./js/lessons.js');
		  const L = raftlabApp.lessons;
		  await L.start(%q);
		  raftlabApp.play(false);
		  for (let i = 0; i < L.lesson.steps.length; i++) await L.next();
		  const failed = [];
		  L.recs.forEach((rec, k) => {
		    const ctx = L.ctxAt(rec, rec.end);
		    (L.lesson.steps[k].expect || []).forEach((c, j) => { if (!evaluate(c, ctx)) failed.push('step ' + (k + 1) + ' expectation ' + (j + 1) + ': ' + JSON.stringify(c)); });
		  });
		  const b = document.getElementById('banner');
		  return { starts: L.recs.map((r) => r.start), failed, banner: b.hidden ? '' : b.textContent };
		})()`, l.ID))
		t.Logf("%-20s steps start at %v ms, as in Go", l.ID, r.Starts)
		if !slices.Equal(r.Starts, want) {
			t.Errorf("%s: steps start at %v ms in the page, at %v ms in Go", l.ID, r.Starts, want)
		}
		for _, f := range r.Failed {
			t.Errorf("%s: %s", l.ID, f)
		}
		// Refusals the lesson means (allowRefusal) show in the banner;
		// anything else would be a broken step.
		if r.Banner != "" && !slices.ContainsFunc(l.Steps, func(s lessonStep) bool { return s.AllowRefusal }) {
			t.Errorf("%s: banner %q", l.ID, r.Banner)
		}
	}
}

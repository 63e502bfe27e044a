package ui_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/raftlab/raftlab/ui"
)

// The browser tests drive the real page in a headless Chromium (Debian's
// chromium, which .ci/run installs) against the UI served from the embedded
// files, with the simulator compiled to wasm (make wasm). Outside CI they
// skip when Chromium or core.wasm is missing; in CI they must run.

func chromiumPath() string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// need skips (outside CI) or fails (in CI) when the browser tests cannot run.
func need(t *testing.T) string {
	t.Helper()
	chrome := chromiumPath()
	_, wasmErr := os.Stat(filepath.Join("wasm", "core.wasm"))
	var missing []string
	if chrome == "" {
		missing = append(missing, "chromium (apt-get install chromium)")
	}
	if wasmErr != nil {
		missing = append(missing, "ui/wasm/core.wasm (make wasm)")
	}
	if len(missing) > 0 {
		msg := "browser test needs " + strings.Join(missing, " and ")
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return chrome
}

// serveUI serves the embedded UI on 127.0.0.1 and returns its URL.
func serveUI(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ui.Handler(ui.FS()), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// browser starts a headless Chromium with the flags this machine needs
// (no background networking: the network is closed) and returns a context
// for chromedp actions, valid until the test ends.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	chrome := need(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return ctx
}

// screenshot saves a PNG of the page when RAFTLAB_SHOTS names a directory
// (how docs/ screenshots are made).
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("RAFTLAB_SHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, name), buf, 0o644)
}

// do runs actions that return nothing, failing the test on error.
func do(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression (promises awaited).
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it is truthy.
func waitFor(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// openSim loads the page and waits for the simulator.
func openSim(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(url))
	waitFor(t, ctx, "the simulator", `document.documentElement.dataset.ready === "true"`, 30*time.Second)
}

func TestBrowserLeaderAppears(t *testing.T) {
	ctx := browser(t, 1400, 1000)
	openSim(t, ctx, serveUI(t))
	eval[chromedp.Void](t, ctx, `raftlabApp.setSpeed(1)`)
	waitFor(t, ctx, "a leader", `document.querySelector('g.node[data-role="leader"]') !== null`, 30*time.Second)
	screenshot(t, ctx, "leader.png")
}

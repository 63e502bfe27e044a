package ui_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftlab/raftlab/cmd/node/nodetest"
)

// TestBrowserRealCluster: the visualizer, served by a real member of a
// 3-member raftnode cluster, connects to the cluster (Real cluster tab),
// shows its leader, and shows a write made from the page reaching every
// member's state machine.
func TestBrowserRealCluster(t *testing.T) {
	ctx := browser(t, 1400, 1000)
	bin := filepath.Join(t.TempDir(), "raftnode")
	build := exec.Command("go", "build", "-o", bin, "../cmd/node")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building raftnode: %v\n%s", err, out)
	}
	ports, err := nodetest.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	for i, p := range ports {
		members = append(members, fmt.Sprintf("%d=http://127.0.0.1:%d", i+1, p))
	}
	for i, p := range ports {
		cmd := exec.Command(bin, "--id", fmt.Sprint(i+1), "--listen", fmt.Sprintf("127.0.0.1:%d", p),
			"--initial-cluster", strings.Join(members, ","), "--cluster-token", "browser-test",
			"--data-dir", filepath.Join(t.TempDir(), "data"), "--admin-token", "admin")
		log, _ := os.Create(filepath.Join(t.TempDir(), "log"))
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster has no leader after 20 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	openSim(t, ctx, base+"/")
	eval[any](t, ctx, `raftlabApp.controls.setMode('live')`)
	waitFor(t, ctx, "the connect form", `document.querySelector('.live-connect form') !== null`, 10*time.Second)
	eval[any](t, ctx, `(() => { const f = document.querySelector('.live-connect form'); f.token.value = 'admin'; f.querySelector('[data-act=connect]').click(); })()`)
	waitFor(t, ctx, "the live view", `raftlabApp.mode === 'live' && raftlabApp.live !== null`, 10*time.Second)
	waitFor(t, ctx, "three members", `document.querySelectorAll('g.node').length === 3`, 20*time.Second)
	waitFor(t, ctx, "the leader", `document.querySelector('g.node[data-role="leader"]') !== null`, 20*time.Second)
	eval[any](t, ctx, `raftlabApp.act({kind: 'put', key: 'from-the-page', value: 'hello'})`)
	waitFor(t, ctx, "the write on every member", `(() => { const s = raftlabApp.state(); const ns = Object.values(s.nodes); return ns.length === 3 && ns.every((n) => n.keys['/kv/from-the-page'] && n.keys['/kv/from-the-page'].value === 'hello'); })()`, 20*time.Second)
	eval[any](t, ctx, `raftlabApp.setTab('storage')`)
	waitFor(t, ctx, "the storage row", `document.querySelector('[data-key="/kv/from-the-page"]') !== null`, 10*time.Second)
	screenshot(t, ctx, "real-cluster.png")
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/kv/from-the-page", ports[2]))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reading the page's write from member 3: %v %v", resp, err)
	}
	resp.Body.Close()
}

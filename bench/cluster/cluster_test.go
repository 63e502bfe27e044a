package cluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeCluster runs script under sh as a one-member cluster.
func fakeCluster(t *testing.T, script string, grace time.Duration) (*Cluster, *Member) {
	t.Helper()
	m := &Member{Name: "1", LogPath: filepath.Join(t.TempDir(), "member.log")}
	if err := start("/bin/sh", []string{"-c", script}, m); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Kind: "fake", Members: []*Member{m}, opts: Options{StopGrace: grace}}
	t.Cleanup(func() { _ = c.Stop() })
	return c, m
}

func TestStopEndsAMemberWithSIGTERM(t *testing.T) {
	c, m := fakeCluster(t, "exec sleep 30", 5*time.Second)
	t0 := time.Now()
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if exited, _ := m.Exited(); !exited || time.Since(t0) > 2*time.Second {
		t.Errorf("member exited %v after %v: SIGTERM should end it at once", exited, time.Since(t0))
	}
}

func TestStopKillsAMemberThatIgnoresSIGTERM(t *testing.T) {
	c, m := fakeCluster(t, "trap '' TERM; exec sleep 30", 300*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // let the shell set its trap
	err := c.Stop()
	if err == nil || !strings.Contains(err.Error(), "was killed") {
		t.Fatalf("Stop = %v, want an error saying the member was killed", err)
	}
	if exited, _ := m.Exited(); !exited {
		t.Error("member still running after Stop")
	}
}

// etcdmemberBinary builds bench/cmd/etcdmember once per test binary.
func etcdmemberBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "etcdmember")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/etcdmember").CombinedOutput()
	if err != nil {
		t.Fatalf("building etcdmember: %v\n%s", err, out)
	}
	return bin
}

// raftnodeBinary is $RAFTNODE or the main module's bin/raftnode.
func raftnodeBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("RAFTNODE")
	if bin == "" {
		bin = "../../bin/raftnode"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no raftnode binary (%v): run make build, or set RAFTNODE", err)
	}
	return bin
}

// checkRunningThenStop checks the members' /proc figures, stops the
// cluster and checks that nothing is left: processes or files.
func checkRunningThenStop(t *testing.T, c *Cluster, root string) {
	t.Helper()
	if len(c.Members) != 3 {
		t.Fatalf("%d members, want 3", len(c.Members))
	}
	for _, m := range c.Members {
		if rss, err := m.RSS(); err != nil || rss < 1<<20 {
			t.Errorf("member %s: RSS %d, %v", m.Name, rss, err)
		}
		if _, err := m.CPUTime(); err != nil {
			t.Errorf("member %s: %v", m.Name, err)
		}
		if !strings.HasPrefix(m.ClientURL, "http://127.0.0.1:") || !strings.HasPrefix(m.PeerURL, "http://127.0.0.1:") {
			t.Errorf("member %s listens at %s and %s, want loopback only", m.Name, m.ClientURL, m.PeerURL)
		}
	}
	if err := c.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	for _, m := range c.Members {
		if exited, _ := m.Exited(); !exited {
			t.Errorf("member %s (pid %d) still running", m.Name, m.PID())
		}
	}
	if left, _ := os.ReadDir(root); len(left) != 0 {
		t.Errorf("Stop left %d entries in the data root", len(left))
	}
}

func TestEtcdClusterStartsTakesWritesAndStops(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three etcd processes")
	}
	root := t.TempDir()
	c, err := StartEtcd(context.Background(), Options{Binary: etcdmemberBinary(t), DataRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	checkRunningThenStop(t, c, root)
}

func TestRaftlabClusterStartsTakesWritesAndStops(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three raftnode processes")
	}
	root := t.TempDir()
	c, err := StartRaftlab(context.Background(), Options{Binary: raftnodeBinary(t), DataRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	if _, err := c.RaftlabLeader(context.Background()); err != nil {
		t.Error(err)
	}
	stats, err := c.RaftlabFsyncs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range stats {
		// Every member synced the ready writes the launcher made.
		if s.Syncs == 0 || s.Entries == 0 {
			t.Errorf("member %d: %+v, want synced entries", i+1, s)
		}
	}
	checkRunningThenStop(t, c, root)
}

func TestStartFailureReportsTheLogAndCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raftnode processes")
	}
	root := t.TempDir()
	_, err := StartRaftlab(context.Background(), Options{Binary: raftnodeBinary(t), DataRoot: root,
		ExtraArgs: []string{"--tick", "0s"}, ReadyTimeout: 5 * time.Second})
	if err == nil {
		t.Fatal("a cluster whose members reject their flags started")
	}
	if !strings.Contains(err.Error(), "--tick 0s out of") {
		t.Errorf("error does not quote the members' logs: %v", err)
	}
	if left, _ := os.ReadDir(root); len(left) != 0 {
		t.Errorf("a failed start left %d entries in the data root", len(left))
	}
}

//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runBinary runs raftnode with args to its end and returns its exit code,
// stdout and stderr.
func runBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	needBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, raftnodeBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("raftnode %v: %v", args, err)
	return 0, "", ""
}

// Bad command lines: a message that names the problem, a pointer to
// --help, exit code 2, and nothing started.
func TestCommandLineErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ok := []string{"--id", "1", "--cluster-token", "t", "--data-dir", data}
	with := func(extra ...string) []string { return append(append([]string{}, ok...), extra...) }
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"no flags", nil, "--id is required"},
		{"missing id", []string{"--cluster-token", "t"}, "--id is required"},
		{"id zero", []string{"--id", "0", "--cluster-token", "t"}, "positive integer"},
		{"id not a number", []string{"--id", "one", "--cluster-token", "t"}, `invalid value "one" for flag -id`},
		{"missing cluster token", []string{"--id", "1"}, "--cluster-token is required"},
		{"unknown flag", with("--bogus"), "flag provided but not defined: -bogus"},
		{"stray argument", with("start"), `unexpected argument "start"`},
		{"initial cluster without id=", with("--initial-cluster", "http://127.0.0.1:7001"), "want id=url"},
		{"initial cluster with a bad id", with("--initial-cluster", "x=http://127.0.0.1:7001"), "positive integer"},
		{"initial cluster with a bad url", with("--initial-cluster", "1=127.0.0.1:7001"), "member 1:"},
		{"initial cluster with another scheme", with("--initial-cluster", "1=ftp://127.0.0.1:7001"), "want an http://"},
		{"initial cluster with a path", with("--initial-cluster", "1=http://127.0.0.1:7001/raft"), "nothing more"},
		{"initial cluster listing an id twice", with("--initial-cluster", "1=http://127.0.0.1:7001,1=http://127.0.0.1:7002"), "listed twice"},
		{"initial cluster without this member", with("--initial-cluster", "2=http://127.0.0.1:7002"), "does not list this member's id 1"},
		{"initial cluster with another URL", with("--initial-cluster", "1=http://127.0.0.1:7009"), "advertises http://127.0.0.1:7001"},
		{"join with initial cluster", with("--join", "http://127.0.0.1:7002", "--initial-cluster", "1=http://127.0.0.1:7001"), "exclude each other"},
		{"bad join URL", with("--join", "127.0.0.1:7002"), "--join"},
		{"join as learner without join", with("--join-as-learner"), "--join-as-learner goes with --join"},
		{"listen on every address without advertise URL", with("--listen", "0.0.0.0:7001"), "give --advertise-url"},
		{"listen on every address, no host", with("--listen", ":7001"), "give --advertise-url"},
		{"bad listen address", with("--listen", "127.0.0.1"), "--listen"},
		{"bad listen port", with("--listen", "127.0.0.1:99999"), "bad port"},
		{"bad advertise URL", with("--advertise-url", "10.0.0.5:7001"), "--advertise-url"},
		{"TLS cert without key", with("--tls-cert", "c.pem"), "go together"},
		{"election not above heartbeat", with("--election-ticks", "2", "--heartbeat-ticks", "2"), "must exceed"},
		{"tick too short", with("--tick", "10us"), "--tick"},
		{"bad duration", with("--tick", "fast"), `invalid value "fast" for flag -tick`},
		{"bad origin", with("--allowed-origins", "example.com"), "bad origin"},
		{"tiny event history", with("--event-history", "5"), "--event-history"},
		{"empty data dir, no cluster to start or join", with("--listen", "127.0.0.1:0"), "is empty: start a new cluster with --initial-cluster, or join one with --join"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runBinary(t, tc.args...)
			if code != 2 {
				t.Fatalf("exit code %d, want 2; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, tc.says) {
				t.Fatalf("stderr does not say %q:\n%s", tc.says, stderr)
			}
			if !strings.Contains(stderr, "raftnode --help") {
				t.Fatalf("stderr does not point to --help:\n%s", stderr)
			}
			if lines := strings.Count(stderr, "\n"); lines > 3 {
				t.Fatalf("%d lines on stderr, want a short message:\n%s", lines, stderr)
			}
			if stdout != "" {
				t.Fatalf("stdout: %q", stdout)
			}
		})
	}
}

// --help (and -h) documents every flag, on stdout, and exits 0.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--help", "-h"} {
		code, stdout, stderr := runBinary(t, arg)
		if code != 0 || stderr != "" {
			t.Fatalf("%s: exit code %d, stderr %q", arg, code, stderr)
		}
		fs := newFlagSet(&options{}, io.Discard)
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(stdout, "-"+f.Name+" ") && !strings.Contains(stdout, "-"+f.Name+"\n") {
				t.Errorf("%s does not document -%s", arg, f.Name)
			}
		})
		for _, want := range []string{"Usage:", "--initial-cluster", "--join"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s does not say %q", arg, want)
			}
		}
	}
}

// A member's life on its data dir: a second process on the same dir fails
// clearly; SIGTERM stops the member cleanly (exit 0) and it restarts from
// its data; and that data wins over a different --initial-cluster.
func TestDataDirAndSignals(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, ClusterOptions{Size: 1, Flags: []string{"--tick", "20ms"}})
	m := c.Member(1)
	cl := c.NewClient()
	cl.MustPut(t, m, "kept", "across restarts")
	id := m.MustStatus(t).ClusterID

	// A second process on the same data dir.
	other := c.NewMember(7)
	other.DataDir = m.DataDir
	other.Mode = []string{"--initial-cluster", "7=" + other.URL}
	other.StartNoWait(t)
	if code := other.WaitExit(t, waitTimeout); code != 1 {
		t.Fatalf("second process on the data dir: exit code %d, want 1:\n%s", code, other.LogTail(10))
	}
	if msg := lastLine(other.Log()); !strings.Contains(msg, m.DataDir) || !strings.Contains(msg, "in use by another process") {
		t.Fatalf("second process on the data dir says: %s", msg)
	}
	t.Logf("second process on the data dir: %s", lastLine(other.Log()))
	cl.WantValue(t, m, "kept", "", "across restarts")

	// SIGTERM: a clean stop, exit 0.
	stopped := time.Now()
	if code := m.Stop(t); code != 0 {
		t.Fatalf("SIGTERM: exit code %d:\n%s", code, m.LogTail(10))
	}
	t.Logf("SIGTERM: exited 0 in %v", time.Since(stopped).Round(time.Millisecond))
	if !strings.Contains(m.Log(), `msg=stopping member=1 signal=terminated`) {
		t.Fatalf("log does not say it stopped on SIGTERM:\n%s", m.LogTail(10))
	}
	m.Start(t)
	c.Leader(t)
	cl.WantValue(t, m, "kept", "", "across restarts")
	cl.MustPut(t, m, "after", "restart")

	// Restarted with another --initial-cluster: the data dir's cluster
	// wins, and the member says the flag was ignored.
	m.Stop(t)
	m.Mode = []string{"--initial-cluster", "1=" + m.URL + ",2=http://127.0.0.1:1,3=http://127.0.0.1:2"}
	m.Start(t)
	leader := c.Leader(t)
	st := m.MustStatus(t)
	if leader != m || st.ClusterID != id || len(st.Members) != 1 {
		t.Fatalf("after a restart with another --initial-cluster: leader %d, cluster %s (was %s), members %+v", leader.ID, st.ClusterID, id, st.Members)
	}
	if !strings.Contains(m.Log(), "--initial-cluster and --join are ignored") {
		t.Fatalf("log does not say --initial-cluster was ignored:\n%s", m.LogTail(10))
	}
	cl.WantValue(t, m, "kept", "", "across restarts")
	cl.WantValue(t, m, "after", "", "restart")
}

// A member whose storage fails (here its data dir vanishes, as with a
// dead disk) stops with a clear error and exits 1, rather than serving
// without a log or hanging in Badger's Close.
func TestStorageFailureExits(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, ClusterOptions{Size: 1, Flags: []string{"--tick", "20ms"}})
	m := c.Member(1)
	cl := c.NewClient()
	cl.MustPut(t, m, "a", "1")
	if err := os.RemoveAll(m.DataDir); err != nil {
		t.Fatal(err)
	}
	failed := time.Now()
	op := cl.Put(m, "b", "2")
	if op.Status != http.StatusServiceUnavailable || !strings.Contains(op.Err, "member stopped") {
		t.Fatalf("put after the data dir vanished: %s", op)
	}
	if code := m.WaitExit(t, waitTimeout); code != 1 {
		t.Fatalf("exit code %d, want 1:\n%s", code, m.LogTail(10))
	}
	t.Logf("exited 1 %v after the failed write: %s", time.Since(failed).Round(time.Millisecond), firstLine(m.Log(), "raftnode: "))
}

// firstLine returns the first line of s that starts with prefix.
func firstLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

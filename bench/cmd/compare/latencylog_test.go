package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftlab/raftlab/bench/load"
)

func TestLatencyLogWritesOneRowPerWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "writes.csv")
	l, err := openLatencyLog(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1795800000, 123456789)
	if err := l.add(runResult{system: "raftlab", round: 2, via: viaFollower, res: load.Result{Clients: 1, Writes: []load.Write{
		{Client: 0, Start: start, Latency: 1500 * time.Microsecond},
		{Client: 0, Start: start.Add(2 * time.Millisecond), Latency: 9 * time.Millisecond},
	}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.add(runResult{system: "etcd-grpc", round: 1, via: viaSpread, res: load.Result{Clients: 64, Writes: []load.Write{
		{Client: 63, Start: start, Latency: 12 * time.Millisecond},
	}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := latencyLogHeader +
		"raftlab,2,follower,1,0,1795800000123456789,1500\n" +
		"raftlab,2,follower,1,0,1795800000125456789,9000\n" +
		"etcd-grpc,1,spread,64,63,1795800000123456789,12000\n"
	if string(got) != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}

func TestLatencyLogThatCannotBeWrittenIsRefusedBeforeAnyRun(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"-raftnode", bin, "-etcdmember", bin, "-latency-log", filepath.Join(dir, "no-such-dir", "w.csv")}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "-latency-log") {
		t.Errorf("exit %d, stderr %q: want 2 and the flag named", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("a run started: %q", stdout.String())
	}
}

//go:build unix

package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftlab/raftlab/core"
)

// openSilentConsumer opens /events with a raw WebSocket upgrade and then
// never reads: its socket buffers fill, and the member must not wait for
// it. The kernel's receive buffer is kept small so that it fills soon.
func openSilentConsumer(t *testing.T, m *Member) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", m.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", m.Addr)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := bufio.NewReaderSize(conn, 16).ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		t.Fatalf("upgrade: %q %v", status, err)
	}
	return conn // and never read again
}

// Consumers of /events that never read, on a member under write load: the
// member cuts them off, its other consumers get every event in order, its
// clients are served, and its memory stays bounded.
func TestNeverReadingEventConsumers(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes")
	}
	t.Parallel()
	c := StartCluster(t, ClusterOptions{Size: 3, Flags: []string{"--tick", "50ms"}})
	m := c.Member(1)
	const silent = 4
	for range silent {
		openSilentConsumer(t, m)
	}
	reader := m.Events(t, EventsFromNow, func(e core.Event) bool { return true })
	streams := func() float64 { return m.Metrics(t)["raftlab_event_streams"] }
	waitFor(t, waitTimeout, "the streams to open", func() (bool, string) {
		return streams() == silent+1, fmt.Sprint(streams())
	})
	rssBefore := m.Metrics(t)["process_resident_memory_bytes"]

	// Write until the member has cut off every silent consumer.
	var (
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		ok, bad atomic.Int64
		slowest atomic.Int64
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c.NewClient()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				op := cl.Put(c.Member(uint64(w%3+1)), fmt.Sprintf("w%d-%d", w, i%500), strings.Repeat("v", 200))
				if op.OK() {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
				if d := int64(op.Return - op.Call); d > slowest.Load() {
					slowest.Store(d)
				}
			}
		}()
	}
	started := time.Now()
	var peakRSS float64
	waitFor(t, 2*time.Minute, "the silent consumers to be cut off", func() (bool, string) {
		mt := m.Metrics(t)
		peakRSS = max(peakRSS, mt["process_resident_memory_bytes"])
		n := mt["raftlab_event_streams"]
		return n == 1, fmt.Sprintf("%v streams open, %d writes", n, ok.Load())
	})
	cutAfter := time.Since(started)
	close(stop)
	wg.Wait()

	if bad.Load() > 0 {
		t.Errorf("%d writes failed while the consumers hung (%d succeeded)", bad.Load(), ok.Load())
	}
	if err := reader.Err(); err != nil {
		t.Fatalf("the reading consumer was cut off too: %v", err)
	}
	evs := reader.Recorded()
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq != evs[i-1].Seq+1 {
			t.Fatalf("the reading consumer missed events: seq %d after %d", evs[i].Seq, evs[i-1].Seq)
		}
	}
	// Bounded: each consumer's buffer and the history are bounded in
	// events; 256 MiB is far above what they add up to, and far below
	// what an unbounded queue grows to under this load.
	const rssBound = 256 << 20
	if peakRSS > rssBound {
		t.Errorf("member's memory peaked at %.0f MiB, bound %d MiB", peakRSS/(1<<20), rssBound>>20)
	}
	t.Logf("%d silent consumers cut off after %v; %d writes (slowest %v), reading consumer got %d events in order; RSS %.0f MiB before, peak %.0f MiB",
		silent, cutAfter.Round(100*time.Millisecond), ok.Load(), time.Duration(slowest.Load()).Round(time.Millisecond), len(evs), rssBefore/(1<<20), peakRSS/(1<<20))
}

// The normal build ignores RAFTLAB_FAILPOINT: a member started with a
// crash point set serves and writes as usual. The failpoints build (the
// robustness suite's) honours it.
func TestFailpointVariableIgnoredByDefaultBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes")
	}
	t.Parallel()
	env := []string{"RAFTLAB_FAILPOINT=" + core.FailpointBeforeSave, "RAFTLAB_FAILPOINT_ARM="}
	c := StartCluster(t, ClusterOptions{Size: 1, Env: env})
	m := c.Member(1)
	cl := c.NewClient()
	for i := range 20 {
		cl.MustPut(t, m, fmt.Sprintf("k%d", i), "v")
	}
	if !m.Running() || strings.Contains(m.Log(), "failpoint") {
		t.Fatalf("the default build reacted to RAFTLAB_FAILPOINT:\n%s", m.LogTail(10))
	}

	// The same variable in the failpoints build: the member kills itself
	// at its first save after starting, before it serves a write.
	fc := NewCluster(t, ClusterOptions{Bin: failpointBinary(t), Env: env})
	fm := fc.NewMember(1)
	fm.Mode = []string{"--initial-cluster", "1=" + fm.URL}
	fm.StartNoWait(t)
	fm.WaitExit(t, waitTimeout)
	if !strings.Contains(fm.Log(), "failpoint before-save hit 1: SIGKILL") || fm.ExitState() != "signal: killed" {
		t.Fatalf("failpoints build: %s\n%s", fm.ExitState(), fm.LogTail(10))
	}
	// And it refuses a crash point it does not know.
	addr := freeAddr(t)
	cmd := exec.Command(failpointBinary(t), "--id", "1", "--cluster-token", "x", "--data-dir", t.TempDir(),
		"--listen", addr, "--initial-cluster", "1=http://"+addr)
	cmd.Env = append(os.Environ(), "RAFTLAB_FAILPOINT=nowhere")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `no crash point "nowhere"`) {
		t.Fatalf("unknown crash point: %v\n%s", err, out)
	}
}

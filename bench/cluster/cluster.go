// Package cluster starts and stops the three-member clusters the benchmark
// compares: Raftlab from bin/raftnode, etcd from bench's etcdmember. Each
// member is its own process listening on loopback ports picked free, with
// its data in a temporary directory; Stop ends every process by its PID
// (SIGTERM, then SIGKILL after a grace period) and removes the directory.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Kind names a system under test.
type Kind string

const (
	KindRaftlab Kind = "raftlab"
	KindEtcd    Kind = "etcd"
)

// Options are the settings both kinds of cluster share, so that the two run
// the same raft configuration.
type Options struct {
	// Binary is bin/raftnode or etcdmember.
	Binary string
	// Members is the cluster size (default 3).
	Members int
	// TickMs is raft's tick: raftnode --tick, etcd's heartbeat interval
	// (default 100).
	TickMs int
	// ElectionTicks is the election timeout in ticks (default 10).
	ElectionTicks int
	// SnapshotEntries is the number of applied entries between snapshots
	// (default 10000, both systems' default).
	SnapshotEntries uint64
	// SnapshotCatchUpEntries is the log kept behind a snapshot (default
	// 5000, both systems' default).
	SnapshotCatchUpEntries uint64
	// DataRoot is where the temporary data directory goes ("": os.TempDir).
	DataRoot string
	// ReadyTimeout bounds the wait for a leader and a first write (default
	// 30s).
	ReadyTimeout time.Duration
	// StopGrace is how long a member may take to stop after SIGTERM
	// before it gets SIGKILL (default 5s).
	StopGrace time.Duration
	// ExtraArgs are appended to every member's command line.
	ExtraArgs []string
}

func (o Options) withDefaults() Options {
	if o.Members == 0 {
		o.Members = 3
	}
	if o.TickMs == 0 {
		o.TickMs = 100
	}
	if o.ElectionTicks == 0 {
		o.ElectionTicks = 10
	}
	if o.SnapshotEntries == 0 {
		o.SnapshotEntries = 10000
	}
	if o.SnapshotCatchUpEntries == 0 {
		o.SnapshotCatchUpEntries = 5000
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.StopGrace == 0 {
		o.StopGrace = 5 * time.Second
	}
	return o
}

// Member is one running member process.
type Member struct {
	// Name is the member's name (etcd) or id (Raftlab), "1", "2", ...
	Name string
	// ClientURL is where clients send requests: http://127.0.0.1:PORT.
	ClientURL string
	// PeerURL is where the other members reach it (Raftlab: ClientURL).
	PeerURL string
	DataDir string
	// LogPath holds the process's stdout and stderr.
	LogPath string

	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has been waited for
	waitErr error         // valid after exited is closed
}

// PID is the member's process id.
func (m *Member) PID() int { return m.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (m *Member) Exited() (bool, error) {
	select {
	case <-m.exited:
		return true, m.waitErr
	default:
		return false, nil
	}
}

// LogTail returns the last n lines of the member's log.
func (m *Member) LogTail(n int) string {
	b, err := os.ReadFile(m.LogPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Cluster is a running cluster.
type Cluster struct {
	Kind    Kind
	Members []*Member
	opts    Options
	dir     string
}

// Endpoints are the members' client URLs, in member order.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.Members))
	for i, m := range c.Members {
		eps[i] = m.ClientURL
	}
	return eps
}

// Dir is the cluster's temporary directory (removed by Stop).
func (c *Cluster) Dir() string { return c.dir }

// Stop ends every member: SIGTERM to each PID, SIGKILL to those still
// running after the grace period; then it removes the data directory. It
// returns the first member that had to be killed or failed to stop, if any;
// the directory is removed either way.
func (c *Cluster) Stop() error {
	var errs []error
	for _, m := range c.Members {
		if exited, _ := m.Exited(); !exited {
			_ = m.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(c.opts.StopGrace)
	for _, m := range c.Members {
		select {
		case <-m.exited:
		case <-deadline:
			// Past the grace period every remaining member is killed
			// without another wait.
			deadline = closedTimeChan
		}
		if exited, _ := m.Exited(); !exited {
			_ = m.cmd.Process.Signal(syscall.SIGKILL)
			<-m.exited
			errs = append(errs, fmt.Errorf("cluster: %s member %s (pid %d) ignored SIGTERM for %v and was killed", c.Kind, m.Name, m.PID(), c.opts.StopGrace))
		}
	}
	if c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("cluster: removing %s: %w", c.dir, err))
		}
	}
	return errors.Join(errs...)
}

var closedTimeChan = func() <-chan time.Time {
	ch := make(chan time.Time)
	close(ch)
	return ch
}()

// start launches one member process with its output going to logPath.
func start(binary string, args []string, m *Member) error {
	logFile, err := os.Create(m.LogPath)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = memberProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("cluster: starting %s: %w", binary, err)
	}
	m.cmd = cmd
	m.exited = make(chan struct{})
	go func() {
		m.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(m.exited)
	}()
	return nil
}

// launch makes the cluster's directory and starts each member; args gives
// a member's command line. On failure it stops what it started.
func launch(kind Kind, o Options, members []*Member, args func(i int) []string) (*Cluster, error) {
	if _, err := os.Stat(o.Binary); err != nil {
		return nil, fmt.Errorf("cluster: %s binary: %w", kind, err)
	}
	dir, err := os.MkdirTemp(o.DataRoot, "raftlab-bench-"+string(kind)+"-")
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c := &Cluster{Kind: kind, opts: o, dir: dir}
	for i, m := range members {
		m.DataDir = fmt.Sprintf("%s/member-%s", dir, m.Name)
		m.LogPath = fmt.Sprintf("%s/member-%s.log", dir, m.Name)
		if err := start(o.Binary, append(args(i), o.ExtraArgs...), m); err != nil {
			_ = c.Stop()
			return nil, err
		}
		c.Members = append(c.Members, m)
	}
	return c, nil
}

// failStart stops a cluster that did not come up and returns err with
// each member's log tail, read before the directory goes.
func (c *Cluster) failStart(err error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%v", err)
	for _, m := range c.Members {
		state := "running"
		if exited, werr := m.Exited(); exited {
			state = fmt.Sprintf("exited: %v", werr)
		}
		fmt.Fprintf(&b, "\n--- %s member %s (pid %d, %s), last lines of its log:\n%s", c.Kind, m.Name, m.PID(), state, m.LogTail(15))
	}
	_ = c.Stop()
	return errors.New(b.String())
}

// waitFor polls check every 50 ms until it returns nil, the timeout passes,
// ctx ends or a member exits; the error says which, with check's last error.
func (c *Cluster) waitFor(ctx context.Context, what string, check func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReadyTimeout)
	defer cancel()
	var last error
	for {
		for _, m := range c.Members {
			if exited, err := m.Exited(); exited {
				return fmt.Errorf("cluster: %s member %s exited while waiting for %s: %v", c.Kind, m.Name, what, err)
			}
		}
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: %s: no %s after %v: %v", c.Kind, what, c.opts.ReadyTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// httpDo sends one request and returns the status and up to 64 KiB of the
// body.
func httpDo(ctx context.Context, hc *http.Client, method, url string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, err
}

// agree folds one member's view of the leader (seen) into lead: an error
// while the member knows none or disagrees with the members before it.
func agree(lead *uint64, member string, seen uint64) error {
	switch {
	case seen == 0:
		return fmt.Errorf("member %s knows no leader", member)
	case *lead != 0 && seen != *lead:
		return fmt.Errorf("members disagree on the leader (%d, %d)", *lead, seen)
	}
	*lead = seen
	return nil
}

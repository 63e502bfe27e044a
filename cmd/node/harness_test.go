//go:build unix

package main

// The harness runs real raftnode processes on 127.0.0.1 for the tests of
// this package, and is meant to be reused by a robustness suite (fault
// injection, history checking with porcupine):
//
//   - TestMain builds the binary once (bin: raftnodeBin).
//   - StartCluster starts a new cluster of N members, each a process with
//     its own loopback port and t.TempDir() data dir; NewMember prepares
//     one more (to --join). Every process is killed when the test ends, and
//     a failing test prints the tail of each member's log.
//   - Member: Start, Stop (SIGTERM), Kill (kill -9), Pause and Resume
//     (SIGSTOP, SIGCONT), Restart, WaitExit; Status (/cluster), Metrics
//     (/metrics), Events (/events), Do (any request).
//   - Client records every request it makes (Op: call and return times,
//     outcome): a history a linearizability checker can take.
//   - waitFor polls with a deadline. Nothing here sleeps and then asserts,
//     and no test asserts on a duration: durations are measured and logged.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/raftlab/raftlab/core"
)

// raftnodeBin is the binary under test, built by TestMain; "" when the run
// does not need it (fuzzing).
var raftnodeBin string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if !fuzzing() {
			dir, err := os.MkdirTemp("", "raftnode-test-")
			if err != nil {
				fmt.Fprintln(os.Stderr, "harness:", err)
				return 1
			}
			defer os.RemoveAll(dir)
			bin := filepath.Join(dir, "raftnode")
			cmd := exec.Command(goTool(), "build", "-o", bin, ".")
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "harness: building raftnode:", err)
				return 1
			}
			raftnodeBin = bin
		}
		return m.Run()
	}()
	os.Exit(code)
}

// fuzzing reports whether this process fuzzes (the coordinator or a
// worker): it runs no member process, so it builds no binary.
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

// goTool returns the go command that runs this test.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// needBinary skips t when the binary was not built.
func needBinary(t testing.TB) {
	t.Helper()
	if raftnodeBin == "" {
		t.Skip("raftnode binary not built (fuzzing run)")
	}
}

// Timeouts of the harness. They bound polls, which return as soon as their
// condition holds: generous, because `go test ./...` runs other packages
// (Chromium, Badger) on the same two cores.
const (
	waitTimeout   = 30 * time.Second
	pollEvery     = 10 * time.Millisecond
	statusTimeout = 2 * time.Second
)

// waitFor polls cond until it returns true or timeout passes; cond's
// string says what it saw last, for the failure message.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last: %s)", timeout, what, last)
		}
		time.Sleep(pollEvery)
	}
}

// ClusterOptions configures StartCluster.
type ClusterOptions struct {
	// Size is the number of members of the new cluster (ids 1..Size).
	Size int
	// Token is the cluster token; "" picks one.
	Token string
	// AdminToken is every member's --admin-token; "" leaves admin open.
	AdminToken string
	// Flags are given to every member, after the harness's own (a later
	// flag wins): --tick, --snapshot-entries...
	Flags []string
	// TLS makes every member serve https:// and wss:// with a certificate
	// for 127.0.0.1 from a CA the harness makes, which members (--tls-ca)
	// and the harness's clients trust.
	TLS bool
	// Bin is the binary the members run; "" is raftnodeBin.
	Bin string
	// Env is added to every member's environment.
	Env []string
	// BeforeStart, if set, is called by StartCluster with each member
	// before any starts: it may set the member's Advertise (a proxy).
	BeforeStart func(*Member)
}

// Cluster is a set of raftnode processes of one cluster.
type Cluster struct {
	t       testing.TB
	opts    ClusterOptions
	dir     string      // members' data dirs and logs
	tls     *tls.Config // clients' TLS config (ClusterOptions.TLS), else nil
	scheme  string      // of members' URLs: http or https
	base    time.Time   // clients' time origin
	mu      sync.Mutex
	members map[uint64]*Member
	clients int
}

// StartCluster starts a new cluster and waits until it has a leader.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	c := NewCluster(t, opts)
	var initial []string
	for id := uint64(1); id <= uint64(opts.Size); id++ {
		m := c.newMember(id)
		if opts.BeforeStart != nil {
			opts.BeforeStart(m)
		}
		initial = append(initial, fmt.Sprintf("%d=%s", id, m.PeerURL()))
	}
	for _, m := range c.Members() {
		m.Mode = []string{"--initial-cluster", strings.Join(initial, ",")}
		m.Start(t)
	}
	c.Leader(t)
	return c
}

// NewCluster returns a cluster with no member yet: add them with
// NewMember, give each a Mode and start them.
func NewCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	needBinary(t)
	if opts.Token == "" {
		opts.Token = "test-cluster-token-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	// The cluster's directory is made before the cleanup that kills the
	// members and prints their logs is registered, so it is removed after.
	c := &Cluster{t: t, opts: opts, dir: t.TempDir(), scheme: "http", base: time.Now(), members: map[uint64]*Member{}}
	if opts.TLS {
		c.scheme = "https"
		c.tls = makeTestCA(t, c.dir)
		c.opts.Flags = append([]string{
			"--tls-cert", filepath.Join(c.dir, "member.pem"),
			"--tls-key", filepath.Join(c.dir, "member.key"),
			"--tls-ca", filepath.Join(c.dir, "ca.pem"),
		}, c.opts.Flags...)
	}
	t.Cleanup(func() {
		for _, m := range c.Members() {
			m.killQuietly()
		}
		if t.Failed() {
			for _, m := range c.Members() {
				t.Logf("member %d log (last lines of %s):\n%s", m.ID, m.LogPath, m.LogTail(60))
			}
		}
	})
	return c
}

// NewMember prepares member id with a port, a data dir and the cluster's
// flags, not started. Give it a Mode (--join URL, --initial-cluster ...)
// and Start it.
func (c *Cluster) NewMember(id uint64, extra ...string) *Member {
	m := c.newMember(id)
	m.Extra = append(m.Extra, extra...)
	return m
}

func (c *Cluster) newMember(id uint64) *Member {
	t := c.t
	t.Helper()
	addr := freeAddr(t)
	dir := filepath.Join(c.dir, fmt.Sprintf("member-%d", id))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := &Member{
		ID:      id,
		Addr:    addr,
		URL:     c.scheme + "://" + addr,
		DataDir: filepath.Join(dir, "data"),
		LogPath: filepath.Join(dir, "member.log"),
		Token:   c.opts.Token,
		Admin:   c.opts.AdminToken,
		Extra:   slices.Clone(c.opts.Flags),
		Bin:     c.opts.Bin,
		Env:     slices.Clone(c.opts.Env),
		tls:     c.tls,
		http:    &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, TLSClientConfig: c.tls}},
	}
	c.mu.Lock()
	c.members[id] = m
	c.mu.Unlock()
	return m
}

// Member returns member id.
func (c *Cluster) Member(id uint64) *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[id]
	if m == nil {
		c.t.Fatalf("no member %d", id)
	}
	return m
}

// Members returns every member the harness made, by id.
func (c *Cluster) Members() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ms []*Member
	for _, m := range c.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *Member) int { return int(a.ID) - int(b.ID) })
	return ms
}

// Running returns the members whose process runs (paused ones included).
func (c *Cluster) Running() []*Member {
	var ms []*Member
	for _, m := range c.Members() {
		if m.Running() {
			ms = append(ms, m)
		}
	}
	return ms
}

// Responsive returns the members that run and are not paused: those whose
// answers a poll can wait for.
func (c *Cluster) Responsive() []*Member {
	var ms []*Member
	for _, m := range c.Running() {
		if !m.Paused() {
			ms = append(ms, m)
		}
	}
	return ms
}

// Leader waits until the responsive members agree on a leader: it says it
// leads, and every other one that answers names it. Members that were
// removed (their process exited) or are paused do not count.
func (c *Cluster) Leader(t testing.TB) *Member {
	t.Helper()
	var leader *Member
	waitFor(t, waitTimeout, "a leader the running members agree on", func() (bool, string) {
		l, why := c.agreedLeader()
		leader = l
		return l != nil, why
	})
	return leader
}

// agreedLeader returns the leader the running members agree on, or nil and
// what they said.
func (c *Cluster) agreedLeader() (*Member, string) {
	var (
		leads []uint64
		views []string
		lead  *Member
	)
	for _, m := range c.Responsive() {
		st, err := m.Status()
		if err != nil {
			views = append(views, fmt.Sprintf("%d: %v", m.ID, err))
			continue
		}
		views = append(views, fmt.Sprintf("%d: %s term %d lead %d", m.ID, st.Role, st.Term, st.Leader))
		if !slices.ContainsFunc(st.Members, func(x core.Member) bool { return x.ID == m.ID }) {
			continue // joining, or removed and on its way out
		}
		leads = append(leads, st.Leader)
		if st.Role == "leader" {
			lead = m
		}
	}
	why := strings.Join(views, "; ")
	if lead == nil || !lead.Running() {
		return nil, why
	}
	for _, l := range leads {
		if l != lead.ID {
			return nil, why
		}
	}
	return lead, why
}

// WaitNewLeader polls the running members until one of them leads in a
// term above term, and returns it and how long that took since since.
func (c *Cluster) WaitNewLeader(t testing.TB, term uint64, since time.Time) (*Member, time.Duration) {
	t.Helper()
	var leader *Member
	waitFor(t, waitTimeout, fmt.Sprintf("a leader in a term above %d", term), func() (bool, string) {
		var views []string
		for _, m := range c.Responsive() {
			st, err := m.Status()
			if err != nil {
				views = append(views, fmt.Sprintf("%d: %v", m.ID, err))
				continue
			}
			views = append(views, fmt.Sprintf("%d: %s term %d", m.ID, st.Role, st.Term))
			if st.Role == "leader" && st.Term > term {
				leader = m
				return true, ""
			}
		}
		return false, strings.Join(views, "; ")
	})
	return leader, time.Since(since)
}

// Followers returns the responsive members other than leader.
func (c *Cluster) Followers(t testing.TB, leader *Member) []*Member {
	var fs []*Member
	for _, m := range c.Responsive() {
		if m != leader {
			fs = append(fs, m)
		}
	}
	return fs
}

// Member is one raftnode process, restartable with the same flags and data
// dir.
type Member struct {
	ID      uint64
	Addr    string // 127.0.0.1:port it listens on
	URL     string // http://Addr (https:// with TLS), its advertised URL
	DataDir string
	LogPath string // its stderr, every run appended
	Token   string
	Admin   string
	// Mode is how it finds its cluster: --initial-cluster ... or --join
	// URL. A restart passes it again (existing data wins).
	Mode []string
	// Extra are more flags, after the others.
	Extra []string
	// Advertise, when set, is the URL the member advertises to its peers
	// (--advertise-url), a proxy in front of URL; clients still use URL.
	Advertise string
	// Bin is the binary it runs ("" is raftnodeBin); Env is added to its
	// environment.
	Bin string
	Env []string

	http *http.Client
	tls  *tls.Config

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process exits
	state  *os.ProcessState
	paused bool // SIGSTOPped
	runs   int
}

// Args returns the command line the member starts with.
func (m *Member) Args() []string {
	args := []string{
		"--id", strconv.FormatUint(m.ID, 10),
		"--listen", m.Addr,
		"--data-dir", m.DataDir,
		"--cluster-token", m.Token,
	}
	if m.Admin != "" {
		args = append(args, "--admin-token", m.Admin)
	}
	if m.Advertise != "" {
		args = append(args, "--advertise-url", m.Advertise)
	}
	args = append(args, m.Mode...)
	return append(args, m.Extra...)
}

// Start starts the process and waits until it serves HTTP. It fails the
// test if the process exits first.
func (m *Member) Start(t testing.TB) {
	t.Helper()
	m.StartNoWait(t)
	m.WaitServing(t)
}

// StartNoWait starts the process and returns at once.
func (m *Member) StartNoWait(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil && m.state == nil {
		t.Fatalf("member %d: already running", m.ID)
	}
	logf, err := os.OpenFile(m.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	m.runs++
	fmt.Fprintf(logf, "=== harness: run %d: raftnode %s\n", m.runs, strings.Join(m.Args(), " "))
	bin := m.Bin
	if bin == "" {
		bin = raftnodeBin
	}
	cmd := exec.Command(bin, m.Args()...)
	if len(m.Env) > 0 {
		cmd.Env = append(os.Environ(), m.Env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("member %d: %v", m.ID, err)
	}
	exited := make(chan struct{})
	m.cmd, m.state, m.exited, m.paused = cmd, nil, exited, false
	go func() {
		_ = cmd.Wait()
		logf.Close()
		m.mu.Lock()
		m.state = cmd.ProcessState
		m.mu.Unlock()
		close(exited)
	}()
}

// WaitServing waits until the member answers HTTP (any status).
func (m *Member) WaitServing(t testing.TB) {
	t.Helper()
	waitFor(t, waitTimeout, fmt.Sprintf("member %d to serve HTTP", m.ID), func() (bool, string) {
		if !m.Running() {
			t.Fatalf("member %d exited (%s) before serving:\n%s", m.ID, m.ExitState(), m.LogTail(30))
		}
		resp, err := m.http.Get(m.URL + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return true, ""
	})
}

// PeerURL returns the URL the member's peers reach it at: Advertise, or
// URL.
func (m *Member) PeerURL() string {
	if m.Advertise != "" {
		return m.Advertise
	}
	return m.URL
}

// Running reports whether the member's process runs (or is paused).
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cmd != nil && m.state == nil
}

// Paused reports whether the member was paused (SIGSTOP) and not resumed.
func (m *Member) Paused() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.paused && m.cmd != nil && m.state == nil
}

// PID returns the process id of the current run, 0 if none.
func (m *Member) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil || m.state != nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// signal sends sig to the running process.
func (m *Member) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	m.mu.Lock()
	cmd, running := m.cmd, m.cmd != nil && m.state == nil
	m.mu.Unlock()
	if !running {
		t.Fatalf("member %d: not running", m.ID)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatalf("member %d: %v: %v", m.ID, sig, err)
	}
}

// Kill kills the process with SIGKILL (kill -9) and waits for it to be
// gone.
func (m *Member) Kill(t testing.TB) {
	t.Helper()
	m.signal(t, syscall.SIGKILL)
	m.WaitExit(t, waitTimeout)
}

// Stop sends SIGTERM and returns the exit code once the process exited.
func (m *Member) Stop(t testing.TB) int {
	t.Helper()
	m.signal(t, syscall.SIGTERM)
	return m.WaitExit(t, waitTimeout)
}

// Pause stops the process with SIGSTOP: it keeps its sockets and state but
// does nothing, like a machine that hangs. Resume continues it.
func (m *Member) Pause(t testing.TB) {
	t.Helper()
	m.signal(t, syscall.SIGSTOP)
	m.setPaused(true)
}

func (m *Member) Resume(t testing.TB) {
	t.Helper()
	m.signal(t, syscall.SIGCONT)
	m.setPaused(false)
}

func (m *Member) setPaused(p bool) {
	m.mu.Lock()
	m.paused = p
	m.mu.Unlock()
}

// Restart kills the process if it runs and starts it again with the same
// flags and data dir.
func (m *Member) Restart(t testing.TB) {
	t.Helper()
	if m.Running() {
		m.Kill(t)
	}
	m.Start(t)
}

// WaitExit waits until the process exits and returns its exit code (-1
// when a signal ended it).
func (m *Member) WaitExit(t testing.TB, timeout time.Duration) int {
	t.Helper()
	m.mu.Lock()
	exited := m.exited
	m.mu.Unlock()
	if exited == nil {
		t.Fatalf("member %d never started", m.ID)
	}
	select {
	case <-exited:
	case <-time.After(timeout):
		t.Fatalf("member %d still runs after %v", m.ID, timeout)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.ExitCode()
}

// ExitState describes how the last run ended.
func (m *Member) ExitState() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == nil {
		return "running"
	}
	return m.state.String()
}

// killQuietly kills a running process at cleanup.
func (m *Member) killQuietly() {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	running := cmd != nil && m.state == nil
	m.mu.Unlock()
	if !running {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
}

// LogTail returns the last n lines of the member's log.
func (m *Member) LogTail(n int) string {
	b, err := os.ReadFile(m.LogPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Log returns the member's whole log.
func (m *Member) Log() string {
	b, _ := os.ReadFile(m.LogPath)
	return string(b)
}

// Response is an HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// APIError returns the "error" of a JSON error body, "" if none.
func (r Response) APIError() string {
	var e apiError
	_ = json.Unmarshal(r.Body, &e)
	return e.Error
}

func (r Response) String() string {
	return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body))
}

// Do sends a request to the member; header is a list of name, value pairs.
// A transport error is returned as err.
func (m *Member) Do(method, path string, body []byte, header ...string) (Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, m.URL+path, rd)
	if err != nil {
		return Response{}, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// MustDo is Do that fails the test on a transport error.
func (m *Member) MustDo(t testing.TB, method, path string, body []byte, header ...string) Response {
	t.Helper()
	r, err := m.Do(method, path, body, header...)
	if err != nil {
		t.Fatalf("member %d: %s %s: %v", m.ID, method, path, err)
	}
	return r
}

// AdminDo sends an admin request with the member's admin token, body as JSON.
func (m *Member) AdminDo(t testing.TB, method, path string, body any) Response {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	return m.MustDo(t, method, path, b, "Authorization", "Bearer "+m.Admin, "Content-Type", "application/json")
}

// Status returns the member's own view (GET /cluster?local=1). It waits
// at most statusTimeout: polls must not hang on a member that hangs.
func (m *Member) Status() (clusterStatus, error) {
	var cs clusterStatus
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL+"/cluster?local=1", nil)
	if err != nil {
		return cs, err
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return cs, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return cs, err
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if r.Status != http.StatusOK {
		return cs, fmt.Errorf("GET /cluster: %s", r)
	}
	return cs, json.Unmarshal(r.Body, &cs)
}

// MustStatus is Status that fails the test on error.
func (m *Member) MustStatus(t testing.TB) clusterStatus {
	t.Helper()
	st, err := m.Status()
	if err != nil {
		t.Fatalf("member %d: %v", m.ID, err)
	}
	return st
}

// WaitApplied waits until the member applied index.
func (m *Member) WaitApplied(t testing.TB, index uint64) {
	t.Helper()
	waitFor(t, waitTimeout, fmt.Sprintf("member %d to apply %d", m.ID, index), func() (bool, string) {
		st, err := m.Status()
		if err != nil {
			return false, err.Error()
		}
		return st.Applied >= index, fmt.Sprintf("applied %d", st.Applied)
	})
}

// Metrics returns the member's Prometheus samples by series, as written
// (`raftlab_messages_dropped_total{reason="inbox full"}`).
func (m *Member) Metrics(t testing.TB) map[string]float64 {
	t.Helper()
	r := m.MustDo(t, http.MethodGet, "/metrics", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("member %d: /metrics: %s", m.ID, r)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// EventsFromNow, as since, skips the member's history: the stream starts
// with what happens after it opened.
const EventsFromNow = ^uint64(0)

// EventStream reads a member's /events in the background.
type EventStream struct {
	Hello streamHello
	conn  *websocket.Conn
	keep  func(core.Event) bool
	done  chan struct{}

	mu     sync.Mutex
	events []core.Event
	err    error
}

// Events opens the member's event stream after event since (0: all the
// history it keeps; EventsFromNow: none of it). keep selects what the
// stream records (nil: everything); the stream closes when the test ends.
func (m *Member) Events(t testing.TB, since uint64, keep func(core.Event) bool) *EventStream {
	t.Helper()
	u := "ws://" + m.Addr + "/events"
	if m.tls != nil {
		u = "wss://" + m.Addr + "/events"
	}
	if since != EventsFromNow && since > 0 {
		u += "?since=" + strconv.FormatUint(since, 10)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: m.tls}
	conn, resp, err := d.Dial(u, nil)
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("member %d: /events: %v %s", m.ID, err, status)
	}
	es := &EventStream{conn: conn, keep: keep, done: make(chan struct{})}
	var hello streamFrame
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := conn.ReadJSON(&hello); err != nil || hello.Hello == nil {
		conn.Close()
		t.Fatalf("member %d: /events: no hello: %v", m.ID, err)
	}
	conn.SetReadDeadline(time.Time{})
	es.Hello = *hello.Hello
	skipTo := uint64(0)
	if since == EventsFromNow {
		skipTo = es.Hello.Last
	}
	go es.read(skipTo)
	t.Cleanup(es.Close)
	return es
}

func (es *EventStream) read(skipTo uint64) {
	defer close(es.done)
	for {
		var f streamFrame
		if err := es.conn.ReadJSON(&f); err != nil {
			es.mu.Lock()
			es.err = err
			es.mu.Unlock()
			return
		}
		es.mu.Lock()
		for _, e := range f.Events {
			if e.Seq > skipTo && (es.keep == nil || es.keep(e)) {
				es.events = append(es.events, e)
			}
		}
		es.mu.Unlock()
	}
}

// Close closes the stream and waits for its reader.
func (es *EventStream) Close() {
	es.conn.Close()
	<-es.done
}

// WaitEnd waits until the member ended the stream (it stopped, or cut
// the stream off) and the reader recorded everything before the end.
func (es *EventStream) WaitEnd(t testing.TB) {
	t.Helper()
	select {
	case <-es.done:
	case <-time.After(waitTimeout):
		t.Fatalf("event stream still open after %v", waitTimeout)
	}
}

// Recorded returns the events recorded so far.
func (es *EventStream) Recorded() []core.Event {
	es.mu.Lock()
	defer es.mu.Unlock()
	return slices.Clone(es.events)
}

// Err returns why the stream ended, nil while it runs.
func (es *EventStream) Err() error {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.err
}

// WaitFor waits for a recorded event that pred accepts and returns the
// first one.
func (es *EventStream) WaitFor(t testing.TB, what string, pred func(core.Event) bool) core.Event {
	t.Helper()
	var found core.Event
	waitFor(t, waitTimeout, what, func() (bool, string) {
		es.mu.Lock()
		defer es.mu.Unlock()
		for _, e := range es.events {
			if pred(e) {
				found = e
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events recorded, stream error %v", len(es.events), es.err)
	})
	return found
}

// Op is one client request as a history records it: what was asked, of
// which member, when it was called and when it returned (since the
// cluster's start, monotonic), and how it ended.
type Op struct {
	Client int
	// Kind is "put", "get" or "delete".
	Kind   string
	Key    string
	Value  string // written (put) or read (get, when found)
	Member uint64
	// Consistency of a get: "" (linearizable) or "serializable".
	Consistency  string
	Call, Return time.Duration
	// Status is the HTTP status, 0 when the request got no answer (then
	// Err says why: the write may still have happened).
	Status int
	Index  uint64
	Err    string
}

// OK reports whether the request succeeded: a 200 (or a get's 404, which
// says the key is absent).
func (o Op) OK() bool {
	return o.Status == http.StatusOK || (o.Kind == "get" && o.Status == http.StatusNotFound)
}

// Found reports whether a get found its key.
func (o Op) Found() bool { return o.Kind == "get" && o.Status == http.StatusOK }

func (o Op) String() string {
	s := fmt.Sprintf("client %d %s %s on %d: %d", o.Client, o.Kind, o.Key, o.Member, o.Status)
	if o.Err != "" {
		s += " " + o.Err
	}
	return s
}

// Client sends KV requests and records each in its history. It is safe
// for concurrent use, but a history checker wants one goroutine per
// client, each with one request at a time.
type Client struct {
	ID   int
	base time.Time
	http *http.Client

	mu  sync.Mutex
	ops []Op
}

// NewClient returns a new client of the cluster, numbered in order.
func (c *Cluster) NewClient() *Client {
	c.mu.Lock()
	c.clients++
	id := c.clients
	c.mu.Unlock()
	return &Client{ID: id, base: c.base, http: &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true, TLSClientConfig: c.tls},
	}}
}

// Put writes key=value through m.
func (cl *Client) Put(m *Member, key, value string) Op {
	return cl.do(m, Op{Kind: "put", Key: key, Value: value}, http.MethodPut, "/kv/"+url.PathEscape(key), []byte(value))
}

// Delete deletes key through m.
func (cl *Client) Delete(m *Member, key string) Op {
	return cl.do(m, Op{Kind: "delete", Key: key}, http.MethodDelete, "/kv/"+url.PathEscape(key), nil)
}

// Get reads key on m: linearizable unless consistency is "serializable".
func (cl *Client) Get(m *Member, key, consistency string) Op {
	path := "/kv/" + url.PathEscape(key)
	if consistency != "" {
		path += "?consistency=" + consistency
	}
	return cl.do(m, Op{Kind: "get", Key: key, Consistency: consistency}, http.MethodGet, path, nil)
}

func (cl *Client) do(m *Member, op Op, method, path string, body []byte) Op {
	op.Client, op.Member = cl.ID, m.ID
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cl.http.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, m.URL+path, rd)
	if err != nil {
		panic(err)
	}
	op.Call = time.Since(cl.base)
	resp, err := cl.http.Do(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			op.Status = resp.StatusCode
			switch {
			case op.Kind == "get" && resp.StatusCode == http.StatusOK:
				op.Value = string(b)
				op.Index, _ = strconv.ParseUint(resp.Header.Get("X-Raftlab-Index"), 10, 64)
			case resp.StatusCode == http.StatusOK:
				var ix struct{ Index uint64 }
				_ = json.Unmarshal(b, &ix)
				op.Index = ix.Index
			default:
				op.Err = Response{Body: b}.APIError()
			}
		}
	}
	op.Return = time.Since(cl.base)
	if err != nil {
		op.Status, op.Err = 0, err.Error()
	}
	cl.mu.Lock()
	cl.ops = append(cl.ops, op)
	cl.mu.Unlock()
	return op
}

// History returns every request the client made, in call order.
func (cl *Client) History() []Op {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return slices.Clone(cl.ops)
}

// MustPut writes key=value through m, retrying while the cluster answers
// 503 (no leader yet), and fails the test otherwise.
func (cl *Client) MustPut(t testing.TB, m *Member, key, value string) Op {
	t.Helper()
	var op Op
	waitFor(t, waitTimeout, fmt.Sprintf("put %s through member %d", key, m.ID), func() (bool, string) {
		op = cl.Put(m, key, value)
		if op.Status == http.StatusOK {
			return true, ""
		}
		if op.Status != http.StatusServiceUnavailable && op.Status != 0 {
			t.Fatalf("put %s through member %d: %s", key, m.ID, op)
		}
		return false, op.String()
	})
	return op
}

// WantValue fails the test unless a get of key on m returns value.
func (cl *Client) WantValue(t testing.TB, m *Member, key, consistency, value string) {
	t.Helper()
	op := cl.Get(m, key, consistency)
	if !op.Found() || op.Value != value {
		t.Fatalf("member %d: get %s (%q): %s, value %q, want %q", m.ID, key, consistency, op, op.Value, value)
	}
}

// WaitValue waits until a get of key on m returns value.
func (cl *Client) WaitValue(t testing.TB, m *Member, key, consistency, value string) {
	t.Helper()
	waitFor(t, waitTimeout, fmt.Sprintf("member %d to read %s=%q (%s)", m.ID, key, value, consistency), func() (bool, string) {
		op := cl.Get(m, key, consistency)
		return op.Found() && op.Value == value, fmt.Sprintf("%s value %q", op, op.Value)
	})
}

// makeTestCA writes a new CA (ca.pem) and a certificate for 127.0.0.1 and
// localhost signed by it (member.pem, member.key) into dir, and returns a
// client TLS config that trusts the CA.
func makeTestCA(t testing.TB, dir string) *tls.Config {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, memberKey := newKey(), newKey()
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "raftlab test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "raftlab test member"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &memberKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(memberKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("member.pem", "CERTIFICATE", leafDER)
	write("member.key", "EC PRIVATE KEY", keyDER)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

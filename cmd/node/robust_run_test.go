//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Traffic, as etcd's robustness suite drives it.
const (
	trafficClients = 8
	pinnedClients  = 6 // each talks to one member; the others to any
	trafficKeys    = 10
	// trafficRate is the rate the clients aim at together; the checks
	// want 100 ops/s before the fault at least.
	trafficRate   = 320
	minRateBefore = 100
	// phase is the traffic before and after the fault, +- phaseJitter.
	phase       = time.Second
	phaseJitter = 200 * time.Millisecond
	// clientTimeout bounds a request; the members' --request-timeout is
	// below it, so most slow requests end with the member's 504.
	clientTimeout  = 4 * time.Second
	requestTimeout = "2s"
	// recoveryBound is the generous bound a run must recover within;
	// the figure itself is measured and reported (the goal is 5 s).
	recoveryBound = 30 * time.Second
)

// run is one run of one cell: its cluster, network, traffic and findings.
type robustRun struct {
	t    *testing.T
	cell cell
	seed int64
	rng  *rand.Rand
	c    *Cluster
	net  *network // nil without a proxy
	rep  *runReport

	mu sync.Mutex
	// slots are the members the pinned clients talk to, by slot: a
	// member replaced (remove and re-add) hands its slot to its
	// successor.
	slots   []*Member
	watches []*eventWatch
	clients []*Client
	extra   *Client // final write and reads

	// Timeline, since the cluster's base (the clients' clock).
	trafficStart, faultStart, faultEnd, trafficEnd time.Duration
	// leaderHit says the fault hit the leader (term0 was its term), so a
	// new leader is measured.
	leaderHit bool
	term0     uint64
	// leaders records the (time, term) of leaders the poller saw.
	leaders []leaderSeen
}

type leaderSeen struct {
	at     time.Duration
	member uint64
	term   uint64
}

func (r *robustRun) now() time.Duration { return time.Since(r.c.base) }

func (r *robustRun) errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Errors = append(r.rep.Errors, fmt.Sprintf(format, args...))
}

func (r *robustRun) violation(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Violations = append(r.rep.Violations, fmt.Sprintf(format, args...))
}

// runCell runs one cell once with seed and returns its report; a failed
// run fails t too.
func runCell(t *testing.T, c cell, seed int64) *runReport {
	started := time.Now()
	r := &robustRun{t: t, cell: c, seed: seed, rng: rngFor(seed), rep: &runReport{Cell: c.name(), Seed: seed}}
	t.Logf("cell %s seed %d (reproduce: RAFTLAB_ROBUST_CELLS='^%s$' RAFTLAB_ROBUST_SEED=%d go test -run TestRobustness ./cmd/node)", c.name(), seed, regexp_quote(c.name()), seed)
	f := c.fault
	opts := ClusterOptions{
		Size:       c.size,
		AdminToken: "robust-admin",
		Flags:      append([]string{"--tick", "50ms", "--request-timeout", requestTimeout}, f.flags...),
	}
	if f.failpoint != "" {
		opts.Bin = failpointBinary(t)
		opts.Env = []string{"RAFTLAB_FAILPOINT=" + f.failpoint, "RAFTLAB_FAILPOINT_ARM=SIGUSR1"}
	}
	if f.proxied {
		r.net = newNetwork(uint64(seed))
		opts.BeforeStart = func(m *Member) {
			p := r.net.addProxy(t, m.ID, m.Addr)
			m.Advertise = "http://" + p.Addr
		}
	}
	r.c = StartCluster(t, opts)
	r.slots = r.c.Members()
	for _, m := range r.slots {
		r.watch(m)
	}
	for range trafficClients {
		cl := r.c.NewClient()
		cl.http.Timeout = clientTimeout
		r.clients = append(r.clients, cl)
	}
	r.extra = r.c.NewClient()
	r.extra.http.Timeout = clientTimeout

	// Traffic, a leader poller, and the fault in between.
	stopTraffic := make(chan struct{})
	var traffic sync.WaitGroup
	r.trafficStart = r.now()
	for i, cl := range r.clients {
		traffic.Add(1)
		go func() {
			defer traffic.Done()
			r.drive(i, cl, stopTraffic, rand.New(rand.NewPCG(uint64(seed), uint64(i))))
		}()
	}
	pollCtx, stopPoll := context.WithCancel(context.Background())
	var poller sync.WaitGroup
	poller.Add(1)
	go func() { defer poller.Done(); r.pollLeaders(pollCtx) }()

	time.Sleep(jitter(r.rng, phase, phaseJitter))
	if lead, err := r.leader(); err == nil {
		st, _ := lead.Status()
		r.term0 = st.Term
	}
	r.faultStart = r.now()
	target, err := f.inject(r)
	r.faultEnd = r.now()
	r.rep.Target = target
	if err != nil {
		r.errorf("fault %s: %v", f.name, err)
	}
	time.Sleep(jitter(r.rng, phase, phaseJitter))
	close(stopTraffic)
	traffic.Wait()
	r.trafficEnd = r.now()
	stopPoll()
	poller.Wait()

	r.finish()
	r.rep.Took = time.Since(started)
	r.report()
	return r.rep
}

// regexp_quote quotes a cell name for the reproduction line.
func regexp_quote(s string) string {
	return strings.NewReplacer(".", `\.`, "+", `\+`).Replace(s)
}

// slot returns the member pinned client i talks to now.
func (r *robustRun) slot(i int) *Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.slots[i%len(r.slots)]
}

// replaceSlot hands old's slot to m.
func (r *robustRun) replaceSlot(old, m *Member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, s := range r.slots {
		if s == old {
			r.slots[i] = m
		}
	}
}

// members returns the members that are part of the run now (those whose
// slot they hold).
func (r *robustRun) members() []*Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.slots)
}

// drive is one client: one request at a time, paced to its share of
// trafficRate, until stop.
func (r *robustRun) drive(i int, cl *Client, stop <-chan struct{}, rng *rand.Rand) {
	interval := time.Second * trafficClients / trafficRate
	next := time.Now()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		var m *Member
		if i < pinnedClients {
			m = r.slot(i)
		} else {
			ms := r.members()
			m = ms[rng.IntN(len(ms))]
		}
		key := fmt.Sprintf("key-%d", rng.IntN(trafficKeys))
		switch p := rng.IntN(100); {
		case p < 40:
			cl.Put(m, key, fmt.Sprintf("c%d-%d", cl.ID, n))
		case p < 70:
			cl.Get(m, key, "")
		case p < 85:
			cl.Get(m, key, "serializable")
		default:
			cl.Delete(m, key)
		}
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			select {
			case <-stop:
				return
			case <-time.After(d):
			}
		} else {
			next = time.Now()
		}
	}
}

// pollLeaders records the leaders the responsive members report.
func (r *robustRun) pollLeaders(ctx context.Context) {
	for ctx.Err() == nil {
		for _, m := range r.c.Responsive() {
			st, err := m.Status()
			if err == nil && st.Role == "leader" {
				r.mu.Lock()
				r.leaders = append(r.leaders, leaderSeen{at: r.now(), member: m.ID, term: st.Term})
				r.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// leader returns a member that leads and that a majority of the run's
// members name as their leader (a member cut off by a fault may not),
// waiting for one.
func (r *robustRun) leader() (*Member, error) {
	deadline := time.Now().Add(recoveryBound)
	for {
		ms := r.members()
		named := map[uint64]int{}
		var views []string
		var leads []*Member
		for _, m := range ms {
			if !m.Running() || m.Paused() {
				continue
			}
			st, err := m.Status()
			if err != nil {
				views = append(views, fmt.Sprintf("%d: %v", m.ID, err))
				continue
			}
			views = append(views, fmt.Sprintf("%d: %s term %d lead %d", m.ID, st.Role, st.Term, st.Leader))
			named[st.Leader]++
			if st.Role == "leader" {
				leads = append(leads, m)
			}
		}
		for _, l := range leads {
			if named[l.ID] > len(ms)/2 {
				return l, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no leader after %v: %s", recoveryBound, strings.Join(views, "; "))
		}
		time.Sleep(pollEvery)
	}
}

// start starts m (again) and watches its events.
func (r *robustRun) start(m *Member) {
	m.Start(r.t)
	r.watch(m)
}

// history returns every request of the run, the final ones included.
func (r *robustRun) history() []Op {
	var ops []Op
	for _, cl := range append(slices.Clone(r.clients), r.extra) {
		ops = append(ops, cl.History()...)
	}
	slices.SortFunc(ops, func(a, b Op) int { return int(a.Call - b.Call) })
	return ops
}

// finish makes the final write, waits for the members to converge and
// runs every check.
func (r *robustRun) finish() {
	t := r.t
	// The final write must succeed.
	var final Op
	deadline := time.Now().Add(recoveryBound)
	for {
		lead, err := r.leader()
		if err != nil {
			r.violation("final write: %v", err)
			break
		}
		final = r.extra.Put(lead, "final", fmt.Sprintf("final-%d", r.seed))
		if final.OK() {
			break
		}
		if time.Now().After(deadline) {
			r.violation("final write failed until %v: %s", recoveryBound, final)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Figures.
	r.measure(final)
	// Every member at the same applied index, with the same state.
	digests := r.converge()
	// Final reads: linearizable through the leader (into the history),
	// and each member's own state, for the lost-write check.
	finals := map[uint64]map[string]Op{}
	if lead, err := r.leader(); err == nil {
		for k := range trafficKeys {
			r.extra.Get(lead, fmt.Sprintf("key-%d", k), "")
		}
	}
	for _, m := range r.members() {
		if !m.Running() {
			continue
		}
		finals[m.ID] = map[string]Op{}
		for k := range trafficKeys {
			key := fmt.Sprintf("key-%d", k)
			finals[m.ID][key] = r.extra.Get(m, key, "serializable")
		}
	}
	ops := r.history()
	for _, v := range checkSerializable(ops) {
		r.violation("%s", v)
	}
	for _, v := range checkLostWrites(ops, finals) {
		r.violation("%s", v)
	}
	r.checkEvents()
	res := checkLinearizable(ops)
	if !res.ok {
		r.violation("%s", res.why)
	}
	if r.failed() || os.Getenv("RAFTLAB_ROBUST_SAVE") != "" {
		r.save(ops, res, digests)
	}
	_ = t
}

func (r *robustRun) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rep.failed()
}

// measure computes the run's figures from its history.
func (r *robustRun) measure(final Op) {
	ops := r.history()
	rep := r.rep
	var before, during, after int
	for _, o := range ops {
		if o.Member == 0 || !o.OK() {
			continue
		}
		switch {
		case o.Return < r.faultStart:
			before++
		case o.Return < r.faultEnd:
			during++
		case o.Return < r.trafficEnd:
			after++
		}
	}
	rate := func(n int, from, to time.Duration) float64 {
		if to <= from {
			return 0
		}
		return float64(n) / (to - from).Seconds()
	}
	rep.Before = rate(before, r.trafficStart, r.faultStart)
	rep.During = rate(during, r.faultStart, r.faultEnd)
	rep.After = rate(after, r.faultEnd, r.trafficEnd)
	for _, o := range ops {
		rep.Ops++
		if o.OK() {
			rep.OK++
		}
	}
	if rep.Before < minRateBefore {
		r.errorf("traffic before the fault: %.0f ops/s, want %d at least", rep.Before, minRateBefore)
	}
	// Recovery: the first write called after the fault started that
	// succeeded (the final write at the latest).
	rec := time.Duration(-1)
	for _, o := range ops {
		if (o.Kind == "put" || o.Kind == "delete") && o.OK() && o.Call >= r.faultStart {
			if d := o.Return - r.faultStart; rec < 0 || d < rec {
				rec = d
			}
		}
	}
	if rec < 0 && final.OK() {
		rec = final.Return - r.faultStart
	}
	rep.Recovery = rec
	if rec < 0 || rec > recoveryBound {
		r.violation("no successful write within %v of the fault", recoveryBound)
	}
	if r.leaderHit {
		r.mu.Lock()
		for _, l := range r.leaders {
			if l.at >= r.faultStart && l.term > r.term0 {
				rep.NewLeader = l.at - r.faultStart
				break
			}
		}
		r.mu.Unlock()
	}
}

// converge waits until every running member reports the same applied
// index and state digest, and records a violation if they never do.
func (r *robustRun) converge() map[uint64]digestAnswer {
	var last map[uint64]digestAnswer
	deadline := time.Now().Add(recoveryBound)
	for {
		last = map[uint64]digestAnswer{}
		var views []string
		agree := true
		var first *digestAnswer
		for _, m := range r.members() {
			if !m.Running() {
				continue
			}
			resp, err := m.Do(http.MethodGet, "/cluster/digest", nil)
			var d digestAnswer
			if err == nil && resp.Status == http.StatusOK {
				err = json.Unmarshal(resp.Body, &d)
			} else if err == nil {
				err = fmt.Errorf("%s", resp)
			}
			if err != nil {
				views = append(views, fmt.Sprintf("%d: %v", m.ID, err))
				agree = false
				continue
			}
			last[m.ID] = d
			views = append(views, fmt.Sprintf("%d: applied %d keys %d hash %.12s", m.ID, d.Applied, d.Keys, d.Hash))
			if first == nil {
				first = &d
			} else if d.StateDigest != first.StateDigest {
				agree = false
			}
		}
		if agree && first != nil {
			return last
		}
		if time.Now().After(deadline) {
			// Same applied index and different states is divergence; a
			// member that never caught up is a liveness failure.
			sameIndex := map[uint64][]digestAnswer{}
			for _, d := range last {
				sameIndex[d.Applied] = append(sameIndex[d.Applied], d)
			}
			for idx, ds := range sameIndex {
				for _, d := range ds[1:] {
					if d.Hash != ds[0].Hash {
						r.violation("members %d and %d differ at applied index %d", ds[0].Member, d.Member, idx)
					}
				}
			}
			r.violation("members did not converge within %v: %s", recoveryBound, strings.Join(views, "; "))
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// save writes a failing run's history, porcupine's visualization, the
// digests and the members' logs under a directory it names.
func (r *robustRun) save(ops []Op, res linResult, digests map[uint64]digestAnswer) {
	dir := filepath.Join(robustOutDir(), fmt.Sprintf("%s-seed%d", strings.ReplaceAll(r.cell.name(), "/", "-"), r.seed))
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Logf("saving the run: %v", err)
		return
	}
	r.rep.Dir = dir
	write := func(name string, v any) {
		b, err := json.MarshalIndent(v, "", "  ")
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), b, 0o644)
		}
		if err != nil {
			r.t.Logf("saving %s: %v", name, err)
		}
	}
	write("history.json", savedHistory{
		Cell: r.cell.name(), Seed: r.seed, Target: r.rep.Target,
		TrafficStart: r.trafficStart, FaultStart: r.faultStart, FaultEnd: r.faultEnd, TrafficEnd: r.trafficEnd,
		Ops: ops,
	})
	write("report.json", r.rep)
	write("digests.json", digests)
	if res.visualize != nil {
		if err := res.visualize(filepath.Join(dir, "history.html")); err != nil {
			r.t.Logf("saving history.html: %v", err)
		}
	}
	for _, m := range r.c.Members() {
		if b, err := os.ReadFile(m.LogPath); err == nil {
			_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("member-%d.log", m.ID)), b, 0o644)
		}
	}
}

// savedHistory is history.json: enough to check a run again
// (TestRecheckSavedHistory).
type savedHistory struct {
	Cell                                           string
	Seed                                           int64
	Target                                         string
	TrafficStart, FaultStart, FaultEnd, TrafficEnd time.Duration
	Ops                                            []Op
}

// report logs the run's figures, and fails the test if the run failed.
func (r *robustRun) report() {
	rep := r.rep
	line := fmt.Sprintf("%s seed %d (%s): %d requests, %d ok; ops/s before %.0f, during %.0f, after %.0f; recovery %v",
		rep.Cell, rep.Seed, rep.Target, rep.Ops, rep.OK, rep.Before, rep.During, rep.After, rep.Recovery.Round(time.Millisecond))
	if rep.NewLeader > 0 {
		line += fmt.Sprintf(", new leader after %v", rep.NewLeader.Round(time.Millisecond))
	}
	if r.net != nil {
		line += fmt.Sprintf("; proxies forwarded %d, delayed %d, dropped %d messages", r.net.forwarded.Load(), r.net.delayed.Load(), r.net.dropped.Load())
	}
	r.t.Log(line)
	for _, v := range rep.Violations {
		r.t.Errorf("violation: %s", v)
	}
	for _, e := range rep.Errors {
		r.t.Errorf("run failed: %s", e)
	}
	if rep.failed() {
		r.t.Errorf("seed %d; history saved in %s", rep.Seed, rep.Dir)
	}
}

// failpointBinary builds raftnode with -tags failpoints, once.
var failpointBin struct {
	once sync.Once
	path string
	err  error
}

func failpointBinary(t testing.TB) string {
	t.Helper()
	failpointBin.once.Do(func() {
		dir := filepath.Dir(raftnodeBin)
		failpointBin.path = filepath.Join(dir, "raftnode-failpoints")
		out, err := runGo("build", "-tags", "failpoints", "-o", failpointBin.path, ".")
		if err != nil {
			failpointBin.err = fmt.Errorf("building raftnode -tags failpoints: %v\n%s", err, out)
		}
	})
	if failpointBin.err != nil {
		t.Fatal(failpointBin.err)
	}
	return failpointBin.path
}

// runGo runs the go command in this package's directory.
func runGo(args ...string) ([]byte, error) {
	return exec.Command(goTool(), args...).CombinedOutput()
}

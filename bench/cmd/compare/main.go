// Command compare measures Raftlab against etcd on this machine, side by
// side: for each round it starts a fresh three-member cluster of each
// system in turn (A B C, A B C, ...), drives it with 1 client (through the
// leader, then through a follower) and then 64 closed-loop clients spread
// over the members, writing 256 B values, and stops it; then it prints
// the medians over the rounds, the ratios Raftlab/etcd, the members' RSS
// and Raftlab's entries per fsync. Rounds alternate because one run's
// figures move by tens of percent on a shared machine: only figures
// measured in the same run compare.
//
// The systems are Raftlab's HTTP KV API (bin/raftnode), etcd with its gRPC
// client, and etcd through its HTTP/JSON gateway (bin/etcdmember, both
// built by make bench-cluster). Figures are printed, never asserted; the
// exit code is 1 when a cluster does not start or a run has no successful
// write, 2 on a bad command line.
//
//	make bench-cluster   # the full comparison, a few minutes
//	make bench-smoke     # one short round, about 10 s, for CI
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/raftlab/raftlab/bench/cluster"
	"github.com/raftlab/raftlab/bench/load"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is the comparison's settings, from flags.
type config struct {
	raftnode, etcdmember string
	systems              []system
	rounds               int
	clients              []int
	valueBytes           int
	warmup, duration     time.Duration
	hotKeys              int
	pin                  int
	grpcConns            int
	requestTimeout       time.Duration
	dataRoot             string
	raftnodeArgs         []string
	settle               time.Duration
	smoke                bool
	latencyLog           string
}

// system is one of the compared ways in: a cluster kind and a client.
type system struct {
	name   string
	kind   cluster.Kind
	target load.Target
	// watchers is how many /events streams read every member during the
	// runs, as open visualizers would.
	watchers int
}

var allSystems = []system{
	{"raftlab", cluster.KindRaftlab, load.RaftlabHTTP{}, 0},
	{"etcd-grpc", cluster.KindEtcd, load.EtcdGRPC{}, 0},
	{"etcd-http", cluster.KindEtcd, load.EtcdHTTP{}, 0},
	// Raftlab observed: four UIs on every member's event stream.
	{"raftlab-watched", cluster.KindRaftlab, load.RaftlabHTTP{}, 4},
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "compare measures Raftlab against etcd on this machine, in alternating rounds.\n\nUsage: compare [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.raftnode, "raftnode", "bin/raftnode", "the Raftlab node binary (make build)")
	fs.StringVar(&c.etcdmember, "etcdmember", "bin/etcdmember", "the etcd member binary (bench/cmd/etcdmember)")
	systems := fs.String("systems", "raftlab,etcd-grpc,etcd-http", "systems to compare, in round order")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds; each starts a fresh cluster of every system")
	clients := fs.String("clients", "1,64", "comma-separated client counts, each run on every cluster")
	fs.IntVar(&c.valueBytes, "value", 256, "value size in bytes")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load before each measured window")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured window of each run")
	fs.IntVar(&c.hotKeys, "hot-keys", 0, "write a hot set of this many keys (0: a new key every write)")
	fs.IntVar(&c.pin, "pin", 0, "send every request to member N (1-based; 0: spread the clients over the members)")
	fs.IntVar(&c.grpcConns, "grpc-conns", 0, "gRPC connections the etcd-grpc clients share (0: one per client, like the HTTP clients)")
	fs.DurationVar(&c.requestTimeout, "request-timeout", 5*time.Second, "timeout of one write")
	fs.DurationVar(&c.settle, "settle", 10*time.Second, "quiet time after a cluster's last run before its members' RSS is read again (0: read only at the end of the load)")
	fs.StringVar(&c.dataRoot, "data-root", "", "directory for the clusters' temporary data (default: the system's temp dir)")
	raftnodeArgs := fs.String("raftnode-args", "", "extra raftnode flags, space-separated (for experiments, e.g. --message-events=false)")
	fs.StringVar(&c.latencyLog, "latency-log", "", "write every measured write (system, round, path, clients, client, start in Unix ns, latency in µs) to this CSV file, to see when the slow ones happened")
	fs.BoolVar(&c.smoke, "smoke", false, "a quick check that the harness works (about 10 s): 1 round, 0.2 s warm-up, 0.5 s windows, unless given")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.smoke {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if !given["rounds"] {
			c.rounds = 1
		}
		if !given["warmup"] {
			c.warmup = 200 * time.Millisecond
		}
		if !given["duration"] {
			c.duration = 500 * time.Millisecond
		}
		if !given["settle"] {
			c.settle = 0
		}
	}
	for _, name := range strings.Split(*systems, ",") {
		i := slices.IndexFunc(allSystems, func(s system) bool { return s.name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("-systems: unknown system %q (want raftlab, etcd-grpc, etcd-http, raftlab-watched)", name)
		}
		c.systems = append(c.systems, allSystems[i])
	}
	for _, s := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-clients: %q is not a positive count", s)
		}
		c.clients = append(c.clients, n)
	}
	c.raftnodeArgs = strings.Fields(*raftnodeArgs)
	switch {
	case c.rounds < 1:
		return nil, errors.New("-rounds must be at least 1")
	case c.valueBytes < 0:
		return nil, errors.New("-value must be >= 0")
	case c.duration <= 0 || c.warmup < 0:
		return nil, errors.New("-duration must be positive and -warmup not negative")
	case c.pin < 0 || c.pin > 3:
		return nil, errors.New("-pin must be 0 (spread) or a member, 1 to 3")
	case c.settle < 0:
		return nil, errors.New("-settle must not be negative (0: no reading after the load)")
	}
	return c, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 2
	}
	for _, bin := range []string{c.raftnode, c.etcdmember} {
		if _, err := os.Stat(bin); err != nil {
			fmt.Fprintf(stderr, "compare: %v (make bench-cluster builds both binaries)\n", err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var latLog *latencyLog
	if c.latencyLog != "" {
		if latLog, err = openLatencyLog(c.latencyLog); err != nil {
			fmt.Fprintf(stderr, "compare: %v\n", err)
			return 2
		}
		defer func() {
			if err := latLog.close(); err != nil {
				fmt.Fprintf(stderr, "compare: %v\n", err)
			}
		}()
	}
	began := time.Now()
	printHeader(stdout, c)
	var results []runResult
	failed := false
	for round := 1; round <= c.rounds; round++ {
		fmt.Fprintf(stdout, "\nround %d/%d\n", round, c.rounds)
		for _, sys := range c.systems {
			rs, err := runSystem(ctx, stdout, c, sys, round, latLog)
			results = append(results, rs...)
			if err != nil {
				fmt.Fprintf(stdout, "FAILED: %s: %v\n", sys.name, err)
				fmt.Fprintf(stderr, "compare: %s: %v\n", sys.name, err)
				return 1
			}
			for _, r := range rs {
				if r.res.Ops == 0 {
					failed = true
				}
			}
		}
	}
	printSummary(stdout, c, results)
	fmt.Fprintf(stdout, "\nwall time %v; loadavg %s at the end\n", time.Since(began).Round(time.Second), loadAvg())
	if failed {
		fmt.Fprintln(stdout, "FAILED: a run had no successful write (see its errors above)")
		return 1
	}
	return 0
}

// runResult is one load run on one cluster.
type runResult struct {
	system string
	round  int
	via    via
	res    load.Result
	// clusterCPU and loadCPU are the CPU cores the members (together) and
	// this process used on average during the window.
	clusterCPU, loadCPU float64
	// fsyncLeader and fsyncAll are Raftlab's entries per synced write in
	// the window: on the leader, and over every member.
	fsyncLeader, fsyncAll float64
	// rssBytes are the members' RSS at the end of the cluster's last run,
	// settledBytes the same after -settle of quiet, and peakBytes the
	// largest RSS each member had (VmHWM); set on that run only.
	rssBytes, settledBytes, peakBytes []int64
}

// of reports whether r is system's run on rc.
func (r runResult) of(system string, rc runCase) bool {
	return r.system == system && r.res.Clients == rc.clients && r.via == rc.via
}

// runSystem starts a fresh cluster for sys, runs every client count on it,
// reads the members' RSS and stops it. Each run's writes go to latLog when
// it is not nil.
func runSystem(ctx context.Context, out io.Writer, c *config, sys system, round int, latLog *latencyLog) ([]runResult, error) {
	opts := cluster.Options{DataRoot: c.dataRoot, Members: clusterMembers}
	t0 := time.Now()
	var (
		cl  *cluster.Cluster
		err error
	)
	switch sys.kind {
	case cluster.KindRaftlab:
		opts.Binary = c.raftnode
		opts.ExtraArgs = c.raftnodeArgs
		cl, err = cluster.StartRaftlab(ctx, opts)
	case cluster.KindEtcd:
		opts.Binary = c.etcdmember
		cl, err = cluster.StartEtcd(ctx, opts)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := cl.Stop(); err != nil {
			fmt.Fprintf(out, "  %-10s warning: %v\n", sys.name, err)
		}
	}()
	pids := make([]string, len(cl.Members))
	for i, m := range cl.Members {
		pids[i] = strconv.Itoa(m.PID())
	}
	up := time.Since(t0)
	// Where the leader is matters when there are fewer clients than
	// members (paths.go).
	leader := -1
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if i, err := cl.Leader(lctx); err == nil {
		leader = i
	}
	cancel()
	leaderText := "unknown"
	if leader >= 0 {
		leaderText = fmt.Sprintf("member %d", leader+1)
	}
	fmt.Fprintf(out, "  %-10s cluster up in %.1fs (pids %s), leader %s\n", sys.name, up.Seconds(), strings.Join(pids, " "), leaderText)
	if sys.watchers > 0 {
		stop, err := load.Watch(ctx, cl.Endpoints(), sys.watchers)
		if err != nil {
			return nil, err
		}
		defer func() {
			ws := stop()
			fmt.Fprintf(out, "  %-10s %d watchers per member read %d frames, %.1f MiB of events; streams cut off as too slow and resumed: %d, lost: %d\n",
				sys.name, sys.watchers, ws.Frames, float64(ws.Bytes)/(1<<20), ws.Resumed, ws.Lost)
		}()
	}

	var out2 []runResult
	for _, rc := range runCases(c, len(cl.Members)) {
		if rc.via != viaSpread && leader < 0 {
			return out2, fmt.Errorf("%v: no leader known to every member", rc)
		}
		r, err := measure(ctx, c, sys, cl, endpointsFor(c, cl.Endpoints(), leader, rc.via), rc.clients)
		if err != nil {
			return out2, err
		}
		r.round, r.via = round, rc.via
		if latLog != nil {
			if err := latLog.add(r); err != nil {
				return out2, err
			}
			r.res.Writes = nil
		}
		out2 = append(out2, r)
		printRun(out, r)
	}
	last := &out2[len(out2)-1]
	if err := readRSS(cl, &last.rssBytes, (*cluster.Member).RSS); err != nil {
		return out2, err
	}
	if err := readRSS(cl, &last.peakBytes, (*cluster.Member).PeakRSS); err != nil {
		return out2, err
	}
	line := fmt.Sprintf("RSS per member at the end of the load: %s MiB", mib(last.rssBytes))
	if c.settle > 0 {
		select {
		case <-ctx.Done():
			return out2, ctx.Err()
		case <-time.After(c.settle):
		}
		if err := readRSS(cl, &last.settledBytes, (*cluster.Member).RSS); err != nil {
			return out2, err
		}
		line += fmt.Sprintf(", %v later: %s", c.settle, mib(last.settledBytes))
	}
	fmt.Fprintf(out, "  %-10s %s, peak: %s\n", sys.name, line, mib(last.peakBytes))
	return out2, nil
}

// readRSS appends one figure per member, read by get.
func readRSS(cl *cluster.Cluster, to *[]int64, get func(*cluster.Member) (int64, error)) error {
	for _, m := range cl.Members {
		b, err := get(m)
		if err != nil {
			return fmt.Errorf("member %s: %w", m.Name, err)
		}
		*to = append(*to, b)
	}
	return nil
}

// mib formats byte counts as space-separated MiB.
func mib(bs []int64) string {
	var s []string
	for _, b := range bs {
		s = append(s, fmt.Sprintf("%.0f", float64(b)/(1<<20)))
	}
	return strings.Join(s, " ")
}

// measure runs one load on cl and takes the window's CPU time and, for
// Raftlab, its entries per fsync.
func measure(ctx context.Context, c *config, sys system, cl *cluster.Cluster, endpoints []string, clients int) (runResult, error) {
	r := runResult{system: sys.name}
	var (
		cpu0, cpu1   time.Duration
		self0, self1 time.Duration
		fs0, fs1     []cluster.FsyncStats
		windowErr    error
		t0, t1       time.Time
	)
	clusterCPU := func() time.Duration {
		var sum time.Duration
		for _, m := range cl.Members {
			d, err := m.CPUTime()
			if err != nil && windowErr == nil {
				windowErr = err
			}
			sum += d
		}
		return sum
	}
	scrape := func() []cluster.FsyncStats {
		if sys.kind != cluster.KindRaftlab {
			return nil
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := cl.RaftlabFsyncs(sctx)
		if err != nil && windowErr == nil {
			windowErr = err
		}
		return s
	}
	conns := 0
	if sys.kind == cluster.KindEtcd && sys.name == "etcd-grpc" {
		conns = c.grpcConns
	}
	res, err := load.Run(ctx, sys.target, load.Config{
		Clients:        clients,
		Conns:          conns,
		ValueBytes:     c.valueBytes,
		Warmup:         c.warmup,
		Duration:       c.duration,
		HotKeys:        c.hotKeys,
		Endpoints:      endpoints,
		RequestTimeout: c.requestTimeout,
		Seed:           uint64(clients),
		KeepWrites:     c.latencyLog != "",
		OnWindow: func(open bool) {
			if open {
				fs0 = scrape()
				cpu0, self0, t0 = clusterCPU(), selfCPU(), time.Now()
			} else {
				cpu1, self1, t1 = clusterCPU(), selfCPU(), time.Now()
				fs1 = scrape()
			}
		},
	})
	if err != nil {
		return r, err
	}
	if windowErr != nil {
		return r, windowErr
	}
	r.res = res
	if secs := t1.Sub(t0).Seconds(); secs > 0 {
		r.clusterCPU = (cpu1 - cpu0).Seconds() / secs
		r.loadCPU = (self1 - self0).Seconds() / secs
	}
	if sys.kind == cluster.KindRaftlab {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		lead, err := cl.RaftlabLeader(lctx)
		cancel()
		var all cluster.FsyncStats
		for i := range fs1 {
			d := fs1[i].Sub(fs0[i])
			if i == lead {
				r.fsyncLeader = d.EntriesPerFsync()
			}
			all.Entries += d.Entries
			all.Syncs += d.Syncs
		}
		r.fsyncAll = all.EntriesPerFsync()
		if err != nil {
			r.fsyncLeader = -1 // the leader changed or is unknown: not reported
		}
	}
	return r, nil
}

// selfCPU is the CPU time this process (the load generator) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

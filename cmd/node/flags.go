package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options are the node's settings, from flags.
type options struct {
	id             uint64
	listen         string
	advertiseURL   string
	initialCluster map[uint64]string
	dataDir        string
	join           string
	joinAsLearner  bool
	clusterToken   string
	adminToken     string
	tlsCert        string
	tlsKey         string
	tlsCA          string
	snapshotEvery  uint64
	catchUp        uint64
	tick           time.Duration
	electionTicks  int
	heartbeatTicks int
	allowedOrigins []string
	requestTimeout time.Duration
	eventHistory   int
	memoryLimit    int64
	messageEvents  bool
	enablePprof    bool
	uiDir          string
}

// errUsage marks a bad command line: exit code 2.
var errUsage = errors.New("usage")

const usageHead = `raftnode runs one member of a Raftlab cluster: etcd's raft over WebSocket,
persisted to Badger, serving a replicated key-value API, cluster admin, an event
stream and the visualizer, all on one port.

Usage:
  raftnode --id N --cluster-token T [flags]     run a member
  raftnode demo [--listen ADDR]                 serve the visualizer only (simulated cluster in the browser)

A three-member cluster on one machine:
  raftnode --id 1 --listen 127.0.0.1:7001 --initial-cluster 1=http://127.0.0.1:7001,2=http://127.0.0.1:7002,3=http://127.0.0.1:7003 --cluster-token s3cret
  (and the same with --id 2 --listen 127.0.0.1:7002, --id 3 --listen 127.0.0.1:7003)

Flags:
`

// newFlagSet returns the flags, set into o. A parse error is written to
// out in one line: the whole usage is for --help (printUsage), not for a
// typo.
func newFlagSet(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("raftnode", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {}
	fs.Func("id", "this member's id, a positive integer (required)", func(s string) error {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil || id == 0 {
			return fmt.Errorf("want a positive integer, got %q", s)
		}
		o.id = id
		return nil
	})
	fs.StringVar(&o.listen, "listen", "127.0.0.1:7001", "address to listen on, for peers, clients and the UI alike")
	fs.StringVar(&o.advertiseURL, "advertise-url", "", "URL peers and clients reach this member at (default http(s)://<listen>)")
	fs.Func("initial-cluster", "the members of a new cluster: 1=http://127.0.0.1:7001,2=http://127.0.0.1:7002,... (ignored when the data dir holds a cluster)", func(s string) error {
		m, err := parseCluster(s)
		o.initialCluster = m
		return err
	})
	fs.StringVar(&o.dataDir, "data-dir", "", "directory of this member's Badger store (default raftnode-<id>.data)")
	fs.StringVar(&o.join, "join", "", "URL of a member of a running cluster to join as a new member (needs --admin-token when the cluster has one); a member an admin already added (POST /cluster/members) just starts")
	fs.BoolVar(&o.joinAsLearner, "join-as-learner", false, "with --join: join as a learner, a member that receives the log but does not vote; promote it with POST /cluster/members/{id}/promote")
	fs.StringVar(&o.clusterToken, "cluster-token", "", "secret every member of the cluster shares; peers prove they hold it without sending it (required)")
	fs.StringVar(&o.adminToken, "admin-token", "", "bearer token required by the cluster admin API (membership, transfer, snapshot); empty: open")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file: serve https:// and wss://")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS key file, with --tls-cert")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "CA file to verify peers' certificates (default: the system's roots)")
	fs.Uint64Var(&o.snapshotEvery, "snapshot-entries", 10000, "take a snapshot every this many applied entries (0: only on request)")
	fs.Uint64Var(&o.catchUp, "snapshot-catchup-entries", 5000, "entries kept in the log behind a snapshot for followers that lag a little")
	fs.DurationVar(&o.tick, "tick", 100*time.Millisecond, "duration of one raft tick")
	fs.IntVar(&o.electionTicks, "election-ticks", 10, "election timeout in ticks (randomized up to twice this)")
	fs.IntVar(&o.heartbeatTicks, "heartbeat-ticks", 1, "heartbeat interval in ticks")
	fs.Func("allowed-origins", "comma-separated origins (https://host:port) allowed to open /events besides this member's own", func(s string) error {
		for _, o2 := range strings.Split(s, ",") {
			if o2 = strings.TrimSpace(o2); o2 != "" {
				u, err := url.Parse(o2)
				if err != nil || u.Scheme == "" || u.Host == "" {
					return fmt.Errorf("bad origin %q: want scheme://host[:port]", o2)
				}
				o.allowedOrigins = append(o.allowedOrigins, strings.ToLower(u.Scheme+"://"+u.Host))
			}
		}
		return nil
	})
	fs.DurationVar(&o.requestTimeout, "request-timeout", 5*time.Second, "how long a client request may wait for raft")
	fs.IntVar(&o.eventHistory, "event-history", 5000, "events kept for /events?since= resumption")
	fs.Func("memory-limit", "soft limit of the Go runtime's memory, e.g. 256MiB (default 96MiB; the garbage collector works harder near it); 0 for none. GOMEMLIMIT, when set, wins", func(s string) error {
		n, err := parseBytes(s)
		o.memoryLimit = n
		return err
	})
	fs.BoolVar(&o.messageEvents, "message-events", true, "report every raft message sent and delivered on /events")
	fs.BoolVar(&o.enablePprof, "enable-pprof", false, "serve Go's profiles at /debug/pprof/ (behind the admin token when one is set)")
	fs.StringVar(&o.uiDir, "ui-dir", "", "serve the UI from this directory instead of the embedded copy (development)")
	return fs
}

// printUsage writes what --help shows.
func printUsage(w io.Writer) {
	fs := newFlagSet(&options{}, w)
	fmt.Fprint(w, usageHead)
	fs.PrintDefaults()
}

// defaultMemoryLimit is --memory-limit's default. At rest a member holds
// 15-30 MiB of heap; under load about 18 MiB stays live between collections,
// and each table Badger flushes added about 50 MB for a moment (a 28 MB
// builder, the full memtable beside the new one; item 23 has since halved
// the memtable, which halved the arenas but, a later heap profile found, not
// the builder). The collector lets the heap grow to twice what is live, so a
// flush alone would take it past 100 MiB; at 96 MiB it collects sooner during
// a flush and nowhere else. Since Badger's table builders moved out of the Go
// heap on Linux (storage/badger/offheap.go, docs/performance-log.md item 31),
// a flush adds a memtable and the heap stayed under 40 MB at 64 clients
// (gctrace): the limit no longer comes into play there, and 64 MiB changed
// nothing in three alternated runs of an early build of that change. It
// stays as a cap for what else may grow, and for members off Linux, whose
// builders are still in the heap.
// Measured at 64 clients (docs/performance-log.md, item 22): the members' peak
// RSS 108-125 MiB against 130-145 at 128 MiB, for no throughput the runs
// could tell apart. Lower costs: at 64 MiB the peak was 86-91 MiB (etcd's
// level) but the throughput 5% lower and the p99 16% higher (tenth
// session, "RSS at its peak"), and below 64 MiB the peak did not fall.
const defaultMemoryLimit = 96 << 20

// parseFlags parses and checks the command line.
func parseFlags(args []string, out io.Writer) (*options, error) {
	o := &options{memoryLimit: defaultMemoryLimit}
	fs := newFlagSet(o, out)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		return nil, usageErr("unexpected argument %q", fs.Arg(0))
	}
	return o, o.check()
}

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// check validates the options together and fills in defaults.
func (o *options) check() error {
	if o.id == 0 {
		return usageErr("--id is required")
	}
	if o.clusterToken == "" {
		return usageErr("--cluster-token is required: peers prove they hold it, so nothing unauthenticated reaches raft")
	}
	host, port, err := net.SplitHostPort(o.listen)
	if err != nil {
		return usageErr("--listen %q: %v", o.listen, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return usageErr("--listen %q: bad port", o.listen)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageErr("--tls-cert and --tls-key go together")
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	if o.advertiseURL == "" {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			return usageErr("--listen %q listens on every address: give --advertise-url, the URL peers reach this member at", o.listen)
		}
		o.advertiseURL = scheme + "://" + o.listen
	}
	if err := checkURL(o.advertiseURL); err != nil {
		return usageErr("--advertise-url: %v", err)
	}
	if o.join != "" && o.initialCluster != nil {
		return usageErr("--join and --initial-cluster exclude each other: join a running cluster, or start a new one")
	}
	if o.join != "" {
		if err := checkURL(o.join); err != nil {
			return usageErr("--join: %v", err)
		}
	}
	if o.joinAsLearner && o.join == "" {
		return usageErr("--join-as-learner goes with --join")
	}
	if o.initialCluster != nil {
		u, ok := o.initialCluster[o.id]
		if !ok {
			return usageErr("--initial-cluster does not list this member's id %d", o.id)
		}
		if u != o.advertiseURL {
			return usageErr("--initial-cluster gives member %d the URL %s but it advertises %s", o.id, u, o.advertiseURL)
		}
	}
	if o.tick < time.Millisecond || o.tick > time.Minute {
		return usageErr("--tick %v out of [1ms, 1m]", o.tick)
	}
	if o.heartbeatTicks < 1 || o.electionTicks <= o.heartbeatTicks {
		return usageErr("--election-ticks (%d) must exceed --heartbeat-ticks (%d) >= 1", o.electionTicks, o.heartbeatTicks)
	}
	if o.requestTimeout <= 0 {
		return usageErr("--request-timeout must be positive")
	}
	if o.eventHistory < 100 || o.eventHistory > 10_000_000 {
		return usageErr("--event-history %d out of [100, 10000000]", o.eventHistory)
	}
	if o.dataDir == "" {
		o.dataDir = fmt.Sprintf("raftnode-%d.data", o.id)
	}
	return nil
}

// parseCluster parses "1=http://h:p,2=http://h:p".
func parseCluster(s string) (map[uint64]string, error) {
	m := map[uint64]string{}
	var urls []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		idStr, u, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want id=url", part)
		}
		id, err := strconv.ParseUint(idStr, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("%q: member id must be a positive integer", part)
		}
		if _, dup := m[id]; dup {
			return nil, fmt.Errorf("member %d listed twice", id)
		}
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("member %d: %v", id, err)
		}
		if slices.Contains(urls, u) {
			return nil, fmt.Errorf("URL %s listed twice", u)
		}
		urls = append(urls, u)
		m[id] = u
	}
	if len(m) == 0 {
		return nil, errors.New("no members")
	}
	return m, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return fmt.Errorf("%q: want an http://, https://, ws:// or wss:// URL", s)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("%q: want scheme://host:port and nothing more", s)
	}
	return nil
}

// parseBytes parses a size such as 128MiB, 64MB, 1GiB or 1048576.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q: want a size like 128MiB", s)
	}
	return n * mult, nil
}

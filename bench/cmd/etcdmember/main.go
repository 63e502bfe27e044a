// Command etcdmember runs one member of an etcd cluster in its own process,
// embedded from go.etcd.io/etcd/server/v3/embed: the baseline that Raftlab
// is measured against (bench/cmd/compare starts three of them).
//
// It serves etcd's gRPC API and its HTTP/JSON gateway (POST /v3/kv/put) on
// the client URL and raft traffic on the peer URL, both on loopback only.
// Its settings match raftnode's defaults: a 100 ms heartbeat (raftnode's
// tick), a 1000 ms election timeout (10 ticks), a snapshot every 10000
// entries with 5000 kept for slow followers. fsync stays on: etcd's default,
// and the only fair comparison with a node that syncs every Ready.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// options are the member's settings, from flags.
type options struct {
	name                   string
	dataDir                string
	clientURL              string
	peerURL                string
	initialCluster         string
	clusterToken           string
	heartbeatMs            uint
	electionMs             uint
	snapshotCount          uint64
	snapshotCatchUpEntries uint64
	logLevel               string
	readyTimeout           time.Duration
}

// run is main without the exit: 0 after a clean stop, 1 on a failure, 2 on
// a bad command line.
func run(args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "etcdmember: %v\n", err)
		return 2
	}
	cfg, err := o.config()
	if err != nil {
		fmt.Fprintf(stderr, "etcdmember: %v\n", err)
		return 2
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "etcdmember: starting %s: %v\n", o.name, err)
		return 1
	}
	defer e.Close()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)

	// A member is ready once it has joined the cluster, which needs a
	// quorum of its peers; the launcher waits for a leader itself.
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		fmt.Fprintf(stderr, "etcdmember: %s: %v\n", o.name, err)
		return 1
	case <-sig:
		return 0
	case <-time.After(o.readyTimeout):
		fmt.Fprintf(stderr, "etcdmember: %s not ready after %v (are its peers running?)\n", o.name, o.readyTimeout)
		return 1
	}
	select {
	case <-sig:
		// The harness stops every member at once and throws the data
		// away: a graceful stop would try to hand the leadership to a
		// peer that is stopping too, and wait up to its request timeout
		// (7 s) for that. Stop raft first, then the servers (deferred
		// Close).
		e.Server.HardStop()
		return 0
	case err := <-e.Err():
		fmt.Fprintf(stderr, "etcdmember: %s stopped: %v\n", o.name, err)
		return 1
	}
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("etcdmember", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `etcdmember runs one embedded etcd member (the baseline of Raftlab's benchmark).

Usage:
  etcdmember --name m1 --data-dir DIR --client-url http://127.0.0.1:2379 \
    --peer-url http://127.0.0.1:2380 --initial-cluster m1=http://127.0.0.1:2380,m2=...,m3=...

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.name, "name", "", "member name, unique in the cluster (required)")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory of the member's WAL, snapshots and bbolt database (required)")
	fs.StringVar(&o.clientURL, "client-url", "", "http://127.0.0.1:PORT: gRPC and the HTTP/JSON gateway, listened on and advertised (required)")
	fs.StringVar(&o.peerURL, "peer-url", "", "http://127.0.0.1:PORT: raft traffic between members, listened on and advertised (required)")
	fs.StringVar(&o.initialCluster, "initial-cluster", "", "every member of the new cluster: name=peerURL,... (required)")
	fs.StringVar(&o.clusterToken, "initial-cluster-token", "raftlab-bench", "token that keeps clusters apart")
	fs.UintVar(&o.heartbeatMs, "heartbeat-ms", 100, "heartbeat interval in ms (etcd's tick; raftnode --tick)")
	fs.UintVar(&o.electionMs, "election-ms", 1000, "election timeout in ms (raftnode --tick times --election-ticks)")
	fs.Uint64Var(&o.snapshotCount, "snapshot-count", 10000, "applied entries between snapshots (raftnode --snapshot-entries)")
	fs.Uint64Var(&o.snapshotCatchUpEntries, "snapshot-catchup-entries", 5000, "entries kept behind a snapshot for slow followers (raftnode --snapshot-catchup-entries)")
	fs.StringVar(&o.logLevel, "log-level", "warn", "debug, info, warn or error")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", time.Minute, "give up when the member has not joined its cluster by then")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, f := range []struct{ name, value string }{
		{"--name", o.name}, {"--data-dir", o.dataDir}, {"--client-url", o.clientURL},
		{"--peer-url", o.peerURL}, {"--initial-cluster", o.initialCluster},
	} {
		if f.value == "" {
			return nil, fmt.Errorf("%s is required", f.name)
		}
	}
	if o.heartbeatMs == 0 || o.electionMs < 5*o.heartbeatMs {
		return nil, fmt.Errorf("--election-ms (%d) must be at least 5 times --heartbeat-ms (%d)", o.electionMs, o.heartbeatMs)
	}
	return o, nil
}

// config turns the options into etcd's configuration.
func (o *options) config() (*embed.Config, error) {
	client, err := loopbackURL("--client-url", o.clientURL)
	if err != nil {
		return nil, err
	}
	peer, err := loopbackURL("--peer-url", o.peerURL)
	if err != nil {
		return nil, err
	}
	for _, part := range strings.Split(o.initialCluster, ",") {
		name, u, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--initial-cluster: %q: want name=url", part)
		}
		if _, err := loopbackURL("--initial-cluster member "+name, u); err != nil {
			return nil, err
		}
	}

	cfg := embed.NewConfig()
	cfg.Name = o.name
	cfg.Dir = o.dataDir
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = o.initialCluster
	cfg.InitialClusterToken = o.clusterToken
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.TickMs = o.heartbeatMs
	cfg.ElectionMs = o.electionMs
	cfg.SnapshotCount = o.snapshotCount
	cfg.SnapshotCatchUpEntries = o.snapshotCatchUpEntries
	// etcd's defaults, stated so that nobody benchmarks without fsync by
	// accident, and so that the gateway the harness measures is there.
	cfg.UnsafeNoFsync = false
	cfg.EnableGRPCGateway = true
	cfg.EnablePprof = false
	cfg.Logger = "zap"
	cfg.LogLevel = o.logLevel
	cfg.LogOutputs = []string{"stderr"}
	return cfg, nil
}

// loopbackURL parses an http URL whose host is a loopback IP: the harness
// listens on nothing else.
func loopbackURL(flagName, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", flagName, err)
	}
	if u.Scheme != "http" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("%s %q: want http://127.0.0.1:PORT", flagName, s)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%s %q: the host must be a loopback address", flagName, s)
	}
	u.Path = ""
	return u, nil
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/core"
	"github.com/raftlab/raftlab/core/live"
	"github.com/raftlab/raftlab/storage"
	"github.com/raftlab/raftlab/storage/badger"
	"github.com/raftlab/raftlab/transport/ws"
)

// server is one running member: its store, raft driver, transport and HTTP
// API.
type server struct {
	opts       *options
	log        *slog.Logger
	store      *storage.Store
	clusterID  uint64
	driver     *live.Driver
	transport  *ws.Transport
	hub        *hub
	metrics    *metrics
	ui         http.Handler
	httpClient *http.Client
	// stopping is closed, under mu, when the member stops: the event
	// streams (counted in streams) flush and close.
	stopping chan struct{}
	streams  sync.WaitGroup
	// shutdownHTTP stops the HTTP server gracefully.
	shutdownHTTP func(context.Context) error

	mu    sync.Mutex
	peers map[uint64]string // the transport's peers
}

// keyClusterID holds the cluster's id: not raft state, the member's
// identity card. Written once, when the member bootstraps or joins.
var keyClusterID = []byte("/meta/cluster_id")

// clusterIDOf derives a new cluster's id from its initial members, as etcd
// does: every member computes the same id from the same --initial-cluster.
func clusterIDOf(members map[uint64]string) uint64 {
	ids := make([]uint64, 0, len(members))
	for id := range members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h := fnv.New64a()
	for _, id := range ids {
		fmt.Fprintf(h, "%d=%s,", id, members[id])
	}
	return h.Sum64()
}

func readClusterID(e storage.Engine) (uint64, bool, error) {
	v, err := e.Get(keyClusterID)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("%s: want 8 bytes, have %d", keyClusterID, len(v))
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func writeClusterID(e storage.Engine, id uint64) error {
	var b storage.Batch
	b.Put(keyClusterID, binary.BigEndian.AppendUint64(nil, id))
	return e.Apply(&b, true)
}

// start opens the member's store, joins or bootstraps its cluster when the
// store is new (existing data wins over flags, as in etcd), and starts raft,
// the transport and the HTTP server on ln.
func start(opts *options, ln net.Listener, logOut io.Writer) (*server, error) {
	base := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	log := base.With("member", opts.id)
	s := &server{
		opts:     opts,
		log:      log,
		stopping: make(chan struct{}),
		peers:    map[uint64]string{},
		metrics:  newMetrics(),
	}
	clientTLS, err := s.clientTLS()
	if err != nil {
		return nil, err
	}
	s.httpClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS, MaxIdleConnsPerHost: 16}}
	s.hub = newHub(opts.eventHistory, s.metrics.observe)
	ui, err := uiHandler(opts.uiDir)
	if err != nil {
		return nil, err
	}
	s.ui = ui

	engine, err := badger.Open(opts.dataDir)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = engine.Close()
		}
	}()
	store, err := storage.Open(engine)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", opts.dataDir, err)
	}
	s.store = store
	if err := s.initCluster(); err != nil {
		return nil, err
	}
	if removed(store.ConfState(), opts.id) {
		return nil, fmt.Errorf("member %d was removed from the cluster (data dir %s): it will not run outside it; to bring it back, delete the data dir and --join as a new member", opts.id, opts.dataDir)
	}

	events := live.NewEvents(s.hub.publish, nil)
	node, err := core.NewNode(core.Config{
		ID:              opts.id,
		ElectionTicks:   opts.electionTicks,
		HeartbeatTicks:  opts.heartbeatTicks,
		SnapshotEntries: opts.snapshotEvery,
		CatchUpEntries:  opts.catchUp,
		BatchProposals:  true,
		Events:          events.Emit,
		Failpoint:       failpointHook(log),
	}, store)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", opts.dataDir, err)
	}

	var driver *live.Driver
	var driverReady sync.WaitGroup
	driverReady.Add(1)
	tr, err := ws.New(ws.Config{
		ID:         opts.id,
		ClusterID:  s.clusterID,
		Token:      opts.clusterToken,
		AcceptPeer: func(id uint64) bool { driverReady.Wait(); return s.acceptPeer(id) },
		ClientTLS:  clientTLS,
		Deliver: func(id uint64, m *pb.Message) {
			driverReady.Wait()
			s.metrics.msgsReceived.WithLabelValues(core.MsgTypeName(m.GetType())).Inc()
			if !driver.Step(id, m) {
				s.metrics.msgsDropped.WithLabelValues("inbox full").Inc()
			}
		},
		ReportUnreachable: func(id uint64) {
			driverReady.Wait()
			driver.ReportUnreachable(id)
		},
		ReportSnapshot: func(id uint64, ok bool) {
			driverReady.Wait()
			driver.ReportSnapshot(id, ok)
		},
		OnSend: func(id uint64, m *pb.Message, size int) {
			s.metrics.msgsSent.WithLabelValues(core.MsgTypeName(m.GetType())).Inc()
		},
		Logger: base.With("part", "transport"),
	})
	if err != nil {
		return nil, err
	}
	s.transport = tr
	s.metrics.reg.MustRegister(transportCollector{tr})
	driver = live.Start(node, tr, live.Config{
		TickInterval:  opts.tick,
		Events:        events,
		MessageEvents: opts.messageEvents,
		OnMembership:  s.setPeers,
	})
	s.driver = driver
	driverReady.Done()

	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 5 * time.Second, // slow-loris
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if opts.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(opts.tlsCert, opts.tlsKey)
		if err != nil {
			driver.Stop()
			_ = tr.Close()
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	s.shutdownHTTP = func(ctx context.Context) error { return srv.Shutdown(ctx) }
	ok = true
	go s.releaseWhenQuiet()
	log.Info("member started", "listen", opts.listen, "advertise", opts.advertiseURL, "cluster", fmt.Sprintf("%016x", s.clusterID), "data", opts.dataDir)
	return s, nil
}

// initCluster finds the cluster this member belongs to: the one its store
// knows, or a new one (--initial-cluster), or a running one (--join).
func (s *server) initCluster() error {
	e := s.store.Engine()
	id, known, err := readClusterID(e)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", s.opts.dataDir, err)
	}
	last, _ := s.store.LastIndex()
	fresh := last == 0 && s.store.HardState().GetTerm() == 0
	switch {
	case known && !fresh:
		s.clusterID = id
		if s.opts.initialCluster != nil || s.opts.join != "" {
			s.log.Info("data dir holds a cluster; --initial-cluster and --join are ignored", "cluster", fmt.Sprintf("%016x", id))
		}
		return nil
	case !known && !fresh:
		return fmt.Errorf("data dir %s holds a raft log but no cluster id (%s): not a raftnode data dir", s.opts.dataDir, keyClusterID)
	case known:
		// Joined before (the id is written when the join is accepted),
		// but never received the leader's snapshot: wait for it.
		s.clusterID = id
		return nil
	case s.opts.join != "":
		return s.join()
	case s.opts.initialCluster != nil:
		s.clusterID = clusterIDOf(s.opts.initialCluster)
		voters := make([]uint64, 0, len(s.opts.initialCluster))
		for id := range s.opts.initialCluster {
			voters = append(voters, id)
		}
		if _, err := core.Bootstrap(s.store, voters, s.opts.initialCluster); err != nil {
			return err
		}
		return writeClusterID(e, s.clusterID)
	}
	return usageErr("the data dir %s is empty: start a new cluster with --initial-cluster, or join one with --join", s.opts.dataDir)
}

// join asks a running cluster to add this member (a voter, or a learner
// with --join-as-learner) that starts empty and catches up from the
// leader's snapshot, and records the cluster's id. A member an admin
// already added (POST /cluster/members, as etcd's `member add` before the
// new member starts) is not added again: it only learns the cluster's id.
func (s *server) join() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*s.opts.requestTimeout)
	defer cancel()
	var cs clusterStatus
	if err := s.peerJSON(ctx, http.MethodGet, s.opts.join+"/cluster?local=1", nil, &cs); err != nil {
		return fmt.Errorf("--join %s: %w", s.opts.join, err)
	}
	clusterID := cs.ClusterID
	added := slices.IndexFunc(cs.Members, func(m core.Member) bool { return m.ID == s.opts.id })
	switch {
	case added >= 0 && cs.Members[added].URL != s.opts.advertiseURL:
		return fmt.Errorf("--join %s: member %d is already in the cluster, at %s, not at %s (this member's --advertise-url)", s.opts.join, s.opts.id, cs.Members[added].URL, s.opts.advertiseURL)
	case added >= 0:
		s.log.Info("already a member of the cluster; starting", "via", s.opts.join, "role", cs.Members[added].Role)
	default:
		var resp addMemberResponse
		req := addMemberRequest{ID: s.opts.id, URL: s.opts.advertiseURL, Learner: s.opts.joinAsLearner}
		if err := s.peerJSON(ctx, http.MethodPost, s.opts.join+"/cluster/members", req, &resp); err != nil {
			return fmt.Errorf("--join %s: %w", s.opts.join, err)
		}
		clusterID = resp.ClusterID
		s.log.Info("joined the cluster", "via", s.opts.join, "index", resp.Index, "learner", s.opts.joinAsLearner)
	}
	id, err := strconv.ParseUint(clusterID, 16, 64)
	if err != nil {
		return fmt.Errorf("--join %s: bad cluster id %q", s.opts.join, clusterID)
	}
	s.clusterID = id
	return writeClusterID(s.store.Engine(), id)
}

// removed reports whether the membership cs (as of the applied index)
// exists and lacks id: the member applied its own removal. A member that
// joined and awaits its first snapshot has no membership yet.
func removed(cs *pb.ConfState, id uint64) bool {
	all := [][]uint64{cs.GetVoters(), cs.GetLearners(), cs.GetVotersOutgoing(), cs.GetLearnersNext()}
	known := false
	for _, ids := range all {
		if slices.Contains(ids, id) {
			return false
		}
		known = known || len(ids) > 0
	}
	return known
}

// acceptPeer says whether a peer that proved it holds the cluster token may
// connect as member id: a member of the configuration, or anyone while this
// member knows no configuration yet (it joined and waits for the leader's
// snapshot). A removed member is refused.
func (s *server) acceptPeer(id uint64) bool {
	members := s.driver.Status().Members
	if len(members) == 0 {
		return true
	}
	return slices.ContainsFunc(members, func(m core.Member) bool { return m.ID == id })
}

// setPeers makes the transport's peers follow the membership. Called from
// the driver's goroutine.
func (s *server) setPeers(members []core.Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[uint64]bool{}
	for _, m := range members {
		if m.ID == s.opts.id {
			continue
		}
		seen[m.ID] = true
		if m.URL == "" || s.peers[m.ID] == m.URL {
			continue
		}
		if err := s.transport.SetPeer(m.ID, m.URL); err != nil {
			s.log.Warn("peer address", "peer", m.ID, "url", m.URL, "err", err)
			continue
		}
		s.peers[m.ID] = m.URL
	}
	for id := range s.peers {
		if !seen[id] {
			delete(s.peers, id)
			// Not at once: the Ready that applied the removal also queued
			// raft's last messages to the member, among them the append
			// that tells it the removal committed, which is how it learns
			// it was removed and stops (RemovePeer would drop them).
			time.AfterFunc(removedPeerGrace, func() {
				s.mu.Lock()
				defer s.mu.Unlock()
				if _, back := s.peers[id]; !back {
					s.transport.RemovePeer(id)
				}
			})
		}
	}
}

// removedPeerGrace is how long a removed member stays connected, for raft's
// messages already queued to it.
const removedPeerGrace = 2 * time.Second

func (s *server) clientTLS() (*tls.Config, error) {
	if s.opts.tlsCA == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(s.opts.tlsCA)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-ca %s: no certificate found", s.opts.tlsCA)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// stop shuts the member down cleanly: no new requests (those under way
// finish), raft stopped, event streams flushed and closed, connections
// closed, the store closed.
func (s *server) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.shutdownHTTP(ctx)
	s.driver.Stop()
	s.mu.Lock()
	close(s.stopping)
	s.mu.Unlock()
	streamsDone := make(chan struct{})
	go func() { s.streams.Wait(); close(streamsDone) }()
	select {
	case <-streamsDone:
	case <-time.After(2 * time.Second): // a consumer that does not read
	}
	_ = s.transport.Close()
	// Badger's Close flushes its memtable and retries forever when it
	// cannot (the data dir is gone, the disk failed): bounded, so that a
	// member whose storage failed still exits. Every write raft relies on
	// was synced when its Ready was handled, so leaving now is a crash at
	// worst, which raft is built for.
	closed := make(chan error, 1)
	go func() { closed <- s.store.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			s.log.Error("closing the store", "err", err)
		}
	case <-time.After(storeCloseTimeout):
		s.log.Error("closing the store did not finish; exiting without it", "after", storeCloseTimeout)
	}
}

// storeCloseTimeout bounds the store's Close at shutdown.
const storeCloseTimeout = 5 * time.Second

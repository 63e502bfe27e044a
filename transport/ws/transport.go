//go:build !js

package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// ErrClosed is returned by SetPeer after Close.
var ErrClosed = errors.New("ws: transport closed")

// maxPendingHandshakes bounds the inbound connections that have not yet
// authenticated: each costs a goroutine and a socket for up to
// HandshakeTimeout, and anyone who can reach the port can open them.
const maxPendingHandshakes = 64

// Transport carries raft messages between the members of one cluster over
// WebSocket. Every connection is authenticated by the handshake and then
// carries messages both ways, whichever side dialed, so a member that can
// only dial (a browser tab) is a full member. It keeps at most one
// connection per peer.
type Transport struct {
	cfg  Config
	cred Member
	log  *slog.Logger
	// readLimit is the largest frame a connection reads:
	// MaxMessageBytes + FrameOverhead.
	readLimit int64
	upgrader  websocket.Upgrader
	dialer    websocket.Dialer
	stats     counters

	// ctx is canceled by Close: it stops dial loops and aborts handshakes
	// in progress.
	ctx    context.Context
	cancel context.CancelFunc
	// handshakes is a semaphore of maxPendingHandshakes.
	handshakes chan struct{}

	// peers maps member id to peer. It is copied on write (under mu) so
	// that Send, the hot path, reads it without a lock.
	peers atomic.Pointer[map[uint64]*peer]

	mu     sync.Mutex
	closed bool // Invariant: once true, wg.Add is never called again.
	// conns holds every attached connection, current or retiring, until
	// it is detached.
	conns map[*conn]struct{}
	// wg counts every goroutine the transport runs: dial loops, connection
	// readers and writers, and ServeHTTP calls in progress.
	wg sync.WaitGroup
}

// New returns a transport for cfg. It starts nothing until SetPeer or
// ServeHTTP.
func New(cfg Config) (*Transport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Transport{
		cfg:        cfg,
		cred:       Member{ClusterID: cfg.ClusterID, ID: cfg.ID, Token: cfg.Token, MaxMessageBytes: cfg.MaxMessageBytes},
		log:        cfg.Logger.With("member", cfg.ID),
		readLimit:  int64(cfg.MaxMessageBytes) + FrameOverhead,
		handshakes: make(chan struct{}, maxPendingHandshakes),
		conns:      map[*conn]struct{}{},
	}
	t.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.HandshakeTimeout,
		ReadBufferSize:   socketBufferBytes,
		WriteBufferSize:  socketBufferBytes,
		// Peers are not browsers, and a browser member authenticates with
		// the token like any other: the handshake, not the Origin header,
		// decides who may talk to raft.
		CheckOrigin: func(*http.Request) bool { return true },
		// Raft traffic is mostly small, already compact messages, and
		// compression costs latency and a decompression-bomb surface.
		EnableCompression: false,
	}
	t.dialer = websocket.Dialer{
		HandshakeTimeout:  cfg.HandshakeTimeout,
		TLSClientConfig:   cfg.ClientTLS,
		ReadBufferSize:    socketBufferBytes,
		WriteBufferSize:   socketBufferBytes,
		EnableCompression: false,
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	empty := map[uint64]*peer{}
	t.peers.Store(&empty)
	return t, nil
}

// SetPeer adds the peer id at url, or changes its url, and keeps a
// connection to it: dialing in the background, redialing with backoff when
// it is lost. The url is "http://host:port", "https://host:port",
// "ws://..." or "wss://..."; a missing path becomes /raft.
func (t *Transport) SetPeer(id uint64, url string) error {
	if id == 0 || id == t.cfg.ID {
		return fmt.Errorf("ws: set peer: bad id %d", id)
	}
	wsURL, err := PeerURL(url)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	p := t.peerLocked(id)
	p.url = wsURL
	if p.stopDial == nil {
		ctx, cancel := context.WithCancel(t.ctx)
		p.stopDial = cancel
		t.wg.Add(1)
		go t.dialLoop(ctx, p)
	} else {
		p.signal() // dial the new url now if not connected
	}
	return nil
}

// RemovePeer forgets the peer id: stops dialing it, closes its connection
// and drops what is queued for it. It may connect again if AcceptPeer lets
// it.
func (t *Transport) RemovePeer(id uint64) {
	t.mu.Lock()
	p := (*t.peers.Load())[id]
	if p == nil {
		t.mu.Unlock()
		return
	}
	m := maps.Clone(*t.peers.Load())
	delete(m, id)
	t.peers.Store(&m)
	p.removed = true
	if p.stopDial != nil {
		p.stopDial()
	}
	c := p.conn.Load()
	t.mu.Unlock()
	if c != nil {
		c.shutdown(websocket.CloseNormalClosure, "peer removed", false)
	}
}

// Send queues m for the member m.GetTo() and returns at once; msgID is the
// id the receiver's Deliver gets with it. A message for an unknown or
// unconnected peer, or one that finds the peer's queue full, is dropped,
// counted, and reported with ReportUnreachable (and ReportSnapshot(false)
// for a MsgSnap). m must not be modified afterwards.
func (t *Transport) Send(msgID uint64, m *pb.Message) {
	to := m.GetTo()
	if m.GetFrom() != t.cfg.ID || to == 0 || to == t.cfg.ID || m.Type == nil || raft.IsLocalMsg(m.GetType()) {
		t.drop(to, Envelope{ID: msgID, Message: m}, DropInvalid, true)
		return
	}
	p := (*t.peers.Load())[to]
	if p == nil {
		t.drop(to, Envelope{ID: msgID, Message: m}, DropUnknownPeer, true)
		return
	}
	c := p.conn.Load()
	if c == nil {
		t.drop(to, Envelope{ID: msgID, Message: m}, DropNoConnection, true)
		return
	}
	select {
	case c.queue <- Envelope{ID: msgID, Message: m}:
		// If c shut down meanwhile, its writer may be gone and its
		// queue already drained: drop what is left, ours included, so
		// that every message is written or dropped, never forgotten.
		if c.isDone() {
			c.dropQueued()
		}
	default:
		t.drop(to, Envelope{ID: msgID, Message: m}, DropQueueFull, true)
	}
}

// drop counts and reports a message that will not be sent. report says
// whether to tell raft the peer is unreachable; callers that drop a whole
// queue when a connection dies report once instead.
func (t *Transport) drop(to uint64, e Envelope, reason DropReason, report bool) {
	t.stats.drop(reason)
	t.log.Debug("ws: drop", "to", to, "msg", e.ID, "reason", string(reason))
	if t.cfg.OnDrop != nil {
		t.cfg.OnDrop(e.ID, e.Message, reason)
	}
	// An invalid or oversized message says nothing about the peer being
	// reachable; resending it will fail the same way.
	if report && reason != DropInvalid && reason != DropOversized && to != 0 && t.cfg.ReportUnreachable != nil {
		t.cfg.ReportUnreachable(to)
	}
	if e.Message.GetType() == pb.MsgSnap && to != 0 && t.cfg.ReportSnapshot != nil {
		t.cfg.ReportSnapshot(to, false)
	}
}

// Stats returns the counters.
func (t *Transport) Stats() Stats { return t.stats.snapshot() }

// Close closes every connection, stops every goroutine the transport
// started and waits for them; messages still queued are dropped. It is
// idempotent. Deliver is not called after Close returns.
func (t *Transport) Close() error {
	t.mu.Lock()
	t.closed = true
	conns := slices.Collect(maps.Keys(t.conns))
	t.mu.Unlock()
	t.cancel()
	for _, c := range conns {
		c.shutdown(websocket.CloseGoingAway, "transport closed", false)
	}
	t.wg.Wait()
	return nil
}

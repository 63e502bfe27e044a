//go:build !js

package ws

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

// Config configures a Transport. Every callback may be called from any
// goroutine, and Send calls ReportUnreachable, ReportSnapshot and OnDrop
// synchronously; callbacks must not block and must not wait for the
// Transport. The transport holds no lock while it calls them, so they may
// call Send.
type Config struct {
	// ID is this member, ClusterID its cluster. ID must not be 0.
	ID, ClusterID uint64
	// Token is the cluster secret both ends of a connection prove they hold;
	// required. It never crosses the wire, but anyone who can reach the
	// peer endpoint can try guesses, one connection each: use a long random
	// value (32 bytes from a CSPRNG), not a password.
	Token string
	// MaxMessageBytes is the largest raft message accepted; the socket
	// read limit is this plus FrameOverhead. The handshake announces it, and
	// a sender refuses (drops, as oversized) a message larger than its own
	// or its peer's limit. It must allow raft's largest message
	// (MaxSizePerMsg, or a single large entry, or a whole snapshot).
	// Default 16 MiB; at least 1 KiB.
	MaxMessageBytes int
	// QueueSize is the per-peer outbound queue, in messages. Default 4096.
	QueueSize int
	// HandshakeTimeout bounds the WebSocket upgrade plus the peer
	// handshake (default 5s); WriteTimeout each write (default 5s).
	// PingInterval is how often each side pings (default 5s) and
	// PongTimeout how long a connection may stay silent, no message and no
	// pong, before it is closed as dead (default 15s).
	HandshakeTimeout, WriteTimeout, PingInterval, PongTimeout time.Duration
	// ClientTLS is used to dial wss:// peers (RootCAs from a CA file); nil:
	// the system roots.
	ClientTLS *tls.Config
	// AcceptPeer decides which member ids may connect; nil: any id but 0
	// and ID. The handshake calls it only after the peer proved it holds
	// the token.
	AcceptPeer func(id uint64) bool
	// Deliver receives each authenticated, well-formed message with the id
	// its sender gave it, in order per connection; the sender is
	// m.GetFrom(), already checked against the authenticated peer. It runs
	// on the connection's reader: while it blocks, that peer's traffic
	// waits. Required.
	Deliver func(msgID uint64, m *pb.Message)
	// ReportUnreachable is called with a peer's id when a message to it is
	// dropped and when its connection is lost.
	ReportUnreachable func(id uint64)
	// ReportSnapshot is called after every MsgSnap passed to Send: ok once
	// it was written to the socket, false if it was dropped or its write
	// failed. raft needs one or the other, or the follower stays in
	// StateSnapshot.
	ReportSnapshot func(id uint64, ok bool)
	// OnSend is called with each message written to a socket and its
	// protobuf size; OnDrop with each outbound message dropped. Optional
	// (metrics, the UI's send and drop events).
	OnSend func(msgID uint64, m *pb.Message, size int)
	OnDrop func(msgID uint64, m *pb.Message, reason DropReason)
	// Logger receives connection events; nil: discard.
	Logger *slog.Logger
}

// Defaults for the zero values of Config.
const (
	DefaultQueueSize        = 4096
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultWriteTimeout     = 5 * time.Second
	DefaultPingInterval     = 5 * time.Second
	DefaultPongTimeout      = 15 * time.Second
)

// withDefaults returns cfg with its zero values filled in, or why it
// cannot be used.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.ID == 0 {
		return cfg, errors.New("ws: config: ID must not be 0")
	}
	if cfg.Token == "" {
		return cfg, errors.New("ws: config: empty Token")
	}
	if cfg.Deliver == nil {
		return cfg, errors.New("ws: config: nil Deliver")
	}
	if cfg.MaxMessageBytes != 0 && (cfg.MaxMessageBytes < MinMessageBytesLimit || cfg.MaxMessageBytes > MaxMessageBytesLimit) {
		return cfg, fmt.Errorf("ws: config: MaxMessageBytes %d out of [%d, %d]", cfg.MaxMessageBytes, MinMessageBytesLimit, MaxMessageBytesLimit)
	}
	if cfg.QueueSize < 0 {
		return cfg, errors.New("ws: config: negative QueueSize")
	}
	for _, d := range []time.Duration{cfg.HandshakeTimeout, cfg.WriteTimeout, cfg.PingInterval, cfg.PongTimeout} {
		if d < 0 {
			return cfg, errors.New("ws: config: negative timeout")
		}
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	def(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&cfg.WriteTimeout, DefaultWriteTimeout)
	def(&cfg.PingInterval, DefaultPingInterval)
	def(&cfg.PongTimeout, DefaultPongTimeout)
	if cfg.PongTimeout <= cfg.PingInterval {
		// A connection must survive the wait for the next ping's pong.
		return cfg, errors.New("ws: config: PongTimeout must exceed PingInterval")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

package ws

import "sync/atomic"

// Stats are a transport's counters since it started. Outbound drops count
// messages; inbound refusals count frames, because the content of a refused
// frame (its message count included) is not trusted.
type Stats struct {
	// Sent counts messages written to a socket, Received messages handed to
	// Deliver; the bytes are their protobuf sizes.
	Sent, Received           uint64
	SentBytes, ReceivedBytes uint64
	Dropped                  Drops
	// AuthFailures counts handshakes that failed, on either side: wrong
	// token, wrong cluster, refused id, malformed or timed out.
	AuthFailures uint64
	// Open is the number of authenticated connections open now: one per
	// connected peer, plus, for a moment, a duplicate being retired.
	Open int
	// Connections counts authenticated connections established, Reconnects
	// those to a peer that had one before.
	Connections, Reconnects uint64
}

// Drops counts what was lost, by reason.
type Drops struct {
	// Outbound messages that never reached a socket (see DropReason).
	UnknownPeer, NoConnection, QueueFull, Oversized, Invalid, ConnectionLost uint64
	// Inbound frames refused; each also closes the connection it came on.
	// SpoofedFrom: a message not from the authenticated peer.
	// WrongRecipient: a message for another member. WrongCluster: a frame
	// of another cluster. BadFrame: bytes that do not decode, or a local
	// message type. OversizedFrame: over the read limit.
	SpoofedFrom, WrongRecipient, WrongCluster, BadFrame, OversizedFrame uint64
}

// DropReason says why an outbound message was dropped.
type DropReason string

const (
	// DropUnknownPeer: no peer with the message's To (SetPeer was never
	// called and it never connected to us).
	DropUnknownPeer DropReason = "unknown peer"
	// DropNoConnection: the peer is known but not connected.
	DropNoConnection DropReason = "no connection"
	// DropQueueFull: the peer's outbound queue is full (it is slow, or
	// the link is).
	DropQueueFull DropReason = "queue full"
	// DropOversized: the message is larger than MaxMessageBytes.
	DropOversized DropReason = "oversized"
	// DropInvalid: the message cannot go on the wire: a local type, From
	// not this member, To 0 or this member.
	DropInvalid DropReason = "invalid"
	// DropConnectionLost: the connection failed before the message was
	// written, or the transport closed.
	DropConnectionLost DropReason = "connection lost"
)

// counters are the live Stats, updated without locks.
type counters struct {
	sent, received, sentBytes, receivedBytes atomic.Uint64

	unknownPeer, noConnection, queueFull, oversized, invalid, connectionLost atomic.Uint64
	spoofedFrom, wrongRecipient, wrongCluster, badFrame, oversizedFrame      atomic.Uint64

	authFailures, connections, reconnects atomic.Uint64
	open                                  atomic.Int64
}

func (c *counters) drop(r DropReason) {
	switch r {
	case DropUnknownPeer:
		c.unknownPeer.Add(1)
	case DropNoConnection:
		c.noConnection.Add(1)
	case DropQueueFull:
		c.queueFull.Add(1)
	case DropOversized:
		c.oversized.Add(1)
	case DropInvalid:
		c.invalid.Add(1)
	default:
		c.connectionLost.Add(1)
	}
}

func (c *counters) snapshot() Stats {
	return Stats{
		Sent:          c.sent.Load(),
		Received:      c.received.Load(),
		SentBytes:     c.sentBytes.Load(),
		ReceivedBytes: c.receivedBytes.Load(),
		Dropped: Drops{
			UnknownPeer:    c.unknownPeer.Load(),
			NoConnection:   c.noConnection.Load(),
			QueueFull:      c.queueFull.Load(),
			Oversized:      c.oversized.Load(),
			Invalid:        c.invalid.Load(),
			ConnectionLost: c.connectionLost.Load(),
			SpoofedFrom:    c.spoofedFrom.Load(),
			WrongRecipient: c.wrongRecipient.Load(),
			WrongCluster:   c.wrongCluster.Load(),
			BadFrame:       c.badFrame.Load(),
			OversizedFrame: c.oversizedFrame.Load(),
		},
		AuthFailures: c.authFailures.Load(),
		Open:         int(c.open.Load()),
		Connections:  c.connections.Load(),
		Reconnects:   c.reconnects.Load(),
	}
}

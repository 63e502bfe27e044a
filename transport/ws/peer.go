//go:build !js

package ws

import (
	"context"
	"maps"
	"sync/atomic"
)

// peer is another member and its connection, if any.
// A peer exists once SetPeer named it or it connected to us.
type peer struct {
	id uint64
	// conn is the peer's one connection, nil while there is none. Stored
	// under Transport.mu, loaded without it (Send).
	conn atomic.Pointer[conn]
	// wake (capacity 1) tells the dial loop that the connection went away
	// or the url changed.
	wake chan struct{}

	// Guarded by Transport.mu.
	url      string             // ws:// or wss:// url to dial; "" for a peer that only dials us
	stopDial context.CancelFunc // stops the dial loop; nil when there is none
	removed  bool               // RemovePeer was called: its loss is not news
	// connected is true once the peer had a connection, so the next one
	// counts as a reconnect; handover is true while the peer has none
	// because it retired ours for another: the next one is its successor.
	connected, handover bool
	// dialing is true while the dial loop dials (tests wait for quiet).
	dialing atomic.Bool
}

// signal wakes the dial loop without blocking.
func (p *peer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// peerLocked returns the peer id, creating it. t.mu must be held.
func (t *Transport) peerLocked(id uint64) *peer {
	if p := (*t.peers.Load())[id]; p != nil {
		return p
	}
	p := &peer{id: id, wake: make(chan struct{}, 1)}
	m := maps.Clone(*t.peers.Load())
	m[id] = p
	t.peers.Store(&m)
	return p
}

// keepNew decides, when a second authenticated connection to the same
// peer appears, which one stays. Both members must pick the same one
// without talking, or a simultaneous dial would leave each side closing
// the connection the other kept. The rule uses only what both ends know:
// the connection dialed by the lower member id wins; between two dialed by
// the same member, the newer one wins, because that member dials only when
// it has lost its connection, so the older one is dead on its side.
func keepNew(self, peerID, newDialedBy, oldDialedBy uint64) bool {
	low := min(self, peerID)
	if newDialedBy == oldDialedBy {
		return true
	}
	return newDialedBy == low
}

// attach makes c the peer's connection, unless the peer already has one
// that keepNew prefers, and starts its reader and writer either way: a
// losing connection is retired at once rather than dropped, so that
// whatever the peer already sent on it is still delivered. dialedFor is
// the peer a dial loop dialed c for (nil for a connection the peer
// dialed): if RemovePeer came meanwhile, c is not wanted.
func (t *Transport) attach(c *conn, dialedFor *peer) {
	t.mu.Lock()
	if t.closed || (dialedFor != nil && dialedFor.removed) {
		t.mu.Unlock()
		c.abandon(closeGoingAway, "peer removed or transport closed")
		return
	}
	p := t.peerLocked(c.peerID)
	c.p = p
	old := p.conn.Load()
	current := old == nil || keepNew(t.cfg.ID, c.peerID, c.dialedBy, old.dialedBy)
	reconnect := false
	if current {
		c.queue = make(chan Envelope, t.cfg.QueueSize)
		p.conn.Store(c)
		// Replacing a duplicate is not a reconnect; coming back after a
		// loss is.
		reconnect = p.connected && old == nil && !p.handover
		p.connected, p.handover = true, false
	} else {
		// Never current, so never given a message.
		c.queue = make(chan Envelope)
	}
	t.conns[c] = struct{}{}
	t.wg.Add(2)
	t.mu.Unlock()

	t.stats.open.Add(1)
	if current {
		t.stats.connections.Add(1)
		if reconnect {
			t.stats.reconnects.Add(1)
		}
		t.log.Info("ws: connected", "peer", c.peerID, "dialed by", c.dialedBy, "remote", c.ws.RemoteAddr().String())
	} else {
		t.log.Debug("ws: duplicate connection retired", "peer", c.peerID, "dialed by", c.dialedBy)
	}
	go c.readLoop()
	go c.writeLoop()
	if !current {
		c.retire()
	} else if old != nil {
		old.retire()
	}
}

// detach runs once when an attached connection has shut down. If it was
// still the peer's connection (not retired), the peer is now unconnected:
// raft hears it is unreachable, and the dial loop wakes.
func (t *Transport) detach(c *conn) {
	t.mu.Lock()
	delete(t.conns, c)
	p := c.p
	lost := p.conn.Load() == c
	if lost {
		p.conn.Store(nil)
		p.handover = false
		p.signal()
	}
	report := lost && !t.closed && !p.removed
	t.mu.Unlock()
	t.stats.open.Add(-1)
	if !lost {
		return
	}
	t.log.Info("ws: disconnected", "peer", p.id)
	if report && t.cfg.ReportUnreachable != nil {
		t.cfg.ReportUnreachable(p.id)
	}
}

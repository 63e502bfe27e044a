//go:build !js

package ws

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// ServeHTTP is the peer endpoint (cmd/node mounts it at /raft): it upgrades
// the request to a WebSocket, runs the server side of the handshake, and
// keeps the connection, which then carries messages both ways.
func (t *Transport) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !t.enter() {
		http.Error(w, "ws: transport closed", http.StatusServiceUnavailable)
		return
	}
	defer t.wg.Done()
	select {
	case t.handshakes <- struct{}{}:
	default:
		http.Error(w, "ws: too many pending handshakes", http.StatusServiceUnavailable)
		return
	}
	if c := t.accept(w, r); c != nil {
		t.attach(c, nil)
	}
	<-t.handshakes
}

// enter registers a ServeHTTP call with wg, unless the transport is closed.
func (t *Transport) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

// accept upgrades and authenticates an inbound connection within
// HandshakeTimeout; nil if it fails.
func (t *Transport) accept(w http.ResponseWriter, r *http.Request) *conn {
	ws, err := t.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// gorilla answered with an HTTP error.
		t.log.Debug("ws: upgrade", "remote", r.RemoteAddr, "err", err)
		return nil
	}
	// The deadlines bound the handshake; Close aborts it at once.
	stop := context.AfterFunc(t.ctx, func() { ws.NetConn().Close() })
	peer, err := t.serverHandshake(ws, time.Now().Add(t.cfg.HandshakeTimeout))
	if !stop() && err == nil {
		err = t.ctx.Err()
	}
	if err != nil {
		if t.ctx.Err() == nil {
			t.stats.authFailures.Add(1)
			t.log.Warn("ws: handshake with peer failed", "remote", r.RemoteAddr, "err", err)
			// A no-op if the refusal was already sent.
			closeWith(ws, websocket.ClosePolicyViolation, "ws: handshake failed")
		}
		ws.Close()
		return nil
	}
	return newConn(t, ws, peer, peer.ID)
}

// serverHandshake sends our hello, checks the client's proof and id, and
// answers with our own proof, or with the reason we refuse.
func (t *Transport) serverHandshake(ws *websocket.Conn, deadline time.Time) (Peer, error) {
	hs, err := NewServerHandshake(t.cred, t.cfg.AcceptPeer)
	if err != nil {
		return Peer{}, err
	}
	ws.SetReadLimit(MaxHandshakeMessageBytes)
	ws.SetReadDeadline(deadline)
	ws.SetWriteDeadline(deadline)
	if err := ws.WriteMessage(websocket.BinaryMessage, hs.Hello()); err != nil {
		return Peer{}, err
	}
	answer, err := readHandshakeMessage(ws)
	if err != nil {
		return Peer{}, err
	}
	peer, welcome, err := hs.Verify(answer)
	if err != nil {
		_ = ws.WriteMessage(websocket.BinaryMessage, Reject(err))
		closeWith(ws, websocket.ClosePolicyViolation, err.Error())
		return Peer{}, err
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, welcome); err != nil {
		return Peer{}, err
	}
	return peer, clearDeadlines(ws)
}

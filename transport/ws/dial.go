//go:build !js

package ws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gorilla/websocket"
)

// dialLoop keeps p connected while the peer is set: it dials whenever p
// has no connection (ours or one the peer dialed), backing off between
// attempts, until ctx ends (RemovePeer, Close).
func (t *Transport) dialLoop(ctx context.Context, p *peer) {
	defer t.wg.Done()
	bo := backoff{min: minRedialDelay, max: maxRedialDelay}
	first := true
	for {
		if c := p.conn.Load(); c != nil {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
			}
			// A connection that lived long was healthy: start the
			// delays over. One that died young (a peer that accepts
			// then closes) keeps them growing.
			if p.conn.Load() == nil && time.Since(c.since) >= maxRedialDelay {
				bo.reset()
			}
			continue
		}
		if !first {
			timer := time.NewTimer(bo.next())
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			case <-p.wake: // a new url, or the peer dialed us
				timer.Stop()
			}
			if p.conn.Load() != nil {
				continue
			}
		}
		first = false
		t.mu.Lock()
		url := p.url
		t.mu.Unlock()
		p.dialing.Store(true)
		c, err := t.dial(ctx, p.id, url)
		if err == nil {
			t.attach(c, p)
		}
		p.dialing.Store(false)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			t.log.Debug("ws: dial", "peer", p.id, "url", url, "err", err)
		}
	}
}

// dial opens a WebSocket to url and runs the client handshake, expecting
// the member peerID, all within HandshakeTimeout.
func (t *Transport) dial(ctx context.Context, peerID uint64, url string) (*conn, error) {
	deadline := time.Now().Add(t.cfg.HandshakeTimeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	ws, resp, err := t.dialer.DialContext(dctx, url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	// The deadlines bound the handshake; RemovePeer and Close abort it at
	// once.
	stop := context.AfterFunc(ctx, func() { ws.NetConn().Close() })
	peer, err := t.clientHandshake(ws, peerID, deadline)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		if ctx.Err() == nil {
			t.stats.authFailures.Add(1)
			t.log.Warn("ws: handshake with peer failed", "peer", peerID, "url", url, "err", err)
			closeWith(ws, websocket.ClosePolicyViolation, "ws: handshake failed")
		}
		ws.Close()
		return nil, err
	}
	return newConn(t, ws, peer, t.cfg.ID), nil
}

// clientHandshake proves our token to the server and checks its proof.
func (t *Transport) clientHandshake(ws *websocket.Conn, serverID uint64, deadline time.Time) (Peer, error) {
	hs, err := NewClientHandshake(t.cred, serverID)
	if err != nil {
		return Peer{}, err
	}
	ws.SetReadLimit(MaxHandshakeMessageBytes)
	ws.SetReadDeadline(deadline)
	ws.SetWriteDeadline(deadline)
	hello, err := readHandshakeMessage(ws)
	if err != nil {
		return Peer{}, err
	}
	answer, err := hs.Answer(hello)
	if err != nil {
		closeWith(ws, websocket.ClosePolicyViolation, err.Error())
		return Peer{}, err
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, answer); err != nil {
		return Peer{}, err
	}
	last, err := readHandshakeMessage(ws)
	if err != nil {
		return Peer{}, err
	}
	if err := hs.Verify(last); err != nil {
		closeWith(ws, websocket.ClosePolicyViolation, err.Error())
		return Peer{}, err
	}
	return hs.Server(), clearDeadlines(ws)
}

// readHandshakeMessage reads one binary message of at most
// MaxHandshakeMessageBytes (the read limit set by the caller).
func readHandshakeMessage(ws *websocket.Conn) ([]byte, error) {
	mt, r, err := ws.NextReader()
	if err != nil {
		return nil, fmt.Errorf("ws: handshake: %w", err)
	}
	if mt != websocket.BinaryMessage {
		return nil, fmt.Errorf("%w: text message", ErrBadHandshake)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			return nil, fmt.Errorf("%w: too long", ErrBadHandshake)
		}
		return nil, fmt.Errorf("ws: handshake: %w", err)
	}
	return b, nil
}

// clearDeadlines lifts the handshake's deadlines: from now on the reader
// and the writer set their own.
func clearDeadlines(ws *websocket.Conn) error {
	ws.SetWriteDeadline(time.Time{})
	return ws.SetReadDeadline(time.Time{})
}

package ws

import (
	"fmt"
	"net/url"
)

// PeerPath is where cmd/node mounts Transport.ServeHTTP, and the path a
// peer URL without one is given.
const PeerPath = "/raft"

// PeerURL turns the URL of a member as an operator writes it
// ("http://host:port", "https://host:port", "ws://...", "wss://...") into
// the WebSocket URL to dial: http becomes ws, https becomes wss, and an
// empty path becomes PeerPath.
func PeerURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("ws: peer url %q: %w", raw, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("ws: peer url %q: scheme must be http, https, ws or wss", raw)
	}
	if u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("ws: peer url %q: no host", raw)
	}
	if u.User != nil {
		// The cluster token authenticates peers; a password in a URL would
		// only end up in logs.
		return "", fmt.Errorf("ws: peer url %q: user info not allowed", raw)
	}
	if u.Fragment != "" {
		return "", fmt.Errorf("ws: peer url %q: fragment not allowed", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = PeerPath
	}
	return u.String(), nil
}

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/raftlab/raftlab/core"
)

// GET /events streams this member's events in the shared schema
// (core/events.go) over a WebSocket, each frame a JSON object:
//
//	{"hello": {...}}          first, once: who is talking, the schema version
//	{"events": [...]}         a batch of events, in sequence order
//
// ?since=SEQ resumes after event SEQ from the bounded history; when the
// history no longer reaches back that far, a "dropped" event says how many
// were missed. A consumer that falls behind is cut off with close code 4001
// and may resume. Browsers may connect only from this member's own origin
// or an allowed one, and only under a host name this member answers to, so
// neither a cross-site page nor a DNS-rebinding one can read the stream.

const (
	closeTooSlow   = 4001
	eventsPerFrame = 512
	eventsFlush    = 50 * time.Millisecond
	eventsPing     = 20 * time.Second
	eventsWrite    = 10 * time.Second
)

// streamHello opens an event stream.
type streamHello struct {
	V         int    `json:"v"`
	Member    uint64 `json:"member"`
	ClusterID string `json:"clusterId"`
	// Last is the newest sequence number when the stream opened.
	Last uint64 `json:"last"`
}

type streamFrame struct {
	Hello  *streamHello `json:"hello,omitempty"`
	Events []core.Event `json:"events,omitempty"`
}

// hostAllowed reports whether a request's Host names this member: its
// advertised host, its listen address, a loopback name, or the host of an
// allowed origin. A DNS-rebinding page reaches us under its own name.
func (s *server) hostAllowed(host string) bool {
	h := strings.ToLower(host)
	if hn, _, err := net.SplitHostPort(h); err == nil {
		h = hn
	}
	h = strings.Trim(h, "[]")
	allowed := []string{"localhost", "127.0.0.1", "::1"}
	for _, u := range append([]string{s.opts.advertiseURL}, s.opts.allowedOrigins...) {
		if pu, err := url.Parse(u); err == nil {
			allowed = append(allowed, strings.ToLower(pu.Hostname()))
		}
	}
	if lh, _, err := net.SplitHostPort(s.opts.listen); err == nil && lh != "" {
		allowed = append(allowed, strings.ToLower(strings.Trim(lh, "[]")))
	}
	return slices.Contains(allowed, h)
}

// originAllowed: no Origin (not a browser), the same origin as the
// request's host, an allowed one, or a member of the cluster (the UI served
// by one member watches them all).
func (s *server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host) || s.trustedOrigin(origin)
}

// trustedOrigin reports whether origin is an allowed origin or a member's
// advertised URL.
func (s *server) trustedOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	o := strings.ToLower(u.Scheme + "://" + u.Host)
	if slices.Contains(s.opts.allowedOrigins, o) {
		return true
	}
	for _, m := range s.driver.Status().Members {
		if mu, err := url.Parse(m.URL); err == nil && strings.EqualFold(mu.Scheme+"://"+mu.Host, o) {
			return true
		}
	}
	return false
}

// cors lets a page from a trusted origin (an allowed origin, or another
// member) call this member's API: the visualizer served by one member, or
// by raftnode demo, talks to all of them. Admin calls still need the token.
func (s *server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && s.trustedOrigin(origin) && !strings.HasPrefix(r.URL.Path, "/raft") {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "X-Raftlab-Index")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, PUT, POST, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) events(w http.ResponseWriter, r *http.Request) {
	if !s.hostAllowed(r.Host) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("host %q is not this member's: use its address, or add the origin to --allowed-origins", r.Host))
		return
	}
	if !s.originAllowed(r) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("origin %q may not read this member's events: add it to --allowed-origins", r.Header.Get("Origin")))
		return
	}
	var since uint64
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("since=%q: want an event sequence number", v))
			return
		}
		since = n
	}
	var limit *rateLimit
	if v := r.URL.Query().Get("rate"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("rate=%q: want the detail events per second, a positive integer", v))
			return
		}
		limit = newRateLimit(float64(n))
	}
	up := websocket.Upgrader{
		HandshakeTimeout:  5 * time.Second,
		EnableCompression: false,
		CheckOrigin:       func(*http.Request) bool { return true }, // checked above
	}
	if !s.streamStarted() {
		writeError(w, http.StatusServiceUnavailable, "member stopping")
		return
	}
	defer s.streams.Done()
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	defer conn.Close()
	s.metrics.eventStreams.Inc()
	defer s.metrics.eventStreams.Dec()
	backlog, missed, sub := s.hub.subscribe(since, limit)
	defer s.hub.unsubscribe(sub)

	// The reader only answers pings and notices the close.
	conn.SetReadLimit(4 << 10)
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	write := func(b []byte) error {
		_ = conn.SetWriteDeadline(time.Now().Add(eventsWrite))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	// send writes a batch as {"events":[...]} from the events' shared
	// encodings. The hub applied the stream's rate limit.
	var buf []byte
	send := func(batch []*hubEvent) error {
		buf = append(buf[:0], `{"events":[`...)
		for i, e := range batch {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, e.json()...)
		}
		buf = append(buf, "]}"...)
		return write(buf)
	}
	hello, _ := json.Marshal(streamFrame{Hello: &streamHello{V: core.SchemaVersion, Member: s.opts.id, ClusterID: fmt.Sprintf("%016x", s.clusterID), Last: s.hub.lastSeq()}})
	if write(hello) != nil {
		return
	}
	if missed > 0 {
		backlog = append([]*hubEvent{{Event: core.Event{V: core.SchemaVersion, Seq: since + missed, Node: s.opts.id, Kind: core.KindDropped, Dropped: &core.DroppedInfo{Count: missed}}}}, backlog...)
	}
	// sendAll sends events in frames of at most eventsPerFrame.
	sendAll := func(events []*hubEvent) error {
		for len(events) > 0 {
			n := min(len(events), eventsPerFrame)
			if err := send(events[:n]); err != nil {
				return err
			}
			events = events[n:]
		}
		return nil
	}
	if sendAll(backlog) != nil {
		return
	}
	ping := time.NewTicker(eventsPing)
	defer ping.Stop()
	// The stream wakes every eventsFlush and sends what came meanwhile: a
	// stream woken for every event costs a busy member a context switch per
	// event and per watcher. Each frame costs the member about 60 µs, most of
	// it the kernel's on loopback, whatever it holds; 50 ms, not 25, halved
	// what four watchers cost a loaded member (docs/performance-log.md, item
	// 30), and the visualizer holds events 150 ms anyway to merge the
	// members' streams (MERGE_DELAY_MS in ui/js/source/live.js).
	flush := time.NewTicker(eventsFlush)
	defer flush.Stop()
	var sent []*hubEvent
	for {
		select {
		case <-flush.C:
			sent = s.hub.take(sub, sent)
			if sendAll(sent) != nil {
				return
			}
		case <-sub.cut:
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closeTooSlow, "consumer too slow: resume with ?since="), time.Now().Add(time.Second))
			return
		case <-ping.C:
			if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(eventsWrite)) != nil {
				return
			}
		case <-gone:
			return
		case <-s.stopping:
			// The member's last words (its removal, its stop) are what a
			// watcher most wants: send what is queued, then say goodbye.
			if sendAll(s.hub.take(sub, sent)) != nil {
				return
			}
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "member stopping"), time.Now().Add(time.Second))
			return
		}
	}
}

// streamStarted counts an event stream in s.streams, unless the member is
// stopping (stop waits for the streams it counted).
func (s *server) streamStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stopping:
		return false
	default:
		s.streams.Add(1)
		return true
	}
}

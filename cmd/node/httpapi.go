package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/raftlab/raftlab/core"
	"github.com/raftlab/raftlab/core/live"
)

// apiError is the body of every error answer: {"error": "..."}.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// writeRaftError answers err from the driver with a fitting status: 503
// when the cluster cannot take the request now (no leader, a leadership
// change lost it: retry), 504 when it took too long (it may still happen),
// 400 for a request the state machine refuses.
func writeRaftError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, core.ErrNoLeader), errors.Is(err, raft.ErrProposalDropped):
		writeError(w, http.StatusServiceUnavailable, "no leader: the cluster is electing one or lost its majority; retry")
	case errors.Is(err, core.ErrProposalLost), errors.Is(err, core.ErrLeaderChanged):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, core.ErrUnknownOutcome):
		writeError(w, http.StatusGatewayTimeout, "timeout: the request did not complete in time and may or may not take effect")
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "request canceled")
	case errors.Is(err, live.ErrStopped), errors.Is(err, live.ErrRemoved), errors.Is(err, core.ErrStopped):
		writeError(w, http.StatusServiceUnavailable, "member stopped: "+err.Error())
	case errors.Is(err, core.ErrTooManyRequests), errors.Is(err, live.ErrBusy):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, core.ErrNotLeader):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, core.ErrConfChangeIgnored):
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeError(w, http.StatusBadRequest, err.Error())
	}
}

// requireAdmin checks the admin token of a mutating admin call, when the
// member has one. It answers 401 itself and returns false on failure.
func (s *server) requireAdmin(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.adminToken == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.adminToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="raftlab admin"`)
		writeError(w, http.StatusUnauthorized, "admin token required: Authorization: Bearer <token>")
		return false
	}
	return true
}

// routes builds the member's HTTP API; everything shares one port.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/raft", s.transport)
	mux.HandleFunc("GET /kv/{key...}", s.getKV)
	mux.HandleFunc("PUT /kv/{key...}", s.putKV)
	mux.HandleFunc("DELETE /kv/{key...}", s.deleteKV)
	mux.HandleFunc("GET /cluster", s.getCluster)
	mux.HandleFunc("POST /cluster/members", s.addMember)
	mux.HandleFunc("POST /cluster/members/{id}/promote", s.promoteMember)
	mux.HandleFunc("DELETE /cluster/members/{id}", s.removeMember)
	mux.HandleFunc("POST /cluster/leader", s.transferLeader)
	mux.HandleFunc("POST /cluster/snapshot", s.snapshot)
	mux.HandleFunc("GET /cluster/digest", s.digest)
	mux.HandleFunc("GET /events", s.events)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("/", s.ui)
	if s.opts.enablePprof {
		s.handlePprof(mux)
	}
	// Under the API's paths, what the mux would answer in plain text (404,
	// 405) is answered in JSON, like every other API error.
	fallbacks := []string{"/kv/", "/cluster", "/cluster/", "/events", "/metrics", "/healthz"}
	for _, p := range fallbacks {
		mux.Handle(p, apiFallback(mux, fallbacks))
	}
	return s.deadlines(s.cors(mux))
}

// clientIOTimeout is how long a client may take, beyond --request-timeout,
// to send its request (body included) and read the answer; uiIOTimeout
// is the same for the UI's files (the simulator is megabytes, and a
// classroom's network may be slow).
const (
	clientIOTimeout = 10 * time.Second
	uiIOTimeout     = 5 * time.Minute
)

// deadlines bounds each request's reading and answering. The server sets
// no ReadTimeout or WriteTimeout, which would cut the /events and /raft
// streams, and ReadHeaderTimeout covers only the headers: without this, a
// client that sends its body a byte at a time (to any endpoint: the server
// drains an unread body after the handler) or never reads its answer holds
// a connection and a goroutine for ever. The streams manage their own
// deadlines, so theirs are cleared (a kept-alive connection may bring
// stale ones). The next request on a connection sets its own, and the
// server resets the read deadline for its headers.
func (s *server) deadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The answer gets longer than the request, so that a request
		// whose body came too slowly still hears why (408).
		var read, write time.Time
		switch p := r.URL.Path; {
		case p == "/raft" || p == "/events":
		case strings.HasPrefix(p, "/kv/") || strings.HasPrefix(p, "/cluster") || p == "/metrics" || p == "/healthz":
			read = time.Now().Add(s.opts.requestTimeout + clientIOTimeout)
			write = read.Add(clientIOTimeout)
		default:
			read = time.Now().Add(uiIOTimeout)
			write = read
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(read)
		_ = rc.SetWriteDeadline(write)
		next.ServeHTTP(w, r)
	})
}

// apiFallback answers a request to an API path that no route takes: 405
// with Allow when other methods have a route there, 404 otherwise.
func apiFallback(mux *http.ServeMux, fallbacks []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && !slices.Contains(fallbacks, pattern) {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			writeError(w, http.StatusNotFound, "no such API endpoint: "+r.URL.Path)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed here: use %s", r.Method, strings.Join(allow, ", ")))
	})
}

// healthz answers 200 while the member runs and knows a leader, 503
// otherwise, with the member's view.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	st := s.driver.Status()
	body := map[string]any{"id": st.ID, "role": st.Role, "term": st.Term, "leader": st.Lead, "applied": st.Applied}
	switch {
	case s.driver.Err() != nil:
		body["error"] = s.driver.Err().Error()
		writeJSON(w, http.StatusServiceUnavailable, body)
	case st.Lead == 0:
		body["error"] = "no leader"
		writeJSON(w, http.StatusServiceUnavailable, body)
	default:
		body["ok"] = true
		writeJSON(w, http.StatusOK, body)
	}
}

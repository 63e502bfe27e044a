package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/raftlab/raftlab/core"
)

// The cluster API: status, membership (§6), leadership transfer (thesis
// §3.10) and snapshots (§7). Membership changes and transfers must be made
// on the leader; a follower forwards them there.

// clusterStatus is the answer of GET /cluster.
type clusterStatus struct {
	ClusterID string `json:"clusterId"`
	// Member is the member that answered, with its view.
	Member  uint64        `json:"member"`
	Leader  uint64        `json:"leader"`
	Term    uint64        `json:"term"`
	Commit  uint64        `json:"commit"`
	Applied uint64        `json:"applied"`
	Role    string        `json:"role"`
	Members []core.Member `json:"members"`
	// LeaderURL is where the leader is reached, "" when unknown.
	LeaderURL string `json:"leaderUrl,omitempty"`
	// Progress is the leader's view of each follower; a follower fetches
	// it from the leader.
	Progress []core.ProgressInfo `json:"progress,omitempty"`
	Status   core.Status         `json:"status"`
	// TickMs is the duration of a raft tick, for drawing timers.
	TickMs int64 `json:"tickMs"`
}

func (s *server) clusterStatus() clusterStatus {
	st := s.driver.Status()
	cs := clusterStatus{
		ClusterID: fmt.Sprintf("%016x", s.clusterID),
		Member:    st.ID,
		Leader:    st.Lead,
		Term:      st.Term,
		Commit:    st.Commit,
		Applied:   st.Applied,
		Role:      st.Role,
		Members:   st.Members,
		Progress:  st.Progress,
		Status:    st,
		TickMs:    s.opts.tick.Milliseconds(),
	}
	for _, m := range st.Members {
		if m.ID == st.Lead {
			cs.LeaderURL = m.URL
		}
	}
	return cs
}

func (s *server) getCluster(w http.ResponseWriter, r *http.Request) {
	cs := s.clusterStatus()
	if cs.Role != "leader" && cs.LeaderURL != "" && r.URL.Query().Get("local") == "" {
		// The leader's view of the followers is what a student wants to
		// see; ask it, briefly.
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		var lead clusterStatus
		if err := s.peerJSON(ctx, http.MethodGet, cs.LeaderURL+"/cluster?local=1", nil, &lead); err == nil && lead.Role == "leader" {
			cs.Progress = lead.Progress
		}
	}
	writeJSON(w, http.StatusOK, cs)
}

// forwardToLeader forwards an admin request to the leader when this member
// is not it. It reports whether it answered the request.
func (s *server) forwardToLeader(w http.ResponseWriter, r *http.Request, body []byte) bool {
	cs := s.clusterStatus()
	if cs.Role == "leader" {
		return false
	}
	if r.Header.Get("X-Raftlab-Forwarded") != "" {
		writeError(w, http.StatusServiceUnavailable, "not the leader either; the leadership is changing, retry")
		return true
	}
	if cs.LeaderURL == "" {
		writeError(w, http.StatusServiceUnavailable, "no leader: the cluster is electing one or lost its majority; retry")
		return true
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, cs.LeaderURL+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return true
	}
	req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	req.Header.Set("X-Raftlab-Forwarded", strconv.FormatUint(s.opts.id, 10))
	resp, err := s.httpClient.Do(req)
	if err != nil {
		writeError(w, http.StatusBadGateway, "forwarding to the leader: "+err.Error())
		return true
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
	return true
}

// readBody reads a small JSON admin body, answering 400/413 itself.
func readBody(w http.ResponseWriter, r *http.Request, v any) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		bodyFailed(w, r, err, fmt.Sprintf("admin request body over %d bytes", maxAdminBody))
		return nil, false
	}
	if v != nil && len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
			return nil, false
		}
		if _, err := dec.Token(); err != io.EOF {
			writeError(w, http.StatusBadRequest, "bad JSON body: data after the object")
			return nil, false
		}
	}
	return body, true
}

// maxAdminBody bounds the body of an admin request.
const maxAdminBody = 64 << 10

// addMemberRequest is the body of POST /cluster/members.
type addMemberRequest struct {
	ID      uint64 `json:"id"`
	URL     string `json:"url"`
	Learner bool   `json:"learner"`
}

// addMemberResponse answers POST /cluster/members: what a joining member
// needs to start.
type addMemberResponse struct {
	ClusterID string        `json:"clusterId"`
	Index     uint64        `json:"index"`
	Members   []core.Member `json:"members"`
}

func (s *server) addMember(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	var req addMemberRequest
	body, ok := readBody(w, r, &req)
	if !ok {
		return
	}
	if req.ID == 0 {
		writeError(w, http.StatusBadRequest, `"id": a positive member id is required`)
		return
	}
	if err := checkURL(req.URL); err != nil {
		writeError(w, http.StatusBadRequest, `"url": `+err.Error())
		return
	}
	for _, m := range s.driver.Status().Members {
		if m.ID == req.ID {
			writeError(w, http.StatusConflict, fmt.Sprintf("member %d already exists", req.ID))
			return
		}
		if m.URL == req.URL {
			writeError(w, http.StatusConflict, fmt.Sprintf("member %d already uses %s", m.ID, req.URL))
			return
		}
	}
	if s.forwardToLeader(w, r, body) {
		return
	}
	change := "v"
	if req.Learner {
		change = "l"
	}
	s.confChange(w, r, fmt.Sprintf("%s%d", change, req.ID), map[uint64]string{req.ID: req.URL})
}

func (s *server) confChange(w http.ResponseWriter, r *http.Request, changes string, urls map[uint64]string) {
	cc, err := core.ParseConfChanges(changes)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	_, idx, err := s.driver.ConfChange(ctx, cc, urls)
	if err != nil {
		writeRaftError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, addMemberResponse{ClusterID: fmt.Sprintf("%016x", s.clusterID), Index: idx, Members: s.driver.Status().Members})
}

func pathID(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("member id %q: want a positive integer", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

func (s *server) memberRole(id uint64) string {
	for _, m := range s.driver.Status().Members {
		if m.ID == id {
			return m.Role
		}
	}
	return ""
}

func (s *server) promoteMember(w http.ResponseWriter, r *http.Request) {
	s.memberChange(w, r, "v", func(role string) (int, string) {
		if role == "voter" {
			return http.StatusConflict, "is already a voter"
		}
		return 0, ""
	})
}

func (s *server) removeMember(w http.ResponseWriter, r *http.Request) {
	s.memberChange(w, r, "r", func(string) (int, string) { return 0, "" })
}

// memberChange is a conf change on the member of the request's path: op is
// raft's letter for it ("v" voter, "r" remove); refuse may turn the
// member's current role down with a status and a reason.
func (s *server) memberChange(w http.ResponseWriter, r *http.Request, op string, refuse func(role string) (int, string)) {
	if !s.requireAdmin(w, r) {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r, nil)
	if !ok {
		return
	}
	role := s.memberRole(id)
	if role == "" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no member %d", id))
		return
	}
	if status, why := refuse(role); status != 0 {
		writeError(w, status, fmt.Sprintf("member %d %s", id, why))
		return
	}
	if s.forwardToLeader(w, r, body) {
		return
	}
	s.confChange(w, r, fmt.Sprintf("%s%d", op, id), nil)
}

func (s *server) transferLeader(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	var req struct {
		ID uint64 `json:"id"`
	}
	body, ok := readBody(w, r, &req)
	if !ok {
		return
	}
	if req.ID == 0 {
		writeError(w, http.StatusBadRequest, `"id": the member to transfer leadership to is required`)
		return
	}
	if role := s.memberRole(req.ID); role != "voter" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("member %d is not a voter", req.ID))
		return
	}
	if s.forwardToLeader(w, r, body) {
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	if req.ID != s.opts.id {
		if err := s.driver.TransferLeader(ctx, req.ID); err != nil {
			writeRaftError(w, err)
			return
		}
	}
	// Wait until this member hears of the new leader, or give up.
	for {
		if st := s.driver.Status(); st.Lead == req.ID {
			writeJSON(w, http.StatusOK, map[string]uint64{"leader": req.ID, "term": st.Term})
			return
		}
		select {
		case <-ctx.Done():
			writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("leadership did not move to %d in time", req.ID))
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *server) snapshot(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	if _, ok := readBody(w, r, nil); !ok {
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	idx, err := s.driver.Snapshot(ctx)
	if err != nil {
		writeRaftError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"index": idx})
}

// digestAnswer is the answer of GET /cluster/digest.
type digestAnswer struct {
	Member uint64 `json:"member"`
	core.StateDigest
}

// digest answers GET /cluster/digest: a fingerprint of this member's state
// machine at its applied index. Members at the same applied index must
// agree; the robustness tests compare them at the end of every run.
func (s *server) digest(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	d, err := s.driver.StateDigest(ctx)
	if err != nil {
		writeRaftError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, digestAnswer{Member: s.opts.id, StateDigest: d})
}

// peerJSON calls another member's API and decodes its JSON answer.
func (s *server) peerJSON(ctx context.Context, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.opts.adminToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.adminToken)
	}
	resp, err := s.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e apiError
		_ = json.Unmarshal(data, &e)
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, e.Error)
	}
	return json.Unmarshal(data, out)
}

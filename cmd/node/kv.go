package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/raftlab/raftlab/core"
)

// The key-value API. Writes answer once applied on this member, whichever
// member takes them (raft forwards a follower's proposal to the leader).
// Reads are linearizable by default (ReadIndex, §8); ?consistency=
// serializable reads this member's state machine, which may be stale.

// kvKey returns the key of a /kv/ request, or answers 400 itself.
func kvKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.PathValue("key")
	switch {
	case key == "":
		writeError(w, http.StatusBadRequest, "missing key: use /kv/{key}")
		return "", false
	case len(key) > core.MaxKeyBytes:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("key of %d bytes exceeds %d", len(key), core.MaxKeyBytes))
		return "", false
	}
	return key, true
}

func (s *server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.opts.requestTimeout)
}

// bodyFailed answers a request whose body could not be read: too large
// (413, saying tooBig), too slow (408) or cut short (400). It closes the
// body at once, while the read deadline still stands, and the connection
// after the answer: the server would otherwise drain the rest of the body,
// as slowly as the client sends it.
func bodyFailed(w http.ResponseWriter, r *http.Request, err error, tooBig string) {
	_ = r.Body.Close()
	w.Header().Set("Connection", "close")
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, tooBig)
	case errors.Is(err, os.ErrDeadlineExceeded):
		writeError(w, http.StatusRequestTimeout, fmt.Sprintf("request body not received within %v", clientIOTimeout))
	default:
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
	}
}

func (s *server) putKV(w http.ResponseWriter, r *http.Request) {
	key, ok := kvKey(w, r)
	if !ok {
		return
	}
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, core.MaxValueBytes))
	if err != nil {
		bodyFailed(w, r, err, fmt.Sprintf("value exceeds %d bytes", core.MaxValueBytes))
		return
	}
	s.propose(w, r, core.Command{Op: core.OpPut, Key: key, Value: value})
}

func (s *server) deleteKV(w http.ResponseWriter, r *http.Request) {
	key, ok := kvKey(w, r)
	if !ok {
		return
	}
	s.propose(w, r, core.Command{Op: core.OpDelete, Key: key})
}

// propose writes c through raft and answers {"index": N} once it is
// applied here.
func (s *server) propose(w http.ResponseWriter, r *http.Request, c core.Command) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	s.metrics.proposals.Inc()
	idx, err := s.driver.Propose(ctx, c)
	if err != nil {
		s.metrics.proposalsFailed.Inc()
		writeRaftError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"index": idx})
}

func (s *server) getKV(w http.ResponseWriter, r *http.Request) {
	key, ok := kvKey(w, r)
	if !ok {
		return
	}
	var (
		value []byte
		found bool
		index uint64
		err   error
	)
	switch c := r.URL.Query().Get("consistency"); c {
	case "", "linearizable":
		ctx, cancel := s.requestContext(r)
		defer cancel()
		value, found, index, err = s.driver.Read(ctx, key)
	case "serializable":
		value, found, err = core.GetKV(s.store.Engine(), key)
		index = s.driver.Status().Applied
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("consistency %q: want linearizable or serializable", c))
		return
	}
	if err != nil {
		writeRaftError(w, err)
		return
	}
	w.Header().Set("X-Raftlab-Index", strconv.FormatUint(index, 10))
	if !found {
		writeError(w, http.StatusNotFound, "key not found")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(value)
}

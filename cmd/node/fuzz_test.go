package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftlab/raftlab/core"
)

// The fuzz targets drive the member's HTTP handlers in this process: a
// one-member cluster built with start(), its handler given fuzzed requests
// through httptest. Whatever comes in, no handler panics, every answer has
// a valid status, and every error is JSON {"error": "..."}. They also run
// (their seeds) as ordinary tests, under -race too.

const fuzzAdminToken = "fuzz-admin-token"

// fuzzServer is a one-member cluster in this process.
type fuzzServer struct {
	s   *server
	h   http.Handler
	dir string
}

func startFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	dir, err := os.MkdirTemp("", fuzzDirPrefix(os.Getppid())+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	opts, err := parseFlags([]string{
		"--id", "1", "--listen", addr, "--initial-cluster", "1=http://" + addr,
		"--cluster-token", "fuzz-cluster-token", "--admin-token", fuzzAdminToken,
		"--data-dir", dir, "--tick", "5ms", "--request-timeout", "500ms",
		"--message-events=false", "--event-history", "1000",
	}, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := start(opts, ln, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	fs := &fuzzServer{s: s, h: s.routes(), dir: dir}
	deadline := time.Now().Add(30 * time.Second)
	for s.driver.Status().Role != "leader" {
		if time.Now().After(deadline) {
			fs.close()
			tb.Fatal("the one-member cluster elected no leader")
		}
		time.Sleep(time.Millisecond)
	}
	return fs
}

func (fs *fuzzServer) close() {
	fs.s.stop()
	os.RemoveAll(fs.dir)
}

// fuzzDirPrefix names the data directories of the fuzz servers that the
// process parent started. With -fuzz, the test process coordinates worker
// processes, each with a server of its own, and stops them without running
// their cleanups: their directories (gigabytes of value log after a long
// run) would stay in the temp dir. The coordinator removes them instead
// (removeWorkerDirs), recognising them by its pid in their names.
func fuzzDirPrefix(parent int) string {
	return "raftnode-fuzz-" + strconv.Itoa(parent) + "-"
}

// removeWorkerDirs removes the data directories left by the fuzz workers
// of this process.
func removeWorkerDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), fuzzDirPrefix(os.Getpid())+"*"))
	for _, d := range dirs {
		os.RemoveAll(d)
	}
}

// pristine reports whether the cluster is still one voter, member 1, that
// leads: an input that added a member (which does not exist, so the
// cluster lost its majority) or stopped it makes the next input start over.
func (fs *fuzzServer) pristine() bool {
	st := fs.s.driver.Status()
	return fs.s.driver.Err() == nil && st.Role == "leader" && len(st.Members) == 1 && st.Members[0].ID == 1 && st.Members[0].Role == "voter"
}

// serve sends one request and checks the answer.
func (fs *fuzzServer) serve(t *testing.T, method, path, query string, body []byte, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
	r.Method = method
	r.URL = &url.URL{Path: path, RawQuery: query}
	r.RequestURI = r.URL.RequestURI()
	r.Host = fs.s.opts.listen
	for k, vs := range header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	fs.h.ServeHTTP(w, r)
	checkAnswer(t, method+" "+r.RequestURI, w)
	return w
}

// checkAnswer checks what every answer must be: a valid status, and on an
// error a JSON body naming it.
func checkAnswer(t *testing.T, req string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code < 100 || w.Code > 599 {
		t.Fatalf("%.200s: status %d", req, w.Code)
	}
	if w.Code < 400 {
		return
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%.200s: error %d with Content-Type %q: %.200s", req, w.Code, ct, w.Body)
	}
	var e apiError
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == "" {
		t.Fatalf("%.200s: error %d with body %.200q: %v", req, w.Code, w.Body, err)
	}
}

// httpMethod makes a fuzzed string a request method: a token of at most
// a few letters (what a server would parse), "" for none.
func httpMethod(s string) string {
	if s == "" || len(s) > 12 {
		return ""
	}
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return ""
		}
	}
	return s
}

// FuzzKVHandler sends /kv/{key} requests with fuzzed method, key, query
// and body, and checks them against a model of the map: a write answered
// 200 is what a later read answers, until another write.
func FuzzKVHandler(f *testing.F) {
	for _, s := range []struct {
		method, key, query string
		body               []byte
	}{
		{"PUT", "greeting", "", []byte("hello")},
		{"GET", "greeting", "", nil},
		{"GET", "greeting", "consistency=serializable", nil},
		{"GET", "greeting", "consistency=linearizable", nil},
		{"DELETE", "greeting", "", nil},
		{"GET", "absent", "", nil},
		{"PUT", "a/b/c", "", []byte(`{"json": "is just bytes"}`)},
		{"PUT", "empty", "", nil},
		{"PUT", "", "", []byte("no key")},
		{"PUT", "unicode-ключ-鍵", "", []byte("значение")},
		{"PUT", "big", "", bytes.Repeat([]byte("v"), core.MaxValueBytes+1)},
		{"PUT", strings.Repeat("k", core.MaxKeyBytes+1), "", []byte("long key")},
		{"GET", "greeting", "consistency=eventual", nil},
		{"GET", "greeting", "consistency=serializable&consistency=linearizable", nil},
		{"POST", "greeting", "", []byte("x")},
		{"HEAD", "greeting", "", nil},
		{"OPTIONS", "greeting", "", nil},
		{"PATCH", "greeting", "", []byte("x")},
		{"GET", "a/../b", "", nil},
		{"PUT", "with space and %", "", []byte("v")},
	} {
		f.Add(s.method, s.key, s.query, s.body)
	}
	fs := startFuzzServer(f)
	f.Cleanup(func() { fs.close(); removeWorkerDirs() })
	model := map[string]string{} // acknowledged state of keys known
	f.Fuzz(func(t *testing.T, method, key, query string, body []byte) {
		if method = httpMethod(method); method == "" {
			return
		}
		w := fs.serve(t, method, "/kv/"+key, query, body, nil)
		// Only a request that reached the handler with this very key
		// (no redirect, no refusal of the key) says anything about it.
		if w.Code >= 300 && w.Code < 400 {
			return
		}
		// As the server reads it (URL.Query): the pairs that parse, even
		// beside one that does not ("consistency=0&%").
		q, _ := url.ParseQuery(query)
		consistency := q.Get("consistency")
		switch {
		case method == http.MethodPut && w.Code == http.StatusOK:
			model[key] = string(body)
		case method == http.MethodDelete && w.Code == http.StatusOK:
			model[key] = "\x00absent"
		case method == http.MethodPut || method == http.MethodDelete:
			if w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
				delete(model, key) // outcome unknown (a timeout)
			}
		case method == http.MethodGet && (consistency == "" || consistency == "linearizable" || consistency == "serializable"):
			want, known := model[key]
			switch {
			case !known:
			case want == "\x00absent" && w.Code != http.StatusNotFound:
				t.Fatalf("get %q after its delete: %d %.100q", key, w.Code, w.Body)
			case want != "\x00absent" && (w.Code != http.StatusOK || w.Body.String() != want):
				t.Fatalf("get %q after put %.100q: %d %.100q", key, want, w.Code, w.Body)
			}
		}
	})
}

// FuzzAdminHandlers sends /cluster requests with fuzzed method, path,
// query, body and Authorization. An input that changes the membership
// (it adds a member that does not exist, and the cluster loses its
// majority) makes the next one start a new cluster.
func FuzzAdminHandlers(f *testing.F) {
	bearer := "Bearer " + fuzzAdminToken
	for _, s := range []struct {
		method, path, query string
		body                []byte
		auth                string
	}{
		{"GET", "/cluster", "", nil, ""},
		{"GET", "/cluster", "local=1", nil, ""},
		{"POST", "/cluster/members", "", []byte(`{"id": 2, "url": "http://127.0.0.1:7002"}`), bearer},
		{"POST", "/cluster/members", "", []byte(`{"id": 3, "url": "http://127.0.0.1:7003", "learner": true}`), bearer},
		{"POST", "/cluster/members", "", []byte(`{"id": 1, "url": "http://127.0.0.1:7001"}`), bearer},
		{"POST", "/cluster/members", "", []byte(`{"id": 0}`), bearer},
		{"POST", "/cluster/members", "", []byte(`{"id": 2, "url": "ftp://x"}`), bearer},
		{"POST", "/cluster/members", "", []byte(`{"id": 2, "url": "http://127.0.0.1:7002", "extra": 1}`), bearer},
		{"POST", "/cluster/members", "", []byte(`{"id": -1}`), bearer},
		{"POST", "/cluster/members", "", []byte(`{"id": 18446744073709551616}`), bearer},
		{"POST", "/cluster/members", "", []byte(`[1, 2]`), bearer},
		{"POST", "/cluster/members", "", []byte(`{"id": 2, "url": "http://127.0.0.1:7002"}`), "Bearer wrong"},
		{"POST", "/cluster/members", "", []byte(`{"id": 2, "url": "http://127.0.0.1:7002"}`), ""},
		{"POST", "/cluster/members/1/promote", "", nil, bearer},
		{"POST", "/cluster/members/2/promote", "", nil, bearer},
		{"POST", "/cluster/members/x/promote", "", nil, bearer},
		{"DELETE", "/cluster/members/1", "", nil, bearer},
		{"DELETE", "/cluster/members/2", "", nil, bearer},
		{"DELETE", "/cluster/members/0", "", nil, bearer},
		{"POST", "/cluster/leader", "", []byte(`{"id": 1}`), bearer},
		{"POST", "/cluster/leader", "", []byte(`{"id": 2}`), bearer},
		{"POST", "/cluster/leader", "", []byte(`{}`), bearer},
		{"POST", "/cluster/snapshot", "", nil, bearer},
		{"POST", "/cluster/snapshot", "", []byte(`{"now": true}`), bearer},
		{"GET", "/cluster/members", "", nil, ""},
		{"PUT", "/cluster/leader", "", nil, bearer},
		{"POST", "/cluster/nothing", "", nil, bearer},
		{"DELETE", "/cluster", "", nil, bearer},
	} {
		f.Add(s.method, s.path, s.query, s.body, s.auth)
	}
	fs := startFuzzServer(f)
	f.Cleanup(func() { fs.close(); removeWorkerDirs() })
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte, auth string) {
		if method = httpMethod(method); method == "" {
			return
		}
		if !fs.pristine() {
			fs.close()
			fs = startFuzzServer(t)
		}
		h := http.Header{"Content-Type": {"application/json"}}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		// Keep to the admin API: /cluster and below.
		path = strings.TrimPrefix(path, "/cluster")
		if path != "" && !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		path = "/cluster" + path
		fs.serve(t, method, path, query, body, h)
		// The member still answers for itself.
		w := fs.serve(t, http.MethodGet, "/cluster", "local=1", nil, nil)
		var st clusterStatus
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &st) != nil || st.Member != 1 {
			t.Fatalf("GET /cluster after %s %s: %d %.200s", method, path, w.Code, w.Body)
		}
	})
}

// The handlers that only read must say what they say in JSON too.
func TestFuzzServerAnswersInJSON(t *testing.T) {
	fs := startFuzzServer(t)
	defer fs.close()
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/healthz", 200},
		{"POST", "/healthz", 405},
		{"DELETE", "/metrics", 405},
		{"PUT", "/events", 405},
		{"GET", "/cluster/members", 405},
		{"GET", "/cluster/nope", 404},
		{"PATCH", "/kv/x", 405},
	} {
		w := fs.serve(t, tc.method, tc.path, "", nil, nil)
		if w.Code != tc.status {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, w.Code, w.Body, tc.status)
		}
		if tc.status == 405 && w.Header().Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
}

package load

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer stands in for a member: it records what the load generator
// sends and how many connections it opens.
type fakeServer struct {
	srv      *httptest.Server
	conns    atomic.Int64
	mu       sync.Mutex
	keys     map[string]int
	badValue string
	fail     atomic.Bool
}

func newFakeServer(t *testing.T, handle func(f *fakeServer, w http.ResponseWriter, r *http.Request)) *fakeServer {
	f := &fakeServer{keys: map[string]int{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.fail.Load() {
			http.Error(w, `{"error":"no leader"}`, http.StatusServiceUnavailable)
			return
		}
		handle(f, w, r)
	}))
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) record(key string, value []byte, wantLen int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[key]++
	if len(value) != wantLen && f.badValue == "" {
		f.badValue = key
	}
}

func TestRaftlabHTTPOneKeepAliveConnectionPerClientUniqueKeys(t *testing.T) {
	f := newFakeServer(t, func(f *fakeServer, w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.URL.Path, "/kv/")
		if r.Method != http.MethodPut || !ok {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		v, _ := io.ReadAll(r.Body)
		f.record(key, v, 256)
		_, _ = io.WriteString(w, `{"index":1}`)
	})
	const clients = 8
	res, err := Run(context.Background(), RaftlabHTTP{}, Config{
		Clients: clients, ValueBytes: 256, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond,
		Endpoints: []string{f.srv.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops < 100 || res.Errors != 0 {
		t.Fatalf("ops %d errors %d (%v): want many ops and no error", res.Ops, res.Errors, res.ErrorSamples)
	}
	if res.Latency.N != res.Ops || res.Latency.P50 <= 0 || res.Latency.Max < res.Latency.P99 {
		t.Errorf("latency %+v does not fit %d ops", res.Latency, res.Ops)
	}
	if got := res.Throughput(); got < float64(res.Ops)/0.31 || got > float64(res.Ops)/0.29 {
		t.Errorf("throughput %.0f for %d ops in 300 ms", got, res.Ops)
	}
	if n := f.conns.Load(); n != clients {
		t.Errorf("%d connections opened, want one per client (%d): keep-alive is broken", n, clients)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.badValue != "" {
		t.Errorf("key %s got a value that is not 256 bytes", f.badValue)
	}
	for k, n := range f.keys {
		if n != 1 || len(k) != 20 {
			t.Fatalf("key %q written %d times, want a unique 20-byte key every write", k, n)
		}
	}
	// Warm-up writes are sent but not counted.
	if len(f.keys) <= res.Ops {
		t.Errorf("%d writes reached the server, %d counted: the warm-up was measured", len(f.keys), res.Ops)
	}
}

func TestEtcdHTTPSendsBase64JSONToTheGatewayAndHotKeys(t *testing.T) {
	f := newFakeServer(t, func(f *fakeServer, w http.ResponseWriter, r *http.Request) {
		var req struct{ Key, Value []byte } // base64 in JSON, as etcd's gateway wants
		if r.Method != http.MethodPost || r.URL.Path != "/v3/kv/put" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		f.record(string(req.Key), req.Value, 100)
		_, _ = io.WriteString(w, `{"header":{}}`)
	})
	res, err := Run(context.Background(), EtcdHTTP{}, Config{
		Clients: 4, ValueBytes: 100, Duration: 200 * time.Millisecond, HotKeys: 5,
		Endpoints: []string{f.srv.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops < 50 || res.Errors != 0 {
		t.Fatalf("ops %d errors %d (%v)", res.Ops, res.Errors, res.ErrorSamples)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.badValue != "" {
		t.Errorf("key %s got a value that is not 100 bytes", f.badValue)
	}
	if len(f.keys) > 5 {
		t.Errorf("%d distinct keys written, want at most the 5 hot keys", len(f.keys))
	}
}

func TestRunCountsErrorsAndSpreadsOverEndpoints(t *testing.T) {
	ok := newFakeServer(t, func(f *fakeServer, w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"index":1}`)
	})
	down := newFakeServer(t, nil)
	down.fail.Store(true)
	res, err := Run(context.Background(), RaftlabHTTP{}, Config{
		Clients: 4, ValueBytes: 10, Duration: 200 * time.Millisecond,
		Endpoints: []string{ok.srv.URL, down.srv.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.Errors == 0 {
		t.Fatalf("ops %d errors %d: want both, half the clients talk to a failing member", res.Ops, res.Errors)
	}
	if len(res.ErrorSamples) != 1 || !strings.Contains(res.ErrorSamples[0], "503") {
		t.Errorf("error samples %q, want the one 503, the same text for every key", res.ErrorSamples)
	}
	if ok.conns.Load() != 2 || down.conns.Load() != 2 {
		t.Errorf("connections %d and %d, want 2 to each endpoint", ok.conns.Load(), down.conns.Load())
	}
}

func TestRunCallsOnWindowAroundTheWindowAndStopsWhenCanceled(t *testing.T) {
	f := newFakeServer(t, func(f *fakeServer, w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})
	var opened, closed time.Time
	start := time.Now()
	_, err := Run(context.Background(), RaftlabHTTP{}, Config{
		Clients: 1, Warmup: 100 * time.Millisecond, Duration: 100 * time.Millisecond, Endpoints: []string{f.srv.URL},
		OnWindow: func(open bool) {
			if open {
				opened = time.Now()
			} else {
				closed = time.Now()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if opened.Sub(start) < 100*time.Millisecond || closed.Sub(opened) < 90*time.Millisecond {
		t.Errorf("window opened %v after start and lasted %v, want 100 ms each", opened.Sub(start), closed.Sub(opened))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := Run(ctx, RaftlabHTTP{}, Config{Clients: 2, Duration: time.Minute, Endpoints: []string{f.srv.URL}}); err == nil {
		t.Error("an interrupted run reported no error")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("canceled run took %v to return", d)
	}
}

func TestKeepWritesGivesTheWindowsWritesInOrder(t *testing.T) {
	f := newFakeServer(t, func(f *fakeServer, w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"index":1}`)
	})
	const clients, warmup, window = 4, 50 * time.Millisecond, 200 * time.Millisecond
	cfg := Config{Clients: clients, ValueBytes: 8, Warmup: warmup, Duration: window, Endpoints: []string{f.srv.URL}}
	res, err := Run(context.Background(), RaftlabHTTP{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Writes != nil {
		t.Fatalf("%d writes kept without KeepWrites", len(res.Writes))
	}

	cfg.KeepWrites = true
	began := time.Now()
	res, err = Run(context.Background(), RaftlabHTTP{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || len(res.Writes) != res.Ops {
		t.Fatalf("%d writes kept for %d ops", len(res.Writes), res.Ops)
	}
	var longest time.Duration
	seen := map[int]bool{}
	for i, w := range res.Writes {
		if i > 0 && w.Start.Before(res.Writes[i-1].Start) {
			t.Fatalf("write %d started before write %d", i, i-1)
		}
		if w.Start.Before(began.Add(warmup)) || !w.Start.Before(time.Now()) {
			t.Fatalf("write %d started at %v, outside the window (run began %v)", i, w.Start, began)
		}
		if w.Client < 0 || w.Client >= clients || w.Latency <= 0 {
			t.Fatalf("write %d: %+v", i, w)
		}
		seen[w.Client] = true
		longest = max(longest, w.Latency)
	}
	if len(seen) != clients {
		t.Errorf("writes from %d clients, want %d", len(seen), clients)
	}
	if longest != res.Latency.Max {
		t.Errorf("longest kept write %v, the summary's max %v", longest, res.Latency.Max)
	}
}

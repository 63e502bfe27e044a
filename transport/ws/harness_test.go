//go:build !js

package ws

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

const (
	testCluster = 0xc1
	testToken   = "test-cluster-token"
	// waitTimeout bounds every poll: generous, because a loaded machine
	// (the race detector) is slow, and a poll returns as soon as it can.
	waitTimeout = 15 * time.Second
)

// waitFor polls cond until it holds or waitTimeout passes. Tests never
// assert on elapsed time.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitForStats is waitFor that prints the members' counters on timeout.
func waitForStats(t testing.TB, what string, cond func() bool, ms ...*member) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, mb := range ms {
				fmt.Fprintf(&b, "\nmember %d: %+v", mb.id, mb.tr.Stats())
			}
			t.Fatalf("timed out waiting for %s%s", what, b.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// reset forgets what mb received.
func (mb *member) reset() {
	mb.mu.Lock()
	mb.got = nil
	mb.mu.Unlock()
}

// checkGoroutines records the goroutine count and, when the test ends
// (after every other cleanup, which closes transports and servers), waits
// for it to come back down: a transport that leaks a goroutine fails here.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitTimeout)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("goroutines: %d before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// latest maps a member id to its latest member, for failure messages.
var latest sync.Map

// delivery is one message a member's Deliver received.
type delivery struct {
	id uint64
	m  *pb.Message
}

// member is a transport with its peer endpoint on a loopback httptest
// server, recording everything its callbacks see.
type member struct {
	t   testing.TB
	id  uint64
	cfg Config
	tr  *Transport
	srv *httptest.Server
	url string

	mu          sync.Mutex
	got         []delivery
	unreachable map[uint64]int
	snapshots   map[bool]int
	sent        int
	sentIDs     []uint64
	drops       map[DropReason]int
}

type option func(*Config)

// newMember starts member id listening on addr ("" for any port).
func newMember(t testing.TB, id uint64, opts ...option) *member {
	return startMember(t, id, "", opts...)
}

func startMember(t testing.TB, id uint64, addr string, opts ...option) *member {
	t.Helper()
	mb := &member{t: t, id: id, unreachable: map[uint64]int{}, snapshots: map[bool]int{}, drops: map[DropReason]int{}}
	mb.cfg = Config{
		ID: id, ClusterID: testCluster, Token: testToken,
		Deliver: func(msgID uint64, m *pb.Message) {
			mb.mu.Lock()
			mb.got = append(mb.got, delivery{msgID, m})
			mb.mu.Unlock()
		},
		ReportUnreachable: func(id uint64) {
			mb.mu.Lock()
			mb.unreachable[id]++
			mb.mu.Unlock()
		},
		ReportSnapshot: func(_ uint64, ok bool) {
			mb.mu.Lock()
			mb.snapshots[ok]++
			mb.mu.Unlock()
		},
		OnSend: func(id uint64, _ *pb.Message, _ int) {
			mb.mu.Lock()
			mb.sent++
			mb.sentIDs = append(mb.sentIDs, id)
			mb.mu.Unlock()
		},
		OnDrop: func(_ uint64, _ *pb.Message, r DropReason) {
			mb.mu.Lock()
			mb.drops[r]++
			mb.mu.Unlock()
		},
	}
	if os.Getenv("WS_DEBUG") != "" {
		mb.cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, o := range opts {
		o(&mb.cfg)
	}
	tr, err := New(mb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	mb.tr = tr
	mux := http.NewServeMux()
	mux.Handle(PeerPath, tr)
	mb.srv = httptest.NewUnstartedServer(mux)
	if addr != "" {
		mb.srv.Listener.Close()
		var l net.Listener
		// The port was ours a moment ago; the kernel may take a moment to
		// let it go.
		waitFor(t, "listen on "+addr, func() bool {
			l, err = net.Listen("tcp", addr)
			return err == nil
		})
		mb.srv.Listener = l
	}
	mb.srv.Start()
	mb.url = mb.srv.URL
	latest.Store(id, mb)
	t.Cleanup(mb.stop)
	return mb
}

// stop closes the transport and its server; idempotent.
func (mb *member) stop() {
	mb.tr.Close()
	mb.srv.Close()
}

func (mb *member) addr() string { return strings.TrimPrefix(mb.url, "http://") }

// connect makes every pair of members peers of each other and waits until
// each pair shares exactly one connection.
func connect(t testing.TB, ms ...*member) {
	t.Helper()
	for _, a := range ms {
		for _, b := range ms {
			if a != b {
				if err := a.tr.SetPeer(b.id, b.url); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	waitConnected(t, ms...)
}

// waitConnected waits until every pair of ms shares exactly one
// connection (both ends hold the same TCP connection) and no member is
// dialing or handshaking, so no duplicate is still on its way.
func waitConnected(t testing.TB, ms ...*member) {
	t.Helper()
	waitFor(t, "one connection per pair", func() bool {
		for _, a := range ms {
			if !a.quiet() {
				return false
			}
		}
		for _, a := range ms {
			if a.tr.Stats().Open != len(ms)-1 {
				return false
			}
			for _, b := range ms {
				if a != b && !sameConn(a, b) {
					return false
				}
			}
		}
		return true
	})
}

// quiet reports whether mb has no dial and no inbound handshake under way.
func (mb *member) quiet() bool {
	if len(mb.tr.handshakes) != 0 {
		return false
	}
	for _, p := range *mb.tr.peers.Load() {
		if p.dialing.Load() {
			return false
		}
	}
	return true
}

// sameConn reports whether a's connection to b is b's connection to a.
func sameConn(a, b *member) bool {
	ca, cb := a.conn(b.id), b.conn(a.id)
	return ca != nil && cb != nil &&
		ca.ws.LocalAddr().String() == cb.ws.RemoteAddr().String() &&
		ca.ws.RemoteAddr().String() == cb.ws.LocalAddr().String()
}

func (mb *member) conn(peerID uint64) *conn {
	p := (*mb.tr.peers.Load())[peerID]
	if p == nil {
		return nil
	}
	return p.conn.Load()
}

func (mb *member) received() []delivery {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return slices.Clone(mb.got)
}

func (mb *member) receivedFrom(from uint64) []delivery {
	var out []delivery
	for _, d := range mb.received() {
		if d.m.GetFrom() == from {
			out = append(out, d)
		}
	}
	return out
}

func (mb *member) count(f func(mb *member) int) int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return f(mb)
}

// sendStream sends n messages of every wire type from a to b, with ids
// that name the sender, and returns them in order.
func sendStream(a *member, to uint64, n int) []delivery {
	var sent []delivery
	seq := uint64(0)
	for range n {
		for _, typ := range wireTypes() {
			m := sampleMessage(typ, a.id, to, seq)
			id := a.id<<48 | seq
			a.tr.Send(id, m)
			sent = append(sent, delivery{id, m})
			seq++
		}
	}
	return sent
}

// checkStream checks that b received exactly want from want's sender, in
// order, with equal messages and ids.
func checkStream(t testing.TB, b *member, want []delivery) {
	t.Helper()
	from := want[0].m.GetFrom()
	deadline := time.Now().Add(waitTimeout)
	for len(b.receivedFrom(from)) < len(want) {
		if time.Now().After(deadline) {
			var sender any
			if s, ok := latest.Load(from); ok {
				sender = s.(*member).tr.Stats()
			}
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("timed out waiting for %d messages from %d at %d: got %d; receiver %+v; sender %+v\n%s", len(want), from, b.id, len(b.receivedFrom(from)), b.tr.Stats(), sender, buf)
		}
		time.Sleep(2 * time.Millisecond)
	}
	got := b.receivedFrom(from)
	if len(got) != len(want) {
		t.Fatalf("member %d got %d messages from %d, want %d", b.id, len(got), from, len(want))
	}
	for i := range want {
		if got[i].id != want[i].id || !proto.Equal(got[i].m, want[i].m) {
			t.Fatalf("member %d, message %d from %d: got id %x %v, want id %x %v", b.id, i, from, got[i].id, got[i].m, want[i].id, want[i].m)
		}
		if !bytes.Equal(mustMarshal(got[i].m), mustMarshal(want[i].m)) {
			t.Fatalf("member %d, message %d from %d: bytes differ", b.id, i, from)
		}
	}
}

// rawPeer is a hand-driven client: it dials a member's endpoint with
// gorilla directly and says whatever a test wants.
type rawPeer struct {
	ws *websocket.Conn
}

// dialRaw opens a WebSocket to mb without any handshake.
func dialRaw(t testing.TB, mb *member) *rawPeer {
	t.Helper()
	u, err := PeerURL(mb.url)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &rawPeer{ws: ws}
}

// dialAuth dials mb and runs the client handshake as cred.
func dialAuth(t testing.TB, mb *member, cred Member) (*rawPeer, error) {
	t.Helper()
	r := dialRaw(t, mb)
	hs, err := NewClientHandshake(cred, mb.id)
	if err != nil {
		t.Fatal(err)
	}
	r.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	_, hello, err := r.ws.ReadMessage()
	if err != nil {
		return r, err
	}
	answer, err := hs.Answer(hello)
	if err != nil {
		return r, err
	}
	if err := r.ws.WriteMessage(websocket.BinaryMessage, answer); err != nil {
		return r, err
	}
	_, last, err := r.ws.ReadMessage()
	if err != nil {
		return r, err
	}
	return r, hs.Verify(last)
}

// send writes one binary message.
func (r *rawPeer) send(t testing.TB, b []byte) {
	t.Helper()
	if err := r.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		t.Fatal(err)
	}
}

// closeCode reads until the connection ends and returns the close code the
// member sent, or -1 if it ended without one.
func (r *rawPeer) closeCode(t testing.TB) int {
	t.Helper()
	r.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		_, _, err := r.ws.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code
		}
		return -1
	}
}

//go:build !js

package ws

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
	pb "go.etcd.io/raft/v3/raftpb"
)

func TestNewRefusesBadConfig(t *testing.T) {
	deliver := func(uint64, *pb.Message) {}
	for name, cfg := range map[string]Config{
		"no token":      {ID: 1, Deliver: deliver},
		"id 0":          {Token: "x", Deliver: deliver},
		"no Deliver":    {ID: 1, Token: "x"},
		"negative size": {ID: 1, Token: "x", Deliver: deliver, MaxMessageBytes: -1},
		"pong <= ping":  {ID: 1, Token: "x", Deliver: deliver, PingInterval: 2e9, PongTimeout: 1e9},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPeerURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:7001":      "ws://127.0.0.1:7001/raft",
		"https://node1:7001/":        "wss://node1:7001/raft",
		"ws://127.0.0.1:7001":        "ws://127.0.0.1:7001/raft",
		"wss://node1:7001/peer":      "wss://node1:7001/peer",
		"ws://[::1]:7001":            "ws://[::1]:7001/raft",
		"ftp://x:1":                  "",
		"127.0.0.1:7001":             "",
		"http://":                    "",
		"http://user:pw@host:1":      "",
		"http://host:1/raft#section": "",
		"::":                         "",
	} {
		got, err := PeerURL(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("PeerURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// Two members exchange every message type both ways, many times, over one
// connection: in order, the same bytes, ids preserved.
func TestTwoMembersExchange(t *testing.T) {
	checkGoroutines(t)
	// The streams are sent in one burst: queues that hold them all.
	queue := func(c *Config) { c.QueueSize = 1 << 14 }
	a, b := newMember(t, 1, queue), newMember(t, 2, queue)
	connect(t, a, b)
	const rounds = 300
	var ab, ba []delivery
	var wg sync.WaitGroup
	wg.Go(func() { ab = sendStream(a, 2, rounds) })
	wg.Go(func() { ba = sendStream(b, 1, rounds) })
	wg.Wait()
	checkStream(t, b, ab)
	checkStream(t, a, ba)
	// Still one connection per side, the same one, never reopened.
	waitConnected(t, a, b)
	for _, mb := range []*member{a, b} {
		s := mb.tr.Stats()
		if s.Sent != uint64(len(ab)) || s.Received != uint64(len(ab)) {
			t.Errorf("member %d: sent %d received %d, want %d each", mb.id, s.Sent, s.Received, len(ab))
		}
		if s.Dropped != (Drops{}) || s.AuthFailures != 0 {
			t.Errorf("member %d: %+v", mb.id, s)
		}
		// Every MsgSnap was reported written.
		if got := mb.count(func(mb *member) int { return mb.snapshots[true] }); got != rounds {
			t.Errorf("member %d: ReportSnapshot(true) %d times, want %d", mb.id, got, rounds)
		}
		if got := mb.count(func(mb *member) int { return mb.sent }); got != len(ab) {
			t.Errorf("member %d: OnSend %d times, want %d", mb.id, got, len(ab))
		}
	}
}

func TestThreeMembersExchange(t *testing.T) {
	checkGoroutines(t)
	queue := func(c *Config) { c.QueueSize = 1 << 14 }
	ms := []*member{newMember(t, 1, queue), newMember(t, 2, queue), newMember(t, 3, queue)}
	connect(t, ms...)
	streams := map[[2]int][]delivery{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, a := range ms {
		for j, b := range ms {
			if i != j {
				wg.Go(func() {
					s := sendStream(a, b.id, 100)
					mu.Lock()
					streams[[2]int{i, j}] = s
					mu.Unlock()
				})
			}
		}
	}
	wg.Wait()
	for k, s := range streams {
		checkStream(t, ms[k[1]], s)
	}
	waitConnected(t, ms...)
}

// A member that can only dial (a browser tab) is a full member: the one
// connection it opens carries messages both ways.
func TestDialOnlyMember(t *testing.T) {
	checkGoroutines(t)
	server := newMember(t, 1)
	browser := newMember(t, 4) // its endpoint is never used
	if err := browser.tr.SetPeer(1, server.url); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, server, browser)
	toBrowser := sendStream(server, 4, 20)
	toServer := sendStream(browser, 1, 20)
	checkStream(t, browser, toBrowser)
	checkStream(t, server, toServer)
}

// Peers dialing each other at the same moment end with one connection,
// the same at both ends, and keep it; nothing sent meanwhile is lost
// uncounted: every message is delivered once or counted as dropped.
func TestSimultaneousDial(t *testing.T) {
	checkGoroutines(t)
	for round := range 10 {
		a, b := newMember(t, 1), newMember(t, 2)
		const n = 3000
		var wg sync.WaitGroup
		wg.Go(func() { a.tr.SetPeer(2, b.url) })
		wg.Go(func() { b.tr.SetPeer(1, a.url) })
		// Traffic from the first moment, while duplicates are resolved.
		wg.Go(func() {
			for i := range uint64(n) {
				a.tr.Send(i, sampleMessage(pb.MsgApp, 1, 2, i))
			}
		})
		wg.Go(func() {
			for i := range uint64(n) {
				b.tr.Send(i, sampleMessage(pb.MsgAppResp, 2, 1, i))
			}
		})
		wg.Wait()
		waitConnected(t, a, b)
		for _, pair := range [][2]*member{{a, b}, {b, a}} {
			from, to := pair[0], pair[1]
			waitForStats(t, "every message delivered or dropped", func() bool {
				s := from.tr.Stats()
				d := s.Dropped
				return s.Sent+d.UnknownPeer+d.NoConnection+d.ConnectionLost+d.QueueFull == n && to.tr.Stats().Received == s.Sent
			}, a, b)
			// Exactly the messages written arrived, each once.
			from.mu.Lock()
			written := slices.Clone(from.sentIDs)
			from.mu.Unlock()
			var got []uint64
			for _, d := range to.receivedFrom(from.id) {
				got = append(got, d.id)
			}
			slices.Sort(written)
			slices.Sort(got)
			if !slices.Equal(written, got) {
				t.Fatalf("round %d: %d written, %d delivered, not the same", round, len(written), len(got))
			}
		}
		// Then the one connection carries traffic both ways, in order.
		a.reset()
		b.reset()
		checkStream(t, b, sendStream(a, 2, 3))
		checkStream(t, a, sendStream(b, 1, 3))
		waitConnected(t, a, b)
		if a.conn(2).dialedBy != b.conn(1).dialedBy {
			t.Fatalf("round %d: ends disagree on who dialed", round)
		}
		a.stop()
		b.stop()
	}
}

// A connection replaced by a preferred one (a duplicate from the other
// side, or a newer one from the same dialer) is retired gracefully: what
// was written on it is still delivered, and every message is accounted
// for.
func TestReplacedConnectionLosesNothingWritten(t *testing.T) {
	checkGoroutines(t)
	a, b := newMember(t, 1), newMember(t, 2)
	connect(t, a, b)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sentA, sentB atomic.Uint64
	for _, p := range []struct {
		mb   *member
		to   uint64
		typ  pb.MessageType
		sent *atomic.Uint64
	}{{a, 2, pb.MsgApp, &sentA}, {b, 1, pb.MsgAppResp, &sentB}} {
		wg.Go(func() {
			for i := uint64(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p.mb.tr.Send(i, sampleMessage(p.typ, p.mb.id, p.to, i))
				p.sent.Add(1)
				if i%64 == 0 {
					runtime.Gosched() // let the queue drain: this is not a load test
				}
			}
		})
	}
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	t.Cleanup(halt)
	extra := func(from, to *member) {
		u, _ := PeerURL(to.url)
		c, err := from.tr.dial(context.Background(), to.id, u)
		if err != nil {
			t.Fatal(err)
		}
		from.tr.attach(c, nil)
	}
	extra(b, a) // dialed by 2: loses to the connection dialed by 1
	extra(a, b) // dialed by 1 again: newer, replaces the current one
	extra(b, a)
	halt()
	waitConnected(t, a, b)
	for _, pair := range []struct {
		from, to *member
		n        uint64
	}{{a, b, sentA.Load()}, {b, a, sentB.Load()}} {
		waitForStats(t, "every message delivered or dropped", func() bool {
			s := pair.from.tr.Stats()
			d := s.Dropped
			return s.Sent+d.NoConnection+d.ConnectionLost+d.QueueFull == pair.n && pair.to.tr.Stats().Received == s.Sent
		}, a, b)
	}
	if s := a.tr.Stats(); s.Connections < 2 {
		t.Fatalf("no replacement happened: %+v", s)
	}
}

// A stopped peer is reported unreachable, and the transport reconnects
// when it comes back at the same address.
func TestReconnectAfterPeerRestart(t *testing.T) {
	checkGoroutines(t)
	a, b := newMember(t, 1), newMember(t, 2)
	connect(t, a, b)
	addr := b.addr()
	b.stop()
	waitFor(t, "ReportUnreachable(2)", func() bool {
		return a.count(func(mb *member) int { return mb.unreachable[2] }) > 0
	})
	waitFor(t, "no connection", func() bool { return a.tr.Stats().Open == 0 })
	// While it is down, sends are dropped and reported, a MsgSnap as failed.
	before := a.count(func(mb *member) int { return mb.unreachable[2] })
	a.tr.Send(1, sampleMessage(pb.MsgSnap, 1, 2, 1))
	if s := a.tr.Stats(); s.Dropped.NoConnection != 1 {
		t.Fatalf("drops while down: %+v", s.Dropped)
	}
	if a.count(func(mb *member) int { return mb.unreachable[2] }) != before+1 || a.count(func(mb *member) int { return mb.snapshots[false] }) != 1 {
		t.Fatal("drop of a MsgSnap not reported")
	}

	// Member 2 comes back at the same address and does not dial: member
	// 1's dial loop finds it.
	b2 := startMember(t, 2, addr)
	waitConnected(t, a, b2)
	if c := a.conn(2); c.dialedBy != 1 {
		t.Fatalf("connection dialed by %d", c.dialedBy)
	}
	checkStream(t, b2, sendStream(a, 2, 5))
	checkStream(t, a, sendStream(b2, 1, 5))
	if s := a.tr.Stats(); s.Reconnects == 0 {
		t.Errorf("reconnect not counted: %+v", s)
	}
}

// A message of several megabytes passes; one above MaxMessageBytes is
// refused by the sender and reported.
func TestLargeMessages(t *testing.T) {
	checkGoroutines(t)
	const max = 8 << 20
	limit := func(c *Config) { c.MaxMessageBytes = max }
	a, b := newMember(t, 1, limit), newMember(t, 2, limit)
	connect(t, a, b)

	big := sampleMessage(pb.MsgSnap, 1, 2, 1)
	big.Snapshot.Data = bytes.Repeat([]byte("0123456789abcdef"), (max-1024)/16)
	a.tr.Send(7, big)
	checkStream(t, b, []delivery{{7, big}})
	waitFor(t, "ReportSnapshot(true)", func() bool { return a.count(func(mb *member) int { return mb.snapshots[true] }) == 1 })

	tooBig := sampleMessage(pb.MsgSnap, 1, 2, 2)
	tooBig.Snapshot.Data = make([]byte, max+1)
	a.tr.Send(8, tooBig)
	waitFor(t, "ReportSnapshot(false)", func() bool { return a.count(func(mb *member) int { return mb.snapshots[false] }) == 1 })
	if s := a.tr.Stats(); s.Dropped.Oversized != 1 {
		t.Fatalf("oversized drop not counted: %+v", s.Dropped)
	}
	// The connection survives and carries on.
	checkStream(t, a, sendStream(b, 1, 2))
	hb := sampleMessage(pb.MsgHeartbeat, 1, 2, 3)
	a.tr.Send(9, hb)
	waitFor(t, "the next message", func() bool { return len(b.received()) == 2 })
	if got := b.received()[1]; got.id != 9 {
		t.Fatalf("after the oversized message got %d", got.id)
	}
}

// A member announces its limit: its peers refuse to send it more, instead
// of having their connection closed for an oversized frame.
func TestPeerLimitIsRespected(t *testing.T) {
	checkGoroutines(t)
	small := newMember(t, 1, func(c *Config) { c.MaxMessageBytes = 4 << 10 })
	big := newMember(t, 2) // 16 MiB
	connect(t, small, big)
	snap := sampleMessage(pb.MsgSnap, 2, 1, 1)
	snap.Snapshot.Data = make([]byte, 8<<10)
	big.tr.Send(1, snap)
	waitFor(t, "the oversized snapshot reported failed", func() bool {
		return big.count(func(mb *member) int { return mb.snapshots[false] }) == 1
	})
	if s := big.tr.Stats(); s.Dropped.Oversized != 1 {
		t.Fatalf("%+v", s.Dropped)
	}
	// Many small messages still go, in frames the small member accepts.
	stream := sendStream(big, 1, 50)
	checkStream(t, small, stream)
	if s := small.tr.Stats(); s.Dropped.OversizedFrame != 0 || s.Reconnects != 0 {
		t.Fatalf("%+v", s)
	}
}

// Send never blocks, and every message ends up either written or dropped
// (and counted) exactly once, here with a queue of one.
func TestSendAccounting(t *testing.T) {
	checkGoroutines(t)
	a := newMember(t, 1, func(c *Config) { c.QueueSize = 1 })
	b := newMember(t, 2)
	connect(t, a, b)
	const n = 20000
	for i := range uint64(n) {
		a.tr.Send(i, sampleMessage(pb.MsgApp, 1, 2, i))
	}
	waitFor(t, "every message accounted for", func() bool {
		s := a.tr.Stats()
		return s.Sent+s.Dropped.QueueFull == n && s.Received == 0 && len(b.received()) == int(s.Sent)
	})
	s := a.tr.Stats()
	if s.Dropped.QueueFull == 0 {
		t.Log("no queue overflow: the writer kept up with a queue of one")
	}
	if got := a.count(func(mb *member) int { return mb.unreachable[2] }); got != int(s.Dropped.QueueFull) {
		t.Errorf("ReportUnreachable %d times for %d drops", got, s.Dropped.QueueFull)
	}
	// Delivered in order, gaps where drops were.
	last := int64(-1)
	for _, d := range b.received() {
		if int64(d.id) <= last {
			t.Fatalf("message %d after %d", d.id, last)
		}
		last = int64(d.id)
	}
}

func TestSendDrops(t *testing.T) {
	checkGoroutines(t)
	a := newMember(t, 1)
	// Unknown peer.
	a.tr.Send(1, sampleMessage(pb.MsgHeartbeat, 1, 9, 1))
	// Invalid: local type, From not us, To us.
	a.tr.Send(2, &pb.Message{Type: pb.MsgHup.Enum(), From: new(uint64(1)), To: new(uint64(2))})
	a.tr.Send(3, sampleMessage(pb.MsgHeartbeat, 5, 2, 1))
	a.tr.Send(4, sampleMessage(pb.MsgHeartbeat, 1, 1, 1))
	a.tr.Send(5, nil)
	// Known but never reachable.
	if err := a.tr.SetPeer(2, "http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	a.tr.Send(6, sampleMessage(pb.MsgSnap, 1, 2, 1))
	s := a.tr.Stats().Dropped
	if s.UnknownPeer != 1 || s.Invalid != 4 || s.NoConnection != 1 {
		t.Fatalf("drops %+v", s)
	}
	if a.count(func(mb *member) int { return mb.snapshots[false] }) != 1 {
		t.Fatal("MsgSnap drop not reported to ReportSnapshot")
	}
	if a.count(func(mb *member) int { return mb.unreachable[9] + mb.unreachable[2] }) != 2 {
		t.Fatalf("unreachable reports %v", a.unreachable)
	}
	for _, id := range []uint64{0, 1} {
		if err := a.tr.SetPeer(id, "http://127.0.0.1:1"); err == nil {
			t.Errorf("SetPeer(%d) accepted", id)
		}
	}
	if err := a.tr.SetPeer(3, "tcp://x"); err == nil {
		t.Error("SetPeer with a bad url accepted")
	}
}

func TestRemovePeer(t *testing.T) {
	checkGoroutines(t)
	a, b := newMember(t, 1), newMember(t, 2)
	connect(t, a, b)
	a.tr.RemovePeer(2)
	b.tr.RemovePeer(1)
	waitFor(t, "connections closed", func() bool { return a.tr.Stats().Open == 0 && b.tr.Stats().Open == 0 })
	a.tr.Send(1, sampleMessage(pb.MsgHeartbeat, 1, 2, 1))
	if s := a.tr.Stats().Dropped; s.UnknownPeer != 1 {
		t.Fatalf("send to a removed peer: %+v", s)
	}
	if a.count(func(mb *member) int { return mb.unreachable[2] }) != 1 {
		t.Fatal("a removed peer's loss reported as news, or the drop not reported")
	}
	a.tr.RemovePeer(2) // twice is fine
}

// AcceptPeer decides who may connect, after the token is proven.
func TestAcceptPeer(t *testing.T) {
	checkGoroutines(t)
	a := newMember(t, 1, func(c *Config) { c.AcceptPeer = func(id uint64) bool { return id == 2 } })
	b, c := newMember(t, 2), newMember(t, 3)
	connect(t, a, b)
	if err := c.tr.SetPeer(1, a.url); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "member 3 refused", func() bool { return a.tr.Stats().AuthFailures > 0 && c.tr.Stats().AuthFailures > 0 })
	if _, err := dialAuth(t, a, Member{ClusterID: testCluster, ID: 3, Token: testToken}); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("member 3's handshake: %v", err)
	}
	if c.tr.Stats().Open != 0 || a.tr.Stats().Open != 1 {
		t.Fatal("member 3 connected")
	}
}

// Peers over wss://, with the CA given in ClientTLS.
func TestTLS(t *testing.T) {
	checkGoroutines(t)
	newTLS := func(id uint64, pool *x509.CertPool) (*Transport, *httptest.Server, *member) {
		mb := &member{t: t, id: id, unreachable: map[uint64]int{}, snapshots: map[bool]int{}, drops: map[DropReason]int{}}
		tr, err := New(Config{ID: id, ClusterID: testCluster, Token: testToken, ClientTLS: nil,
			Deliver: func(msgID uint64, m *pb.Message) {
				mb.mu.Lock()
				mb.got = append(mb.got, delivery{msgID, m})
				mb.mu.Unlock()
			}})
		if err != nil {
			t.Fatal(err)
		}
		mb.tr = tr
		mux := http.NewServeMux()
		mux.Handle(PeerPath, tr)
		srv := httptest.NewTLSServer(mux)
		t.Cleanup(func() { tr.Close(); srv.Close() })
		return tr, srv, mb
	}
	_, srvA, a := newTLS(1, nil)
	_, _, b := newTLS(2, nil)
	pool := x509.NewCertPool()
	pool.AddCert(srvA.Certificate())
	b.tr.dialer.TLSClientConfig = srvA.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	b.tr.dialer.TLSClientConfig.RootCAs = pool
	if err := b.tr.SetPeer(1, srvA.URL); err != nil { // https://127.0.0.1:port
		t.Fatal(err)
	}
	a.url, b.url = srvA.URL, ""
	waitConnected(t, a, b)
	checkStream(t, a, sendStream(b, 1, 3))
	checkStream(t, b, sendStream(a, 2, 3))
}

func TestCloseIsIdempotent(t *testing.T) {
	checkGoroutines(t)
	a, b := newMember(t, 1), newMember(t, 2)
	connect(t, a, b)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { a.tr.Close() })
	}
	wg.Wait()
	if err := a.tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.tr.SetPeer(3, "http://127.0.0.1:1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetPeer after Close: %v", err)
	}
	a.tr.Send(1, sampleMessage(pb.MsgHeartbeat, 1, 2, 1)) // dropped, no panic
	// The endpoint refuses new peers.
	u, _ := PeerURL(a.url)
	if _, resp, err := websocket.DefaultDialer.Dial(u, nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %v", err)
	}
	// The peer notices and keeps trying; its own Close stops that.
	waitFor(t, "member 2 sees the loss", func() bool { return b.tr.Stats().Open == 0 })
}

//go:build !js

package ws

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	pb "go.etcd.io/raft/v3/raftpb"
)

// forgedHeartbeat is the message that makes authentication a safety
// property: a commit far beyond the receiver's log panics raft
// (log.go commitTo). None may ever reach Deliver.
func forgedHeartbeat(from, to uint64) *pb.Message {
	return &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: new(from), To: new(to), Term: new(uint64(1 << 40)), Commit: new(uint64(1 << 50))}
}

// forgedFrame is a well-formed frame carrying forgedHeartbeat.
func forgedFrame(cluster, from, to uint64) []byte {
	return rawFrame(cluster, from, to, 1, rawPart{id: 666, data: mustMarshal(forgedHeartbeat(from, to))})
}

// Each attack on member 1 is refused (a close code, a counted drop or
// both) and delivers nothing, and member 1 keeps serving its real peer.
func TestBadInputIsRefused(t *testing.T) {
	checkGoroutines(t)
	const max = 64 << 10
	a := newMember(t, 1, func(c *Config) { c.MaxMessageBytes = max; c.HandshakeTimeout = time.Second })
	b := newMember(t, 2)
	connect(t, a, b)
	as3 := Member{ClusterID: testCluster, ID: 3, Token: testToken}
	// auth dials member 1 as member 3, a peer it accepts.
	auth := func(t *testing.T) *rawPeer {
		r, err := dialAuth(t, a, as3)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		attack func(t *testing.T) *rawPeer
		code   int // close code member 1 sends; -1: it just closes
		count  func(Stats) uint64
	}{
		{"garbage after the handshake", func(t *testing.T) *rawPeer {
			r := auth(t)
			r.send(t, []byte("GET / HTTP/1.1\r\n\r\n garbage"))
			return r
		}, websocket.CloseInvalidFramePayloadData, func(s Stats) uint64 { return s.Dropped.BadFrame }},
		{"text message", func(t *testing.T) *rawPeer {
			r := auth(t)
			r.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"MsgHeartbeat"}`))
			return r
		}, websocket.CloseUnsupportedData, func(s Stats) uint64 { return s.Dropped.BadFrame }},
		{"oversized frame", func(t *testing.T) *rawPeer {
			r := auth(t)
			big := sampleMessage(pb.MsgApp, 3, 1, 1)
			big.Entries[0].Data = make([]byte, max)
			r.send(t, rawFrame(testCluster, 3, 1, 1, rawPart{id: 1, data: mustMarshal(big)}))
			return r
		}, websocket.CloseMessageTooBig, func(s Stats) uint64 { return s.Dropped.OversizedFrame }},
		{"length claim over the limit", func(t *testing.T) *rawPeer {
			r := auth(t)
			n := uint32(max + 1)
			r.send(t, rawFrame(testCluster, 3, 1, 1, rawPart{id: 1, data: mustMarshal(forgedHeartbeat(3, 1)), length: &n}))
			return r
		}, websocket.CloseMessageTooBig, func(s Stats) uint64 { return s.Dropped.OversizedFrame }},
		{"local message type", func(t *testing.T) *rawPeer {
			r := auth(t)
			hup := &pb.Message{Type: pb.MsgHup.Enum(), From: new(uint64(3)), To: new(uint64(1))}
			r.send(t, rawFrame(testCluster, 3, 1, 1, rawPart{id: 1, data: mustMarshal(hup)}))
			return r
		}, websocket.CloseInvalidFramePayloadData, func(s Stats) uint64 { return s.Dropped.BadFrame }},
		{"frame of another cluster", func(t *testing.T) *rawPeer {
			r := auth(t)
			r.send(t, forgedFrame(testCluster+1, 3, 1))
			return r
		}, websocket.ClosePolicyViolation, func(s Stats) uint64 { return s.Dropped.WrongCluster }},
		{"spoofed frame from", func(t *testing.T) *rawPeer {
			r := auth(t)
			r.send(t, forgedFrame(testCluster, 2, 1)) // member 3 posing as member 2
			return r
		}, websocket.ClosePolicyViolation, func(s Stats) uint64 { return s.Dropped.SpoofedFrom }},
		{"spoofed message from", func(t *testing.T) *rawPeer {
			r := auth(t)
			r.send(t, rawFrame(testCluster, 3, 1, 1, rawPart{id: 1, data: mustMarshal(forgedHeartbeat(2, 1))}))
			return r
		}, websocket.ClosePolicyViolation, func(s Stats) uint64 { return s.Dropped.SpoofedFrom }},
		{"message for another member", func(t *testing.T) *rawPeer {
			r := auth(t)
			r.send(t, forgedFrame(testCluster, 3, 2))
			return r
		}, websocket.ClosePolicyViolation, func(s Stats) uint64 { return s.Dropped.WrongRecipient }},
		{"forged heartbeat without a handshake", func(t *testing.T) *rawPeer {
			r := dialRaw(t, a)
			r.send(t, forgedFrame(testCluster, 2, 1))
			return r
		}, websocket.ClosePolicyViolation, func(s Stats) uint64 { return s.AuthFailures }},
		{"forged heartbeat after reading the hello", func(t *testing.T) *rawPeer {
			r := dialRaw(t, a)
			if _, _, err := r.ws.ReadMessage(); err != nil {
				t.Fatal(err)
			}
			r.send(t, forgedFrame(testCluster, 2, 1))
			r.send(t, forgedFrame(testCluster, 2, 1))
			return r
		}, websocket.ClosePolicyViolation, func(s Stats) uint64 { return s.AuthFailures }},
		{"wrong token", func(t *testing.T) *rawPeer {
			cred := as3
			cred.Token = "guess"
			r, err := dialAuth(t, a, cred)
			if !errors.Is(err, ErrBadToken) || !errors.Is(err, ErrRefused) {
				t.Fatalf("handshake: %v", err)
			}
			return r
		}, websocket.ClosePolicyViolation, func(s Stats) uint64 { return s.AuthFailures }},
		{"wrong cluster id", func(t *testing.T) *rawPeer {
			r := dialRaw(t, a)
			_, hello, err := r.ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			// A token holder of another cluster (clusters sharing a token).
			r.send(t, forgeAnswer(hello, testToken, testCluster+1, 3))
			_, reject, err := r.ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			c, _ := NewClientHandshake(as3, 1)
			c.transcript = hello
			if err := c.Verify(reject); !errors.Is(err, ErrWrongCluster) {
				t.Fatalf("refusal: %v", err)
			}
			return r
		}, websocket.ClosePolicyViolation, func(s Stats) uint64 { return s.AuthFailures }},
		{"silent after the upgrade", func(t *testing.T) *rawPeer {
			return dialRaw(t, a) // HandshakeTimeout closes it
		}, websocket.ClosePolicyViolation, func(s Stats) uint64 { return s.AuthFailures }},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			before := tc.count(a.tr.Stats())
			r := tc.attack(t)
			if code := r.closeCode(t); code != tc.code {
				t.Errorf("close code %d, want %d", code, tc.code)
			}
			waitFor(t, "the refusal counted", func() bool { return tc.count(a.tr.Stats()) == before+1 })
			for _, d := range a.received() {
				if d.m.GetFrom() != 2 || d.id == 666 {
					t.Fatalf("delivered %x from %d", d.id, d.m.GetFrom())
				}
			}
			// The real peer is still served, both ways.
			checkStream(t, a, sendStream(b, 1, 1))
			checkStream(t, b, sendStream(a, 2, 1))
			a.mu.Lock()
			a.got = nil
			a.mu.Unlock()
			b.mu.Lock()
			b.got = nil
			b.mu.Unlock()
		})
	}
	if s := a.tr.Stats(); s.Received != uint64(len(wireTypes())*14) {
		t.Errorf("received %d, want only member 2's %d", s.Received, len(wireTypes())*14)
	}
	if !sameConn(a, b) {
		t.Error("the real peer's connection was disturbed")
	}
}

// A transport of another cluster, or one without the token, never
// connects.
func TestForeignTransportsNeverConnect(t *testing.T) {
	checkGoroutines(t)
	a := newMember(t, 1)
	other := newMember(t, 2, func(c *Config) { c.ClusterID = testCluster + 1 })
	guess := newMember(t, 3, func(c *Config) { c.Token = "guess" })
	for _, m := range []*member{other, guess} {
		if err := m.tr.SetPeer(1, a.url); err != nil {
			t.Fatal(err)
		}
		if err := a.tr.SetPeer(m.id, m.url); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "handshakes refused both ways", func() bool {
		return a.tr.Stats().AuthFailures >= 4 && other.tr.Stats().AuthFailures >= 2 && guess.tr.Stats().AuthFailures >= 2
	})
	for _, m := range []*member{a, other, guess} {
		if s := m.tr.Stats(); s.Open != 0 || s.Connections != 0 {
			t.Fatalf("member %d connected: %+v", m.id, s)
		}
	}
}

// A peer that stops answering pings is closed as dead and reported.
func TestDeadPeerDetected(t *testing.T) {
	checkGoroutines(t)
	a := newMember(t, 1, func(c *Config) {
		c.PingInterval = 20 * time.Millisecond
		c.PongTimeout = 200 * time.Millisecond
	})
	// Authenticated, then silent: it never reads, so it never answers a
	// ping.
	if _, err := dialAuth(t, a, Member{ClusterID: testCluster, ID: 3, Token: testToken}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", func() bool { return a.tr.Stats().Connections == 1 })
	waitFor(t, "closed as dead and reported", func() bool {
		return a.tr.Stats().Open == 0 && a.count(func(mb *member) int { return mb.unreachable[3] }) == 1
	})
}

// Connections that upgrade and never authenticate are bounded: past
// maxPendingHandshakes they are refused at once, and when they time out a
// real peer connects.
func TestPendingHandshakesAreBounded(t *testing.T) {
	checkGoroutines(t)
	a := newMember(t, 1, func(c *Config) { c.HandshakeTimeout = time.Second })
	var silent []*rawPeer
	for range maxPendingHandshakes {
		silent = append(silent, dialRaw(t, a))
	}
	u, _ := PeerURL(a.url)
	if _, resp, err := websocket.DefaultDialer.Dial(u, nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial past the bound: %v", err)
	}
	for _, r := range silent {
		if code := r.closeCode(t); code != websocket.ClosePolicyViolation {
			t.Fatalf("silent connection closed with %d", code)
		}
	}
	b := newMember(t, 2)
	connect(t, a, b)
	checkStream(t, a, sendStream(b, 1, 1))
}

func TestNotAWebSocket(t *testing.T) {
	checkGoroutines(t)
	a := newMember(t, 1)
	resp, err := http.Get(a.url + PeerPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	if s := a.tr.Stats(); s.AuthFailures != 0 || s.Connections != 0 {
		t.Fatalf("%+v", s)
	}
}

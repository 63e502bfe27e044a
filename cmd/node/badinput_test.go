//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlab/raftlab/core"
	"github.com/raftlab/raftlab/transport/ws"
)

// peerConn is a raw WebSocket to a member's /raft that says whatever a test
// wants: the transport's exported frame and handshake helpers, or bytes.
type peerConn struct{ *websocket.Conn }

func dialPeer(t *testing.T, m *Member) peerConn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("ws://"+m.Addr+ws.PeerPath, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", m.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	return peerConn{c}
}

// handshake runs the client side of the peer handshake as cred; edit may
// change the server's hello before the client reads it.
func (p peerConn) handshake(t *testing.T, cred ws.Member, edit func([]byte)) error {
	t.Helper()
	hs, err := ws.NewClientHandshake(cred, 0)
	if err != nil {
		t.Fatal(err)
	}
	hello := p.read(t)
	if edit != nil {
		edit(hello)
	}
	answer, err := hs.Answer(hello)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	p.send(t, answer)
	_, last, err := p.ReadMessage()
	if err != nil {
		return err
	}
	return hs.Verify(last)
}

func (p peerConn) read(t *testing.T) []byte {
	t.Helper()
	_, b, err := p.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func (p peerConn) send(t *testing.T, b []byte) {
	t.Helper()
	if err := p.WriteMessage(websocket.BinaryMessage, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// closeCode reads until the member ends the connection and returns its
// close code, -1 if it closed without one.
func (p peerConn) closeCode() int {
	for {
		_, _, err := p.ReadMessage()
		var ce *websocket.CloseError
		switch {
		case err == nil:
			continue
		case errors.As(err, &ce):
			return ce.Code
		default:
			return -1
		}
	}
}

// rawFrame builds a frame by hand, whatever its header says: the transport's
// encoder refuses to make the inconsistent ones.
func rawFrame(cluster, from, to uint64, msgs ...*pb.Message) []byte {
	b := []byte{'R', 'L', ws.FrameVersion, 0}
	b = binary.BigEndian.AppendUint64(b, cluster)
	b = binary.BigEndian.AppendUint64(b, from)
	b = binary.BigEndian.AppendUint64(b, to)
	b = binary.BigEndian.AppendUint32(b, uint32(len(msgs)))
	for i, m := range msgs {
		data, err := proto.Marshal(m)
		if err != nil {
			panic(err)
		}
		b = binary.BigEndian.AppendUint64(b, uint64(i+1))
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		b = append(b, data...)
	}
	return b
}

// forgedHeartbeat would panic raft if it reached it (a commit far beyond
// the log: log.go commitTo) and move it to an absurd term.
func forgedHeartbeat(from, to uint64) *pb.Message {
	return &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: new(from), To: new(to), Term: new(uint64(1 << 40)), Commit: new(uint64(1 << 50))}
}

// Bad input of every kind, at a member of a running cluster: each is
// refused with a clear error or close code and counted, the member keeps
// serving, and no acknowledged write is lost.
func TestBadInput(t *testing.T) {
	t.Parallel()
	const admin = "admin-secret"
	c := StartCluster(t, ClusterOptions{Size: 3, AdminToken: admin, Flags: []string{"--tick", "50ms"}})
	cl := c.NewClient()
	m := c.Member(1)
	for i := range 20 {
		cl.MustPut(t, c.Member(uint64(i%3+1)), fmt.Sprintf("before-%02d", i), strconv.Itoa(i))
	}
	before := m.MustStatus(t)
	clusterID, err := strconv.ParseUint(before.ClusterID, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	// Member 99, a learner that never runs, is how an attacker that holds
	// the cluster token gets through the handshake; an id outside the
	// membership is refused at the handshake.
	if r, err := m.Do("POST", "/cluster/members", []byte(`{"id":99,"url":"http://127.0.0.1:9","learner":true}`), "Authorization", "Bearer "+admin); err != nil || r.Status != 200 {
		t.Fatalf("adding learner 99: %+v %v", r, err)
	}
	metricsBefore := m.Metrics(t)

	// A slow-loris client sends its headers a byte at a time; the member
	// cuts it off (ReadHeaderTimeout) while everything below goes on.
	slowLoris := make(chan slowResult, 1)
	go func() {
		slowLoris <- slowClient(m.Addr, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", "X-Slow: zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")
	}()
	// And clients that send their headers, then a body a byte at a time:
	// a write (the member answers 408 and closes) and a read whose handler
	// ignores the body (answered, then closed: the server would otherwise
	// drain the body as slowly as it comes).
	slowBody := make(chan slowResult, 1)
	go func() {
		slowBody <- slowClient(m.Addr, "PUT /kv/slow-body HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n", strings.Repeat("b", 1000))
	}()
	slowIgnored := make(chan slowResult, 1)
	go func() {
		slowIgnored <- slowClient(m.Addr, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n", strings.Repeat("b", 1000))
	}()

	// The peer endpoint, /raft.
	as99 := ws.Member{ClusterID: clusterID, ID: 99, Token: c.opts.Token}
	peer := []struct {
		name   string
		attack func(t *testing.T) peerConn
		code   int    // close code the member sends
		metric string // the counter that goes up
	}{
		{"garbage instead of the handshake", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			p.read(t) // hello
			p.send(t, []byte("GET / HTTP/1.1\r\n\r\n"))
			return p
		}, websocket.ClosePolicyViolation, "raftlab_transport_auth_failures_total"},
		{"forged heartbeat before the handshake", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			p.send(t, rawFrame(clusterID, 2, 1, forgedHeartbeat(2, 1)))
			return p
		}, websocket.ClosePolicyViolation, "raftlab_transport_auth_failures_total"},
		{"forged heartbeat instead of the answer", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			p.read(t)
			p.send(t, rawFrame(clusterID, 2, 1, forgedHeartbeat(2, 1)))
			return p
		}, websocket.ClosePolicyViolation, "raftlab_transport_auth_failures_total"},
		{"oversized handshake message", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			p.read(t)
			p.send(t, make([]byte, ws.MaxHandshakeMessageBytes+1))
			return p
		}, websocket.CloseMessageTooBig, "raftlab_transport_auth_failures_total"},
		{"wrong cluster token", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			cred := as99
			cred.Token = "not-the-token"
			if err := p.handshake(t, cred, nil); !errors.Is(err, ws.ErrRefused) || !errors.Is(err, ws.ErrBadToken) {
				t.Fatalf("handshake with a wrong token: %v", err)
			}
			return p
		}, websocket.ClosePolicyViolation, "raftlab_transport_auth_failures_total"},
		{"wrong cluster id", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			cred := as99
			cred.ClusterID = clusterID + 1
			// Make the client believe the member is of its cluster, so
			// that the member is the one to refuse.
			edit := func(hello []byte) { binary.BigEndian.PutUint64(hello[4:], cred.ClusterID) }
			if err := p.handshake(t, cred, edit); !errors.Is(err, ws.ErrRefused) || !errors.Is(err, ws.ErrWrongCluster) {
				t.Fatalf("handshake with a wrong cluster id: %v", err)
			}
			return p
		}, websocket.ClosePolicyViolation, "raftlab_transport_auth_failures_total"},
		{"an id outside the membership", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			cred := as99
			cred.ID = 77
			if err := p.handshake(t, cred, nil); !errors.Is(err, ws.ErrRefused) || !errors.Is(err, ws.ErrUnknownPeer) {
				t.Fatalf("handshake as a non-member: %v", err)
			}
			return p
		}, websocket.ClosePolicyViolation, "raftlab_transport_auth_failures_total"},
		// Authenticated (member 99 holds the token), then bad frames.
		{"garbage frame", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			mustHandshake(t, p, as99)
			p.send(t, []byte("\x00\x01garbage that is no frame at all, long enough to pass for a header"))
			return p
		}, websocket.CloseInvalidFramePayloadData, `raftlab_transport_frames_refused_total{reason="bad frame"}`},
		{"text message", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			mustHandshake(t, p, as99)
			p.WriteMessage(websocket.TextMessage, []byte(`{"type":"MsgHeartbeat","commit":1e15}`))
			return p
		}, websocket.CloseUnsupportedData, `raftlab_transport_frames_refused_total{reason="bad frame"}`},
		{"frame over the read limit", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			mustHandshake(t, p, as99)
			// The WebSocket header of a binary message one byte over
			// the member's read limit, and the start of its payload:
			// the member refuses it from the header, without reading
			// 16 MiB first.
			hdr := []byte{0x82, 0x80 | 127}
			hdr = binary.BigEndian.AppendUint64(hdr, ws.DefaultMaxMessageBytes+ws.FrameOverhead+1)
			hdr = append(hdr, 1, 2, 3, 4) // mask key
			hdr = append(hdr, bytes.Repeat([]byte{0xAA}, 4096)...)
			if _, err := p.UnderlyingConn().Write(hdr); err != nil {
				t.Fatal(err)
			}
			return p
		}, websocket.CloseMessageTooBig, `raftlab_transport_frames_refused_total{reason="oversized"}`},
		{"message length over the limit", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			mustHandshake(t, p, as99)
			f := rawFrame(clusterID, 99, 1, &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: new(uint64(99)), To: new(uint64(1))})
			binary.BigEndian.PutUint32(f[ws.FrameHeaderSize+8:], ws.DefaultMaxMessageBytes+1)
			p.send(t, f)
			return p
		}, websocket.CloseMessageTooBig, `raftlab_transport_frames_refused_total{reason="oversized"}`},
		{"local message type", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			mustHandshake(t, p, as99)
			p.send(t, rawFrame(clusterID, 99, 1, &pb.Message{Type: pb.MsgHup.Enum(), From: new(uint64(99)), To: new(uint64(1))}))
			return p
		}, websocket.CloseInvalidFramePayloadData, `raftlab_transport_frames_refused_total{reason="bad frame"}`},
		{"frame of another cluster", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			mustHandshake(t, p, as99)
			p.send(t, rawFrame(clusterID+1, 99, 1, forgedHeartbeat(99, 1)))
			return p
		}, websocket.ClosePolicyViolation, `raftlab_transport_frames_refused_total{reason="wrong cluster"}`},
		{"spoofed frame from", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			mustHandshake(t, p, as99)
			p.send(t, rawFrame(clusterID, 2, 1, forgedHeartbeat(2, 1))) // 99 posing as 2
			return p
		}, websocket.ClosePolicyViolation, `raftlab_transport_frames_refused_total{reason="spoofed from"}`},
		{"spoofed message from", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			mustHandshake(t, p, as99)
			p.send(t, rawFrame(clusterID, 99, 1, forgedHeartbeat(2, 1)))
			return p
		}, websocket.ClosePolicyViolation, `raftlab_transport_frames_refused_total{reason="spoofed from"}`},
		{"message for another member", func(t *testing.T) peerConn {
			p := dialPeer(t, m)
			mustHandshake(t, p, as99)
			p.send(t, rawFrame(clusterID, 99, 3, forgedHeartbeat(99, 3)))
			return p
		}, websocket.ClosePolicyViolation, `raftlab_transport_frames_refused_total{reason="wrong recipient"}`},
	}
	for _, tc := range peer {
		t.Run("raft/"+tc.name, func(t *testing.T) {
			was := m.Metrics(t)[tc.metric]
			p := tc.attack(t)
			if code := p.closeCode(); code != tc.code {
				t.Errorf("close code %d, want %d", code, tc.code)
			}
			waitFor(t, waitTimeout, tc.metric+" to count it", func() (bool, string) {
				now := m.Metrics(t)[tc.metric]
				return now > was, fmt.Sprintf("%v, was %v", now, was)
			})
			if !m.Running() {
				t.Fatalf("member died:\n%s", m.LogTail(20))
			}
		})
	}

	// The HTTP API.
	auth := []string{"Authorization", "Bearer " + admin, "Content-Type", "application/json"}
	long := strings.Repeat("k", core.MaxKeyBytes+1)
	api := []struct {
		name, method, path string
		body               []byte
		header             []string
		status             int
		says               string // in the JSON error
	}{
		{"bad JSON", "POST", "/cluster/members", []byte(`{"id": 9, "url": `), auth, 400, "bad JSON"},
		{"wrong JSON type", "POST", "/cluster/members", []byte(`{"id": "nine"}`), auth, 400, "bad JSON"},
		{"unknown JSON field", "POST", "/cluster/members", []byte(`{"id": 9, "url": "http://127.0.0.1:9", "voter": true}`), auth, 400, "unknown field"},
		{"data after the JSON", "POST", "/cluster/members", []byte(`{"id": 9, "url": "http://127.0.0.1:9"} {"id": 10}`), auth, 400, "after the object"},
		{"member id 0", "POST", "/cluster/members", []byte(`{"id": 0, "url": "http://127.0.0.1:9"}`), auth, 400, "id"},
		{"bad member URL", "POST", "/cluster/members", []byte(`{"id": 9, "url": "ftp://127.0.0.1:9/x"}`), auth, 400, "url"},
		{"existing member", "POST", "/cluster/members", []byte(`{"id": 2, "url": "http://127.0.0.1:9"}`), auth, 409, "already exists"},
		{"admin body too large", "POST", "/cluster/members", bytes.Repeat([]byte(" "), maxAdminBody+1), auth, 413, "body over"},
		{"no admin token", "POST", "/cluster/snapshot", nil, nil, 401, "admin token"},
		{"wrong admin token", "DELETE", "/cluster/members/2", nil, []string{"Authorization", "Bearer guess"}, 401, "admin token"},
		{"admin token not as bearer", "POST", "/cluster/leader", []byte(`{"id": 2}`), []string{"Authorization", admin}, 401, "admin token"},
		{"unknown member promoted", "POST", "/cluster/members/42/promote", nil, auth, 404, "no member 42"},
		{"unknown member removed", "DELETE", "/cluster/members/42", nil, auth, 404, "no member 42"},
		{"bad member id", "DELETE", "/cluster/members/two", nil, auth, 400, "positive integer"},
		{"transfer to a non-member", "POST", "/cluster/leader", []byte(`{"id": 42}`), auth, 400, "not a voter"},
		{"value too large", "PUT", "/kv/big", make([]byte, core.MaxValueBytes+1), nil, 413, "exceeds"},
		{"key too long", "PUT", "/kv/" + long, []byte("v"), nil, 400, "exceeds"},
		{"key too long to read", "GET", "/kv/" + long, nil, nil, 400, "exceeds"},
		{"no key", "PUT", "/kv/", []byte("v"), nil, 400, "missing key"},
		{"bad consistency", "GET", "/kv/before-00?consistency=eventual", nil, nil, 400, "consistency"},
		{"method not allowed", "POST", "/kv/before-00", []byte("v"), nil, 405, "not allowed"},
		{"unknown admin endpoint", "POST", "/cluster/reboot", nil, auth, 404, "no such"},
		{"bad events since", "GET", "/events?since=yesterday", nil, nil, 400, "since"},
		{"cross-origin events", "GET", "/events", nil, []string{"Origin", "http://evil.example"}, 403, "origin"},
		{"DNS-rebinding host", "GET", "/events", nil, []string{"Host", "rebind.evil.example:" + portOf(m.Addr)}, 403, "host"},
	}
	for _, tc := range api {
		t.Run("http/"+tc.name, func(t *testing.T) {
			r := m.MustDo(t, tc.method, tc.path, tc.body, tc.header...)
			if r.Status != tc.status || !strings.Contains(strings.ToLower(r.APIError()), strings.ToLower(tc.says)) {
				t.Fatalf("%s %.60s: %s, want %d and an error saying %q", tc.method, tc.path, r, tc.status, tc.says)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
	t.Run("http/no admin token: WWW-Authenticate", func(t *testing.T) {
		r := m.MustDo(t, "DELETE", "/cluster/members/3", nil)
		if r.Status != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s %v", r, r.Header)
		}
	})
	// A real WebSocket upgrade from another origin, or under another host
	// name, is refused before it upgrades.
	for _, h := range [][]string{{"Origin", "http://evil.example"}, {"Host", "rebind.evil.example:" + portOf(m.Addr)}} {
		t.Run("http/events upgrade with "+h[0], func(t *testing.T) {
			d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
			conn, resp, err := d.Dial("ws://"+m.Addr+"/events", http.Header{h[0]: {h[1]}})
			if err == nil {
				conn.Close()
				t.Fatal("upgrade accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("upgrade: %v %v", err, resp)
			}
		})
	}
	// A header block over the limit: 431.
	t.Run("http/huge headers", func(t *testing.T) {
		r := m.MustDo(t, "GET", "/healthz", nil, "X-Junk", strings.Repeat("j", 128<<10))
		if r.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%d", r.Status)
		}
	})
	// Raw HTTP that does not parse: a 400, and the connection closes.
	t.Run("http/malformed request line", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", m.Addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(waitTimeout))
		io.WriteString(conn, "PUT /kv/x HTTP/9.9 extra\r\n\r\n")
		status, _ := bufio.NewReader(conn).ReadString('\n')
		if !strings.Contains(status, " 400 ") && !strings.Contains(status, " 505 ") {
			t.Fatalf("status line %q", status)
		}
	})

	loris := <-slowLoris
	if loris.err != "" {
		t.Fatalf("slow-loris: %s", loris.err)
	}
	t.Logf("slow-loris client sending a header byte every 500ms: cut off after %v (answer %q)", loris.took, strings.TrimSpace(firstLine(loris.answer, "")))
	body := <-slowBody
	if body.err != "" || !strings.HasPrefix(body.answer, "HTTP/1.1 408 ") || !strings.Contains(body.answer, "not received within") {
		t.Fatalf("slow body: %+v", body)
	}
	t.Logf("client sending its body a byte every 500ms: cut off after %v with %q", body.took, strings.TrimSpace(firstLine(body.answer, "")))
	ignored := <-slowIgnored
	if ignored.err != "" || !strings.HasPrefix(ignored.answer, "HTTP/1.1 200 ") {
		t.Fatalf("slow ignored body: %+v", ignored)
	}
	t.Logf("client sending an ignored body a byte every 500ms: answered %q, closed after %v", strings.TrimSpace(firstLine(ignored.answer, "")), ignored.took)
	if op := cl.Get(m, "slow-body", ""); op.Status != http.StatusNotFound {
		t.Fatalf("the slow body was written: %s", op)
	}

	// The member still serves: it is alive, its term is sane, it takes a
	// write and a read, and every earlier write is intact everywhere.
	if !m.Running() {
		t.Fatalf("member 1 died:\n%s", m.LogTail(30))
	}
	after := m.MustStatus(t)
	if after.Term > before.Term+5 {
		t.Fatalf("term moved from %d to %d", before.Term, after.Term)
	}
	cl.MustPut(t, m, "after", "the bad input")
	for _, r := range c.Members() {
		cl.WantValue(t, r, "after", "", "the bad input")
		for i := range 20 {
			cl.WantValue(t, r, fmt.Sprintf("before-%02d", i), "", strconv.Itoa(i))
		}
	}
	metricsAfter := m.Metrics(t)
	for _, k := range []string{"raftlab_transport_auth_failures_total", `raftlab_transport_frames_refused_total{reason="spoofed from"}`,
		`raftlab_transport_frames_refused_total{reason="bad frame"}`, `raftlab_transport_frames_refused_total{reason="oversized"}`} {
		t.Logf("%s: %v -> %v", k, metricsBefore[k], metricsAfter[k])
	}
}

func mustHandshake(t *testing.T, p peerConn, cred ws.Member) {
	t.Helper()
	if err := p.handshake(t, cred, nil); err != nil {
		t.Fatalf("handshake as member %d: %v", cred.ID, err)
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// slowResult is what a slow client saw.
type slowResult struct {
	took   time.Duration // until the member closed the connection
	answer string        // what the member sent before closing
	err    string        // what went wrong, "" if the member cut it off
}

// slowClient sends start, then slow a byte every 500 ms, until the member
// closes the connection (at most two minutes).
func slowClient(addr, start, slow string) slowResult {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return slowResult{err: err.Error()}
	}
	defer conn.Close()
	t0 := time.Now()
	if _, err := io.WriteString(conn, start); err != nil {
		return slowResult{err: err.Error()}
	}
	answer := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(conn) // returns when the member closes
		answer <- string(b)
	}()
	for i := 0; ; i++ {
		select {
		case a := <-answer:
			return slowResult{took: time.Since(t0).Round(100 * time.Millisecond), answer: a}
		case <-time.After(500 * time.Millisecond):
		}
		if time.Since(t0) > 2*time.Minute {
			return slowResult{err: "still connected after 2 minutes"}
		}
		if i < len(slow) {
			if _, err := conn.Write([]byte{slow[i]}); err != nil {
				// Closed under us: the answer, if any, is on its way.
				continue
			}
		}
	}
}

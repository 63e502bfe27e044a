//go:build !js

package ws

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The benchmarks run this transport and a bare gorilla/websocket loopback
// baseline with the same payload sizes side by side, so one run gives the
// ratios:
//
//	go test -run '^$' -bench . -count 3 ./transport/ws
//
// RoundTrip: one small MsgHeartbeat out and a MsgHeartbeatResp back, the
// transport's overhead on raft's latency-critical path (ns/roundtrip).
// Rate: MsgApp of about 256 bytes one way, as fast as they are taken
// (msgs/s).

// benchApp is a MsgApp of about 256 protobuf bytes.
func benchApp(i uint64) *pb.Message {
	return &pb.Message{
		Type: pb.MsgApp.Enum(), From: new(uint64(1)), To: new(uint64(2)), Term: new(uint64(3)),
		Index: new(i), LogTerm: new(uint64(3)), Commit: new(i),
		Entries: []*pb.Entry{{Term: new(uint64(3)), Index: new(i + 1), Type: pb.EntryNormal.Enum(), Data: make([]byte, 200)}},
	}
}

func benchHeartbeat(from, to uint64, t pb.MessageType) *pb.Message {
	return &pb.Message{Type: t.Enum(), From: new(from), To: new(to), Term: new(uint64(3)), Commit: new(uint64(1000))}
}

// frameSize is the size of a frame carrying m alone: the baseline sends
// payloads of this size.
func frameSize(b *testing.B, m *pb.Message) int {
	f, err := EncodeFrame(FrameHeader{ClusterID: testCluster, From: m.GetFrom(), To: m.GetTo()}, []Envelope{{ID: 1, Message: m}})
	if err != nil {
		b.Fatal(err)
	}
	return len(f)
}

func BenchmarkRoundTrip(b *testing.B) {
	// Ping-pong driven from Deliver, as the baseline is driven by the
	// goroutine that reads the echo: each side answers on its reader.
	b.Run("transport", func(b *testing.B) {
		done := make(chan struct{})
		n := uint64(b.N)
		var a, z *member
		hb := benchHeartbeat(1, 2, pb.MsgHeartbeat)
		a = newMember(b, 1, func(c *Config) {
			c.Deliver = func(id uint64, _ *pb.Message) {
				if id+1 == n {
					close(done)
					return
				}
				a.tr.Send(id+1, hb)
			}
		})
		resp := benchHeartbeat(2, 1, pb.MsgHeartbeatResp)
		z = newMember(b, 2, func(c *Config) {
			c.Deliver = func(id uint64, _ *pb.Message) { z.tr.Send(id, resp) }
		})
		connect(b, a, z)
		b.SetBytes(int64(frameSize(b, hb)))
		b.ReportAllocs()
		b.ResetTimer()
		a.tr.Send(0, hb)
		<-done
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/roundtrip")
		if s := a.tr.Stats(); s.Dropped != (Drops{}) {
			b.Fatalf("drops: %+v", s.Dropped)
		}
	})
	// The same with each answer handed to another goroutine, as a raft
	// driver's loop receives it: one more goroutine switch per round trip.
	b.Run("transport-handoff", func(b *testing.B) {
		back := make(chan struct{}, 1)
		var a, z *member
		a = newMember(b, 1, func(c *Config) {
			c.Deliver = func(uint64, *pb.Message) { back <- struct{}{} }
		})
		resp := benchHeartbeat(2, 1, pb.MsgHeartbeatResp)
		z = newMember(b, 2, func(c *Config) {
			c.Deliver = func(id uint64, _ *pb.Message) { z.tr.Send(id, resp) }
		})
		connect(b, a, z)
		hb := benchHeartbeat(1, 2, pb.MsgHeartbeat)
		b.SetBytes(int64(frameSize(b, hb)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			a.tr.Send(uint64(i), hb)
			<-back
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/roundtrip")
		if s := a.tr.Stats(); s.Dropped != (Drops{}) {
			b.Fatalf("drops: %+v", s.Dropped)
		}
	})
	b.Run("gorilla", func(b *testing.B) {
		payload := make([]byte, frameSize(b, benchHeartbeat(1, 2, pb.MsgHeartbeat)))
		ws := dialEcho(b)
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := ws.WriteMessage(websocket.BinaryMessage, payload); err != nil {
				b.Fatal(err)
			}
			if _, _, err := ws.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/roundtrip")
	})
}

func BenchmarkRate(b *testing.B) {
	b.Run("transport", func(b *testing.B) {
		// A window keeps the sender within the queue: Send drops rather
		// than block, and a benchmark of drops measures nothing.
		const window = DefaultQueueSize / 2
		sem := make(chan struct{}, window)
		var got atomic.Int64
		done := make(chan struct{})
		n := int64(b.N)
		a := newMember(b, 1)
		z := newMember(b, 2, func(c *Config) {
			c.Deliver = func(uint64, *pb.Message) {
				<-sem
				if got.Add(1) == n {
					close(done)
				}
			}
		})
		connect(b, a, z)
		msgs := make([]*pb.Message, 1024)
		for i := range msgs {
			msgs[i] = benchApp(uint64(i))
		}
		b.SetBytes(int64(proto.Size(msgs[0])))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			sem <- struct{}{}
			a.tr.Send(uint64(i), msgs[i%len(msgs)])
		}
		<-done
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		if s := a.tr.Stats(); s.Dropped != (Drops{}) {
			b.Fatalf("drops: %+v", s.Dropped)
		}
	})
	b.Run("gorilla", func(b *testing.B) {
		payload := make([]byte, proto.Size(benchApp(0)))
		ws := dialSink(b, b.N)
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := ws.WriteMessage(websocket.BinaryMessage, payload); err != nil {
				b.Fatal(err)
			}
		}
		// The sink answers once it has read them all.
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// The baselines: bare gorilla over loopback with the transport's buffer
// sizes and no compression.
var benchUpgrader = websocket.Upgrader{ReadBufferSize: socketBufferBytes, WriteBufferSize: socketBufferBytes}

func dialBaseline(b *testing.B, serve func(*websocket.Conn)) *websocket.Conn {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := benchUpgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		serve(ws)
	}))
	b.Cleanup(srv.Close)
	d := websocket.Dialer{ReadBufferSize: socketBufferBytes, WriteBufferSize: socketBufferBytes}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ws.Close() })
	return ws
}

// dialEcho connects to a server that sends every message back.
func dialEcho(b *testing.B) *websocket.Conn {
	return dialBaseline(b, func(ws *websocket.Conn) {
		for {
			mt, p, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if err := ws.WriteMessage(mt, p); err != nil {
				return
			}
		}
	})
}

// dialSink connects to a server that reads n messages, then answers once.
func dialSink(b *testing.B, n int) *websocket.Conn {
	return dialBaseline(b, func(ws *websocket.Conn) {
		for range n {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
		ws.WriteMessage(websocket.BinaryMessage, []byte("done"))
		ws.ReadMessage() // until the client closes
	})
}

package live

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/core"
	"github.com/raftlab/raftlab/storage"
	"github.com/raftlab/raftlab/storage/memory"
)

// loopback is an in-process transport between drivers, for testing the
// driver alone; the real transport has its own tests.
type loopback struct {
	mu      sync.Mutex
	drivers map[uint64]*Driver
	cut     map[uint64]bool
}

func newLoopback() *loopback {
	return &loopback{drivers: map[uint64]*Driver{}, cut: map[uint64]bool{}}
}

func (l *loopback) Send(id uint64, m *pb.Message) {
	l.mu.Lock()
	d, cut := l.drivers[m.GetTo()], l.cut[m.GetTo()] || l.cut[m.GetFrom()]
	l.mu.Unlock()
	if d != nil && !cut {
		d.Step(id, m)
	}
}

func startCluster(t *testing.T, ids ...uint64) (*loopback, map[uint64]*Driver) {
	t.Helper()
	lb := newLoopback()
	return lb, startDrivers(t, lb, lb, Config{TickInterval: 5 * time.Millisecond}, ids...)
}

// startDrivers starts a member for each id on tr, each registered in lb.
func startDrivers(t *testing.T, lb *loopback, tr Transport, cfg Config, ids ...uint64) map[uint64]*Driver {
	t.Helper()
	for _, id := range ids {
		store, err := storage.Open(memory.New())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := core.Bootstrap(store, ids, nil); err != nil {
			t.Fatal(err)
		}
		n, err := core.NewNode(core.Config{ID: id, ElectionTicks: 10}, store)
		if err != nil {
			t.Fatal(err)
		}
		d := Start(n, tr, cfg)
		t.Cleanup(d.Stop)
		lb.mu.Lock()
		lb.drivers[id] = d
		lb.mu.Unlock()
	}
	return lb.drivers
}

// waitLeader polls until some driver reports a leader, within limit.
func waitLeader(t *testing.T, ds map[uint64]*Driver, skip uint64) uint64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for id, d := range ds {
			if id != skip && d.Status().Role == "leader" {
				return id
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no leader within 10s")
	return 0
}

func TestDriverWritesAndReads(t *testing.T) {
	_, ds := startCluster(t, 1, 2, 3)
	waitLeader(t, ds, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for id, d := range ds {
		idx, err := d.Propose(ctx, core.Command{Op: core.OpPut, Key: "k", Value: []byte{byte('0' + id)}})
		if err != nil || idx == 0 {
			t.Fatalf("put through %d: %d, %v", id, idx, err)
		}
		v, found, _, err := d.Read(ctx, "k")
		if err != nil || !found || string(v) != string([]byte{byte('0' + id)}) {
			t.Fatalf("read through %d after its write: %q %v %v", id, v, found, err)
		}
	}
	if _, err := ds[1].Propose(ctx, core.Command{Op: core.OpPut}); err == nil {
		t.Fatal("an empty key was accepted")
	}
}

func TestDriverSurvivesLeaderLoss(t *testing.T) {
	lb, ds := startCluster(t, 1, 2, 3)
	old := waitLeader(t, ds, 0)
	lb.mu.Lock()
	lb.cut[old] = true
	lb.mu.Unlock()
	lead := waitLeader(t, ds, old)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ds[lead].Propose(ctx, core.Command{Op: core.OpPut, Key: "x", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	// A request on the cut-off member gives up with the context.
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if _, err := ds[old].Propose(short, core.Command{Op: core.OpPut, Key: "y", Value: []byte("1")}); err == nil {
		t.Fatal("a write on a cut-off member succeeded")
	}
}

func TestDriverStopAnswersWaiters(t *testing.T) {
	_, ds := startCluster(t, 1, 2, 3)
	d := ds[1]
	d.Stop()
	_, err := d.Propose(context.Background(), core.Command{Op: core.OpPut, Key: "x", Value: []byte("1")})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("propose on a stopped driver: %v", err)
	}
}

// orderLog records, in one order, the messages members hand to the
// transport and the send events they make.
type orderLog struct {
	mu      sync.Mutex
	entries []string
	lb      *loopback
}

func (o *orderLog) add(s string) {
	o.mu.Lock()
	o.entries = append(o.entries, s)
	o.mu.Unlock()
}

func (o *orderLog) Send(id uint64, m *pb.Message) {
	o.add(fmt.Sprintf("handed %d:%d", m.GetFrom(), id))
	o.lb.Send(id, m)
}

// A message leaves before its send event is made: describing it costs
// more than handing it on, and a peer waits for it (docs/performance-log.md,
// item 15).
func TestMessagesLeaveBeforeTheirSendEvents(t *testing.T) {
	lb := newLoopback()
	log := &orderLog{lb: lb}
	events := NewEvents(func(e core.Event) {
		if e.Kind == core.KindSend {
			log.add(fmt.Sprintf("event %d:%d", e.Msg.From, e.Msg.ID))
		}
	}, nil)
	ds := startDrivers(t, lb, log, Config{TickInterval: 5 * time.Millisecond, Events: events, MessageEvents: true}, 1, 2, 3)
	leader := waitLeader(t, ds, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 5 {
		if _, err := ds[leader].Propose(ctx, core.Command{Op: core.OpPut, Key: fmt.Sprint("k", i), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	handed := map[string]bool{}
	described := 0
	for _, e := range log.entries {
		if msg, ok := strings.CutPrefix(e, "handed "); ok {
			handed[msg] = true
		} else if msg, ok := strings.CutPrefix(e, "event "); ok {
			described++
			if !handed[msg] {
				t.Fatalf("send event of message %s before the message was handed on", msg)
			}
		}
	}
	if described == 0 {
		t.Fatal("no send events")
	}
}

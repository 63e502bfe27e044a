package live

import (
	"context"
	"errors"
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
	lb := &loopback{drivers: map[uint64]*Driver{}, cut: map[uint64]bool{}}
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
		d := Start(n, lb, Config{TickInterval: 5 * time.Millisecond})
		t.Cleanup(d.Stop)
		lb.mu.Lock()
		lb.drivers[id] = d
		lb.mu.Unlock()
	}
	return lb, lb.drivers
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

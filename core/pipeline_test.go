package core

import (
	"bytes"
	"testing"

	"github.com/raftlab/raftlab/storage"
)

// batchLog is an engine that records the keys of every batch written.
type batchLog struct {
	storage.Engine
	batches [][]string
}

func (l *batchLog) Apply(b *storage.Batch, sync bool) error {
	var keys []string
	for _, op := range b.Ops {
		keys = append(keys, string(op.Key))
	}
	l.batches = append(l.batches, keys)
	return l.Engine.Apply(b, sync)
}

// TestPipelinedCommitWritesHardStateWithApply: with HandleReadyEarly, a
// Ready that only moves the commit index and applies writes the HardState
// in the applied batch (one engine write), on the leader and on a follower,
// and either restarts after a crash; HandleReady keeps the two writes apart.
func TestPipelinedCommitWritesHardStateWithApply(t *testing.T) {
	for _, pipelined := range []bool{true, false} {
		net := newTestNet(t, 1, 2, 3)
		net.pipelined = pipelined
		logs := map[uint64]*batchLog{}
		for _, id := range []uint64{1, 2} {
			store, err := storage.Open(&batchLog{Engine: net.engines[id]})
			if err != nil {
				t.Fatal(err)
			}
			logs[id] = store.Engine().(*batchLog)
			net.start(id, store)
		}
		net.elect(1)
		for _, l := range logs {
			l.batches = nil
		}
		if err := net.nodes[1].Propose(9, Command{Op: OpPut, Key: "x", Value: []byte("1")}); err != nil {
			t.Fatal(err)
		}
		net.ready(1)
		net.deliver(nil)
		if r, ok := net.results[9]; !ok || r.Err != nil {
			t.Fatalf("pipelined %v: proposal: %+v %v", pipelined, r, ok)
		}
		for id, l := range logs {
			merged, alone := false, false
			for _, keys := range l.batches {
				hasKV, hasHS := false, false
				for _, k := range keys {
					hasKV = hasKV || bytes.Equal([]byte(k), storage.KVKey("x"))
					hasHS = hasHS || k == storage.KeyHardState
				}
				merged = merged || (hasKV && hasHS)
				alone = alone || (hasHS && len(keys) == 1)
			}
			if merged != pipelined || alone == pipelined {
				t.Errorf("pipelined %v, member %d: HardState in the applied batch %v, alone %v; batches %q", pipelined, id, merged, alone, l.batches)
			}
		}
		// An unsynced batch may be lost in a crash, never half of it: the
		// restart checks that the applied index is within the commit.
		for _, id := range []uint64{1, 2} {
			net.crashRestart(id)
		}
	}
}

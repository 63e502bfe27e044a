package badger

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/storage"
)

// TestChunkFitsOneTransaction builds the largest batch a chunk may make:
// MaxChunkOps+ChunkOpsSlack writes whose values fill ChunkBytes, each with
// a key of the bytes chunkOpBytes leaves uncounted, and a last value just
// under the value threshold. Badger must take it, at the smallest memtable
// and at the default; one byte more must be refused, or ChunkBytes gives
// away room it need not.
func TestChunkFitsOneTransaction(t *testing.T) {
	for _, mem := range []int64{1 << 20, DefaultMemTableSize} {
		t.Run(fmt.Sprintf("memtable %d", mem), func(t *testing.T) {
			e := openT(t, t.TempDir(), WithMemTableSize(mem))
			if e.ChunkBytes() < 32<<10 {
				t.Fatalf("ChunkBytes %d: under 32 KiB", e.ChunkBytes())
			}
			build := func(extra int) *storage.Batch {
				const keyBytes = chunkOpBytes - 12 // Badger's own 12
				ops := storage.MaxChunkOps + storage.ChunkOpsSlack
				var b storage.Batch
				left := e.ChunkBytes() + extra
				for i := range ops - 1 {
					n := left / (ops - 1 - i)
					left -= n
					b.Put(fmt.Appendf(nil, "%0*d", keyBytes, i), bytes.Repeat([]byte{1}, n))
				}
				b.Put(fmt.Appendf(nil, "%0*d", keyBytes, ops), bytes.Repeat([]byte{2}, int(e.valueThreshold-1)))
				return &b
			}
			if err := e.Apply(build(1), false); err == nil || !strings.Contains(err.Error(), "exceeds the transaction limit") {
				t.Fatalf("a chunk one byte over ChunkBytes %d: %v, want the limit named", e.ChunkBytes(), err)
			}
			if err := e.Apply(build(0), false); err != nil {
				t.Fatalf("a chunk of ChunkBytes %d and a last value of %d: %v", e.ChunkBytes(), e.valueThreshold-1, err)
			}
		})
	}
}

// batchCounter counts the batches an engine applies. Embedding the engine
// keeps its ChunkBytes, as the store sees it.
type batchCounter struct {
	*Engine
	batches int
}

func (c *batchCounter) Apply(b *storage.Batch, sync bool) error {
	c.batches++
	return c.Engine.Apply(b, sync)
}

// TestReadyOfLargeValuesIsOneBatch saves what the live driver takes at most
// before a Ready (256 KiB of entries, and the one that passed it) with 16 KiB
// values: one transaction with Badger's default memtable, where the
// default chunk of 64 KiB made six.
func TestReadyOfLargeValuesIsOneBatch(t *testing.T) {
	c := &batchCounter{Engine: openT(t, t.TempDir())}
	s, err := storage.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	var ents []*pb.Entry
	for i := range uint64(17) {
		ents = append(ents, &pb.Entry{Index: new(i + 1), Term: new(uint64(1)), Data: bytes.Repeat([]byte{3}, 16<<10)})
	}
	c.batches = 0
	if err := s.Save(&pb.HardState{Term: new(uint64(1)), Commit: new(uint64(0))}, ents, nil, true); err != nil {
		t.Fatal(err)
	}
	if c.batches != 1 {
		t.Fatalf("a Ready of 17 entries of 16 KiB took %d batches, want 1 (ChunkBytes %d)", c.batches, s.ChunkBytes())
	}
	if last, _ := s.LastIndex(); last != 17 {
		t.Fatalf("last index %d after the save, want 17", last)
	}
}

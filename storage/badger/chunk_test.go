package badger

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

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

// TestSnapshotBesideOneLargeEntry saves a Ready holding a received snapshot
// and one entry, each just under the size Badger keeps inline: together
// they pass its transaction limit, so the snapshot must go in a batch of its
// own. One entry alone goes in one batch whatever its size; beside a
// snapshot it did not fit.
func TestSnapshotBesideOneLargeEntry(t *testing.T) {
	e := openT(t, t.TempDir())
	c := &batchCounter{Engine: e}
	s, err := storage.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	inline := int(e.valueThreshold - 1)
	// As the store keeps it: EnsureSnapshot spells out the defaults.
	snap := pb.EnsureSnapshot(&pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(10)), Term: new(uint64(1)), ConfState: &pb.ConfState{Voters: []uint64{1}}}})
	snap.Data = make([]byte, inline-proto.Size(snap)-4) // 4: the field's tag and length
	ent := &pb.Entry{Index: new(uint64(11)), Term: new(uint64(1))}
	ent.Data = make([]byte, inline-proto.Size(ent)-4)
	if proto.Size(snap) != inline || proto.Size(ent) != inline {
		t.Fatalf("a snapshot of %d bytes and an entry of %d, want %d each", proto.Size(snap), proto.Size(ent), inline)
	}
	c.batches = 0
	if err := s.Save(&pb.HardState{Term: new(uint64(1)), Commit: new(uint64(10))}, []*pb.Entry{ent}, snap, true); err != nil {
		t.Fatalf("Save of a %d-byte snapshot and a %d-byte entry: %v", proto.Size(snap), proto.Size(ent), err)
	}
	if c.batches != 2 {
		t.Fatalf("the save took %d batches, want 2: the snapshot, then the entry", c.batches)
	}
	if last, _ := s.LastIndex(); last != 11 {
		t.Fatalf("last index %d after the save, want 11", last)
	}
	got, err := s.Snapshot()
	if err != nil || !bytes.Equal(got.GetData(), snap.Data) {
		t.Fatalf("Snapshot() after the save: %d bytes, %v", len(got.GetData()), err)
	}
}

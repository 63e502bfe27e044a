package core

import (
	"fmt"
	"testing"

	"github.com/raftlab/raftlab/storage"
	"github.com/raftlab/raftlab/storage/memory"
)

// TestRestoreChunksByKeys restores a state machine of many tiny keys (well
// under DefaultChunkBytes in all) and checks that no batch holds more than
// storage.MaxChunkOps writes: a Badger transaction is bounded in keys as
// well as bytes (6553 keys with Raftlab's 4 MiB memtable, 1638 with the
// smallest), and these 6500 writes took one batch before.
func TestRestoreChunksByKeys(t *testing.T) {
	e := memory.New()
	// Something the snapshot does not hold, to be deleted.
	var old storage.Batch
	for i := range 1500 {
		old.Put(storage.KVKey(fmt.Sprintf("old-%d", i)), []byte("x"))
	}
	if err := e.Apply(&old, false); err != nil {
		t.Fatal(err)
	}
	var body []byte
	const keys = 5000
	for i := range keys {
		body = appendPair(body, storage.KVKey(fmt.Sprintf("k%d", i)), []byte{byte(i)})
	}
	data := finishSnapshotData(keys, body)
	if len(data) >= storage.DefaultChunkBytes {
		t.Fatalf("snapshot of %d bytes: the test wants one under DefaultChunkBytes", len(data))
	}
	batches, biggest := 0, 0
	err := kvRestorer(e, nil)(data, func(b *storage.Batch) error {
		batches++
		biggest = max(biggest, b.Len())
		return e.Apply(b, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	if biggest > storage.MaxChunkOps {
		t.Fatalf("a restore batch of %d writes, want at most %d", biggest, storage.MaxChunkOps)
	}
	n := 0
	if err := scanSM(e, func(k, v []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != keys {
		t.Fatalf("%d keys after the restore, want %d", n, keys)
	}
	t.Logf("%d deletes and %d puts in %d batches of at most %d writes", 1500, keys, batches, biggest)
}

package badger

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/raftlab/raftlab/storage"
)

// TestBuilderPoolDrained checks that the engine finds Badger's builder pool
// (a Badger that moved it fails here, not silently in a member's memory) and
// lets go of the allocators its flushes return to it.
func TestBuilderPoolDrained(t *testing.T) {
	e := openT(t, t.TempDir(), WithMemTableSize(1<<20))
	if e.drainer == nil {
		t.Fatal("no drainer: builderPool did not find Badger's pool")
	}
	value := bytes.Repeat([]byte{7}, 8<<10)
	var b storage.Batch
	for i := range 600 { // about 5 MB: several memtable flushes
		b.Reset()
		b.Put(fmt.Appendf(nil, "k%04d", i), value)
		if err := e.Apply(&b, false); err != nil {
			t.Fatal(err)
		}
	}
	// Flushes run in Badger's goroutine; wait for one to return its
	// builder and for the drainer to take it.
	deadline := time.Now().Add(20 * time.Second)
	for e.drainer.released.Load() == 0 || len(e.drainer.ch) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the flushes: %d allocators let go, %d still pooled", e.drainer.released.Load(), len(e.drainer.ch))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

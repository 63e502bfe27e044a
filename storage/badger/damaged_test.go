package badger

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftlab/raftlab/storage"
)

// writeTable writes n keys with values, closes the engine (its memtable
// becomes a table), and returns the table file.
func writeTable(t *testing.T, dir string, n int) string {
	t.Helper()
	e, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b storage.Batch
	for i := range n {
		b.Put([]byte(fmt.Sprintf("key-%05d", i)), bytes.Repeat([]byte{byte('a' + i%26)}, 100))
	}
	if err := e.Apply(&b, true); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) != 1 {
		t.Fatalf("tables after close: %v", tables)
	}
	return tables[0]
}

// A table cut short is refused with an error naming it; Badger alone
// panics in a goroutine of its own, killing the process.
func TestTruncatedTableRefused(t *testing.T) {
	for _, keep := range []float64{0.1, 0.5, 0.9, 0.999} {
		t.Run(fmt.Sprint(keep), func(t *testing.T) {
			dir := t.TempDir()
			table := writeTable(t, dir, 300)
			fi, _ := os.Stat(table)
			if err := os.Truncate(table, int64(float64(fi.Size())*keep)); err != nil {
				t.Fatal(err)
			}
			e, err := Open(dir)
			if err == nil {
				e.Close()
				t.Fatal("a truncated table opened")
			}
			if !strings.Contains(err.Error(), filepath.Base(table)) {
				t.Fatalf("error does not name the table: %v", err)
			}
			t.Log(err)
		})
	}
}

// A table file the MANIFEST does not reference, empty or cut short, is what
// a process killed during a flush or a compaction leaves: not damage. The
// store opens with its data, and Badger deletes the file.
func TestOrphanTableAfterACrashOpens(t *testing.T) {
	for _, size := range []int{0, 3, 4096} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			dir := t.TempDir()
			table := writeTable(t, dir, 300)
			var fid int
			if _, err := fmt.Sscanf(filepath.Base(table), "%d.sst", &fid); err != nil {
				t.Fatal(err)
			}
			orphan := filepath.Join(dir, fmt.Sprintf("%06d.sst", fid+1))
			if err := os.WriteFile(orphan, make([]byte, size), 0o644); err != nil {
				t.Fatal(err)
			}
			e, err := Open(dir)
			if err != nil {
				t.Fatalf("an orphan table of %d bytes: %v", size, err)
			}
			defer e.Close()
			if v, err := e.Get([]byte("key-00299")); err != nil || len(v) != 100 {
				t.Fatalf("key-00299: %d bytes, %v", len(v), err)
			}
			if _, err := os.Stat(orphan); !os.IsNotExist(err) {
				t.Errorf("the orphan table is still there (%v)", err)
			}
		})
	}
}

// A flipped bit in a table's data blocks is an error, when the database
// opens or when the block is read: never a wrong value.
func TestBitFlipInTableDetected(t *testing.T) {
	dir := t.TempDir()
	table := writeTable(t, dir, 300)
	data, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	// The blocks come first; flip a bit in the first third of the file.
	data[len(data)/3] ^= 0x04
	if err := os.WriteFile(table, data, 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := Open(dir)
	if err != nil {
		t.Logf("refused at open: %v", err)
		return
	}
	defer e.Close()
	for i := range 300 {
		v, err := e.Get([]byte(fmt.Sprintf("key-%05d", i)))
		if err != nil {
			t.Logf("refused at read: %v", err)
			return
		}
		if !bytes.Equal(v, bytes.Repeat([]byte{byte('a' + i%26)}, 100)) {
			t.Fatalf("key %d read back as %q", i, v)
		}
	}
	t.Fatal("a flipped bit went unnoticed")
}

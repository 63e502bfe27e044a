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

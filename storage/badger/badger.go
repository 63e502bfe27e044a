// Package badger is the storage.Engine of a native member: Badger v4 on disk.
//
// One Apply is one Badger transaction, so a Ready's snapshot, entries and
// HardState become visible together or not at all, after a crash as well
// (Badger replays a transaction from its write-ahead log only when the
// transaction's end marker is there). A synced Apply returns only once that
// transaction and every earlier one are on disk; see sync.go for what that
// takes with Badger v4.9.6.
package badger

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	bdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/raftlab/raftlab/storage"
)

// Engine is a storage.Engine over a Badger database in one directory. Get
// and Scan are safe to call concurrently with each other and with Apply;
// Apply calls are serialized.
type Engine struct {
	dir string
	cfg config

	// mu guards db: Get, Scan and Apply hold it shared, Close exclusively,
	// so Close waits for the calls in flight and nothing uses a closed db.
	mu sync.RWMutex
	db *bdb.DB // nil once closed

	// wmu serializes Apply and guards the sync bookkeeping below.
	wmu sync.Mutex
	dur durability

	// valueThreshold is Badger's: a value this long or longer goes to the
	// value log (Entry.skipVlogAndSetThreshold), which a sync must then
	// cover too.
	valueThreshold int64

	// chunkBytes is what ChunkBytes returns.
	chunkBytes int

	// drainer tends Badger's table-builder pool: our allocators outside
	// the Go heap in it, none of Badger's kept (builderpool.go,
	// offheap.go); nil if this Badger keeps the pool elsewhere.
	drainer *poolDrainer
}

var (
	_ storage.Engine     = (*Engine)(nil)
	_ storage.ChunkSizer = (*Engine)(nil)
)

// Option configures Open.
type Option func(*config)

type config struct {
	syncWrites   bool
	logger       *slog.Logger
	memTableSize int64
}

// DefaultMemTableSize is the memtable size unless WithMemTableSize says
// otherwise. Badger allocates the whole memtable up front in the Go heap (its
// default, 64 MiB, made a member's memory three times etcd's), two of them
// while one is flushed, and the flush builds the whole memtable into one
// table in memory. 4 MiB rather than 8 took a member's peak RSS under one
// client's writes from 83-84 to 68-69 MiB (docs/performance-log.md item 23).
// A transaction holds at most 15% of it (614 KiB here), counting values of
// 307 KiB and more (half of that, see Open) as a 12-byte pointer, and 6553
// keys. Raftlab's batches stay inside that: whatever the store writes in
// bulk (a long append, a long apply, a restore, a compaction) goes in chunks
// (ChunkBytes, storage.MaxChunkOps), and a larger batch fails with an error
// that names the limit.
const DefaultMemTableSize = 4 << 20

// WithSyncWrites turns on Badger's own SyncWrites: every Apply is synced,
// including those the store does not ask to sync (Append, Compact,
// SaveApplied, a Ready without MustSync). Off by default, because raft needs a
// sync only when Ready.MustSync says so or a snapshot is present, and an fsync
// costs more than the rest of a small batch. Turning it on also makes Badger
// sync its value log before it writes the write-ahead log, which matters for
// values of 1 MiB and more (see sync.go).
func WithSyncWrites(on bool) Option { return func(c *config) { c.syncWrites = on } }

// WithLogger sends Badger's warnings and errors to l; Badger's info and
// debug messages are always dropped. nil discards everything. The default is
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMemTableSize sets Badger's memtable size in bytes (at least 1 MiB). The
// largest batch Apply accepts is 15% of it.
func WithMemTableSize(bytes int64) Option { return func(c *config) { c.memTableSize = bytes } }

var errClosed = errors.New("badger: engine is closed")

// blockCacheSize is the size of Badger's block cache.
const blockCacheSize = 8 << 20

// maxValueThreshold is Badger's largest ValueThreshold (1 MiB): smaller values
// are kept in the LSM tree and its write-ahead log, larger ones in the value
// log.
const maxValueThreshold = 1 << 20

// Open opens (or creates) the Badger database in dir. It fails with a clear
// error when another process, or another Engine of this one, has dir open.
func Open(dir string, opts ...Option) (*Engine, error) {
	cfg := config{logger: slog.Default(), memTableSize: DefaultMemTableSize}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.memTableSize < 1<<20 {
		return nil, fmt.Errorf("badger: memtable size %d below 1 MiB", cfg.memTableSize)
	}
	// Badger refuses a value threshold above the largest transaction.
	threshold := min(maxValueThreshold, cfg.memTableSize*15/100/2)
	bo := bdb.DefaultOptions(dir).
		WithSyncWrites(cfg.syncWrites).
		WithMemTableSize(cfg.memTableSize).
		WithValueThreshold(threshold).
		// One writer (Apply is serialized): conflict detection only costs.
		WithDetectConflicts(false).
		// Badger checks a table's index checksum when it opens it, but
		// by default not its data blocks: a flipped bit in a block
		// (Snappy-compressed, no checksum of its own) would be read back
		// as a wrong value, raft entry or HardState. Verify each block
		// when it is read (a damaged block then reads as missing, which
		// the store reports as damage for raft's keys), and every table
		// once opened (verifyTables). Not OnTableRead: Badger v4.9.6
		// dereferences a nil block when that check fails, in a goroutine
		// of its own.
		WithChecksumVerificationMode(options.OnBlockRead).
		// Badger's default block cache is 256 MiB, and the blocks a
		// member reads back (a snapshot's scan of the state machine, old
		// entries for a lagging follower) stay in it, decompressed, in the
		// Go heap: 8 MiB took about 10 MiB off a member's RSS after a
		// load (docs/performance-log.md item 23). Raft's recent entries are read
		// from memory anyway (storage/tail.go).
		WithBlockCacheSize(blockCacheSize).
		WithLogger(nil)
	if cfg.logger != nil {
		bo = bo.WithLogger(logAdapter{cfg.logger})
	}
	// Badger opens its tables in goroutines of its own, and panics there
	// on a table whose footer points outside the file (a truncated
	// table): no recover can catch that, so check the footers first.
	if err := checkTableFooters(dir, bo); err != nil {
		return nil, err
	}
	db, err := bdb.Open(bo)
	if err != nil {
		// Badger flocks the directory; its error is not a sentinel (it is
		// formatted with %+v), so recognise its text.
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("badger: data dir %s is in use by another process", dir)
		}
		return nil, fmt.Errorf("badger: open %s: %w", dir, err)
	}
	if err := verifyTables(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("badger: open %s: damaged table: %w", dir, err)
	}
	e := &Engine{dir: dir, cfg: cfg, db: db, valueThreshold: threshold}
	ops := int64(storage.MaxChunkOps + storage.ChunkOpsSlack)
	// Badger refuses a transaction whose size reaches MaxBatchSize, and a
	// transaction starts with txnBytes of it taken.
	e.chunkBytes = int(db.MaxBatchSize() - txnBytes - threshold - ops*chunkOpBytes)
	if e.drainer, err = startPoolDrainer(db, offHeapRegionBytes); err != nil && cfg.logger != nil {
		cfg.logger.Warn(err.Error())
	}
	// What an earlier process wrote may not be synced: the first sync
	// covers every WAL and value log file.
	e.dur.unsynced = !cfg.syncWrites
	e.dur.vlogDirty = !cfg.syncWrites
	return e, nil
}

// chunkOpBytes is what each write of a chunk may take in a transaction
// beyond the key and value bytes that whoever cuts the chunk counts: Badger
// adds 12 bytes to each, and the raft keys that go with a chunk (the
// indexes, the HardState) and the /kv/ prefix of the state machine's keys
// are not counted.
const chunkOpBytes = 32

// txnBytes is what a Badger transaction counts before its first write: the
// entry that ends it in the write-ahead log (len("!badger!txn") + 10,
// db.NewTransaction).
const txnBytes = 21

// ChunkBytes implements storage.ChunkSizer. Badger refuses a transaction once
// its writes reach MaxBatchSize (15% of the memtable), counting each write's
// key and value, a value at or above the value threshold as a 12-byte
// pointer. So a chunk holds that, less the largest value kept inline (its
// last value may be one) and chunkOpBytes for each write: 273 KiB with the
// 4 MiB memtable, where storage.DefaultChunkBytes is 64 KiB, so that a
// Ready of 256 KiB of entries goes in one transaction, not six; 43 KiB
// with the smallest memtable (1 MiB).
func (e *Engine) ChunkBytes() int { return e.chunkBytes }

// Dir returns the directory of the database.
func (e *Engine) Dir() string { return e.dir }

// Get implements storage.Engine.
func (e *Engine) Get(key []byte) ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.db == nil {
		return nil, errClosed
	}
	var v []byte
	err := e.db.View(func(txn *bdb.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, bdb.ErrKeyNotFound) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("badger: get %s: %w", storage.DisplayKey(key), err)
	}
	return v, nil
}

// Scan implements storage.Engine. It reads from one consistent view of the
// database: writes applied during the scan are not seen. An error returned by
// fn is returned as it is.
func (e *Engine) Scan(start, end []byte, fn func(key, value []byte) error) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.db == nil {
		return errClosed
	}
	return e.db.View(func(txn *bdb.Txn) error {
		// No prefetching: the store reads raft entries of a few hundred
		// bytes that live in the LSM tree's blocks, so a value costs no
		// extra read, and prefetching would copy every value of the range
		// even when fn stops early (Entries' maxSize). The common prefix
		// of start and end lets Badger skip tables outside the range.
		it := txn.NewIterator(bdb.IteratorOptions{Prefix: commonPrefix(start, end)})
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if end != nil && bytes.Compare(k, end) >= 0 {
				return nil
			}
			if err := item.Value(func(v []byte) error { return fn(k, v) }); err != nil {
				return err
			}
		}
		return nil
	})
}

// commonPrefix returns the prefix that every key of [start, end) shares; none
// when end is nil.
func commonPrefix(start, end []byte) []byte {
	if end == nil {
		return nil
	}
	n := 0
	for n < len(start) && n < len(end) && start[n] == end[n] {
		n++
	}
	return start[:n:n]
}

// Apply implements storage.Engine: the batch is one Badger transaction. A
// batch larger than a transaction can hold fails, naming the limit, and
// writes nothing.
func (e *Engine) Apply(b *storage.Batch, sync bool) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.db == nil {
		return errClosed
	}
	e.wmu.Lock()
	defer e.wmu.Unlock()

	// Bookkeeping for syncLocked: a bound of what the batch takes in the
	// memtable (see mustList), and whether it reaches the value log.
	e.dur.sinceListing += txnOverhead
	txn := e.db.NewTransaction(true)
	defer txn.Discard()
	for _, op := range b.Ops {
		e.dur.sinceListing += int64(len(op.Key)+len(op.Value)) + opOverhead
		var err error
		if op.Delete {
			err = txn.Delete(op.Key)
		} else {
			err = txn.Set(op.Key, op.Value)
			if int64(len(op.Value)) >= e.valueThreshold {
				e.dur.vlogDirty = true
			}
		}
		if err != nil {
			return e.writeError(b, op.Key, err)
		}
	}
	if err := txn.Commit(); err != nil {
		return e.writeError(b, nil, err)
	}
	if !sync {
		if !e.cfg.syncWrites {
			e.dur.unsynced = true
		}
		return nil
	}
	return e.syncLocked()
}

func (e *Engine) writeError(b *storage.Batch, key []byte, err error) error {
	if errors.Is(err, bdb.ErrTxnTooBig) {
		var size int
		for _, op := range b.Ops {
			size += len(op.Key) + len(op.Value)
		}
		return fmt.Errorf("badger: batch of %d writes (%d bytes) exceeds the transaction limit of %d bytes or %d keys "+
			"(15%% of the %d-byte memtable, see WithMemTableSize; values of %d bytes or more count as 12 bytes): %w",
			b.Len(), size, e.db.MaxBatchSize(), e.db.MaxBatchCount(), e.cfg.memTableSize, e.valueThreshold, err)
	}
	if key != nil {
		return fmt.Errorf("badger: write %s: %w", storage.DisplayKey(key), err)
	}
	return fmt.Errorf("badger: commit: %w", err)
}

// Close makes every write durable and closes the database. Closing twice is
// not an error.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.db == nil {
		return nil
	}
	e.wmu.Lock()
	defer e.wmu.Unlock()
	e.drainer.close()
	err := e.syncLocked()
	e.closeWAL()
	if cerr := e.db.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("badger: close %s: %w", e.dir, cerr)
	}
	e.drainer.unmap()
	e.db = nil
	return err
}

// logAdapter passes Badger's warnings and errors to slog and drops the rest:
// Badger logs every memtable flush and compaction at info level.
type logAdapter struct{ l *slog.Logger }

func (a logAdapter) Errorf(f string, v ...any) {
	a.l.Error("badger: " + strings.TrimSpace(fmt.Sprintf(f, v...)))
}

func (a logAdapter) Warningf(f string, v ...any) {
	a.l.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, v...)))
}

func (logAdapter) Infof(string, ...any)  {}
func (logAdapter) Debugf(string, ...any) {}

package badger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/raftlab/raftlab/storage"
	"github.com/raftlab/raftlab/storage/storagetest"
)

// factory opens the engine in one temporary directory.
type factory struct {
	dir  string
	opts []Option
}

func (f factory) Open() (storage.Engine, error) { return Open(f.dir, f.opts...) }

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Factory { return factory{dir: t.TempDir()} })
}

func openT(t *testing.T, dir string, opts ...Option) *Engine {
	t.Helper()
	e, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir)
	_, err := Open(dir)
	want := fmt.Sprintf("badger: data dir %s is in use by another process", dir)
	if err == nil || err.Error() != want {
		t.Fatalf("second Open: %v, want %q", err, want)
	}
	// The first engine is unharmed, and the directory opens once it is
	// closed.
	var b storage.Batch
	b.Put([]byte("k"), []byte("v"))
	if err := e.Apply(&b, true); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := openT(t, dir)
	if v, err := e2.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("Get after reopening = %q, %v", v, err)
	}
}

// TestStoreSurvivesReopen writes a log through a Store, closes the engine
// and opens the directory again in a new Engine.
func TestStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir)
	s, err := storage.Open(e)
	if err != nil {
		t.Fatal(err)
	}
	var es []*pb.Entry
	for i := uint64(1); i <= 100; i++ {
		es = append(es, &pb.Entry{Index: new(i), Term: new(uint64(2)), Data: bytes.Repeat([]byte{byte(i)}, 100)})
	}
	hs := &pb.HardState{Term: new(uint64(2)), Vote: new(uint64(1)), Commit: new(uint64(60))}
	if err := s.Save(hs, es, nil, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSnapshot(50, &pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("state at 50")); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(40); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = storage.Open(openT(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	got, err := s.Entries(first, last+1, math.MaxUint64)
	if err != nil || first != 41 || last != 100 || len(got) != 60 || !bytes.Equal(got[59].GetData(), es[99].GetData()) {
		t.Fatalf("after reopening: first %d last %d, %d entries, %v", first, last, len(got), err)
	}
	gotHS, cs, _ := s.InitialState()
	if gotHS.GetCommit() != 60 || gotHS.GetVote() != 1 || len(cs.GetVoters()) != 3 {
		t.Fatalf("after reopening: %v %v", gotHS, cs)
	}
	if term, err := s.Term(40); err != nil || term != 2 {
		t.Fatalf("Term(40) = %d, %v", term, err)
	}
}

// TestBatchLimit checks that a batch larger than one Badger transaction
// fails naming the limit and writes nothing, and that a snapshot of a few
// MB, with a state machine of a few thousand keys restored in chunks, fits
// with the defaults.
func TestBatchLimit(t *testing.T) {
	e := openT(t, t.TempDir(), WithMemTableSize(1<<20))
	var b storage.Batch
	for i := range 300 {
		b.Put(fmt.Appendf(nil, "k%04d", i), bytes.Repeat([]byte{1}, 1000))
	}
	err := e.Apply(&b, true)
	if err == nil || !strings.Contains(err.Error(), "exceeds the transaction limit of 157286 bytes") {
		t.Fatalf("Apply of 300 KB with a 1 MiB memtable: %v, want the transaction limit named", err)
	}
	t.Logf("refused: %v", err)
	if _, err := e.Get([]byte("k0000")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a refused batch wrote k0000: %v", err)
	}

	s, err := storage.Open(openT(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	s.SetRestorer(func(data []byte, apply func(*storage.Batch) error) error {
		// In chunks, as a restorer must (core's kvRestorer).
		var b storage.Batch
		for i := range 5000 {
			b.Put(storage.KVKey(fmt.Sprintf("key-%05d", i)), bytes.Repeat([]byte{2}, 200))
			if b.Len() == storage.MaxChunkOps {
				if err := apply(&b); err != nil {
					return err
				}
				b = storage.Batch{}
			}
		}
		return apply(&b)
	})
	data := bytes.Repeat([]byte("snapshot"), 4<<20/8) // 4 MiB
	snap := &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(uint64(1000)), Term: new(uint64(5)), ConfState: &pb.ConfState{Voters: []uint64{1}}}}
	if err := s.Save(&pb.HardState{Term: new(uint64(5)), Commit: new(uint64(1000))}, nil, snap, true); err != nil {
		t.Fatalf("Save of a 4 MiB snapshot with 5000 keys (1 MB): %v", err)
	}
	got, err := s.Snapshot()
	if err != nil || !bytes.Equal(got.GetData(), data) {
		t.Fatalf("Snapshot() after saving 4 MiB: %d bytes, %v", len(got.GetData()), err)
	}
}

// TestSyncCoversRotatedFiles writes enough unsynced batches to rotate a
// small memtable several times, then one synced batch, whose sync also
// fsyncs the write-ahead logs that rotated out and were not flushed yet (see
// sync.go); everything must be there after a reopen.
func TestSyncCoversRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, WithMemTableSize(1<<20))
	var b storage.Batch
	b.Put([]byte("first"), []byte("1"))
	if err := e.Apply(&b, true); err != nil {
		t.Fatal(err)
	}
	startFid, startSynced := e.dur.memFid, e.dur.olderSynced
	value := bytes.Repeat([]byte{7}, 8<<10)
	const n = 600 // about 5 MB: five memtables
	for i := range n {
		b.Reset()
		b.Put(fmt.Appendf(nil, "k%04d", i), value)
		if err := e.Apply(&b, false); err != nil {
			t.Fatal(err)
		}
	}
	b.Reset()
	b.Put([]byte("synced"), []byte("1"))
	if err := e.Apply(&b, true); err != nil {
		t.Fatal(err)
	}
	if e.dur.memFid <= startFid+1 {
		t.Fatalf("the memtable did not rotate (WAL id %d, was %d)", e.dur.memFid, startFid)
	}
	// Flushes race with the sync: a WAL already flushed and deleted needs
	// no fsync, so how many were left to fsync varies from run to run (0
	// to 4 here); TestSyncOfAnOlderFile checks the choice of files.
	t.Logf("rotated from WAL %d to %d; fsynced %d older files", startFid, e.dur.memFid, e.dur.olderSynced-startSynced)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openT(t, dir)
	for i := range n {
		if v, err := e.Get(fmt.Appendf(nil, "k%04d", i)); err != nil || len(v) != len(value) {
			t.Fatalf("k%04d after reopening: %d bytes, %v", i, len(v), err)
		}
	}
}

// TestSyncOfAnOlderFile checks the bookkeeping of syncLocked without racing
// Badger's flushes: after an unsynced batch, files that rotated out since
// the last sync are fsynced, older ones are not, and the directory is
// fsynced after a rotation.
func TestSyncOfAnOlderFile(t *testing.T) {
	e := openT(t, t.TempDir())
	var b storage.Batch
	b.Put([]byte("k"), []byte("v"))
	if err := e.Apply(&b, true); err != nil {
		t.Fatal(err)
	}
	if e.dur.olderSynced != 0 {
		t.Fatalf("a fresh database fsynced %d older files", e.dur.olderSynced)
	}
	// Pretend the active WAL rotated out after the last sync: a file
	// under a higher id stands for the new active one.
	fid := e.dur.memFid
	syncAs := func(unsynced bool) {
		t.Helper()
		e.dur.unsynced = unsynced
		// A rotation comes after a memtable's worth of writes.
		e.dur.sinceListing = e.cfg.memTableSize
		syncNow(t, e)
	}
	touch(t, e.dir, walName(fid+100))
	syncAs(false)
	if e.dur.olderSynced != 0 || e.dur.memFid != fid+100 {
		t.Fatalf("without unsynced batches: %d older files fsynced, active WAL %d", e.dur.olderSynced, e.dur.memFid)
	}
	touch(t, e.dir, walName(fid+200))
	syncAs(true)
	// File fid+100 only: fid was covered by the sync before.
	if e.dur.olderSynced != 1 || e.dur.memFid != fid+200 {
		t.Fatalf("after an unsynced batch: %d older files fsynced (want 1), active WAL %d", e.dur.olderSynced, e.dur.memFid)
	}
}

func touch(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestApplyConcurrentWithReads(t *testing.T) {
	e := openT(t, t.TempDir())
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				prev := -1
				if err := e.Scan([]byte("k"), []byte("l"), func(k, v []byte) error {
					var i int
					fmt.Sscanf(string(k), "k%06d", &i)
					if i <= prev {
						return fmt.Errorf("scan out of order: %s after k%06d", k, prev)
					}
					prev = i
					return nil
				}); err != nil {
					errs <- err
					return
				}
				if _, err := e.Get([]byte("k000001")); err != nil && !errors.Is(err, storage.ErrNotFound) {
					errs <- err
					return
				}
			}
		})
	}
	var b storage.Batch
	for i := range 300 {
		b.Reset()
		b.Put(fmt.Appendf(nil, "k%06d", i), []byte("v"))
		if err := e.Apply(&b, i%50 == 0); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestClose(t *testing.T) {
	e := openT(t, t.TempDir())
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var b storage.Batch
	b.Put([]byte("k"), []byte("v"))
	if err := e.Apply(&b, false); err == nil {
		t.Fatal("Apply on a closed engine succeeded")
	}
	if err := e.Scan(nil, nil, func(k, v []byte) error { return nil }); err == nil {
		t.Fatal("Scan on a closed engine succeeded")
	}
}

func TestOpenRejectsTinyMemtable(t *testing.T) {
	if _, err := Open(t.TempDir(), WithMemTableSize(1000)); err == nil {
		t.Fatal("Open with a 1000-byte memtable succeeded")
	}
}

// TestLogger checks the adapter: Badger's warnings and errors reach slog,
// its info and debug messages do not.
func TestLogger(t *testing.T) {
	var rec recorder
	a := logAdapter{slog.New(&rec)}
	a.Infof("flushing memtable %d\n", 1)
	a.Debugf("writing %d entries", 2)
	a.Warningf("disk %s is slow\n", "x")
	a.Errorf("cannot write: %v", errors.New("boom"))
	want := []string{"WARN badger: disk x is slow", "ERROR badger: cannot write: boom"}
	if fmt.Sprint(rec.lines) != fmt.Sprint(want) {
		t.Fatalf("logged %q, want %q", rec.lines, want)
	}

	// Opening and closing a database logs nothing at warning level.
	rec.lines = nil
	e, err := Open(t.TempDir(), WithLogger(slog.New(&rec)))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if len(rec.lines) != 0 {
		t.Fatalf("Open and Close logged %q", rec.lines)
	}
}

type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, rec.Level.String()+" "+rec.Message)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// TestSyncCallsDBSyncOnlyForTheValueLog checks that a synced batch of small
// values fdatasyncs the WAL alone, that one holding a value of the value
// threshold or more (which Badger puts in the value log) goes through
// DB.Sync, and that both are there after a reopen.
func TestSyncCallsDBSyncOnlyForTheValueLog(t *testing.T) {
	if !syncWALAlone {
		t.Skip("DB.Sync for every sync off Linux")
	}
	dir := t.TempDir()
	e := openT(t, dir)
	var b storage.Batch
	b.Put([]byte("first"), []byte("1"))
	if err := e.Apply(&b, true); err != nil { // covers what an earlier process left
		t.Fatal(err)
	}
	start := e.dur.dbSyncs
	b.Reset()
	b.Put([]byte("small"), bytes.Repeat([]byte{1}, 4096))
	if err := e.Apply(&b, true); err != nil {
		t.Fatal(err)
	}
	if e.dur.dbSyncs != start {
		t.Fatalf("a batch of small values called DB.Sync")
	}
	big := bytes.Repeat([]byte{2}, int(e.valueThreshold))
	b.Reset()
	b.Put([]byte("big"), big)
	if err := e.Apply(&b, false); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.Put([]byte("after"), []byte("3"))
	if err := e.Apply(&b, true); err != nil {
		t.Fatal(err)
	}
	if e.dur.dbSyncs != start+1 {
		t.Fatalf("a value in the value log since the last sync: %d calls of DB.Sync, want 1", e.dur.dbSyncs-start)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openT(t, dir)
	if v, err := e.Get([]byte("big")); err != nil || !bytes.Equal(v, big) {
		t.Fatalf("big value after reopening: %d bytes, %v", len(v), err)
	}
	if v, err := e.Get([]byte("small")); err != nil || len(v) != 4096 {
		t.Fatalf("small value after reopening: %d bytes, %v", len(v), err)
	}
}

// TestSyncListsTheDirectoryOnlyWhenAMemtableMayBeFull applies synced
// batches through several memtable rotations and checks, after every sync,
// that the WAL syncLocked took for the active one is the newest in the
// directory, while it listed the directory for few of the syncs.
func TestSyncListsTheDirectoryOnlyWhenAMemtableMayBeFull(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, WithMemTableSize(1<<20))
	value := bytes.Repeat([]byte{5}, 300)
	const n = 12000 // about 4 MB with Badger's overhead: several memtables
	var b storage.Batch
	startFid := uint64(0)
	for i := range n {
		b.Reset()
		b.Put(fmt.Appendf(nil, "k%05d", i), value)
		if err := e.Apply(&b, true); err != nil {
			t.Fatal(err)
		}
		if startFid == 0 {
			startFid = e.dur.memFid
		}
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var newest uint64
		for _, f := range files {
			if fid, ok := fileID(f.Name(), ".mem"); ok {
				newest = max(newest, fid)
			}
		}
		if e.dur.memFid != newest {
			t.Fatalf("sync %d: took WAL %d for the active one, the newest is %d", i, e.dur.memFid, newest)
		}
	}
	if e.dur.memFid < startFid+2 {
		t.Fatalf("the memtable rotated %d times, want at least 2", e.dur.memFid-startFid)
	}
	if e.dur.listings > n/50 {
		t.Errorf("%d directory listings for %d syncs", e.dur.listings, n)
	}
	t.Logf("%d syncs, %d listings, %d rotations", n, e.dur.listings, e.dur.memFid-startFid)
}

// TestSyncFailsWhenTheDirectoryIsGone: a synced batch after the data dir
// was removed (a dead disk, a careless rm) fails, though the open WAL
// file could still be synced: nothing of it would survive a restart.
func TestSyncFailsWhenTheDirectoryIsGone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	// Not openT: Badger's Close retries its memtable flush forever
	// without the directory (cmd/node bounds it); the test leaves it
	// retrying in the background, quietly.
	e, err := Open(dir, WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { go e.Close() })
	var b storage.Batch
	b.Put([]byte("a"), []byte("1"))
	for range 2 { // the second takes the path without a listing
		if err := e.Apply(&b, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(&b, true); err == nil {
		t.Fatal("a synced batch succeeded after its directory was removed")
	}
}

package badger

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Why a synced Apply is durable with Badger v4.9.6 (read in db.go, memtable.go,
// value.go and ristretto's z/file.go of that version):
//
//   - A transaction commit returns once its entries are in the active
//     memtable and copied into that memtable's write-ahead log (NNNNN.mem),
//     and values of 1 MiB or more into the active value log (NNNNNN.vlog).
//     Both files are mmapped: the bytes are in the page cache, not on disk.
//     Badger replays a transaction from the WAL only if its end marker is
//     there, which makes the batch atomic.
//   - With SyncWrites off (our default) nothing is synced by the commit.
//     DB.Sync msyncs (MS_SYNC, an fsync of the mapping's range on Linux) the
//     WAL of the *active* memtable and the *active* value log file, and no
//     other file. That covers the batch just committed: Badger rotates the
//     memtable before writing a request, never in the middle of one.
//   - It does not cover earlier unsynced batches when the memtable or the
//     value log rotated since: the previous WAL stays unsynced until its
//     memtable is flushed to a level-0 table (which is msynced, and recorded
//     in the fsynced MANIFEST before the WAL is deleted), and a rotated value
//     log is synced only with SyncWrites on. Raft's contract is that a synced
//     write makes every earlier write durable too (an unsynced SaveApplied
//     followed by a synced Save must not lose the former and keep the latter).
//     So syncLocked also fsyncs every WAL and value log file that rotated out
//     since the previous sync, when an unsynced batch was written in between.
//     A WAL already deleted by a flush needs nothing: its flushed table is
//     durable.
//   - Badger creates a new WAL or value log file without syncing the
//     directory (z.OpenMmapFileUsing syncs it only for an empty file), so
//     syncLocked fsyncs the directory once after each rotation, or the new
//     file's entry could be lost with the batches in it.
//
// One case stays open without WithSyncWrites(true): in a transaction holding
// a value of 1 MiB or more, the WAL entry points into the value log, and the
// kernel may write the WAL page back before the value log page. A power
// failure during such a synced Apply (which then never returned) can leave a
// committed WAL entry whose value is not on disk; the store then reports that
// key as damaged when it opens, rather than serving it. With SyncWrites on,
// Badger syncs the value log before it writes the WAL.

// durability is the bookkeeping of syncLocked, guarded by Engine.wmu.
type durability struct {
	// unsynced is true when a batch was applied without a sync since the
	// last sync.
	unsynced bool
	// vlogDirty is true when a batch since the last sync held a value of
	// the value threshold or more, which Badger writes to the value log.
	vlogDirty bool
	// memFid and vlogFid are the active WAL and value log file ids as of the
	// last sync; 0 before the first, so that the first sync of a process
	// covers what a previous one left unsynced.
	memFid, vlogFid uint64
	// wal is the active WAL, opened by syncLocked to fdatasync it, and
	// walFid its id.
	wal    *os.File
	walFid uint64
	// sinceListing bounds the bytes the batches applied since the last
	// listing of the directory take in the memtable (see mustList).
	sinceListing int64
	// walPath and nextWALPath are the paths of WAL memFid and of the one
	// after it, which mustList looks up.
	walPath, nextWALPath string
	// olderSynced counts the rotated files that syncLocked fsynced,
	// dbSyncs the calls of DB.Sync, and listings the directory listings,
	// for tests.
	olderSynced, dbSyncs, listings int
}

// syncLocked makes every batch applied so far durable. The caller holds wmu
// (or mu exclusively).
//
// DB.Sync msyncs the active value log as well as the active WAL, and an
// msync or fdatasync with nothing to write still costs a flush of the disk's
// cache (40-70 µs on the development machine's ext4): it made a synced small
// batch cost 240 µs against 160 µs for the WAL alone (BenchmarkSync).
// Raftlab's values are almost all far below the value threshold and never
// reach the value log, so on Linux syncLocked fdatasyncs just the active WAL,
// and calls DB.Sync only when a value of the threshold or more was written
// since the last sync.
func (e *Engine) syncLocked() error {
	if !e.mustList() {
		// No memtable rotated since the last listing (see mustList):
		// the active WAL is the one listed then, and no file is new.
		if err := e.syncWAL(e.dur.memFid); err != nil {
			return err
		}
		e.dur.unsynced = false
		return nil
	}
	e.dur.listings++
	files, err := os.ReadDir(e.dir)
	if err != nil {
		return fmt.Errorf("badger: sync: %w", err)
	}
	var mems, vlogs []uint64
	var memMax, vlogMax uint64
	for _, f := range files {
		if fid, ok := fileID(f.Name(), ".mem"); ok {
			mems = append(mems, fid)
			memMax = max(memMax, fid)
		} else if fid, ok := fileID(f.Name(), ".vlog"); ok {
			vlogs = append(vlogs, fid)
			vlogMax = max(vlogMax, fid)
		}
	}
	if e.dur.vlogDirty || memMax == 0 || !syncWALAlone {
		e.dur.dbSyncs++
		if err := e.db.Sync(); err != nil {
			return fmt.Errorf("badger: sync: %w", err)
		}
	} else if err := e.syncWAL(memMax); err != nil {
		return err
	}
	if e.dur.unsynced {
		// Files in [id at the last sync, active id) may hold unsynced
		// batches; older ones were covered by an earlier sync.
		for _, fid := range mems {
			if fid >= e.dur.memFid && fid < memMax {
				if err := e.fsyncFile(walName(fid)); err != nil {
					return err
				}
			}
		}
		for _, fid := range vlogs {
			if fid >= e.dur.vlogFid && fid < vlogMax {
				if err := e.fsyncFile(fmt.Sprintf("%06d.vlog", fid)); err != nil {
					return err
				}
			}
		}
	}
	if memMax != e.dur.memFid || vlogMax != e.dur.vlogFid {
		if err := e.fsyncFile("."); err != nil {
			return err
		}
	}
	e.dur.sinceListing = 0
	e.dur.unsynced, e.dur.vlogDirty = false, false
	if memMax != e.dur.memFid {
		e.dur.walPath = filepath.Join(e.dir, walName(memMax))
		e.dur.nextWALPath = filepath.Join(e.dir, walName(memMax+1))
	}
	e.dur.memFid, e.dur.vlogFid = memMax, vlogMax
	return nil
}

// Listing the directory on every sync cost a leader 7% of its CPU and each
// synced Ready about 20-35 µs (a CPU profile at one client). It is needed
// only when Badger may have rotated its memtable (a new WAL to sync, older
// ones perhaps unsynced, a new directory entry) or written the value log.
//
// Badger rotates only a full memtable, one whose skiplist arena or WAL has
// reached the memtable size (memTable.isFull), and Engine.Apply is its only
// writer. Apply adds up an upper bound of what its batches take in either
// (opOverhead, txnOverhead). While that sum since the last listing stays under an eighth
// of the memtable size, at most one rotation can have happened since (a
// second needs the first new memtable full), and the WAL it created is the
// active one, which Badger never deletes: so the file numbered one above
// the active WAL of the last listing exists if and only if the memtable
// rotated. Two lookups (that one, and the active WAL, which must be there)
// answer what a listing did.
const (
	// opOverhead bounds what a write takes in the arena or the WAL beyond
	// its key and value: a skiplist node with a full tower (96 bytes) and
	// its alignment, the version, the value's meta data; a WAL entry
	// header and checksum (under 40 bytes).
	opOverhead = 256
	// txnOverhead bounds a transaction's own entries (its end marker).
	txnOverhead = 512
)

// mustList says whether syncLocked must list the directory.
func (e *Engine) mustList() bool {
	d := &e.dur
	if d.memFid == 0 || d.vlogDirty || !syncWALAlone || d.sinceListing >= e.cfg.memTableSize/8 {
		return true
	}
	// Both files are looked up by name, not stat-ed: see lookUp.
	if err := lookUp(d.nextWALPath); !errors.Is(err, fs.ErrNotExist) {
		return true
	}
	// The active WAL itself must still be there: a data dir removed or
	// unmounted under the member would otherwise go unnoticed, the open
	// file syncing happily while nothing survives a restart. The listing
	// then fails, and so does the write.
	return lookUp(d.walPath) != nil
}

// walName is the file name of Badger's WAL number fid.
func walName(fid uint64) string { return fmt.Sprintf("%05d.mem", fid) }

// syncWAL fdatasyncs the active WAL, file fid (see syncWALAlone). The file
// stays open until the memtable rotates.
func (e *Engine) syncWAL(fid uint64) error {
	if e.dur.wal == nil || e.dur.walFid != fid {
		e.closeWAL()
		f, err := os.Open(filepath.Join(e.dir, walName(fid)))
		if err != nil {
			return fmt.Errorf("badger: sync: %w", err)
		}
		e.dur.wal, e.dur.walFid = f, fid
	}
	if err := fdatasync(e.dur.wal); err != nil {
		return fmt.Errorf("badger: sync %s: %w", e.dur.wal.Name(), err)
	}
	return nil
}

func (e *Engine) closeWAL() {
	if e.dur.wal != nil {
		_ = e.dur.wal.Close()
		e.dur.wal = nil
	}
}

// fsyncFile fsyncs name in the database directory; a file that is gone was
// flushed and deleted by Badger, which needs nothing more.
func (e *Engine) fsyncFile(name string) error {
	f, err := os.Open(filepath.Join(e.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("badger: sync: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("badger: sync %s: %w", f.Name(), err)
	}
	if name != "." {
		e.dur.olderSynced++
	}
	return nil
}

// fileID parses Badger's numbered file names (00001.mem, 000002.vlog).
func fileID(name, ext string) (uint64, bool) {
	num, ok := strings.CutSuffix(name, ext)
	if !ok {
		return 0, false
	}
	fid, err := strconv.ParseUint(num, 10, 64)
	return fid, err == nil
}

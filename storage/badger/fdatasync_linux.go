package badger

import (
	"os"
	"syscall"
)

// syncWALAlone says that syncLocked may fdatasync the active WAL instead of
// calling DB.Sync. On Linux, msync(MS_SYNC) of a shared file mapping is
// vfs_fsync_range(file, start, end, datasync=1) (mm/msync.c), and the pages
// Badger writes through its mapping are dirty pages of the file's page cache:
// fdatasync of the file does the same work for the whole file.
const syncWALAlone = true

// fdatasync writes f's data and the metadata needed to read it back, not its
// modification time: what msync(MS_SYNC) does for a mapping.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// lookUp says whether path names a file (nil, or an error that is
// fs.ErrNotExist when it does not), without reading the file's attributes.
//
// A stat of the active WAL between Badger's write to it and our fdatasync
// made that fdatasync write the WAL's inode as well as its data: a second
// synchronous write, 35-50 µs more per synced batch on the development
// machine (BenchmarkSyncAfterStat; 40-80 µs on a bare mapped file), Linux
// 6.18, ext4 without a journal, where `perf` shows ext4_write_inode under
// fdatasync. The likely reason:
// since Linux 6.13 a file's timestamps, once a stat has read them, are set
// at fine grain by the next write, so every write after a stat changes the
// inode. access(2) resolves the name and reads nothing of the inode's times.
func lookUp(path string) error {
	for {
		err := syscall.Access(path, 0) // F_OK: existence only
		if err != syscall.EINTR {
			return err
		}
	}
}

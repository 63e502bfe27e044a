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

//go:build !linux

package badger

import "os"

// syncWALAlone is false off Linux: syncLocked calls DB.Sync, Badger's msync
// of the WAL and value log. (Go's File.Sync is F_FULLFSYNC on macOS, a
// stronger and far slower guarantee than Badger's own sync gives.)
const syncWALAlone = false

// fdatasync is not called when syncWALAlone is false.
func fdatasync(f *os.File) error { return f.Sync() }

// lookUp says whether path names a file. mustList, its only caller, does
// not reach it off Linux (syncWALAlone is false).
func lookUp(path string) error {
	_, err := os.Stat(path)
	return err
}

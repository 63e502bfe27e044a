package badger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	bdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"
)

// checkTableFooters checks that the footer of every table file (*.sst) in
// dir that the MANIFEST references fits in the file. Badger v4.9.6 lays a
// table out as blocks, then the index, its length (4 bytes, big-endian), the
// index's checksum, and the checksum's length (4 bytes, big-endian) at the
// very end (table.go, initIndex); it reads both lengths without checking
// them against the file size, and panics, in a goroutine of its own, on a
// table cut short. The lengths are all this checks: Badger verifies the
// index's checksum itself.
//
// A table the MANIFEST does not reference is left alone: a process killed
// while it flushed a memtable or compacted leaves one, empty or cut short,
// and Badger deletes it when it opens (levels.go, revertToManifest). A
// MANIFEST that cannot be read is Badger's to report.
func checkTableFooters(dir string, opt bdb.Options) error {
	f, err := os.Open(filepath.Join(dir, bdb.ManifestFilename))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	mf, _, err := bdb.ReplayManifestFile(f, opt.ExternalMagicVersion, opt)
	f.Close()
	if err != nil {
		return nil
	}
	for id := range mf.Tables {
		path := table.NewFilename(id, dir)
		if err := checkTableFooter(path); err != nil {
			return fmt.Errorf("badger: damaged table %s: %w", path, err)
		}
	}
	return nil
}

func checkTableFooter(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	u32At := func(off int64) (int64, error) {
		if off < 0 || off+4 > size {
			return 0, fmt.Errorf("footer at %d outside the file's %d bytes (truncated?)", off, size)
		}
		var b [4]byte
		if _, err := f.ReadAt(b[:], off); err != nil && err != io.EOF {
			return 0, err
		}
		return int64(binary.BigEndian.Uint32(b[:])), nil
	}
	checksumLen, err := u32At(size - 4)
	if err != nil {
		return err
	}
	indexLenAt := size - 4 - checksumLen - 4
	indexLen, err := u32At(indexLenAt)
	if err != nil {
		return fmt.Errorf("checksum of %d bytes: %w", checksumLen, err)
	}
	if indexLenAt-indexLen < 0 {
		return fmt.Errorf("index of %d bytes before offset %d (truncated?)", indexLen, indexLenAt)
	}
	return nil
}

// verifyTables checks the checksum of every block of every table of db,
// so that a damaged table stops the member when it opens its store rather
// than when a read reaches the damage. Badger v4.9.6 dereferences a nil
// block when reading one fails (table.go, VerifyChecksum): that panic
// happens here, in the caller's goroutine, and becomes the error.
func verifyTables(db *bdb.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("a block failed its checksum or could not be read (badger: %v)", r)
		}
	}()
	return db.VerifyChecksum()
}

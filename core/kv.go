package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/raftlab/raftlab/storage"
)

// The replicated state machine is a key-value map kept in the member's own
// engine under storage.KVPrefix, so that an applied entry's writes and the
// applied index land in one batch (Store.SaveApplied) and an entry is applied
// exactly once across crashes.

// smPrefixes are the state machine's key ranges: the members' addresses
// and the key-value map. Snapshots hold exactly these.
var smPrefixes = [][]byte{[]byte(storage.MembersPrefix), []byte(storage.KVPrefix)}

func prefixEnd(p []byte) []byte {
	e := bytes.Clone(p)
	e[len(e)-1]++
	return e
}

// scanSM calls fn for every key of the state machine, in key order.
func scanSM(e storage.Engine, fn func(k, v []byte) error) error {
	for _, p := range smPrefixes {
		if err := e.Scan(p, prefixEnd(p), fn); err != nil {
			return err
		}
	}
	return nil
}

func isSMKey(k []byte) bool {
	for _, p := range smPrefixes {
		if bytes.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// applyCommand adds the writes of c to b.
func applyCommand(b *storage.Batch, c Command) {
	switch c.Op {
	case OpPut:
		b.Put(storage.KVKey(c.Key), bytes.Clone(c.Value))
	case OpDelete:
		b.Delete(storage.KVKey(c.Key))
	}
}

// GetKV reads one key of the state machine kept in e. It only reads the
// engine, so it is safe from any goroutine, for serializable reads while a
// driver owns the member.
func GetKV(e storage.Engine, key string) ([]byte, bool, error) {
	v, err := e.Get(storage.KVKey(key))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// snapshotVersion is the first byte of snapshot data.
const snapshotVersion = 1

// kvSnapshot encodes the whole state machine: version, count, then each
// engine key and value with uvarint lengths, in key order. It holds only the
// state machine (members and the key-value map), never raft's keys.
func kvSnapshot(e storage.Engine) ([]byte, error) {
	var body []byte
	var n uint64
	err := scanSM(e, func(k, v []byte) error {
		body = appendPair(body, k, v)
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	return finishSnapshotData(n, body), nil
}

func appendPair(body, k, v []byte) []byte {
	body = binary.AppendUvarint(body, uint64(len(k)))
	body = append(body, k...)
	body = binary.AppendUvarint(body, uint64(len(v)))
	return append(body, v...)
}

func finishSnapshotData(n uint64, body []byte) []byte {
	out := binary.AppendUvarint([]byte{snapshotVersion}, n)
	return append(out, body...)
}

// kvRestorer returns the storage.Restorer that replaces the state machine in
// e with snapshot data, in batches of bounded size. failpoint (may be nil) is
// called once, after the first batch is written: a crash there leaves the
// restore half done (the applied index, which the store writes last, is
// still behind the snapshot), and the next start finishes it
// (Store.FinishRestore).
func kvRestorer(e storage.Engine, failpoint func(string)) storage.Restorer {
	return func(data []byte, write func(*storage.Batch) error) error {
		chunks := 0
		apply := func(b *storage.Batch) error {
			if err := write(b); err != nil {
				return err
			}
			chunks++
			if failpoint != nil && chunks == 1 {
				failpoint(FailpointDuringRestore)
			}
			return nil
		}
		pairs, err := decodeKVSnapshot(data)
		if err != nil {
			return err
		}
		keep := make(map[string]bool, len(pairs))
		for _, p := range pairs {
			keep[string(p[0])] = true
		}
		// Delete what the snapshot does not hold, then write what it
		// holds: a restore is a replacement. The keys to delete are
		// collected first: an engine may not be written while scanned.
		var gone [][]byte
		err = scanSM(e, func(k, _ []byte) error {
			if !keep[string(k)] {
				gone = append(gone, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		var b storage.Batch
		size, chunk := 0, storage.ChunkBytes(e)
		flush := func(force bool) error {
			if b.Len() == 0 || (!force && size < chunk && b.Len() < storage.MaxChunkOps) {
				return nil
			}
			err := apply(&b)
			b, size = storage.Batch{}, 0
			return err
		}
		for _, k := range gone {
			b.Delete(k)
			size += len(k) + 16
			if err := flush(false); err != nil {
				return err
			}
		}
		for _, p := range pairs {
			b.Put(p[0], p[1])
			size += len(p[0]) + len(p[1]) + 16
			if err := flush(false); err != nil {
				return err
			}
		}
		return flush(true)
	}
}

// decodeKVSnapshot parses snapshot data. Empty data is an empty map (a
// bootstrap snapshot). It never panics.
func decodeKVSnapshot(data []byte) ([][2][]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	if data[0] != snapshotVersion {
		return nil, fmt.Errorf("core: snapshot data version %d, want %d", data[0], snapshotVersion)
	}
	rest := data[1:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(len(rest)) {
		return nil, errors.New("core: snapshot data: bad count")
	}
	rest = rest[k:]
	pairs := make([][2][]byte, 0, n)
	next := func() ([]byte, bool) {
		l, k := binary.Uvarint(rest)
		if k <= 0 || l > uint64(len(rest)-k) {
			return nil, false
		}
		v := rest[k : k+int(l)]
		rest = rest[k+int(l):]
		return v, true
	}
	for i := uint64(0); i < n; i++ {
		key, ok1 := next()
		val, ok2 := next()
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("core: snapshot data: pair %d truncated", i)
		}
		if !isSMKey(key) {
			return nil, fmt.Errorf("core: snapshot data: key %q outside the state machine", key)
		}
		pairs = append(pairs, [2][]byte{key, val})
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("core: snapshot data: %d trailing bytes", len(rest))
	}
	return pairs, nil
}

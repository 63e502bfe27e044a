// Package memory is an ordered in-memory storage.Engine with a durability
// model: a write is durable only once a sync covers it, and Crash throws away
// everything that was not. The simulator uses it to show which writes a
// crash loses, and to prove that its checker catches a member that
// acknowledges before syncing.
package memory

import (
	"bytes"
	"errors"
	"slices"
	"sync"

	"github.com/raftlab/raftlab/storage"
)

// Options configure an Engine.
type Options struct {
	// AckBeforeSync makes Apply ignore the sync flag: the classic bug of a
	// member that answers before its writes are durable. Test-only: the
	// simulator's checker must catch it.
	AckBeforeSync bool
}

// Engine is an ordered in-memory engine. It is safe for concurrent use.
type Engine struct {
	mu   sync.RWMutex
	opts Options
	// items is sorted by key.
	items []item
	// undo holds, for every write not yet durable, what the key held
	// before, oldest first. Crash replays it backwards.
	undo   []undoRecord
	closed bool
	// Syncs counts the syncs that made writes durable.
	syncs uint64
}

type item struct {
	key   []byte
	value []byte
}

type undoRecord struct {
	key     []byte
	value   []byte
	existed bool
}

var _ storage.Engine = (*Engine)(nil)

var errClosed = errors.New("memory: engine is closed")

// New returns an empty engine.
func New() *Engine { return &Engine{} }

// NewWithOptions returns an empty engine configured by opts.
func NewWithOptions(opts Options) *Engine { return &Engine{opts: opts} }

// SetAckBeforeSync turns the ack-before-sync bug on or off (test-only).
func (e *Engine) SetAckBeforeSync(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.opts.AckBeforeSync = on
}

func (e *Engine) find(key []byte) (int, bool) {
	return slices.BinarySearchFunc(e.items, key, func(it item, k []byte) int {
		return bytes.Compare(it.key, k)
	})
}

// Get implements storage.Engine.
func (e *Engine) Get(key []byte) ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, errClosed
	}
	i, ok := e.find(key)
	if !ok {
		return nil, storage.ErrNotFound
	}
	return bytes.Clone(e.items[i].value), nil
}

// Scan implements storage.Engine. fn must not write to the engine.
func (e *Engine) Scan(start, end []byte, fn func(key, value []byte) error) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return errClosed
	}
	i, _ := e.find(start)
	for ; i < len(e.items); i++ {
		it := e.items[i]
		if end != nil && bytes.Compare(it.key, end) >= 0 {
			return nil
		}
		if err := fn(it.key, it.value); err != nil {
			return err
		}
	}
	return nil
}

// Apply implements storage.Engine. A synced batch makes itself and every
// earlier write durable, unless AckBeforeSync is on.
func (e *Engine) Apply(b *storage.Batch, sync bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errClosed
	}
	durableNow := sync && !e.opts.AckBeforeSync
	for _, op := range b.Ops {
		i, ok := e.find(op.Key)
		if !durableNow {
			rec := undoRecord{key: bytes.Clone(op.Key), existed: ok}
			if ok {
				rec.value = e.items[i].value
			}
			e.undo = append(e.undo, rec)
		}
		switch {
		case op.Delete && ok:
			e.items = slices.Delete(e.items, i, i+1)
		case op.Delete:
		case ok:
			e.items[i].value = bytes.Clone(op.Value)
		default:
			e.items = slices.Insert(e.items, i, item{key: bytes.Clone(op.Key), value: bytes.Clone(op.Value)})
		}
	}
	if durableNow {
		e.markDurableLocked()
	}
	return nil
}

func (e *Engine) markDurableLocked() {
	e.syncs++
	clear(e.undo)
	e.undo = e.undo[:0]
}

// Sync makes every write durable, as the operating system's writeback
// eventually does even for a member that never syncs.
func (e *Engine) Sync() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.markDurableLocked()
}

// Syncs returns how many syncs made writes durable.
func (e *Engine) Syncs() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.syncs
}

// Unsynced returns the number of writes a crash would lose now.
func (e *Engine) Unsynced() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.undo)
}

// Crash throws away every write that is not durable, newest first, as a
// power failure would, and returns the keys it rolled back as
// storage.DisplayKey shows them (oldest write first, a key once per write). The engine stays open: the member restarts
// on what survived.
func (e *Engine) Crash() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	lost := make([]string, len(e.undo))
	for j := len(e.undo) - 1; j >= 0; j-- {
		rec := e.undo[j]
		lost[j] = storage.DisplayKey(rec.key)
		i, ok := e.find(rec.key)
		switch {
		case rec.existed && ok:
			e.items[i].value = rec.value
		case rec.existed:
			e.items = slices.Insert(e.items, i, item{key: rec.key, value: rec.value})
		case ok:
			e.items = slices.Delete(e.items, i, i+1)
		}
	}
	clear(e.undo)
	e.undo = e.undo[:0]
	return lost
}

// Close implements storage.Engine. A closed memory engine keeps its
// durable contents for Reopen, as a disk does.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}

// Reopen opens a closed engine again with what it held at Close (a clean
// shutdown keeps unsynced writes, as the page cache of a running system
// does). It is how tests and the simulator restart a member.
func (e *Engine) Reopen() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = false
}

// Len returns the number of keys stored.
func (e *Engine) Len() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.items)
}

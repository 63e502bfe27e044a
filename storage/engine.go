// Package storage keeps the raft log of one member in an ordered key-value
// engine, under the seven keys that keys.go documents, and implements
// raft.Storage over it once for every engine.
//
// The engine is the only I/O seam: storage/memory (ordered, in memory, with a
// durability model for the simulator) and storage/badger (Badger v4 on disk)
// both satisfy Engine, and storage/storagetest holds the conformance suite
// that both run.
package storage

import "errors"

// ErrNotFound is returned by Engine.Get for a key that is not stored.
var ErrNotFound = errors.New("storage: key not found")

// Engine is a small ordered key-value store. Keys are compared as bytes.
//
// An Engine is used by one Store, from one goroutine at a time, except that
// Get and Scan may run concurrently with each other (engines that cannot
// promise that document it).
type Engine interface {
	// Get returns the value stored at key, or ErrNotFound. The caller owns the
	// returned slice.
	Get(key []byte) ([]byte, error)
	// Scan calls fn for every key in [start, end) in ascending key order; a nil
	// end means no upper bound. key and value are valid only during the call.
	// A non-nil error from fn stops the scan and is returned by Scan.
	Scan(start, end []byte, fn func(key, value []byte) error) error
	// Apply writes every operation of b atomically: after a crash either all
	// of them are visible or none. When sync is true, Apply returns only once
	// the batch (and every batch before it) is durable.
	Apply(b *Batch, sync bool) error
	// Close releases the engine. Using it afterwards is an error.
	Close() error
}

// Op is one write in a Batch: a put of Value at Key, or a delete of Key.
type Op struct {
	Key    []byte
	Value  []byte
	Delete bool
}

// Batch is an ordered list of writes applied atomically by Engine.Apply.
// Later operations on the same key win.
type Batch struct {
	Ops []Op
}

// Put adds a write of value at key. The batch keeps both slices: the caller
// must not modify them until the batch is applied.
func (b *Batch) Put(key, value []byte) { b.Ops = append(b.Ops, Op{Key: key, Value: value}) }

// Delete adds a delete of key.
func (b *Batch) Delete(key []byte) { b.Ops = append(b.Ops, Op{Key: key, Delete: true}) }

// Len returns the number of operations in the batch.
func (b *Batch) Len() int { return len(b.Ops) }

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.Ops)
	b.Ops = b.Ops[:0]
}

package badger

import (
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	bdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/ristretto/v2/z"
)

// Badger builds every table it flushes or compacts in buffers of the Go heap
// (a z.Allocator; ristretto allocates outside the heap only in its cgo
// jemalloc build). A builder keeps every block of the table and, beside each,
// a buffer sized for the worst case of its compression, and the allocator
// grows by doubling: flushing a memtable takes 4+8+16 = 28 MB (at 8 MiB, and
// at 4 MiB in a heap profile at 64 clients: docs/performance-log.md, "RSS at
// its peak"), and a compaction's builders start at 4 MB. When a table is written, Badger
// returns the allocator, buffers and all, to a pool of up to eight
// (DB.allocPool) for the next builder. It lets one go every 2 s only once
// no builder has been made for 2 s: under steady writes, never. So a member under load kept the
// largest allocators it had ever needed alive, and the collector, which
// lets the heap grow to twice what is alive, doubled them: at 64 clients
// each member had 46 MB alive after a collection, against 18 MB with the
// pool kept empty, and its RSS at the end of the load went from 122-125
// MiB to 71-74 (docs/performance-log.md, item 22).
//
// The engine therefore empties the pool itself, every poolDrainInterval.
// The cost is a fresh allocation for every table built, and a collector
// that runs more often on the smaller heap: at 64 clients it spent two to
// three times the CPU in collections, and raw throughput fell 5-10% in
// alternated runs, still 1.3x etcd's (item 22).
const poolDrainInterval = 200 * time.Millisecond

// poolDrainer empties Badger's builder pool until closed.
type poolDrainer struct {
	ch       chan *z.Allocator
	released atomic.Int64 // allocators let go, for tests
	stop     chan struct{}
	done     sync.WaitGroup
}

// errNoBuilderPool says this Badger does not keep its builder pool where
// v4.9.6 does; the engine then works as before, with the pool's memory.
var errNoBuilderPool = errors.New("badger: no builder pool at DB.allocPool.allocCh (Badger changed?): table builders' memory stays pooled")

// builderPool returns the channel Badger's builder pool keeps its allocators
// in. Badger exports neither the pool nor a setting for it, so the fields
// are found by name and type, and a Badger that moved them is reported
// rather than guessed at.
func builderPool(db *bdb.DB) (chan *z.Allocator, error) {
	f := reflect.ValueOf(db).Elem().FieldByName("allocPool")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*z.AllocatorPool]() {
		return nil, errNoBuilderPool
	}
	pool := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(*z.AllocatorPool)
	if pool == nil {
		return nil, errNoBuilderPool
	}
	c := reflect.ValueOf(pool).Elem().FieldByName("allocCh")
	if !c.IsValid() || c.Type() != reflect.TypeFor[chan *z.Allocator]() {
		return nil, errNoBuilderPool
	}
	return reflect.NewAt(c.Type(), unsafe.Pointer(c.UnsafeAddr())).Elem().Interface().(chan *z.Allocator), nil
}

// startPoolDrainer starts emptying db's builder pool. The pool's own
// goroutine and Badger's builders use the channel concurrently; taking from
// it is what the pool's Get does, so a builder that finds it empty just
// makes a new allocator.
func startPoolDrainer(db *bdb.DB) (*poolDrainer, error) {
	ch, err := builderPool(db)
	if err != nil {
		return nil, err
	}
	d := &poolDrainer{ch: ch, stop: make(chan struct{})}
	d.done.Add(1)
	go d.run()
	return d, nil
}

func (d *poolDrainer) run() {
	defer d.done.Done()
	t := time.NewTicker(poolDrainInterval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.drain()
		}
	}
}

// drain lets go of every allocator in the pool now.
func (d *poolDrainer) drain() {
	for {
		select {
		case a, ok := <-d.ch:
			// Engine.Close stops the drainer before Badger closes the
			// channel; were it closed, this loop would spin on it.
			if !ok {
				return
			}
			a.Release()
			d.released.Add(1)
		default:
			return
		}
	}
}

// close stops the drainer; it must be called before the DB is closed.
func (d *poolDrainer) close() {
	if d == nil {
		return
	}
	close(d.stop)
	d.done.Wait()
}

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

// Badger returns each table builder's allocator, buffers and all, to a pool
// of up to eight (DB.allocPool) for the next builder. It lets one go every
// 2 s only once no builder has been made for 2 s: under steady writes,
// never. While builders lived in the Go heap, a member under load so kept
// the largest allocators it had ever needed alive, and the collector, which
// lets the heap grow to twice what is alive, doubled them: at 64 clients
// each member had 46 MB alive after a collection, against 18 MB with the
// pool kept empty, and its RSS at the end of the load went from 122-125
// MiB to 71-74 (docs/performance-log.md, item 22).
//
// The engine therefore tends the pool itself:
//   - it keeps its own allocators there, built outside the Go heap
//     (offheap.go), and gives back the pages each used one was written in;
//   - it lets go of every allocator Badger made in the Go heap (when a
//     builder found the pool empty), so none is kept alive;
//   - where Badger let one of its own go, it builds a new one on the same
//     mapping.
//
// It looks every poolDrainBusy while a builder has one of its allocators,
// so that a finished builder's pages go back before the next builds add
// theirs: a compaction builds several tables at once. Over three runs each
// at 64 clients the members' peak RSS (median member) was 77, 84 and 82 MiB
// against 89, 81 and 93 when it looked every 200 ms (docs/performance-log.md,
// item 31). Otherwise every poolDrainIdle, to let Badger's builders made in
// the Go heap go.
const (
	poolDrainBusy = 20 * time.Millisecond
	poolDrainIdle = 200 * time.Millisecond
)

// poolDrainer tends Badger's builder pool until closed.
type poolDrainer struct {
	ch  chan *z.Allocator
	off *offHeap
	// held are allocators of ours the pool had no room for (builders
	// returned Go-heap ones meanwhile); offered again at the next tick.
	held []*z.Allocator
	// released counts the Go-heap allocators let go, recycled our own
	// given back after a builder used them; for tests.
	released, recycled atomic.Int64
	stop               chan struct{}
	done               sync.WaitGroup
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

// startPoolDrainer starts tending db's builder pool, with off-heap
// allocators of regionBytes each. The pool's own goroutine and Badger's
// builders use the channel concurrently; taking from it is what the pool's
// Get does, so a builder that finds it empty just makes a new allocator.
// Without the pool the drainer is nil; without the mappings it runs with
// what it could map, and the error says why.
func startPoolDrainer(db *bdb.DB, regionBytes int) (*poolDrainer, error) {
	ch, err := builderPool(db)
	if err != nil {
		return nil, err
	}
	off, offErr := newOffHeap(offHeapAllocators, regionBytes)
	d := &poolDrainer{ch: ch, off: off, held: off.allocators(), stop: make(chan struct{})}
	d.offer()
	d.done.Add(1)
	go d.run()
	return d, offErr
}

func (d *poolDrainer) run() {
	defer d.done.Done()
	t := time.NewTimer(poolDrainIdle)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			if d.drain() {
				t.Reset(poolDrainBusy)
			} else {
				t.Reset(poolDrainIdle)
			}
		}
	}
}

// drain empties the pool: it lets go of Badger's allocators, offers ours
// that no builder used straight back, then recycles the used ones (giving
// their pages back takes a moment, during which a builder that found the
// pool empty would make one in the Go heap), renews ours that Badger let go,
// and offers the rest back. It says whether a builder has one of ours.
func (d *poolDrainer) drain() (busy bool) {
	home := len(d.held)
	var used []*z.Allocator
	for taking := true; taking; {
		select {
		case a, ok := <-d.ch:
			// Engine.Close stops the drainer before Badger closes the
			// channel; were it closed, this loop would spin on it.
			if !ok {
				return false
			}
			switch {
			case !d.off.owns(a):
				a.Release()
				d.released.Add(1)
			case a.Size() > 0:
				home++
				used = append(used, a)
			default:
				home++
				d.held = append(d.held, a)
			}
		default:
			taking = false
		}
	}
	d.offer()
	for _, a := range used {
		d.off.recycle(a)
		d.recycled.Add(1)
		d.held = append(d.held, a)
	}
	renewed := d.off.renew()
	d.held = append(d.held, renewed...)
	d.offer()
	return home+len(renewed) < len(d.off.regions)
}

// offer puts the allocators held back in the pool, as many as it has room
// for.
func (d *poolDrainer) offer() {
	for len(d.held) > 0 {
		select {
		case d.ch <- d.held[len(d.held)-1]:
			d.held = d.held[:len(d.held)-1]
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

// unmap unmaps the off-heap allocators; it must be called after the DB is
// closed, when no builder can be using them.
func (d *poolDrainer) unmap() {
	if d == nil {
		return
	}
	d.off.close()
	d.held = nil
}

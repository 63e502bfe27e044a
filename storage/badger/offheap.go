package badger

import (
	"errors"
	"reflect"
	"strconv"
	"unsafe"

	"github.com/dgraph-io/ristretto/v2/z"
)

// Badger builds each table in a z.Allocator, which outside ristretto's cgo
// jemalloc build is memory of the Go heap: a flush of a 4 MiB memtable took
// 4+8+16 = 28 MB there (the allocator doubles each buffer it adds, and keeps
// beside each block a buffer sized for the worst case of its compression).
// That cost twice. The allocations paced the collector, so nearly every
// flush set off a collection; and a collection made during a flush found
// the builder live and set the heap's goal at twice that, 63-78 MB, which
// the heap then grew to (docs/performance-log.md, "RSS at its peak").
//
// So the engine hands Badger's builder pool allocators of its own (the
// drainer keeps them there, builderpool.go), each built on one private
// anonymous mapping outside the Go heap:
//   - the collector neither counts them nor paces on them;
//   - a page of a mapping takes memory only once written, so a builder holds
//     what it wrote (7 MB for a 4 MiB memtable), not the doubled buffers nor
//     the unwritten worst-case room;
//   - once a builder is done, the drainer gives the pages it wrote back to
//     the OS (MADV_DONTNEED), where Go's heap would keep them until a
//     collection and its scavenger.
//
// A builder only writes bytes there: a table's blocks, their compressed
// copies, encryption output (table/builder.go in v4.9.6). Badger never puts
// a Go pointer in builder memory, which the collector would not see.
const (
	// offHeapAllocators is how many the engine keeps: Badger's pool holds
	// at most eight, and a builder that finds it empty makes one in the Go
	// heap as before.
	offHeapAllocators = 8
	// offHeapRegionBytes is each allocator's mapping: address space only,
	// but for what a builder writes. A table whose builder needs more (a
	// compacted table of the deepest levels of a large store) spills into a
	// buffer of the Go heap, as every table did before.
	offHeapRegionBytes = 128 << 20
)

// errNoAllocatorBuffers says ristretto's Allocator does not keep its buffers
// where v2.2.0 does: the engine then leaves the builders in the Go heap.
var errNoAllocatorBuffers = errors.New("badger: z.Allocator has no buffers field (ristretto changed?): table builders stay in the Go heap")

// allocatorBuffers returns a's buffers. The Allocator exports no way to
// give it memory, so the field is found by name and type, and one that
// moved is reported rather than guessed at.
func allocatorBuffers(a *z.Allocator) (*[][]byte, error) {
	f := reflect.ValueOf(a).Elem().FieldByName("buffers")
	if !f.IsValid() || f.Type() != reflect.TypeFor[[][]byte]() {
		return nil, errNoAllocatorBuffers
	}
	return (*[][]byte)(unsafe.Pointer(f.UnsafeAddr())), nil
}

// region is one mapping, and the allocator built on it.
type region struct {
	mem []byte
	a   *z.Allocator
}

// offHeap is the engine's allocators outside the Go heap. Only the drainer's
// goroutine uses it, then Engine.Close.
type offHeap struct {
	regions []*region
	byAlloc map[*z.Allocator]*region
}

// offHeapAvailable says whether the engine maps regions: on Linux, in a
// 64-bit process (eight regions are a gigabyte of address space).
func offHeapAvailable() bool { return offHeapSupported && strconv.IntSize == 64 }

// newOffHeap maps up to n regions of regionBytes; none off Linux or in a
// 32-bit process. Where mapping fails (a strict overcommit limit) it keeps
// what it got and says why.
func newOffHeap(n, regionBytes int) (*offHeap, error) {
	o := &offHeap{byAlloc: map[*z.Allocator]*region{}}
	if !offHeapAvailable() {
		return o, nil
	}
	for range n {
		mem, err := mapRegion(regionBytes)
		if err != nil {
			return o, err
		}
		r := &region{mem: mem}
		if err := o.allocate(r); err != nil {
			_ = unmapRegion(mem)
			return o, err
		}
		o.regions = append(o.regions, r)
	}
	return o, nil
}

// allocate builds a new allocator on r's mapping.
func (o *offHeap) allocate(r *region) error {
	// The smallest start NewAllocator allows; that buffer is let go at
	// once for the mapping.
	a := z.NewAllocator(512, "TableBuilder")
	bufs, err := allocatorBuffers(a)
	if err != nil {
		a.Release()
		return err
	}
	(*bufs)[0] = r.mem
	if r.a != nil {
		delete(o.byAlloc, r.a)
	}
	r.a = a
	o.byAlloc[a] = r
	return nil
}

// allocators returns the allocators now built on the regions.
func (o *offHeap) allocators() []*z.Allocator {
	as := make([]*z.Allocator, len(o.regions))
	for i, r := range o.regions {
		as[i] = r.a
	}
	return as
}

// owns says whether a is one of the current allocators.
func (o *offHeap) owns(a *z.Allocator) bool {
	_, ok := o.byAlloc[a]
	return ok
}

// recycle readies one of ours that a builder used and returned: it gives
// back the pages the builder wrote, lets go of any Go-heap buffer it
// spilled into, and rewinds it.
func (o *offHeap) recycle(a *z.Allocator) {
	r := o.byAlloc[a]
	releasePages(r.mem[:min(a.Size(), len(r.mem))])
	if bufs, err := allocatorBuffers(a); err == nil {
		clear((*bufs)[1:])
	}
	a.Reset()
}

// renew finds the regions whose allocator Badger let go (its pool releases
// one after two idle seconds, or one returned to a full pool) and builds a
// new allocator on each, returned for the pool. A released allocator is not
// in use, so its mapping can be used again; the mapping itself is never
// unmapped while Badger runs.
func (o *offHeap) renew() []*z.Allocator {
	var fresh []*z.Allocator
	for _, r := range o.regions {
		if z.AllocatorFrom(r.a.Ref) == r.a {
			continue
		}
		old := r.a
		releasePages(r.mem)
		if o.allocate(r) != nil {
			continue // allocatorBuffers worked when the region was made
		}
		clearBuffers(old)
		fresh = append(fresh, r.a)
	}
	return fresh
}

// close unmaps every region. Badger must be closed: no builder runs, and
// the pool has let go of every allocator. Each allocator's buffers are
// cleared first, so that nothing the collector may still reach points into
// an address the runtime could map again.
func (o *offHeap) close() {
	if o == nil {
		return
	}
	for _, r := range o.regions {
		r.a.Release()
		clearBuffers(r.a)
		_ = unmapRegion(r.mem)
	}
	o.regions, o.byAlloc = nil, nil
}

// clearBuffers drops a's references to its buffers.
func clearBuffers(a *z.Allocator) {
	if bufs, err := allocatorBuffers(a); err == nil {
		clear(*bufs)
	}
}

package badger

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/raftlab/raftlab/storage"
)

// TestBuilderPoolTended checks that the engine finds Badger's builder pool
// (a Badger that moved it fails here, not silently in a member's memory),
// that Badger's flushes build their tables in the engine's allocators
// outside the Go heap (on Linux; elsewhere, that the drainer lets go of
// Badger's own), that those tables read back whole after a reopen, and that
// Close unmaps the allocators.
func TestBuilderPoolTended(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, WithMemTableSize(1<<20))
	d := e.drainer
	if d == nil {
		t.Fatal("no drainer: builderPool did not find Badger's pool")
	}
	if offHeapAvailable() && len(d.off.regions) != offHeapAllocators {
		t.Fatalf("%d off-heap allocators, want %d", len(d.off.regions), offHeapAllocators)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([][]byte, 600) // about 5 MB: several memtable flushes
	var b storage.Batch
	for i := range values {
		values[i] = make([]byte, 8<<10)
		for j := range values[i] {
			values[i][j] = byte('a' + rng.IntN(26)) // compressible, as the benchmark's
		}
		b.Reset()
		b.Put(fmt.Appendf(nil, "k%04d", i), values[i])
		if err := e.Apply(&b, false); err != nil {
			t.Fatal(err)
		}
	}
	// Flushes run in Badger's goroutine; wait for one to return its
	// builder and for the drainer to take it.
	deadline := time.Now().Add(20 * time.Second)
	tended := func() bool {
		if offHeapAvailable() {
			return d.recycled.Load() > 0
		}
		return d.released.Load() > 0 && len(d.ch) == 0
	}
	for !tended() {
		if time.Now().After(deadline) {
			t.Fatalf("after the flushes: %d of ours recycled, %d of Badger's let go, %d pooled", d.recycled.Load(), d.released.Load(), len(d.ch))
		}
		time.Sleep(20 * time.Millisecond)
	}
	allocs := d.off.allocators()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range allocs {
		if z.AllocatorFrom(a.Ref) != nil {
			t.Errorf("allocator %x still registered after Close", a.Ref)
		}
		if bufs, _ := allocatorBuffers(a); (*bufs)[0] != nil {
			t.Errorf("allocator %x still points at its unmapped region", a.Ref)
		}
	}

	// Open verifies every table's checksums (verifyTables); the values
	// must be those written.
	e = openT(t, dir, WithMemTableSize(1<<20))
	for i, want := range values {
		got, err := e.Get(fmt.Appendf(nil, "k%04d", i))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("k%04d after reopen: %d bytes, %v; want the %d written", i, len(got), err, len(want))
		}
	}
}

// offHeapT maps n regions for a test, which it skips where the engine maps
// none, and unmaps them when the test ends.
func offHeapT(t *testing.T, n, regionBytes int) *offHeap {
	t.Helper()
	if !offHeapAvailable() {
		t.Skip("off-heap builders are Linux only, in 64-bit processes")
	}
	o, err := newOffHeap(n, regionBytes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.close)
	return o
}

// TestOffHeapRecycle: an allocator of ours allocates in its mapping, spills
// into the Go heap past it, and recycling gives back the pages written,
// drops the spill and rewinds it.
func TestOffHeapRecycle(t *testing.T) {
	const regionBytes = 64 << 10
	o := offHeapT(t, 1, regionBytes)
	a, mem := o.regions[0].a, o.regions[0].mem
	inRegion := func(b []byte) bool {
		p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		base := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
		return p >= base && p+uintptr(len(b)) <= base+uintptr(len(mem))
	}
	first := a.Allocate(1000)
	copy(first, bytes.Repeat([]byte{9}, 1000))
	if !inRegion(first) {
		t.Fatal("first allocation is not in the region")
	}
	spill := a.Allocate(regionBytes) // does not fit what is left
	if inRegion(spill) {
		t.Fatal("an allocation past the region landed in it")
	}
	o.recycle(a)
	if a.Size() != 0 {
		t.Errorf("size %d after recycle, want 0", a.Size())
	}
	if bufs, _ := allocatorBuffers(a); (*bufs)[1] != nil {
		t.Error("the spill buffer is still held after recycle")
	}
	if !bytes.Equal(mem[:1000], make([]byte, 1000)) {
		t.Error("the pages written were not given back (they still hold what was written)")
	}
	if again := a.Allocate(100); !inRegion(again) {
		t.Error("after recycle, an allocation is not in the region")
	}
}

// TestOffHeapRenewsWhatBadgerLetGo: Badger's pool releases an idle
// allocator after two seconds; the engine builds a new one on its region.
func TestOffHeapRenewsWhatBadgerLetGo(t *testing.T) {
	o := offHeapT(t, 2, 64<<10)
	if fresh := o.renew(); len(fresh) != 0 {
		t.Fatalf("renewed %d with none let go", len(fresh))
	}
	old := o.regions[0].a
	old.Release() // as the pool's freeupAllocators does
	fresh := o.renew()
	if len(fresh) != 1 || fresh[0] == old || !o.owns(fresh[0]) || o.owns(old) {
		t.Fatalf("after a release: renewed %d; want one new allocator, owned in place of the old", len(fresh))
	}
	if b := fresh[0].Allocate(10); &b[0] != &o.regions[0].mem[0] {
		t.Error("the new allocator does not allocate in the old one's region")
	}
	allocs := o.allocators()
	o.close()
	for _, a := range allocs {
		if z.AllocatorFrom(a.Ref) != nil {
			t.Errorf("allocator %x still registered after close", a.Ref)
		}
	}
}

// TestDrainRecyclesOursAndLetsBadgersGo: one drain takes Badger's own
// allocator out of the pool for good, gives back what a builder wrote in
// ours, puts every one of ours back, and says whether a builder still holds
// one (the drainer then looks again sooner).
func TestDrainRecyclesOursAndLetsBadgersGo(t *testing.T) {
	o := offHeapT(t, 2, 64<<10)
	d := &poolDrainer{ch: make(chan *z.Allocator, 8), off: o, held: o.allocators()}
	d.offer()

	builder := <-d.ch // a builder takes one of ours
	if !d.drain() {
		t.Error("drain while a builder holds one of ours said none is out")
	}
	if len(d.ch) != 1 {
		t.Fatalf("%d pooled after the drain, want the 1 no builder holds", len(d.ch))
	}

	copy(builder.Allocate(100), bytes.Repeat([]byte{1}, 100)) // the builder writes, and returns it
	d.ch <- builder
	badgers := z.NewAllocator(1024, "TableBuilder") // one Badger made when it found the pool empty
	d.ch <- badgers
	if d.drain() {
		t.Error("drain with every one of ours home said a builder holds one")
	}
	if d.recycled.Load() != 1 || builder.Size() != 0 {
		t.Errorf("recycled %d, the used one's size %d: want it recycled and rewound", d.recycled.Load(), builder.Size())
	}
	if d.released.Load() != 1 || z.AllocatorFrom(badgers.Ref) != nil {
		t.Error("Badger's own allocator was not let go")
	}
	pooled := map[*z.Allocator]bool{}
	for len(d.ch) > 0 {
		pooled[<-d.ch] = true
	}
	if len(pooled) != 2 || !pooled[builder] {
		t.Errorf("%d of ours pooled after the drain, want both", len(pooled))
	}
}

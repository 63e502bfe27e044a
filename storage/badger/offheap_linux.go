package badger

import "syscall"

// offHeapSupported: the engine builds tables outside the Go heap.
const offHeapSupported = true

// mapRegion maps n bytes of private anonymous memory. MAP_NORESERVE: the
// region is room a builder may grow into, not memory to set aside.
func mapRegion(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
}

// releasePages gives b's pages back to the OS; b reads as zeros after.
func releasePages(b []byte) {
	if len(b) > 0 {
		_ = syscall.Madvise(b[:len(b):len(b)], syscall.MADV_DONTNEED)
	}
}

func unmapRegion(b []byte) error { return syscall.Munmap(b) }

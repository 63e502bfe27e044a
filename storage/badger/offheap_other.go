//go:build !linux

package badger

import "errors"

// offHeapSupported: off Linux the engine maps no regions, and table
// builders stay in the Go heap.
const offHeapSupported = false

func mapRegion(int) ([]byte, error) {
	return nil, errors.New("badger: table builders outside the Go heap are implemented on Linux only")
}

func releasePages([]byte) {}

func unmapRegion([]byte) error { return nil }

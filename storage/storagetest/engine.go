package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/raftlab/raftlab/storage"
)

// testEngine checks the raw storage.Engine contract that Store relies on.
func testEngine(t *testing.T, newFactory func(t *testing.T) Factory) {
	open := func(t *testing.T, f Factory) storage.Engine {
		t.Helper()
		e, err := f.Open()
		if err != nil {
			t.Fatalf("open engine: %v", err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	apply := func(t *testing.T, e storage.Engine, sync bool, build func(b *storage.Batch)) {
		t.Helper()
		var b storage.Batch
		build(&b)
		if err := e.Apply(&b, sync); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	// scan returns "k=v" for every key in [start, end).
	scan := func(t *testing.T, e storage.Engine, start, end []byte) []string {
		t.Helper()
		var out []string
		if err := e.Scan(start, end, func(k, v []byte) error {
			out = append(out, string(k)+"="+string(v))
			return nil
		}); err != nil {
			t.Fatalf("scan: %v", err)
		}
		return out
	}
	want := func(t *testing.T, got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}

	t.Run("GetPutDelete", func(t *testing.T) {
		e := open(t, newFactory(t))
		if _, err := e.Get([]byte("a")); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
		}
		apply(t, e, true, func(b *storage.Batch) {
			b.Put([]byte("a"), []byte("1"))
			b.Put([]byte("empty"), []byte{})
			b.Delete([]byte("never-written"))
		})
		v, err := e.Get([]byte("a"))
		if err != nil || string(v) != "1" {
			t.Fatalf("Get(a) = %q, %v", v, err)
		}
		v[0] = 'X' // the caller owns the slice
		if v, _ := e.Get([]byte("a")); string(v) != "1" {
			t.Fatalf("modifying a Get result changed the stored value to %q", v)
		}
		if v, err := e.Get([]byte("empty")); err != nil || len(v) != 0 {
			t.Fatalf("Get(empty) = %q, %v; want an empty value", v, err)
		}
		apply(t, e, false, func(b *storage.Batch) { b.Delete([]byte("a")) })
		if _, err := e.Get([]byte("a")); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Get of a deleted key: %v, want ErrNotFound", err)
		}
	})

	t.Run("BatchOrder", func(t *testing.T) {
		e := open(t, newFactory(t))
		apply(t, e, true, func(b *storage.Batch) {
			b.Put([]byte("k1"), []byte("first"))
			b.Put([]byte("k1"), []byte("second"))
			b.Put([]byte("k2"), []byte("x"))
			b.Delete([]byte("k2"))
			b.Delete([]byte("k3"))
			b.Put([]byte("k3"), []byte("back"))
		})
		want(t, scan(t, e, []byte("k"), nil), "k1=second", "k3=back")
	})

	t.Run("Scan", func(t *testing.T) {
		e := open(t, newFactory(t))
		apply(t, e, false, func(b *storage.Batch) {
			// Entry keys sort by index, 9 before 10, because the index is
			// big-endian.
			for _, i := range []uint64{10, 9, 1, 256, 2} {
				b.Put(storage.EntryKey(i), []byte(fmt.Sprint(i)))
			}
			b.Put([]byte("/a"), []byte("a"))
			b.Put([]byte("/z"), []byte("z"))
		})
		var idx []string
		if err := e.Scan(storage.EntryKey(2), storage.EntryKey(256), func(k, v []byte) error {
			idx = append(idx, storage.DisplayKey(k)+"="+string(v))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want(t, idx, "/raft/entry/2=2", "/raft/entry/9=9", "/raft/entry/10=10")
		want(t, scan(t, e, []byte("/z"), nil), "/z=z")
		want(t, scan(t, e, nil, []byte("/b")), "/a=a")
		want(t, scan(t, e, []byte("/b"), []byte("/b")))
		want(t, scan(t, e, []byte("/zz"), nil))

		stop := errors.New("stop")
		n := 0
		err := e.Scan([]byte("/"), nil, func(k, v []byte) error {
			n++
			if n == 2 {
				return stop
			}
			return nil
		})
		if err != stop || n != 2 {
			t.Fatalf("Scan stopped by its callback: err %v after %d keys, want the callback's error after 2", err, n)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		// Get and Scan may run at the same time (Engine doc).
		e := open(t, newFactory(t))
		apply(t, e, false, func(b *storage.Batch) {
			for i := range uint64(200) {
				b.Put(storage.EntryKey(i), bytes.Repeat([]byte{byte(i)}, 64))
			}
		})
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 4 {
			wg.Go(func() {
				for range 20 {
					if g%2 == 0 {
						n := 0
						if err := e.Scan(storage.EntryKey(0), nil, func(k, v []byte) error {
							n++
							return nil
						}); err != nil || n != 200 {
							errs <- fmt.Errorf("scan: %d keys, %v", n, err)
							return
						}
						continue
					}
					for i := range uint64(200) {
						if v, err := e.Get(storage.EntryKey(i)); err != nil || len(v) != 64 || v[0] != byte(i) {
							errs <- fmt.Errorf("get %d: %v", i, err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})

	t.Run("Reopen", func(t *testing.T) {
		f := newFactory(t)
		e := open(t, f)
		apply(t, e, true, func(b *storage.Batch) { b.Put([]byte("synced"), []byte("1")) })
		apply(t, e, false, func(b *storage.Batch) { b.Put([]byte("unsynced"), []byte("2")) })
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := e.Get([]byte("synced")); err == nil {
			t.Fatal("Get on a closed engine succeeded")
		}
		// A clean close keeps every write, synced or not.
		e = open(t, f)
		want(t, scan(t, e, nil, nil), "synced=1", "unsynced=2")
	})
}

package badger

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/raftlab/raftlab/storage"
)

// BenchmarkSave measures what the storage layer costs on top of Badger, per
// Ready of a leader under load: a HardState and n entries of 256 bytes,
// synced. For each n:
//
//   - Save: Store.Save, the way core persists a Ready (marshalling, the
//     invariant checks, the batch with last_index and uncommit_index).
//   - BareBatch: one bare Badger transaction writing the same keys and the
//     same bytes (marshalled beforehand), synced the same way (DB.Sync plus
//     the rotated-file bookkeeping of sync.go). Its Save/Bare metric is the
//     ratio of the two lines.
//   - Interleaved: the two in alternating Readies on two databases, so both
//     see the same disk; an fsync here takes 0.2 to 0.7 ms and drifts between
//     runs, which makes the ratio of two separate lines noisy. It reports
//     save-ns/op, bare-ns/op and their ratio; ns/op is the sum.
//   - Interleaved/nosync: the same without syncing, which leaves the CPU cost
//     of the store against Badger's.
func BenchmarkSave(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			var save time.Duration
			b.Run("Save", func(b *testing.B) {
				r := newRig(b, n)
				b.ResetTimer()
				for i := range b.N {
					r.save(b, i, true)
				}
				save = r.report(b, n)
			})
			b.Run("BareBatch", func(b *testing.B) {
				r := newRig(b, n)
				b.ResetTimer()
				for i := range b.N {
					r.bare(b, i, true)
				}
				if bare := r.report(b, n); save > 0 {
					b.ReportMetric(float64(save)/float64(bare), "Save/Bare")
				}
			})
			for _, sync := range []bool{true, false} {
				name := "Interleaved"
				if !sync {
					name += "/nosync"
				}
				b.Run(name, func(b *testing.B) {
					rs, rb := newRig(b, n), newRig(b, n)
					alternate(b, "save", "bare", "Save/Bare",
						func(i int) { rs.save(b, i, sync) },
						func(i int) { rb.bare(b, i, sync) })
				})
			}
		})
	}
}

// openBenchStore opens a database in a temporary directory and a Store on
// it, both closed at the end of b.
func openBenchStore(b *testing.B) (*Engine, *storage.Store) {
	b.Helper()
	e, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	s, err := storage.Open(e)
	if err != nil {
		b.Fatal(err)
	}
	return e, s
}

// rig is one database with b.N Readies of n entries prepared, as Store.Save
// takes them and as the bare batch writes them.
type rig struct {
	e       *Engine
	s       *storage.Store
	readies []ready
}

type ready struct {
	hs      *pb.HardState
	entries []*pb.Entry
	// kvs is the bare batch: the keys and bytes Save writes for this Ready.
	kvs [][2][]byte
}

func newRig(b *testing.B, n int) *rig {
	b.Helper()
	e, s := openBenchStore(b)
	payload := make([]byte, 256)
	for i := range payload {
		payload[i] = byte(i)
	}
	marshal := proto.MarshalOptions{Deterministic: true}
	r := &rig{e: e, s: s, readies: make([]ready, b.N)}
	for i := range r.readies {
		rd := &r.readies[i]
		for j := range n {
			idx := uint64(i*n + j + 1)
			rd.entries = append(rd.entries, &pb.Entry{Index: new(idx), Term: new(uint64(1)), Type: pb.EntryNormal.Enum(), Data: payload})
		}
		// The commit trails the last index by one Ready, as in a cluster.
		rd.hs = &pb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(i * n))}

		last := uint64((i + 1) * n)
		for _, ent := range rd.entries {
			v, _ := marshal.Marshal(ent)
			rd.kvs = append(rd.kvs, [2][]byte{storage.EntryKey(ent.GetIndex()), v})
		}
		hs, _ := marshal.Marshal(rd.hs)
		rd.kvs = append(rd.kvs,
			[2][]byte{[]byte(storage.KeyLastIndex), binary.BigEndian.AppendUint64(nil, last)},
			[2][]byte{[]byte(storage.KeyHardState), hs},
			[2][]byte{[]byte(storage.KeyUncommitIndex), binary.BigEndian.AppendUint64(make([]byte, 8), last)})
	}
	b.SetBytes(int64(n * len(payload)))
	b.ReportAllocs()
	return r
}

func (r *rig) save(b *testing.B, i int, sync bool) {
	if err := r.s.Save(r.readies[i].hs, r.readies[i].entries, nil, sync); err != nil {
		b.Fatal(err)
	}
}

func (r *rig) bare(b *testing.B, i int, sync bool) {
	txn := r.e.db.NewTransaction(true)
	for _, kv := range r.readies[i].kvs {
		if err := txn.Set(kv[0], kv[1]); err != nil {
			b.Fatal(err)
		}
	}
	if err := txn.Commit(); err != nil {
		b.Fatal(err)
	}
	if sync {
		syncNow(b, r.e)
	}
}

// syncNow runs the engine's sync as a synced Apply does.
func syncNow(tb testing.TB, e *Engine) {
	e.wmu.Lock()
	err := e.syncLocked()
	e.wmu.Unlock()
	if err != nil {
		tb.Fatal(err)
	}
}

// alternate runs a and c in turn, b.N times each, so that both see the same
// disk (an fsync's cost drifts between runs), and reports each one's time
// per op, named aName-ns/op and cName-ns/op, and their ratio.
func alternate(b *testing.B, aName, cName, ratio string, a, c func(i int)) {
	var ta, tc time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		a(i)
		t1 := time.Now()
		c(i)
		ta += t1.Sub(t0)
		tc += time.Since(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(ta.Nanoseconds())/float64(b.N), aName+"-ns/op")
	b.ReportMetric(float64(tc.Nanoseconds())/float64(b.N), cName+"-ns/op")
	b.ReportMetric(float64(ta)/float64(tc), ratio)
}

// report adds entries/s and returns the time per Ready.
func (r *rig) report(b *testing.B, n int) time.Duration {
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
	return b.Elapsed() / time.Duration(b.N)
}

// BenchmarkSync compares, in alternating rounds on two databases, a small
// batch (one HardState-sized write) followed by DB.Sync, Badger's own sync of
// the WAL and the value log, against the same batch followed by syncLocked,
// which fdatasyncs the WAL alone when nothing went to the value log (sync.go).
func BenchmarkSync(b *testing.B) {
	dbs, ours := openBench(b), openBench(b)
	alternate(b, "walonly", "dbsync", "walonly/dbsync",
		func(i int) {
			writeSmall(b, ours, i)
			syncNow(b, ours)
		},
		func(i int) {
			writeSmall(b, dbs, i)
			if err := dbs.db.Sync(); err != nil {
				b.Fatal(err)
			}
		})
}

// BenchmarkSyncAfterStat shows why mustList looks the active WAL up with
// access(2) rather than stat-ing it (lookUp): the same small synced batch,
// with and without an os.Stat of the WAL between the write and the sync.
//
// The two run in alternating blocks of 50 syncs, not alternating syncs:
// the kernel keeps one floor for the coarse timestamps of all files, which
// a fine-grained timestamp raises, so the stat-ed database's writes change
// the other's timestamps too while both run in the same milliseconds (one
// sync each in turn measured the same for both). On Linux 6.18's ext4 the
// stat made each synced batch 35-50 µs slower (lookup/stat 0.77-0.80).
func BenchmarkSyncAfterStat(b *testing.B) {
	const block = 50
	plain, stat := openBench(b), openBench(b)
	var tp, ts time.Duration
	n := 0
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		for range block {
			writeSmall(b, plain, n)
			syncNow(b, plain)
			n++
		}
		t1 := time.Now()
		for range block {
			writeSmall(b, stat, n)
			_, _ = os.Stat(stat.dur.walPath) // "" before the first sync: an error, no stat
			syncNow(b, stat)
			n++
		}
		tp += t1.Sub(t0)
		ts += time.Since(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N*block), "lookup-ns/sync")
	b.ReportMetric(float64(ts.Nanoseconds())/float64(b.N*block), "stat-ns/sync")
	b.ReportMetric(float64(tp)/float64(ts), "lookup/stat")
}

func openBench(b *testing.B) *Engine {
	e, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

// writeSmall applies one unsynced HardState-sized batch.
func writeSmall(b *testing.B, e *Engine, i int) {
	var batch storage.Batch
	batch.Put(fmt.Appendf(nil, "k%d", i%100), make([]byte, 300))
	if err := e.Apply(&batch, false); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEntries measures raft reading back the entries of a Ready, as
// every member does to apply them: n entries of 256 bytes, the newest ones
// (served from the store's tail, storage/tail.go) and the oldest of 4096
// (older than the tail keeps: read from Badger, as every entry was before
// the tail).
func BenchmarkEntries(b *testing.B) {
	const stored = 4096
	for _, n := range []int{1, 12} {
		_, s := openBenchStore(b)
		payload := make([]byte, 256)
		for lo := uint64(1); lo <= stored; lo += uint64(n) {
			var ents []*pb.Entry
			for i := lo; i < lo+uint64(n) && i <= stored; i++ {
				ents = append(ents, &pb.Entry{Index: new(i), Term: new(uint64(1)), Type: pb.EntryNormal.Enum(), Data: payload})
			}
			if err := s.Append(ents); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range []struct {
			name string
			lo   uint64
		}{{"newest", stored + 1 - uint64(n)}, {"oldest", 1}} {
			b.Run(fmt.Sprintf("entries=%d/%s", n, c.name), func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					got, err := s.Entries(c.lo, c.lo+uint64(n), 1<<20)
					if err != nil || len(got) != n {
						b.Fatalf("Entries: %d entries, %v", len(got), err)
					}
				}
			})
		}
	}
}

// BenchmarkCompact measures compacting 10000 entries of 256 bytes after a
// snapshot, what a real member does every --snapshot-entries (10000) with
// --snapshot-catchup-entries 5000 once its log is long: without an observer,
// and with one that keeps each key change, as core's events do. core
// compacts such a log in steps (core/compact.go) because of this figure.
func BenchmarkCompact(b *testing.B) {
	const n = 10000
	for _, observe := range []bool{false, true} {
		name := "observer=none"
		if observe {
			name = "observer=keeps"
		}
		b.Run(name, func(b *testing.B) {
			_, s := openBenchStore(b)
			var heard []*storage.KeyChange
			if observe {
				s.SetObserver(func(c storage.KeyChange) { heard = append(heard, &c) })
			}
			payload := make([]byte, 256)
			next := uint64(1)
			for range b.N {
				b.StopTimer()
				heard = heard[:0]
				for range n / 16 {
					ents := make([]*pb.Entry, 16)
					for i := range ents {
						ents[i] = &pb.Entry{Index: new(next), Term: new(uint64(1)), Type: pb.EntryNormal.Enum(), Data: payload}
						next++
					}
					if err := s.Save(&pb.HardState{Term: new(uint64(1)), Commit: new(next - 1)}, ents, nil, false); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := s.CreateSnapshot(next-1, &pb.ConfState{Voters: []uint64{1}}, nil); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := s.Compact(next - 1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
		})
	}
}

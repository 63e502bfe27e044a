package sim

import (
	"runtime"
	"testing"
)

// BenchmarkSimTicks runs a 5-member cluster with a client write every
// 100 ms and reports simulated member ticks per second of real time. Run it
// natively and under wasm (make bench) to compare.
func BenchmarkSimTicks(b *testing.B) {
	for _, events := range []bool{false, true} {
		name := "events=off"
		if events {
			name = "events=on"
		}
		b.Run(name, func(b *testing.B) {
			c, err := New(Config{Nodes: 5, Seed: 1, Events: events, SnapshotEntries: 100})
			if err != nil {
				b.Fatal(err)
			}
			ch := Chaos{WriteEveryMs: 100, DurationMs: int64(b.N) * c.Config().TickMs}
			b.ResetTimer()
			if err := ch.Run(c); err != nil {
				b.Fatal(err)
			}
			if events {
				c.TakeEvents(0)
			}
			b.ReportMetric(float64(5*b.N)/b.Elapsed().Seconds(), "ticks/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkMemoryPerNode reports the heap held by one simulated member of
// a 5-member cluster after 60 s of virtual time with writes and snapshots.
func BenchmarkMemoryPerNode(b *testing.B) {
	var total float64
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c, err := New(Config{Nodes: 5, Seed: uint64(i + 1), SnapshotEntries: 100})
		if err != nil {
			b.Fatal(err)
		}
		if err := (Chaos{WriteEveryMs: 100, DurationMs: 60_000}).Run(c); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		total += float64(after.HeapAlloc) - float64(before.HeapAlloc)
		runtime.KeepAlive(c)
	}
	b.ReportMetric(total/float64(b.N)/5, "bytes/node")
	b.ReportMetric(0, "ns/op")
}

package main

import (
	"strings"
	"testing"
)

// BenchmarkFrameCall is what the page asks of the simulator each animation
// frame with nine members at 10x (the budget test's cluster): advance 167 ms
// of virtual time and take the events, encoded, with a client write every
// 50 frames. Natively with make bench-go, under wasm with make bench-wasm.
func BenchmarkFrameCall(b *testing.B) {
	a := newAPI()
	v, err := a.create(`{"nodes": 9, "seed": 3, "tickMs": 100, "electionTicks": 10, "heartbeatTicks": 1, "latencyMs": 50, "jitterMs": 20, "snapshotEntries": 20, "catchUpEntries": 5}`)
	if err != nil {
		b.Fatal(err)
	}
	h := v.(int)
	var now, bytes int64
	b.ResetTimer()
	for i := range b.N {
		now += 167
		if i%50 == 49 {
			// Refused while there is no leader, as on the page.
			_, _ = a.act(h, `{"kind":"put","key":"k","value":"v"}`)
		}
		for {
			out := call(func() (any, error) { return a.advance(h, now, 20000) })
			bytes += int64(len(out))
			if !strings.HasSuffix(out, `"more":true}}`) && !strings.Contains(out, `"more":true,`) {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/frame")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/frame")
	b.ReportMetric(0, "ns/op")
}

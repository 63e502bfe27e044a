//go:build unix

package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCluster measures a real 3-member cluster (three raftnode
// processes on loopback, default flags, Badger syncing every Ready) the way
// a client sees it: PUTs of 256-byte values to the leader, one client at a
// time (latency) and 64 at once (throughput). Run it with
//
//	go test -run '^$' -bench Cluster -benchtime 2s ./cmd/node
//
// The figures are reported, never asserted.
func BenchmarkCluster(b *testing.B) {
	c := StartCluster(b, ClusterOptions{Size: 3})
	leader := c.Leader(b)
	value := bytes.Repeat([]byte("v"), 256)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128, DisableCompression: true}}
	var seq atomic.Int64
	put := func() error {
		key := fmt.Sprintf("bench-%09d", seq.Add(1))
		req, err := http.NewRequest(http.MethodPut, leader.URL+"/kv/"+key, bytes.NewReader(value))
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("put: %s", resp.Status)
		}
		return nil
	}
	for range 200 { // warm up: connections, Badger's tables
		if err := put(); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("put-1-client", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			if err := put(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
		b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
	})

	b.Run("put-64-clients", func(b *testing.B) {
		const clients = 64
		var (
			wg   sync.WaitGroup
			next atomic.Int64
			errs atomic.Int64
			mu   sync.Mutex
			lat  = make([]time.Duration, 0, b.N)
		)
		b.ResetTimer()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for next.Add(1) <= int64(b.N) {
					t0 := time.Now()
					if err := put(); err != nil {
						errs.Add(1)
						continue
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		b.StopTimer()
		if n := errs.Load(); n > 0 {
			b.Fatalf("%d of %d puts failed", n, b.N)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
		b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

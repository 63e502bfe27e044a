package main

import (
	"bufio"
	"fmt"
	"os"
)

// A latency log (-latency-log) lists every measured write: which run it
// was in, when it started and how long it took. The summary says how slow
// the 99th percentile is; the log says when the slow writes happened, so
// that they can be lined up with what the members did at those moments
// (a collection in a member's GODEBUG=gctrace=1 output, a memtable flush
// seen as a new .sst file in its data dir). docs/performance-log.md shows
// one such reading.
type latencyLog struct {
	f *os.File
	w *bufio.Writer
}

// latencyLogHeader names the columns: the run's system, round, path
// (leader, follower or spread) and client count, the client, the write's
// start in Unix nanoseconds and its latency in microseconds.
const latencyLogHeader = "system,round,path,clients,client,start_unix_ns,latency_us\n"

func openLatencyLog(path string) (*latencyLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-latency-log: %w", err)
	}
	l := &latencyLog{f: f, w: bufio.NewWriter(f)}
	if _, err := l.w.WriteString(latencyLogHeader); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("-latency-log: %w", err)
	}
	return l, nil
}

// add writes r's writes, which the run kept (load.Config.KeepWrites).
func (l *latencyLog) add(r runResult) error {
	path := string(r.via)
	if r.via == viaSpread {
		path = "spread"
	}
	for _, w := range r.res.Writes {
		if _, err := fmt.Fprintf(l.w, "%s,%d,%s,%d,%d,%d,%d\n", r.system, r.round, path, r.res.Clients,
			w.Client, w.Start.UnixNano(), w.Latency.Microseconds()); err != nil {
			return fmt.Errorf("-latency-log: %w", err)
		}
	}
	return nil
}

// close flushes and closes the file.
func (l *latencyLog) close() error {
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("-latency-log: %w", err)
	}
	return nil
}

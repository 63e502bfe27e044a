package cluster

import (
	"strings"
	"testing"
	"time"
)

func TestParseVmRSS(t *testing.T) {
	status := "Name:\traftnode\nVmPeak:\t  900000 kB\nVmRSS:\t   54321 kB\nThreads:\t12\n"
	got, err := parseVmRSS(status)
	if err != nil || got != 54321<<10 {
		t.Errorf("parseVmRSS = %d, %v; want %d", got, err, 54321<<10)
	}
	if _, err := parseVmRSS("Name:\tzombie\n"); err == nil {
		t.Error("no VmRSS line gave no error")
	}
}

func TestParseStatCPUSkipsTheCommandName(t *testing.T) {
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
	stat := "4242 (odd) name (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0"
	got, err := parseStatCPU(stat)
	if err != nil || got != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s (300 ticks)", got, err)
	}
	if _, err := parseStatCPU("4242 (short) S 1"); err == nil {
		t.Error("a short stat gave no error")
	}
}

func TestParseFsyncStats(t *testing.T) {
	text := `# HELP raftlab_entries_per_fsync Log entries persisted per synced write: the batching factor.
# TYPE raftlab_entries_per_fsync histogram
raftlab_entries_per_fsync_bucket{le="0"} 1
raftlab_entries_per_fsync_bucket{le="+Inf"} 40
raftlab_entries_per_fsync_sum 123
raftlab_entries_per_fsync_count 40
# TYPE raftlab_fsyncs_total counter
raftlab_fsyncs_total 41
raftlab_fsyncs_totally_else 9
`
	got, err := parseFsyncStats([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got != (FsyncStats{Fsyncs: 41, Entries: 123, Syncs: 40}) {
		t.Errorf("parseFsyncStats = %+v", got)
	}
	d := FsyncStats{Fsyncs: 50, Entries: 323, Syncs: 60}.Sub(got)
	if d.EntriesPerFsync() != 10 {
		t.Errorf("entries per fsync of the delta %+v = %v, want 10", d, d.EntriesPerFsync())
	}
	if _, err := parseFsyncStats([]byte(strings.ReplaceAll(text, "raftlab_fsyncs_total 41", ""))); err == nil {
		t.Error("a missing metric gave no error: a renamed metric would read as zero")
	}
}

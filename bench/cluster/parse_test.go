package cluster

import (
	"strings"
	"testing"
	"time"
)

func TestParseStatusKB(t *testing.T) {
	status := "Name:\traftnode\nVmPeak:\t  900000 kB\nVmHWM:\t   65432 kB\nVmRSS:\t   54321 kB\nThreads:\t12\n"
	for field, want := range map[string]int64{"VmRSS": 54321 << 10, "VmHWM": 65432 << 10} {
		got, err := parseStatusKB(status, field)
		if err != nil || got != want {
			t.Errorf("parseStatusKB(%s) = %d, %v; want %d", field, got, err, want)
		}
	}
	if _, err := parseStatusKB("Name:\tzombie\n", "VmRSS"); err == nil {
		t.Error("no VmRSS line gave no error")
	}
	if _, err := parseStatusKB("VmRSS:\t12 MB\n", "VmRSS"); err == nil {
		t.Error("a line in MB gave no error")
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

package cluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Figures read from /proc (Linux).

// RSS returns the member's resident set size now (VmRSS of
// /proc/PID/status), in bytes.
func (m *Member) RSS() (int64, error) { return readStatusKB(m.PID(), "VmRSS") }

// PeakRSS returns the largest resident set size the member has had since
// it started (VmHWM of /proc/PID/status), in bytes.
func (m *Member) PeakRSS() (int64, error) { return readStatusKB(m.PID(), "VmHWM") }

// CPUTime returns the CPU time (user plus system) the member has used since
// it started.
func (m *Member) CPUTime() (time.Duration, error) { return readCPUTime(m.PID()) }

func readStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("cluster: %s: %w", field, err)
	}
	return parseStatusKB(string(b), field)
}

// parseStatusKB reads a line like "VmRSS:  123456 kB" out of a
// /proc/PID/status text.
func parseStatusKB(status, field string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("cluster: %s: odd line %q", field, strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cluster: %s: %w", field, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("cluster: no %s line (has the process exited?)", field)
}

// userHZ is the unit of the times in /proc/PID/stat: 100 on every Linux
// architecture Go supports.
const userHZ = 100

func readCPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cluster: cpu time: %w", err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU adds utime and stime (fields 14 and 15) of a /proc/PID/stat
// text. The command name (field 2) is in parentheses and may hold spaces,
// so fields are counted after its closing parenthesis.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("cluster: cpu time: odd stat %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("cluster: cpu time: short stat %q", stat)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cluster: cpu time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// A member's store damaged on disk (a value file truncated or with a
// flipped bit) while the member is down: when it starts again it stops
// with a clear error, or it recovers and ends with the others' state; the
// cluster loses no acknowledged write either way.
//
// Badger keeps recent writes in a write-ahead log (*.mem) until a memtable
// flush or a clean stop moves them into tables (*.sst); values of 1 MiB and
// more live in the value log (*.vlog). kill -9 leaves the data in the
// write-ahead log; SIGTERM leaves it in tables.
func TestCorruptedStoreOnMinority(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes")
	}
	t.Parallel()
	damages := []struct {
		name  string
		kill  bool // kill -9 rather than SIGTERM
		match string
		apply func(dir string) (string, error)
	}{
		{"truncated write-ahead log", true, ".mem", func(dir string) (string, error) {
			return damageFile(dir, ".mem", func(b []byte, used int) ([]byte, string) {
				return b[:used/2], fmt.Sprintf("cut from %d bytes of records to %d", used, used/2)
			})
		}},
		{"bit flip in the write-ahead log", true, ".mem", func(dir string) (string, error) {
			return damageFile(dir, ".mem", func(b []byte, used int) ([]byte, string) {
				at := used * 3 / 4
				b[at] ^= 0x10
				return b, fmt.Sprintf("bit 4 of byte %d of %d flipped", at, used)
			})
		}},
		{"bit flip in a table", false, ".sst", func(dir string) (string, error) {
			return damageFile(dir, ".sst", func(b []byte, used int) ([]byte, string) {
				at := used / 3
				b[at] ^= 0x10
				return b, fmt.Sprintf("bit 4 of byte %d of %d flipped", at, used)
			})
		}},
		{"truncated table", false, ".sst", func(dir string) (string, error) {
			return damageFile(dir, ".sst", func(b []byte, used int) ([]byte, string) {
				return b[:used/2], fmt.Sprintf("cut from %d bytes to %d", used, used/2)
			})
		}},
		{"truncated value log", true, ".vlog", func(dir string) (string, error) {
			// Preallocated to 2 GiB: cut it without reading it.
			path, size, err := largestFile(dir, ".vlog")
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%s: cut from %d bytes to 10", filepath.Base(path), size), os.Truncate(path, 10)
		}},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			c := StartCluster(t, ClusterOptions{Size: 3, Flags: []string{"--tick", "50ms"}})
			leader := c.Leader(t)
			victim := c.Followers(t, leader)[0]
			acked := map[string]string{}
			var mu sync.Mutex
			write := func(from, n int) {
				var wg sync.WaitGroup
				for w := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						cl := c.NewClient()
						for i := from + w; i < from+n; i += 4 {
							k, v := fmt.Sprintf("k%04d", i), fmt.Sprintf("v%d-%d", i, time.Now().UnixNano())
							if op := cl.MustPut(t, leader, k, v); op.OK() {
								mu.Lock()
								acked[k] = v
								mu.Unlock()
							}
						}
					}()
				}
				wg.Wait()
			}
			write(0, 300)
			victim.WaitApplied(t, leader.MustStatus(t).Commit)
			if d.kill {
				victim.Kill(t)
			} else if code := victim.Stop(t); code != 0 {
				t.Fatalf("SIGTERM: exit %d", code)
			}
			write(300, 100) // while it is down: it must catch up on these
			what, err := d.apply(victim.DataDir)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("member %d's %s: %s", victim.ID, d.match, what)

			// It starts: it stops with a clear error, or it runs. Keep
			// writing either way.
			victim.StartNoWait(t)
			write(400, 100)
			var outcome string
			waitFor(t, waitTimeout, fmt.Sprintf("member %d to exit or catch up", victim.ID), func() (bool, string) {
				if !victim.Running() {
					outcome = "stopped"
					return true, ""
				}
				st, err := victim.Status()
				if err != nil {
					return false, err.Error()
				}
				lst, err := leader.Status()
				if err != nil {
					return false, err.Error()
				}
				if st.Applied >= lst.Commit {
					outcome = "recovered"
					return true, ""
				}
				return false, fmt.Sprintf("applied %d, leader's commit %d", st.Applied, lst.Commit)
			})
			if outcome == "stopped" {
				code := victim.WaitExit(t, waitTimeout)
				last := ""
				for _, l := range strings.Split(victim.Log(), "\n") {
					if strings.HasPrefix(l, "raftnode: ") {
						last = l
					}
				}
				if code == 0 || last == "" || strings.Contains(victim.Log(), "goroutine ") {
					t.Fatalf("member %d stopped with code %d and no clear error:\n%s", victim.ID, code, victim.LogTail(15))
				}
				t.Logf("member %d stopped (exit %d): %s", victim.ID, code, last)
			}

			// Nothing acknowledged is lost on the healthy majority, which
			// still takes writes.
			final := c.NewClient().MustPut(t, leader, "final", "after the damage")
			healthy := c.Followers(t, leader)
			healthy = slices.DeleteFunc(append(healthy, leader), func(m *Member) bool { return m == victim })
			for _, m := range healthy {
				m.WaitApplied(t, final.Index)
			}
			check := []*Member{}
			check = append(check, healthy...)
			if outcome == "recovered" {
				victim.WaitApplied(t, final.Index)
				check = append(check, victim)
			}
			cl := c.NewClient()
			for _, m := range check {
				for k, v := range acked {
					if op := cl.Get(m, k, "serializable"); !op.Found() || op.Value != v {
						t.Fatalf("member %d: acknowledged %s=%q: %s %q", m.ID, k, v, op, op.Value)
					}
				}
			}
			if outcome == "recovered" {
				// Recovered means equal: same state at the same index.
				waitFor(t, waitTimeout, "equal digests", func() (bool, string) {
					var ds []string
					for _, m := range check {
						r, err := m.Do(http.MethodGet, "/cluster/digest", nil)
						if err != nil || r.Status != 200 {
							return false, fmt.Sprint(r, err)
						}
						var d digestAnswer
						_ = json.Unmarshal(r.Body, &d)
						ds = append(ds, fmt.Sprintf("%d/%s", d.Applied, d.Hash))
					}
					return !slices.ContainsFunc(ds, func(s string) bool { return s != ds[0] }), strings.Join(ds, " ")
				})
				if !victim.Running() {
					t.Fatalf("member %d recovered, then stopped:\n%s", victim.ID, victim.LogTail(10))
				}
			}
			t.Logf("%s: member %d %s; %d acknowledged writes intact on %d members", d.name, victim.ID, outcome, len(acked), len(check))
		})
	}
}

// damageFile applies damage to the largest file of dir whose name ends
// with suffix. used is how much of it holds data: Badger preallocates its
// logs, zero-filled, so the data ends at the last non-zero byte.
func damageFile(dir, suffix string, damage func(b []byte, used int) ([]byte, string)) (string, error) {
	path, _, err := largestFile(dir, suffix)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	used := len(bytes.TrimRight(b, "\x00"))
	if used == 0 {
		return "", fmt.Errorf("%s holds no data", path)
	}
	out, what := damage(b, used)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return "", err
	}
	return filepath.Base(path) + ": " + what, nil
}

// largestFile returns the largest file of dir whose name ends with suffix.
func largestFile(dir, suffix string) (string, int64, error) {
	matches, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
	var path string
	var size int64 = -1
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.Size() > size {
			path, size = m, fi.Size()
		}
	}
	if path == "" {
		return "", 0, fmt.Errorf("no %s file in %s", suffix, dir)
	}
	return path, size, nil
}

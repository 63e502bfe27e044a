package main

import (
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// printHeader says what ran where: the machine, the builds and the
// settings, so that a table pasted elsewhere carries its context.
func printHeader(out io.Writer, c *config) {
	fmt.Fprintln(out, "Raftlab vs etcd, side by side (bench/cmd/compare)")
	fmt.Fprintf(out, "machine:  %s, %d cores, %s RAM, Linux %s; data on %s (%s)\n",
		cpuModel(), runtime.NumCPU(), memTotal(), kernel(), fsType(dataRoot(c)), dataRoot(c))
	fmt.Fprintf(out, "builds:   harness %s; raftnode %s; etcdmember %s\n",
		runtime.Version(),
		binaryInfo(c.raftnode, "go.etcd.io/raft/v3", "github.com/dgraph-io/badger/v4"),
		binaryInfo(c.etcdmember, "go.etcd.io/etcd/server/v3", "go.etcd.io/raft/v3"))
	fmt.Fprintln(out, "clusters: 3 members each, one process per member, loopback; tick 100 ms, election 10 ticks (1000 ms),")
	fmt.Fprintln(out, "          snapshot every 10000 entries (5000 kept), fsync on; a fresh cluster for every system in every round")
	if len(c.raftnodeArgs) > 0 {
		fmt.Fprintf(out, "          raftnode also given: %s\n", strings.Join(c.raftnodeArgs, " "))
	}
	keys := "a new key every write"
	if c.hotKeys > 0 {
		keys = fmt.Sprintf("a hot set of %d keys", c.hotKeys)
	}
	where := "clients spread over the members (fewer clients than members: through the leader, then a follower)"
	if c.pin > 0 {
		where = fmt.Sprintf("every client on member %d", c.pin)
	}
	var names []string
	for _, s := range c.systems {
		names = append(names, s.name)
	}
	fmt.Fprintf(out, "load:     closed-loop clients %v, %d B values, %s, %s; %v measured after %v warm-up\n",
		c.clients, c.valueBytes, keys, where, c.duration, c.warmup)
	conns := "one per client"
	if c.grpcConns > 0 {
		conns = fmt.Sprintf("%d shared", c.grpcConns)
	}
	fmt.Fprintf(out, "          HTTP: one keep-alive connection per client; gRPC: clientv3, connections %s\n", conns)
	fmt.Fprintf(out, "rounds:   %d, each in the order %s\n", c.rounds, strings.Join(names, ", "))
	fmt.Fprintf(out, "loadavg:  %s at the start (other work on the machine skews every figure)\n", loadAvg())
	if c.smoke {
		fmt.Fprintln(out, "SMOKE RUN: windows too short for figures worth quoting; it checks that the harness works")
	}
}

func printRun(out io.Writer, r runResult) {
	l := r.res.Latency
	fmt.Fprintf(out, "  %-10s %-22s %8.0f ops/s  p50 %7s  p90 %7s  p99 %7s  max %7s  errors %d  cpu: cluster %.2f, loadgen %.2f",
		r.system, runCase{r.res.Clients, r.via}, r.res.Throughput(), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), r.res.Errors, r.clusterCPU, r.loadCPU)
	if r.system == "raftlab" {
		fmt.Fprintf(out, "  entries/fsync: leader %s, all %.1f", fsyncText(r.fsyncLeader), r.fsyncAll)
	}
	fmt.Fprintln(out)
	for _, e := range r.res.ErrorSamples {
		fmt.Fprintf(out, "             error: %s\n", e)
	}
}

// printSummary prints, per client count, the medians over the rounds of
// each system and the ratios Raftlab/etcd, with the throughput ratio round by
// round; then RSS and batching.
func printSummary(out io.Writer, c *config, results []runResult) {
	fmt.Fprintf(out, "\nSUMMARY: medians over %d round(s); throughput in writes/s, latency in ms, cpu in cores used\n", c.rounds)
	type agg struct {
		tput, p50, p90, p99, max, errs, ccpu, lcpu, fl, fa float64
		n                                                  int
	}
	get := func(system string, rc runCase) (agg, bool) {
		var tput, p50, p90, p99, mx, errs, ccpu, lcpu, fl, fa []float64
		for _, r := range results {
			if !r.of(system, rc) {
				continue
			}
			l := r.res.Latency
			tput = append(tput, r.res.Throughput())
			p50 = append(p50, msf(l.P50))
			p90 = append(p90, msf(l.P90))
			p99 = append(p99, msf(l.P99))
			mx = append(mx, msf(l.Max))
			errs = append(errs, float64(r.res.Errors))
			ccpu = append(ccpu, r.clusterCPU)
			lcpu = append(lcpu, r.loadCPU)
			if r.fsyncLeader >= 0 {
				fl = append(fl, r.fsyncLeader)
			}
			fa = append(fa, r.fsyncAll)
		}
		if len(tput) == 0 {
			return agg{}, false
		}
		return agg{median(tput), median(p50), median(p90), median(p99), median(mx), median(errs),
			median(ccpu), median(lcpu), median(fl), median(fa), len(tput)}, true
	}
	rcs := runCases(c, clusterMembers)
	for _, n := range rcs {
		fmt.Fprintf(out, "\n%v, %d B values\n", n, c.valueBytes)
		fmt.Fprintf(out, "  %-15s %9s %8s %8s %8s %8s %7s %12s %8s\n", "system", "ops/s", "p50", "p90", "p99", "max", "errors", "cpu cluster", "loadgen")
		for _, s := range c.systems {
			a, ok := get(s.name, n)
			if !ok {
				continue
			}
			fmt.Fprintf(out, "  %-15s %9.0f %8.2f %8.2f %8.2f %8.2f %7.0f %12.2f %8.2f\n", s.name, a.tput, a.p50, a.p90, a.p99, a.max, a.errs, a.ccpu, a.lcpu)
		}
		rl, ok := get("raftlab", n)
		if !ok {
			continue
		}
		for _, other := range []string{"etcd-grpc", "etcd-http"} {
			if e, ok := get(other, n); ok {
				fmt.Fprintf(out, "  raftlab/%-10s throughput %s   p50 %s   p99 %s\n", other, ratio(rl.tput, e.tput), ratio(rl.p50, e.p50), ratio(rl.p99, e.p99))
				printRoundRatios(out, results, "raftlab", other, n)
			}
		}
		if w, ok := get("raftlab-watched", n); ok {
			// The cost of observation: the budget is a drop of 5%.
			fmt.Fprintf(out, "  raftlab-watched/raftlab throughput %s   p50 %s   p99 %s\n", ratio(w.tput, rl.tput), ratio(w.p50, rl.p50), ratio(w.p99, rl.p99))
			printRoundRatios(out, results, "raftlab-watched", "raftlab", n)
		}
		fmt.Fprintf(out, "  raftlab entries per fsync: leader %s, all members %.1f\n", fsyncText(rl.fl), rl.fa)
	}
	// Batching: the most clients against the fewest, on each path of the
	// fewest.
	if len(c.clients) > 1 {
		lo, hi := slices.Min(c.clients), slices.Max(c.clients)
		for _, a := range rcs {
			for _, b := range rcs {
				if a.clients != lo || b.clients != hi {
					continue
				}
				ra, ok1 := get("raftlab", a)
				rb, ok2 := get("raftlab", b)
				if ok1 && ok2 {
					fmt.Fprintf(out, "\nraftlab throughput %v / %v: %s", b, a, ratio(rb.tput, ra.tput))
				}
			}
		}
		fmt.Fprintln(out)
	}

	reportRSS(out, c, results)
}

// reportRSS prints the members' RSS at the end of each cluster's load, after
// -settle of quiet, and at its peak: median, min and max over every member
// of every round, and the ratios Raftlab/etcd of the medians.
func reportRSS(out io.Writer, c *config, results []runResult) {
	kinds := []struct {
		name string
		get  func(runResult) []int64
	}{
		{"at the end", func(r runResult) []int64 { return r.rssBytes }},
		{fmt.Sprintf("%v later", c.settle), func(r runResult) []int64 { return r.settledBytes }},
		{"peak", func(r runResult) []int64 { return r.peakBytes }},
	}
	if c.settle <= 0 {
		kinds = slices.Delete(kinds, 1, 2)
	}
	fmt.Fprintln(out, "\nRSS per member, MiB: median (min-max) over every member of every round")
	fmt.Fprintf(out, "  %-17s", "system")
	for _, k := range kinds {
		fmt.Fprintf(out, " %16s", k.name)
	}
	fmt.Fprintln(out)
	med := map[string][]float64{}
	for _, s := range c.systems {
		line := fmt.Sprintf("  %-17s", s.name)
		var meds []float64
		for _, k := range kinds {
			var all []float64
			for _, r := range results {
				if r.system == s.name {
					for _, b := range k.get(r) {
						all = append(all, float64(b)/(1<<20))
					}
				}
			}
			if len(all) == 0 {
				meds = nil
				break
			}
			meds = append(meds, median(all))
			line += fmt.Sprintf(" %16s", fmt.Sprintf("%.0f (%.0f-%.0f)", median(all), slices.Min(all), slices.Max(all)))
		}
		if meds != nil {
			med[s.name] = meds
			fmt.Fprintln(out, line)
		}
	}
	for _, other := range []string{"etcd-grpc", "etcd-http"} {
		a, b := med["raftlab"], med[other]
		if a == nil || b == nil {
			continue
		}
		var parts []string
		for i, k := range kinds {
			parts = append(parts, fmt.Sprintf("%s %s", k.name, ratio(a[i], b[i])))
		}
		fmt.Fprintf(out, "  raftlab/%-10s RSS %s\n", other, strings.Join(parts, ", "))
	}
}

// ratio formats a/b as "1.23x", or a dash when b is 0.
func ratio(a, b float64) string {
	if b == 0 {
		return "   -  "
	}
	return fmt.Sprintf("%5.2fx", a/b)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", msf(d)) }

func fsyncText(f float64) string {
	if f < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f", f)
}

func dataRoot(c *config) string {
	if c.dataRoot != "" {
		return c.dataRoot
	}
	return os.TempDir()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		var kb int64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "?"
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// fsType names the filesystem under dir: tmpfs would make fsync free and
// the comparison meaningless for disk-bound work.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "?"
	}
	switch uint64(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs (fsync costs nothing here)"
	case 0x794C7630:
		return "overlayfs"
	default:
		return fmt.Sprintf("fs type %#x", uint64(st.Type))
	}
}

// binaryInfo reads a binary's Go version and the versions of the named
// modules from its build information.
func binaryInfo(path string, modules ...string) string {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	parts := []string{bi.GoVersion}
	for _, mod := range modules {
		v := "?"
		for _, d := range bi.Deps {
			if d.Path == mod {
				v = d.Version
				if d.Replace != nil {
					v += " => " + d.Replace.Path + " " + d.Replace.Version
				}
			}
		}
		parts = append(parts, mod+" "+v)
	}
	return parts[0] + " (" + strings.Join(parts[1:], ", ") + ")"
}

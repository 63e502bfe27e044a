//go:build unix

package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftlab/raftlab/core"
)

// A three-member cluster of real processes: a write through any member is
// read back, linearizably, on every member; a leader killed with kill -9
// is replaced, and when it comes back it catches up.
func TestThreeMembers(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, ClusterOptions{Size: 3})
	cl := c.NewClient()
	ms := c.Members()

	for _, m := range ms {
		cl.MustPut(t, m, fmt.Sprintf("via-%d", m.ID), fmt.Sprintf("written through member %d", m.ID))
	}
	for _, reader := range ms {
		for _, m := range ms {
			cl.WantValue(t, reader, fmt.Sprintf("via-%d", m.ID), "", fmt.Sprintf("written through member %d", m.ID))
		}
	}
	// A linearizable read of an absent key is a 404, not a stale value.
	if op := cl.Get(ms[0], "never-written", ""); op.Status != http.StatusNotFound {
		t.Fatalf("absent key: %s", op)
	}

	// kill -9 the leader: the others elect a new one. Raft's election
	// timeout here is 10 ticks of 100 ms, randomized up to twice that; the
	// issue asks for a new leader within 5 s. The figure is logged, not
	// asserted: WaitNewLeader fails only after waitTimeout.
	old := c.Leader(t)
	term := old.MustStatus(t).Term
	old.Kill(t)
	killed := time.Now()
	leader, took := c.WaitNewLeader(t, term, killed)
	t.Logf("kill -9 of leader %d (term %d): member %d leads after %v (requirement: 5s)", old.ID, term, leader.ID, took.Round(time.Millisecond))

	// The survivors keep serving, through both of them.
	for _, m := range c.Running() {
		cl.MustPut(t, m, fmt.Sprintf("while-%d-down-via-%d", old.ID, m.ID), "v")
	}
	last := cl.MustPut(t, leader, "latest", "after the new leader")

	// The old leader restarts from its data and catches up: its local
	// (serializable) read returns the writes it missed.
	restarted := time.Now()
	old.Start(t)
	cl.WaitValue(t, old, "latest", "serializable", "after the new leader")
	t.Logf("member %d restarted and caught up to index %d in %v", old.ID, last.Index, time.Since(restarted).Round(time.Millisecond))
	for _, m := range c.Members() {
		if m != old {
			cl.WantValue(t, old, fmt.Sprintf("while-%d-down-via-%d", old.ID, m.ID), "serializable", "v")
		}
	}
	for _, m := range ms {
		cl.WantValue(t, old, fmt.Sprintf("via-%d", m.ID), "", fmt.Sprintf("written through member %d", m.ID))
	}
}

// killCycles is how many kill -9 and restart cycles TestKillRestartCycles
// runs: 20 (6 with -short), or RAFTLAB_KILL_CYCLES (the extended tier of
// make test-robust runs 100).
func killCycles() int {
	if n := envInt("RAFTLAB_KILL_CYCLES", 0); n > 0 {
		return n
	}
	if testing.Short() {
		return 6
	}
	return 20
}

// A writer of unique keys runs while members are killed with kill -9 and
// restarted, the leader every other cycle: no write the cluster
// acknowledged is lost, and every member ends with all of them.
func TestKillRestartCycles(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, ClusterOptions{Size: 3})
	ms := c.Members()

	// Writers put w<writer>-<n>=<random> through the members in turn, each
	// one request at a time, and record what was acknowledged. There are
	// several: a write caught in a leader's death waits for its timeout
	// (its outcome is unknown), and the others keep going meanwhile.
	const writers = 4
	var (
		mu      sync.Mutex
		acked   = map[string]string{}
		lastKey string
		nAcked  atomic.Int64
		nFailed atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for wr := range writers {
		w := c.NewClient()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				m := ms[(n+wr)%len(ms)]
				if !m.Running() {
					continue
				}
				key := fmt.Sprintf("w%d-%06d", wr, n)
				value := fmt.Sprintf("%x", rand.Uint64())
				op := w.Put(m, key, value)
				if op.Status == http.StatusOK {
					mu.Lock()
					acked[key] = value
					lastKey = key
					mu.Unlock()
					nAcked.Add(1)
					continue
				}
				// No leader yet, or the member just died: the write may
				// or may not happen; it is not acknowledged.
				nFailed.Add(1)
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond): // pace retries; nothing is timed
				}
			}
		}()
	}
	stopWriter := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopWriter)
	// waitWrites waits until the writer got n more acknowledgements.
	waitWrites := func(n int64, what string) {
		t.Helper()
		from := nAcked.Load()
		waitFor(t, waitTimeout, what, func() (bool, string) {
			return nAcked.Load() >= from+n, fmt.Sprintf("%d acknowledged, %d failed", nAcked.Load(), nFailed.Load())
		})
	}
	latest := func() (string, string) {
		mu.Lock()
		defer mu.Unlock()
		return lastKey, acked[lastKey]
	}
	waitWrites(20, "the first writes")

	var elections, catchUps []time.Duration
	followerTurn := 0
	for cycle := range killCycles() {
		leader := c.Leader(t)
		term := leader.MustStatus(t).Term
		victim := leader
		if cycle%2 == 1 {
			// A follower, a different one each time.
			fs := c.Followers(t, leader)
			victim = fs[followerTurn%len(fs)]
			followerTurn++
		}
		victim.Kill(t)
		killed := time.Now()
		role := "follower"
		if victim == leader {
			role = "leader"
			nl, took := c.WaitNewLeader(t, term, killed)
			elections = append(elections, took)
			t.Logf("cycle %d: kill -9 leader %d: member %d leads after %v", cycle, victim.ID, nl.ID, took.Round(time.Millisecond))
		}
		// Two of three keep taking writes.
		waitWrites(5, fmt.Sprintf("cycle %d: writes with member %d down", cycle, victim.ID))
		key, value := latest()
		restarted := time.Now()
		victim.Start(t)
		c.NewClient().WaitValue(t, victim, key, "serializable", value)
		catchUps = append(catchUps, time.Since(restarted))
		t.Logf("cycle %d: %s %d was down %v, caught up in %v (%d writes acknowledged, %d failed so far)",
			cycle, role, victim.ID, restarted.Sub(killed).Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond), nAcked.Load(), nFailed.Load())
		// Every member back: the writer makes progress before the next kill.
		waitWrites(5, fmt.Sprintf("cycle %d: writes after member %d restarted", cycle, victim.ID))
	}
	stopWriter()
	t.Logf("%d kill cycles: %d writes acknowledged, %d failed or unknown", killCycles(), nAcked.Load(), nFailed.Load())
	t.Logf("new leader after kill -9 of the leader: %s", durationSummary(elections))
	t.Logf("restarted member caught up in: %s", durationSummary(catchUps))

	// Every member applies everything the cluster acknowledged, then reads
	// every acknowledged write locally.
	leader := c.Leader(t)
	commit := c.NewClient().MustPut(t, leader, "final", "done").Index
	for _, m := range ms {
		m.WaitApplied(t, commit)
	}
	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var (
		lost   []string
		lostMu sync.Mutex
		rg     sync.WaitGroup
		next   atomic.Int64
	)
	for range 8 {
		rg.Add(1)
		go func() {
			defer rg.Done()
			r := c.NewClient()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					return
				}
				k := keys[i]
				for _, m := range ms {
					if op := r.Get(m, k, "serializable"); !op.Found() || op.Value != acked[k] {
						lostMu.Lock()
						lost = append(lost, fmt.Sprintf("member %d: %s=%q: %s %q", m.ID, k, acked[k], op, op.Value))
						lostMu.Unlock()
					}
				}
			}
		}()
	}
	rg.Wait()
	if len(lost) > 0 {
		slices.Sort(lost)
		t.Fatalf("%d of %d acknowledged writes missing or wrong:\n%s", len(lost), len(keys)*len(ms), strings.Join(lost[:min(len(lost), 30)], "\n"))
	}
	// And linearizably, a sample through each member.
	r := c.NewClient()
	for i, k := range keys {
		if i%97 == 0 {
			r.WantValue(t, ms[i%len(ms)], k, "", acked[k])
		}
	}
	t.Logf("all %d acknowledged writes present with their values on all %d members", len(keys), len(ms))
}

// durationSummary renders min, median and max of ds.
func durationSummary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("n=%d min %v median %v max %v", len(s), r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}

// A cluster over TLS (--tls-cert, --tls-key, --tls-ca): peers talk wss://,
// clients https://, and the event stream is wss://; a client that does not
// trust the cluster's CA, or speaks plain HTTP, gets nothing.
func TestTLSCluster(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, ClusterOptions{Size: 3, TLS: true, Flags: []string{"--tick", "50ms"}})
	cl := c.NewClient()
	for _, m := range c.Members() {
		if !strings.HasPrefix(m.URL, "https://") {
			t.Fatalf("member URL %s", m.URL)
		}
		cl.MustPut(t, m, fmt.Sprintf("tls-%d", m.ID), "over TLS")
	}
	for _, r := range c.Members() {
		for _, m := range c.Members() {
			cl.WantValue(t, r, fmt.Sprintf("tls-%d", m.ID), "", "over TLS")
		}
	}
	leader := c.Leader(t)
	es := leader.Events(t, 0, nil)
	es.WaitFor(t, "an event over wss://", func(e core.Event) bool { return e.Kind == core.KindApply })

	if _, err := http.Get(leader.URL + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client without the CA: %v", err)
	}
	resp, err := http.Get("http://" + leader.Addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain HTTP to a TLS member: %s", resp.Status)
	}
}

// A leader that hangs (SIGSTOP: its sockets stay open, it does nothing) is
// replaced; when it resumes it finds a newer term, follows, and serves
// again, without having lost or invented anything.
func TestPausedLeader(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, ClusterOptions{Size: 3, Flags: []string{"--tick", "50ms"}})
	cl := c.NewClient()
	old := c.Leader(t)
	cl.MustPut(t, old, "before", "the pause")
	term := old.MustStatus(t).Term
	old.Pause(t)
	paused := time.Now()
	leader, took := c.WaitNewLeader(t, term, paused)
	t.Logf("leader %d paused (SIGSTOP): member %d leads after %v", old.ID, leader.ID, took.Round(time.Millisecond))
	cl.MustPut(t, leader, "during", "the pause")

	old.Resume(t)
	waitFor(t, waitTimeout, fmt.Sprintf("member %d to follow %d", old.ID, leader.ID), func() (bool, string) {
		st, err := old.Status()
		if err != nil {
			return false, err.Error()
		}
		return st.Role == "follower" && st.Term > term && st.Leader == leader.ID, fmt.Sprintf("%s term %d lead %d", st.Role, st.Term, st.Leader)
	})
	cl.WantValue(t, old, "during", "", "the pause")
	cl.MustPut(t, old, "after", "the pause")
	for _, m := range c.Members() {
		cl.WantValue(t, m, "before", "", "the pause")
		cl.WantValue(t, m, "after", "", "the pause")
	}
}

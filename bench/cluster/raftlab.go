package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// controlClient is for the launcher's own requests, never the load.
var controlClient = &http.Client{Timeout: 5 * time.Second}

// StartRaftlab starts a Raftlab cluster of o.Members members from
// o.Binary (bin/raftnode) and returns once every member knows the same
// leader and has taken a write.
func StartRaftlab(ctx context.Context, o Options) (*Cluster, error) {
	o = o.withDefaults()
	ports, err := freePorts(o.Members)
	if err != nil {
		return nil, err
	}
	members := make([]*Member, o.Members)
	var initial []string
	for i := range members {
		u := fmt.Sprintf("http://127.0.0.1:%d", ports[i])
		members[i] = &Member{Name: strconv.Itoa(i + 1), ClientURL: u, PeerURL: u}
		initial = append(initial, fmt.Sprintf("%d=%s", i+1, u))
	}
	token := make([]byte, 16)
	_, _ = rand.Read(token)
	c, err := launch(KindRaftlab, o, members, func(i int) []string {
		return []string{
			"--id", members[i].Name,
			"--listen", strings.TrimPrefix(members[i].ClientURL, "http://"),
			"--initial-cluster", strings.Join(initial, ","),
			"--cluster-token", hex.EncodeToString(token),
			"--data-dir", members[i].DataDir,
			"--tick", fmt.Sprintf("%dms", o.TickMs),
			"--election-ticks", strconv.Itoa(o.ElectionTicks),
			"--heartbeat-ticks", "1",
			"--snapshot-entries", strconv.FormatUint(o.SnapshotEntries, 10),
			"--snapshot-catchup-entries", strconv.FormatUint(o.SnapshotCatchUpEntries, 10),
		}
	})
	if err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "leader known to every member", func(ctx context.Context) error {
		_, err := c.RaftlabLeader(ctx)
		return err
	}); err != nil {
		return nil, c.failStart(err)
	}
	for _, m := range c.Members {
		if err := c.waitFor(ctx, "write through member "+m.Name, func(ctx context.Context) error {
			status, body, err := httpDo(ctx, controlClient, http.MethodPut, m.ClientURL+"/kv/bench-ready-"+m.Name, []byte("ready"))
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("PUT /kv: %d %s", status, bytes.TrimSpace(body))
			}
			return err
		}); err != nil {
			return nil, c.failStart(err)
		}
	}
	return c, nil
}

// RaftlabLeader returns the index in c.Members of the leader every member
// agrees on (GET /cluster?local=1), or an error when they do not agree yet.
func (c *Cluster) RaftlabLeader(ctx context.Context) (int, error) {
	var lead uint64
	for _, m := range c.Members {
		status, body, err := httpDo(ctx, controlClient, http.MethodGet, m.ClientURL+"/cluster?local=1", nil)
		if err != nil {
			return -1, err
		}
		if status != http.StatusOK {
			return -1, fmt.Errorf("member %s: GET /cluster: %d %s", m.Name, status, bytes.TrimSpace(body))
		}
		var st struct {
			Leader uint64 `json:"leader"`
		}
		if err := json.Unmarshal(body, &st); err != nil {
			return -1, fmt.Errorf("member %s: GET /cluster: %w", m.Name, err)
		}
		if err := agree(&lead, m.Name, st.Leader); err != nil {
			return -1, err
		}
	}
	for i, m := range c.Members {
		if m.Name == strconv.FormatUint(lead, 10) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("leader %d is not a member started here", lead)
}

// FsyncStats are a Raftlab member's batching counters from /metrics.
type FsyncStats struct {
	// Fsyncs is raftlab_fsyncs_total.
	Fsyncs float64
	// Entries and Syncs are raftlab_entries_per_fsync_sum and _count: the
	// entries persisted by synced writes, and those writes.
	Entries, Syncs float64
}

// Sub returns the counters' growth from before to s.
func (s FsyncStats) Sub(before FsyncStats) FsyncStats {
	return FsyncStats{Fsyncs: s.Fsyncs - before.Fsyncs, Entries: s.Entries - before.Entries, Syncs: s.Syncs - before.Syncs}
}

// EntriesPerFsync is the batching factor: entries per synced write (0 when
// nothing was synced).
func (s FsyncStats) EntriesPerFsync() float64 {
	if s.Syncs == 0 {
		return 0
	}
	return s.Entries / s.Syncs
}

// RaftlabFsyncs scrapes every member's /metrics, in member order.
func (c *Cluster) RaftlabFsyncs(ctx context.Context) ([]FsyncStats, error) {
	out := make([]FsyncStats, len(c.Members))
	for i, m := range c.Members {
		status, body, err := httpDo(ctx, controlClient, http.MethodGet, m.ClientURL+"/metrics", nil)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("status %d", status)
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: member %s: GET /metrics: %w", m.Name, err)
		}
		if out[i], err = parseFsyncStats(body); err != nil {
			return nil, fmt.Errorf("cluster: member %s: %w", m.Name, err)
		}
	}
	return out, nil
}

// parseFsyncStats reads the three samples it needs out of Prometheus' text
// format; a missing one is an error, since a renamed metric must not turn
// into a silent zero.
func parseFsyncStats(text []byte) (FsyncStats, error) {
	var s FsyncStats
	want := map[string]*float64{
		"raftlab_fsyncs_total":            &s.Fsyncs,
		"raftlab_entries_per_fsync_sum":   &s.Entries,
		"raftlab_entries_per_fsync_count": &s.Syncs,
	}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		p, wanted := want[name]
		if !ok || !wanted {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return s, fmt.Errorf("metrics: %s: %w", name, err)
		}
		*p = f
		delete(want, name)
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	for name := range want {
		return s, fmt.Errorf("metrics: no sample %s", name)
	}
	return s, nil
}

package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// StartEtcd starts an etcd cluster of o.Members members, one etcdmember
// process (o.Binary) each, and returns once every member reports the same
// leader and has taken a write.
func StartEtcd(ctx context.Context, o Options) (*Cluster, error) {
	o = o.withDefaults()
	ports, err := freePorts(2 * o.Members)
	if err != nil {
		return nil, err
	}
	members := make([]*Member, o.Members)
	var initial []string
	for i := range members {
		members[i] = &Member{
			Name:      "m" + strconv.Itoa(i+1),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
		}
		initial = append(initial, members[i].Name+"="+members[i].PeerURL)
	}
	token := make([]byte, 8)
	_, _ = rand.Read(token)
	c, err := launch(KindEtcd, o, members, func(i int) []string {
		return []string{
			"--name", members[i].Name,
			"--data-dir", members[i].DataDir,
			"--client-url", members[i].ClientURL,
			"--peer-url", members[i].PeerURL,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-token", "raftlab-bench-" + hex.EncodeToString(token),
			"--heartbeat-ms", strconv.Itoa(o.TickMs),
			"--election-ms", strconv.Itoa(o.TickMs * o.ElectionTicks),
			"--snapshot-count", strconv.FormatUint(o.SnapshotEntries, 10),
			"--snapshot-catchup-entries", strconv.FormatUint(o.SnapshotCatchUpEntries, 10),
		}
	})
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: o.ReadyTimeout, Logger: zap.NewNop()})
	if err != nil {
		return nil, c.failStart(fmt.Errorf("cluster: etcd client: %w", err))
	}
	defer cli.Close()
	if err := c.waitFor(ctx, "leader known to every member", func(ctx context.Context) error {
		_, err := c.etcdLeader(ctx, cli)
		return err
	}); err != nil {
		return nil, c.failStart(err)
	}
	for _, m := range c.Members {
		one, err := clientv3.New(clientv3.Config{Endpoints: []string{m.ClientURL}, DialTimeout: o.ReadyTimeout, Logger: zap.NewNop()})
		if err != nil {
			return nil, c.failStart(fmt.Errorf("cluster: etcd client: %w", err))
		}
		err = c.waitFor(ctx, "write through member "+m.Name, func(ctx context.Context) error {
			_, err := one.Put(ctx, "bench-ready-"+m.Name, "ready")
			return err
		})
		_ = one.Close()
		if err != nil {
			return nil, c.failStart(err)
		}
	}
	return c, nil
}

// EtcdLeader returns the index in c.Members of the leader every member
// agrees on, or an error when they do not agree yet.
func (c *Cluster) EtcdLeader(ctx context.Context) (int, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return -1, fmt.Errorf("cluster: etcd client: %w", err)
	}
	defer cli.Close()
	return c.etcdLeader(ctx, cli)
}

func (c *Cluster) etcdLeader(ctx context.Context, cli *clientv3.Client) (int, error) {
	var lead uint64
	at := -1
	for i, m := range c.Members {
		st, err := cli.Status(ctx, m.ClientURL)
		if err != nil {
			return -1, fmt.Errorf("member %s: %w", m.Name, err)
		}
		if err := agree(&lead, m.Name, st.Leader); err != nil {
			return -1, err
		}
		if st.Header.GetMemberId() == lead {
			at = i
		}
	}
	if at < 0 {
		return -1, fmt.Errorf("leader %x is not a member started here", lead)
	}
	return at, nil
}

// Leader returns the index in c.Members of the current leader.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	if c.Kind == KindEtcd {
		return c.EtcdLeader(ctx)
	}
	return c.RaftlabLeader(ctx)
}

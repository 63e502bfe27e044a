// Package load is the benchmark's load generator: N closed-loop clients,
// each sending one write at a time over its own keep-alive connection to a
// Target (Raftlab's HTTP KV API, etcd's gRPC client or etcd's HTTP/JSON
// gateway), for a warm-up that is not measured and then a measured window.
// It reports the writes that started in the window, the errors, the
// throughput and the latency percentiles.
package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Target is a system under load as its clients see it.
type Target interface {
	// Name is a short label: "raftlab", "etcd-grpc", "etcd-http".
	Name() string
	// NewConn opens a connection (an HTTP keep-alive connection, a gRPC
	// client) to the member at endpoint, http://127.0.0.1:PORT.
	NewConn(endpoint string, maxClients int) (Conn, error)
}

// Conn is one connection to a member. Put is called by up to maxClients
// goroutines at once (one per client that shares the connection).
type Conn interface {
	// Put writes value at key and returns once the system has
	// acknowledged it (committed and applied, in both systems).
	Put(ctx context.Context, key string, value []byte) error
	Close() error
}

// Config is one load run.
type Config struct {
	// Clients is the number of concurrent closed-loop clients.
	Clients int
	// Conns is the number of connections the clients share, round-robin
	// (0: one per client, which HTTP targets need to have one keep-alive
	// connection per client).
	Conns int
	// ValueBytes is the size of every value written.
	ValueBytes int
	// Warmup runs the load unmeasured before the window; Duration is the
	// measured window.
	Warmup, Duration time.Duration
	// HotKeys > 0 draws every key uniformly from that many keys; 0 writes
	// a new key every time.
	HotKeys int
	// Endpoints are the members' client URLs; connection j goes to
	// Endpoints[j % len(Endpoints)]. One endpoint pins the load to one
	// member.
	Endpoints []string
	// RequestTimeout bounds each write (default 5s).
	RequestTimeout time.Duration
	// Seed makes the values and the hot-key draws reproducible.
	Seed uint64
	// KeepWrites keeps every measured write in Result.Writes, for a
	// timeline of the run (compare -latency-log).
	KeepWrites bool
	// OnWindow, if set, is called as the measured window opens (true)
	// and closes (false), for figures taken over the same window
	// (metrics, CPU time).
	OnWindow func(open bool)
}

// Result is what one run measured in its window.
type Result struct {
	Target  string
	Clients int
	// Ops are the writes acknowledged that started in the window; Errors
	// those that failed.
	Ops, Errors int
	// Window is the measured window's real length.
	Window time.Duration
	// Latency summarizes the acknowledged writes.
	Latency Latency
	// ErrorSamples are up to 3 distinct error texts, to say why.
	ErrorSamples []string
	// Writes are the acknowledged writes in the order they started, with
	// Config.KeepWrites; nil without.
	Writes []Write
}

// Write is one acknowledged write of the window.
type Write struct {
	// Client is the client that made it, 0 to Clients-1.
	Client int
	// Start is when the client sent it; Latency how long the answer took.
	Start   time.Time
	Latency time.Duration
}

// Throughput is acknowledged writes per second.
func (r Result) Throughput() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Window.Seconds()
}

// errorPause keeps a client whose requests fail at once (refused
// connection) from spinning: errors are counted, not provoked.
const errorPause = 5 * time.Millisecond

// Run drives the target with cfg and returns the window's figures. It
// fails only when it cannot open the connections; request errors are
// counted in the result. It ends by itself after Warmup+Duration (plus the
// request timeout at most), or earlier when ctx ends.
func Run(ctx context.Context, t Target, cfg Config) (Result, error) {
	if cfg.Clients <= 0 || cfg.Duration <= 0 || len(cfg.Endpoints) == 0 || cfg.ValueBytes < 0 {
		return Result{}, errors.New("load: want clients > 0, duration > 0, an endpoint and a value size >= 0")
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	nConns := cfg.Conns
	if nConns <= 0 || nConns > cfg.Clients {
		nConns = cfg.Clients
	}
	perConn := (cfg.Clients + nConns - 1) / nConns
	conns := make([]Conn, 0, nConns)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for j := range nConns {
		c, err := t.NewConn(cfg.Endpoints[j%len(cfg.Endpoints)], perConn)
		if err != nil {
			return Result{}, fmt.Errorf("load: %s: %w", t.Name(), err)
		}
		conns = append(conns, c)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	begin := time.Now()
	windowStart := begin.Add(cfg.Warmup)
	windowEnd := windowStart.Add(cfg.Duration)

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		samples []time.Duration
		writes  []Write
		errs    int
		texts   []string
	)
	for i := range cfg.Clients {
		wg.Go(func() {
			c := &client{id: i, conn: conns[i%nConns], cfg: &cfg,
				rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i)))}
			c.value = c.makeValue()
			own, ownWrites, nErr, own3 := c.loop(ctx, windowStart, windowEnd)
			mu.Lock()
			samples = append(samples, own...)
			writes = append(writes, ownWrites...)
			errs += nErr
			for _, s := range own3 {
				if len(texts) < 3 && !slices.Contains(texts, s) {
					texts = append(texts, s)
				}
			}
			mu.Unlock()
		})
	}
	// The window's edges, for the caller's figures.
	windowDone := make(chan struct{})
	go func() {
		defer close(windowDone)
		if !sleepUntil(ctx, windowStart) {
			return
		}
		if cfg.OnWindow != nil {
			cfg.OnWindow(true)
		}
		sleepUntil(ctx, windowEnd)
		if cfg.OnWindow != nil {
			cfg.OnWindow(false)
		}
	}()
	<-windowDone
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("load: %s: interrupted: %w", t.Name(), context.Cause(ctx))
	}
	slices.SortFunc(writes, func(a, b Write) int { return a.Start.Compare(b.Start) })
	return Result{
		Writes:       writes,
		Target:       t.Name(),
		Clients:      cfg.Clients,
		Ops:          len(samples),
		Errors:       errs,
		Window:       cfg.Duration,
		Latency:      Summarize(samples),
		ErrorSamples: texts,
	}, nil
}

// sleepUntil waits for t or ctx; it reports whether t came.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// client is one closed-loop client: the next write leaves when the last
// one is answered.
type client struct {
	id    int
	conn  Conn
	cfg   *Config
	rng   *rand.Rand
	seq   int
	value []byte
}

// makeValue returns the client's value: ValueBytes random letters, the
// same bytes for every write, as etcd's own benchmark tool does. Badger
// compresses its tables (Snappy), and the repeats compress well there;
// a fresh random value for every write gave the same peak RSS at 64
// clients (146-160 MiB against 137-156) and less throughput, so this
// choice does not flatter Raftlab's memory (docs/performance.md).
func (c *client) makeValue() []byte {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	v := make([]byte, c.cfg.ValueBytes)
	for i := range v {
		v[i] = letters[c.rng.IntN(len(letters))]
	}
	return v
}

// nextKey returns the next key: 20 bytes in both modes, so that the two
// modes and the two systems move the same bytes.
func (c *client) nextKey() string {
	if c.cfg.HotKeys > 0 {
		return fmt.Sprintf("bench-hot-%010d", c.rng.IntN(c.cfg.HotKeys))
	}
	c.seq++
	return fmt.Sprintf("bench-%04d-%09d", c.id%10000, c.seq)
}

// loop runs until end and returns the latencies of the writes that started
// in [start, end) and succeeded (and, with KeepWrites, those writes), the
// number of those that failed, and up to 3 error texts.
func (c *client) loop(ctx context.Context, start, end time.Time) ([]time.Duration, []Write, int, []string) {
	samples := make([]time.Duration, 0, 1024)
	var writes []Write
	nErr := 0
	var texts []string
	for ctx.Err() == nil {
		key := c.nextKey()
		t0 := time.Now()
		if !t0.Before(end) {
			break
		}
		rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		err := c.conn.Put(rctx, key, c.value)
		cancel()
		lat := time.Since(t0)
		measured := !t0.Before(start)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if measured {
				nErr++
				if s := err.Error(); len(texts) < 3 && !slices.Contains(texts, s) {
					texts = append(texts, s)
				}
			}
			time.Sleep(errorPause)
			continue
		}
		if measured {
			samples = append(samples, lat)
			if c.cfg.KeepWrites {
				writes = append(writes, Write{Client: c.id, Start: t0, Latency: lat})
			}
		}
	}
	return samples, writes, nErr, texts
}

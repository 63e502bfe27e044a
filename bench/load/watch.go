package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// WatchRate is the detail events a second a watcher asks for, as the
// visualizer does (ui/js/source/live.js).
const WatchRate = 2000

// closeTooSlow is the close code a member cuts a lagging stream off with
// (cmd/node/events.go); the consumer may resume with ?since=.
const closeTooSlow = 4001

// WatchStats is what the watchers of one run read.
type WatchStats struct {
	Frames, Bytes int64
	// Resumed counts the streams a member cut off as too slow and the
	// watcher reopened from its last event. Lost counts the streams that
	// ended otherwise before stop (a member gone, a refused reopen): for
	// the rest of the run the member had one watcher fewer.
	Resumed, Lost int64
}

// Watch opens n /events streams on every Raftlab member (as n open
// visualizers would) and reads them until stop is called; stop returns what
// they read. A stream the member cuts off as too slow is reopened, resuming
// after the last event read, as the visualizer does.
//
// A watcher reads every byte the member sends and decodes none of it but
// what a resume needs: the harness's readers share the members' cores, and
// what they spend is not what watching costs a member.
func Watch(ctx context.Context, endpoints []string, n int) (stop func() WatchStats, err error) {
	_, stop, err = watch(ctx, endpoints, n)
	return stop, err
}

// watch is Watch, with the counters as they go, for tests.
func watch(ctx context.Context, endpoints []string, n int) (*watchCounters, func() WatchStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	st := new(watchCounters)
	for _, ep := range endpoints {
		u, err := url.Parse(ep)
		if err != nil {
			cancel()
			wg.Wait()
			return nil, nil, err
		}
		u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
		u.Path = "/events"
		for i := 0; i < n; i++ {
			w := &watcher{u: *u, st: st}
			conn, err := w.dial(ctx)
			if err != nil {
				cancel()
				wg.Wait()
				return nil, nil, fmt.Errorf("watching %s: %w", u, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx, conn)
			}()
		}
	}
	return st, func() WatchStats {
		cancel()
		wg.Wait()
		return st.stats()
	}, nil
}

type watchCounters struct {
	frames, bytes, resumed, lost atomic.Int64
}

func (c *watchCounters) stats() WatchStats {
	return WatchStats{Frames: c.frames.Load(), Bytes: c.bytes.Load(), Resumed: c.resumed.Load(), Lost: c.lost.Load()}
}

// watcher is one stream, reopened after each cut-off.
type watcher struct {
	u  url.URL
	st *watchCounters
	// frame holds the last frame read (its events give where to resume),
	// in storage reused from frame to frame.
	frame bytes.Buffer
	// since is the last event read before the stream was cut off.
	since uint64
}

// dial opens the stream as the visualizer asks for it: at most WatchRate
// detail events a second, after w.since when resuming.
func (w *watcher) dial(ctx context.Context) (*websocket.Conn, error) {
	q := url.Values{"rate": {fmt.Sprint(WatchRate)}}
	if w.since > 0 {
		q.Set("since", fmt.Sprint(w.since))
	}
	u := w.u
	u.RawQuery = q.Encode()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, _, err := websocket.DefaultDialer.DialContext(dctx, u.String(), nil)
	return conn, err
}

// run reads conn, and the streams reopened after it, until ctx ends.
func (w *watcher) run(ctx context.Context, conn *websocket.Conn) {
	for {
		err := w.read(ctx, conn)
		if ctx.Err() != nil {
			return
		}
		if !websocket.IsCloseError(err, closeTooSlow) {
			w.st.lost.Add(1)
			return
		}
		if last, ok := lastSeq(w.frame.Bytes()); ok {
			w.since = last
		}
		if conn, err = w.dial(ctx); err != nil {
			if ctx.Err() == nil {
				w.st.lost.Add(1)
			}
			return
		}
		w.st.resumed.Add(1)
	}
}

// read counts conn's frames until it fails or ctx ends, keeping the last.
func (w *watcher) read(ctx context.Context, conn *websocket.Conn) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	for {
		_, r, err := conn.NextReader()
		if err != nil {
			return err
		}
		w.frame.Reset()
		if _, err := w.frame.ReadFrom(r); err != nil {
			return err
		}
		w.st.frames.Add(1)
		w.st.bytes.Add(int64(w.frame.Len()))
	}
}

// lastSeq gives the newest event a frame holds: the last of its events,
// which come in sequence order. The opening frame holds none: a stream cut
// off before its first events resumes where it started.
func lastSeq(frame []byte) (uint64, bool) {
	var f struct {
		Events []struct {
			Seq uint64 `json:"seq"`
		} `json:"events"`
	}
	if json.Unmarshal(frame, &f) != nil || len(f.Events) == 0 {
		return 0, false
	}
	return f.Events[len(f.Events)-1].Seq, true
}

package load

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// WatchRate is the detail events a second a watcher asks for, as the
// visualizer does (ui/js/source/live.js).
const WatchRate = 2000

// Watch opens n /events streams on every Raftlab member (as n open
// visualizers would) and reads them until stop is called; stop returns the
// frames and bytes read. A stream the member cuts off (too slow) is
// reopened, resuming where it stopped.
func Watch(ctx context.Context, endpoints []string, n int) (stop func() (frames, bytes int64), err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var frames, total atomic.Int64
	for _, ep := range endpoints {
		u, err := url.Parse(ep)
		if err != nil {
			cancel()
			return nil, err
		}
		u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
		u.Path = "/events"
		// As the visualizer asks: at most WatchRate detail events a second.
		u.RawQuery = fmt.Sprintf("rate=%d", WatchRate)
		for i := 0; i < n; i++ {
			conn, _, err := websocket.DefaultDialer.DialContext(ctx, u.String(), nil)
			if err != nil {
				cancel()
				wg.Wait()
				return nil, fmt.Errorf("watching %s: %w", u, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				go func() { <-ctx.Done(); conn.Close() }()
				for {
					_, b, err := conn.ReadMessage()
					if err != nil {
						return
					}
					frames.Add(1)
					total.Add(int64(len(b)))
				}
			}()
		}
	}
	return func() (int64, int64) {
		cancel()
		wg.Wait()
		return frames.Load(), total.Load()
	}, nil
}

package load

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeEvents stands in for a member's /events: the first stream gets a
// hello and two frames of events, then is cut off as too slow; later
// streams get one frame and stay open. It records each stream's query.
type fakeEvents struct {
	mu      sync.Mutex
	queries []string
	// endWith closes the first stream with this code.
	endWith int
}

func (f *fakeEvents) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.RawQuery)
	first := len(f.queries) == 1
	f.mu.Unlock()
	conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.WriteMessage(websocket.TextMessage, []byte(`{"hello":{"v":1,"member":1,"last":7}}`))
	if !first {
		conn.WriteMessage(websocket.TextMessage, []byte(`{"events":[{"seq":10,"kind":"tick"}]}`))
		for { // until the watcher closes
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}
	conn.WriteMessage(websocket.TextMessage, []byte(`{"events":[{"seq":5,"kind":"tick"},{"seq":6,"kind":"tick"}]}`))
	conn.WriteMessage(websocket.TextMessage, []byte(`{"events":[{"seq":7,"kind":"apply","apply":{"entries":[{"seq":99}]}}]}`))
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(f.endWith, "bye"), time.Now().Add(time.Second))
	conn.ReadMessage() // the watcher's close
}

// watchFake watches a fakeEvents with one watcher until what it read
// satisfies done, and gives what the watcher read and the streams' queries.
func watchFake(t *testing.T, endWith int, done func(WatchStats) bool) (WatchStats, []string) {
	t.Helper()
	f := &fakeEvents{endWith: endWith}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	defer srv.Close()
	live, stop, err := watch(context.Background(), []string{srv.URL}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !done(live.stats()) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	st := stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	return st, f.queries
}

func TestWatchResumesAStreamCutOffAsTooSlowAfterItsLastEvent(t *testing.T) {
	st, queries := watchFake(t, closeTooSlow, func(s WatchStats) bool { return s.Frames == 5 })
	want := []string{fmt.Sprintf("rate=%d", WatchRate), fmt.Sprintf("rate=%d&since=7", WatchRate)}
	if fmt.Sprint(queries) != fmt.Sprint(want) {
		t.Errorf("streams opened with %q, want %q: a resume starts after the last event read", queries, want)
	}
	if st.Frames != 5 || st.Resumed != 1 || st.Lost != 0 {
		t.Errorf("stats %+v, want 5 frames (3, then 2), 1 resumed, 0 lost", st)
	}
}

func TestWatchCountsAStreamEndedOtherwiseAsLost(t *testing.T) {
	st, queries := watchFake(t, websocket.CloseGoingAway, func(s WatchStats) bool { return s.Lost > 0 })
	if len(queries) != 1 || st.Lost != 1 || st.Resumed != 0 || st.Frames != 3 {
		t.Errorf("streams %q, stats %+v: want one stream, 3 frames, counted lost", queries, st)
	}
}

func TestLastSeqIsTheFramesLastEvent(t *testing.T) {
	for _, c := range []struct {
		frame string
		want  uint64
		ok    bool
	}{
		{`{"events":[{"seq":5},{"seq":6,"apply":{"seq":99}}]}`, 6, true},
		{`{"hello":{"last":7}}`, 0, false},
		{`{"events":[]}`, 0, false},
		{`not json`, 0, false},
	} {
		got, ok := lastSeq([]byte(c.frame))
		if got != c.want || ok != c.ok {
			t.Errorf("lastSeq(%s) = %d, %v; want %d, %v", c.frame, got, ok, c.want, c.ok)
		}
	}
}

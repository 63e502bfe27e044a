package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// The JS bindings are thin; this tests what they call, natively and (via
// make test-wasm) under wasm.

func decodeReply(t *testing.T, s string) (json.RawMessage, string) {
	t.Helper()
	var r struct {
		OK    json.RawMessage `json:"ok"`
		Error string          `json:"error"`
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("reply %q: %v", s, err)
	}
	return r.OK, r.Error
}

func TestAPIRunsACluster(t *testing.T) {
	a := newAPI()
	ok, errMsg := decodeReply(t, call(func() (any, error) { return a.create(`{"nodes":5,"seed":7}`) }))
	if errMsg != "" {
		t.Fatal(errMsg)
	}
	var h int
	_ = json.Unmarshal(ok, &h)
	var leader bool
	for now := int64(0); now < 10_000 && !leader; now += 16 {
		ok, errMsg := decodeReply(t, call(func() (any, error) { return a.advance(h, now, 1000) }))
		if errMsg != "" {
			t.Fatal(errMsg)
		}
		var b struct {
			Events []struct {
				Kind string `json:"kind"`
				Role *struct {
					Role string `json:"role"`
				} `json:"role"`
			} `json:"events"`
		}
		_ = json.Unmarshal(ok, &b)
		for _, e := range b.Events {
			if e.Kind == "role" && e.Role.Role == "leader" {
				leader = true
			}
		}
	}
	if !leader {
		t.Fatal("no leader event within 10 s")
	}
	if _, errMsg := decodeReply(t, call(func() (any, error) { return a.act(h, `{"kind":"put","key":"x","value":"1"}`) })); errMsg != "" {
		t.Fatal(errMsg)
	}
	ok, errMsg = decodeReply(t, call(func() (any, error) { return a.status(h) }))
	if errMsg != "" || !strings.Contains(string(ok), `"kind":"put"`) {
		t.Fatalf("status: %s %s", ok, errMsg)
	}
}

func TestAPIRefusesBadInput(t *testing.T) {
	a := newAPI()
	for name, f := range map[string]func() (any, error){
		"bad json":       func() (any, error) { return a.create(`{nodes:`) },
		"too many nodes": func() (any, error) { return a.create(`{"nodes":12}`) },
		"no cluster":     func() (any, error) { return a.advance(99, 10, 10) },
		"bad action":     func() (any, error) { return a.act(1, `{"kind":"explode"}`) },
		"bad replay":     func() (any, error) { return a.replay(`{"config":{"nodes":0}}`) },
	} {
		if _, errMsg := decodeReply(t, call(f)); errMsg == "" {
			t.Errorf("%s: accepted", name)
		}
	}
	h, _ := a.create(`{"nodes":3,"seed":1}`)
	if _, errMsg := decodeReply(t, call(func() (any, error) { return a.act(h.(int), `{"kind":"crash","node":7}`) })); !strings.Contains(errMsg, "no member 7") {
		t.Errorf("crash of an unknown member: %q", errMsg)
	}
	// A panic inside becomes an error, never a crash of the page.
	if _, errMsg := decodeReply(t, call(func() (any, error) { panic("boom") })); !strings.Contains(errMsg, "internal error: boom") {
		t.Errorf("panic: %q", errMsg)
	}
}

func TestAPIReplayForks(t *testing.T) {
	a := newAPI()
	hv, _ := a.create(`{"nodes":3,"seed":3}`)
	h := hv.(int)
	_, _ = a.advance(h, 3000, 0)
	_, _ = a.act(h, `{"kind":"put","key":"x","value":"1"}`)
	_, _ = a.advance(h, 5000, 0)
	stv, _ := a.status(h)
	st := stv.(clusterStatus)
	args, _ := json.Marshal(replayArgs{Config: st.Config, Actions: st.Actions, UntilMs: 5000})
	rv, err := a.replay(string(args))
	if err != nil {
		t.Fatal(err)
	}
	st2v, _ := a.status(rv.(int))
	if st2 := st2v.(clusterStatus); st2.TraceHash != st.TraceHash {
		t.Fatalf("replay trace %s, run %s", st2.TraceHash, st.TraceHash)
	}
}

// TestBatchReplyMatchesMarshal holds the hand-made reply of advance and
// step to the bytes json.Marshal makes of it.
func TestBatchReplyMatchesMarshal(t *testing.T) {
	at := int64(1250)
	for _, b := range []batch{
		{Now: 1200, Steps: 31, NextAt: &at, Events: json.RawMessage(`[{"v":1,"seq":1,"kind":"timer"},{"v":1,"seq":2}]`), More: true},
		{Now: 0, Steps: 0, Events: json.RawMessage(`[]`)},
		{Now: -1, Steps: 1 << 63, Events: nil, Halted: "safety: two leaders in term 3 <n1 & \"n2\">\n\u2028"},
	} {
		want, err := json.Marshal(reply{OK: b})
		if err != nil {
			t.Fatal(err)
		}
		if got := b.appendReply(nil); string(got) != string(want) {
			t.Errorf("reply:\n got %s\nwant %s", got, want)
		}
		if got := call(func() (any, error) { return b, nil }); got != string(want) {
			t.Errorf("call:\n got %s\nwant %s", got, want)
		}
	}
}

package main

import (
	"encoding/json"
	"net/http"
	"testing"
)

// GET /cluster/digest fingerprints the state machine at the applied index:
// a write moves both, and asking again without a write changes neither.
func TestDigestEndpoint(t *testing.T) {
	fs := startFuzzServer(t)
	defer fs.close()
	get := func() digestAnswer {
		t.Helper()
		w := fs.serve(t, http.MethodGet, "/cluster/digest", "", nil, nil)
		var d digestAnswer
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &d) != nil {
			t.Fatalf("GET /cluster/digest: %d %s", w.Code, w.Body)
		}
		return d
	}
	before := get()
	if before.Member != 1 || len(before.Hash) != 64 || before.Keys != 1 { // the member's URL
		t.Fatalf("digest of a new cluster: %+v", before)
	}
	if w := fs.serve(t, http.MethodPut, "/kv/x", "", []byte("1"), nil); w.Code != http.StatusOK {
		t.Fatalf("put: %d %s", w.Code, w.Body)
	}
	after := get()
	if after.Applied <= before.Applied || after.Hash == before.Hash || after.Keys != 2 {
		t.Fatalf("digest before a write %+v, after %+v", before, after)
	}
	if again := get(); again != after {
		t.Fatalf("digest moved without a write: %+v then %+v", after, again)
	}
	if w := fs.serve(t, http.MethodPost, "/cluster/digest", "", nil, nil); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /cluster/digest: %d", w.Code)
	}
}

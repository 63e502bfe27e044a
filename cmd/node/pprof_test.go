//go:build unix

package main

import (
	"bytes"
	"net/http"
	"testing"
)

// TestPprof: --enable-pprof serves Go's profiles behind the admin token, and
// a member started without it serves none.
func TestPprof(t *testing.T) {
	c := StartCluster(t, ClusterOptions{Size: 1, AdminToken: "pprof-admin", Flags: []string{"--tick", "20ms", "--enable-pprof"}})
	m := c.Members()[0]
	if r := m.MustDo(t, http.MethodGet, "/debug/pprof/heap?debug=1", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a profile without the admin token: %v, want 401", r)
	}
	r := m.MustDo(t, http.MethodGet, "/debug/pprof/heap?debug=1", nil, "Authorization", "Bearer "+m.Admin)
	if r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte("heap profile")) {
		t.Fatalf("the heap profile with the admin token: %d, %.80q", r.Status, r.Body)
	}

	d := StartCluster(t, ClusterOptions{Size: 1, Flags: []string{"--tick", "20ms"}})
	if r := d.Members()[0].MustDo(t, http.MethodGet, "/debug/pprof/heap?debug=1", nil); bytes.Contains(r.Body, []byte("heap profile")) {
		t.Fatalf("a member without --enable-pprof served a profile: %d", r.Status)
	}
}

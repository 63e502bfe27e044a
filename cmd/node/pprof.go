package main

import (
	"net/http"
	"net/http/pprof"
)

// handlePprof serves Go's profiles under /debug/pprof/ (--enable-pprof, as
// etcd's flag of the same name): how docs/performance.md's findings were
// made. Off by default: a profile shows keys and values in memory, and a
// CPU profile costs the member while it runs. Behind the admin token when
// one is set. Keep ?seconds= under the server's write timeout.
func (s *server) handlePprof(mux *http.ServeMux) {
	guard := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if s.requireAdmin(w, r) {
				h(w, r)
			}
		}
	}
	mux.HandleFunc("GET /debug/pprof/", guard(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/cmdline", guard(pprof.Cmdline))
	mux.HandleFunc("GET /debug/pprof/profile", guard(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/symbol", guard(pprof.Symbol))
	mux.HandleFunc("GET /debug/pprof/trace", guard(pprof.Trace))
}

package ui

import (
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// Handler serves the UI's files from files (FS() for the embedded copy),
// handing a browser the precompressed copy of a file (.br, .gz, made by
// make wasm) when it accepts that encoding.
func Handler(files fs.FS) http.Handler {
	return precompressed{files: files, next: http.FileServerFS(files)}
}

// precompressed serves a file's .br or .gz copy, made at build time, to a
// browser that accepts that encoding: the simulator is 8 MB raw and 1.5 MB
// in brotli.
type precompressed struct {
	files fs.FS
	next  http.Handler
}

var contentTypes = map[string]string{
	".wasm": "application/wasm",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".html": "text/html; charset=utf-8",
}

func (p precompressed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if ct, ok := contentTypes[path.Ext(name)]; ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		accept := r.Header.Get("Accept-Encoding")
		for _, enc := range []struct{ token, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
			if !strings.Contains(accept, enc.token) {
				continue
			}
			f, err := p.files.Open(name + enc.ext)
			if err != nil {
				continue
			}
			st, err := f.Stat()
			rs, ok := f.(io.ReadSeeker)
			if err != nil || !ok {
				f.Close()
				continue
			}
			w.Header().Set("Content-Encoding", enc.token)
			w.Header().Set("Content-Type", ct)
			w.Header().Add("Vary", "Accept-Encoding")
			http.ServeContent(w, r, name, st.ModTime(), rs)
			f.Close()
			return
		}
		w.Header().Add("Vary", "Accept-Encoding")
	}
	p.next.ServeHTTP(w, r)
}

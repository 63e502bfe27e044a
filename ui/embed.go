// Package ui holds the visualizer: plain ES modules, CSS and the
// simulator compiled to WebAssembly, embedded in raftnode and served at /.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed index.html app.css js wasm lessons
var files embed.FS

// FS returns the UI's files.
func FS() fs.FS { return files }

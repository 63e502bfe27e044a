package main

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"

	"github.com/raftlab/raftlab/ui"
)

// uiHandler serves the visualizer: the embedded copy, or dir when given
// (to work on the UI without rebuilding).
func uiHandler(dir string) (http.Handler, error) {
	var files fs.FS = ui.FS()
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--ui-dir %s: not a directory", dir)
		}
		files = os.DirFS(dir)
	}
	return ui.Handler(files), nil
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// runDemo serves the visualizer alone: the simulated cluster runs in the
// browser, so no raft member runs here.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("raftnode demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the visualizer on")
	uiDir := fs.String("ui-dir", "", "serve the UI from this directory instead of the embedded copy")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	h, err := uiHandler(*uiDir)
	if err != nil {
		fmt.Fprintf(stderr, "raftnode demo: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "raftnode demo: --listen %s: %v\n", *listen, err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(slog.NewTextHandler(stderr, nil), slog.LevelWarn)}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintf(stdout, "Raftlab demo: open http://%s\n", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	_ = srv.Close()
	return 0
}

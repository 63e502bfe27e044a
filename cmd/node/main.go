// Command raftnode runs one member of a Raftlab cluster: etcd's raft
// (go.etcd.io/raft/v3) persisted to Badger, talking to its peers over
// WebSocket, serving a replicated key-value API, the cluster's admin API,
// a stream of its events and the visualizer, all on one port.
//
// Build it with `make build` (bin/raftnode); `raftnode --help` lists the
// flags. `raftnode demo` serves the visualizer alone.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/raftlab/raftlab/core/live"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit: it returns the exit code (0 after a clean
// stop, 1 on a failure, 2 on a bad command line).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "demo" {
		return runDemo(args[1:], stdout, stderr)
	}
	opts, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return 0
	case errors.Is(err, errUsage):
		if msg := err.Error(); msg != errUsage.Error() {
			fmt.Fprintf(stderr, "raftnode: %s\n", msg[len(errUsage.Error())+2:])
		}
		fmt.Fprintln(stderr, "run 'raftnode --help' for the flags")
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "raftnode: %v\n", err)
		return 2
	}
	// A soft memory limit keeps the garbage a busy member makes from
	// growing its footprint: the collector works harder near it.
	if os.Getenv("GOMEMLIMIT") == "" && opts.memoryLimit > 0 {
		debug.SetMemoryLimit(opts.memoryLimit)
	}
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		fmt.Fprintf(stderr, "raftnode: --listen %s: %v\n", opts.listen, err)
		return 1
	}
	s, err := start(opts, ln, stderr)
	if err != nil {
		_ = ln.Close()
		if errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "raftnode: %s\n", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
			fmt.Fprintln(stderr, "run 'raftnode --help' for the flags")
			return 2
		}
		fmt.Fprintf(stderr, "raftnode: %v\n", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	code := 0
	select {
	case got := <-sig:
		s.log.Info("stopping", "signal", got.String())
	case <-s.driver.Done():
		err := s.driver.Err()
		if errors.Is(err, live.ErrRemoved) {
			// Being removed is how a member is meant to end (etcd exits
			// 0 too): a supervisor must not restart it.
			s.stop()
			fmt.Fprintf(stderr, "raftnode: member %d was removed from the cluster and stops; its data dir %s belongs to no member now\n", opts.id, opts.dataDir)
			return 0
		}
		s.log.Error("member stopped", "err", err)
		fmt.Fprintf(stderr, "raftnode: member %d stopped: %v\n", opts.id, err)
		code = 1
	}
	s.stop()
	return code
}

//go:build failpoints

package main

// A test build (go build -tags failpoints) that crashes itself at one of
// core's crash points, for the robustness tests:
//
//	RAFTLAB_FAILPOINT=name[:nth]   kill -9 this process at the nth hit of
//	                               the crash point name (default the 1st):
//	                               before-save, after-save, after-send,
//	                               during-restore (core.Failpoint*)
//	RAFTLAB_FAILPOINT_ARM=SIGUSR1  count hits only once the process got
//	                               SIGUSR1, so a test picks the moment
//
// The process writes "failpoint NAME hit N: SIGKILL" to stderr, then
// kills itself with SIGKILL: nothing runs after it, as with a power cut or
// kill -9 at that very line (the page cache survives, as with kill -9).

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/raftlab/raftlab/core"
)

func failpointHook(log *slog.Logger) func(string) {
	spec := os.Getenv("RAFTLAB_FAILPOINT")
	if spec == "" {
		return nil
	}
	name, nthStr, _ := strings.Cut(spec, ":")
	nth := int64(1)
	if nthStr != "" {
		n, err := strconv.ParseInt(nthStr, 10, 64)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "raftnode: RAFTLAB_FAILPOINT=%q: want name[:nth] with nth >= 1\n", spec)
			os.Exit(2)
		}
		nth = n
	}
	switch name {
	case core.FailpointBeforeSave, core.FailpointAfterSave, core.FailpointAfterSend, core.FailpointDuringRestore:
	default:
		fmt.Fprintf(os.Stderr, "raftnode: RAFTLAB_FAILPOINT=%q: no crash point %q\n", spec, name)
		os.Exit(2)
	}
	var armed atomic.Bool
	switch arm := os.Getenv("RAFTLAB_FAILPOINT_ARM"); arm {
	case "":
		armed.Store(true)
	case "SIGUSR1":
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			<-usr1
			armed.Store(true)
			log.Warn("failpoint armed", "name", name, "nth", nth)
		}()
	default:
		fmt.Fprintf(os.Stderr, "raftnode: RAFTLAB_FAILPOINT_ARM=%q: want SIGUSR1 or nothing\n", arm)
		os.Exit(2)
	}
	log.Warn("failpoint set", "name", name, "nth", nth, "armed", armed.Load())
	var hits atomic.Int64
	return func(at string) {
		if at != name || !armed.Load() {
			return
		}
		if n := hits.Add(1); n == nth {
			fmt.Fprintf(os.Stderr, "failpoint %s hit %d: SIGKILL\n", name, n)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // SIGKILL cannot be caught: nothing runs on
		}
	}
}

//go:build !failpoints

package main

import "log/slog"

// failpointHook returns the crash-point hook of core.Config.Failpoint. The
// normal build has none: RAFTLAB_FAILPOINT means nothing to it (a test
// proves it). The robustness tests build with -tags failpoints
// (failpoint_on.go).
func failpointHook(*slog.Logger) func(string) { return nil }

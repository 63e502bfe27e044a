//go:build unix && !linux

package main

import "os/exec"

// setDeathSignal: only Linux can tie a child's life to its parent's; the
// tests' cleanups kill members elsewhere.
func setDeathSignal(*exec.Cmd) {}

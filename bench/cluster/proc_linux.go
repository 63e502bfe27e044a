package cluster

import "syscall"

// memberProcAttr makes the kernel kill a member if the harness dies without
// stopping it, so no member outlives a crashed or interrupted run.
func memberProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

//go:build !linux

package cluster

import "syscall"

func memberProcAttr() *syscall.SysProcAttr { return nil }

package main

import (
	"strconv"
	"sync"
	"testing"

	"github.com/raftlab/raftlab/cmd/node/nodetest"
)

// ports hands out loopback ports, each once per test process (a member
// restarted keeps its own).
var ports struct {
	sync.Mutex
	used map[string]bool
}

// freeAddr returns a 127.0.0.1 address no one listened on a moment ago,
// below the kernel's ephemeral range (nodetest.FreePorts).
func freeAddr(t testing.TB) string {
	t.Helper()
	ports.Lock()
	defer ports.Unlock()
	if ports.used == nil {
		ports.used = map[string]bool{}
	}
	for range 100 {
		ps, err := nodetest.FreePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(ps[0])
		if !ports.used[addr] {
			ports.used[addr] = true
			return addr
		}
	}
	t.Fatal("no free port")
	return ""
}

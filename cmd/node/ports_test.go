package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Members listen on ports picked below the kernel's ephemeral range
// (ip_local_port_range, 32768-60999 by default). A port picked by
// listening on :0 comes from that range, and between the harness closing
// it and the member binding it, the kernel may give it to any process's
// outgoing connection: CI saw "bind: address already in use" with many
// clusters at once. Below the range, only listeners compete, and each is
// checked.

// minPort is the lowest port handed out.
const minPort = 10000

// ports hands out loopback ports, each once per test process.
var ports struct {
	sync.Mutex
	used map[string]bool
}

// freeAddr returns a 127.0.0.1 address no one listened on a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ports.Lock()
	defer ports.Unlock()
	if ports.used == nil {
		ports.used = map[string]bool{}
	}
	high := ephemeralLow()
	for range 1000 {
		addr := fmt.Sprintf("127.0.0.1:%d", minPort+rand.IntN(high-minPort))
		if ports.used[addr] {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // someone listens there
		}
		ln.Close()
		ports.used[addr] = true
		return addr
	}
	t.Fatal("no free port")
	return ""
}

// ephemeralLow is the lowest port of the kernel's ephemeral range, 32768
// where it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < minPort+1000 {
		return 32768
	}
	return n
}

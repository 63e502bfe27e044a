package ui_test

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The live test's members listen on ports picked below the kernel's
// ephemeral range (ip_local_port_range, 32768-60999 by default), as
// cmd/node's harness picks them (cmd/node/ports_test.go): a port picked by
// listening on :0 and closed may be given to any process's outgoing
// connection before the member binds it.

// minPort is the lowest port handed out.
const minPort = 10000

// freePorts returns n distinct loopback ports free right now.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	high := ephemeralLow()
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000*n {
			t.Fatalf("no free port between %d and %d", minPort, high)
		}
		p := minPort + rand.IntN(high-minPort)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // someone listens there
		}
		lns = append(lns, ln)
		ports = append(ports, p)
	}
	return ports
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

// Package nodetest holds what tests that start raftnode processes share.
package nodetest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Members listen on ports picked below the kernel's ephemeral range
// (ip_local_port_range, 32768-60999 by default). A port picked by
// listening on :0 comes from that range, and between the test closing it
// and the member binding it, the kernel may give it to any process's
// outgoing connection: CI saw "bind: address already in use" with many
// clusters at once. Below the range, only listeners compete, and each
// port is checked. (bench/cluster/ports.go does the same; that module
// cannot import this one.)

// minPort is the lowest port handed out.
const minPort = 10000

// FreePorts returns n distinct loopback ports nobody listened on a moment
// ago. They are held open together, so they differ, then released for the
// members to take.
func FreePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	high := ephemeralLow()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000*n {
			return nil, fmt.Errorf("no free port between %d and %d", minPort, high)
		}
		p := minPort + rand.IntN(high-minPort)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // someone listens there
		}
		lns = append(lns, ln)
		ports = append(ports, p)
	}
	return ports, nil
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

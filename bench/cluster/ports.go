package cluster

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
// listening on :0 comes from that range, and between the harness closing
// it and the member binding it, the kernel may give it to any process's
// outgoing connection (the load generator opens dozens). Below the range,
// only listeners compete, and each port is checked. The main module's
// tests pick theirs the same way (cmd/node/nodetest); this module never
// imports the main one.

// minPort is the lowest port handed out.
const minPort = 10000

// freePorts returns n distinct free TCP ports on 127.0.0.1. They are held
// open together, so they differ, then released for the members to take; a
// port taken by someone else in between makes that member fail to start,
// which Start reports.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	high := ephemeralLow()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000*n {
			return nil, fmt.Errorf("cluster: no free port between %d and %d", minPort, high)
		}
		p := minPort + rand.IntN(high-minPort)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // someone listens there
		}
		ls = append(ls, l)
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

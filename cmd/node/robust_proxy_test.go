//go:build unix

package main

// The network faults of the robustness suite go through a TCP proxy in
// front of each member's peer endpoint: a member advertises its proxy's
// address (--advertise-url), so every connection a peer dials to it
// passes the proxy, while clients talk to the member directly.
//
// A connection between two members carries raft messages both ways,
// whichever side dialed (transport/ws), so a fault on the link between a
// and b applies to the connection in both directions. The proxy of member
// b learns which member dialed through it from the peer handshake: the
// client's answer, the first message the dialer sends after the WebSocket
// upgrade, names it (transport/ws/handshake.go: magic, kind, version,
// cluster id, then the client's member id). Until then only the server's
// hello passes, unfaulted.
//
// The proxy works on whole WebSocket messages, as raft sees the network:
// TCP never loses or reorders bytes inside a connection, so neither does
// the proxy. A fault drops whole messages (blackhole: all of them; drop: a
// share), or delays them, keeping their order. Requests that are not a
// WebSocket upgrade of /raft (a member forwarding an admin call) pass
// unchanged.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// linkPolicy is what happens to the messages between two members.
type linkPolicy struct {
	// blackhole drops every message; dropRatio drops that share of them.
	blackhole bool
	dropRatio float64
	// delayMin and delayMax bound a uniformly random delay per message.
	delayMin, delayMax time.Duration
}

func (p linkPolicy) String() string {
	switch {
	case p.blackhole:
		return "blackhole"
	case p.dropRatio > 0:
		return fmt.Sprintf("drop %.0f%%", p.dropRatio*100)
	case p.delayMax > 0:
		return fmt.Sprintf("delay %v-%v", p.delayMin, p.delayMax)
	}
	return "healthy"
}

// network holds the link policies of one cluster's proxies.
type network struct {
	mu      sync.Mutex
	links   map[[2]uint64]linkPolicy
	rng     *rand.Rand
	proxies []*proxy

	// What the proxies did, for the run's report.
	forwarded, dropped, delayed atomic.Int64
}

func newNetwork(seed uint64) *network {
	return &network{links: map[[2]uint64]linkPolicy{}, rng: rand.New(rand.NewPCG(seed, 0x6e6574))}
}

func linkKey(a, b uint64) [2]uint64 {
	if a > b {
		a, b = b, a
	}
	return [2]uint64{a, b}
}

// isolate applies p to every link of member id.
func (n *network) isolate(id uint64, peers []uint64, p linkPolicy) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, q := range peers {
		if q != id {
			n.links[linkKey(id, q)] = p
		}
	}
}

// heal makes every link healthy.
func (n *network) heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.links)
}

// decide says whether a message between a and b is dropped, and if not,
// how long it is held.
func (n *network) decide(a, b uint64) (drop bool, delay time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.links[linkKey(a, b)]
	switch {
	case !ok:
	case p.blackhole:
		drop = true
	case p.dropRatio > 0 && n.rng.Float64() < p.dropRatio:
		drop = true
	case p.delayMax > 0:
		delay = p.delayMin + time.Duration(n.rng.Int64N(int64(p.delayMax-p.delayMin)+1))
	}
	switch {
	case drop:
		n.dropped.Add(1)
	case delay > 0:
		n.delayed.Add(1)
	default:
		n.forwarded.Add(1)
	}
	return drop, delay
}

// proxy forwards the TCP connections made to its address to a member.
type proxy struct {
	net    *network
	member uint64
	target string
	ln     net.Listener
	Addr   string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// addProxy starts a proxy in front of member id at target; it closes when
// the test ends.
func (n *network) addProxy(t testing.TB, id uint64, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{net: n, member: id, target: target, ln: ln, Addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	n.mu.Lock()
	n.proxies = append(n.proxies, p)
	n.mu.Unlock()
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

// track records c to be closed with the proxy; false once it is closed.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

// maxHeadBytes bounds an HTTP head the proxy reads.
const maxHeadBytes = 64 << 10

// readHead reads an HTTP request or response head, through the blank line.
func readHead(r *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := r.ReadSlice('\n')
		head = append(head, line...)
		if err != nil {
			return head, err
		}
		if len(head) > maxHeadBytes {
			return head, errors.New("proxy: HTTP head too long")
		}
		if string(line) == "\r\n" || string(line) == "\n" {
			return head, nil
		}
	}
}

func (p *proxy) handle(client net.Conn) {
	defer p.untrack(client)
	defer client.Close()
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(server) {
		server.Close()
		return
	}
	defer p.untrack(server)
	defer server.Close()
	cr, sr := bufio.NewReaderSize(client, 64<<10), bufio.NewReaderSize(server, 64<<10)

	head, err := readHead(cr)
	if _, werr := server.Write(head); err != nil || werr != nil {
		return
	}
	upgrade := bytes.HasPrefix(head, []byte("GET /raft ")) && bytes.Contains(bytes.ToLower(head), []byte("upgrade: websocket"))
	if !upgrade {
		p.pipe(client, server, cr, sr)
		return
	}
	resp, err := readHead(sr)
	if _, werr := client.Write(resp); err != nil || werr != nil {
		return
	}
	if !bytes.Contains(resp[:bytes.IndexByte(resp, '\n')+1], []byte(" 101 ")) {
		p.pipe(client, server, cr, sr)
		return
	}
	l := &wsLink{member: p.member}
	done := make(chan struct{}, 2)
	go func() { p.pump(l, cr, server, true); done <- struct{}{} }()
	go func() { p.pump(l, sr, client, false); done <- struct{}{} }()
	<-done
	// One side ended: end the other too.
	client.Close()
	server.Close()
	<-done
}

// pipe copies both ways unchanged until either side ends.
func (p *proxy) pipe(client, server net.Conn, cr, sr io.Reader) {
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(server, cr); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, sr); done <- struct{}{} }()
	<-done
	client.Close()
	server.Close()
	<-done
}

// wsLink is one proxied peer connection: the member behind the proxy and,
// once its handshake answer passed, the member that dialed.
type wsLink struct {
	member uint64
	dialer atomic.Uint64
}

// wsFrame is one WebSocket frame as read, still masked.
type wsFrame struct {
	raw    []byte
	opcode byte
	fin    bool
	at     time.Time // when to write it
}

// maxProxiedFrame bounds a frame the proxy buffers: above the transport's
// read limit, so the members, not the proxy, refuse oversized frames.
const maxProxiedFrame = 64 << 20

// readFrame reads one WebSocket frame.
func readFrame(r *bufio.Reader) (wsFrame, []byte, error) {
	var hdr [14]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return wsFrame{}, nil, err
	}
	f := wsFrame{opcode: hdr[0] & 0x0f, fin: hdr[0]&0x80 != 0}
	masked := hdr[1]&0x80 != 0
	n := uint64(hdr[1] & 0x7f)
	h := 2
	switch n {
	case 126:
		if _, err := io.ReadFull(r, hdr[2:4]); err != nil {
			return f, nil, err
		}
		n, h = uint64(binary.BigEndian.Uint16(hdr[2:4])), 4
	case 127:
		if _, err := io.ReadFull(r, hdr[2:10]); err != nil {
			return f, nil, err
		}
		n, h = binary.BigEndian.Uint64(hdr[2:10]), 10
	}
	var mask []byte
	if masked {
		if _, err := io.ReadFull(r, hdr[h:h+4]); err != nil {
			return f, nil, err
		}
		mask = hdr[h : h+4]
		h += 4
	}
	if n > maxProxiedFrame {
		return f, nil, fmt.Errorf("proxy: frame of %d bytes", n)
	}
	f.raw = make([]byte, h+int(n))
	copy(f.raw, hdr[:h])
	if _, err := io.ReadFull(r, f.raw[h:]); err != nil {
		return f, nil, err
	}
	// The start of the payload, unmasked: enough to read a handshake
	// answer's member id.
	head := bytes.Clone(f.raw[h:min(len(f.raw), h+20)])
	for i := range head {
		if mask != nil {
			head[i] ^= mask[i%4]
		}
	}
	return f, head, nil
}

// pump forwards frames from r to w, applying the link's policy per message,
// in order: a writer goroutine writes each frame at its time.
func (p *proxy) pump(l *wsLink, r *bufio.Reader, w net.Conn, fromDialer bool) {
	out := make(chan wsFrame, 1024)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for f := range out {
			if d := time.Until(f.at); d > 0 {
				time.Sleep(d)
			}
			if _, err := w.Write(f.raw); err != nil {
				w.Close()
				for range out {
				}
				return
			}
		}
	}()
	defer func() { close(out); <-writerDone }()
	var last time.Time
	dropMessage := false // the policy of the data message under way
	for {
		f, head, err := readFrame(r)
		if err != nil {
			return
		}
		if fromDialer && l.dialer.Load() == 0 && f.opcode == 2 && len(head) >= 20 && head[0] == 'R' && head[1] == 'H' && head[2] == 2 {
			l.dialer.Store(binary.BigEndian.Uint64(head[12:20]))
		}
		dialer := l.dialer.Load()
		drop, delay := false, time.Duration(0)
		if dialer != 0 {
			switch {
			case f.opcode == 0: // continuation: as its message
				drop = dropMessage
				if !drop {
					_, delay = p.net.decide(l.member, dialer)
				}
			default:
				drop, delay = p.net.decide(l.member, dialer)
				if f.opcode < 8 { // a data message: its continuations follow it
					dropMessage = drop
				}
			}
		}
		if drop {
			continue
		}
		now := time.Now()
		f.at = now.Add(delay)
		if f.at.Before(last) {
			f.at = last // TCP keeps the order
		}
		last = f.at
		out <- f
	}
}

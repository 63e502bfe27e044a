package sim

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"sync"

	mrand "math/rand/v2"
)

// raft draws each member's randomized election timeout from
// crypto/rand.Reader (raft.go, lockedRand). To make a run reproducible the
// simulator replaces that reader, once per process, with a dispatcher that
// reads the seeded stream of the cluster that is running, and the operating
// system's generator otherwise. Clusters take turns through randMu, so two
// clusters in one process (parallel tests, a fork in the browser) never draw
// from each other's stream.
//
// Nothing else may touch crypto/rand.Reader: a guard test checks that only
// this file assigns it, and that the node binary does not link this
// package.

var (
	installOnce sync.Once
	randMu      sync.Mutex
	active      io.Reader // the running cluster's stream; guarded by randMu
	osReader    io.Reader
)

type dispatchReader struct{}

func (dispatchReader) Read(p []byte) (int, error) {
	if r := active; r != nil {
		return r.Read(p)
	}
	return osReader.Read(p)
}

func installRandSource() {
	installOnce.Do(func() {
		osReader = rand.Reader
		rand.Reader = dispatchReader{}
	})
}

// seededStream is an io.Reader over ChaCha8, the same bytes on every
// platform for the same seed.
type seededStream struct {
	c   *mrand.ChaCha8
	buf [8]byte
	n   int // unread bytes at the end of buf
}

func newSeededStream(seed uint64, label string) *seededStream {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	copy(key[8:], label)
	return &seededStream{c: mrand.NewChaCha8(key)}
}

func (s *seededStream) Read(p []byte) (int, error) {
	for i := range p {
		if s.n == 0 {
			binary.LittleEndian.PutUint64(s.buf[:], s.c.Uint64())
			s.n = 8
		}
		p[i] = s.buf[8-s.n]
		s.n--
	}
	return len(p), nil
}

// enter makes c's stream the one raft reads until the returned func runs.
func (c *Cluster) enter() func() {
	randMu.Lock()
	active = c.raftRand
	return func() {
		active = nil
		randMu.Unlock()
	}
}

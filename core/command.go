package core

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Op is what a Command does to the key-value state machine.
type Op uint8

// The operations of the replicated key-value map.
const (
	OpPut Op = iota + 1
	OpDelete
)

// Limits on commands, as etcd's: a request of at most 1.5 MiB, keys of at
// most 4 KiB.
const (
	MaxKeyBytes   = 4 << 10
	MaxValueBytes = 3 << 19 // 1.5 MiB
)

// Command is one write to the replicated key-value map.
type Command struct {
	Op    Op
	Key   string
	Value []byte
}

// Validate returns an error for a command the state machine refuses.
func (c Command) Validate() error {
	switch {
	case c.Op != OpPut && c.Op != OpDelete:
		return fmt.Errorf("core: unknown operation %d", c.Op)
	case c.Key == "":
		return errors.New("core: empty key")
	case len(c.Key) > MaxKeyBytes:
		return fmt.Errorf("core: key of %d bytes exceeds %d", len(c.Key), MaxKeyBytes)
	case len(c.Value) > MaxValueBytes:
		return fmt.Errorf("core: value of %d bytes exceeds %d", len(c.Value), MaxValueBytes)
	case c.Op == OpDelete && len(c.Value) > 0:
		return errors.New("core: a delete carries no value")
	}
	return nil
}

// String renders the command for people: put x=1, delete x. Long values are
// cut.
func (c Command) String() string {
	if c.Op == OpDelete {
		return "delete " + c.Key
	}
	// Cut the value before it becomes a string: every applied or sent
	// entry is described for the events, and copying whole values made
	// 9% of a loaded leader's allocations.
	if len(c.Value) > 32 {
		return "put " + c.Key + "=" + string(c.Value[:32]) + "…"
	}
	return "put " + c.Key + "=" + string(c.Value)
}

// commandVersion is the first byte of every command entry.
const commandVersion = 1

// request identifies the proposal an entry came from, so the member that
// proposed it can answer its client when it applies it.
type request struct {
	proposer uint64 // member id
	reqID    uint64 // unique per proposer, across restarts
}

// encodeCommand returns the entry data of c proposed as r:
// version, op, proposer, reqID, key length (uvarints), key, value.
func encodeCommand(r request, c Command) []byte {
	b := make([]byte, 0, 2+3*binary.MaxVarintLen64+len(c.Key)+len(c.Value))
	b = append(b, commandVersion, byte(c.Op))
	b = binary.AppendUvarint(b, r.proposer)
	b = binary.AppendUvarint(b, r.reqID)
	b = binary.AppendUvarint(b, uint64(len(c.Key)))
	b = append(b, c.Key...)
	return append(b, c.Value...)
}

var errBadCommand = errors.New("core: undecodable command")

// decodeCommand parses entry data written by encodeCommand. It never panics.
// The returned value aliases data.
func decodeCommand(data []byte) (request, Command, error) {
	var r request
	var c Command
	if len(data) < 2 || data[0] != commandVersion {
		return r, c, errBadCommand
	}
	c.Op = Op(data[1])
	rest := data[2:]
	var n int
	if r.proposer, n = binary.Uvarint(rest); n <= 0 {
		return r, c, errBadCommand
	}
	rest = rest[n:]
	if r.reqID, n = binary.Uvarint(rest); n <= 0 {
		return r, c, errBadCommand
	}
	rest = rest[n:]
	klen, n := binary.Uvarint(rest)
	if n <= 0 || klen > uint64(len(rest)-n) {
		return r, c, errBadCommand
	}
	rest = rest[n:]
	c.Key = string(rest[:klen])
	if v := rest[klen:]; len(v) > 0 {
		c.Value = v
	}
	if err := c.Validate(); err != nil {
		return r, c, fmt.Errorf("%w: %v", errBadCommand, err)
	}
	return r, c, nil
}

// encodeContext returns the context that carries a request through raft: a
// conf change's Context, or a ReadIndex request context. Each is unique, so a
// read context is never reused (etcd#20418).
func encodeContext(r request) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, r.proposer)
	binary.BigEndian.PutUint64(b[8:], r.reqID)
	return b
}

func decodeContext(b []byte) (request, bool) {
	if len(b) < 16 {
		return request{}, false
	}
	return request{proposer: binary.BigEndian.Uint64(b), reqID: binary.BigEndian.Uint64(b[8:])}, true
}

// MaxURLBytes bounds a member's URL.
const MaxURLBytes = 1024

// encodeConfContext returns a conf change's context: the request, then the
// URLs of the members it adds (count, then id and length-prefixed URL, as
// uvarints), so every member learns where a new member is reachable when it
// applies the change.
func encodeConfContext(r request, urls map[uint64]string) []byte {
	b := encodeContext(r)
	ids := make([]uint64, 0, len(urls))
	for id := range urls {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.AppendUvarint(b, id)
		b = binary.AppendUvarint(b, uint64(len(urls[id])))
		b = append(b, urls[id]...)
	}
	return b
}

// decodeConfURLs returns the member URLs of a conf change's context; a
// context without them (or malformed) gives none. It never panics.
func decodeConfURLs(b []byte) map[uint64]string {
	if len(b) <= 16 {
		return nil
	}
	rest := b[16:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(len(rest)) {
		return nil
	}
	rest = rest[k:]
	urls := make(map[uint64]string, n)
	for i := uint64(0); i < n; i++ {
		id, k := binary.Uvarint(rest)
		if k <= 0 {
			return nil
		}
		rest = rest[k:]
		l, k := binary.Uvarint(rest)
		if k <= 0 || l > uint64(len(rest)-k) || l > MaxURLBytes {
			return nil
		}
		urls[id] = string(rest[k : k+int(l)])
		rest = rest[k+int(l):]
	}
	return urls
}

func (r request) String() string {
	return strconv.FormatUint(r.proposer, 10) + "/" + strconv.FormatUint(r.reqID, 10)
}

package storage

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// marshal encodes a raftpb value deterministically, so that the same state
// gives the same bytes natively and under wasm.
func marshal(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		// Every raftpb message is marshallable; failing here is our bug.
		panic(fmt.Sprintf("storage: marshal %T: %v", m, err))
	}
	return b
}

func putUint64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

func putUint64Pair(a, b uint64) []byte {
	out := make([]byte, 16)
	binary.BigEndian.PutUint64(out, a)
	binary.BigEndian.PutUint64(out[8:], b)
	return out
}

func getUint64(key string, v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, &CorruptError{Key: key, Reason: fmt.Sprintf("want 8 bytes, have %d", len(v))}
	}
	return binary.BigEndian.Uint64(v), nil
}

func getUint64Pair(key string, v []byte) (uint64, uint64, error) {
	if len(v) != 16 {
		return 0, 0, &CorruptError{Key: key, Reason: fmt.Sprintf("want 16 bytes, have %d", len(v))}
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), nil
}

func unmarshal(key string, v []byte, m proto.Message) error {
	if err := proto.Unmarshal(v, m); err != nil {
		return &CorruptError{Key: key, Reason: "undecodable: " + err.Error()}
	}
	return nil
}

// CorruptError reports a stored value that cannot be right: missing,
// undecodable, or disagreeing with the rest of the log. It names the key so
// that an operator knows what to look at.
type CorruptError struct {
	Key    string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("storage: damaged store: %s: %s", e.Key, e.Reason)
}

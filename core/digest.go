package core

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// StateDigest fingerprints a member's replicated state machine (the members'
// addresses and the key-value map) at its applied index. Two members at the
// same applied index must have equal digests: a difference means they
// applied different entries, or applied one differently.
type StateDigest struct {
	Applied uint64 `json:"applied"`
	// Keys is the number of state machine keys.
	Keys int `json:"keys"`
	// Hash is the SHA-256, in hex, of every key and value in key order,
	// each length-prefixed.
	Hash string `json:"hash"`
}

// StateDigest computes the digest of the state machine as of the applied
// index. The driver calls it between Readys, so nothing is applied while
// it reads.
func (n *Node) StateDigest() (StateDigest, error) {
	if n.stopped != nil {
		return StateDigest{}, n.stopped
	}
	d, err := digestSM(n.store.Engine().Scan)
	d.Applied = n.applied
	return d, err
}

// digestSM hashes the state machine read through scan.
func digestSM(scan func(start, end []byte, fn func(k, v []byte) error) error) (StateDigest, error) {
	h := sha256.New()
	var d StateDigest
	var lens [16]byte
	for _, p := range smPrefixes {
		err := scan(p, prefixEnd(p), func(k, v []byte) error {
			binary.BigEndian.PutUint64(lens[:8], uint64(len(k)))
			binary.BigEndian.PutUint64(lens[8:], uint64(len(v)))
			h.Write(lens[:])
			h.Write(k)
			h.Write(v)
			d.Keys++
			return nil
		})
		if err != nil {
			return StateDigest{}, err
		}
	}
	d.Hash = hex.EncodeToString(h.Sum(nil))
	return d, nil
}

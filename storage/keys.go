package storage

import (
	"encoding/binary"
	"strconv"
)

// The key layout of one member. Every key a Store writes is listed here with
// what it holds, how it is encoded and who writes it, so the storage panel of
// the UI, a debugging session with a Badger dump and this file all agree.
//
// Integers are fixed-width big-endian so that keys sort by index and values
// have one size. Protobuf values are marshalled deterministically.
//
// Everything that changes together is written in one Engine batch: a Ready's
// snapshot, entries and HardState (Store.Save); an applied batch of entries
// with the state machine's writes, the applied index and the ConfState
// (Store.SaveApplied).
const (
	// KeyFirstIndex holds the first log index still available through
	// Entries, and the term of the entry just before it, which raft needs
	// for the log-matching check of the next append (Raft paper §5.3).
	// Encoding: 16 bytes, index then term, big-endian uint64s.
	// Written by Compact, ApplySnapshot (and Save with a snapshot).
	// Entries below it were compacted; FirstIndex-1 is at least the
	// index of the oldest snapshot ever taken and at most the latest
	// snapshot's index (a catch-up tail may be kept below the snapshot).
	KeyFirstIndex = "/raft/first_index"

	// KeyLastIndex holds the index of the last stored entry. It goes down
	// when an append truncates a conflicting suffix (§5.3).
	// Encoding: 8 bytes, big-endian uint64.
	// Written in the same batch as the entries: Append, Save, ApplySnapshot.
	KeyLastIndex = "/raft/last_index"

	// KeyHardState holds raft's HardState {term, vote, commit}: what a
	// member must remember across a crash to never vote twice in a term
	// (§5.2) and never forget that it acknowledged an entry.
	// Encoding: raftpb.HardState, protobuf.
	// Written by SetHardState and Save, only with what raft hands over;
	// term and vote never go backwards.
	KeyHardState = "/raft/hard_state"

	// KeyConfState holds the membership (voters, learners, outgoing voters of
	// a joint configuration, learners next, auto-leave) as of the applied
	// index, the ConfState raft must be restarted with (§6).
	// Encoding: raftpb.ConfState, protobuf.
	// Written by SaveApplied when a conf change is applied, and by
	// ApplySnapshot.
	KeyConfState = "/raft/conf_state"

	// KeyEntryPrefix starts the key of each stored log entry; the index
	// follows as 8 bytes big-endian so entries sort by index. Shown to
	// people as /raft/entry/{index} in decimal.
	// Encoding: raftpb.Entry, protobuf.
	// Written by Append and Save; deleted by truncation, Compact and
	// ApplySnapshot. Compact deletes at most MaxChunkOps entries per batch
	// (an engine's batch is bounded), first index moving with each; a
	// snapshot replacing a longer log deletes the entries it covers after
	// the batch that records it, so entry keys below first index may
	// outlive that batch briefly (or until the next Open, after a crash).
	KeyEntryPrefix = "/raft/entry/"

	// KeyUncommitIndex holds the range of indexes appended but not yet
	// applied, (applied, last]. Raft never reads it; the node does: on
	// restart its start is Config.Applied, so raft re-delivers exactly the
	// committed entries the state machine has not seen. It is written in the
	// same batch as the state machine, which is what makes apply
	// exactly-once across crashes.
	// Encoding: 16 bytes, applied then last, big-endian uint64s.
	// Written by every batch that changes applied or the last index.
	KeyUncommitIndex = "/raft/uncommit_index"

	// KeySnapshot holds the latest snapshot: metadata (index, the term of
	// the entry at that index, ConfState at that index) and the state
	// machine's data as of that index (§7), which never contains raft's
	// keys. A snapshot received from a leader (ApplySnapshot) holds its
	// data, so that a restore a crash interrupted can finish; one core
	// takes itself (CreateSnapshot) holds none: the state machine in this
	// engine is its data, copied only when a follower needs it (thesis
	// §5.2, as etcd does). Encoding: raftpb.Snapshot, protobuf.
	// Written by CreateSnapshot and ApplySnapshot.
	KeySnapshot = "/raft/snapshot"

	// KVPrefix starts every key of the replicated key-value state machine:
	// /kv/{user key}. Values are the user's bytes, unchanged. Written only
	// by SaveApplied (the applied batch) and by a snapshot restore.
	KVPrefix = "/kv/"

	// MembersPrefix starts the key of each member's address: the 8-byte
	// big-endian member id follows (shown as /members/{id}); the value is
	// the URL peers and clients reach it at. It is replicated state: written
	// by SaveApplied when a conf change that carries the URL is applied,
	// deleted when the member is removed, and part of every snapshot.
	MembersPrefix = "/members/"

	// raftPrefix is shared by the seven raft keys, and nothing else.
	raftPrefix = "/raft/"
)

// Keys lists the seven raft keys in the order the UI shows them. The entry
// key stands for its whole family.
var Keys = []string{KeyFirstIndex, KeyLastIndex, KeyHardState, KeyConfState, KeyEntryPrefix + "{idx}", KeyUncommitIndex, KeySnapshot}

var (
	keyFirstIndex    = []byte(KeyFirstIndex)
	keyLastIndex     = []byte(KeyLastIndex)
	keyHardState     = []byte(KeyHardState)
	keyConfState     = []byte(KeyConfState)
	keyUncommitIndex = []byte(KeyUncommitIndex)
	keySnapshot      = []byte(KeySnapshot)
	keyEntryPrefix   = []byte(KeyEntryPrefix)
)

// EntryKey returns the on-disk key of the entry at index.
func EntryKey(index uint64) []byte {
	k := make([]byte, len(KeyEntryPrefix)+8)
	copy(k, KeyEntryPrefix)
	binary.BigEndian.PutUint64(k[len(KeyEntryPrefix):], index)
	return k
}

// entryKeyIndex returns the index of an entry key, and false for any other
// key.
func entryKeyIndex(key []byte) (uint64, bool) {
	if len(key) != len(KeyEntryPrefix)+8 || string(key[:len(KeyEntryPrefix)]) != KeyEntryPrefix {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[len(KeyEntryPrefix):]), true
}

// MemberKey returns the engine key of member id's address.
func MemberKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(MembersPrefix), id)
}

// MemberKeyID returns the member id of a member key, and false for any
// other key.
func MemberKeyID(key []byte) (uint64, bool) {
	if len(key) != len(MembersPrefix)+8 || string(key[:len(MembersPrefix)]) != MembersPrefix {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[len(MembersPrefix):]), true
}

// KVKey returns the engine key of a user key of the state machine.
func KVKey(userKey string) []byte {
	return append([]byte(KVPrefix), userKey...)
}

// DisplayKey renders an engine key for people: entry keys with the index in
// decimal (/raft/entry/12), everything else as it is stored.
func DisplayKey(key []byte) string {
	if idx, ok := entryKeyIndex(key); ok {
		return KeyEntryPrefix + strconv.FormatUint(idx, 10)
	}
	if id, ok := MemberKeyID(key); ok {
		return MembersPrefix + strconv.FormatUint(id, 10)
	}
	return string(key)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

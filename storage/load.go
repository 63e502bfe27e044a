package storage

import (
	"errors"
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"
)

// errFresh says the engine holds no raft key at all: a new member.
var errFresh = errors.New("storage: no raft state")

// load reads and checks the whole raft state of e. Every inconsistency is a
// *CorruptError naming the key; nothing is repaired.
func load(e Engine) (state, error) {
	var st state
	var present int
	rp := []byte(raftPrefix)
	if err := e.Scan(rp, prefixEnd(rp), func(k, v []byte) error {
		present++
		return errStopScan
	}); err != nil && err != errStopScan {
		return st, fmt.Errorf("storage: scan: %w", err)
	}
	if present == 0 {
		return st, errFresh
	}

	get := func(key []byte) ([]byte, error) {
		v, err := e.Get(key)
		if errors.Is(err, ErrNotFound) {
			return nil, &CorruptError{Key: string(key), Reason: "missing"}
		}
		if err != nil {
			return nil, fmt.Errorf("storage: read %s: %w", key, err)
		}
		return v, nil
	}
	v, err := get(keyFirstIndex)
	if err != nil {
		return st, err
	}
	if st.first, st.prevTerm, err = getUint64Pair(KeyFirstIndex, v); err != nil {
		return st, err
	}
	if v, err = get(keyLastIndex); err != nil {
		return st, err
	}
	if st.last, err = getUint64(KeyLastIndex, v); err != nil {
		return st, err
	}
	if v, err = get(keyHardState); err != nil {
		return st, err
	}
	st.hs = &pb.HardState{}
	if err := unmarshal(KeyHardState, v, st.hs); err != nil {
		return st, err
	}
	if v, err = get(keyConfState); err != nil {
		return st, err
	}
	st.cs = &pb.ConfState{}
	if err := unmarshal(KeyConfState, v, st.cs); err != nil {
		return st, err
	}
	if v, err = get(keyUncommitIndex); err != nil {
		return st, err
	}
	var uncommitLast uint64
	if st.applied, uncommitLast, err = getUint64Pair(KeyUncommitIndex, v); err != nil {
		return st, err
	}
	if v, err = get(keySnapshot); err != nil {
		return st, err
	}
	snap := &pb.Snapshot{}
	if err := unmarshal(KeySnapshot, v, snap); err != nil {
		return st, err
	}
	st.snap = pb.EnsureSnapshot(snap).GetMetadata()

	if uncommitLast != st.last {
		return st, &CorruptError{Key: KeyUncommitIndex, Reason: fmt.Sprintf("last %d disagrees with %s %d", uncommitLast, KeyLastIndex, st.last)}
	}
	if key, reason := st.check(); reason != "" {
		return st, &CorruptError{Key: key, Reason: reason}
	}
	if st.snap.GetIndex() == st.first-1 && st.snap.GetTerm() != st.prevTerm {
		return st, &CorruptError{Key: KeyFirstIndex, Reason: fmt.Sprintf("term %d before first index disagrees with snapshot term %d", st.prevTerm, st.snap.GetTerm())}
	}
	return st, checkEntries(e, &st)
}

var errStopScan = errors.New("stop scan")

// checkEntries checks that the entry keys are exactly [first, last], each
// decodable, holding its own index, with terms that never go down. Entry
// keys below first are not damage: a snapshot that replaced a long log
// deletes the entries it covers after it is recorded (Store.dropBelow), and
// a crash in between leaves some; they are counted in st.below, for Open to
// delete.
func checkEntries(e Engine, st *state) error {
	want, prevTerm := st.first, st.prevTerm
	err := e.Scan(keyEntryPrefix, prefixEnd(keyEntryPrefix), func(k, v []byte) error {
		idx, ok := entryKeyIndex(k)
		if !ok {
			return &CorruptError{Key: DisplayKey(k), Reason: "not an entry key"}
		}
		name := DisplayKey(k)
		switch {
		case idx < st.first:
			// first is at most snapshot+1 (state.check), so the
			// snapshot covers the entry.
			st.below++
			return nil
		case idx > st.last:
			return &CorruptError{Key: name, Reason: fmt.Sprintf("entry beyond %s %d", KeyLastIndex, st.last)}
		case idx != want:
			return &CorruptError{Key: DisplayKey(EntryKey(want)), Reason: "missing"}
		}
		ent := &pb.Entry{}
		if err := unmarshal(name, v, ent); err != nil {
			return err
		}
		if ent.GetIndex() != idx {
			return &CorruptError{Key: name, Reason: fmt.Sprintf("holds entry %d", ent.GetIndex())}
		}
		if ent.GetTerm() < prevTerm {
			return &CorruptError{Key: name, Reason: fmt.Sprintf("term %d below the previous entry's term %d", ent.GetTerm(), prevTerm)}
		}
		want, prevTerm = idx+1, ent.GetTerm()
		st.terms = append(st.terms, ent.GetTerm())
		return nil
	})
	if err != nil {
		return err
	}
	if want != st.last+1 {
		return &CorruptError{Key: DisplayKey(EntryKey(want)), Reason: fmt.Sprintf("missing (%s is %d)", KeyLastIndex, st.last)}
	}
	return nil
}

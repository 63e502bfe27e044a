package core

import (
	"fmt"
	"reflect"

	"go.etcd.io/raft/v3"
)

// raft does not export its election timer, which is what a student most
// wants to see (§5.2: a follower that hears nothing for a randomized timeout
// becomes a candidate). We read it by reflection from the RawNode. Reading an
// unexported field through reflect is allowed; writing is not, and we never
// try. TestTimerFieldsExist fails loudly if raft renames the fields.

// timerFields is the reflect path to the two fields, resolved once.
var timerFields = func() (f struct {
	raft, elapsed, timeout []int
	err                    error
}) {
	rn := reflect.TypeFor[raft.RawNode]()
	rf, ok := rn.FieldByName("raft")
	if !ok || rf.Type.Kind() != reflect.Pointer {
		f.err = fmt.Errorf("core: raft.RawNode has no field raft *raft")
		return f
	}
	inner := rf.Type.Elem()
	for name, dst := range map[string]*[]int{"electionElapsed": &f.elapsed, "randomizedElectionTimeout": &f.timeout} {
		sf, ok := inner.FieldByName(name)
		if !ok || sf.Type.Kind() != reflect.Int {
			f.err = fmt.Errorf("core: raft's raft struct has no int field %s", name)
			return f
		}
		*dst = sf.Index
	}
	f.raft = rf.Index
	return f
}()

// electionTimer returns the election timer of rn in ticks. Both are 0 when
// raft's fields moved (TestTimerFieldsExist reports it).
func electionTimer(rn *raft.RawNode) TimerInfo {
	if timerFields.err != nil {
		return TimerInfo{}
	}
	r := reflect.ValueOf(rn).Elem().FieldByIndex(timerFields.raft).Elem()
	return TimerInfo{
		Elapsed: int(r.FieldByIndex(timerFields.elapsed).Int()),
		Timeout: int(r.FieldByIndex(timerFields.timeout).Int()),
	}
}

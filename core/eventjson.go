package core

import (
	"encoding/json"
	"strconv"
)

// AppendJSON appends e encoded as JSON to dst: the same bytes as
// json.Marshal(e), made without reflection for the events a cluster makes
// most (sends and deliveries, Readys, timers, progress, roles, votes,
// commits). Every event is encoded once as it happens, in the browser's
// simulation step and on a real member's event hub, and reflection was most
// of that step's cost. Other events go through json.Marshal.
// TestAppendJSONMatchesMarshal holds the two to the same bytes, over the
// golden file's sample events among others: a field added to Event or to a
// payload written here fails it until it is written here too (or the
// payload is sent to json.Marshal below).
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	if e.Start != nil || len(e.Lost) > 0 || e.Error != "" || e.Key != nil || e.Apply != nil ||
		e.Snapshot != nil || e.ConfChange != nil || e.Transfer != nil || e.Read != nil ||
		e.Proposal != nil || e.Network != nil || e.Log != nil ||
		(e.Msg != nil && (len(e.Msg.Entries) > 0 || e.Msg.Snapshot != nil)) {
		b, err := json.Marshal(e)
		return append(dst, b...), err
	}
	w := jw{dst}
	w.raw(`{"v":`)
	w.int(int64(e.V))
	w.uintField(`,"seq":`, e.Seq)
	w.intField(`,"time":`, e.Time)
	w.uintField(`,"node":`, e.Node)
	w.strField(`,"kind":`, string(e.Kind))
	if r := e.Role; r != nil {
		w.strField(`,"role":{"role":`, r.Role)
		w.uintField(`,"term":`, r.Term)
		w.uintField(`,"lead":`, r.Lead)
		w.raw("}")
	}
	if t := e.Timer; t != nil {
		w.intField(`,"timer":{"elapsed":`, int64(t.Elapsed))
		w.intField(`,"timeout":`, int64(t.Timeout))
		w.raw("}")
	}
	if v := e.Vote; v != nil {
		w.strField(`,"vote":{"decision":`, v.Decision)
		w.uintField(`,"candidate":`, v.Candidate)
		w.uintField(`,"voter":`, v.Voter)
		w.uintField(`,"term":`, v.Term)
		w.boolField(`,"pre":`, v.Pre)
		w.raw("}")
	}
	if m := e.Msg; m != nil {
		w.appendMsg(m)
	}
	if r := e.Ready; r != nil {
		w.appendReady(r)
	}
	if c := e.Commit; c != nil {
		w.uintField(`,"commit":{"from":`, c.From)
		w.uintField(`,"to":`, c.To)
		w.raw("}")
	}
	if c := e.Compact; c != nil {
		w.uintField(`,"compact":{"index":`, c.Index)
		w.raw("}")
	}
	if p := e.Progress; p != nil {
		w.appendProgress(p)
	}
	if d := e.Dropped; d != nil {
		w.uintField(`,"dropped":{"count":`, d.Count)
		w.raw("}")
	}
	w.raw("}")
	return w.b, nil
}

func (w *jw) appendMsg(m *MsgInfo) {
	w.uintField(`,"msg":{"id":`, m.ID)
	w.strField(`,"type":`, m.Type)
	w.uintField(`,"from":`, m.From)
	w.uintField(`,"to":`, m.To)
	w.uintField(`,"term":`, m.Term)
	w.uintOmit(`,"logTerm":`, m.LogTerm)
	w.uintOmit(`,"index":`, m.Index)
	w.uintOmit(`,"commit":`, m.Commit)
	w.uintOmit(`,"vote":`, m.Vote)
	if m.Reject {
		w.raw(`,"reject":true`)
	}
	w.uintOmit(`,"rejectHint":`, m.RejectHint)
	w.intField(`,"size":`, int64(m.Size))
	if m.Reason != "" {
		w.strField(`,"reason":`, m.Reason)
	}
	if m.DeliverAt != 0 {
		w.intField(`,"deliverAt":`, m.DeliverAt)
	}
	w.raw("}")
}

func (w *jw) appendReady(r *ReadyInfo) {
	w.uintField(`,"ready":{"number":`, r.Number)
	w.uintOmit(`,"entriesFrom":`, r.EntriesFrom)
	w.uintOmit(`,"entriesTo":`, r.EntriesTo)
	if h := r.HardState; h != nil {
		w.uintField(`,"hardState":{"term":`, h.Term)
		w.uintField(`,"vote":`, h.Vote)
		w.uintField(`,"commit":`, h.Commit)
		w.raw("}")
	}
	w.uintOmit(`,"snapshot":`, r.Snapshot)
	w.boolField(`,"mustSync":`, r.MustSync)
	w.boolField(`,"synced":`, r.Synced)
	w.intField(`,"messages":`, int64(r.Messages))
	if r.SentBeforePersist {
		w.raw(`,"sentBeforePersist":true`)
	}
	w.uintOmit(`,"committedFrom":`, r.CommittedFrom)
	w.uintOmit(`,"committedTo":`, r.CommittedTo)
	if r.ReadStates != 0 {
		w.intField(`,"readStates":`, int64(r.ReadStates))
	}
	w.raw("}")
}

func (w *jw) appendProgress(p *ProgressInfo) {
	w.uintField(`,"progress":{"peer":`, p.Peer)
	w.uintField(`,"match":`, p.Match)
	w.uintField(`,"next":`, p.Next)
	w.strField(`,"state":`, p.State)
	w.intField(`,"inflight":`, int64(p.Inflight))
	w.boolField(`,"recentActive":`, p.RecentActive)
	w.boolField(`,"paused":`, p.Paused)
	w.uintOmit(`,"pendingSnapshot":`, p.PendingSnapshot)
	if p.Learner {
		w.raw(`,"learner":true`)
	}
	w.raw("}")
}

// jw appends JSON to b.
type jw struct{ b []byte }

func (w *jw) raw(s string)  { w.b = append(w.b, s...) }
func (w *jw) int(v int64)   { w.b = strconv.AppendInt(w.b, v, 10) }
func (w *jw) uint(v uint64) { w.b = strconv.AppendUint(w.b, v, 10) }
func (w *jw) bool(v bool)   { w.b = strconv.AppendBool(w.b, v) }
func (w *jw) str(s string)  { w.b = appendJSONString(w.b, s) }
func (w *jw) intField(name string, v int64) {
	w.raw(name)
	w.int(v)
}
func (w *jw) uintField(name string, v uint64) {
	w.raw(name)
	w.uint(v)
}
func (w *jw) boolField(name string, v bool) {
	w.raw(name)
	w.bool(v)
}
func (w *jw) strField(name, s string) {
	w.raw(name)
	w.str(s)
}

// uintOmit is uintField for a field tagged omitempty.
func (w *jw) uintOmit(name string, v uint64) {
	if v != 0 {
		w.uintField(name, v)
	}
}

// appendJSONString appends s quoted as encoding/json quotes it. Plain ASCII
// is copied; anything json.Marshal escapes (quotes, backslashes, control
// characters, <, > and &, and all non-ASCII, for its invalid UTF-8 and
// U+2028/U+2029) goes through json.Marshal.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

package core

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/raftlab/raftlab/storage"
)

// AppendJSON appends e encoded as JSON to dst: the same bytes as
// json.Marshal(e), made without reflection for the events a cluster makes
// most (sends and deliveries with their entries, Readys, storage writes,
// applies, proposals, timers, progress, roles, votes, commits). Every event
// is encoded once as it happens, in the browser's simulation step and on a
// real member's event hub, and reflection was most of that step's cost.
// Other events go through json.Marshal.
// TestAppendJSONMatchesMarshal holds the two to the same bytes, over the
// golden file's sample events among others: a field added to Event or to a
// payload written here fails it until it is written here too (or the
// payload is sent to json.Marshal below).
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	if e.Start != nil || len(e.Lost) > 0 || e.Error != "" || (e.Key != nil && !fastValue(e.Key.Value)) ||
		e.Snapshot != nil || e.ConfChange != nil || e.Transfer != nil || e.Network != nil ||
		(e.Msg != nil && e.Msg.Snapshot != nil) {
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
	if k := e.Key; k != nil {
		w.appendKey(k)
	}
	if c := e.Commit; c != nil {
		w.uintField(`,"commit":{"from":`, c.From)
		w.uintField(`,"to":`, c.To)
		w.raw("}")
	}
	if a := e.Apply; a != nil {
		w.uintField(`,"apply":{"from":`, a.From)
		w.uintField(`,"to":`, a.To)
		w.raw(`,"entries":`)
		w.entries(a.Entries)
		w.raw("}")
	}
	if c := e.Compact; c != nil {
		w.uintField(`,"compact":{"index":`, c.Index)
		w.raw("}")
	}
	if r := e.Read; r != nil {
		w.appendRead(r)
	}
	if p := e.Proposal; p != nil {
		w.strField(`,"proposal":{"phase":`, p.Phase)
		w.uintField(`,"reqId":`, p.ReqID)
		w.strField(`,"command":`, p.Command)
		w.uintOmit(`,"index":`, p.Index)
		w.strOmit(`,"error":`, p.Error)
		w.raw("}")
	}
	if p := e.Progress; p != nil {
		w.appendProgress(p)
	}
	if l := e.Log; l != nil {
		w.strField(`,"log":{"level":`, l.Level)
		w.strField(`,"text":`, l.Text)
		w.raw("}")
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
	if len(m.Entries) > 0 {
		w.raw(`,"entries":`)
		w.entries(m.Entries)
	}
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

func (w *jw) appendKey(k *storage.KeyChange) {
	w.strField(`,"key":{"key":`, k.Key)
	if k.Deleted {
		w.raw(`,"deleted":true`)
	}
	if k.Value != nil {
		w.raw(`,"value":`)
		switch v := k.Value.(type) {
		case string:
			w.str(v)
		case storage.EntryValue:
			w.entry(&v)
		case storage.HardStateValue:
			w.uintField(`{"term":`, v.Term)
			w.uintField(`,"vote":`, v.Vote)
			w.uintField(`,"commit":`, v.Commit)
			w.raw("}")
		case storage.UncommitValue:
			w.uintField(`{"applied":`, v.Applied)
			w.uintField(`,"last":`, v.Last)
			w.raw("}")
		case storage.LastIndexValue:
			w.uintField(`{"index":`, v.Index)
			w.raw("}")
		case storage.FirstIndexValue:
			w.uintField(`{"index":`, v.Index)
			w.uintField(`,"prevTerm":`, v.PrevTerm)
			w.raw("}")
		}
	}
	w.boolField(`,"synced":`, k.Synced)
	w.raw("}")
}

// fastValue reports whether appendKey writes a key's value (the cases of
// its switch): the values a loaded member writes with every entry. The others (the conf state, the
// snapshot's metadata) go through json.Marshal.
func fastValue(v any) bool {
	switch v.(type) {
	case nil, string, storage.EntryValue, storage.HardStateValue, storage.UncommitValue,
		storage.LastIndexValue, storage.FirstIndexValue:
		return true
	}
	return false
}

// entries writes a list of entries; nil is null, as json.Marshal writes it.
func (w *jw) entries(es []storage.EntryValue) {
	if es == nil {
		w.raw("null")
		return
	}
	w.raw("[")
	for i := range es {
		if i > 0 {
			w.raw(",")
		}
		w.entry(&es[i])
	}
	w.raw("]")
}

func (w *jw) entry(e *storage.EntryValue) {
	w.uintField(`{"index":`, e.Index)
	w.uintField(`,"term":`, e.Term)
	w.strField(`,"type":`, e.Type)
	w.intField(`,"size":`, int64(e.Size))
	w.strOmit(`,"data":`, e.Data)
	w.raw("}")
}

func (w *jw) appendRead(r *ReadInfo) {
	w.strField(`,"read":{"phase":`, r.Phase)
	w.uintField(`,"reqId":`, r.ReqID)
	w.strField(`,"key":`, r.Key)
	w.uintOmit(`,"index":`, r.Index)
	if r.Found {
		w.raw(`,"found":true`)
	}
	w.strOmit(`,"value":`, r.Value)
	w.strOmit(`,"error":`, r.Error)
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

// strOmit is strField for a field tagged omitempty.
func (w *jw) strOmit(name, s string) {
	if s != "" {
		w.strField(name, s)
	}
}

// appendJSONString appends s quoted as encoding/json quotes it (its
// appendString with HTML escaping, which json.Marshal uses): quotes,
// backslashes, control characters, <, > and &, invalid UTF-8 as U+FFFD,
// and U+2028/U+2029 escaped; the rest copied. Written here because an
// entry's description ends in "…" when its value is cut, and those went
// through json.Marshal.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

package core

import (
	"fmt"
	"strings"

	"go.etcd.io/raft/v3"
)

// raftLogger gives raft's own log lines to the event stream (KindLog) and to
// an optional logger. Fatal and Panic keep raft's meaning: they panic, and
// the driver's recover turns that into a stopped member.
type raftLogger struct {
	n     *Node
	next  raft.Logger // may be nil
	debug bool
}

// on reports whether formatting a line for the event stream is worth it.
func (l *raftLogger) on() bool { return l.n.sink != nil }

// emit sends a line to the event stream. Whitespace runs are collapsed:
// raft formats some protobuf values with %v, whose text protobuf varies on
// purpose between binaries (an extra space here and there), and a native
// and a wasm run must give the same events.
func (l *raftLogger) emit(level, text string) {
	text = strings.Join(strings.Fields(text), " ")
	l.n.emit(Event{Kind: KindLog, Log: &LogInfo{Level: level, Text: text}})
}

func (l *raftLogger) Debug(v ...any) {
	if l.debug && l.on() {
		l.emit("debug", fmt.Sprint(v...))
	}
	if l.next != nil {
		l.next.Debug(v...)
	}
}

func (l *raftLogger) Debugf(format string, v ...any) {
	if l.debug && l.on() {
		l.emit("debug", fmt.Sprintf(format, v...))
	}
	if l.next != nil {
		l.next.Debugf(format, v...)
	}
}

func (l *raftLogger) Info(v ...any) {
	if l.on() {
		l.emit("info", fmt.Sprint(v...))
	}
	if l.next != nil {
		l.next.Info(v...)
	}
}

func (l *raftLogger) Infof(format string, v ...any) {
	if l.on() {
		l.emit("info", fmt.Sprintf(format, v...))
	}
	if l.next != nil {
		l.next.Infof(format, v...)
	}
}

func (l *raftLogger) Warning(v ...any) {
	if l.on() {
		l.emit("warning", fmt.Sprint(v...))
	}
	if l.next != nil {
		l.next.Warning(v...)
	}
}

func (l *raftLogger) Warningf(format string, v ...any) {
	if l.on() {
		l.emit("warning", fmt.Sprintf(format, v...))
	}
	if l.next != nil {
		l.next.Warningf(format, v...)
	}
}

func (l *raftLogger) Error(v ...any) {
	if l.on() {
		l.emit("error", fmt.Sprint(v...))
	}
	if l.next != nil {
		l.next.Error(v...)
	}
}

func (l *raftLogger) Errorf(format string, v ...any) {
	if l.on() {
		l.emit("error", fmt.Sprintf(format, v...))
	}
	if l.next != nil {
		l.next.Errorf(format, v...)
	}
}

func (l *raftLogger) Fatal(v ...any) { l.Panic(v...) }

func (l *raftLogger) Fatalf(format string, v ...any) { l.Panicf(format, v...) }

func (l *raftLogger) Panic(v ...any) {
	s := fmt.Sprint(v...)
	l.emit("panic", s)
	panic(s)
}

func (l *raftLogger) Panicf(format string, v ...any) {
	s := fmt.Sprintf(format, v...)
	l.emit("panic", s)
	panic(s)
}

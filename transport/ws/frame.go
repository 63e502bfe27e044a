package ws

// This file holds the wire format of peer traffic. It has no build tag and
// no WebSocket import: the native transport (gorilla) and a browser member
// (the page's WebSocket under js/wasm) put the same bytes on the wire.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// A frame is one binary WebSocket message carrying a batch of raft messages
// from one member to another. Integers are big-endian and fixed width, so a
// reader checks every count and length against the bytes it holds before it
// allocates anything:
//
//	offset  size  field
//	0       2     magic "RL"
//	2       1     version, FrameVersion
//	3       1     flags, reserved, 0
//	4       8     cluster id
//	12      8     from: the sending member
//	20      8     to: the receiving member
//	28      4     count: messages that follow, 1..MaxFrameMessages
//	then count times:
//	        8     message id, unique per sender: pairs a send with its
//	              delivery in the UI
//	        4     length n of the message
//	        n     the raftpb.Message, protobuf
const (
	FrameVersion = 1
	// FrameHeaderSize is the size of the frame header.
	FrameHeaderSize = 32
	// FrameMessageOverhead is what each message adds besides its protobuf
	// bytes: its id and its length.
	FrameMessageOverhead = 12
	// FrameOverhead is what a frame of one message adds to it: a reader that
	// accepts messages up to N bytes needs a read limit of N+FrameOverhead.
	FrameOverhead = FrameHeaderSize + FrameMessageOverhead
	// MaxFrameMessages bounds the batch a frame may carry.
	MaxFrameMessages = 1 << 16
	// MaxMessageBytesLimit is the largest message the format can carry (the
	// length field is 32 bits; keep clear of int overflow on 32-bit targets
	// such as wasm).
	MaxMessageBytesLimit = math.MaxInt32 - FrameOverhead
	// MinMessageBytesLimit is the smallest message limit a member may
	// have: below it not even a heartbeat with a read context is safe.
	MinMessageBytesLimit = 1 << 10
	// DefaultMaxMessageBytes is the message limit of a member that sets
	// none.
	DefaultMaxMessageBytes = 16 << 20
)

var frameMagic = [2]byte{'R', 'L'}

// Errors of EncodeFrame and DecodeFrame. DecodeFrame wraps them with the
// detail (which message, which sizes); test with errors.Is.
var (
	ErrFrameShort     = errors.New("ws: frame shorter than its header")
	ErrFrameMagic     = errors.New("ws: not a raftlab frame")
	ErrFrameVersion   = errors.New("ws: unsupported frame version")
	ErrFrameHeader    = errors.New("ws: bad frame header")
	ErrFrameCount     = errors.New("ws: bad message count")
	ErrFrameTruncated = errors.New("ws: frame ends inside a message")
	ErrFrameTrailing  = errors.New("ws: trailing bytes after the last message")
	// ErrMessageTooLarge: a message is longer than the receiver accepts.
	ErrMessageTooLarge = errors.New("ws: message too large")
	// ErrBadMessage: the bytes are not a raft message of a known type.
	ErrBadMessage = errors.New("ws: bad raft message")
	// ErrLocalMessage: raft's local messages (MsgHup, MsgBeat, the storage
	// thread messages...) never cross the network; one arriving is forged.
	ErrLocalMessage = errors.New("ws: local message type on the wire")
	// ErrFromMismatch and ErrToMismatch: a message's From or To differs from
	// the frame header, which the transport checks against the
	// authenticated peer and itself.
	ErrFromMismatch = errors.New("ws: message from differs from the frame")
	ErrToMismatch   = errors.New("ws: message to differs from the frame")
)

// FrameHeader says who a frame is from and to.
type FrameHeader struct {
	ClusterID, From, To uint64
}

// Envelope is a raft message with the id its sender gave it.
type Envelope struct {
	ID      uint64
	Message *pb.Message
}

// Frame is a decoded frame.
type Frame struct {
	FrameHeader
	Messages []Envelope
}

// unmarshalOptions bound the nesting a peer can make us walk: a legal
// message nests four deep (Message, Snapshot, SnapshotMetadata, ConfState).
var unmarshalOptions = proto.UnmarshalOptions{RecursionLimit: 16}

// marshalOptions reuse the size computed by FrameBuilder.Add just before.
var marshalOptions = proto.MarshalOptions{UseCachedSize: true}

// EncodeFrame returns the frame carrying msgs from h.From to h.To. Each
// message must be a network message (not raft-local) whose From and To are
// the header's.
func EncodeFrame(h FrameHeader, msgs []Envelope) ([]byte, error) {
	if len(msgs) == 0 || len(msgs) > MaxFrameMessages {
		return nil, fmt.Errorf("%w: %d", ErrFrameCount, len(msgs))
	}
	var b FrameBuilder
	if err := b.Reset(h); err != nil {
		return nil, err
	}
	for _, e := range msgs {
		if _, err := b.Add(e.ID, e.Message, MaxMessageBytesLimit); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// FrameBuilder encodes a frame one message at a time into a buffer it
// reuses, so a writer that batches whatever is queued allocates nothing per
// message. The zero value is ready for Reset.
type FrameBuilder struct {
	h   FrameHeader
	buf []byte
	n   int
}

// Reset starts a new, empty frame with header h, keeping the buffer.
func (b *FrameBuilder) Reset(h FrameHeader) error {
	if err := checkHeader(h); err != nil {
		return err
	}
	b.h = h
	b.n = 0
	b.buf = append(b.buf[:0], frameMagic[0], frameMagic[1], FrameVersion, 0)
	b.buf = binary.BigEndian.AppendUint64(b.buf, h.ClusterID)
	b.buf = binary.BigEndian.AppendUint64(b.buf, h.From)
	b.buf = binary.BigEndian.AppendUint64(b.buf, h.To)
	b.buf = binary.BigEndian.AppendUint32(b.buf, 0) // count, set by Bytes
	return nil
}

// Add appends m with message id id and returns the size of its protobuf
// bytes. It refuses, leaving the frame as it was, a message that cannot go
// on the wire (local type, From or To not the header's), one larger than
// maxMessageBytes, and a message past MaxFrameMessages.
func (b *FrameBuilder) Add(id uint64, m *pb.Message, maxMessageBytes int) (int, error) {
	if b.n >= MaxFrameMessages {
		return 0, fmt.Errorf("%w: more than %d", ErrFrameCount, MaxFrameMessages)
	}
	if err := checkMessage(b.h, m); err != nil {
		return 0, err
	}
	size := proto.Size(m)
	if size > maxMessageBytes || size > MaxMessageBytesLimit {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, size, min(maxMessageBytes, MaxMessageBytesLimit))
	}
	return size, b.appendSized(id, m, size)
}

// appendSized appends m, whose proto.Size was just computed as size, and
// which the caller checked (the transport's writer checks in Send).
func (b *FrameBuilder) appendSized(id uint64, m *pb.Message, size int) error {
	start := len(b.buf)
	b.buf = binary.BigEndian.AppendUint64(b.buf, id)
	b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(size))
	out, err := marshalOptions.MarshalAppend(b.buf, m)
	if err != nil || len(out)-start-FrameMessageOverhead != size {
		// The message changed under us (a caller broke the contract of
		// not mutating sent messages): never put a wrong length on the
		// wire.
		b.buf = b.buf[:start]
		if err == nil {
			err = errors.New("size changed while encoding")
		}
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	b.buf = out
	b.n++
	return nil
}

// Count returns the number of messages added since Reset.
func (b *FrameBuilder) Count() int { return b.n }

// Len returns the size of the frame so far.
func (b *FrameBuilder) Len() int { return len(b.buf) }

// Bytes returns the frame. It stays valid until the next Reset.
func (b *FrameBuilder) Bytes() []byte {
	binary.BigEndian.PutUint32(b.buf[28:32], uint32(b.n))
	return b.buf
}

// DecodeFrame decodes a frame whose messages are each at most
// maxMessageBytes long. It never panics and never trusts a count or a length
// before checking it against the bytes it holds. The returned messages do
// not alias data.
func DecodeFrame(data []byte, maxMessageBytes int) (Frame, error) {
	var f Frame
	err := decodeFrame(&f, data, maxMessageBytes)
	return f, err
}

// decodeFrame decodes into f, reusing the capacity of f.Messages: the
// transport's reader keeps one Frame per connection. On error f holds no
// message.
func decodeFrame(f *Frame, data []byte, maxMessageBytes int) error {
	clear(f.Messages)
	f.Messages = f.Messages[:0]
	if len(data) < FrameHeaderSize {
		return fmt.Errorf("%w: %d bytes", ErrFrameShort, len(data))
	}
	if data[0] != frameMagic[0] || data[1] != frameMagic[1] {
		return ErrFrameMagic
	}
	if data[2] != FrameVersion {
		return fmt.Errorf("%w: %d", ErrFrameVersion, data[2])
	}
	if data[3] != 0 {
		return fmt.Errorf("%w: flags %#x", ErrFrameHeader, data[3])
	}
	f.FrameHeader = FrameHeader{
		ClusterID: binary.BigEndian.Uint64(data[4:]),
		From:      binary.BigEndian.Uint64(data[12:]),
		To:        binary.BigEndian.Uint64(data[20:]),
	}
	if err := checkHeader(f.FrameHeader); err != nil {
		return err
	}
	count := uint64(binary.BigEndian.Uint32(data[28:]))
	rest := data[FrameHeaderSize:]
	// Every message takes at least its overhead: a count the bytes cannot
	// hold is refused before the slice for it is made.
	if count == 0 || count > MaxFrameMessages || count*FrameMessageOverhead > uint64(len(rest)) {
		return fmt.Errorf("%w: %d in %d bytes", ErrFrameCount, count, len(rest))
	}
	f.Messages = f.Messages[:0]
	for i := range count {
		if len(rest) < FrameMessageOverhead {
			return fail(f, fmt.Errorf("%w: message %d of %d", ErrFrameTruncated, i, count))
		}
		id := binary.BigEndian.Uint64(rest)
		n := uint64(binary.BigEndian.Uint32(rest[8:]))
		rest = rest[FrameMessageOverhead:]
		if maxMessageBytes < 0 || n > uint64(maxMessageBytes) {
			return fail(f, fmt.Errorf("%w: message %d is %d bytes, limit %d", ErrMessageTooLarge, i, n, maxMessageBytes))
		}
		if n > uint64(len(rest)) {
			return fail(f, fmt.Errorf("%w: message %d is %d bytes, %d left", ErrFrameTruncated, i, n, len(rest)))
		}
		m := new(pb.Message)
		if err := unmarshalOptions.Unmarshal(rest[:n], m); err != nil {
			return fail(f, fmt.Errorf("%w: message %d: %v", ErrBadMessage, i, err))
		}
		rest = rest[n:]
		if err := checkMessage(f.FrameHeader, m); err != nil {
			return fail(f, fmt.Errorf("message %d: %w", i, err))
		}
		f.Messages = append(f.Messages, Envelope{ID: id, Message: m})
	}
	if len(rest) != 0 {
		return fail(f, fmt.Errorf("%w: %d bytes", ErrFrameTrailing, len(rest)))
	}
	return nil
}

// fail drops what a refused frame decoded so far: a frame is delivered
// whole or not at all.
func fail(f *Frame, err error) error {
	clear(f.Messages)
	f.Messages = f.Messages[:0]
	return err
}

// checkHeader refuses ids raft never uses for a peer and a member talking to
// itself.
func checkHeader(h FrameHeader) error {
	if h.From == 0 || h.To == 0 || h.From == h.To {
		return fmt.Errorf("%w: from %d to %d", ErrFrameHeader, h.From, h.To)
	}
	return nil
}

// checkMessage is what makes a message legal on a link h. The Term is left
// exactly as it is: 0 is legal on the wire (a follower forwards MsgProp and
// MsgReadIndex with Term 0), and raft gives it meaning.
func checkMessage(h FrameHeader, m *pb.Message) error {
	if m == nil || m.Type == nil {
		return fmt.Errorf("%w: no type", ErrBadMessage)
	}
	t := m.GetType()
	if _, ok := pb.MessageType_name[int32(t)]; !ok {
		return fmt.Errorf("%w: type %d", ErrBadMessage, t)
	}
	if raft.IsLocalMsg(t) {
		return fmt.Errorf("%w: type %d", ErrLocalMessage, t)
	}
	if m.GetFrom() != h.From {
		return fmt.Errorf("%w: %d, frame from %d", ErrFromMismatch, m.GetFrom(), h.From)
	}
	if m.GetTo() != h.To {
		return fmt.Errorf("%w: %d, frame to %d", ErrToMismatch, m.GetTo(), h.To)
	}
	return nil
}

package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func TestFrameRoundTrip(t *testing.T) {
	h := FrameHeader{ClusterID: 0xc1, From: 1, To: 2}
	var in []Envelope
	for seq := range uint64(40) {
		for _, typ := range wireTypes() {
			in = append(in, Envelope{ID: seq<<8 | uint64(typ) | 1<<63, Message: sampleMessage(typ, 1, 2, seq)})
		}
	}
	data, err := EncodeFrame(h, in)
	if err != nil {
		t.Fatal(err)
	}
	f, err := DecodeFrame(data, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if f.FrameHeader != h {
		t.Fatalf("header %+v, want %+v", f.FrameHeader, h)
	}
	if len(f.Messages) != len(in) {
		t.Fatalf("%d messages, want %d", len(f.Messages), len(in))
	}
	for i, e := range f.Messages {
		if e.ID != in[i].ID || !proto.Equal(e.Message, in[i].Message) {
			t.Fatalf("message %d: got id %d %v, want id %d %v", i, e.ID, e.Message, in[i].ID, in[i].Message)
		}
		if in[i].Message.Term != nil && e.Message.Term == nil {
			t.Fatalf("message %d: Term %d lost", i, in[i].Message.GetTerm())
		}
		if !bytes.Equal(mustMarshal(e.Message), mustMarshal(in[i].Message)) {
			t.Fatalf("message %d: bytes differ", i)
		}
	}
}

func TestFrameBuilderReuse(t *testing.T) {
	var b FrameBuilder
	for round := range uint64(3) {
		if err := b.Reset(FrameHeader{ClusterID: 1, From: 3, To: 1}); err != nil {
			t.Fatal(err)
		}
		for i := range round + 1 {
			if _, err := b.Add(i, sampleMessage(pb.MsgHeartbeat, 3, 1, i), 1<<10); err != nil {
				t.Fatal(err)
			}
		}
		f, err := DecodeFrame(b.Bytes(), 1<<10)
		if err != nil || len(f.Messages) != int(round+1) {
			t.Fatalf("round %d: %d messages, %v", round, len(f.Messages), err)
		}
	}
	// A refused message leaves the frame as it was.
	n := b.Len()
	if _, err := b.Add(9, sampleMessage(pb.MsgHeartbeat, 2, 1, 1), 1<<10); !errors.Is(err, ErrFromMismatch) {
		t.Fatalf("Add from 2 on a frame from 3: %v", err)
	}
	if _, err := b.Add(9, sampleMessage(pb.MsgSnap, 3, 1, 99), 10); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("Add over the limit: %v", err)
	}
	if b.Len() != n {
		t.Fatalf("refused Add changed the frame: %d -> %d bytes", n, b.Len())
	}
}

func TestEncodeFrameRefuses(t *testing.T) {
	h := FrameHeader{ClusterID: 1, From: 1, To: 2}
	hb := func(from, to uint64) []Envelope {
		return []Envelope{{ID: 1, Message: sampleMessage(pb.MsgHeartbeat, from, to, 1)}}
	}
	for _, tc := range []struct {
		name string
		h    FrameHeader
		msgs []Envelope
		want error
	}{
		{"no messages", h, nil, ErrFrameCount},
		{"from 0", FrameHeader{From: 0, To: 2}, hb(0, 2), ErrFrameHeader},
		{"to self", FrameHeader{From: 1, To: 1}, hb(1, 1), ErrFrameHeader},
		{"spoofed from", h, hb(3, 2), ErrFromMismatch},
		{"other recipient", h, hb(1, 3), ErrToMismatch},
		{"no type", h, []Envelope{{Message: &pb.Message{From: new(uint64(1)), To: new(uint64(2))}}}, ErrBadMessage},
		{"nil message", h, []Envelope{{}}, ErrBadMessage},
		{"local", h, []Envelope{{Message: &pb.Message{Type: pb.MsgHup.Enum(), From: new(uint64(1)), To: new(uint64(2))}}}, ErrLocalMessage},
	} {
		if _, err := EncodeFrame(tc.h, tc.msgs); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, typ := range localTypes() {
		m := &pb.Message{Type: typ.Enum(), From: new(uint64(1)), To: new(uint64(2))}
		if _, err := EncodeFrame(h, []Envelope{{Message: m}}); !errors.Is(err, ErrLocalMessage) {
			t.Errorf("local type %d: %v", typ, err)
		}
	}
}

func TestDecodeFrameRefuses(t *testing.T) {
	hb := mustMarshal(sampleMessage(pb.MsgHeartbeat, 1, 2, 5))
	good := rawFrame(7, 1, 2, 1, rawPart{id: 1, data: hb})
	if _, err := DecodeFrame(good, 1<<10); err != nil {
		t.Fatalf("the valid frame the cases start from: %v", err)
	}
	set := func(off int, v ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[off:], v)
		return b
	}
	length := func(n uint32) *uint32 { return &n }
	typed := func(typ pb.MessageType) []byte {
		return mustMarshal(&pb.Message{Type: typ.Enum(), From: new(uint64(1)), To: new(uint64(2)), Commit: new(uint64(1e9))})
	}
	cases := []struct {
		name string
		data []byte
		max  int
		want error
	}{
		{"empty", nil, 1 << 10, ErrFrameShort},
		{"short header", good[:FrameHeaderSize-1], 1 << 10, ErrFrameShort},
		{"magic", set(0, 'X'), 1 << 10, ErrFrameMagic},
		{"version", set(2, 9), 1 << 10, ErrFrameVersion},
		{"flags", set(3, 1), 1 << 10, ErrFrameHeader},
		{"from 0", rawFrame(7, 0, 2, 1, rawPart{id: 1, data: hb}), 1 << 10, ErrFrameHeader},
		{"to 0", rawFrame(7, 1, 0, 1, rawPart{id: 1, data: hb}), 1 << 10, ErrFrameHeader},
		{"from = to", rawFrame(7, 2, 2, 1, rawPart{id: 1, data: hb}), 1 << 10, ErrFrameHeader},
		{"count 0", rawFrame(7, 1, 2, 0), 1 << 10, ErrFrameCount},
		{"count 0 with a message", rawFrame(7, 1, 2, 0, rawPart{id: 1, data: hb}), 1 << 10, ErrFrameCount},
		{"count absurd", rawFrame(7, 1, 2, 0xffffffff, rawPart{id: 1, data: hb}), 1 << 10, ErrFrameCount},
		{"count over the max", rawFrame(7, 1, 2, MaxFrameMessages+1, rawPart{data: make([]byte, 12*(MaxFrameMessages+1))}), 1 << 30, ErrFrameCount},
		{"count past the bytes", rawFrame(7, 1, 2, 5, rawPart{id: 1, data: hb}), 1 << 10, ErrFrameCount},
		{"count 2, one message", append(rawFrame(7, 1, 2, 2, rawPart{id: 1, data: hb}), make([]byte, FrameMessageOverhead-1)...), 1 << 10, ErrFrameTruncated},
		{"length past the end", rawFrame(7, 1, 2, 1, rawPart{id: 1, data: hb, length: length(uint32(len(hb) + 1))}), 1 << 10, ErrFrameTruncated},
		{"length absurd", rawFrame(7, 1, 2, 1, rawPart{id: 1, data: hb, length: length(0xffffffff)}), 1 << 10, ErrMessageTooLarge},
		{"length over the max", good, len(hb) - 1, ErrMessageTooLarge},
		{"negative max", good, -1, ErrMessageTooLarge},
		{"trailing byte", append(bytes.Clone(good), 0), 1 << 10, ErrFrameTrailing},
		{"short length", rawFrame(7, 1, 2, 1, rawPart{id: 1, data: hb, length: length(uint32(len(hb) - 1))}), 1 << 10, ErrBadMessage},
		{"garbage protobuf", rawFrame(7, 1, 2, 1, rawPart{id: 1, data: []byte{0xff, 0xff, 0xff}}), 1 << 10, ErrBadMessage},
		{"empty message", rawFrame(7, 1, 2, 1, rawPart{id: 1}), 1 << 10, ErrBadMessage},
		{"unknown type", rawFrame(7, 1, 2, 1, rawPart{id: 1, data: []byte{0x08, 99, 0x10, 2, 0x18, 1}}), 1 << 10, ErrBadMessage},
		{"spoofed from", rawFrame(7, 1, 2, 1, rawPart{id: 1, data: mustMarshal(sampleMessage(pb.MsgHeartbeat, 3, 2, 1))}), 1 << 10, ErrFromMismatch},
		{"other recipient", rawFrame(7, 1, 2, 1, rawPart{id: 1, data: mustMarshal(sampleMessage(pb.MsgHeartbeat, 1, 3, 1))}), 1 << 10, ErrToMismatch},
		{"second message spoofed", rawFrame(7, 1, 2, 2, rawPart{id: 1, data: hb}, rawPart{id: 2, data: mustMarshal(sampleMessage(pb.MsgApp, 3, 2, 1))}), 1 << 10, ErrFromMismatch},
	}
	for _, typ := range localTypes() {
		cases = append(cases, struct {
			name string
			data []byte
			max  int
			want error
		}{"local " + pb.MessageType_name[int32(typ)], rawFrame(7, 1, 2, 1, rawPart{id: 1, data: typed(typ)}), 1 << 10, ErrLocalMessage})
	}
	for _, tc := range cases {
		f, err := DecodeFrame(tc.data, tc.max)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if len(f.Messages) != 0 {
			t.Errorf("%s: refused frame returned %d messages", tc.name, len(f.Messages))
		}
	}
}

// A frame that claims a huge count or length is refused before anything
// the size of the claim is allocated.
func TestDecodeFrameAllocatesNothingForClaims(t *testing.T) {
	for name, data := range map[string][]byte{
		"count":  rawFrame(7, 1, 2, MaxFrameMessages, rawPart{id: 1, data: []byte{1}}),
		"length": rawFrame(7, 1, 2, 1, rawPart{id: 1, length: func() *uint32 { n := uint32(1 << 31); return &n }()}),
	} {
		var f Frame
		allocs := testing.AllocsPerRun(100, func() {
			if decodeFrame(&f, data, 1<<30) == nil {
				t.Fatal("accepted")
			}
		})
		// The error value itself allocates a little.
		if allocs > 6 {
			t.Errorf("%s: %v allocations to refuse a claim", name, allocs)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	h := FrameHeader{ClusterID: 3, From: 1, To: 2}
	for seq, typ := range wireTypes() {
		data, err := EncodeFrame(h, []Envelope{{ID: uint64(seq), Message: sampleMessage(typ, 1, 2, uint64(seq))}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	var batch []Envelope
	for seq := range uint64(5) {
		batch = append(batch, Envelope{ID: seq, Message: sampleMessage(pb.MsgApp, 1, 2, seq)})
	}
	data, err := EncodeFrame(h, batch)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(rawFrame(3, 1, 2, 1, rawPart{id: 1, data: mustMarshal(&pb.Message{Type: pb.MsgHup.Enum(), From: new(uint64(1)), To: new(uint64(2))})}))
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 1 << 16
		fr, err := DecodeFrame(data, max)
		if err != nil {
			if len(fr.Messages) != 0 {
				t.Fatal("refused frame with messages")
			}
			return
		}
		// Whatever is accepted is a legal frame: it re-encodes, and decodes
		// again to equal messages.
		if n := binary.BigEndian.Uint32(data[28:]); int(n) != len(fr.Messages) {
			t.Fatalf("count %d, decoded %d", n, len(fr.Messages))
		}
		again, err := EncodeFrame(fr.FrameHeader, fr.Messages)
		if err != nil {
			t.Fatalf("accepted frame does not re-encode: %v", err)
		}
		fr2, err := DecodeFrame(again, max)
		if err != nil {
			t.Fatalf("re-encoded frame refused: %v", err)
		}
		for i := range fr.Messages {
			if fr.Messages[i].ID != fr2.Messages[i].ID || !proto.Equal(fr.Messages[i].Message, fr2.Messages[i].Message) {
				t.Fatalf("message %d changed on re-encoding", i)
			}
		}
	})
}

package core

import (
	"bytes"
	"testing"
)

// Entry data and snapshot data come from other members and from disk: their
// decoders must reject garbage without panicking, and read back exactly what
// the encoders wrote.

func FuzzDecodeCommand(f *testing.F) {
	f.Add(encodeCommand(request{1, 2}, Command{Op: OpPut, Key: "x", Value: []byte("1")}))
	f.Add(encodeCommand(request{1 << 60, 3}, Command{Op: OpDelete, Key: "long/key"}))
	f.Add([]byte{commandVersion, 1, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, c, err := decodeCommand(data)
		if err != nil {
			return
		}
		if again := encodeCommand(r, c); !bytes.Equal(again, data) {
			// Uvarints have one shortest form; a longer one decodes too.
			r2, c2, err := decodeCommand(again)
			if err != nil || r2 != r || c2.Op != c.Op || c2.Key != c.Key || !bytes.Equal(c2.Value, c.Value) {
				t.Fatalf("re-encoding changed the command: %v %+v -> %v %+v", r, c, r2, c2)
			}
		}
	})
}

func FuzzDecodeKVSnapshot(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{snapshotVersion, 1, 1, 'k', 1, 'v'})
	f.Add([]byte{snapshotVersion, 200, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		pairs, err := decodeKVSnapshot(data)
		if err != nil {
			return
		}
		if len(data) > 0 && len(pairs) > len(data) {
			t.Fatalf("%d pairs from %d bytes", len(pairs), len(data))
		}
	})
}

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range []Command{
		{Op: OpPut, Key: "x", Value: []byte("1")},
		{Op: OpPut, Key: "empty"},
		{Op: OpDelete, Key: "gone"},
	} {
		r, got, err := decodeCommand(encodeCommand(request{9, 1 << 40}, c))
		if err != nil || r != (request{9, 1 << 40}) || got.Op != c.Op || got.Key != c.Key || !bytes.Equal(got.Value, c.Value) {
			t.Errorf("%+v -> %v %+v %v", c, r, got, err)
		}
	}
	for _, bad := range []Command{{Op: 9, Key: "x"}, {Op: OpPut}, {Op: OpDelete, Key: "x", Value: []byte("v")}, {Op: OpPut, Key: string(make([]byte, MaxKeyBytes+1))}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}

func FuzzDecodeConfURLs(f *testing.F) {
	f.Add(encodeConfContext(request{1, 2}, map[uint64]string{4: "http://127.0.0.1:7004", 5: "wss://x"}))
	f.Add(encodeContext(request{1, 2}))
	f.Fuzz(func(t *testing.T, data []byte) {
		for id, u := range decodeConfURLs(data) {
			if len(u) > MaxURLBytes {
				t.Fatalf("url of %d: %d bytes", id, len(u))
			}
		}
	})
}

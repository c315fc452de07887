package relay_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/relay"
)

var (
	keyA = ed25519.PublicKey(bytes.Repeat([]byte{0xaa}, 32))
	keyB = ed25519.PublicKey(bytes.Repeat([]byte{0xbb}, 32))
	at   = time.UnixMilli(0x0102030405).UTC()
)

// messageSample is a message and, where the layout is pinned, its bytes.
type messageSample struct {
	name string
	m    relay.Message
	wire []byte // nil: not pinned
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func messageSamples() []messageSample {
	return []messageSample{
		{"hello", relay.Message{Type: relay.TypeHello, Version: relay.Version}, []byte{1, 0, 2}},
		{"deposit", relay.Message{Type: relay.TypeDeposit, Seq: 7, To: keyB, Payload: []byte("frame")},
			cat([]byte{2, 0, 0, 0, 0, 0, 0, 0, 7}, keyB, []byte{0, 0, 5}, []byte("frame"))},
		{"deposit empty payload", relay.Message{Type: relay.TypeDeposit, Seq: 1, To: keyB, Payload: []byte{}}, nil},
		{"deposit max payload", relay.Message{Type: relay.TypeDeposit, Seq: 1, To: keyB, Payload: bytes.Repeat([]byte{9}, relay.MaxPayload)}, nil},
		{"stored", relay.Message{Type: relay.TypeStored, Seq: 7, ID: 258}, []byte{3, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 1, 2}},
		{"refused", relay.Message{Type: relay.TypeRefused, Seq: 7, Reason: relay.ReasonRecipientFull, Text: "full"},
			[]byte{4, 0, 0, 0, 0, 0, 0, 0, 7, 2, 0, 4, 'f', 'u', 'l', 'l'}},
		{"refused unicode", relay.Message{Type: relay.TypeRefused, Seq: 1, Reason: relay.ReasonUnavailable, Text: "отказано: 拒绝"}, nil},
		{"delete", relay.Message{Type: relay.TypeDelete, UpTo: 9}, []byte{5, 0, 0, 0, 0, 0, 0, 0, 9}},
		{"deleted", relay.Message{Type: relay.TypeDeleted, UpTo: 9}, []byte{6, 0, 0, 0, 0, 0, 0, 0, 9}},
		{"ping", relay.Message{Type: relay.TypePing, T: 3}, []byte{7, 0, 0, 0, 0, 0, 0, 0, 3}},
		{"pong", relay.Message{Type: relay.TypePong, T: 3, At: at}, []byte{8, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3, 4, 5}},
		{"mail", relay.Message{Type: relay.TypeMail, ID: 1, From: keyA, At: at, Payload: []byte("frame")},
			cat([]byte{9, 0, 0, 0, 0, 0, 0, 0, 1}, keyA, []byte{0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 5}, []byte("frame"))},
		{"mail max payload", relay.Message{Type: relay.TypeMail, ID: math.MaxUint64, From: keyA, At: at, Payload: bytes.Repeat([]byte{9}, relay.MaxPayload)}, nil},
		{"error", relay.Message{Type: relay.TypeError, Text: "no"}, []byte{10, 0, 2, 'n', 'o'}},
		{"keys", relay.Message{Type: relay.TypeKeys, Key: keyA, Statements: [][]byte{[]byte("st1"), []byte("st2")}},
			cat([]byte{11}, keyA, []byte{2, 0, 3}, []byte("st1"), []byte{0, 3}, []byte("st2"))},
		{"media-open", relay.Message{Type: relay.TypeMediaOpen}, []byte{12}},
		{"media-grant", relay.Message{Type: relay.TypeMediaGrant, Token: [16]byte{1, 2, 3}, Port: 0x1234},
			[]byte{13, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34}},
		{"media-grant none", relay.Message{Type: relay.TypeMediaGrant}, nil},
		{"keys largest", relay.Message{Type: relay.TypeKeys, Key: keyB, Statements: slices.Repeat([][]byte{bytes.Repeat([]byte{7}, 24<<10)}, relay.MaxStatements)}, nil},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	covered := map[relay.Type]bool{}
	for _, tt := range messageSamples() {
		t.Run(tt.name, func(t *testing.T) {
			covered[tt.m.Type] = true
			p := tt.m.Encode()
			if tt.wire != nil && !bytes.Equal(p, tt.wire) {
				t.Errorf("Encode = %v\nwant %v", p, tt.wire)
			}
			got, err := relay.Decode(p)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.m) {
				t.Errorf("Decode = %+v\nwant %+v", *got, tt.m)
			}
			if again := got.Encode(); !bytes.Equal(again, p) {
				t.Error("re-encoding the decoded message gives other bytes")
			}
		})
	}
	for ty := relay.TypeHello; ty <= relay.TypeKeys; ty++ {
		if !covered[ty] {
			t.Errorf("no sample of %s", ty)
		}
	}
	// The largest messages fit in one frame.
	for _, m := range []relay.Message{
		{Type: relay.TypeMail, ID: 1, From: keyA, At: at, Payload: make([]byte, relay.MaxPayload)},
		{Type: relay.TypeDeposit, Seq: 1, To: keyA, Payload: make([]byte, relay.MaxPayload)},
		{Type: relay.TypeKeys, Key: keyA, Statements: slices.Repeat([][]byte{make([]byte, 24<<10)}, relay.MaxStatements)},
	} {
		if n := len(m.Encode()); n > 4<<20 {
			t.Errorf("a %s with the largest payload is %d bytes, over a frame", m.Type, n)
		}
	}
}

func TestMessageEncodeText(t *testing.T) {
	// Long texts are cut to 1,024 bytes, so that the decoder's limit holds.
	m := relay.Message{Type: relay.TypeError, Text: strings.Repeat("x", 5000)}
	got, err := relay.Decode(m.Encode())
	if err != nil || len(got.Text) != 1024 {
		t.Errorf("Decode of a long error = %d bytes, %v", len(got.Text), err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	u64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	big := make([]byte, relay.MaxPayload+1)
	tests := []struct {
		name string
		p    []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"type 0", []byte{0}, "unknown type 0"},
		{"type 14", []byte{14, 0, 1}, "unknown type 14"},
		{"media-open trailing", []byte{12, 0}, "media-open message: 1 trailing bytes"},
		{"media-grant truncated", cat([]byte{13}, make([]byte, 16), []byte{1}), "media-grant message: truncated"},
		{"media-grant port without token", cat([]byte{13}, make([]byte, 16), []byte{0, 1}), "a port without a token"},
		{"media-grant token without port", cat([]byte{13, 1}, make([]byte, 15), []byte{0, 0}), "a token without a port"},
		{"type 255", []byte{255}, "unknown type 255"},
		{"hello truncated", []byte{1, 0}, "hello message: truncated"},
		{"hello trailing", []byte{1, 0, 1, 0}, "hello message: 1 trailing bytes"},
		{"deposit short key", cat([]byte{2}, u64(1), keyB[:31]), "deposit message: truncated"},
		{"deposit no payload", cat([]byte{2}, u64(1), keyB), "deposit message: truncated"},
		{"deposit payload truncated", cat([]byte{2}, u64(1), keyB, []byte{0, 0, 9, 'a'}), "deposit message: truncated"},
		{"deposit too large", cat([]byte{2}, u64(1), keyB, []byte{0x3f, 0xff, 0xc1}, big), "payload of 4194241 bytes, limit 4194240"},
		{"deposit trailing", cat([]byte{2}, u64(1), keyB, []byte{0, 0, 1, 'a', 'b'}), "1 trailing bytes"},
		{"stored id 0", cat([]byte{3}, u64(1), u64(0)), "stored message: ID 0"},
		{"stored truncated", cat([]byte{3}, u64(1), []byte{0, 0, 1}), "stored message: truncated"},
		{"refused reason 0", cat([]byte{4}, u64(1), []byte{0, 0, 0}), "unknown reason 0"},
		{"refused reason 6", cat([]byte{4}, u64(1), []byte{6, 0, 0}), "unknown reason 6"},
		{"refused text too long", cat([]byte{4}, u64(1), []byte{1, 4, 1}, make([]byte, 1025)), "text of 1025 bytes, limit 1024"},
		{"delete truncated", []byte{5, 1}, "delete message: truncated"},
		{"deleted trailing", cat([]byte{6}, u64(1), []byte{0}), "deleted message: 1 trailing bytes"},
		{"ping truncated", []byte{7}, "ping message: truncated"},
		{"pong no time", cat([]byte{8}, u64(1)), "pong message: truncated"},
		{"pong time out of range", cat([]byte{8}, u64(1), u64(1<<63)), "out of range"},
		{"mail id 0", cat([]byte{9}, u64(0), keyA, u64(1), []byte{0, 0, 0}), "mail message: ID 0"},
		{"mail truncated", cat([]byte{9}, u64(1), keyA), "mail message: truncated"},
		{"error truncated", []byte{10, 0, 5, 'a'}, "error message: truncated"},
		{"keys none", cat([]byte{11}, keyA, []byte{0}), "keys message: 0 statements, want 1 to 64"},
		{"keys too many", cat([]byte{11}, keyA, []byte{65}, bytes.Repeat([]byte{0, 1, 'x'}, 65)), "65 statements"},
		{"keys empty statement", cat([]byte{11}, keyA, []byte{1, 0, 0}), "statement of 0 bytes"},
		{"keys statement too long", cat([]byte{11}, keyA, []byte{1, 0x60, 0x01}, make([]byte, 24<<10+1)), "statement of 24577 bytes"},
		{"keys truncated", cat([]byte{11}, keyA, []byte{2, 0, 1, 'x'}), "keys message: truncated"},
		{"keys short key", cat([]byte{11}, keyA[:20]), "keys message: truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := relay.Decode(tt.p)
			if m != nil || !errors.Is(err, relay.ErrMessage) {
				t.Fatalf("Decode = %+v, %v; want ErrMessage", m, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// FuzzDecodeMessage checks that Decode never panics, that every error is
// ErrMessage, and that whatever decodes has exactly one encoding: the
// bytes it was decoded from. Seeds are in testdata/fuzz/FuzzDecodeMessage.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range messageSamples() {
		if len(s.m.Payload) < 1<<16 {
			f.Add(s.m.Encode())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := relay.Decode(data)
		if err != nil {
			if !errors.Is(err, relay.ErrMessage) || m != nil {
				t.Fatalf("Decode = %v, %v", m, err)
			}
			return
		}
		if again := m.Encode(); !bytes.Equal(again, data) {
			t.Fatalf("Decode then Encode changed the bytes:\n in %x\nout %x", data, again)
		}
	})
}

package protocol_test

// Tests of the frame codec (frame.go) only. Every identifier here starts
// with "frame" or "Frame": the core tests share this directory.

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/protocol"
)

// frameSample is a frame and, where the layout is pinned, its exact bytes.
type frameSample struct {
	name  string
	frame protocol.Frame
	wire  []byte // nil: not pinned
}

func frameSamples() []frameSample {
	cp := []byte("hotline/red-blue.1/alpha\n3\nAAAA\n\n— alpha xyz\n")
	return []frameSample{
		{"hello", protocol.Frame{Type: protocol.FrameHello, Version: protocol.Version},
			[]byte{1, 0, 4}},
		{"hello max version", protocol.Frame{Type: protocol.FrameHello, Version: 0xffff}, []byte{1, 0xff, 0xff}},
		{"status no logs", protocol.Frame{Type: protocol.FrameStatus, Version: 1},
			[]byte{2, 0, 1, 0, 0}},
		{"status one log", protocol.Frame{Type: protocol.FrameStatus, Version: 1, Logs: []protocol.LogStatus{
			{Channel: "c", Author: "a", Size: 258, Receipt: []byte("rc")},
		}}, []byte{2, 0, 1, 0, 1, 1, 'c', 1, 'a', 0, 0, 0, 0, 0, 0, 1, 2, 0, 2, 'r', 'c'}},
		{"status two logs", protocol.Frame{Type: protocol.FrameStatus, Version: 1, Logs: []protocol.LogStatus{
			{Channel: "red-blue.1", Author: "alpha", Size: 3, Receipt: cp},
			{Channel: "red-blue.1", Author: "bravo", Size: ^uint64(0), Receipt: []byte("r")},
		}}, nil},
		{"entries one", protocol.Frame{Type: protocol.FrameEntries, Channel: "c", Author: "a",
			Checkpoint: []byte("cp"), Entries: [][]byte{[]byte("e1")}},
			[]byte{3, 1, 'c', 1, 'a', 0, 2, 'c', 'p', 0, 1, 0, 0, 2, 'e', '1'}},
		{"entries three", protocol.Frame{Type: protocol.FrameEntries, Channel: "red-blue.1", Author: "alpha",
			Checkpoint: cp, Entries: [][]byte{[]byte("HLE1 one"), bytes.Repeat([]byte{0xff}, 300), []byte("three")}}, nil},
		{"entries max-size entry", protocol.Frame{Type: protocol.FrameEntries, Channel: "c", Author: "a",
			Checkpoint: cp, Entries: [][]byte{bytes.Repeat([]byte{7}, envelope.MaxSize)}}, nil},
		{"receipt", protocol.Frame{Type: protocol.FrameReceipt, Channel: "c", Author: "a", Checkpoint: []byte("x")},
			[]byte{4, 1, 'c', 1, 'a', 0, 1, 'x'}},
		{"receipt long names", protocol.Frame{Type: protocol.FrameReceipt, Channel: strings.Repeat("c", 255),
			Author: strings.Repeat("a", 255), Checkpoint: bytes.Repeat([]byte("k"), 0xffff)}, nil},
		{"resend", protocol.Frame{Type: protocol.FrameResend, Channel: "c", Author: "a", From: 0x0102030405060708},
			[]byte{5, 1, 'c', 1, 'a', 1, 2, 3, 4, 5, 6, 7, 8}},
		{"fetch", protocol.Frame{Type: protocol.FrameFetch, Channel: "c", Author: "a", From: 3},
			[]byte{9, 1, 'c', 1, 'a', 0, 0, 0, 0, 0, 0, 0, 3}},
		{"ahead", protocol.Frame{Type: protocol.FrameAhead, Channel: "c", Author: "a",
			Entries: [][]byte{[]byte("e1")}},
			[]byte{10, 1, 'c', 1, 'a', 0, 0, 0, 1, 0, 0, 2, 'e', '1'}},
		{"ahead three", protocol.Frame{Type: protocol.FrameAhead, Channel: "red-blue.1", Author: "alpha",
			Entries: [][]byte{[]byte("HLE2 one"), bytes.Repeat([]byte{0xfe}, 300), []byte("three")}}, nil},
		{"durable", protocol.Frame{Type: protocol.FrameDurable, Channel: "c", Author: "a", From: 0x0102, Checkpoint: []byte("cp")},
			[]byte{11, 1, 'c', 1, 'a', 0, 0, 0, 0, 0, 0, 1, 2, 0, 2, 'c', 'p'}},
		{"durable long checkpoint", protocol.Frame{Type: protocol.FrameDurable, Channel: "red-blue.1", Author: "alpha", From: 3, Checkpoint: cp}, nil},
		{"error", protocol.Frame{Type: protocol.FrameError, Text: "no"}, []byte{6, 0, 2, 'n', 'o'}},
		{"error unicode", protocol.Frame{Type: protocol.FrameError, Text: "отказано: 拒绝"}, nil},
		{"probe", protocol.Frame{Type: protocol.FrameProbe, Channel: "c", Seq: 2, Time: time.Unix(0, 0x0102)},
			[]byte{7, 1, 'c', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 2}},
		{"probe reply", protocol.Frame{Type: protocol.FrameProbeReply, Channel: "c", Seq: 2, Time: time.Unix(0, 0x0102),
			PeerTime: time.Unix(0, -1)}, []byte{8, 1, 'c', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 2,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
}

func TestFrameRoundTrip(t *testing.T) {
	covered := map[protocol.FrameType]bool{}
	for _, tt := range frameSamples() {
		t.Run(tt.name, func(t *testing.T) {
			covered[tt.frame.Type] = true
			p := tt.frame.Encode()
			if tt.wire != nil && !bytes.Equal(p, tt.wire) {
				t.Errorf("Encode = %v, want %v", p, tt.wire)
			}
			if p[0] != byte(tt.frame.Type) {
				t.Errorf("first byte = %d, want the type %d", p[0], tt.frame.Type)
			}
			got, err := protocol.DecodeFrame(p)
			if err != nil {
				t.Fatalf("DecodeFrame: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.frame) {
				t.Errorf("DecodeFrame = %+v\nwant %+v", *got, tt.frame)
			}
			if again := got.Encode(); !bytes.Equal(again, p) {
				t.Error("re-encoding the decoded frame gives other bytes")
			}
		})
	}
	for _, ft := range []protocol.FrameType{protocol.FrameHello, protocol.FrameStatus, protocol.FrameEntries,
		protocol.FrameReceipt, protocol.FrameResend, protocol.FrameError, protocol.FrameProbe, protocol.FrameProbeReply, protocol.FrameFetch} {
		if !covered[ft] {
			t.Errorf("no round-trip sample for %s frames", ft)
		}
	}
}

// TestFrameEmptyFields checks frames whose variable fields are empty:
// they decode to empty values and re-encode to the same bytes.
func TestFrameEmptyFields(t *testing.T) {
	tests := []struct {
		name  string
		frame protocol.Frame
		check func(*protocol.Frame) bool
	}{
		{"status empty receipt", protocol.Frame{Type: protocol.FrameStatus, Logs: []protocol.LogStatus{{}}},
			func(f *protocol.Frame) bool {
				return len(f.Logs) == 1 && f.Logs[0].Channel == "" && len(f.Logs[0].Receipt) == 0
			}},
		{"entries empty entry and checkpoint", protocol.Frame{Type: protocol.FrameEntries, Entries: [][]byte{nil}},
			func(f *protocol.Frame) bool {
				return len(f.Entries) == 1 && len(f.Entries[0]) == 0 && len(f.Checkpoint) == 0
			}},
		{"receipt empty", protocol.Frame{Type: protocol.FrameReceipt},
			func(f *protocol.Frame) bool { return f.Channel == "" && f.Author == "" && len(f.Checkpoint) == 0 }},
		{"resend zero", protocol.Frame{Type: protocol.FrameResend}, func(f *protocol.Frame) bool { return f.From == 0 }},
		{"error empty", protocol.Frame{Type: protocol.FrameError}, func(f *protocol.Frame) bool { return f.Text == "" }},
		{"hello zero", protocol.Frame{Type: protocol.FrameHello}, func(f *protocol.Frame) bool { return f.Version == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.frame.Encode()
			got, err := protocol.DecodeFrame(p)
			if err != nil {
				t.Fatalf("DecodeFrame: %v", err)
			}
			if got.Type != tt.frame.Type || !tt.check(got) {
				t.Errorf("DecodeFrame = %+v", got)
			}
			if !bytes.Equal(got.Encode(), p) {
				t.Error("re-encoding gives other bytes")
			}
		})
	}
}

// TestFrameFieldsForOtherTypes checks that Encode writes only the fields
// of the frame's type.
func TestFrameFieldsForOtherTypes(t *testing.T) {
	all := protocol.Frame{Version: 9, Channel: "c", Author: "a", Checkpoint: []byte("k"),
		Entries: [][]byte{[]byte("e")}, From: 5, Logs: []protocol.LogStatus{{Channel: "x"}}, Text: "t",
		Seq: 77, Time: time.Unix(5, 0), PeerTime: time.Unix(6, 0)}
	used := map[protocol.FrameType][]string{
		protocol.FrameHello:      {"Version"},
		protocol.FrameStatus:     {"Version", "Logs"},
		protocol.FrameEntries:    {"Channel", "Author", "Checkpoint", "Entries"},
		protocol.FrameReceipt:    {"Channel", "Author", "Checkpoint"},
		protocol.FrameResend:     {"Channel", "Author", "From"},
		protocol.FrameFetch:      {"Channel", "Author", "From"},
		protocol.FrameAhead:      {"Channel", "Author", "Checkpoint", "Entries"},
		protocol.FrameDurable:    {"Channel", "Author", "From", "Checkpoint"},
		protocol.FrameError:      {"Text"},
		protocol.FrameProbe:      {"Channel", "Seq", "Time"},
		protocol.FrameProbeReply: {"Channel", "Seq", "Time", "PeerTime"},
	}
	for _, tt := range frameSamples() {
		if tt.wire == nil {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			f := tt.frame
			v, a := reflect.ValueOf(&f).Elem(), reflect.ValueOf(all)
			for i := range v.NumField() {
				name := v.Type().Field(i).Name
				if name != "Type" && !slices.Contains(used[f.Type], name) {
					v.Field(i).Set(a.Field(i))
				}
			}
			if got := f.Encode(); !bytes.Equal(got, tt.wire) {
				t.Errorf("Encode with unrelated fields set = %v, want %v", got, tt.wire)
			}
		})
	}
}

func TestFrameTruncated(t *testing.T) {
	for _, tt := range frameSamples() {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.frame.Encode()
			step := 1
			if len(p) > 4096 {
				step = 61 // large frames: every length prefix is near the start
			}
			for n := 0; n < len(p); n++ {
				if n > 600 && n < len(p)-600 && n%step != 0 {
					continue
				}
				got, err := protocol.DecodeFrame(p[:n])
				if !errors.Is(err, protocol.ErrFrame) {
					t.Fatalf("DecodeFrame(first %d of %d bytes) = %+v, %v; want ErrFrame", n, len(p), got, err)
				}
				if got != nil {
					t.Fatalf("DecodeFrame returned a frame with an error")
				}
			}
		})
	}
}

func TestFrameTrailingBytes(t *testing.T) {
	for _, tt := range frameSamples() {
		for _, extra := range [][]byte{{0}, {1}, []byte("trailing"), tt.frame.Encode()} {
			p := append(tt.frame.Encode(), extra...)
			if got, err := protocol.DecodeFrame(p); !errors.Is(err, protocol.ErrFrame) {
				t.Errorf("%s + %d bytes: DecodeFrame = %+v, %v; want ErrFrame", tt.name, len(extra), got, err)
			}
		}
	}
}

func TestFrameDecodeRejects(t *testing.T) {
	big := make([]byte, protocol.MaxFrame+1)
	big[0] = byte(protocol.FrameError)
	tests := []struct {
		name  string
		in    []byte
		also  error // a second error the chain must carry, if any
		inMsg string
	}{
		{"empty", nil, nil, "empty"},
		{"type 0", []byte{0}, nil, "unknown type 0"},
		{"type 0 with payload", []byte{0, 0, 1}, nil, "unknown type 0"},
		{"type 12", []byte{12, 0, 1}, nil, "unknown type 12"},
		{"type 13", []byte{13}, nil, "unknown type 13"},
		{"ahead with zero entries", []byte{10, 1, 'c', 1, 'a', 0, 0, 0, 0}, nil, "ahead frame with no entries"},
		{"ahead truncated", []byte{10, 0, 1}, nil, "truncated ahead"},
		{"durable truncated", []byte{11, 1, 'c', 1, 'a', 0, 0, 0}, nil, "truncated durable"},
		{"durable without its checkpoint (version 3)", []byte{11, 1, 'c', 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1}, nil, "truncated durable"},
		{"durable with trailing data", []byte{11, 1, 'c', 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 9}, nil, "trailing"},
		{"ahead with a checkpoint (version 3)", []byte{10, 1, 'c', 1, 'a', 0, 2, 'c', 'p', 0, 1, 0, 0, 2, 'e', '1'}, nil, "ahead frame with a checkpoint"},
		{"fetch truncated", []byte{9, 1, 'c', 1, 'a', 0, 0}, nil, "truncated fetch"},
		{"probe truncated", []byte{7, 1, 'c', 0, 0, 0}, nil, "truncated probe"},
		{"probe reply without its time", []byte{8, 1, 'c', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 2}, nil, "truncated probe-reply"},
		{"type 255", []byte{255, 1, 2, 3}, nil, "unknown type 255"},
		{"larger than MaxFrame", big, nil, "limit"},
		{"entries with zero entries", []byte{3, 1, 'c', 1, 'a', 0, 0, 0, 0}, nil, "no entries"},
		{"entries with zero entries and trailing data", []byte{3, 1, 'c', 1, 'a', 0, 0, 0, 0, 0, 0, 1, 'x'}, nil, "no entries"},
		{"entries count larger than entries", []byte{3, 1, 'c', 1, 'a', 0, 0, 0, 2, 0, 0, 1, 'x'}, nil, "truncated"},
		{"status count larger than logs", []byte{2, 0, 1, 0, 1}, nil, "truncated"},
		{"string length past end", []byte{5, 9, 'c'}, nil, "truncated"},
		{"entry larger than an envelope", frameEntriesWith(envelope.MaxSize + 1), envelope.ErrTooLarge, "entry 0"},
		{"second entry larger than an envelope", frameEntriesWith(3, envelope.MaxSize+1), envelope.ErrTooLarge, "entry 1"},
		{"entry of 16 MiB, over MaxFrame", frameEntriesWith(1<<24 - 1), nil, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := protocol.DecodeFrame(tt.in)
			if !errors.Is(err, protocol.ErrFrame) {
				t.Fatalf("DecodeFrame = %+v, %v; want ErrFrame", got, err)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("DecodeFrame = %v; want it to wrap %v too", err, tt.also)
			}
			if !strings.Contains(err.Error(), tt.inMsg) {
				t.Errorf("DecodeFrame = %v; want a message about %q", err, tt.inMsg)
			}
			if got != nil {
				t.Error("DecodeFrame returned a frame with an error")
			}
		})
	}
}

// frameEntriesWith builds an entries frame whose entries have the given
// sizes, by hand rather than with Encode.
func frameEntriesWith(sizes ...int) []byte {
	p := []byte{byte(protocol.FrameEntries), 1, 'c', 1, 'a', 0, 0, byte(len(sizes) >> 8), byte(len(sizes))}
	for _, n := range sizes {
		p = append(p, byte(n>>16), byte(n>>8), byte(n))
		p = append(p, make([]byte, n)...)
	}
	return p
}

func TestFrameEntryLimit(t *testing.T) {
	tests := []struct {
		name string
		size int
		ok   bool
	}{
		{"MaxSize-1", envelope.MaxSize - 1, true},
		{"MaxSize", envelope.MaxSize, true},
		{"MaxSize+1", envelope.MaxSize + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := protocol.DecodeFrame(frameEntriesWith(1, tt.size))
			if !tt.ok {
				if !errors.Is(err, protocol.ErrFrame) || !errors.Is(err, envelope.ErrTooLarge) {
					t.Fatalf("DecodeFrame = %v, want ErrFrame and envelope.ErrTooLarge", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeFrame: %v", err)
			}
			if len(f.Entries) != 2 || len(f.Entries[1]) != tt.size {
				t.Fatalf("decoded %d entries", len(f.Entries))
			}
		})
	}
	// A frame of exactly MaxFrame bytes is within the limit; one more
	// byte is not.
	sizes := make([]int, 64)
	for i := range sizes {
		sizes[i] = envelope.MaxSize
	}
	sizes[63] = protocol.MaxFrame - len(frameEntriesWith(sizes[:63]...)) - 3
	p := frameEntriesWith(sizes...)
	if len(p) != protocol.MaxFrame {
		t.Fatalf("built a frame of %d bytes, want %d", len(p), protocol.MaxFrame)
	}
	if f, err := protocol.DecodeFrame(p); err != nil || len(f.Entries) != 64 {
		t.Errorf("DecodeFrame(MaxFrame bytes) = %v; want 64 entries", err)
	}
	sizes[63]++
	if _, err := protocol.DecodeFrame(frameEntriesWith(sizes...)); !errors.Is(err, protocol.ErrFrame) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("DecodeFrame(MaxFrame+1 bytes) = %v; want ErrFrame for the size limit", err)
	}
}

func TestFrameTypeString(t *testing.T) {
	tests := []struct {
		ft   protocol.FrameType
		want string
	}{
		{protocol.FrameHello, "hello"},
		{protocol.FrameStatus, "status"},
		{protocol.FrameEntries, "entries"},
		{protocol.FrameReceipt, "receipt"},
		{protocol.FrameResend, "resend"},
		{protocol.FrameError, "error"},
		{0, "frame(0)"},
		{protocol.FrameProbe, "probe"},
		{protocol.FrameProbeReply, "probe-reply"},
		{protocol.FrameFetch, "fetch"},
		{protocol.FrameAhead, "ahead"},
		{protocol.FrameDurable, "durable"},
		{12, "frame(12)"},
	}
	for _, tt := range tests {
		if got := tt.ft.String(); got != tt.want {
			t.Errorf("FrameType(%d).String() = %q, want %q", uint8(tt.ft), got, tt.want)
		}
	}
	// The wire values are fixed by docs/PROTOCOL.md.
	for i, ft := range []protocol.FrameType{protocol.FrameHello, protocol.FrameStatus, protocol.FrameEntries,
		protocol.FrameReceipt, protocol.FrameResend, protocol.FrameError, protocol.FrameProbe, protocol.FrameProbeReply, protocol.FrameFetch} {
		if uint8(ft) != uint8(i+1) {
			t.Errorf("%s = %d, want %d", ft, ft, i+1)
		}
	}
}

// FuzzDecodeFrame checks that DecodeFrame never panics, refuses with
// ErrFrame, and that whatever it accepts re-encodes to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range frameSamples() {
		if len(s.frame.Encode()) < 4096 {
			f.Add(s.frame.Encode())
		}
	}
	f.Add([]byte{})
	f.Add([]byte{3, 1, 'c', 1, 'a', 0, 0, 0, 0})
	f.Add([]byte{2, 0, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := protocol.DecodeFrame(data)
		if err != nil {
			if !errors.Is(err, protocol.ErrFrame) {
				t.Fatalf("error %v is not ErrFrame", err)
			}
			if fr != nil {
				t.Fatal("a frame and an error")
			}
			return
		}
		if fr.Type.String() == "" || strings.HasPrefix(fr.Type.String(), "frame(") {
			t.Fatalf("accepted unknown type %d", fr.Type)
		}
		if (fr.Type == protocol.FrameEntries || fr.Type == protocol.FrameAhead) && len(fr.Entries) == 0 {
			t.Fatal("accepted an entries frame with no entries")
		}
		if fr.Type == protocol.FrameAhead && len(fr.Checkpoint) > 0 {
			t.Fatal("accepted an ahead frame with a checkpoint")
		}
		for _, e := range fr.Entries {
			if len(e) > envelope.MaxSize {
				t.Fatalf("accepted an entry of %d bytes", len(e))
			}
		}
		if again := fr.Encode(); !bytes.Equal(again, data) {
			t.Fatalf("re-encoding gives %x, want %x", again, data)
		}
	})
}

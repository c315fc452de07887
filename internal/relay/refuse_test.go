package relay_test

import (
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"hotline/internal/relay"
)

// TestBadMessages: a station that sends something malformed, oversized,
// out of place or of another version gets an error message naming the
// problem, its connection is closed, the refusal is counted, and nothing
// in the mailbox changes.
func TestBadMessages(t *testing.T) {
	r := newRelay(t, nil)
	usa, chn := newStation(t, "USA"), newStation(t, "CHN")
	r.allow(usa, chn)
	r.Start()
	a := r.dial(usa)
	if err := a.Deposit(t.Context(), chn.key(), []byte("kept")); err != nil {
		t.Fatal(err)
	}
	hello := (&relay.Message{Type: relay.TypeHello, Version: relay.Version}).Encode()
	deposit := (&relay.Message{Type: relay.TypeDeposit, Seq: 1, To: chn.key(), Payload: []byte("evil")}).Encode()
	oversized := binary.BigEndian.AppendUint32(nil, 5<<20)
	tests := []struct {
		name   string
		frames [][]byte // after the hello, unless noHello
		// raw bytes written after the frames (an oversized length prefix)
		raw     []byte
		noHello bool
		reason  string // counted
		want    string // in the error message
	}{
		{"truncated deposit", [][]byte{deposit[:20]}, nil, false, "malformed message", "deposit message: truncated"},
		{"deposit with trailing bytes", [][]byte{append(deposit[:len(deposit):len(deposit)], 0)}, nil, false, "malformed message", "1 trailing bytes"},
		{"unknown type", [][]byte{{99, 1, 2}}, nil, false, "malformed message", "unknown type 99"},
		{"oversized frame", nil, oversized, false, "oversized frame", "frame length out of bounds: 5242880"},
		{"relay's message from a station", [][]byte{(&relay.Message{Type: relay.TypeStored, Seq: 1, ID: 1}).Encode()}, nil, false,
			"unexpected message", "a station does not send stored messages"},
		{"deposit before hello", [][]byte{deposit}, nil, true, "unexpected message", "expected hello, got deposit"},
		{"other version", [][]byte{{1, 0, 0}}, nil, true, "version", "relay protocol version 0 is not compatible: this relay speaks versions 1 to 2"},
		{"garbage instead of hello", [][]byte{{1}}, nil, true, "malformed message", "hello message: truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := r.srv.Stats()
			c := rawConn(t, r, usa)
			if !tt.noHello {
				c.sendFrame(hello)
				if m, err := c.read(); err != nil || m.Type != relay.TypeHello {
					t.Fatalf("hello answered with %v, %v", m, err)
				}
			}
			for _, f := range tt.frames {
				c.sendFrame(f)
			}
			if tt.raw != nil {
				if _, err := c.tc.Write(tt.raw); err != nil {
					t.Fatal(err)
				}
			}
			m, err := c.read()
			if err != nil || m.Type != relay.TypeError {
				t.Fatalf("answer = %+v, %v; want an error message", m, err)
			}
			if !strings.Contains(m.Text, tt.want) || !strings.HasPrefix(m.Text, "RELAY-CH: ") {
				t.Errorf("error %q does not say %q (and who says it)", m.Text, tt.want)
			}
			if m, err := c.read(); !errors.Is(err, io.EOF) {
				t.Errorf("after the error: %+v, %v; want the connection closed", m, err)
			}
			after := r.srv.Stats()
			if after.Refused[tt.reason] != before.Refused[tt.reason]+1 {
				t.Errorf("refused %q: %d → %d, want one more", tt.reason, before.Refused[tt.reason], after.Refused[tt.reason])
			}
			before.Refused, after.Refused = nil, nil
			if !tt.noHello {
				before.Connections++ // the hello was accepted
			}
			if !reflect.DeepEqual(before, after) {
				t.Errorf("counters changed: %+v → %+v", before, after)
			}
		})
	}
	// The mailbox holds exactly the one good deposit.
	b := r.dial(chn)
	got := receive(t, b, 1, 5*time.Second)
	if string(got[0].Payload) != "kept" {
		t.Errorf("CHN received %q", got[0].Payload)
	}
	quietFor(t, b, 200*time.Millisecond)
}

// TestClientRefusesLyingRelay: a relay that answers what was never asked,
// or sends mail out of order, is cut off with a clear error. The "relay"
// here is a test server with the relay's own key.
func TestClientRefusesLyingRelay(t *testing.T) {
	tests := []struct {
		name  string
		reply []*relay.Message
		want  string
	}{
		{"stored never asked", []*relay.Message{{Type: relay.TypeStored, Seq: 99, ID: 1}}, "stored for deposit 99, never made"},
		{"mail out of order", []*relay.Message{
			{Type: relay.TypeMail, ID: 5, From: keyA, At: at, Payload: []byte("x")},
			{Type: relay.TypeMail, ID: 5, From: keyA, At: at, Payload: []byte("x")},
		}, "mail 5 after mail 5"},
		{"deleted never asked", []*relay.Message{{Type: relay.TypeDeleted, UpTo: 3}}, "deleted with no delete waiting"},
		{"station's message from the relay", []*relay.Message{{Type: relay.TypeDeposit, Seq: 1, To: keyA, Payload: nil}}, "a relay does not send deposit messages"},
		{"error", []*relay.Message{{Type: relay.TypeError, Text: "going away"}}, "closed the connection: going away"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeRelay(t)
			usa := newStation(t, "USA")
			c, err := relay.Dial(t.Context(), fake.addr, fake.key(), usa.cert)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fake.send(tt.reply...)
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the client kept the connection")
			}
			if err := c.Err(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Err = %v, want it to say %q", err, tt.want)
			}
			if err := c.Deposit(t.Context(), keyA, nil); !errors.Is(err, relay.ErrClosed) {
				t.Errorf("Deposit after the cut = %v, want ErrClosed", err)
			}
		})
	}
}

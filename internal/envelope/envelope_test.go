package envelope_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"hotline/internal/envelope"
)

// party is the key material of one end of a test channel.
type party struct {
	sign ed25519.PrivateKey
	kem  hpke.PrivateKey
}

func newParty(t testing.TB) party {
	t.Helper()
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kk, err := hpke.MLKEM768X25519().GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return party{sign: sk, kem: kk}
}

func (p party) pub() ed25519.PublicKey { return p.sign.Public().(ed25519.PublicKey) }

var testTime = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.UTC)

func testHeader() envelope.Header {
	return envelope.Header{
		Channel:    "red-blue.1",
		Author:     "alpha",
		Recipient:  "bravo",
		Index:      7,
		Precedence: envelope.Immediate,
		Kind:       envelope.Text,
		Time:       testTime,
	}
}

func seal(t testing.TB, h envelope.Header, body []byte, from, to party) []byte {
	t.Helper()
	raw, err := envelope.Seal(h, body, to.kem.PublicKey(), from.sign)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return raw
}

// headerLen is the length of the encoded header of h, per the layout in
// docs/PROTOCOL.md: magic, three 1-byte-length-prefixed names, index (8),
// precedence (1), kind (1), time in ms (8).
func headerLen(h envelope.Header) int {
	return 4 + 3 + len(h.Channel) + len(h.Author) + len(h.Recipient) + 8 + 1 + 1 + 8
}

// fieldOffset returns the offset of a fixed-size header field.
func fieldOffset(h envelope.Header, field string) int {
	names := 4 + 3 + len(h.Channel) + len(h.Author) + len(h.Recipient)
	switch field {
	case "channel":
		return 4 + 1
	case "author":
		return 4 + 2 + len(h.Channel)
	case "recipient":
		return 4 + 3 + len(h.Channel) + len(h.Author)
	case "index":
		return names
	case "precedence":
		return names + 8
	case "kind":
		return names + 9
	case "time":
		return names + 10
	}
	panic(field)
}

func TestSealRoundTrip(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	long := strings.Repeat("x", 64)
	tests := []struct {
		name string
		h    func(*envelope.Header)
		body []byte
	}{
		{"text", func(h *envelope.Header) {}, []byte(`{"text":"hello"}`)},
		{"empty body", func(h *envelope.Header) {}, nil},
		{"flash ack", func(h *envelope.Header) { h.Precedence, h.Kind = envelope.Flash, envelope.Ack }, []byte(`{"of":3,"by":"op"}`)},
		{"priority agreement index 1", func(h *envelope.Header) {
			h.Precedence, h.Kind, h.Index = envelope.Priority, envelope.Agreement, 1
		}, []byte(`{"charter":"..."}`)},
		{"routine", func(h *envelope.Header) { h.Precedence = envelope.Routine }, []byte("r")},
		{"max index", func(h *envelope.Header) { h.Index = ^uint64(0) }, []byte("x")},
		{"64-byte names", func(h *envelope.Header) { h.Channel, h.Author, h.Recipient = long, long, long }, []byte("x")},
		{"unicode names", func(h *envelope.Header) { h.Channel, h.Author = "канал", "作者" }, []byte("x")},
		{"zero time", func(h *envelope.Header) { h.Time = time.Time{} }, []byte("x")},
		{"pre-1970 time", func(h *envelope.Header) { h.Time = time.Date(1950, 1, 1, 0, 0, 0, 999_999_999, time.UTC) }, []byte("x")},
		{"non-UTC time", func(h *envelope.Header) { h.Time = testTime.In(time.FixedZone("Z", -7*3600)) }, []byte("x")},
		{"binary body", func(h *envelope.Header) {}, []byte{0, 1, 2, 0xff, '\n', 0}},
		{"32 KiB body", func(h *envelope.Header) {}, bytes.Repeat([]byte("abc"), 32<<10/3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHeader()
			tt.h(&h)
			raw := seal(t, h, tt.body, alpha, bravo)
			e, err := envelope.Parse(raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := h
			want.Time = time.UnixMilli(h.Time.UnixMilli()).UTC()
			if e.Header != want {
				t.Errorf("header = %+v, want %+v", e.Header, want)
			}
			if e.Time.Location() != time.UTC {
				t.Errorf("time location = %v, want UTC", e.Time.Location())
			}
			if !bytes.Equal(e.Raw, raw) {
				t.Error("Raw is not the parsed bytes")
			}
			if len(e.Sig) != ed25519.SignatureSize {
				t.Errorf("Sig has %d bytes", len(e.Sig))
			}
			if string(raw[:4]) != "HLE3" || e.Version != 3 {
				t.Errorf("raw does not start with the magic: %q", raw[:4])
			}
			// Layout: the header is followed by the 2-byte length of the
			// encapsulated key, then the 3-byte length of the nonce and
			// ciphertext, after the 32-byte key commitment.
			hl := headerLen(h)
			if got := int(binary.BigEndian.Uint16(raw[hl:])); got != len(e.Enc) || len(e.Enc) == 0 {
				t.Errorf("enc length prefix at %d = %d, len(Enc) = %d", hl, got, len(e.Enc))
			}
			if got := len(raw) - hl - 2 - len(e.Enc) - 3 - ed25519.SignatureSize; got != len(e.Sealed) || len(e.Sealed) != 32+24+len(tt.body)+16 {
				t.Errorf("sealed part has %d bytes, Sealed %d, body %d", got, len(e.Sealed), len(tt.body))
			}
			if err := e.Verify(alpha.pub()); err != nil {
				t.Errorf("Verify: %v", err)
			}
			body, err := e.Open(bravo.kem)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(body, tt.body) {
				t.Errorf("Open = %q, want %q", body, tt.body)
			}
			if got, want := e.ID(), h.Channel+"/"+h.Author+"/"+uitoa(h.Index); got != want {
				t.Errorf("ID = %q, want %q", got, want)
			}
		})
	}
}

func uitoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}

func TestSealIsRandomized(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	a := seal(t, testHeader(), []byte("same"), alpha, bravo)
	b := seal(t, testHeader(), []byte("same"), alpha, bravo)
	if bytes.Equal(a, b) {
		t.Error("two seals of the same message are identical: HPKE encapsulation is not fresh")
	}
	if bytes.Contains(a, []byte("same")) {
		t.Error("the body appears in the clear")
	}
}

// TestFlippedByte flips every bit pattern of interest at every offset of an
// envelope: the result must fail to parse or fail to verify, and must fail
// to open unless the flip is inside the signature.
func TestFlippedByte(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	h := testHeader()
	body := []byte(`{"text":"attack at dawn"}`)
	raw := seal(t, h, body, alpha, bravo)
	signedLen := len(raw) - ed25519.SignatureSize
	for i := range raw {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(raw)
			b[i] ^= mask
			e, err := envelope.Parse(b)
			if err != nil {
				if !errors.Is(err, envelope.ErrMalformed) {
					t.Errorf("flip %#02x at %d: Parse error %v is not ErrMalformed", mask, i, err)
				}
				continue
			}
			if err := e.Verify(alpha.pub()); !errors.Is(err, envelope.ErrSignature) {
				t.Errorf("flip %#02x at %d: Verify = %v, want ErrSignature", mask, i, err)
			}
			got, err := e.Open(bravo.kem)
			switch {
			case i < signedLen && !errors.Is(err, envelope.ErrOpen):
				t.Errorf("flip %#02x at %d (signed part): Open = %q, %v; want ErrOpen", mask, i, got, err)
			case i >= signedLen && (err != nil || !bytes.Equal(got, body)):
				t.Errorf("flip %#02x at %d (signature): Open = %q, %v; want the body", mask, i, got, err)
			}
		}
	}
}

func TestHeaderTampering(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	h := testHeader()
	raw := seal(t, h, []byte("body"), alpha, bravo)
	tests := []struct {
		name   string
		offset int
		value  func(old byte) byte
		check  func(*testing.T, *envelope.Envelope)
	}{
		{"index low byte", fieldOffset(h, "index") + 7, func(b byte) byte { return b + 1 },
			func(t *testing.T, e *envelope.Envelope) {
				if e.Index != h.Index+1 {
					t.Errorf("tampered index parsed as %d", e.Index)
				}
			}},
		{"index high byte", fieldOffset(h, "index"), func(b byte) byte { return b ^ 0x10 }, nil},
		{"precedence", fieldOffset(h, "precedence"), func(byte) byte { return byte(envelope.Flash) },
			func(t *testing.T, e *envelope.Envelope) {
				if e.Precedence != envelope.Flash {
					t.Errorf("tampered precedence parsed as %v", e.Precedence)
				}
			}},
		{"kind", fieldOffset(h, "kind"), func(byte) byte { return byte(envelope.Ack) }, nil},
		{"time", fieldOffset(h, "time") + 7, func(b byte) byte { return b ^ 0x40 }, nil},
		{"channel", fieldOffset(h, "channel"), func(byte) byte { return 'b' }, nil},
		{"author", fieldOffset(h, "author"), func(byte) byte { return 'A' }, nil},
		{"recipient", fieldOffset(h, "recipient"), func(byte) byte { return 'c' }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(raw)
			b[tt.offset] = tt.value(b[tt.offset])
			if bytes.Equal(b, raw) {
				t.Fatal("test did not change the envelope")
			}
			e, err := envelope.Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v (the tampered header should still parse)", err)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
			if err := e.Verify(alpha.pub()); !errors.Is(err, envelope.ErrSignature) {
				t.Errorf("Verify = %v, want ErrSignature", err)
			}
			if got, err := e.Open(bravo.kem); !errors.Is(err, envelope.ErrOpen) {
				t.Errorf("Open = %q, %v; want ErrOpen (the header is associated data)", got, err)
			}
		})
	}
}

// TestResignedHeader checks that the body is bound to its header even for
// an author who re-signs: moving a sealed body under another header fails
// to open.
func TestResignedHeader(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	h := testHeader()
	raw := seal(t, h, []byte("body"), alpha, bravo)
	b := bytes.Clone(raw[:len(raw)-ed25519.SignatureSize])
	b[fieldOffset(h, "index")+7]++
	sig := ed25519.Sign(alpha.sign, append([]byte("hotline envelope v1\x00"), b...))
	e, err := envelope.Parse(append(b, sig...))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Verify(alpha.pub()); err != nil {
		t.Fatalf("Verify of re-signed envelope: %v (signature context changed?)", err)
	}
	if _, err := e.Open(bravo.kem); !errors.Is(err, envelope.ErrOpen) {
		t.Errorf("Open = %v, want ErrOpen", err)
	}
}

func TestVerifyWrongKey(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	e, err := envelope.Parse(seal(t, testHeader(), []byte("x"), alpha, bravo))
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]ed25519.PublicKey{"recipient": bravo.pub(), "stranger": newParty(t).pub()} {
		if err := e.Verify(k); !errors.Is(err, envelope.ErrSignature) {
			t.Errorf("Verify with %s key = %v, want ErrSignature", name, err)
		}
	}
}

func TestOpenWrongKey(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	e, err := envelope.Parse(seal(t, testHeader(), []byte("secret"), alpha, bravo))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  hpke.PrivateKey
	}{
		{"author", alpha.kem},
		{"stranger", newParty(t).kem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := e.Open(tt.key); !errors.Is(err, envelope.ErrOpen) {
				t.Errorf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	h := testHeader()
	overhead := len(seal(t, h, nil, alpha, bravo))
	fit := envelope.MaxSize - overhead
	tests := []struct {
		name    string
		bodyLen int
		want    error
	}{
		{"exactly MaxSize", fit, nil},
		{"one byte over", fit + 1, envelope.ErrTooLarge},
		{"MaxSize body", envelope.MaxSize, envelope.ErrTooLarge},
		{"1 MiB body", 1 << 20, envelope.ErrTooLarge},
		{"body over the 3-byte length prefix", 1 << 24, envelope.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := envelope.Seal(h, make([]byte, tt.bodyLen), bravo.kem.PublicKey(), alpha.sign)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Seal = %v, want success", err)
				}
				if len(raw) != envelope.MaxSize {
					t.Errorf("envelope has %d bytes, want %d", len(raw), envelope.MaxSize)
				}
				e, err := envelope.Parse(raw)
				if err != nil {
					t.Fatalf("Parse of a MaxSize envelope: %v", err)
				}
				if err := e.Verify(alpha.pub()); err != nil {
					t.Error(err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Seal = %d bytes, %v; want %v", len(raw), err, tt.want)
			}
		})
	}

	t.Run("Parse", func(t *testing.T) {
		raw, err := envelope.Seal(h, make([]byte, fit), bravo.kem.PublicKey(), alpha.sign)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := envelope.Parse(append(raw, 0)); !errors.Is(err, envelope.ErrTooLarge) {
			t.Errorf("Parse(MaxSize+1 bytes) = %v, want ErrTooLarge", err)
		}
		if _, err := envelope.Parse(make([]byte, 1<<20)); !errors.Is(err, envelope.ErrTooLarge) {
			t.Errorf("Parse(1 MiB) = %v, want ErrTooLarge", err)
		}
	})
}

func TestSealRejectsHeader(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	long := strings.Repeat("x", 65)
	tests := []struct {
		name string
		h    func(*envelope.Header)
	}{
		{"kind 0", func(h *envelope.Header) { h.Kind = 0 }},
		{"kind 200", func(h *envelope.Header) { h.Kind = 200 }},
		{"kind 255", func(h *envelope.Header) { h.Kind = 255 }},
		{"precedence 0", func(h *envelope.Header) { h.Precedence = 0 }},
		{"precedence 5", func(h *envelope.Header) { h.Precedence = 5 }},
		{"precedence 255", func(h *envelope.Header) { h.Precedence = 255 }},
		{"index 0", func(h *envelope.Header) { h.Index = 0 }},
		{"empty channel", func(h *envelope.Header) { h.Channel = "" }},
		{"empty author", func(h *envelope.Header) { h.Author = "" }},
		{"empty recipient", func(h *envelope.Header) { h.Recipient = "" }},
		{"long channel", func(h *envelope.Header) { h.Channel = long }},
		{"long author", func(h *envelope.Header) { h.Author = long }},
		{"long recipient", func(h *envelope.Header) { h.Recipient = long }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHeader()
			tt.h(&h)
			raw, err := envelope.Seal(h, []byte("x"), bravo.kem.PublicKey(), alpha.sign)
			if !errors.Is(err, envelope.ErrMalformed) {
				t.Fatalf("Seal = %d bytes, %v; want ErrMalformed", len(raw), err)
			}
		})
	}
}

// resign re-signs a modified envelope so that only the header check can
// refuse it.
func resign(key ed25519.PrivateKey, raw []byte) []byte {
	signed := bytes.Clone(raw[:len(raw)-ed25519.SignatureSize])
	return append(signed, ed25519.Sign(key, append([]byte("hotline envelope v1\x00"), signed...))...)
}

func TestParseRejects(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	h := testHeader()
	raw := seal(t, h, []byte("body"), alpha, bravo)
	set := func(off int, v byte) []byte {
		b := bytes.Clone(raw)
		b[off] = v
		return resign(alpha.sign, b)
	}
	zeroIndex := bytes.Clone(raw)
	binary.BigEndian.PutUint64(zeroIndex[fieldOffset(h, "index"):], 0)
	zeroIndex = resign(alpha.sign, zeroIndex)
	emptyChannel := append([]byte("HLE1\x00"), raw[4+1+len(h.Channel):]...)
	emptyChannel = resign(alpha.sign, emptyChannel)

	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"bad magic", set(0, 'X')},
		{"old magic", set(3, '0')},
		{"unknown kind", set(fieldOffset(h, "kind"), 21)},
		{"kind 0", set(fieldOffset(h, "kind"), 0)},
		{"unknown precedence", set(fieldOffset(h, "precedence"), 5)},
		{"precedence 0", set(fieldOffset(h, "precedence"), 0)},
		{"index 0", zeroIndex},
		{"empty channel", emptyChannel},
		{"trailing byte", append(bytes.Clone(raw), 0)},
		{"signature too short", raw[:len(raw)-1]},
		{"no signature", raw[:len(raw)-ed25519.SignatureSize]},
		{"header only", raw[:headerLen(h)]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e, err := envelope.Parse(tt.in); !errors.Is(err, envelope.ErrMalformed) {
				t.Fatalf("Parse = %v, %v; want ErrMalformed", e, err)
			}
		})
	}

	t.Run("every truncation", func(t *testing.T) {
		for n := range len(raw) {
			if _, err := envelope.Parse(raw[:n]); !errors.Is(err, envelope.ErrMalformed) {
				t.Fatalf("Parse(first %d of %d bytes) = %v, want ErrMalformed", n, len(raw), err)
			}
		}
	})
}

func TestParsePrecedence(t *testing.T) {
	tests := []struct {
		in      string
		want    envelope.Precedence
		wantErr bool
	}{
		{"FLASH", envelope.Flash, false},
		{"flash", envelope.Flash, false},
		{"Flash", envelope.Flash, false},
		{" flash\n", envelope.Flash, false},
		{"IMMEDIATE", envelope.Immediate, false},
		{"immediate", envelope.Immediate, false},
		{"PRIORITY", envelope.Priority, false},
		{"priority", envelope.Priority, false},
		{"ROUTINE", envelope.Routine, false},
		{"routine", envelope.Routine, false},
		{"Z", envelope.Flash, false},
		{"z", envelope.Flash, false},
		{"O", envelope.Immediate, false},
		{"o", envelope.Immediate, false},
		{"P", envelope.Priority, false},
		{"p", envelope.Priority, false},
		{"R", envelope.Routine, false},
		{"r", envelope.Routine, false},
		{"", 0, true},
		{"  ", 0, true},
		{"X", 0, true},
		{"F", 0, true},
		{"I", 0, true},
		{"ZZ", 0, true},
		{"1", 0, true},
		{"FLASHY", 0, true},
		{"FLASH OVERRIDE", 0, true},
		{"precedence(1)", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := envelope.ParsePrecedence(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParsePrecedence(%q) = %v, want error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePrecedence(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	// Every precedence's name parses back to itself.
	for _, p := range envelope.Precedences {
		if got, err := envelope.ParsePrecedence(p.String()); err != nil || got != p {
			t.Errorf("ParsePrecedence(%q) = %v, %v", p.String(), got, err)
		}
	}
}

func TestPrecedenceAndKindNames(t *testing.T) {
	tests := []struct {
		name  string
		got   string
		want  string
		valid bool
		isOK  bool
	}{
		{"flash", envelope.Flash.String(), "FLASH", envelope.Flash.Valid(), true},
		{"immediate", envelope.Immediate.String(), "IMMEDIATE", envelope.Immediate.Valid(), true},
		{"priority", envelope.Priority.String(), "PRIORITY", envelope.Priority.Valid(), true},
		{"routine", envelope.Routine.String(), "ROUTINE", envelope.Routine.Valid(), true},
		{"precedence 0", envelope.Precedence(0).String(), "precedence(0)", envelope.Precedence(0).Valid(), false},
		{"precedence 5", envelope.Precedence(5).String(), "precedence(5)", envelope.Precedence(5).Valid(), false},
		{"text", envelope.Text.String(), "text", envelope.Text.Valid(), true},
		{"ack", envelope.Ack.String(), "ack", envelope.Ack.Valid(), true},
		{"agreement", envelope.Agreement.String(), "agreement", envelope.Agreement.Valid(), true},
		{"kind 0", envelope.Kind(0).String(), "kind(0)", envelope.Kind(0).Valid(), false},
		{"suspend", envelope.Suspend.String(), "suspend", envelope.Suspend.Valid(), true},
		{"resume", envelope.Resume.String(), "resume", envelope.Resume.Valid(), true},
		{"check", envelope.Check.String(), "check", envelope.Check.Valid(), true},
		{"reminder", envelope.Reminder.String(), "reminder", envelope.Reminder.Valid(), true},
		{"escalation", envelope.Escalation.String(), "escalation", envelope.Escalation.Valid(), true},
		{"coded", envelope.Coded.String(), "coded", envelope.Coded.Valid(), true},
		{"notice", envelope.Notice.String(), "notice", envelope.Notice.Valid(), true},
		{"report", envelope.Report.String(), "report", envelope.Report.Valid(), true},
		{"incident", envelope.Incident.String(), "incident", envelope.Incident.Valid(), true},
		{"key", envelope.Key.String(), "key", envelope.Key.Valid(), true},
		{"call-request", envelope.CallRequest.String(), "call-request", envelope.CallRequest.Valid(), true},
		{"call-answer", envelope.CallAnswer.String(), "call-answer", envelope.CallAnswer.Valid(), true},
		{"call-decline", envelope.CallDecline.String(), "call-decline", envelope.CallDecline.Valid(), true},
		{"call-end", envelope.CallEnd.String(), "call-end", envelope.CallEnd.Valid(), true},
		{"call-join", envelope.CallJoin.String(), "call-join", envelope.CallJoin.Valid(), true},
		{"call-leave", envelope.CallLeave.String(), "call-leave", envelope.CallLeave.Valid(), true},
		{"withdraw", envelope.Withdraw.String(), "withdraw", envelope.Withdraw.Valid(), true},
		{"kind 21", envelope.Kind(21).String(), "kind(21)", envelope.Kind(21).Valid(), false},
		{"kind 200", envelope.Kind(200).String(), "kind(200)", envelope.Kind(200).Valid(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want || tt.valid != tt.isOK {
				t.Errorf("String = %q, Valid = %v; want %q, %v", tt.got, tt.valid, tt.want, tt.isOK)
			}
		})
	}
	// Kinds are wire values 1..19; the ones a person acknowledges are
	// those that carry what a person wrote or must answer.
	var acked []string
	for i, k := range envelope.Kinds() {
		if uint8(k) != uint8(i+1) {
			t.Errorf("Kinds()[%d] = %d, want %d", i, k, i+1)
		}
		if k.NeedsAck() {
			acked = append(acked, k.String())
		}
	}
	if got, want := strings.Join(acked, " "), "text check escalation coded notice report incident call-request"; got != want {
		t.Errorf("kinds that need an acknowledgement: %s, want %s", got, want)
	}
	// Precedences are listed most urgent first and are wire values 1..4.
	for i, p := range envelope.Precedences {
		if uint8(p) != uint8(i+1) {
			t.Errorf("Precedences[%d] = %d, want %d", i, p, i+1)
		}
	}
}

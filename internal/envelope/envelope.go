// Package envelope encodes, seals, signs, parses and verifies the entries of
// a channel log.
//
// An envelope is a plain header (channel, author, recipient, index,
// precedence, kind, sender time), a body sealed with HPKE to the recipient
// with the header bytes as associated data, and the author's Ed25519
// signature over all of it. The exact bytes are the entry: they are stored,
// forwarded, hashed into the Merkle log and exported as received, never
// re-encoded. The layout is in docs/PROTOCOL.md, section "Envelope".
package envelope

import (
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// MaxSize is the largest envelope a station accepts or builds, in bytes.
const MaxSize = 64 << 10

const magic = "HLE1"

// Errors a caller can test for with errors.Is.
var (
	ErrTooLarge  = errors.New("envelope too large")
	ErrMalformed = errors.New("malformed envelope")
	ErrSignature = errors.New("envelope signature does not verify")
	ErrOpen      = errors.New("envelope body does not open")
)

var (
	sigContext = []byte("hotline envelope v1\x00")
	hpkeInfo   = []byte("hotline envelope body v1")
	kdf        = hpke.HKDFSHA256()
	aead       = hpke.ChaCha20Poly1305()
)

// Precedence orders traffic by urgency, as in military message handling.
type Precedence uint8

// Precedences, most urgent first.
const (
	Flash Precedence = iota + 1
	Immediate
	Priority
	Routine
)

var precedenceNames = map[Precedence]string{Flash: "FLASH", Immediate: "IMMEDIATE", Priority: "PRIORITY", Routine: "ROUTINE"}

// Precedences lists every precedence, most urgent first.
var Precedences = []Precedence{Flash, Immediate, Priority, Routine}

func (p Precedence) String() string {
	if s, ok := precedenceNames[p]; ok {
		return s
	}
	return fmt.Sprintf("precedence(%d)", uint8(p))
}

// Valid reports whether p is a known precedence.
func (p Precedence) Valid() bool { _, ok := precedenceNames[p]; return ok }

// ParsePrecedence accepts FLASH, IMMEDIATE, PRIORITY or ROUTINE in any case,
// or the one-letter prosigns Z, O, P, R.
func ParsePrecedence(s string) (Precedence, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	for p, name := range precedenceNames {
		if u == name {
			return p, nil
		}
	}
	switch u {
	case "Z":
		return Flash, nil
	case "O":
		return Immediate, nil
	case "P":
		return Priority, nil
	case "R":
		return Routine, nil
	}
	return 0, fmt.Errorf("precedence %q is not one of FLASH, IMMEDIATE, PRIORITY, ROUTINE", s)
}

// Kind says what the sealed body holds.
type Kind uint8

// Kinds of entries. New kinds take new numbers; a station refuses a kind
// it does not know.
const (
	Text       Kind = iota + 1
	Ack             // a person acknowledged an entry of the peer's log
	Agreement       // a channel charter (entry 1 of each log)
	Suspend         // this party suspends the channel, with a reason
	Resume          // this party lifts its suspension
	Check           // an operator check: a person on the other side must acknowledge it
	Reminder        // an escalation step: entries of the peer's log are overdue
	Escalation      // a message forwarded from a lower channel whose deadline passed
	Coded           // a message of standard phrases from the channel's codebook
	Notice          // a notice of an activity: area, height band, time window, units
	Report          // an encounter report: two tracks, the closest approach, what was said
	Incident        // a step of an incident both parties keep: open, acknowledge, discuss, link, close
	Key             // the author's keys change: a rotation statement signed by the key it replaces
)

var kindNames = map[Kind]string{Text: "text", Ack: "ack", Agreement: "agreement", Suspend: "suspend",
	Resume: "resume", Check: "check", Reminder: "reminder", Escalation: "escalation",
	Coded: "coded", Notice: "notice", Report: "report", Incident: "incident", Key: "key"}

// NeedsAck reports whether entries of kind k wait for a person's
// acknowledgement, with a deadline.
func (k Kind) NeedsAck() bool {
	switch k {
	case Text, Check, Escalation, Coded, Notice, Report, Incident:
		return true
	}
	return false
}

// Kinds lists every kind, in wire order.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kindNames))
	for k := Text; k.Valid(); k++ {
		out = append(out, k)
	}
	return out
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { _, ok := kindNames[k]; return ok }

// Header is the plain, signed part of an envelope.
type Header struct {
	Channel    string
	Author     string
	Recipient  string
	Index      uint64 // 1-based position in the author's log for the channel
	Precedence Precedence
	Kind       Kind
	Time       time.Time // the author's clock: shown, never trusted for order
}

// Envelope is a parsed envelope. Raw holds the exact bytes.
type Envelope struct {
	Header
	Enc    []byte // HPKE encapsulated key
	Sealed []byte // HPKE ciphertext of the body
	Sig    []byte
	Raw    []byte

	headerLen int
	signedLen int
}

func (h *Header) check() error {
	switch {
	case h.Channel == "" || len(h.Channel) > 64:
		return fmt.Errorf("%w: channel name has %d bytes", ErrMalformed, len(h.Channel))
	case h.Author == "" || len(h.Author) > 64:
		return fmt.Errorf("%w: author name has %d bytes", ErrMalformed, len(h.Author))
	case h.Recipient == "" || len(h.Recipient) > 64:
		return fmt.Errorf("%w: recipient name has %d bytes", ErrMalformed, len(h.Recipient))
	case h.Index == 0:
		return fmt.Errorf("%w: index 0 (logs start at 1)", ErrMalformed)
	case !h.Precedence.Valid():
		return fmt.Errorf("%w: unknown precedence %d", ErrMalformed, h.Precedence)
	case !h.Kind.Valid():
		return fmt.Errorf("%w: unknown kind %d", ErrMalformed, h.Kind)
	}
	return nil
}

func (h *Header) marshal(b *cryptobyte.Builder) {
	b.AddBytes([]byte(magic))
	for _, s := range []string{h.Channel, h.Author, h.Recipient} {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
	}
	b.AddUint64(h.Index)
	b.AddUint8(uint8(h.Precedence))
	b.AddUint8(uint8(h.Kind))
	b.AddUint64(uint64(h.Time.UnixMilli()))
}

// Seal builds an envelope: it seals body to the recipient's HPKE key with the
// header as associated data and signs the result with the author's key.
func Seal(h Header, body []byte, to hpke.PublicKey, key ed25519.PrivateKey) ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	if len(body) > MaxSize {
		return nil, fmt.Errorf("%w: body of %d bytes, limit %d for the whole envelope", ErrTooLarge, len(body), MaxSize)
	}
	var hb cryptobyte.Builder
	h.marshal(&hb)
	header, err := hb.Bytes()
	if err != nil {
		return nil, err
	}
	enc, sender, err := hpke.NewSender(to, kdf, aead, hpkeInfo)
	if err != nil {
		return nil, err
	}
	ct, err := sender.Seal(header, body)
	if err != nil {
		return nil, err
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, len(header)+len(enc)+len(ct)+80))
	b.AddBytes(header)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(enc) })
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ct) })
	signed, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(key, append(append([]byte{}, sigContext...), signed...))
	raw := append(signed, sig...)
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(raw), MaxSize)
	}
	return raw, nil
}

// Parse decodes raw without checking the signature. The returned envelope
// keeps raw as its exact bytes.
func Parse(raw []byte) (*Envelope, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(raw), MaxSize)
	}
	s := cryptobyte.String(raw)
	var (
		e           Envelope
		m           []byte
		ch, au, rc  cryptobyte.String
		prec, kind  uint8
		ms          uint64
		enc, sealed cryptobyte.String
	)
	if !s.ReadBytes(&m, len(magic)) || string(m) != magic {
		return nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	if !s.ReadUint8LengthPrefixed(&ch) || !s.ReadUint8LengthPrefixed(&au) || !s.ReadUint8LengthPrefixed(&rc) ||
		!s.ReadUint64(&e.Index) || !s.ReadUint8(&prec) || !s.ReadUint8(&kind) || !s.ReadUint64(&ms) {
		return nil, fmt.Errorf("%w: truncated header", ErrMalformed)
	}
	e.headerLen = len(raw) - len(s)
	if !s.ReadUint16LengthPrefixed(&enc) || !s.ReadUint24LengthPrefixed(&sealed) {
		return nil, fmt.Errorf("%w: truncated body", ErrMalformed)
	}
	e.signedLen = len(raw) - len(s)
	if len(s) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature has %d bytes, want %d", ErrMalformed, len(s), ed25519.SignatureSize)
	}
	e.Channel, e.Author, e.Recipient = string(ch), string(au), string(rc)
	e.Precedence, e.Kind = Precedence(prec), Kind(kind)
	e.Time = time.UnixMilli(int64(ms)).UTC()
	e.Enc, e.Sealed = enc, sealed
	e.Sig = []byte(s)
	e.Raw = raw
	if err := e.Header.check(); err != nil {
		return nil, err
	}
	return &e, nil
}

// Verify checks the author's signature over the exact bytes.
func (e *Envelope) Verify(pub ed25519.PublicKey) error {
	msg := append(append(make([]byte, 0, len(sigContext)+e.signedLen), sigContext...), e.Raw[:e.signedLen]...)
	if !ed25519.Verify(pub, msg, e.Sig) {
		return fmt.Errorf("%w: entry %s/%s/%d", ErrSignature, e.Channel, e.Author, e.Index)
	}
	return nil
}

// Open decrypts the body with the recipient's HPKE key. The header must be
// the one the author sealed the body with.
func (e *Envelope) Open(k hpke.PrivateKey) ([]byte, error) {
	r, err := hpke.NewRecipient(e.Enc, k, kdf, aead, hpkeInfo)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOpen, err)
	}
	pt, err := r.Open(e.Raw[:e.headerLen], e.Sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s/%s/%d: %v", ErrOpen, e.Channel, e.Author, e.Index, err)
	}
	return pt, nil
}

// ID names an entry the same way on both stations: channel/author/index.
func (h *Header) ID() string { return fmt.Sprintf("%s/%s/%d", h.Channel, h.Author, h.Index) }

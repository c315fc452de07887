// Package envelope encodes, seals, signs, parses and verifies the entries of
// a channel log.
//
// An envelope is a plain header (channel, author, recipient, index,
// precedence, kind, sender time), a sealed body with the header bytes as
// associated data, and the author's Ed25519 signature over all of it. The
// exact bytes are the entry: they are stored, forwarded, hashed into the
// Merkle log and exported as received, never re-encoded. The layout is in
// docs/PROTOCOL.md, section "Envelope".
//
// Version 2 envelopes (magic HLE2) seal bodies under a key epoch: an entry
// that carries an HPKE encapsulation to the recipient begins an epoch whose
// key is HPKE's exported secret, and the entries after it in the same log
// carry none and are sealed with that key (XChaCha20-Poly1305, a random
// nonce each). One encapsulation then serves many entries: it is most of
// the cost of sealing and opening, and 1,120 bytes of every entry.
// Version 1 envelopes (HLE1), one HPKE seal each, are still parsed,
// verified and opened.
//
// Version 3 envelopes (HLE3) are version 2 with a key for each entry:
// HKDF-SHA256 of the epoch key with the entry's header, and a SHA-256
// commitment to it at the head of the sealed body. Handing over one
// entry's key (Disclose) lets anyone open that entry, and check that it
// is the key the author sealed with, and no other entry. Stations seal
// version 3; versions 1 and 2 are still opened.
package envelope

import (
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
)

// MaxSize is the largest envelope a station accepts or builds, in bytes.
const MaxSize = 64 << 10

const (
	magic1 = "HLE1"
	magic2 = "HLE2"
	magic3 = "HLE3"
)

// Errors a caller can test for with errors.Is.
var (
	ErrTooLarge  = errors.New("envelope too large")
	ErrMalformed = errors.New("malformed envelope")
	ErrSignature = errors.New("envelope signature does not verify")
	ErrOpen      = errors.New("envelope body does not open")
	// ErrNoEpoch: the entry is sealed under the key epoch an earlier
	// entry of its log began, and none is given.
	ErrNoEpoch = errors.New("envelope sealed under a key epoch not held")
)

var (
	sigContext = []byte("hotline envelope v1\x00")
	hpkeInfo   = []byte("hotline envelope body v1")
	kdf        = hpke.HKDFSHA256()
	aead       = hpke.ChaCha20Poly1305()
	// Version 2: HPKE only exports the epoch key.
	epochInfo    = []byte("hotline envelope epoch v2")
	epochContext = "hotline envelope epoch key v2"
)

// epochKeySize is the size of an epoch's key, in bytes.
const epochKeySize = chacha20poly1305.KeySize

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
	Text        Kind = iota + 1
	Ack              // a person acknowledged an entry of the peer's log
	Agreement        // a channel charter (entry 1 of each log)
	Suspend          // this party suspends the channel, with a reason
	Resume           // this party lifts its suspension
	Check            // an operator check: a person on the other side must acknowledge it
	Reminder         // an escalation step: entries of the peer's log are overdue
	Escalation       // a message forwarded from a lower channel whose deadline passed
	Coded            // a message of standard phrases from the channel's codebook
	Notice           // a notice of an activity: area, height band, time window, units
	Report           // an encounter report: two tracks, the closest approach, what was said
	Incident         // a step of an incident both parties keep: open, acknowledge, discuss, link, close
	Key              // the author's keys change: a rotation statement signed by the key it replaces
	CallRequest      // a call placed to the other party: its answer acknowledges it
	CallAnswer       // a person answered a call of the other party
	CallDecline      // a person declined a call of the other party, with a reason
	CallEnd          // either party ended a call
	CallJoin         // a participant joined a call on the author's side
	CallLeave        // a participant left a call on the author's side
	Withdraw         // the author withdraws its proposal of the channel, not yet accepted
)

var kindNames = map[Kind]string{Text: "text", Ack: "ack", Agreement: "agreement", Suspend: "suspend",
	Resume: "resume", Check: "check", Reminder: "reminder", Escalation: "escalation",
	Coded: "coded", Notice: "notice", Report: "report", Incident: "incident", Key: "key",
	CallRequest: "call-request", CallAnswer: "call-answer", CallDecline: "call-decline", CallEnd: "call-end",
	CallJoin: "call-join", CallLeave: "call-leave", Withdraw: "withdraw"}

// NeedsAck reports whether entries of kind k wait for a person's
// acknowledgement, with a deadline.
func (k Kind) NeedsAck() bool {
	switch k {
	case Text, Check, Escalation, Coded, Notice, Report, Incident, CallRequest:
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
	Version int    // 1 (HLE1) or 2 (HLE2)
	Enc     []byte // HPKE encapsulated key; in version 2, empty in an entry that continues an epoch
	Sealed  []byte // the body's ciphertext (version 2: nonce, then ciphertext)
	Sig     []byte
	Raw     []byte

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

// checkSeal refuses what no envelope may carry, before any sealing.
func checkSeal(h Header, body []byte) error {
	if err := h.check(); err != nil {
		return err
	}
	if len(body) > MaxSize {
		return fmt.Errorf("%w: body of %d bytes, limit %d for the whole envelope", ErrTooLarge, len(body), MaxSize)
	}
	return nil
}

func (h *Header) marshal(b *cryptobyte.Builder, magic string) {
	b.AddBytes([]byte(magic))
	for _, s := range []string{h.Channel, h.Author, h.Recipient} {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
	}
	b.AddUint64(h.Index)
	b.AddUint8(uint8(h.Precedence))
	b.AddUint8(uint8(h.Kind))
	b.AddUint64(uint64(h.Time.UnixMilli()))
}

// Epoch is a key for the bodies of a run of entries in one log, agreed
// with HPKE: the run's first entry carries the encapsulation, and the
// recipient opens the rest with the key it exported then. An Epoch is safe
// for concurrent use.
type Epoch struct {
	enc    []byte // the encapsulation; nil in the recipient's copy
	key    []byte
	aead   cipher.AEAD
	nonces io.Reader // where sealing reads nonces; nil for crypto/rand
}

// NewEpoch begins an epoch with the recipient's HPKE key. Entries sealed
// under it take their nonces from nonces, nil for crypto/rand. The
// encapsulation itself reads the system's randomness: crypto/hpke takes
// no other.
func NewEpoch(to hpke.PublicKey, nonces io.Reader) (*Epoch, error) {
	enc, s, err := hpke.NewSender(to, kdf, hpke.ExportOnly(), epochInfo)
	if err != nil {
		return nil, err
	}
	key, err := s.Export(epochContext, epochKeySize)
	if err != nil {
		return nil, err
	}
	ep, err := epochFromKey(key)
	if err != nil {
		return nil, err
	}
	ep.enc, ep.nonces = enc, nonces
	return ep, nil
}

// epochFromKey makes an epoch of its key. Without the encapsulation it
// can open entries, not begin a run of them.
func epochFromKey(key []byte) (*Epoch, error) {
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("epoch key: %w", err)
	}
	return &Epoch{key: append([]byte(nil), key...), aead: a}, nil
}

// Seal builds an envelope: it seals body to the recipient's HPKE key with the
// header as associated data and signs the result with the author's key. The
// envelope begins an epoch of its own; a station sealing many entries to
// one recipient uses an Epoch.
func Seal(h Header, body []byte, to hpke.PublicKey, key ed25519.PrivateKey) ([]byte, error) {
	if err := checkSeal(h, body); err != nil { // before the costly encapsulation
		return nil, err
	}
	ep, err := NewEpoch(to, nil)
	if err != nil {
		return nil, err
	}
	return ep.Seal(h, body, true, key)
}

// Seal builds a version 3 envelope under the epoch, its body sealed
// with its own entry key: first says that it is the epoch's first entry
// in its log, which carries the encapsulation.
func (ep *Epoch) Seal(h Header, body []byte, first bool, key ed25519.PrivateKey) ([]byte, error) {
	header, enc, err := ep.begin(h, body, first, magic3)
	if err != nil {
		return nil, err
	}
	k := entryKey(ep.key, header)
	a, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, err
	}
	// The sealed body: the key's commitment, the nonce, the ciphertext.
	ns := a.NonceSize()
	sealed := make([]byte, commitSize+ns, commitSize+ns+len(body)+a.Overhead())
	copy(sealed, commitment(k))
	if ep.nonces == nil {
		rand.Read(sealed[commitSize:])
	} else if _, err := io.ReadFull(ep.nonces, sealed[commitSize:]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	sealed = a.Seal(sealed, sealed[commitSize:], body, header)
	return sign(header, enc, sealed, key)
}

func sign(header, enc, sealed []byte, key ed25519.PrivateKey) ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, len(header)+len(enc)+len(sealed)+80))
	b.AddBytes(header)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(enc) })
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sealed) })
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

// begin checks what an entry under the epoch is to seal and returns its
// header's bytes, and the encapsulation if it is the epoch's first.
func (ep *Epoch) begin(h Header, body []byte, first bool, magic string) (header, enc []byte, err error) {
	if err := checkSeal(h, body); err != nil {
		return nil, nil, err
	}
	if first && ep.enc == nil {
		return nil, nil, errors.New("an epoch opened from an entry cannot begin a run of entries")
	}
	var hb cryptobyte.Builder
	h.marshal(&hb, magic)
	if header, err = hb.Bytes(); err != nil {
		return nil, nil, err
	}
	if first {
		enc = ep.enc
	}
	return header, enc, nil
}

// SealV2 builds a version 2 envelope under the epoch: the epoch's key
// seals the body. Stations build version 3; this is for tests of what
// earlier versions stored.
func (ep *Epoch) SealV2(h Header, body []byte, first bool, key ed25519.PrivateKey) ([]byte, error) {
	header, enc, err := ep.begin(h, body, first, magic2)
	if err != nil {
		return nil, err
	}
	ns := ep.aead.NonceSize()
	sealed := make([]byte, ns, ns+len(body)+ep.aead.Overhead())
	rand.Read(sealed)
	sealed = ep.aead.Seal(sealed, sealed, body, header)
	return sign(header, enc, sealed, key)
}

// SealV1 builds a version 1 envelope: one HPKE seal of its own. Stations
// build version 2; this is for tests of what earlier versions stored.
func SealV1(h Header, body []byte, to hpke.PublicKey, key ed25519.PrivateKey) ([]byte, error) {
	if err := checkSeal(h, body); err != nil {
		return nil, err
	}
	var hb cryptobyte.Builder
	h.marshal(&hb, magic1)
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
	return sign(header, enc, ct, key)
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
	if !s.ReadBytes(&m, len(magic1)) {
		return nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	switch string(m) {
	case magic1:
		e.Version = 1
	case magic2:
		e.Version = 2
	case magic3:
		e.Version = 3
	default:
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
	if e.Version == 1 && len(enc) == 0 {
		return nil, fmt.Errorf("%w: a version 1 envelope without an encapsulated key", ErrMalformed)
	}
	e.Sig = []byte(s)
	e.Raw = raw
	if err := e.Header.check(); err != nil {
		return nil, err
	}
	return &e, nil
}

// Verify checks the author's signature over the exact bytes.
func (e *Envelope) Verify(pub ed25519.PublicKey) error {
	if !ed25519.Verify(pub, e.SignedMessage(), e.Sig) {
		return fmt.Errorf("%w: entry %s/%s/%d", ErrSignature, e.Channel, e.Author, e.Index)
	}
	return nil
}

// SignedMessage is what the author's signature (Sig) signs: the context
// string and every byte before the signature. For verifiers that check
// many signatures at once (a batch).
func (e *Envelope) SignedMessage() []byte {
	return append(append(make([]byte, 0, len(sigContext)+e.signedLen), sigContext...), e.Raw[:e.signedLen]...)
}

// BeginsEpoch reports whether the entry carries an encapsulation: in
// version 2, it begins a key epoch; a version 1 entry is one of its own.
func (e *Envelope) BeginsEpoch() bool { return len(e.Enc) > 0 }

// Open decrypts the body of an entry that carries its encapsulation with
// the recipient's HPKE key. The header must be the one the author sealed
// the body with. An entry that continues an epoch is opened with OpenIn.
func (e *Envelope) Open(k hpke.PrivateKey) ([]byte, error) {
	body, _, err := e.OpenBeginning(k)
	return body, err
}

// OpenBeginning is Open that also returns the epoch a version 2 entry
// begins (nil for version 1, where each entry stands alone). Opening the
// body is what shows the key was the right one: a KEM yields some key
// whatever the private key.
func (e *Envelope) OpenBeginning(k hpke.PrivateKey) ([]byte, *Epoch, error) {
	if e.Version >= 2 {
		ep, err := e.OpenEpoch(k)
		if err != nil {
			return nil, nil, err
		}
		body, err := e.OpenIn(ep)
		if err != nil {
			return nil, nil, err
		}
		return body, ep, nil
	}
	r, err := hpke.NewRecipient(e.Enc, k, kdf, aead, hpkeInfo)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrOpen, err)
	}
	pt, err := r.Open(e.Raw[:e.headerLen], e.Sealed)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: entry %s/%s/%d: %v", ErrOpen, e.Channel, e.Author, e.Index, err)
	}
	return pt, nil, nil
}

// OpenEpoch recovers the epoch a version 2 entry begins, with the
// recipient's HPKE key.
func (e *Envelope) OpenEpoch(k hpke.PrivateKey) (*Epoch, error) {
	switch {
	case e.Version < 2:
		return nil, fmt.Errorf("%w: entry %s is version %d, which has no key epochs", ErrOpen, e.ID(), e.Version)
	case len(e.Enc) == 0:
		return nil, fmt.Errorf("%w: entry %s continues an epoch; it does not begin one", ErrNoEpoch, e.ID())
	}
	r, err := hpke.NewRecipient(e.Enc, k, kdf, hpke.ExportOnly(), epochInfo)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: %v", ErrOpen, e.ID(), err)
	}
	key, err := r.Export(epochContext, epochKeySize)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: %v", ErrOpen, e.ID(), err)
	}
	return epochFromKey(key)
}

// OpenIn decrypts the body of a version 2 or 3 entry with the key of
// its epoch: the one it begins, or the latest begun before it in its log.
func (e *Envelope) OpenIn(ep *Epoch) ([]byte, error) {
	switch {
	case e.Version < 2:
		return nil, fmt.Errorf("%w: entry %s is version %d, which has no key epochs", ErrOpen, e.ID(), e.Version)
	case ep == nil:
		return nil, fmt.Errorf("%w: entry %s", ErrNoEpoch, e.ID())
	case e.Version == 3:
		return e.OpenDisclosed(e.EntryKey(ep))
	}
	ns := ep.aead.NonceSize()
	if len(e.Sealed) < ns+ep.aead.Overhead() {
		return nil, fmt.Errorf("%w: entry %s: sealed body of %d bytes", ErrOpen, e.ID(), len(e.Sealed))
	}
	pt, err := ep.aead.Open(nil, e.Sealed[:ns], e.Sealed[ns:], e.Raw[:e.headerLen])
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: %v", ErrOpen, e.ID(), err)
	}
	return pt, nil
}

// commitSize is the size of a version 3 entry's key commitment.
const commitSize = sha256.Size

// entryKey is a version 3 entry's own key: HKDF-SHA256 of its epoch's
// key, with the entry's header bytes in the info. Knowing it tells
// nothing of the epoch's key or of another entry's.
func entryKey(epochKey, header []byte) []byte {
	k, err := hkdf.Key(sha256.New, epochKey, nil, entryKeyInfo+string(header), chacha20poly1305.KeySize)
	if err != nil {
		panic(err) // only for an impossible length
	}
	return k
}

// commitment is SHA-256 of a label and an entry's key: the sealed body
// begins with it, so that a disclosed key is the one the entry was sealed
// with, and not another that also opens its ciphertext (Poly1305 does
// not commit to its key).
func commitment(k []byte) []byte {
	h := sha256.New()
	h.Write([]byte(commitLabel))
	h.Write(k)
	return h.Sum(nil)
}

const (
	entryKeyInfo = "hotline entry key v3\x00"
	commitLabel  = "hotline entry key commitment v3\x00"
)

// EntryKey is a version 3 entry's own key, from its epoch: what a party
// that can open the entry hands over to disclose it (OpenDisclosed).
func (e *Envelope) EntryKey(ep *Epoch) []byte { return entryKey(ep.key, e.Raw[:e.headerLen]) }

// OpenDisclosed opens a version 3 entry with its own key, after checking
// the key against the commitment the author signed.
func (e *Envelope) OpenDisclosed(k []byte) ([]byte, error) {
	if e.Version != 3 {
		return nil, fmt.Errorf("%w: entry %s is version %d, which has no key of its own to disclose", ErrOpen, e.ID(), e.Version)
	}
	a, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: key: %v", ErrOpen, e.ID(), err)
	}
	ns := a.NonceSize()
	if len(e.Sealed) < commitSize+ns+a.Overhead() {
		return nil, fmt.Errorf("%w: entry %s: sealed body of %d bytes", ErrOpen, e.ID(), len(e.Sealed))
	}
	if subtle.ConstantTimeCompare(e.Sealed[:commitSize], commitment(k)) != 1 {
		return nil, fmt.Errorf("%w: entry %s: the key is not the one its author committed to", ErrOpen, e.ID())
	}
	pt, err := a.Open(nil, e.Sealed[commitSize:commitSize+ns], e.Sealed[commitSize+ns:], e.Raw[:e.headerLen])
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: %v", ErrOpen, e.ID(), err)
	}
	return pt, nil
}

// Key is the epoch's key, for a station to keep with the entry that
// begins the epoch: what it needs to disclose entries of it later.
func (ep *Epoch) Key() []byte { return append([]byte(nil), ep.key...) }

// EpochFromKey makes an epoch of a key Key returned. It opens entries;
// it cannot begin a run of them.
func EpochFromKey(key []byte) (*Epoch, error) { return epochFromKey(key) }

// ID names an entry the same way on both stations: channel/author/index.
func (h *Header) ID() string { return fmt.Sprintf("%s/%s/%d", h.Channel, h.Author, h.Index) }

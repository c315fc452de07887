package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/transcript"
)

// MaxText is the longest message text, in bytes. The envelope limit also
// applies.
const MaxText = 32 << 10

// TextBody is the sealed body of a text entry.
type TextBody struct {
	Text string `json:"text"`
	Lang string `json:"lang,omitempty"` // BCP 47 tag of the text as written, e.g. "en", "zh-Hans"
	// Broadcast links the copies of a message sent to several parties in
	// one act (envelope.CheckBroadcast).
	Broadcast string `json:"broadcast,omitempty"`
}

// AckBody is the sealed body of an acknowledgement: the operator who
// acknowledged entry Of of the peer's log on the same channel.
type AckBody struct {
	Of uint64 `json:"of"`
	By string `json:"by"`
}

// AgreementBody carries a channel charter: signed by the proposer in the
// proposer's entry 1, by both in the acceptor's entry 1.
type AgreementBody struct {
	Charter string `json:"charter"`
}

// SuspendBody is the sealed body of a suspension: the operator who
// suspended the channel for this party, and why. ResumeBody lifts it.
type SuspendBody struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// WithdrawBody is the sealed body of a withdrawal: the operator who
// withdrew this station's proposal of the channel, and why.
type WithdrawBody struct {
	Reason string `json:"reason,omitempty"`
	By     string `json:"by"`
}

// ResumeBody lifts this party's suspension.
type ResumeBody struct {
	Reason string `json:"reason,omitempty"`
	By     string `json:"by"`
}

// CheckBody is an operator check: a person on the other side must
// acknowledge it within Window.
type CheckBody struct {
	Window string `json:"window"` // a Go duration, as in the charter
}

// ReminderBody is the first escalation step: entries Of of the peer's log
// on this channel are past their acknowledgement deadline.
type ReminderBody struct {
	Of []uint64 `json:"of"`
}

// EscalationBody is a message forwarded to a higher channel because its
// acknowledgement deadline passed twice over on the lower one.
type EscalationBody struct {
	From       string `json:"from"` // the original entry: channel/author/index
	Precedence string `json:"precedence"`
	Text       string `json:"text"`
	Lang       string `json:"lang,omitempty"`
}

// KeyBody carries the author's rotation statement (identity.Rotation):
// from the next entry of this log on, the author signs with the new card's
// key. The statement itself is signed by the key it replaces, as is the
// entry that carries it. See docs/PROTOCOL.md, "Key rotation".
//
// Or it records that the author re-pinned the other party under a new card
// by fingerprint, after that party lost its key (Replaced): see "Lost
// keys". Exactly one of the two is set.
type KeyBody struct {
	Statement string                  `json:"statement,omitempty"`
	Replaced  *transcript.Replacement `json:"replaced,omitempty"`

	rotation *identity.Rotation
	card     *identity.Card // Replaced's card, parsed
}

// ReplacedCard is the new card of a replacement record, parsed.
func (b *KeyBody) ReplacedCard() *identity.Card { return b.card }

// Rotation is the statement, parsed and checked in itself (not yet
// against the key pinned for its author).
func (b *KeyBody) Rotation() *identity.Rotation { return b.rotation }

// MaxReason is the longest reason for a suspension, in bytes.
const MaxReason = 1024

func checkBy(what, by string) error {
	if by == "" || len(by) > 128 || !utf8.ValidString(by) {
		return fmt.Errorf("%s body: needs who did it (1 to 128 bytes of UTF-8)", what)
	}
	return nil
}

func checkReason(what, r string, required bool) error {
	switch {
	case required && r == "":
		return fmt.Errorf("%s body: a reason is required", what)
	case len(r) > MaxReason || !utf8.ValidString(r):
		return fmt.Errorf("%s body: the reason must be UTF-8 of at most %d bytes", what, MaxReason)
	}
	return nil
}

// strict decodes JSON refusing unknown fields and trailing data.
func strict(p []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(p))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("data after the JSON object")
	}
	return nil
}

// A BodyKind is an entry kind whose bodies the core carries without
// knowing what they mean: coded messages, notices, reports and incident
// entries today (internal/deconflict), calls next. The core asks it to
// decode a body, to check it against the channel it is written on, and to
// put it in words for a forward up the escalation ladder. Bodies of a
// registered kind are written by operators, and stopped by a suspension
// as text is.
type BodyKind interface {
	// Kind is the entry kind.
	Kind() envelope.Kind
	// Decode parses and checks a body on a channel whose charter names
	// book (nil if this station does not have it). The author decodes a
	// body before it writes the entry, the receiver with the same kind
	// and the same book (the charter names it by hash): so a receiver
	// never refuses an entry its author accepted, which would stall the
	// author's log.
	Decode(p []byte, book channel.Book) (any, error)
	// Check checks a decoded body against the channel it is written on,
	// before the author writes it.
	Check(body any, channel string) error
	// Forward is the body in words for a forward up the ladder, and the
	// language of the words ("" for several).
	Forward(body any, book channel.Book) (text, lang string)
}

// An Acknowledging kind is a BodyKind some of whose bodies acknowledge an
// entry of the other party's log on the same channel, as an ack entry
// does: a call's answer or decline acknowledges the call's request. The
// core records the acknowledgement and stops the entry's ladder, where
// the entry is written and where it is received.
type Acknowledging interface {
	// Acknowledges names the entry a decoded body acknowledges
	// (CHANNEL/AUTHOR/INDEX, "" for none) and who acknowledged it.
	Acknowledges(body any) (entry, by string)
}

// acknowledges is the entry a decoded body of a registered kind
// acknowledges, if it acknowledges one: its channel, author and index, and
// who acknowledged it. A body that names an entry it cannot mean is
// reported as one (ok) with an empty channel, so that it is refused.
func (b *Bodies) acknowledges(kind envelope.Kind, body any) (ch, author string, index uint64, by string, ok bool) {
	k, _ := b.registered(kind).(Acknowledging)
	if k == nil {
		return "", "", 0, "", false
	}
	id, by := k.Acknowledges(body)
	if id == "" {
		return "", "", 0, "", false
	}
	ch, author, index, _ = splitID(id)
	return ch, author, index, by, true
}

// Bodies decodes entry bodies: the protocol's own kinds (text,
// acknowledgements, agreements, suspensions, checks, reminders, key
// changes, escalations) and the kinds registered with it. A nil *Bodies
// decodes the protocol's own kinds only.
type Bodies struct {
	kinds map[envelope.Kind]BodyKind
}

// NewBodies registers kinds beyond the protocol's own. A kind the
// protocol owns, or one given twice, is refused. The kinds may be of any
// type that is a BodyKind, so that a package that defines kinds need not
// import the core (deconflict.BodyKinds).
func NewBodies[K BodyKind](kinds ...K) (*Bodies, error) {
	b := &Bodies{kinds: map[envelope.Kind]BodyKind{}}
	for _, k := range kinds {
		kind := k.Kind()
		switch {
		case ownBodies[kind] != nil:
			return nil, fmt.Errorf("entry kind %s is the protocol's own", kind)
		case b.kinds[kind] != nil:
			return nil, fmt.Errorf("entry kind %s is registered twice", kind)
		}
		b.kinds[kind] = BodyKind(k)
	}
	return b, nil
}

// MustBodies is NewBodies for a fixed list: it panics on an error.
func MustBodies[K BodyKind](kinds ...K) *Bodies {
	b, err := NewBodies(kinds...)
	if err != nil {
		panic(err)
	}
	return b
}

// registered returns the registered kind, nil for the protocol's own and
// for a kind nobody registered.
func (b *Bodies) registered(kind envelope.Kind) BodyKind {
	if b == nil {
		return nil
	}
	return b.kinds[kind]
}

// DecodeBody parses and checks the body of an entry of one of the
// protocol's own kinds.
func DecodeBody(kind envelope.Kind, p []byte) (any, error) {
	return (*Bodies)(nil).Decode(kind, p, nil)
}

// Decode parses and checks the body of an entry of the given kind on a
// channel whose charter names book (nil if this station does not have
// it). A registered kind decodes its own bodies (BodyKind.Decode); the
// protocol's own are decoded by ownBodies, strictly where a peer's
// mistake could matter.
func (b *Bodies) Decode(kind envelope.Kind, p []byte, book channel.Book) (any, error) {
	if k := b.registered(kind); k != nil {
		return k.Decode(p, book)
	}
	if decode := ownBodies[kind]; decode != nil {
		return decode(p)
	}
	return nil, fmt.Errorf("no body format for %s", kind)
}

// ownBodies decodes the bodies of the protocol's own kinds: the kinds
// nobody may register.
var ownBodies = map[envelope.Kind]func(p []byte) (any, error){
	envelope.Text:       decodeText,
	envelope.Ack:        decodeAck,
	envelope.Agreement:  decodeAgreement,
	envelope.Suspend:    decodeSuspend,
	envelope.Resume:     decodeResume,
	envelope.Check:      decodeCheck,
	envelope.Reminder:   decodeReminder,
	envelope.Key:        decodeKey,
	envelope.Escalation: decodeEscalation,
	envelope.Withdraw:   decodeWithdraw,
}

func decodeWithdraw(p []byte) (any, error) {
	var b WithdrawBody
	if err := strict(p, &b); err != nil {
		return nil, fmt.Errorf("withdraw body: %v", err)
	}
	if err := checkBy("withdraw", b.By); err != nil {
		return nil, err
	}
	if err := checkReason("withdraw", b.Reason, false); err != nil {
		return nil, err
	}
	return &b, nil
}

func decodeText(p []byte) (any, error) {
	var b TextBody
	if err := json.Unmarshal(p, &b); err != nil {
		return nil, fmt.Errorf("text body: %v", err)
	}
	if err := CheckText(b.Text); err != nil {
		return nil, err
	}
	if b.Broadcast != "" {
		if err := envelope.CheckBroadcast(b.Broadcast); err != nil {
			return nil, fmt.Errorf("text body: %v", err)
		}
	}
	return &b, nil
}

func decodeAck(p []byte) (any, error) {
	var b AckBody
	if err := json.Unmarshal(p, &b); err != nil {
		return nil, fmt.Errorf("acknowledgement body: %v", err)
	}
	if b.Of == 0 || b.By == "" || len(b.By) > 128 {
		return nil, fmt.Errorf("acknowledgement body: needs the index acknowledged and who acknowledged it")
	}
	return &b, nil
}

func decodeAgreement(p []byte) (any, error) {
	var b AgreementBody
	if err := json.Unmarshal(p, &b); err != nil {
		return nil, fmt.Errorf("agreement body: %v", err)
	}
	return &b, nil
}

func decodeSuspend(p []byte) (any, error) {
	var b SuspendBody
	if err := strict(p, &b); err != nil {
		return nil, fmt.Errorf("suspend body: %v", err)
	}
	if err := checkBy("suspend", b.By); err != nil {
		return nil, err
	}
	if err := checkReason("suspend", b.Reason, true); err != nil {
		return nil, err
	}
	return &b, nil
}

func decodeResume(p []byte) (any, error) {
	var b ResumeBody
	if err := strict(p, &b); err != nil {
		return nil, fmt.Errorf("resume body: %v", err)
	}
	if err := checkBy("resume", b.By); err != nil {
		return nil, err
	}
	if err := checkReason("resume", b.Reason, false); err != nil {
		return nil, err
	}
	return &b, nil
}

func decodeCheck(p []byte) (any, error) {
	var b CheckBody
	if err := strict(p, &b); err != nil {
		return nil, fmt.Errorf("check body: %v", err)
	}
	if d, err := time.ParseDuration(b.Window); err != nil || d <= 0 {
		return nil, fmt.Errorf("check body: window %q is not a positive duration", b.Window)
	}
	return &b, nil
}

func decodeReminder(p []byte) (any, error) {
	var b ReminderBody
	if err := strict(p, &b); err != nil {
		return nil, fmt.Errorf("reminder body: %v", err)
	}
	if len(b.Of) == 0 || len(b.Of) > 4096 || slices.Contains(b.Of, 0) {
		return nil, fmt.Errorf("reminder body: needs 1 to 4096 entry indexes")
	}
	return &b, nil
}

// decodeKey reads a rotation statement or a replacement record; the
// statement is checked in itself here, against the pinned chain by the
// core.
func decodeKey(p []byte) (any, error) {
	var b KeyBody
	if err := strict(p, &b); err != nil {
		return nil, fmt.Errorf("key body: %v", err)
	}
	if (b.Statement == "") == (b.Replaced == nil) {
		return nil, fmt.Errorf("key body: needs a statement or a replacement record, and not both")
	}
	if x := b.Replaced; x != nil {
		c, err := identity.ParseCard([]byte(x.Card))
		switch {
		case err != nil:
			return nil, fmt.Errorf("key body: replaced: %w", err)
		case c.Name != x.Station:
			return nil, fmt.Errorf("key body: replaced: the card is of %s, the record of %s", c.Name, x.Station)
		case x.Old == "" || len(x.Old) > 64 || identity.SameFingerprint(x.Old, c.Fingerprint()):
			return nil, fmt.Errorf("key body: replaced: the old fingerprint %q is missing or the new card's", x.Old)
		}
		if err := checkBy("key", x.By); err != nil {
			return nil, err
		}
		b.card = c
		return &b, nil
	}
	r, err := identity.ParseRotation([]byte(b.Statement))
	if err != nil {
		return nil, fmt.Errorf("key body: %w", err)
	}
	b.rotation = r
	return &b, nil
}

func decodeEscalation(p []byte) (any, error) {
	var b EscalationBody
	if err := strict(p, &b); err != nil {
		return nil, fmt.Errorf("escalation body: %v", err)
	}
	if _, err := envelope.ParsePrecedence(b.Precedence); err != nil {
		return nil, fmt.Errorf("escalation body: %v", err)
	}
	if err := CheckText(b.Text); err != nil {
		return nil, fmt.Errorf("escalation body: %v", err)
	}
	if b.From == "" || len(b.From) > 512 || !utf8.ValidString(b.From) {
		return nil, fmt.Errorf("escalation body: needs the original entry")
	}
	return &b, nil
}

// CheckText checks message text an operator typed.
func CheckText(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("message text is empty")
	case len(s) > MaxText:
		return fmt.Errorf("message text has %d bytes, limit %d", len(s), MaxText)
	case !utf8.ValidString(s):
		return fmt.Errorf("message text is not valid UTF-8")
	}
	return nil
}

// Visible refuses a person's text that would not show as written:
// control characters other than newline and tab, invisible formatting
// characters (Unicode Cf: the bidirectional overrides and isolates, zero
// widths, joiners) and line and paragraph separators. With them a text
// can show one thing and say another: U+202E shows "0.5 NM" as "5.0 NM".
func Visible(what, s string) error {
	for i, r := range s {
		if invisible(r) {
			return fmt.Errorf("%s holds the invisible character U+%04X at byte %d: remove it (it can make text show other than it reads)", what, r, i)
		}
	}
	return nil
}

func invisible(r rune) bool {
	return (unicode.IsControl(r) && r != '\n' && r != '\t') || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// Reveal writes each character Visible refuses as ⟨U+XXXX⟩, so that a
// text stored before it was refused shows what it holds.
func Reveal(s string) string {
	if strings.IndexFunc(s, invisible) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if invisible(r) {
			fmt.Fprintf(&b, "⟨U+%04X⟩", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// visibleBody checks what a person wrote in an entry of the protocol's
// own kinds with Visible: the text of a message, who acknowledged,
// suspended or resumed, and why. A new entry, this station's or a
// peer's, is refused if any of it would not show as written.
func visibleBody(body any) error {
	var fields [][2]string
	switch b := body.(type) {
	case *TextBody:
		fields = [][2]string{{"message text", b.Text}}
	case *AckBody:
		fields = [][2]string{{"who acknowledged", b.By}}
	case *SuspendBody:
		fields = [][2]string{{"who suspended", b.By}, {"the reason", b.Reason}}
	case *WithdrawBody:
		fields = [][2]string{{"who withdrew", b.By}, {"the reason", b.Reason}}
	case *ResumeBody:
		fields = [][2]string{{"who resumed", b.By}, {"the reason", b.Reason}}
	}
	for _, f := range fields {
		if err := Visible(f[0], f[1]); err != nil {
			return err
		}
	}
	return nil
}

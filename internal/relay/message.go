package relay

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"hotline/internal/identity"
	"hotline/internal/link"
)

// Version is the relay protocol version both sides state in their hello.
// Version 2 adds the media relay (TypeMediaOpen, TypeMediaGrant and the
// UDP packets of media.go). A relay answers a station's hello with the
// lower of the two versions, and serves stations of version 1 as before.
const Version = 2

// MinVersion is the oldest relay protocol version a relay serves.
const MinVersion = 1

// MaxPayload is the largest payload a relay carries, in bytes: a frame's
// limit (link.MaxFrame, the protocol's) less room for the largest relay
// header, so that every mail fits in one frame. A station's entries frame
// (at most 1 MiB of entries) is far below it.
const MaxPayload = link.MaxFrame - 64

// maxText bounds the text of a refusal or an error.
const maxText = 1024

// ErrMessage marks a relay message that does not decode.
var ErrMessage = errors.New("malformed relay message")

// Type is the first byte of a relay message. The layouts are in
// docs/PROTOCOL.md, section "Relay".
type Type uint8

// Message types.
const (
	TypeHello   Type = 1  // both ways, first: the protocol version
	TypeDeposit Type = 2  // station → relay: keep a payload for a recipient
	TypeStored  Type = 3  // relay → station: the deposit is durable
	TypeRefused Type = 4  // relay → station: the deposit was not kept, and why
	TypeDelete  Type = 5  // station → relay: mail up to an ID is handled
	TypeDeleted Type = 6  // relay → station: that mail is deleted durably
	TypePing    Type = 7  // station → relay
	TypePong    Type = 8  // relay → station: the ping's value and the relay's clock
	TypeMail    Type = 9  // relay → station: one deposited payload
	TypeError   Type = 10 // either way, last: why the connection is closed
	TypeKeys    Type = 11 // either way: rotation statements that lead a station's allowed key to Key
	// Version 2: the media relay (media.go).
	TypeMediaOpen  Type = 12 // station → relay: asks for a media token
	TypeMediaGrant Type = 13 // relay → station: the token and the relay's media port (0: no media here)
)

// MaxStatements bounds the rotation statements of one keys message.
const MaxStatements = 64

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "hello"
	case TypeDeposit:
		return "deposit"
	case TypeStored:
		return "stored"
	case TypeRefused:
		return "refused"
	case TypeDelete:
		return "delete"
	case TypeDeleted:
		return "deleted"
	case TypePing:
		return "ping"
	case TypePong:
		return "pong"
	case TypeMail:
		return "mail"
	case TypeError:
		return "error"
	case TypeKeys:
		return "keys"
	case TypeMediaOpen:
		return "media-open"
	case TypeMediaGrant:
		return "media-grant"
	}
	return fmt.Sprintf("message(%d)", uint8(t))
}

// Reason says why a deposit was refused.
type Reason uint8

// Refusal reasons.
const (
	ReasonUnknownRecipient Reason = 1 // the recipient's key is not allowed on this relay
	ReasonRecipientFull    Reason = 2 // the recipient's pending mail is at its quota
	ReasonSenderQuota      Reason = 3 // the sender's pending mail is at its quota
	ReasonTooLarge         Reason = 4 // the payload is over this relay's limit
	ReasonUnavailable      Reason = 5 // the relay could not store it (try another path)
)

func (r Reason) valid() bool { return r >= ReasonUnknownRecipient && r <= ReasonUnavailable }

func (r Reason) String() string {
	switch r {
	case ReasonUnknownRecipient:
		return "unknown recipient"
	case ReasonRecipientFull:
		return "recipient quota"
	case ReasonSenderQuota:
		return "sender quota"
	case ReasonTooLarge:
		return "too large"
	case ReasonUnavailable:
		return "unavailable"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Message is a decoded relay message. Which fields are set depends on Type.
type Message struct {
	Type    Type
	Version uint16            // hello
	Seq     uint64            // deposit, stored, refused: the station's number for a deposit
	ID      uint64            // stored, mail: the relay's mailbox ID (≥ 1)
	UpTo    uint64            // delete, deleted
	To      ed25519.PublicKey // deposit: the recipient station's key
	From    ed25519.PublicKey // mail: the depositing station's key
	At      time.Time         // mail: deposited at; pong: the relay's clock (both Unix ms)
	T       uint64            // ping, pong: opaque, echoed
	Payload []byte            // deposit, mail
	Reason  Reason            // refused
	Text    string            // refused, error
	// Key and Statements (keys): a station's key and rotation statements,
	// each signed by the key before, that lead to it from an earlier key
	// of the station (identity.Follow). Whoever sends them proves nothing
	// by sending: the receiver follows them only from a key it holds.
	Key        ed25519.PublicKey
	Statements [][]byte
	// Token and Port (media-grant): what the station puts in front of
	// its media packets, and the relay's UDP port for them (0 when the
	// relay carries no media; Token is then all zero).
	Token [MediaToken]byte
	Port  uint16
}

func addBytes16(b *cryptobyte.Builder, p []byte) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p) })
}

func addBytes24(b *cryptobyte.Builder, p []byte) {
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p) })
}

func millis(t time.Time) uint64 {
	if t.IsZero() || t.UnixMilli() < 0 {
		return 0
	}
	return uint64(t.UnixMilli())
}

func clip(s string) string {
	if len(s) > maxText {
		return s[:maxText]
	}
	return s
}

// Encode serializes m. It panics on a key that is not 32 bytes or a payload
// over MaxPayload: callers check those first (Client.Deposit does).
func (m *Message) Encode() []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddUint8(uint8(m.Type))
	key := func(k ed25519.PublicKey) {
		if len(k) != ed25519.PublicKeySize {
			panic(fmt.Sprintf("relay: %s message with a %d-byte key", m.Type, len(k)))
		}
		b.AddBytes(k)
	}
	payload := func() {
		if len(m.Payload) > MaxPayload {
			panic(fmt.Sprintf("relay: %s message with a %d-byte payload", m.Type, len(m.Payload)))
		}
		addBytes24(b, m.Payload)
	}
	switch m.Type {
	case TypeHello:
		b.AddUint16(m.Version)
	case TypeDeposit:
		b.AddUint64(m.Seq)
		key(m.To)
		payload()
	case TypeStored:
		b.AddUint64(m.Seq)
		b.AddUint64(m.ID)
	case TypeRefused:
		b.AddUint64(m.Seq)
		b.AddUint8(uint8(m.Reason))
		addBytes16(b, []byte(clip(m.Text)))
	case TypeDelete, TypeDeleted:
		b.AddUint64(m.UpTo)
	case TypePing:
		b.AddUint64(m.T)
	case TypePong:
		b.AddUint64(m.T)
		b.AddUint64(millis(m.At))
	case TypeMail:
		b.AddUint64(m.ID)
		key(m.From)
		b.AddUint64(millis(m.At))
		payload()
	case TypeError:
		addBytes16(b, []byte(clip(m.Text)))
	case TypeKeys:
		key(m.Key)
		if len(m.Statements) < 1 || len(m.Statements) > MaxStatements {
			panic(fmt.Sprintf("relay: keys message with %d statements", len(m.Statements)))
		}
		b.AddUint8(uint8(len(m.Statements)))
		for _, st := range m.Statements {
			if len(st) < 1 || len(st) > identity.MaxRotation {
				panic(fmt.Sprintf("relay: keys message with a %d-byte statement", len(st)))
			}
			addBytes16(b, st)
		}
	case TypeMediaOpen:
	case TypeMediaGrant:
		b.AddBytes(m.Token[:])
		b.AddUint16(m.Port)
	default:
		panic(fmt.Sprintf("relay: encoding unknown message type %d", m.Type))
	}
	out, err := b.Bytes()
	if err != nil {
		panic(err) // lengths are bounded above
	}
	return out
}

// Decode parses a relay message. It refuses an unknown type, a truncated
// field, trailing bytes, a payload over MaxPayload, a text over 1,024
// bytes, an ID of 0, an unknown refusal reason and a time beyond int64
// milliseconds: every message has exactly one encoding.
func Decode(p []byte) (*Message, error) {
	s := cryptobyte.String(p)
	var t uint8
	if !s.ReadUint8(&t) {
		return nil, fmt.Errorf("%w: empty", ErrMessage)
	}
	m := &Message{Type: Type(t)}
	bad := func(format string, args ...any) (*Message, error) {
		return nil, fmt.Errorf("%w: %s message: %s", ErrMessage, m.Type, fmt.Sprintf(format, args...))
	}
	var problem string
	readKey := func(out *ed25519.PublicKey) bool {
		var k []byte
		if !s.ReadBytes(&k, ed25519.PublicKeySize) {
			return false
		}
		*out = ed25519.PublicKey(k)
		return true
	}
	readPayload := func() bool {
		var v cryptobyte.String
		if !s.ReadUint24LengthPrefixed(&v) {
			return false
		}
		if len(v) > MaxPayload {
			problem = fmt.Sprintf("payload of %d bytes, limit %d", len(v), MaxPayload)
		}
		m.Payload = []byte(v)
		return true
	}
	readText := func() bool {
		var v cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&v) {
			return false
		}
		if len(v) > maxText {
			problem = fmt.Sprintf("text of %d bytes, limit %d", len(v), maxText)
		}
		m.Text = string(v)
		return true
	}
	readTime := func() bool {
		var ms uint64
		if !s.ReadUint64(&ms) {
			return false
		}
		if ms > math.MaxInt64 {
			problem = fmt.Sprintf("time %d ms is out of range", ms)
		}
		m.At = time.UnixMilli(int64(ms)).UTC()
		return true
	}
	ok := true
	switch m.Type {
	case TypeHello:
		ok = s.ReadUint16(&m.Version)
	case TypeDeposit:
		ok = s.ReadUint64(&m.Seq) && readKey(&m.To) && readPayload()
	case TypeStored:
		ok = s.ReadUint64(&m.Seq) && s.ReadUint64(&m.ID)
		if ok && m.ID == 0 {
			problem = "ID 0"
		}
	case TypeRefused:
		var r uint8
		ok = s.ReadUint64(&m.Seq) && s.ReadUint8(&r) && readText()
		m.Reason = Reason(r)
		if ok && !m.Reason.valid() {
			problem = fmt.Sprintf("unknown reason %d", r)
		}
	case TypeDelete, TypeDeleted:
		ok = s.ReadUint64(&m.UpTo)
	case TypePing:
		ok = s.ReadUint64(&m.T)
	case TypePong:
		ok = s.ReadUint64(&m.T) && readTime()
	case TypeMail:
		ok = s.ReadUint64(&m.ID) && readKey(&m.From) && readTime() && readPayload()
		if ok && m.ID == 0 {
			problem = "ID 0"
		}
	case TypeError:
		ok = readText()
	case TypeKeys:
		var n uint8
		ok = readKey(&m.Key) && s.ReadUint8(&n)
		if ok && (n < 1 || n > MaxStatements) {
			problem = fmt.Sprintf("%d statements, want 1 to %d", n, MaxStatements)
		}
		for i := 0; ok && i < int(n); i++ {
			var v cryptobyte.String
			if ok = s.ReadUint16LengthPrefixed(&v); ok {
				if len(v) < 1 || len(v) > identity.MaxRotation {
					problem = fmt.Sprintf("statement of %d bytes, want 1 to %d", len(v), identity.MaxRotation)
				}
				m.Statements = append(m.Statements, []byte(v))
			}
		}
	case TypeMediaOpen:
	case TypeMediaGrant:
		var tok []byte
		ok = s.ReadBytes(&tok, MediaToken) && s.ReadUint16(&m.Port)
		if ok {
			copy(m.Token[:], tok)
			if (m.Port == 0) != (m.Token == [MediaToken]byte{}) {
				problem = "a token without a port, or a port without a token"
			}
		}
	default:
		return nil, fmt.Errorf("%w: unknown type %d", ErrMessage, t)
	}
	switch {
	case !ok:
		return bad("truncated")
	case problem != "":
		return bad("%s", problem)
	case !s.Empty():
		return bad("%d trailing bytes", len(s))
	}
	return m, nil
}

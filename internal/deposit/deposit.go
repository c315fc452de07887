// Package deposit seals what a station deposits at a relay, so that the
// relay learns the sender, the recipient, the time and a size class, and
// nothing else of what it carries.
//
// A deposit is one protocol frame sealed to the recipient station's HPKE
// key (the KEM key of its card) with a single-shot HPKE seal of its own:
// ML-KEM-768 + X25519, HKDF-SHA256, ChaCha20-Poly1305, base mode. The
// HPKE info binds the sender by the Ed25519 key the relay knows it by and
// the recipient by its station name, and the sealed plaintext names both
// stations. The plaintext is padded with zeros so that the whole deposit
// is exactly one of Classes bytes long: the smallest that holds the
// frame. The layout is in docs/PROTOCOL.md, "Relay", "Sealed deposits".
//
// Each deposit carries its own encapsulation. Relay mail is delivered at
// least once, may be lost, comes through any of several relays, and may
// wait for a recipient that restarted meanwhile: a deposit that opens
// alone needs none of that to go right, and a fresh encapsulation each
// time shows the relay nothing that links one deposit to another.
package deposit

import (
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"

	"hotline/internal/identity"
	"hotline/internal/wire"
)

// Classes are the sizes a deposit can have, in bytes, smallest first:
// powers of 4 from 2 KiB, and last the largest payload a relay carries
// (wire.MaxFrame less the 64 bytes a relay message needs around it).
// A frame goes in the smallest class it fits.
var Classes = [...]int{2 << 10, 8 << 10, 32 << 10, 128 << 10, 512 << 10, 2 << 20, MaxSize}

// MaxSize is the largest deposit, the last class: the relay protocol's
// largest payload (relay.MaxPayload).
const MaxSize = wire.MaxFrame - 64

// Sizes of the parts of a deposit.
const (
	magic   = "HLD1"
	encSize = 1120 // an ML-KEM-768 + X25519 encapsulation
	tagSize = 16   // ChaCha20-Poly1305
	// Overhead is what a deposit holds besides its plaintext.
	Overhead = len(magic) + encSize + tagSize
)

// Errors a caller can test for with errors.Is.
var (
	// ErrSize: the payload is not one of Classes bytes long.
	ErrSize = errors.New("deposit is not of a size class")
	// ErrOpen: the payload does not open with any of the recipient's
	// keys, bound to the sender the relay names.
	ErrOpen = errors.New("deposit does not open")
	// ErrContent: the payload opened, but what it holds is wrong: another
	// recipient, a bad name or length, padding that is not zeros.
	ErrContent = errors.New("deposit content refused")
	// ErrTooLarge: a frame that no class holds.
	ErrTooLarge = errors.New("frame too large for a deposit")
)

var (
	kdf  = hpke.HKDFSHA256()
	aead = hpke.ChaCha20Poly1305()
	// The info of the HPKE seal begins with this label; the sender's key
	// and the recipient's name follow it.
	infoLabel = []byte("hotline relay deposit v1\x00")
)

// Sender is the station that seals a deposit: its name, and the Ed25519
// key it authenticated with at the relay, which the relay names as the
// mail's sender.
type Sender struct {
	Name string
	Key  ed25519.PublicKey
}

// info binds the sender and the recipient into the seal, each as the
// recipient can know it before opening: the sender by the key the relay
// names, the recipient by its station name, which stays the same when
// its keys change.
func info(from ed25519.PublicKey, to string) []byte {
	out := make([]byte, 0, len(infoLabel)+ed25519.PublicKeySize+len(to))
	out = append(out, infoLabel...)
	out = append(out, from...)
	return append(out, to...)
}

// fixed is the plaintext's size before the frame and its padding: the two
// names with their length bytes, and the frame's 3-byte length.
func fixed(from, to string) int { return 1 + len(from) + 1 + len(to) + 3 }

// ClassFor returns the size of the deposit that holds a frame of n bytes
// between the two named stations, or ErrTooLarge.
func ClassFor(n int, from, to string) (int, error) {
	need := Overhead + fixed(from, to) + n
	for _, c := range Classes {
		if need <= c {
			return c, nil
		}
	}
	return 0, fmt.Errorf("%w: a frame of %d bytes; a deposit holds at most %d", ErrTooLarge, n, MaxSize-Overhead-fixed(from, to))
}

// IsClass reports whether n is one of Classes.
func IsClass(n int) bool {
	for _, c := range Classes {
		if n == c {
			return true
		}
	}
	return false
}

// Seal seals frame from one station to the station named to, with kem,
// the HPKE key of the recipient's card.
func Seal(frame []byte, from Sender, to string, kem hpke.PublicKey) ([]byte, error) {
	switch {
	case len(frame) == 0:
		return nil, errors.New("deposit: an empty frame")
	case identity.CheckName("sender", from.Name) != nil, identity.CheckName("recipient", to) != nil:
		return nil, fmt.Errorf("deposit: station names %q and %q", from.Name, to)
	case len(from.Key) != ed25519.PublicKeySize:
		return nil, errors.New("deposit: the sender's key is not an Ed25519 key")
	}
	class, err := ClassFor(len(frame), from.Name, to)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, 0, class-Overhead)
	pt = append(pt, byte(len(from.Name)))
	pt = append(pt, from.Name...)
	pt = append(pt, byte(len(to)))
	pt = append(pt, to...)
	pt = append(pt, byte(len(frame)>>16), byte(len(frame)>>8), byte(len(frame)))
	pt = append(pt, frame...)
	// The rest is padding: zeros, as make allocated them.
	pt = pt[:class-Overhead]
	return sealPlain(pt, from.Key, to, kem)
}

// sealPlain seals a plaintext as it is, padding included.
func sealPlain(pt []byte, from ed25519.PublicKey, to string, kem hpke.PublicKey) ([]byte, error) {
	enc, s, err := hpke.NewSender(kem, kdf, aead, info(from, to))
	if err != nil {
		return nil, fmt.Errorf("deposit: %w", err)
	}
	if len(enc) != encSize {
		return nil, fmt.Errorf("deposit: an encapsulation of %d bytes, want %d", len(enc), encSize)
	}
	ct, err := s.Seal([]byte(magic), pt)
	if err != nil {
		return nil, fmt.Errorf("deposit: %w", err)
	}
	out := make([]byte, 0, len(magic)+len(enc)+len(ct))
	out = append(out, magic...)
	out = append(out, enc...)
	return append(out, ct...), nil
}

// Opened is a deposit its recipient opened.
type Opened struct {
	Sender string // the sender's station name, as sealed
	Frame  []byte // the frame, without padding
	// Key is the place in the keys given to Open of the key that opened
	// it: 0 for the first (the station's current key), more for a
	// retired one, sealed to before the recipient's keys changed.
	Key int
}

// Open opens a deposit that a relay handed over as deposited by the key
// from, with the recipient's keys, all of one station: its current keys
// first, then its retired ones. A deposit of a size that is not a class,
// one that opens with none of them, one that names another recipient,
// and one whose names, length or padding are wrong, is refused.
func Open(payload []byte, from ed25519.PublicKey, keys []*identity.Keys) (*Opened, error) {
	if !IsClass(len(payload)) {
		return nil, fmt.Errorf("%w: %d bytes", ErrSize, len(payload))
	}
	if len(from) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: the sender's key has %d bytes", ErrOpen, len(from))
	}
	if string(payload[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: it does not begin with %s", ErrOpen, magic)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no keys to open it with", ErrOpen)
	}
	enc, ct := payload[len(magic):len(magic)+encSize], payload[len(magic)+encSize:]
	in := info(from, keys[0].Name)
	for i, k := range keys {
		r, err := hpke.NewRecipient(enc, k.KEM, kdf, aead, in)
		if err != nil {
			continue
		}
		pt, err := r.Open([]byte(magic), ct)
		if err != nil {
			continue
		}
		sender, frame, err := parsePlain(pt, k.Name)
		if err != nil {
			return nil, err
		}
		// The smallest class that holds the frame, and no other: every
		// frame has one deposit size.
		if c, _ := ClassFor(len(frame), sender, k.Name); c != len(payload) {
			return nil, fmt.Errorf("%w: a frame of %d bytes padded to %d bytes, not %d", ErrContent, len(frame), len(payload), c)
		}
		return &Opened{Sender: sender, Frame: frame, Key: i}, nil
	}
	return nil, fmt.Errorf("%w: not sealed by this sender to this station's keys (current or retired), or altered", ErrOpen)
}

// parsePlain reads an opened plaintext for the recipient named self: the
// sender's name, the recipient's, the frame, then nothing but zeros.
func parsePlain(pt []byte, self string) (sender string, frame []byte, err error) {
	s := cryptobyte.String(pt)
	var from, to, f cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&from) || !s.ReadUint8LengthPrefixed(&to) || !s.ReadUint24LengthPrefixed(&f) {
		return "", nil, fmt.Errorf("%w: truncated", ErrContent)
	}
	switch {
	case identity.CheckName("sender", string(from)) != nil:
		return "", nil, fmt.Errorf("%w: the sender's name %q is not a station name", ErrContent, clip(from))
	case string(to) != self:
		return "", nil, fmt.Errorf("%w: deposited for %q, not for %s", ErrContent, clip(to), self)
	case len(f) == 0:
		return "", nil, fmt.Errorf("%w: an empty frame", ErrContent)
	}
	for _, b := range s {
		if b != 0 {
			return "", nil, fmt.Errorf("%w: the padding is not zeros", ErrContent)
		}
	}
	return string(from), []byte(f), nil
}

// clip shortens a name from a deposit for an error.
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// Package identity holds a station's keys, its signed station card and the
// fingerprint that people read aloud to pin a peer.
//
// A station has two keys: an Ed25519 signing key (entries, checkpoints,
// cosignatures, cards, TLS certificates) and an HPKE key (ML-KEM-768 +
// X25519 hybrid) that peers seal message bodies to. Both public keys travel
// in the station card, a signed note (golang.org/x/mod/sumdb/note) so that
// the exact bytes that were signed are the bytes that are stored and shown.
package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// KEM is the HPKE key encapsulation every station uses.
var KEM = hpke.MLKEM768X25519()

// Errors a caller can test for.
var (
	ErrBadCard     = errors.New("station card is not valid")
	ErrFingerprint = errors.New("fingerprint does not match the card")
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckName reports whether s can name a station, party or channel: 1 to 64
// letters, digits, dots, dashes or underscores, starting with a letter or
// digit. Names appear in signed notes and file names, so nothing else.
func CheckName(what, s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%s %q is not valid: use 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit", what, s)
	}
	return nil
}

// Keys is a station's private key material.
type Keys struct {
	Name string
	Sign ed25519.PrivateKey
	KEM  hpke.PrivateKey
}

// NewKeys generates fresh keys for the named station.
func NewKeys(name string) (*Keys, error) {
	if err := CheckName("station name", name); err != nil {
		return nil, err
	}
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	kk, err := KEM.GenerateKey()
	if err != nil {
		return nil, err
	}
	return &Keys{Name: name, Sign: sk, KEM: kk}, nil
}

// Files encodes the keys as the two key files hold them: the signing key
// (the station's name and the Ed25519 seed) and the HPKE key. Writing and
// reading them is internal/home's.
func (k *Keys) Files() (sign, kem []byte, err error) {
	kemBytes, err := k.KEM.Bytes()
	if err != nil {
		return nil, nil, err
	}
	sign = []byte(k.Name + "\n" + base64.StdEncoding.EncodeToString(k.Sign.Seed()) + "\n")
	kem = []byte(base64.StdEncoding.EncodeToString(kemBytes) + "\n")
	return sign, kem, nil
}

// ParseKeys decodes what Files encodes.
func ParseKeys(sign, kem []byte) (*Keys, error) {
	name, seedB64, _ := strings.Cut(strings.TrimSpace(string(sign)), "\n")
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(seedB64))
	if err != nil || len(seed) != ed25519.SeedSize || CheckName("station name", name) != nil {
		return nil, fmt.Errorf("malformed signing key file")
	}
	kemBytes, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(kem)))
	if err != nil {
		return nil, fmt.Errorf("malformed HPKE key file")
	}
	kk, err := KEM.NewPrivateKey(kemBytes)
	if err != nil {
		return nil, fmt.Errorf("HPKE key file: %v", err)
	}
	return &Keys{Name: name, Sign: ed25519.NewKeyFromSeed(seed), KEM: kk}, nil
}

// SignPublic returns the Ed25519 public key.
func (k *Keys) SignPublic() ed25519.PublicKey { return k.Sign.Public().(ed25519.PublicKey) }

// Signer returns a note signer that signs as this station.
func (k *Keys) Signer() note.Signer {
	vkey, err := note.NewEd25519VerifierKey(k.Name, k.SignPublic())
	if err != nil {
		panic(err) // the key size is fixed
	}
	hash := strings.Split(vkey, "+")[1]
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%s+%s", k.Name, hash,
		base64.StdEncoding.EncodeToString(append([]byte{1}, k.Sign.Seed()...)))
	s, err := note.NewSigner(skey)
	if err != nil {
		panic(err) // built from a valid name and key
	}
	return s
}

// Card is a station's public identity.
type Card struct {
	Name      string
	Party     string
	SignKey   ed25519.PublicKey
	KEMKey    []byte
	Endpoints []string
	// Relays are the mailboxes this station picks up from: a peer that
	// cannot reach it directly deposits there.
	Relays []RelayRef
	Issued time.Time

	// Text is the signed note the card was parsed from or signed into.
	Text []byte
}

// RelayRef names a relay in a card: its name, address and signing key
// (the station pins it, as it pins a peer).
type RelayRef struct {
	Name string
	Addr string
	Key  ed25519.PublicKey
}

const cardHeader = "hotline station card v1"

// NewCard builds and signs a card for keys.
func NewCard(k *Keys, party string, endpoints []string, now time.Time) (*Card, error) {
	return NewCardRelays(k, party, endpoints, nil, now)
}

// NewCardRelays builds and signs a card that lists relays.
func NewCardRelays(k *Keys, party string, endpoints []string, relays []RelayRef, now time.Time) (*Card, error) {
	if err := CheckName("party", party); err != nil {
		return nil, err
	}
	c := &Card{
		Name:      k.Name,
		Party:     party,
		SignKey:   k.SignPublic(),
		KEMKey:    k.KEM.PublicKey().Bytes(),
		Endpoints: endpoints,
		Relays:    relays,
		Issued:    now.UTC().Truncate(time.Second),
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nname %s\nparty %s\nsign-key %s\nkem-key %s\n", cardHeader, c.Name, c.Party,
		base64.StdEncoding.EncodeToString(c.SignKey), base64.StdEncoding.EncodeToString(c.KEMKey))
	for _, e := range endpoints {
		if e == "" || strings.ContainsAny(e, " \n") {
			return nil, fmt.Errorf("endpoint %q is not valid", e)
		}
		fmt.Fprintf(&b, "endpoint %s\n", e)
	}
	for _, r := range relays {
		if err := CheckName("relay name", r.Name); err != nil {
			return nil, err
		}
		if r.Addr == "" || strings.ContainsAny(r.Addr, " \n") || len(r.Key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("relay %s: address %q or key is not valid", r.Name, r.Addr)
		}
		fmt.Fprintf(&b, "relay %s %s %s\n", r.Name, r.Addr, base64.StdEncoding.EncodeToString(r.Key))
	}
	fmt.Fprintf(&b, "issued %s\n", c.Issued.Format(time.RFC3339))
	text, err := note.Sign(&note.Note{Text: b.String()}, k.Signer())
	if err != nil {
		return nil, err
	}
	c.Text = text
	return c, nil
}

// ParseCard parses a card and checks that it is signed by the key it names.
func ParseCard(text []byte) (*Card, error) {
	bad := func(format string, args ...any) (*Card, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadCard, fmt.Sprintf(format, args...))
	}
	if len(text) > 16<<10 {
		return bad("%d bytes is larger than a card can be", len(text))
	}
	body, _, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		return bad("no signature block")
	}
	lines := strings.Split(string(body), "\n")
	if lines[0] != cardHeader {
		return bad("first line is %q, want %q", lines[0], cardHeader)
	}
	// The lines come in one order, each once (endpoints may repeat), as
	// NewCard writes them: a card has one spelling.
	c := &Card{}
	order := []string{"name", "party", "sign-key", "kem-key", "endpoint", "relay", "issued"}
	pos := 0
	seen := map[string]bool{}
	for _, line := range lines[1:] {
		key, val, _ := strings.Cut(line, " ")
		at := slices.Index(order, key)
		switch {
		case at < 0:
			return bad("unknown line %q", key)
		case at < pos || (seen[key] && key != "endpoint" && key != "relay"):
			return bad("line %q out of order or repeated", key)
		}
		pos, seen[key] = at, true
		var err error
		switch key {
		case "name":
			c.Name = val
		case "party":
			c.Party = val
		case "sign-key":
			c.SignKey, err = base64.StdEncoding.DecodeString(val)
		case "kem-key":
			c.KEMKey, err = base64.StdEncoding.DecodeString(val)
		case "endpoint":
			c.Endpoints = append(c.Endpoints, val)
		case "relay":
			f := strings.Split(val, " ")
			if len(f) != 3 {
				return bad("relay line %q is not NAME ADDRESS KEY", val)
			}
			r := RelayRef{Name: f[0], Addr: f[1]}
			if r.Key, err = base64.StdEncoding.DecodeString(f[2]); err == nil && (len(r.Key) != ed25519.PublicKeySize || base64.StdEncoding.EncodeToString(r.Key) != f[2]) {
				err = fmt.Errorf("key is not %d bytes in canonical base64", ed25519.PublicKeySize)
			}
			if err == nil {
				err = CheckName("relay name", r.Name)
			}
			if err == nil && r.Addr == "" {
				err = fmt.Errorf("no address")
			}
			c.Relays = append(c.Relays, r)
		case "issued":
			c.Issued, err = time.Parse(time.RFC3339, val)
		}
		if err != nil {
			return bad("line %q: %v", key, err)
		}
	}
	if c.Issued.IsZero() {
		return bad("no issued line")
	}
	if err := CheckName("station name", c.Name); err != nil {
		return bad("%v", err)
	}
	if err := CheckName("party", c.Party); err != nil {
		return bad("%v", err)
	}
	if len(c.SignKey) != ed25519.PublicKeySize {
		return bad("signing key has %d bytes, want %d", len(c.SignKey), ed25519.PublicKeySize)
	}
	if _, err := KEM.NewPublicKey(c.KEMKey); err != nil {
		return bad("HPKE key: %v", err)
	}
	v, err := c.Verifier()
	if err != nil {
		return bad("%v", err)
	}
	if _, err := note.Open(text, note.VerifierList(v)); err != nil {
		return bad("signature: %v", err)
	}
	if err := CheckCanonical(text); err != nil {
		return bad("%v", err)
	}
	c.Text = slices.Clone(text)
	return c, nil
}

// ErrNonCanonical marks a signed note whose signature lines are not in the
// one encoding a signer produces (base64 with zero padding bits).
var ErrNonCanonical = errors.New("signature is not canonically encoded")

// CheckCanonical refuses a signed note whose signature lines would decode
// to the same signatures from different bytes. note.Open tolerates such
// spellings; Hotline stores and hashes exact bytes, so it must not.
func CheckCanonical(text []byte) error {
	_, sigs, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		return fmt.Errorf("%w: no signature block", ErrNonCanonical)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n") {
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return fmt.Errorf("%w: line %q", ErrNonCanonical, line)
		}
		b64 := line[i+1:]
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || base64.StdEncoding.EncodeToString(raw) != b64 {
			return fmt.Errorf("%w: %q", ErrNonCanonical, b64)
		}
	}
	return nil
}

// Verifier returns a note verifier for the card's signing key.
func (c *Card) Verifier() (note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(c.Name, c.SignKey)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vkey)
}

// HPKEKey returns the card's HPKE public key.
func (c *Card) HPKEKey() (hpke.PublicKey, error) { return KEM.NewPublicKey(c.KEMKey) }

// Fingerprint is the short, speakable digest of the card's keys: 32
// characters of base32 in groups of four, about 160 bits. Two people read it
// to each other over an existing line before either pins the other.
func (c *Card) Fingerprint() string { return Fingerprint(c.SignKey, c.KEMKey) }

// Fingerprint computes the fingerprint of a signing and an HPKE public key.
func Fingerprint(signKey, kemKey []byte) string {
	h := sha256.New()
	h.Write([]byte("hotline fingerprint v1\n"))
	h.Write(signKey)
	h.Write(kemKey)
	s := base32.StdEncoding.EncodeToString(h.Sum(nil)[:20])
	var groups []string
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return strings.Join(groups, "-")
}

// SameFingerprint compares fingerprints as people type them: case, spaces
// and dashes do not matter.
func SameFingerprint(a, b string) bool {
	norm := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r == '-' || r == ' ':
				return -1
			case r >= 'a' && r <= 'z':
				return r - 'a' + 'A'
			}
			return r
		}, s)
	}
	return norm(a) == norm(b) && norm(a) != ""
}

// CheckFingerprint checks that s is written as a fingerprint: 32
// characters of base32 (A–Z, 2–7, either case), in groups of four or not.
func CheckFingerprint(s string) error {
	n := 0
	for _, r := range s {
		switch {
		case r == '-' || r == ' ':
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '2' && r <= '7':
			n++
		default:
			return fmt.Errorf("fingerprint %q: %q is not a base32 character", s, r)
		}
	}
	if n != 32 {
		return fmt.Errorf("fingerprint %q has %d characters, want 32 (in groups of four: XXXX-XXXX-…)", s, n)
	}
	return nil
}

package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Reasons a station gives for changing its keys.
const (
	ReasonRotate = "rotate" // a planned change: the old key is retired, not suspected
	ReasonRevoke = "revoke" // the old key may be compromised: nothing it signs later counts
	// ReasonLost: the old key is lost (or can no longer be trusted to
	// sign even its own revocation). The statement is signed by the NEW
	// key and proves nothing by itself: a peer follows it only after its
	// signal officer has re-pinned the station by the new fingerprint,
	// read aloud as at first contact.
	ReasonLost = "lost"
)

// ErrBadRotation marks a rotation statement that does not parse or does
// not verify against the key it claims to replace.
var ErrBadRotation = errors.New("key rotation statement is not valid")

// MaxRotation bounds a rotation statement: it carries a card (at most
// 16 KiB) in base64.
const MaxRotation = 24 << 10

const rotationHeader = "hotline key rotation v1"

// Rotation is a station's signed statement that its signing and HPKE keys
// change: signed by the OLD signing key, under the station's name, it
// names the old key and carries the new card (itself signed by the new
// key). A peer that has the old key pinned follows it to the new card;
// see docs/PROTOCOL.md, "Key rotation".
type Rotation struct {
	Station string
	OldKey  ed25519.PublicKey
	Reason  string // ReasonRotate or ReasonRevoke
	Time    time.Time
	Card    *Card // the new card

	// Text is the signed note.
	Text []byte
}

// NewRotation signs a statement with old that replaces its keys by those
// of card.
func NewRotation(old *Keys, card *Card, reason string, now time.Time) (*Rotation, error) {
	if reason != ReasonRotate && reason != ReasonRevoke || old == nil {
		return nil, fmt.Errorf("%w: reason %q is not %s or %s", ErrBadRotation, reason, ReasonRotate, ReasonRevoke)
	}
	if card.Name != old.Name {
		return nil, fmt.Errorf("%w: the new card is of %s, the old key of %s", ErrBadRotation, card.Name, old.Name)
	}
	if card.SignKey.Equal(old.SignPublic()) {
		return nil, fmt.Errorf("%w: the new card has the old signing key", ErrBadRotation)
	}
	r := &Rotation{Station: old.Name, OldKey: old.SignPublic(), Reason: reason, Time: now.UTC().Truncate(time.Second), Card: card}
	text, err := note.Sign(&note.Note{Text: r.body()}, old.Signer())
	if err != nil {
		return nil, err
	}
	r.Text = text
	return r, nil
}

// NewLostStatement is the statement of a station whose key oldKey is
// lost: signed by the new keys, which card carries (ReasonLost).
func NewLostStatement(oldKey ed25519.PublicKey, nk *Keys, card *Card, now time.Time) (*Rotation, error) {
	if card.Name != nk.Name || !card.SignKey.Equal(nk.SignPublic()) || card.SignKey.Equal(oldKey) {
		return nil, fmt.Errorf("%w: the new card must carry the new keys, not the lost one", ErrBadRotation)
	}
	r := &Rotation{Station: nk.Name, OldKey: oldKey, Reason: ReasonLost, Time: now.UTC().Truncate(time.Second), Card: card}
	text, err := note.Sign(&note.Note{Text: r.body()}, nk.Signer())
	if err != nil {
		return nil, err
	}
	r.Text = text
	return r, nil
}

func (r *Rotation) body() string {
	return fmt.Sprintf("%s\nstation %s\nold-key %s\nreason %s\ntime %s\ncard %s\n", rotationHeader, r.Station,
		base64.StdEncoding.EncodeToString(r.OldKey), r.Reason, r.Time.Format(time.RFC3339),
		base64.StdEncoding.EncodeToString(r.Card.Text))
}

// ParseRotation parses a rotation statement and checks it completely
// except for who signed it: the fields, their one canonical spelling, the
// new card (parsed and self-signed), and that the statement's signature
// line is by OldKey under the station's name. The caller then checks that
// OldKey is the key it has pinned for the station (see Follow).
func ParseRotation(text []byte) (*Rotation, error) {
	bad := func(format string, args ...any) (*Rotation, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadRotation, fmt.Sprintf(format, args...))
	}
	if len(text) > MaxRotation {
		return bad("%d bytes is larger than a statement can be (%d)", len(text), MaxRotation)
	}
	body, _, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		return bad("no signature block")
	}
	lines := strings.Split(string(body), "\n")
	want := []string{rotationHeader, "station", "old-key", "reason", "time", "card"}
	if len(lines) != len(want) {
		return bad("%d lines, want %d", len(lines), len(want))
	}
	if lines[0] != rotationHeader {
		return bad("first line is %q, want %q", lines[0], rotationHeader)
	}
	r := &Rotation{}
	for i, line := range lines[1:] {
		key, val, _ := strings.Cut(line, " ")
		if key != want[i+1] {
			return bad("line %d is %q, want %q", i+2, key, want[i+1])
		}
		var err error
		switch key {
		case "station":
			r.Station, err = val, CheckName("station name", val)
		case "old-key":
			r.OldKey, err = base64.StdEncoding.DecodeString(val)
			if err == nil && len(r.OldKey) != ed25519.PublicKeySize {
				err = fmt.Errorf("%d bytes, want %d", len(r.OldKey), ed25519.PublicKeySize)
			}
		case "reason":
			r.Reason = val
			if val != ReasonRotate && val != ReasonRevoke && val != ReasonLost {
				err = fmt.Errorf("%q is not %s, %s or %s", val, ReasonRotate, ReasonRevoke, ReasonLost)
			}
		case "time":
			r.Time, err = time.Parse(time.RFC3339, val)
		case "card":
			var raw []byte
			if raw, err = base64.StdEncoding.DecodeString(val); err == nil {
				r.Card, err = ParseCard(raw)
			}
		}
		if err != nil {
			return bad("line %q: %v", key, err)
		}
	}
	switch {
	case r.Card.Name != r.Station:
		return bad("the new card is of %s, the statement of %s", r.Card.Name, r.Station)
	case r.Card.SignKey.Equal(r.OldKey):
		return bad("the new card has the old signing key")
	case r.body() != string(body)+"\n":
		return bad("not in canonical form")
	}
	signer := r.OldKey
	if r.Reason == ReasonLost {
		signer = r.Card.SignKey
	}
	vkey, err := note.NewEd25519VerifierKey(r.Station, signer)
	if err != nil {
		return bad("%v", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return bad("%v", err)
	}
	if _, err := note.Open(text, note.VerifierList(v)); err != nil {
		if r.Reason == ReasonLost {
			return bad("not signed by the new key it carries: %v", err)
		}
		return bad("not signed by the old key it names: %v", err)
	}
	if err := CheckCanonical(text); err != nil {
		return bad("%v", err)
	}
	r.Text = slices.Clone(text)
	return r, nil
}

// ErrWrongKey marks a rotation statement that is valid in itself but
// replaces a key other than the one pinned: it was signed by the wrong key.
var ErrWrongKey = errors.New("rotation statement is not signed by the pinned key")

// Check checks that r rotates the key pinned for station: it names the
// station and is signed by pinned (which ParseRotation checked as OldKey).
func (r *Rotation) Check(station string, pinned ed25519.PublicKey) error {
	if r.Reason == ReasonLost {
		return fmt.Errorf("%w: %s says its key %s is lost; its statement is signed by its new key (fingerprint %s) and is followed only once a signal officer has re-pinned %s by that fingerprint (hotline peer replace)",
			ErrWrongKey, station, KeyID(r.OldKey), r.Card.Fingerprint(), station)
	}
	if r.Station != station {
		return fmt.Errorf("%w: it is %s's statement, not %s's", ErrWrongKey, r.Station, station)
	}
	if !r.OldKey.Equal(pinned) {
		return fmt.Errorf("%w: %s's statement is signed by key %s, the key pinned is %s", ErrWrongKey, station,
			KeyID(r.OldKey), KeyID(pinned))
	}
	return nil
}

// KeyID is a short name of a signing key for messages: the first 8 bytes
// of its base64.
func KeyID(k ed25519.PublicKey) string {
	s := base64.StdEncoding.EncodeToString(k)
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}

// Follow walks rotation statements from a pinned key: each statement
// signed by the key reached so far (under station's name) moves to its
// new card's key. It returns the key reached and the statements followed;
// statements that do not apply are ignored. revoked says which keys may
// not sign a statement (a key revoked is followed no further).
func Follow(station string, pinned ed25519.PublicKey, statements [][]byte, revoked func(ed25519.PublicKey) bool) (ed25519.PublicKey, []*Rotation) {
	var rs []*Rotation
	for _, s := range statements {
		r, err := ParseRotation(s)
		if err == nil && r.Station == station && r.Reason != ReasonLost {
			rs = append(rs, r)
		}
	}
	cur := pinned
	var path []*Rotation
	for range len(rs) + 1 {
		if revoked != nil && revoked(cur) {
			break
		}
		i := slices.IndexFunc(rs, func(r *Rotation) bool { return r.OldKey.Equal(cur) })
		if i < 0 {
			break
		}
		path = append(path, rs[i])
		cur = rs[i].Card.SignKey
		rs = slices.Delete(rs, i, i+1)
	}
	return cur, path
}

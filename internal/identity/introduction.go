package identity

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// An Introduction is one station's signed word that a card is a peer's:
// the introducer pinned the peer by the fingerprint it names (read aloud
// between their signal officers), and vouches for it to a third station
// that has pinned the introducer but not the peer. It spares a network of
// N parties its N² fingerprint calls: each party reads its fingerprint to
// one introducer both trust, and a person at the receiving station still
// decides whether to take the introducer's word (docs/OPERATIONS.md, "A
// multilateral network").
type Introduction struct {
	Introducer  string
	Peer        string
	Party       string
	Fingerprint string
	// PinnedAt is when the introducer pinned the peer; At when it signed
	// the introduction.
	PinnedAt, At time.Time
	// Text is the signed note.
	Text []byte
}

const introductionHeader = "hotline introduction v1"

// MaxIntroduction bounds an introduction's signed note.
const MaxIntroduction = 4 << 10

func (in *Introduction) body() string {
	return fmt.Sprintf("%s\nintroducer %s\npeer %s\nparty %s\nfingerprint %s\npinned %s\nat %s\n", introductionHeader,
		in.Introducer, in.Peer, in.Party, in.Fingerprint, in.PinnedAt.UTC().Format(time.RFC3339), in.At.UTC().Format(time.RFC3339))
}

// Introduce signs an introduction of card, which the station of k pinned
// at pinned.
func Introduce(k *Keys, card *Card, pinned, now time.Time) (*Introduction, error) {
	in := &Introduction{Introducer: k.Name, Peer: card.Name, Party: card.Party, Fingerprint: card.Fingerprint(),
		PinnedAt: pinned.UTC().Truncate(time.Second), At: now.UTC().Truncate(time.Second)}
	text, err := note.Sign(&note.Note{Text: in.body()}, k.Signer())
	if err != nil {
		return nil, err
	}
	in.Text = text
	return in, nil
}

// ErrIntroduction marks an introduction that is not valid.
var ErrIntroduction = errors.New("introduction is not valid")

// ParseIntroduction reads an introduction and checks its signature with
// introducer's card (the introducer as pinned by the reader).
func ParseIntroduction(text []byte, introducer *Card) (*Introduction, error) {
	bad := func(format string, args ...any) (*Introduction, error) {
		return nil, fmt.Errorf("%w: %s", ErrIntroduction, fmt.Sprintf(format, args...))
	}
	if len(text) > MaxIntroduction {
		return bad("%d bytes, at most %d", len(text), MaxIntroduction)
	}
	body, _, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		return bad("no signature")
	}
	lines := strings.Split(string(body), "\n")
	want := []string{"introducer", "peer", "party", "fingerprint", "pinned", "at"}
	if len(lines) != len(want)+1 || lines[0] != introductionHeader {
		return bad("want %q and the lines %s", introductionHeader, strings.Join(want, ", "))
	}
	vals := map[string]string{}
	for i, key := range want {
		k, v, ok := strings.Cut(lines[i+1], " ")
		if !ok || k != key || v == "" {
			return bad("line %d: want %q and its value", i+2, key)
		}
		vals[key] = v
	}
	in := &Introduction{Introducer: vals["introducer"], Peer: vals["peer"], Party: vals["party"], Fingerprint: vals["fingerprint"]}
	for _, n := range []struct{ what, v string }{{"introducer", in.Introducer}, {"peer", in.Peer}, {"party", in.Party}} {
		if err := CheckName(n.what, n.v); err != nil {
			return bad("%v", err)
		}
	}
	if err := CheckFingerprint(in.Fingerprint); err != nil {
		return bad("%v", err)
	}
	var err error
	if in.PinnedAt, err = time.Parse(time.RFC3339, vals["pinned"]); err != nil {
		return bad("pinned: %v", err)
	}
	if in.At, err = time.Parse(time.RFC3339, vals["at"]); err != nil {
		return bad("at: %v", err)
	}
	if in.body() != string(body)+"\n" {
		return bad("not in canonical form")
	}
	if in.Introducer != introducer.Name {
		return bad("it is %s's introduction, not %s's", in.Introducer, introducer.Name)
	}
	v, err := introducer.Verifier()
	if err != nil {
		return bad("%v", err)
	}
	if _, err := note.Open(text, note.VerifierList(v)); err != nil {
		return bad("not signed by %s's pinned key: %v", introducer.Name, err)
	}
	if err := CheckCanonical(text); err != nil {
		return bad("%v", err)
	}
	in.Text = slices.Clone(text)
	return in, nil
}

// Introduces checks that card is the one the introduction names.
func (in *Introduction) Introduces(card *Card) error {
	switch {
	case card.Name != in.Peer:
		return fmt.Errorf("%w: the card is %s's, the introduction is of %s", ErrIntroduction, card.Name, in.Peer)
	case card.Party != in.Party:
		return fmt.Errorf("%w: the card's party is %s, the introduction says %s", ErrIntroduction, card.Party, in.Party)
	case !SameFingerprint(card.Fingerprint(), in.Fingerprint):
		return fmt.Errorf("%w: the card of %s does not have the fingerprint %s vouched for it: do not pin it", ErrIntroduction, card.Name, in.Introducer)
	}
	return nil
}

package identity_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"regexp"
	"testing"

	"hotline/internal/identity"
)

// FuzzParseCard checks that ParseCard never panics, that its errors are
// ErrBadCard, and that a card it accepts is valid, keeps the exact bytes,
// parses again to the same card and, under keys made for this run, says
// what the seed card signed.
func FuzzParseCard(f *testing.F) {
	k := mustKeys(f, "alpha")
	seeds := []*identity.Card{
		mustCard(f, k, "red", nil),
		mustCard(f, k, "red", []string{"alpha.red.example:7443", "10.1.2.3:7443"}),
	}
	for _, c := range seeds {
		f.Add(c.Text)
	}
	f.Add([]byte("hotline station card v1\n\n"))
	f.Add([]byte{})
	fpRE := regexp.MustCompile(`^[A-Z2-7]{4}(-[A-Z2-7]{4}){7}$`)

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := identity.ParseCard(data)
		if err != nil {
			if !errors.Is(err, identity.ErrBadCard) {
				t.Fatalf("error %v is not ErrBadCard", err)
			}
			if c != nil {
				t.Fatal("ParseCard returned a card and an error")
			}
			return
		}
		if !bytes.Equal(c.Text, data) {
			t.Fatal("Text differs from the input")
		}
		if identity.CheckName("name", c.Name) != nil || identity.CheckName("party", c.Party) != nil {
			t.Fatalf("accepted name %q, party %q", c.Name, c.Party)
		}
		if len(c.SignKey) != ed25519.PublicKeySize {
			t.Fatalf("accepted a %d-byte signing key", len(c.SignKey))
		}
		if _, err := c.HPKEKey(); err != nil {
			t.Fatalf("accepted HPKE key does not load: %v", err)
		}
		if !fpRE.MatchString(c.Fingerprint()) {
			t.Fatalf("fingerprint %q", c.Fingerprint())
		}
		again, err := identity.ParseCard(c.Text)
		if err != nil {
			t.Fatalf("accepted card does not parse again: %v", err)
		}
		if again.Fingerprint() != c.Fingerprint() || again.Name != c.Name || again.Party != c.Party || !again.Issued.Equal(c.Issued) {
			t.Fatal("second parse differs")
		}
		if bytes.Equal(c.SignKey, k.SignPublic()) {
			// Only this run's seeds are signed by this key.
			signed := func(b []byte) []byte { return b[:bytes.LastIndex(b, []byte("\n\n"))+1] }
			for _, s := range seeds {
				if bytes.Equal(signed(data), signed(s.Text)) {
					return
				}
			}
			t.Fatalf("a card no seed signed verifies under the seed key:\n%s", data)
		}
	})
}

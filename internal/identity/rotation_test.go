package identity_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"hotline/internal/identity"
)

func mustRotation(t testing.TB, old *identity.Keys, reason string) (*identity.Rotation, *identity.Keys) {
	t.Helper()
	nk := mustKeys(t, old.Name)
	card := mustCard(t, nk, "red", []string{"alpha.example:7443"})
	r, err := identity.NewRotation(old, card, reason, time.Unix(1_800_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return r, nk
}

// TestRotation: a statement parses back to what was signed, is checked
// against the pinned key, and every way of spoiling it is refused with
// ErrBadRotation naming what is wrong.
func TestRotation(t *testing.T) {
	old := mustKeys(t, "alpha")
	r, nk := mustRotation(t, old, identity.ReasonRotate)
	got, err := identity.ParseRotation(r.Text)
	if err != nil {
		t.Fatal(err)
	}
	if got.Station != "alpha" || !got.OldKey.Equal(old.SignPublic()) || !got.Card.SignKey.Equal(nk.SignPublic()) || got.Reason != "rotate" {
		t.Fatalf("parsed %+v", got)
	}
	if err := got.Check("alpha", old.SignPublic()); err != nil {
		t.Errorf("check against the old key: %v", err)
	}
	other := mustKeys(t, "alpha")
	if err := got.Check("alpha", other.SignPublic()); !errors.Is(err, identity.ErrWrongKey) {
		t.Errorf("check against another key: %v, want ErrWrongKey", err)
	}
	if err := got.Check("bravo", old.SignPublic()); !errors.Is(err, identity.ErrWrongKey) {
		t.Errorf("check for another station: %v, want ErrWrongKey", err)
	}
	// A statement by one key claiming to replace another.
	forged := bytes.Replace(r.Text, []byte(b64(old.SignPublic())), []byte(b64(other.SignPublic())), 1)
	body := string(r.Text)
	cases := map[string]struct {
		text []byte
		want string
	}{
		"claims another old key": {forged, "not signed by the old key"},
		"reason":                 {[]byte(strings.Replace(body, "reason rotate", "reason whim", 1)), "reason"},
		"no signature":           {[]byte(strings.SplitN(body, "\n\n", 2)[0] + "\n"), "no signature"},
		"header":                 {[]byte(strings.Replace(body, "rotation v1", "rotation v2", 1)), "first line"},
		"too large":              {bytes.Repeat([]byte("x"), identity.MaxRotation+1), "larger"},
		"time":                   {[]byte(strings.Replace(body, "time 2027", "time 27", 1)), "time"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := identity.ParseRotation(c.text)
			if !errors.Is(err, identity.ErrBadRotation) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want ErrBadRotation mentioning %q", err, c.want)
			}
		})
	}
	if _, err := identity.NewRotation(old, mustCard(t, old, "red", nil), identity.ReasonRotate, time.Now()); err == nil {
		t.Error("a statement whose new card has the old key was made")
	}
}

// TestFollow walks a chain of two statements from the first key, and
// stops at a revoked key.
func TestFollow(t *testing.T) {
	k0 := mustKeys(t, "alpha")
	r1, k1 := mustRotation(t, k0, identity.ReasonRotate)
	r2, k2 := mustRotation(t, k1, identity.ReasonRevoke)
	got, path := identity.Follow("alpha", k0.SignPublic(), [][]byte{r2.Text, r1.Text, []byte("junk")}, nil)
	if !got.Equal(k2.SignPublic()) || len(path) != 2 {
		t.Fatalf("followed to %x in %d steps", got, len(path))
	}
	got, _ = identity.Follow("alpha", k0.SignPublic(), [][]byte{r1.Text, r2.Text}, func(k ed25519.PublicKey) bool { return k.Equal(k1.SignPublic()) })
	if !got.Equal(k1.SignPublic()) {
		t.Error("followed past a revoked key")
	}
	if got, _ := identity.Follow("bravo", k0.SignPublic(), [][]byte{r1.Text}, nil); !got.Equal(k0.SignPublic()) {
		t.Error("followed another station's statement")
	}
}

// FuzzParseRotation: ParseRotation never panics, refuses with
// ErrBadRotation, and what it accepts is canonical: the exact bytes, a
// valid card of the same station with another key.
func FuzzParseRotation(f *testing.F) {
	old := mustKeys(f, "alpha")
	for _, reason := range []string{identity.ReasonRotate, identity.ReasonRevoke} {
		r, _ := mustRotation(f, old, reason)
		f.Add(r.Text)
	}
	f.Add([]byte("hotline key rotation v1\n\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := identity.ParseRotation(data)
		if err != nil {
			if !errors.Is(err, identity.ErrBadRotation) || r != nil {
				t.Fatalf("error %v is not ErrBadRotation, or came with a statement", err)
			}
			return
		}
		if !bytes.Equal(r.Text, data) || r.Card.Name != r.Station || r.Card.SignKey.Equal(r.OldKey) {
			t.Fatalf("accepted %+v", r)
		}
		if err := r.Check(r.Station, r.OldKey); err != nil {
			t.Fatalf("an accepted statement fails its own check: %v", err)
		}
	})
}

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

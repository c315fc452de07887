package stationdir_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/stationdir"
)

// TestSealedKeys: a station's key files sealed under its key-encryption
// key open only with that key and for that station; installed into a
// standby's directory holding the keys of before a change (a rotation
// and one in progress), they make it hold exactly the active machine's
// files, each 0600 (the card 0644), and a second install writes nothing.
// A damaged seal, another station's name, another key-encryption key and
// a file that is not a key file are refused, writing nothing.
func TestSealedKeys(t *testing.T) {
	active := initDir(t, "USA")
	standby := filepath.Join(t.TempDir(), "standby")
	if err := os.CopyFS(standby, os.DirFS(active)); err != nil {
		t.Fatal(err)
	}
	kek, made, err := stationdir.EnsureKEK(active)
	if err != nil || !made {
		t.Fatalf("EnsureKEK: made %v, %v", made, err)
	}
	if again, made, err := stationdir.EnsureKEK(active); err != nil || made || !bytes.Equal(again, kek) {
		t.Fatalf("EnsureKEK again: made %v, %v", made, err)
	}
	// A rotation on the active machine, and the next one under way.
	rotated, _ := identity.NewKeys("USA")
	if err := home.SaveKeys(filepath.Join(active, "keys/next"), rotated); err != nil {
		t.Fatal(err)
	}
	card, _ := stationdir.ReadCard(active)
	ncard, _ := identity.NewCard(rotated, "PUSA", card.Endpoints, card.Issued.Add(time.Second))
	if err := stationdir.SwapKeys(active, 0, ncard); err != nil {
		t.Fatal(err)
	}
	next, _ := identity.NewKeys("USA")
	if err := home.SaveKeys(filepath.Join(active, "keys/next"), next); err != nil {
		t.Fatal(err)
	}
	sealed, err := stationdir.SealKeys(active, "USA", kek)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"keys/signing.key", "keys/retired/0/signing.key", "keys/next/kem.key"} {
		data, _ := os.ReadFile(filepath.Join(active, secret))
		if bytes.Contains(sealed, bytes.TrimSpace(data)) {
			t.Fatalf("the sealed keys show %s in the clear", secret)
		}
	}

	before := snapshot(t, standby)
	other := make([]byte, len(kek))
	bad := bytes.Clone(sealed)
	bad[len(bad)/2] ^= 1
	for _, c := range []struct {
		name, station string
		kek, sealed   []byte
		want          string
	}{
		{"damaged", "USA", kek, bad, "do not open"},
		{"another station", "CHN", kek, sealed, "do not open"},
		{"another key-encryption key", "USA", other, sealed, "do not open"},
		{"not sealed keys", "USA", kek, []byte("hello"), "not a sealed key set"},
	} {
		if _, err := stationdir.InstallKeys(standby, c.station, c.kek, c.sealed); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
	if after := snapshot(t, standby); !equalFiles(before, after) {
		t.Fatal("a refused install changed the standby's directory")
	}

	wrote, err := stationdir.InstallKeys(standby, "USA", kek, sealed)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"keys/retired/0/kem.key", "keys/retired/0/signing.key", "keys/next/kem.key", "keys/next/signing.key", "keys/kem.key", "keys/signing.key", "card"}
	if strings.Join(wrote, " ") != strings.Join(want, " ") {
		t.Errorf("wrote %v, want %v (earlier keys first, the card last)", wrote, want)
	}
	for _, f := range want {
		a, _ := os.ReadFile(filepath.Join(active, f))
		b, err := os.ReadFile(filepath.Join(standby, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs on the standby: %v", f, err)
		}
		fi, _ := os.Stat(filepath.Join(standby, f))
		if mode := fi.Mode().Perm(); f != "card" && mode != 0o600 || f == "card" && mode != 0o644 {
			t.Errorf("%s has mode %04o", f, mode)
		}
	}
	if fi, _ := os.Stat(filepath.Join(standby, "keys/retired")); fi.Mode().Perm() != 0o700 {
		t.Errorf("keys/retired has mode %04o, want 0700", fi.Mode().Perm())
	}
	if again, err := stationdir.InstallKeys(standby, "USA", kek, sealed); err != nil || len(again) != 0 {
		t.Errorf("a second install wrote %v, %v", again, err)
	}
	if _, err := os.Stat(filepath.Join(standby, stationdir.KEKFile)); err == nil {
		t.Error("the key-encryption key itself was sealed and installed")
	}
	if _, err := stationdir.LoadKEK(standby); !errors.Is(err, stationdir.ErrNoKEK) {
		t.Errorf("LoadKEK without the file: %v", err)
	}
	os.WriteFile(filepath.Join(active, stationdir.KEKFile), []byte("c2hvcnQ=\n"), 0o600)
	if _, err := stationdir.LoadKEK(active); err == nil {
		t.Error("a short key-encryption key was taken")
	}
	os.Chmod(filepath.Join(active, stationdir.KEKFile), 0o644)
	if _, err := stationdir.LoadKEK(active); !errors.Is(err, home.ErrKeyPermissions) {
		t.Errorf("a key-encryption key others may read: %v", err)
	}
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			out[p] = string(data)
		}
		return nil
	})
	return out
}

func equalFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

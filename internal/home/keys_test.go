package home_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/internal/home"
	"hotline/internal/identity"
)

func mustKeys(t testing.TB, name string) *identity.Keys {
	t.Helper()
	k, err := identity.NewKeys(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCard(t testing.TB, k *identity.Keys, party string, endpoints []string) *identity.Card {
	t.Helper()
	c, err := identity.NewCard(k, party, endpoints, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSaveLoadKeys(t *testing.T) {
	k := mustKeys(t, "alpha.station-1")
	dir := filepath.Join(t.TempDir(), "new", "keys")
	if err := home.SaveKeys(dir, k); err != nil {
		t.Fatalf("Save: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("key directory mode = %04o, want 0700", got)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 {
		t.Fatalf("Save wrote %d files, want 2", len(ents))
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", e.Name(), got)
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 {
			t.Errorf("%s is empty", e.Name())
		}
	}

	got, err := home.LoadKeys(dir)
	if err != nil {
		t.Fatalf("LoadKeys: %v", err)
	}
	if got.Name != k.Name {
		t.Errorf("Name = %q, want %q", got.Name, k.Name)
	}
	if !got.Sign.Equal(k.Sign) {
		t.Error("loaded signing key differs from the saved one")
	}
	gb, err := got.KEM.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	kb, err := k.KEM.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gb, kb) {
		t.Error("loaded HPKE key differs from the saved one")
	}
	// A card made from the loaded keys verifies as the original station.
	orig := mustCard(t, k, "red", nil)
	again := mustCard(t, got, "red", nil)
	if !bytes.Equal(orig.Text, again.Text) {
		t.Error("card from loaded keys differs from card from original keys")
	}
}

func TestSaveRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	first := mustKeys(t, "alpha")
	if err := home.SaveKeys(dir, first); err != nil {
		t.Fatal(err)
	}
	if err := home.SaveKeys(dir, mustKeys(t, "alpha")); err == nil {
		t.Fatal("Save over existing keys succeeded, want error")
	}
	got, err := home.LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Sign.Equal(first.Sign) {
		t.Error("the first signing key was overwritten")
	}
}

func TestLoadKeysPermissions(t *testing.T) {
	k := mustKeys(t, "alpha")
	base := t.TempDir()
	if err := home.SaveKeys(filepath.Join(base, "ref"), k); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(base, "ref"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode os.FileMode
		want error // nil: loads
	}{
		{0o600, nil},
		{0o400, nil},
		{0o644, home.ErrKeyPermissions},
		{0o640, home.ErrKeyPermissions},
		{0o604, home.ErrKeyPermissions},
		{0o620, home.ErrKeyPermissions},
		{0o602, home.ErrKeyPermissions},
		{0o610, home.ErrKeyPermissions},
		{0o601, home.ErrKeyPermissions},
		{0o666, home.ErrKeyPermissions},
	}
	for _, ent := range ents {
		for _, tt := range tests {
			t.Run(ent.Name()+"/"+tt.mode.String(), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "keys")
				if err := home.SaveKeys(dir, k); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(dir, ent.Name()), tt.mode); err != nil {
					t.Fatal(err)
				}
				got, err := home.LoadKeys(dir)
				if tt.want == nil {
					if err != nil {
						t.Fatalf("LoadKeys = %v, want success", err)
					}
					if !got.Sign.Equal(k.Sign) {
						t.Error("loaded key differs")
					}
					return
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("LoadKeys = %v, want %v", err, tt.want)
				}
				if got != nil {
					t.Error("LoadKeys returned keys along with an error")
				}
			})
		}
	}
}

func TestLoadKeysMalformed(t *testing.T) {
	k := mustKeys(t, "alpha")
	ref := filepath.Join(t.TempDir(), "ref")
	if err := home.SaveKeys(ref, k); err != nil {
		t.Fatal(err)
	}
	// Tell the two files apart by content: the signing key file starts
	// with the station name.
	var signFile, kemFile string
	ents, _ := os.ReadDir(ref)
	for _, e := range ents {
		data, _ := os.ReadFile(filepath.Join(ref, e.Name()))
		if strings.HasPrefix(string(data), "alpha\n") {
			signFile = e.Name()
		} else {
			kemFile = e.Name()
		}
	}
	if signFile == "" || kemFile == "" {
		t.Fatalf("could not tell key files apart in %v", ents)
	}
	seed := base64.StdEncoding.EncodeToString(k.Sign.Seed())
	tests := []struct {
		name    string
		file    string
		content string
	}{
		{"signing: empty", signFile, ""},
		{"signing: bad base64", signFile, "alpha\n!!!!\n"},
		{"signing: short seed", signFile, "alpha\n" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\n"},
		{"signing: long seed", signFile, "alpha\n" + base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n"},
		{"signing: bad name", signFile, "al pha\n" + seed + "\n"},
		{"signing: no name", signFile, seed + "\n"},
		{"kem: empty", kemFile, ""},
		{"kem: bad base64", kemFile, "????\n"},
		{"kem: short key", kemFile, base64.StdEncoding.EncodeToString(make([]byte, 16)) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			if err := home.SaveKeys(dir, k); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if got, err := home.LoadKeys(dir); err == nil {
				t.Fatalf("LoadKeys = %v, want error", got.Name)
			}
		})
	}
	t.Run("missing directory", func(t *testing.T) {
		_, err := home.LoadKeys(filepath.Join(t.TempDir(), "nope"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("LoadKeys = %v, want os.ErrNotExist", err)
		}
	})
}

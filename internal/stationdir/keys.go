package stationdir

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/record"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// SwapKeys moves the current keys to keys/retired/<seq> and keys/next
// into their place, then writes the card. Each step can be repeated.
func SwapKeys(dir string, seq int, card *identity.Card) error {
	kdir := filepath.Join(dir, "keys")
	next := filepath.Join(kdir, "next")
	ret := filepath.Join(kdir, "retired", strconv.Itoa(seq))
	if err := os.MkdirAll(ret, 0o700); err != nil {
		return err
	}
	for _, f := range []string{"signing.key", "kem.key"} {
		if _, err := os.Stat(filepath.Join(next, f)); err != nil {
			continue // moved already
		}
		if _, err := os.Stat(filepath.Join(ret, f)); err != nil {
			if err := os.Rename(filepath.Join(kdir, f), filepath.Join(ret, f)); err != nil {
				return err
			}
		}
		if err := os.Rename(filepath.Join(next, f), filepath.Join(kdir, f)); err != nil {
			return err
		}
	}
	for _, d := range []string{ret, kdir} {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	if err := os.Remove(next); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return home.WriteFile(filepath.Join(dir, "card"), card.Text, 0o644)
}

func syncDir(d string) error {
	f, err := os.Open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// FinishKeys brings the key files in line with the store: the store's
// own key chain says which keys are current. A change the store recorded
// is completed from keys/next (whatever part of the move a crash left
// undone); one it did not record is discarded. It returns the current
// keys and the earlier ones.
func FinishKeys(dir, name string, snap *record.Snapshot) (*identity.Keys, []*identity.Keys, error) {
	kdir := filepath.Join(dir, "keys")
	next := filepath.Join(kdir, "next")
	var own []record.Key
	for _, k := range snap.Keys {
		if k.Station == name {
			own = append(own, k)
		}
	}
	sort.Slice(own, func(i, j int) bool { return own[i].Seq < own[j].Seq })
	var last *identity.Card
	if len(own) > 0 {
		var err error
		if last, err = identity.ParseCard(own[len(own)-1].Card); err != nil {
			return nil, nil, fmt.Errorf("this station's current card in the store: %w", err)
		}
	}
	if _, err := os.Stat(next); err == nil {
		if last != nil && nextHolds(next, last) {
			if err := SwapKeys(dir, len(own)-2, last); err != nil {
				return nil, nil, fmt.Errorf("finishing the key change: %w", err)
			}
		} else if err := os.RemoveAll(next); err != nil {
			return nil, nil, err
		}
	}
	keys, err := home.LoadKeys(kdir)
	if err != nil {
		return nil, nil, err
	}
	if last != nil {
		if !last.SignKey.Equal(keys.SignPublic()) || !bytes.Equal(last.KEMKey, keys.KEM.PublicKey().Bytes()) {
			return nil, nil, fmt.Errorf("the keys in %s are not this station's current keys (fingerprint %s in the store)", kdir, last.Fingerprint())
		}
		if data, err := os.ReadFile(filepath.Join(dir, "card")); err != nil || !bytes.Equal(data, last.Text) {
			if err := home.WriteFile(filepath.Join(dir, "card"), last.Text, 0o644); err != nil {
				return nil, nil, err
			}
		}
	}
	var retired []*identity.Keys
	des, err := os.ReadDir(filepath.Join(kdir, "retired"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	for _, d := range des {
		k, err := home.LoadKeys(filepath.Join(kdir, "retired", d.Name()))
		if err != nil {
			return nil, nil, fmt.Errorf("retired keys: %w", err)
		}
		retired = append(retired, k)
	}
	return keys, retired, nil
}

// nextHolds reports whether what is left in keys/next belongs to card: a
// key file there that is card's (the other may have been moved already).
func nextHolds(next string, card *identity.Card) bool {
	held := false
	if nk, err := home.LoadKeys(next); err == nil {
		return nk.SignPublic().Equal(card.SignKey) && bytes.Equal(nk.KEM.PublicKey().Bytes(), card.KEMKey)
	}
	if data, err := os.ReadFile(filepath.Join(next, "signing.key")); err == nil {
		_, seed, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
		if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(seed)); err == nil && len(raw) == ed25519.SeedSize {
			if !ed25519.NewKeyFromSeed(raw).Public().(ed25519.PublicKey).Equal(card.SignKey) {
				return false
			}
			held = true
		}
	}
	if data, err := os.ReadFile(filepath.Join(next, "kem.key")); err == nil {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
		if err != nil {
			return false
		}
		k, err := identity.KEM.NewPrivateKey(raw)
		if err != nil || !bytes.Equal(k.PublicKey().Bytes(), card.KEMKey) {
			return false
		}
		held = true
	}
	return held
}

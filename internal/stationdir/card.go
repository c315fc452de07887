package stationdir

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/home"
	"hotline/internal/identity"
)

// AddRelay lists a relay in this station's card: peers that cannot reach
// it directly will deposit there, and it picks up from there. The relay's
// card is checked against the fingerprint a person read. The new card must
// reach the peers (hotline peer add with the new card file); the station
// must not be running.
func AddRelay(ctx context.Context, dir string, relayCard []byte, fingerprint string) (*identity.Card, error) {
	rc, err := identity.ParseCard(relayCard)
	if err != nil {
		return nil, badrequest.New("relay card: %v", err)
	}
	if !identity.SameFingerprint(rc.Fingerprint(), fingerprint) {
		return nil, badrequest.New("%v: the card of relay %s does not have the fingerprint given; do not use it, and read the fingerprint again with the relay's operator", identity.ErrFingerprint, rc.Name)
	}
	if len(rc.Endpoints) == 0 {
		return nil, badrequest.New("the card of relay %s lists no endpoint", rc.Name)
	}
	return editRelays(dir, func(own *identity.Card) ([]identity.RelayRef, error) {
		if rc.SignKey.Equal(own.SignKey) {
			return nil, badrequest.New("that is this station's own card")
		}
		for _, r := range own.Relays {
			if r.Key.Equal(rc.SignKey) || r.Name == rc.Name {
				return nil, badrequest.New("relay %s is already in this station's card", rc.Name)
			}
		}
		return append(slices.Clone(own.Relays), identity.RelayRef{Name: rc.Name, Addr: rc.Endpoints[0], Key: rc.SignKey}), nil
	})
}

// RemoveRelay takes a relay off this station's card, by its name: the
// inverse of AddRelay. The card is signed again, with a later issued, and
// must reach the peers the same way (hotline peer add with the new card
// file): from then on they deposit for this station only at the relays it
// still lists. The station must not be running. A name the card does not
// list is refused, changing nothing.
func RemoveRelay(ctx context.Context, dir, name string) (*identity.Card, error) {
	return editRelays(dir, func(own *identity.Card) ([]identity.RelayRef, error) {
		i := slices.IndexFunc(own.Relays, func(r identity.RelayRef) bool { return r.Name == name })
		if i >= 0 {
			return slices.Delete(slices.Clone(own.Relays), i, i+1), nil
		}
		var names []string
		for _, r := range own.Relays {
			names = append(names, r.Name)
		}
		if len(names) == 0 {
			return nil, badrequest.New("relay %s is not in this station's card, which lists no relay", name)
		}
		return nil, badrequest.New("relay %s is not in this station's card (it lists %s)", name, strings.Join(names, ", "))
	})
}

// editRelays signs this station's card again with the relays edit makes
// of the card's, issued later than it, under the directory's lock; an
// error from edit changes nothing.
func editRelays(dir string, edit func(own *identity.Card) ([]identity.RelayRef, error)) (*identity.Card, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	lock, err := home.Lock(dir, ErrLocked)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	keys, err := home.LoadKeys(filepath.Join(dir, "keys"))
	if err != nil {
		return nil, err
	}
	own, err := ReadCard(dir)
	if err != nil {
		return nil, err
	}
	relays, err := edit(own)
	if err != nil {
		return nil, err
	}
	issued := time.Now()
	if !issued.Truncate(time.Second).After(own.Issued) {
		issued = own.Issued.Add(time.Second)
	}
	card, err := identity.NewCardRelays(keys, cfg.Party, own.Endpoints, relays, issued)
	if err != nil {
		return nil, err
	}
	if err := home.WriteFile(filepath.Join(dir, "card"), card.Text, 0o644); err != nil {
		return nil, err
	}
	return card, nil
}

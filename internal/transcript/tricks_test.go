package transcript_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"hotline/internal/channel"
	"hotline/internal/codebook"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/transcript"
)

// The tests here are a hostile exporter's tricks: alpha exports the
// channel and bends what bravo said, or what it said itself, with every
// signature genuine. Each bundle is refused with what is wrong, or, where
// it is genuine but proves less, verified with that limit named.

// trick applies edit to a copy of the fixture's bundle and re-signs the
// export statement as alpha, as a hostile exporter would.
func trick(t *testing.T, fx *bundleFixture, edit func(b *transcript.Bundle)) *transcript.Bundle {
	t.Helper()
	b := cloneBundle(fx.Bundle)
	edit(b)
	if err := b.Seal(fx.Stations["alpha"].Keys.Signer()); err != nil {
		t.Fatal(err)
	}
	return b
}

// refused checks that Verify refuses b with an error containing want.
func refused(t *testing.T, b *transcript.Bundle, want string) {
	t.Helper()
	rep, err := transcript.Verify(b)
	if !errors.Is(err, transcript.ErrBundle) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Verify = %+v, %v\nwant it refused: %q", rep, err, want)
	}
}

// limited checks that Verify accepts b with the verdict "verified with
// limits" and a limit of author's log containing want.
func limited(t *testing.T, b *transcript.Bundle, opts transcript.Options, author, want string) *transcript.Report {
	t.Helper()
	rep, err := transcript.VerifyWith(b, opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Verdict != transcript.VerifiedLimited {
		t.Errorf("verdict %q, want %q", rep.Verdict, transcript.VerifiedLimited)
	}
	for _, l := range rep.Logs {
		for _, lim := range l.Limits {
			if l.Author == author && strings.Contains(lim, want) {
				return rep
			}
		}
	}
	t.Fatalf("no limit on %s's log about %q in %+v", author, want, rep.Logs)
	return nil
}

func TestTrickPeerLogEmptied(t *testing.T) {
	fx := mustBundleFixture(t)
	refused(t, trick(t, fx, func(b *transcript.Bundle) {
		b.Logs[1].Entries, b.Logs[1].Checkpoint, b.Logs[1].Keys = [][]byte{}, "", nil
	}), "bravo's log has no entries")
}

func TestTrickOwnLogEmptied(t *testing.T) {
	fx := mustBundleFixture(t)
	refused(t, trick(t, fx, func(b *transcript.Bundle) {
		b.Logs[0].Entries, b.Logs[0].Checkpoint = [][]byte{}, ""
	}), "alpha's log has no entries")
}

func TestTrickCheckpointsRemoved(t *testing.T) {
	fx := mustBundleFixture(t)
	refused(t, trick(t, fx, func(b *transcript.Bundle) {
		b.Logs[0].Checkpoint, b.Logs[1].Checkpoint = "", ""
	}), "bravo's log has no checkpoint")
}

// An older genuine checkpoint of bravo's in place of the latest: with
// the entries kept, the ones after it are shown as not covered; with them
// cut back too, alpha's own receipted checkpoint shows it held more.
func TestTrickOlderPeerCheckpoint(t *testing.T) {
	fx := mustBundleFixture(t)
	older := func(b *transcript.Bundle) {
		alpha := b.Logs[0].Entries
		cp, err := fx.Receipt("bravo", "alpha", transcript.Checkpoint{
			Origin: transcript.Origin(fx.Channel, "bravo"), Size: 1, Root: rootOf(b.Logs[1].Entries[:1]),
			Held: &transcript.Held{Size: 1, Root: rootOf(alpha[:1])},
		})
		if err != nil {
			t.Fatal(err)
		}
		b.Logs[1].Checkpoint = cp
	}
	limited(t, trick(t, fx, older), transcript.Options{}, "bravo", "entries 2–4 are signed by bravo one by one, but no checkpoint of bravo's covers them yet")
	refused(t, trick(t, fx, func(b *transcript.Bundle) {
		older(b)
		b.Logs[1].Entries = b.Logs[1].Entries[:1]
	}), "alpha's checkpoint of its log at 3 says alpha held 2 entries of bravo's log; the bundle holds 1")
}

// alpha cuts its own log back to an older genuine receipt: bravo's
// checkpoint shows it held more of alpha's log.
func TestTrickOwnLogCutBack(t *testing.T) {
	fx := mustBundleFixture(t)
	refused(t, trick(t, fx, func(b *transcript.Bundle) {
		l := &b.Logs[0]
		l.Entries = l.Entries[:2]
		cp, err := fx.Receipt("alpha", "bravo", transcript.Checkpoint{Origin: transcript.Origin(fx.Channel, "alpha"), Size: 2, Root: rootOf(l.Entries)})
		if err != nil {
			t.Fatal(err)
		}
		l.Checkpoint = cp
	}), "bravo's checkpoint of its log at 2 says bravo held 3 entries of alpha's log; the bundle holds 2")
}

// alpha rewrites its own entries: one bravo has not receipted is shown
// as signed by alpha alone; one bravo held is caught by bravo's
// checkpoint.
func TestTrickOwnEntryRewritten(t *testing.T) {
	fx := mustBundleFixture(t)
	rewrite := func(b *transcript.Bundle, index uint64) {
		raw, err := fx.Seal(envelope.Header{Channel: fx.Channel, Author: "alpha", Recipient: "bravo", Index: index,
			Precedence: envelope.Priority, Kind: envelope.Text}, "alpha", []byte(`{"text":"we never warned you"}`))
		if err != nil {
			t.Fatal(err)
		}
		if index > uint64(len(b.Logs[0].Entries)) {
			b.Logs[0].Entries = append(b.Logs[0].Entries, raw)
		} else {
			b.Logs[0].Entries[index-1] = raw
		}
	}
	limited(t, trick(t, fx, func(b *transcript.Bundle) { rewrite(b, 4) }), transcript.Options{}, "alpha", "entry 4 is signed by alpha alone: bravo has not receipted it")
	refused(t, trick(t, fx, func(b *transcript.Bundle) {
		rewrite(b, 3)
		b.Logs[0].Checkpoint = "" // its receipt would not match either
	}), "bravo's checkpoint of its log at 2 says bravo held alpha's log at 3 with root")
}

func TestTrickExportedByChanged(t *testing.T) {
	fx := mustBundleFixture(t)
	b := cloneBundle(fx.Bundle)
	b.ExportedBy = "bravo"
	refused(t, b, `exported_by is "bravo", but the first card`)
	// The whole bundle turned round to look like bravo's export: the
	// statement, signed by alpha, does not make bravo its author.
	b = cloneBundle(fx.Bundle)
	b.ExportedBy = "bravo"
	b.Cards[0], b.Cards[1] = b.Cards[1], b.Cards[0]
	b.Logs[0], b.Logs[1] = b.Logs[1], b.Logs[0]
	if err := b.Seal(fx.Stations["alpha"].Keys.Signer()); err != nil {
		t.Fatal(err)
	}
	refused(t, b, "the export statement is not signed by bravo")
	// exported_at changed after signing.
	b = cloneBundle(fx.Bundle)
	b.ExportedAt = b.ExportedAt.Add(-time.Hour)
	refused(t, b, "the export statement says channel red-blue.1, exported by alpha at 2026-03-14T10:00:00Z")
	// Entries changed after signing (and the receipt removed): the
	// statement's root is not the log's.
	b = cloneBundle(fx.Bundle)
	extra, err := fx.Seal(envelope.Header{Channel: fx.Channel, Author: "alpha", Recipient: "bravo", Index: 4,
		Precedence: envelope.Priority, Kind: envelope.Text}, "alpha", []byte(`{"text":"added later"}`))
	if err != nil {
		t.Fatal(err)
	}
	b.Logs[0].Entries = append(b.Logs[0].Entries, extra)
	refused(t, b, "the export statement says alpha's log holds 3 entries")
	// Downgraded to format v1, which has no statement: verified, but not
	// as the exporter's signed word.
	b = cloneBundle(fx.Bundle)
	b.Format, b.Export = transcript.BundleFormatV1, ""
	rep, err := transcript.Verify(b)
	if err != nil || rep.ExportSigned || rep.Verdict != transcript.VerifiedLimited || len(rep.Limits) != 1 || !strings.Contains(rep.Limits[0], "not signed") {
		t.Fatalf("v1 bundle: %+v, %v", rep, err)
	}
}

// bravo rotates with reason revoke (or reports its key lost); a receipt
// cosigned by its old key after that proves nothing.
func TestTrickReceiptByRevokedKey(t *testing.T) {
	fx := mustBundleFixture(t)
	bravo := fx.Stations["bravo"]
	nk, card := newKeysFor(t, fx, "bravo")
	var err error
	for _, reason := range []string{identity.ReasonRevoke, identity.ReasonLost} {
		t.Run(reason, func(t *testing.T) {
			var r *identity.Rotation
			signer := "bravo"
			if reason == identity.ReasonRevoke {
				r, err = identity.NewRotation(bravo.Keys, card, reason, fx.Time)
			} else {
				r, err = identity.NewLostStatement(bravo.Keys.SignPublic(), nk, card, fx.Time)
				fx.Stations["bravo-new"] = &fixtureStation{Keys: nk, Card: card}
				signer = "bravo-new"
			}
			if err != nil {
				t.Fatal(err)
			}
			b := trick(t, fx, func(b *transcript.Bundle) {
				raw, err := fx.Seal(envelope.Header{Channel: fx.Channel, Author: "bravo", Recipient: "alpha", Index: 5,
					Precedence: envelope.Flash, Kind: envelope.Key}, signer, []byte(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				b.Logs[1].Entries = append(b.Logs[1].Entries, raw)
				b.Logs[1].Keys = []transcript.BundleKey{{Index: 5, Statement: string(r.Text)}}
				if reason == identity.ReasonLost {
					// alpha re-pinned bravo: its record, in its log.
					rec, err := fx.Seal(envelope.Header{Channel: fx.Channel, Author: "alpha", Recipient: "bravo", Index: 4,
						Precedence: envelope.Flash, Kind: envelope.Key}, "alpha", []byte(`{}`))
					if err != nil {
						t.Fatal(err)
					}
					b.Logs[0].Entries = append(b.Logs[0].Entries, rec)
					b.Logs[0].Keys = []transcript.BundleKey{{Index: 4, Replaced: &transcript.Replacement{
						Station: "bravo", Old: bravo.Card.Fingerprint(), Card: string(card.Text), By: "signal officer"}}}
				}
			})
			// The receipt of alpha's log is by bravo's first key, which
			// bravo's log now shows as revoked or lost.
			refused(t, b, "the checkpoint of alpha's log is cosigned by bravo's key 1 ("+bravo.Card.Fingerprint()+"), which bravo's log shows as "+reason+" at red-blue.1/bravo/5")
			// What an exporter does with such a receipt: leave it out.
			b.DropRevokedReceipt()
			if err := b.Seal(fx.Stations["alpha"].Keys.Signer()); err != nil {
				t.Fatal(err)
			}
			limited(t, b, transcript.Options{}, "alpha", "no entry is receipted by bravo")
		})
	}
}

// alpha invents a lost-key record for bravo, and then signs entries in
// bravo's name with a key of its own making. Every signature checks, so
// the bundle verifies; but the report says that only alpha vouches for
// that key, until an auditor pins it.
func TestTrickInventedLostKey(t *testing.T) {
	fx := mustBundleFixture(t)
	bravo := fx.Stations["bravo"]
	forged, card := newKeysFor(t, fx, "bravo")
	fv, err := card.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	fx.Stations["forged"] = &fixtureStation{Keys: forged, Card: card, V: fv}
	st, err := identity.NewLostStatement(bravo.Keys.SignPublic(), forged, card, fx.Time)
	if err != nil {
		t.Fatal(err)
	}
	b := trick(t, fx, func(b *transcript.Bundle) {
		rec, err := fx.Seal(envelope.Header{Channel: fx.Channel, Author: "alpha", Recipient: "bravo", Index: 4,
			Precedence: envelope.Flash, Kind: envelope.Key}, "alpha", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		b.Logs[0].Entries = append(b.Logs[0].Entries, rec)
		b.Logs[0].Keys = []transcript.BundleKey{{Index: 4, Replaced: &transcript.Replacement{
			Station: "bravo", Old: bravo.Card.Fingerprint(), Card: string(card.Text), By: "bravo's own minister"}}}
		for i, kind := range []envelope.Kind{envelope.Key, envelope.Text} {
			raw, err := fx.Seal(envelope.Header{Channel: fx.Channel, Author: "bravo", Recipient: "alpha", Index: uint64(5 + i),
				Precedence: envelope.Flash, Kind: kind}, "forged", []byte(`{"text":"we accept full responsibility"}`))
			if err != nil {
				t.Fatal(err)
			}
			b.Logs[1].Entries = append(b.Logs[1].Entries, raw)
		}
		b.Logs[1].Keys = []transcript.BundleKey{{Index: 5, Statement: string(st.Text)}}
		// bravo's real key is now "lost", so its receipt of alpha's log
		// would be refused: alpha leaves it out, and makes bravo's
		// checkpoint with the forged key.
		b.DropRevokedReceipt()
		if b.Logs[0].Checkpoint != "" {
			t.Fatal("the receipt by bravo's real key was kept")
		}
		cp, err := fx.Receipt("forged", "alpha", transcript.Checkpoint{Origin: transcript.Origin(fx.Channel, "bravo"), Size: 6, Root: rootOf(b.Logs[1].Entries),
			Held: &transcript.Held{Size: 4, Root: rootOf(b.Logs[0].Entries)}})
		if err != nil {
			t.Fatal(err)
		}
		b.Logs[1].Checkpoint = cp
	})
	want := "from entry 5, bravo's log is signed by its key 2 (" + card.Fingerprint() + "), after it reported key 1 lost; only alpha, the exporter, vouches for that key"
	limited(t, b, transcript.Options{}, "bravo", want)
	// Pinning bravo's real key does not confirm the forged one.
	rep := limited(t, b, transcript.Options{Pins: map[string]string{"bravo": bravo.Card.Fingerprint()}}, "bravo", want)
	if rep.Logs[1].Pinned != 1 {
		t.Errorf("bravo's pin matched key %d, want 1", rep.Logs[1].Pinned)
	}
	// A pin that matches none of bravo's keys is refused.
	if _, err := transcript.VerifyWith(b, transcript.Options{Pins: map[string]string{"bravo": fx.Stations["charlie"].Card.Fingerprint()}}); err == nil ||
		!strings.Contains(err.Error(), "do not match the fingerprint pinned for it") {
		t.Errorf("a wrong pin: %v", err)
	}
}

// An exporter shows another charter, signed by both parties (an earlier
// one with other deadlines, say): entry 1, disclosed, shows the charter
// the entries were written under, and the bundle is refused; without
// the disclosures, the report says the charter is not tied to them.
func TestTrickOtherCharter(t *testing.T) {
	fx := mustBundleFixture(t)
	alpha, bravo := fx.Stations["alpha"], fx.Stations["bravo"]
	ch := &channel.Charter{ID: fx.Channel, Level: channel.Staff, Proposer: "alpha", Acceptor: "bravo", Codebook: codebook.Default().Ref()}
	if err := channel.Propose(ch, alpha.Keys.Signer()); err != nil {
		t.Fatal(err)
	}
	if err := channel.Accept(ch, alpha.V, bravo.Keys.Signer()); err != nil {
		t.Fatal(err)
	}
	refused(t, trick(t, fx, func(b *transcript.Bundle) { b.Charter = string(ch.Text) }),
		"red-blue.1/alpha/1: the charter it carries is not the bundle's charter")
	b := trick(t, fx, func(b *transcript.Bundle) {
		b.Charter = string(ch.Text)
		b.Logs[0].Disclosed, b.Logs[1].Disclosed = nil, nil
	})
	rep, err := transcript.Verify(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Limits) != 1 || !strings.Contains(rep.Limits[0], "nothing ties it to this channel's entries") {
		t.Errorf("limits %q", rep.Limits)
	}
}

// newKeysFor makes new keys and a card for a party of the fixture.
func newKeysFor(t *testing.T, fx *bundleFixture, name string) (*identity.Keys, *identity.Card) {
	t.Helper()
	k, err := identity.NewKeys(name)
	if err != nil {
		t.Fatal(err)
	}
	card, err := identity.NewCard(k, fx.Stations[name].Card.Party, []string{name + ".example:7443"}, fx.Time)
	if err != nil {
		t.Fatal(err)
	}
	return k, card
}

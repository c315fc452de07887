package transcript_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/channel"
	"hotline/internal/codebook"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/transcript"
)

// fixtureStation is one station of a bundle fixture.
type fixtureStation struct {
	Keys *identity.Keys
	Card *identity.Card
	V    note.Verifier
}

// bundleFixture is a valid two-party transcript bundle and the keys that
// made it, so that tests can build valid and invalid variants.
type bundleFixture struct {
	Channel  string
	Time     time.Time
	Stations map[string]*fixtureStation // alpha (proposer), bravo (acceptor), charlie (not a party)
	Proposal []byte                     // the charter signed by alpha only
	Charter  []byte                     // the charter signed by both
	Bundle   *transcript.Bundle
}

const (
	fixtureChannel  = "red-blue.1"
	fixtureAlphaLen = 3 // entries in alpha's log; its receipt covers all of them
	fixtureBravoLen = 4 // entries in bravo's log; its receipt covers the first 2
	fixtureBravoRcv = 2
)

func newFixtureStation(name, party string, now time.Time) (*fixtureStation, error) {
	k, err := identity.NewKeys(name)
	if err != nil {
		return nil, err
	}
	c, err := identity.NewCard(k, party, []string{name + ".example:7443"}, now)
	if err != nil {
		return nil, err
	}
	v, err := c.Verifier()
	if err != nil {
		return nil, err
	}
	return &fixtureStation{Keys: k, Card: c, V: v}, nil
}

// newBundleFixture builds a valid bundle for channel red-blue.1 between
// alpha and bravo: entry 1 of each log is the agreement (alpha's carries
// the proposal, bravo's the agreed charter), later entries are text; each
// log has a checkpoint signed by its author and cosigned by the other.
func newBundleFixture() (*bundleFixture, error) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	fx := &bundleFixture{Channel: fixtureChannel, Time: now, Stations: map[string]*fixtureStation{}}
	for _, s := range []struct{ name, party string }{{"alpha", "red"}, {"bravo", "blue"}, {"charlie", "green"}} {
		st, err := newFixtureStation(s.name, s.party, now)
		if err != nil {
			return nil, err
		}
		fx.Stations[s.name] = st
	}
	alpha, bravo := fx.Stations["alpha"], fx.Stations["bravo"]

	ch := &channel.Charter{ID: fx.Channel, Level: channel.Minister, Proposer: "alpha", Acceptor: "bravo", Codebook: codebook.Default().Ref()}
	if err := channel.Propose(ch, alpha.Keys.Signer()); err != nil {
		return nil, err
	}
	fx.Proposal = bytes.Clone(ch.Text)
	if err := channel.Accept(ch, alpha.V, bravo.Keys.Signer()); err != nil {
		return nil, err
	}
	fx.Charter = bytes.Clone(ch.Text)

	b := &transcript.Bundle{
		Format:     transcript.BundleFormat,
		Channel:    fx.Channel,
		ExportedBy: "alpha",
		ExportedAt: now.Add(time.Hour),
		Cards:      []string{string(alpha.Card.Text), string(bravo.Card.Text)},
		Charter:    string(fx.Charter),
	}
	logs := []struct {
		author   string
		charter  []byte
		n, rcvd  int
		receiver string
	}{
		{"alpha", fx.Proposal, fixtureAlphaLen, fixtureAlphaLen, "bravo"},
		{"bravo", fx.Charter, fixtureBravoLen, fixtureBravoRcv, "alpha"},
	}
	for _, l := range logs {
		agreement, err := json.Marshal(map[string]string{"charter": string(l.charter)})
		if err != nil {
			return nil, err
		}
		bl := transcript.BundleLog{Author: l.author}
		for i := 1; i <= l.n; i++ {
			kind, body := envelope.Text, []byte(fmt.Sprintf(`{"text":"message %d from %s"}`, i, l.author))
			if i == 1 {
				kind, body = envelope.Agreement, agreement
			}
			e, err := fx.Seal(envelope.Header{
				Channel: fx.Channel, Author: l.author, Recipient: l.receiver, Index: uint64(i),
				Precedence: envelope.Priority, Kind: kind,
			}, l.author, body)
			if err != nil {
				return nil, err
			}
			bl.Entries = append(bl.Entries, e)
		}
		b.Logs = append(b.Logs, bl)
	}
	// Each checkpoint says how much of the other log its author held:
	// alpha, all of bravo's receipted part; bravo, all of alpha's log.
	for i, l := range logs {
		other := b.Logs[1-i].Entries[:logs[1-i].rcvd]
		cp, err := fx.Receipt(l.author, l.receiver, transcript.Checkpoint{
			Origin: transcript.Origin(fx.Channel, l.author),
			Size:   uint64(l.rcvd),
			Root:   rootOf(b.Logs[i].Entries[:l.rcvd]),
			Held:   &transcript.Held{Size: uint64(len(other)), Root: rootOf(other)},
		})
		if err != nil {
			return nil, err
		}
		b.Logs[i].Checkpoint = cp
	}
	// Each log discloses its entry 1, the charter, as an export does.
	for i, reader := range []string{"bravo", "alpha"} {
		e, err := envelope.Parse(b.Logs[i].Entries[0])
		if err != nil {
			return nil, err
		}
		ep, err := e.OpenEpoch(fx.Stations[reader].Keys.KEM)
		if err != nil {
			return nil, err
		}
		k := e.EntryKey(ep)
		body, err := e.OpenDisclosed(k)
		if err != nil {
			return nil, err
		}
		b.Logs[i].Disclosed = []transcript.Disclosure{{Index: 1, Key: k, Body: string(body)}}
	}
	if err := b.Seal(alpha.Keys.Signer()); err != nil {
		return nil, err
	}
	fx.Bundle = b
	return fx, nil
}

// mustBundleFixture is newBundleFixture for tests.
func mustBundleFixture(t testing.TB) *bundleFixture {
	t.Helper()
	fx, err := newBundleFixture()
	if err != nil {
		t.Fatalf("building bundle fixture: %v", err)
	}
	return fx
}

// Seal seals an entry with h, signed by signer and sealed to the station
// named in h.Recipient (which need not be a party).
func (fx *bundleFixture) Seal(h envelope.Header, signer string, body []byte) ([]byte, error) {
	if h.Time.IsZero() {
		h.Time = fx.Time.Add(time.Duration(h.Index) * time.Minute)
	}
	to, err := fx.Stations[h.Recipient].Card.HPKEKey()
	if err != nil {
		return nil, err
	}
	return envelope.Seal(h, body, to, fx.Stations[signer].Keys.Sign)
}

// Receipt signs c as author and cosigns it as cosigner.
func (fx *bundleFixture) Receipt(author, cosigner string, c transcript.Checkpoint) (string, error) {
	signed, err := transcript.SignCheckpoint(c, fx.Stations[author].Keys.Signer())
	if err != nil {
		return "", err
	}
	by := fx.Stations[cosigner]
	cosigned, err := transcript.Cosign(signed, fx.Stations[author].V, transcript.NewCosigner(by.Keys.Name, by.Keys.Sign, fx.receiptTime))
	return string(cosigned), err
}

// receiptTime is when the fixture's receipts are cosigned: half an hour
// after its entries.
func (fx *bundleFixture) receiptTime() time.Time {
	return fx.Time.Add(30 * time.Minute)
}

func rootOf(entries [][]byte) []byte {
	t := transcript.NewTree()
	for _, e := range entries {
		t.Append(e)
	}
	return t.Root()
}

// cloneBundle returns a deep copy of b.
func cloneBundle(b *transcript.Bundle) *transcript.Bundle {
	c := *b
	c.Cards = slices.Clone(b.Cards)
	c.Logs = nil
	for _, l := range b.Logs {
		nl := l
		nl.Entries = nil
		for _, e := range l.Entries {
			nl.Entries = append(nl.Entries, bytes.Clone(e))
		}
		c.Logs = append(c.Logs, nl)
	}
	return &c
}

func TestVerifyValidBundle(t *testing.T) {
	fx := mustBundleFixture(t)
	orig := cloneBundle(fx.Bundle)
	rep, err := transcript.Verify(fx.Bundle)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Channel != fixtureChannel || !slices.Equal(rep.Parties, []string{"alpha", "bravo"}) {
		t.Errorf("report for %s between %v", rep.Channel, rep.Parties)
	}
	want := []transcript.LogReport{
		{Author: "alpha", Entries: fixtureAlphaLen, Receipted: fixtureAlphaLen, Root: rootOf(fx.Bundle.Logs[0].Entries)},
		{Author: "bravo", Entries: fixtureBravoLen, Receipted: fixtureBravoRcv, Root: rootOf(fx.Bundle.Logs[1].Entries)},
	}
	if len(rep.Logs) != len(want) {
		t.Fatalf("report has %d logs, want %d", len(rep.Logs), len(want))
	}
	for i, w := range want {
		g := rep.Logs[i]
		if g.Author != w.Author || g.Entries != w.Entries || g.Receipted != w.Receipted || !bytes.Equal(g.Root, w.Root) {
			t.Errorf("log %d = %+v, want %+v", i, g, w)
		}
		// The root agrees with the independent implementation.
		store := &tlogStore{}
		for j, e := range fx.Bundle.Logs[i].Entries {
			store.append(t, int64(j), e)
		}
		if !bytes.Equal(g.Root, store.root(t, int64(len(fx.Bundle.Logs[i].Entries)))) {
			t.Errorf("log %d root differs from sumdb/tlog", i)
		}
	}
	// The entries really are what the fixture claims: the recipient opens
	// each, and entry 1 carries the charter.
	for _, l := range fx.Bundle.Logs {
		other := map[string]string{"alpha": "bravo", "bravo": "alpha"}[l.Author]
		for i, raw := range l.Entries {
			e, err := envelope.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			body, err := e.Open(fx.Stations[other].Keys.KEM)
			if err != nil {
				t.Fatalf("%s: %v", e.ID(), err)
			}
			if i == 0 {
				var a struct{ Charter string }
				if err := json.Unmarshal(body, &a); err != nil {
					t.Fatal(err)
				}
				if _, err := channel.Parse([]byte(a.Charter), fx.Stations["alpha"].V); err != nil {
					t.Errorf("%s does not carry the charter: %v", e.ID(), err)
				}
			}
		}
	}
	// Verify does not modify the bundle.
	if !bundlesEqual(orig, fx.Bundle) {
		t.Error("Verify modified the bundle")
	}
}

func bundlesEqual(a, b *transcript.Bundle) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// TestVerifyVariants checks bundles built from the fixture: the valid ones
// are accepted with the expected receipts, the rest refused with
// ErrBundle for the expected reason.
func TestVerifyVariants(t *testing.T) {
	fx := mustBundleFixture(t)
	alpha, bravo, charlie := fx.Stations["alpha"], fx.Stations["bravo"], fx.Stations["charlie"]
	entry := func(t *testing.T, h envelope.Header, signer string) []byte {
		t.Helper()
		if h.Channel == "" {
			h.Channel = fx.Channel
		}
		if h.Precedence == 0 {
			h.Precedence = envelope.Routine
		}
		if h.Kind == 0 {
			h.Kind = envelope.Text
		}
		raw, err := fx.Seal(h, signer, []byte(`{"text":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	receipt := func(t *testing.T, author, cosigner string, c transcript.Checkpoint) string {
		t.Helper()
		r, err := fx.Receipt(author, cosigner, c)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	alphaOrigin := transcript.Origin(fx.Channel, "alpha")
	alphaLog := func(b *transcript.Bundle) *transcript.BundleLog { return &b.Logs[0] }

	tests := []struct {
		name string
		edit func(t *testing.T, b *transcript.Bundle)
		// wantErr is a substring of the error; "" means Verify accepts.
		wantErr string
		// receipted are the expected receipts when Verify accepts.
		receipted []uint64
	}{
		{"unchanged", func(t *testing.T, b *transcript.Bundle) {}, "", []uint64{3, 2}},
		{"no checkpoints", func(t *testing.T, b *transcript.Bundle) {
			b.Logs[0].Checkpoint, b.Logs[1].Checkpoint = "", ""
		}, "bravo's log has no checkpoint", nil},
		{"no receipt of the exporter's log", func(t *testing.T, b *transcript.Bundle) {
			b.Logs[0].Checkpoint = ""
		}, "", []uint64{0, 2}},
		{"one log", func(t *testing.T, b *transcript.Bundle) { b.Logs = b.Logs[1:] }, "1 logs, want one for each party", nil},
		{"no logs", func(t *testing.T, b *transcript.Bundle) { b.Logs = nil }, "0 logs, want one for each party", nil},
		{"cards in the other order", func(t *testing.T, b *transcript.Bundle) {
			b.Cards[0], b.Cards[1] = b.Cards[1], b.Cards[0]
		}, `exported_by is "alpha", but the first card`, nil},
		{"logs in the other order", func(t *testing.T, b *transcript.Bundle) {
			b.Logs[0], b.Logs[1] = b.Logs[1], b.Logs[0]
		}, `log 1 is "bravo"'s`, nil},
		{"receipt for a prefix", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Checkpoint = receipt(t, "alpha", "bravo", transcript.Checkpoint{Origin: alphaOrigin, Size: 1, Root: rootOf(l.Entries[:1])})
		}, "", []uint64{1, 2}},

		{"wrong format", func(t *testing.T, b *transcript.Bundle) { b.Format = "hotline-transcript/v3" }, "format", nil},
		{"missing card", func(t *testing.T, b *transcript.Bundle) { b.Cards = b.Cards[:1] }, "1 station cards", nil},
		{"no cards", func(t *testing.T, b *transcript.Bundle) { b.Cards = nil }, "0 station cards", nil},
		{"third card", func(t *testing.T, b *transcript.Bundle) {
			b.Cards = append(b.Cards, string(charlie.Card.Text))
		}, "3 station cards", nil},
		{"same card twice", func(t *testing.T, b *transcript.Bundle) { b.Cards[1] = b.Cards[0] }, "two cards for alpha", nil},
		{"third station's card instead of bravo's", func(t *testing.T, b *transcript.Bundle) {
			b.Cards[1] = string(charlie.Card.Text)
		}, "charter", nil},
		{"tampered card", func(t *testing.T, b *transcript.Bundle) {
			b.Cards[1] = strings.Replace(b.Cards[1], "party blue", "party bluf", 1)
		}, "card 2", nil},
		{"impostor's card for bravo", func(t *testing.T, b *transcript.Bundle) {
			imp, err := newFixtureStation("bravo", "blue", fx.Time)
			if err != nil {
				t.Fatal(err)
			}
			b.Cards[1] = string(imp.Card.Text)
			// The charter's signature by the acceptor is checked against
			// the key of its acceptance once its log is read (an acceptor
			// of crossing proposals may have changed keys since its log
			// began): the impostor's key fails at bravo's entry 1.
		}, "red-blue.1/bravo/1: envelope signature does not verify", nil},

		{"charter signed by the proposer only", func(t *testing.T, b *transcript.Bundle) {
			b.Charter = string(fx.Proposal)
		}, "charter", nil},
		{"charter signed by the acceptor only", func(t *testing.T, b *transcript.Bundle) {
			n, err := note.Open(fx.Charter, note.VerifierList(bravo.V))
			if err != nil {
				t.Fatal(err)
			}
			text, err := note.Sign(&note.Note{Text: n.Text}, bravo.Keys.Signer())
			if err != nil {
				t.Fatal(err)
			}
			b.Charter = string(text)
		}, "charter", nil},
		{"charter tampered", func(t *testing.T, b *transcript.Bundle) {
			b.Charter = strings.Replace(b.Charter, "level minister", "level leader", 1)
		}, "charter", nil},
		{"no charter", func(t *testing.T, b *transcript.Bundle) { b.Charter = "" }, "charter", nil},
		{"bundle for another channel", func(t *testing.T, b *transcript.Bundle) { b.Channel = "red-blue.2" }, "charter is for red-blue.1", nil},
		{"charter, signed by both, names a third station", func(t *testing.T, b *transcript.Bundle) {
			ch := &channel.Charter{ID: fx.Channel, Level: channel.Minister, Proposer: "alpha", Acceptor: "charlie", Codebook: codebook.Default().Ref()}
			if err := channel.Propose(ch, alpha.Keys.Signer()); err != nil {
				t.Fatal(err)
			}
			if err := channel.Accept(ch, alpha.V, bravo.Keys.Signer()); err != nil {
				t.Fatal(err)
			}
			b.Charter = string(ch.Text)
		}, "charter is for", nil},

		{"entries 2 and 3 swapped", func(t *testing.T, b *transcript.Bundle) {
			e := alphaLog(b).Entries
			e[1], e[2] = e[2], e[1]
		}, "entry 2 of alpha's log", nil},
		{"entries 1 and 2 swapped", func(t *testing.T, b *transcript.Bundle) {
			e := alphaLog(b).Entries
			e[0], e[1] = e[1], e[0]
		}, "entry 1 of alpha's log", nil},
		{"middle entry dropped", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = slices.Delete(l.Entries, 1, 2)
			l.Checkpoint = ""
		}, "entry 2 of alpha's log", nil},
		{"middle entry dropped, receipt kept", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = slices.Delete(l.Entries, 1, 2)
		}, "entry 2 of alpha's log", nil},
		{"first entry dropped", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = l.Entries[1:]
			l.Checkpoint = ""
		}, "entry 1 of alpha's log", nil},
		{"last entry dropped, receipt kept", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = l.Entries[:2]
		}, "covers 3 entries; the bundle holds 2", nil},
		{"entry duplicated", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = slices.Insert(l.Entries, 2, l.Entries[1])
		}, "entry 3 of alpha's log", nil},
		{"bravo's entry in alpha's log", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = append(l.Entries, b.Logs[1].Entries[3])
		}, "red-blue.1/alpha/4: envelope signature", nil},
		{"logs' authors swapped", func(t *testing.T, b *transcript.Bundle) {
			b.Logs[0].Author, b.Logs[1].Author = b.Logs[1].Author, b.Logs[0].Author
		}, `log 1 is "bravo"'s`, nil},
		{"logs' authors swapped, cards and exporter too", func(t *testing.T, b *transcript.Bundle) {
			b.Logs[0].Author, b.Logs[1].Author = b.Logs[1].Author, b.Logs[0].Author
			b.Cards[0], b.Cards[1] = b.Cards[1], b.Cards[0]
			b.ExportedBy = "bravo"
		}, `checkpoint of bravo's log names "hotline/red-blue.1/alpha"`, nil},
		{"log listed twice", func(t *testing.T, b *transcript.Bundle) {
			b.Logs = append(b.Logs, b.Logs[0])
		}, "3 logs, want one for each party", nil},
		{"log listed twice, in place of the other", func(t *testing.T, b *transcript.Bundle) {
			b.Logs[1] = b.Logs[0]
		}, `log 2 is "alpha"'s`, nil},
		{"log of a third station", func(t *testing.T, b *transcript.Bundle) {
			b.Logs = append(b.Logs, transcript.BundleLog{Author: "charlie", Entries: [][]byte{
				entry(t, envelope.Header{Author: "charlie", Recipient: "alpha", Index: 1, Kind: envelope.Agreement}, "charlie"),
			}})
		}, "3 logs, want one for each party", nil},
		{"third station's entry in alpha's log", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = append(l.Entries, entry(t, envelope.Header{Author: "charlie", Recipient: "bravo", Index: 4}, "charlie"))
		}, "red-blue.1/alpha/4: envelope signature", nil},
		{"third station's entry claiming to be alpha's", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = append(l.Entries, entry(t, envelope.Header{Author: "alpha", Recipient: "bravo", Index: 4}, "charlie"))
		}, "red-blue.1/alpha/4: envelope signature", nil},
		{"alpha's entry to a third station", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = append(l.Entries, entry(t, envelope.Header{Author: "alpha", Recipient: "charlie", Index: 4}, "alpha"))
		}, "entry 4 of alpha's log is red-blue.1/alpha/4 to charlie", nil},
		{"alpha's entry for another channel", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = append(l.Entries, entry(t, envelope.Header{Channel: "red-blue.2", Author: "alpha", Recipient: "bravo", Index: 4}, "alpha"))
		}, "entry 4 of alpha's log", nil},
		{"alpha's entry with bravo as author", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = append(l.Entries, entry(t, envelope.Header{Author: "bravo", Recipient: "alpha", Index: 4}, "alpha"))
		}, "entry 4 of alpha's log is red-blue.1/bravo/4", nil},
		{"alpha's entry with a repeated index", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = append(l.Entries, entry(t, envelope.Header{Author: "alpha", Recipient: "bravo", Index: 3}, "alpha"))
		}, "entry 4 of alpha's log", nil},
		{"entry 1 is not the agreement", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries[0] = entry(t, envelope.Header{Author: "alpha", Recipient: "bravo", Index: 1, Kind: envelope.Text}, "alpha")
			l.Checkpoint = ""
		}, "entry 1, and only entry 1, is the channel agreement", nil},
		{"a later entry is an agreement", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Entries = append(l.Entries, entry(t, envelope.Header{Author: "alpha", Recipient: "bravo", Index: 4, Kind: envelope.Agreement}, "alpha"))
		}, "entry 1, and only entry 1, is the channel agreement", nil},
		{"entry that does not parse", func(t *testing.T, b *transcript.Bundle) {
			alphaLog(b).Entries[1] = []byte("HLE1")
		}, "red-blue.1/alpha/2: malformed envelope", nil},

		{"checkpoint with a wrong root", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Checkpoint = receipt(t, "alpha", "bravo", transcript.Checkpoint{Origin: alphaOrigin, Size: 3, Root: rootOf(l.Entries[:2])})
		}, transcript.ErrRoot.Error() + ": checkpoint of alpha's log at size 3", nil},
		{"checkpoint with the root of other entries", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			other := slices.Clone(l.Entries)
			other[2] = entry(t, envelope.Header{Author: "alpha", Recipient: "bravo", Index: 3}, "alpha")
			l.Checkpoint = receipt(t, "alpha", "bravo", transcript.Checkpoint{Origin: alphaOrigin, Size: 3, Root: rootOf(other)})
		}, transcript.ErrRoot.Error(), nil},
		{"checkpoint cosigned by an impostor key", func(t *testing.T, b *transcript.Bundle) {
			imp, err := newFixtureStation("bravo", "blue", fx.Time)
			if err != nil {
				t.Fatal(err)
			}
			fx2 := *fx
			fx2.Stations = map[string]*fixtureStation{"alpha": alpha, "bravo": imp}
			l := alphaLog(b)
			r, err := fx2.Receipt("alpha", "bravo", transcript.Checkpoint{Origin: alphaOrigin, Size: 3, Root: rootOf(l.Entries)})
			if err != nil {
				t.Fatal(err)
			}
			l.Checkpoint = r
		}, "checkpoint of alpha's log: " + transcript.ErrCosign.Error() + ": no signature by bravo", nil},
		{"checkpoint cosigned by a third station", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Checkpoint = receipt(t, "alpha", "charlie", transcript.Checkpoint{Origin: alphaOrigin, Size: 3, Root: rootOf(l.Entries)})
		}, "no signature by bravo", nil},
		{"checkpoint not cosigned", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			signed, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: alphaOrigin, Size: 3, Root: rootOf(l.Entries)}, alpha.Keys.Signer())
			if err != nil {
				t.Fatal(err)
			}
			l.Checkpoint = string(signed)
		}, "no signature by bravo", nil},
		{"checkpoint signed by an impostor author", func(t *testing.T, b *transcript.Bundle) {
			imp, err := newFixtureStation("alpha", "red", fx.Time)
			if err != nil {
				t.Fatal(err)
			}
			fx2 := *fx
			fx2.Stations = map[string]*fixtureStation{"alpha": imp, "bravo": bravo}
			l := alphaLog(b)
			r, err := fx2.Receipt("alpha", "bravo", transcript.Checkpoint{Origin: alphaOrigin, Size: 3, Root: rootOf(l.Entries)})
			if err != nil {
				t.Fatal(err)
			}
			l.Checkpoint = r
		}, "no signature by alpha", nil},
		{"checkpoint beyond the entries", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Checkpoint = receipt(t, "alpha", "bravo", transcript.Checkpoint{Origin: alphaOrigin, Size: 4, Root: rootOf(l.Entries)})
		}, "covers 4 entries; the bundle holds 3", nil},
		{"checkpoint of size 0", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Checkpoint = receipt(t, "alpha", "bravo", transcript.Checkpoint{Origin: alphaOrigin, Size: 0, Root: transcript.EmptyRoot()})
		}, "covers 0 entries", nil},
		{"checkpoint for another channel", func(t *testing.T, b *transcript.Bundle) {
			l := alphaLog(b)
			l.Checkpoint = receipt(t, "alpha", "bravo", transcript.Checkpoint{Origin: transcript.Origin("red-blue.2", "alpha"), Size: 3, Root: rootOf(l.Entries)})
		}, `checkpoint of alpha's log names "hotline/red-blue.2/alpha"`, nil},
		{"bravo's receipt in alpha's log", func(t *testing.T, b *transcript.Bundle) {
			alphaLog(b).Checkpoint = b.Logs[1].Checkpoint
		}, "checkpoint of alpha's log", nil},
		{"checkpoint garbage", func(t *testing.T, b *transcript.Bundle) {
			alphaLog(b).Checkpoint = "hello"
		}, "checkpoint of alpha's log: " + transcript.ErrCheckpoint.Error(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := cloneBundle(fx.Bundle)
			tt.edit(t, b)
			// The exporter signs what it exports, edits and all: each
			// variant is refused for what it is, not for a stale export
			// statement (TestVerifyExportStatement checks that).
			if b.Format == transcript.BundleFormat {
				if err := b.Seal(alpha.Keys.Signer()); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := transcript.Verify(b)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				var got []uint64
				for _, l := range rep.Logs {
					got = append(got, l.Receipted)
				}
				if !slices.Equal(got, tt.receipted) {
					t.Errorf("receipted = %v, want %v", got, tt.receipted)
				}
				return
			}
			if !errors.Is(err, transcript.ErrBundle) {
				t.Fatalf("Verify = %+v, %v; want ErrBundle", rep, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Verify = %v\nwant an error about %q", err, tt.wantErr)
			}
			if rep != nil {
				t.Error("Verify returned a report with an error")
			}
		})
	}
}

// TestVerifyWrapsCauses checks that Verify's error chain carries the
// cause, so that callers can tell a wrong root from a missing receipt.
func TestVerifyWrapsCauses(t *testing.T) {
	fx := mustBundleFixture(t)
	b := cloneBundle(fx.Bundle)
	l := &b.Logs[0]
	cp, err := fx.Receipt("alpha", "bravo", transcript.Checkpoint{
		Origin: transcript.Origin(fx.Channel, "alpha"), Size: 3, Root: rootOf(l.Entries[:2]),
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Checkpoint = cp
	_, err = transcript.Verify(b)
	if !errors.Is(err, transcript.ErrBundle) {
		t.Fatalf("Verify = %v, want ErrBundle", err)
	}
	if !errors.Is(err, transcript.ErrRoot) {
		t.Fatalf("Verify = %v, want it to wrap ErrRoot", err)
	}
}

// TestVerifyFlippedByte flips one bit in every entry of both logs, at
// every offset of the plain header and of the tail (end of the ciphertext
// and the signature) and at a stride through the rest: the bundle must be
// refused each time. (The envelope tests flip every byte of an envelope.)
func TestVerifyFlippedByte(t *testing.T) {
	fx := mustBundleFixture(t)
	stride := 29
	if testing.Short() {
		stride = 211
	}
	for li, l := range fx.Bundle.Logs {
		for ei := range l.Entries {
			t.Run(fmt.Sprintf("%s/%d", l.Author, ei+1), func(t *testing.T) {
				t.Parallel()
				b := cloneBundle(fx.Bundle)
				e := b.Logs[li].Entries[ei]
				const head, tail = 64, 80
				n := 0
				for i := 0; i < len(e); i++ {
					if i >= head && i < len(e)-tail && i%stride != 0 {
						continue
					}
					n++
					e[i] ^= 0x01
					if rep, err := transcript.Verify(b); !errors.Is(err, transcript.ErrBundle) {
						t.Fatalf("flip at byte %d of %d: Verify = %+v, %v; want ErrBundle", i, len(e), rep, err)
					}
					e[i] ^= 0x01
				}
				if n < head+tail {
					t.Fatalf("only %d flips", n)
				}
				if _, err := transcript.Verify(b); err != nil {
					t.Fatalf("restored bundle: %v", err)
				}
			})
		}
	}
}

func TestReadBundle(t *testing.T) {
	fx := mustBundleFixture(t)
	valid, err := json.Marshal(fx.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	got, err := transcript.ReadBundle(bytes.NewReader(valid))
	if err != nil {
		t.Fatalf("ReadBundle: %v", err)
	}
	if !bundlesEqual(got, fx.Bundle) || !got.ExportedAt.Equal(fx.Bundle.ExportedAt) {
		t.Fatal("ReadBundle does not round-trip")
	}
	if _, err := transcript.Verify(got); err != nil {
		t.Fatalf("Verify after ReadBundle: %v", err)
	}

	// edit decodes the valid bundle as generic JSON, edits and re-encodes it.
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(valid, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not JSON", []byte("hotline transcript")},
		{"JSON array", []byte("[]")},
		{"null", []byte("null")},
		{"empty object", []byte("{}")},
		{"truncated", valid[:len(valid)/2]},
		{"unknown top-level field", edit(func(m map[string]any) { m["signature"] = "x" })},
		{"unknown log field", edit(func(m map[string]any) {
			m["logs"].([]any)[0].(map[string]any)["receipts"] = []string{}
		})},
		{"misspelled field", edit(func(m map[string]any) { m["chanel"] = m["channel"]; delete(m, "channel") })},
		{"wrong format", edit(func(m map[string]any) { m["format"] = "hotline-transcript/v3" })},
		{"format in other case", edit(func(m map[string]any) { m["format"] = strings.ToUpper(transcript.BundleFormat) })},
		{"missing format", edit(func(m map[string]any) { delete(m, "format") })},
		{"cards not a list", edit(func(m map[string]any) { m["cards"] = "x" })},
		{"entry not base64", edit(func(m map[string]any) {
			m["logs"].([]any)[0].(map[string]any)["entries"] = []string{"!!!"}
		})},
		{"bad time", edit(func(m map[string]any) { m["exported_at"] = "yesterday" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := transcript.ReadBundle(bytes.NewReader(tt.in)); !errors.Is(err, transcript.ErrBundle) {
				t.Fatalf("ReadBundle = %+v, %v; want ErrBundle", b, err)
			}
		})
	}
}

// ExampleVerify exports a bundle as JSON, reads it back and verifies it
// offline, with nothing but the bundle.
func ExampleVerify() {
	fx, err := newBundleFixture()
	if err != nil {
		panic(err)
	}
	var file bytes.Buffer
	if err := json.NewEncoder(&file).Encode(fx.Bundle); err != nil {
		panic(err)
	}

	b, err := transcript.ReadBundle(&file)
	if err != nil {
		panic(err)
	}
	rep, err := transcript.Verify(b)
	if err != nil {
		fmt.Println("transcript does not verify:", err)
		return
	}
	fmt.Printf("channel %s between %s\n", rep.Channel, strings.Join(rep.Parties, " and "))
	for _, l := range rep.Logs {
		fmt.Printf("%s: %d entries, %d receipted\n", l.Author, l.Entries, l.Receipted)
	}

	// Any change to an entry is caught.
	b.Logs[1].Entries[2][40] ^= 1
	_, err = transcript.Verify(b)
	fmt.Println(errors.Is(err, transcript.ErrBundle))
	// Output:
	// channel red-blue.1 between alpha and bravo
	// alpha: 3 entries, 3 receipted
	// bravo: 4 entries, 2 receipted
	// true
}

// TestReadBundleStrict: a name in another case, a repeated name, a null
// and a missing required field are refused, not read leniently.
func TestReadBundleStrict(t *testing.T) {
	fx := mustBundleFixture(t)
	valid, err := json.Marshal(fx.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"name in another case": strings.Replace(string(valid), `"exported_by"`, `"Exported_By"`, 1),
		"repeated name":        strings.Replace(string(valid), `"exported_by":"alpha"`, `"exported_by":"alpha","exported_by":"bravo"`, 1),
		"null":                 strings.Replace(string(valid), `"exported_by":"alpha"`, `"exported_by":null`, 1),
		"missing entries":      strings.Replace(string(valid), `"entries":`, `"entrees":`, 1),
	} {
		if _, err := transcript.ReadBundle(strings.NewReader(data)); !errors.Is(err, transcript.ErrBundle) {
			t.Errorf("%s: ReadBundle = %v, want ErrBundle", name, err)
		}
	}
}

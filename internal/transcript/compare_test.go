package transcript_test

import (
	"errors"
	"strings"
	"testing"

	"hotline/internal/envelope"
	"hotline/internal/transcript"
)

// bravoExport is bravo's export of the fixture's channel at the same
// moment as alpha's: the same logs, its own first.
func bravoExport(t testing.TB, fx *bundleFixture) *transcript.Bundle {
	t.Helper()
	b := cloneBundle(fx.Bundle)
	b.ExportedBy = "bravo"
	b.Cards[0], b.Cards[1] = b.Cards[1], b.Cards[0]
	b.Logs[0], b.Logs[1] = b.Logs[1], b.Logs[0]
	if err := b.Seal(fx.Stations["bravo"].Keys.Signer()); err != nil {
		t.Fatal(err)
	}
	return b
}

func compare(t *testing.T, a, b *transcript.Bundle) (*transcript.Comparison, error) {
	t.Helper()
	ca, err := transcript.Check(a, transcript.Options{})
	if err != nil {
		t.Fatalf("first bundle: %v", err)
	}
	cb, err := transcript.Check(b, transcript.Options{})
	if err != nil {
		t.Fatalf("second bundle: %v", err)
	}
	return transcript.Compare(ca, cb)
}

func TestCompareAgree(t *testing.T) {
	fx := mustBundleFixture(t)
	c, err := compare(t, fx.Bundle, bravoExport(t, fx))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range c.Logs {
		if l.Longer != "" || !strings.Contains(l.Summary, "both exports hold the same") {
			t.Errorf("log of %s: %+v", l.Author, l)
		}
	}
	// alpha wrote one more entry after bravo exported: alpha's copy is
	// longer by one, which bravo had not received.
	a := trick(t, fx, func(b *transcript.Bundle) {
		raw, err := fx.Seal(envelope.Header{Channel: fx.Channel, Author: "alpha", Recipient: "bravo", Index: 4,
			Precedence: envelope.Priority, Kind: envelope.Text}, "alpha", []byte(`{"text":"later"}`))
		if err != nil {
			t.Fatal(err)
		}
		b.Logs[0].Entries = append(b.Logs[0].Entries, raw)
	})
	c, err = compare(t, a, bravoExport(t, fx))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Logs[0]; l.Author != "alpha" || l.Longer != "alpha" || l.By != 1 || l.Copies != [2]int{4, 3} ||
		!strings.Contains(l.Summary, "alpha's export holds 1 more (4), the rest are the same 3 entries: bravo had not received them") {
		t.Errorf("log of alpha: %+v", l)
	}
}

// Each exporter's trick that a single bundle cannot show is caught by
// the other party's export.
func TestCompareCatches(t *testing.T) {
	fx := mustBundleFixture(t)
	other := func(t *testing.T, edit func(b *transcript.Bundle)) *transcript.Bundle {
		b := bravoExport(t, fx)
		edit(b)
		if err := b.Seal(fx.Stations["bravo"].Keys.Signer()); err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tt := range []struct {
		name string
		a, b func(t *testing.T) *transcript.Bundle
		want string
	}{
		{"bravo leaves out alpha's entry it receipted", func(t *testing.T) *transcript.Bundle { return fx.Bundle }, func(t *testing.T) *transcript.Bundle {
			return other(t, func(b *transcript.Bundle) {
				// bravo's copy of alpha's log cut to 2, with an older
				// checkpoint of alpha's that bravo cosigns: one bundle
				// alone would pass, but bravo's own checkpoint says it
				// held 3, so bravo also shows an older one of its own.
				b.Logs[1].Entries = b.Logs[1].Entries[:2]
				cp, err := fx.Receipt("alpha", "bravo", transcript.Checkpoint{Origin: transcript.Origin(fx.Channel, "alpha"), Size: 2, Root: rootOf(b.Logs[1].Entries)})
				if err != nil {
					t.Fatal(err)
				}
				b.Logs[1].Checkpoint = cp
				l := &b.Logs[0]
				l.Entries = l.Entries[:1]
				cp, err = fx.Receipt("bravo", "alpha", transcript.Checkpoint{Origin: transcript.Origin(fx.Channel, "bravo"), Size: 1, Root: rootOf(l.Entries),
					Held: &transcript.Held{Size: 2, Root: rootOf(b.Logs[1].Entries)}})
				if err != nil {
					t.Fatal(err)
				}
				l.Checkpoint = cp
			})
		}, "bravo's export holds 2 entries of alpha's log, but bravo receipted 3 entries of it (the receipt in alpha's export)"},
		{"alpha rolls its own log back", func(t *testing.T) *transcript.Bundle {
			return trick(t, fx, func(b *transcript.Bundle) {
				l := &b.Logs[0]
				l.Entries = l.Entries[:2]
				cp, err := fx.Receipt("alpha", "bravo", transcript.Checkpoint{Origin: transcript.Origin(fx.Channel, "alpha"), Size: 2, Root: rootOf(l.Entries)})
				if err != nil {
					t.Fatal(err)
				}
				l.Checkpoint = cp
				cp, err = fx.Receipt("bravo", "alpha", transcript.Checkpoint{Origin: transcript.Origin(fx.Channel, "bravo"), Size: 1, Root: rootOf(b.Logs[1].Entries[:1]),
					Held: &transcript.Held{Size: 2, Root: rootOf(l.Entries)}})
				if err != nil {
					t.Fatal(err)
				}
				b.Logs[1].Checkpoint = cp
				b.Logs[1].Entries = b.Logs[1].Entries[:1]
			})
		}, func(t *testing.T) *transcript.Bundle { return bravoExport(t, fx) }, "alpha's export holds 2 entries of alpha's log, but bravo's export holds 3 entries of it, all signed by alpha"},
		{"two versions of alpha's entry 3", func(t *testing.T) *transcript.Bundle {
			return trick(t, fx, func(b *transcript.Bundle) {
				raw, err := fx.Seal(envelope.Header{Channel: fx.Channel, Author: "alpha", Recipient: "bravo", Index: 3,
					Precedence: envelope.Priority, Kind: envelope.Text}, "alpha", []byte(`{"text":"the other version"}`))
				if err != nil {
					t.Fatal(err)
				}
				b.Logs[0].Entries[2] = raw
				b.Logs[0].Checkpoint = ""
				b.Logs[1].Checkpoint = ""
				cp, err := fx.Receipt("bravo", "alpha", transcript.Checkpoint{Origin: transcript.Origin(fx.Channel, "bravo"), Size: 2, Root: rootOf(b.Logs[1].Entries[:2])})
				if err != nil {
					t.Fatal(err)
				}
				b.Logs[1].Checkpoint = cp
			})
		}, func(t *testing.T) *transcript.Bundle { return bravoExport(t, fx) }, "red-blue.1/alpha/3 differs between alpha's export and bravo's: alpha signed two different entries"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compare(t, tt.a(t), tt.b(t))
			if !errors.Is(err, transcript.ErrBundle) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Compare = %v\nwant %q", err, tt.want)
			}
		})
	}
}

package identity_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"hotline/internal/identity"
)

func TestIntroduction(t *testing.T) {
	jpn, chn, phl := mustKeys(t, "JPN"), mustKeys(t, "CHN"), mustKeys(t, "PHL")
	jpnCard, chnCard, phlCard := mustCard(t, jpn, "JPN", nil), mustCard(t, chn, "CHN", nil), mustCard(t, phl, "PHL", nil)
	in, err := identity.Introduce(jpn, chnCard, testNow.Add(-time.Hour), testNow)
	if err != nil {
		t.Fatal(err)
	}
	got, err := identity.ParseIntroduction(in.Text, jpnCard)
	if err != nil {
		t.Fatal(err)
	}
	if got.Introducer != "JPN" || got.Peer != "CHN" || got.Party != "CHN" || got.Fingerprint != chnCard.Fingerprint() ||
		!got.PinnedAt.Equal(testNow.Add(-time.Hour).Truncate(time.Second)) || !got.At.Equal(testNow.Truncate(time.Second)) {
		t.Errorf("parsed %+v", got)
	}
	if err := got.Introduces(chnCard); err != nil {
		t.Error(err)
	}
	if err := got.Introduces(phlCard); !errors.Is(err, identity.ErrIntroduction) {
		t.Errorf("Introduces(another card) = %v", err)
	}
	// Checked with a card that is not the introducer's, or by a key that
	// calls itself JPN.
	if _, err := identity.ParseIntroduction(in.Text, phlCard); err == nil || !strings.Contains(err.Error(), "JPN's introduction, not PHL's") {
		t.Errorf("checked against PHL: %v", err)
	}
	impostor := mustKeys(t, "JPN")
	fake, _ := identity.Introduce(impostor, chnCard, testNow, testNow)
	if _, err := identity.ParseIntroduction(fake.Text, jpnCard); err == nil || !strings.Contains(err.Error(), "not signed by JPN's pinned key") {
		t.Errorf("an impostor's introduction: %v", err)
	}
	// One byte of the signed text changed.
	bent := bytes.Replace(in.Text, []byte("party CHN"), []byte("party CHM"), 1)
	if _, err := identity.ParseIntroduction(bent, jpnCard); !errors.Is(err, identity.ErrIntroduction) {
		t.Errorf("a changed introduction: %v", err)
	}
}

func FuzzParseIntroduction(f *testing.F) {
	jpn, chn := mustKeys(f, "JPN"), mustKeys(f, "CHN")
	jpnCard := mustCard(f, jpn, "JPN", nil)
	in, err := identity.Introduce(jpn, mustCard(f, chn, "CHN", nil), testNow, testNow)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(in.Text)
	f.Add([]byte("hotline introduction v1\n\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := identity.ParseIntroduction(data, jpnCard)
		if err != nil {
			if !errors.Is(err, identity.ErrIntroduction) || got != nil {
				t.Fatalf("error %v is not ErrIntroduction, or came with an introduction", err)
			}
			return
		}
		if !bytes.Equal(got.Text, data) {
			t.Fatal("Text differs from the input")
		}
		// Only what JPN's key signed parses: an introduction by JPN.
		if got.Introducer != "JPN" {
			t.Fatalf("parsed an introduction by %s with JPN's card", got.Introducer)
		}
	})
}

package transcript_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	formats "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"hotline/internal/transcript"
)

// TestReceiptTimes: each receipt in a bundle carries when the other
// party cosigned, and Verify reports it; a receipt made before receipts
// carried a time (a plain note signature) still verifies, without one.
func TestReceiptTimes(t *testing.T) {
	fx := mustBundleFixture(t)
	rep, err := transcript.Verify(fx.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rep.Logs {
		if !l.ReceiptTime.Equal(fx.receiptTime()) {
			t.Errorf("log of %s: receipt time %v, want %v", l.Author, l.ReceiptTime, fx.receiptTime())
		}
	}
	// An old receipt: bravo's plain note signature.
	b := trick(t, fx, func(b *transcript.Bundle) {
		l := &b.Logs[0]
		signed, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin(fx.Channel, "alpha"), Size: 3, Root: rootOf(l.Entries)},
			fx.Stations["alpha"].Keys.Signer())
		if err != nil {
			t.Fatal(err)
		}
		r, err := transcript.Cosign(signed, fx.Stations["alpha"].V, fx.Stations["bravo"].Keys.Signer())
		if err != nil {
			t.Fatal(err)
		}
		l.Checkpoint = string(r)
	})
	rep, err = transcript.Verify(b)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Logs[0].Receipted != 3 || !rep.Logs[0].ReceiptTime.IsZero() {
		t.Errorf("old receipt: %d receipted at %v", rep.Logs[0].Receipted, rep.Logs[0].ReceiptTime)
	}
	// A receipt whose time was changed after signing does not verify.
	b = cloneBundle(fx.Bundle)
	l := &b.Logs[0]
	i := strings.LastIndex(l.Checkpoint, "— bravo ")
	line := l.Checkpoint[i+len("— bravo "):]
	raw := mustB64(t, strings.TrimSpace(line))
	raw[11]++ // the low byte of the timestamp
	l.Checkpoint = l.Checkpoint[:i] + "— bravo " + b64(raw) + "\n"
	if err := b.Seal(fx.Stations["alpha"].Keys.Signer()); err != nil {
		t.Fatal(err)
	}
	refused(t, b, "checkpoint of alpha's log")
}

// TestIndependentImplementations checks a bundle's checkpoints, receipts
// and export statement with golang.org/x/mod/sumdb/note and
// github.com/transparency-dev/formats/note: two implementations of C2SP
// signed-note and tlog-cosignature written without this project.
func TestIndependentImplementations(t *testing.T) {
	fx := mustBundleFixture(t)
	vkey := func(name string) string {
		t.Helper()
		k, err := note.NewEd25519VerifierKey(name, fx.Stations[name].Keys.SignPublic())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	plain := func(name string) note.Verifier {
		v, err := note.NewVerifier(vkey(name))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cosig := func(name string) note.Verifier {
		v, err := formats.NewVerifierForCosignatureV1(vkey(name))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	other := map[string]string{"alpha": "bravo", "bravo": "alpha"}
	for _, l := range fx.Bundle.Logs {
		n, err := note.Open([]byte(l.Checkpoint), note.VerifierList(plain(l.Author), cosig(other[l.Author])))
		if err != nil || len(n.Sigs) != 2 {
			t.Fatalf("checkpoint of %s's log with the independent verifiers: %v", l.Author, err)
		}
		for _, s := range n.Sigs {
			if s.Name != other[l.Author] {
				continue
			}
			when, err := formats.CoSigV1Timestamp(s)
			if err != nil || !when.Equal(fx.receiptTime()) {
				t.Errorf("receipt of %s's log: time %v, %v; want %v", l.Author, when, err, fx.receiptTime())
			}
		}
	}
	if _, err := note.Open([]byte(fx.Bundle.Export), note.VerifierList(plain("alpha"))); err != nil {
		t.Errorf("export statement: %v", err)
	}
	// And the other way: a cosignature made by the independent
	// implementation verifies here, with its time.
	k := fx.Stations["bravo"].Keys
	skey := "PRIVATE+KEY+bravo+" + strings.Split(vkey("bravo"), "+")[1] + "+" + b64(append([]byte{1}, k.Sign.Seed()...))
	signer, err := formats.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := transcript.SignCheckpoint(transcript.Checkpoint{Origin: transcript.Origin(fx.Channel, "alpha"), Size: 3,
		Root: rootOf(fx.Bundle.Logs[0].Entries)}, fx.Stations["alpha"].Keys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Truncate(time.Second)
	cosigned, err := transcript.Cosign(signed, fx.Stations["alpha"].V, signer)
	if err != nil {
		t.Fatal(err)
	}
	r, err := transcript.OpenReceipt(cosigned, fx.Stations["alpha"].V, transcript.ReceiptVerifiers("bravo", ed25519.PublicKey(k.SignPublic()))...)
	if err != nil || r.Size != 3 || r.Time.Before(before) || r.Time.After(time.Now()) {
		t.Errorf("a cosignature by transparency-dev/formats: %+v, %v", r, err)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

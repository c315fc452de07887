package envelope_test

import (
	"bytes"
	"errors"
	"testing"

	"hotline/internal/envelope"
)

// TestDisclose: one entry's own key opens that entry, and only it; a key
// its author did not commit to is refused, even one that is another
// entry's; version 2 entries, sealed under the epoch's key, still open.
func TestDisclose(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	ep, err := envelope.NewEpoch(bravo.kem.PublicKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var es []*envelope.Envelope
	bodies := [][]byte{[]byte(`{"text":"we warned you at 10:02"}`), []byte(`{"text":"a second entry"}`)}
	for i, body := range bodies {
		h := envelope.Header{Channel: "usa-chn", Author: "alpha", Recipient: "bravo", Index: uint64(i + 1), Precedence: envelope.Flash, Kind: envelope.Text}
		raw, err := ep.Seal(h, body, i == 0, alpha.sign)
		if err != nil {
			t.Fatal(err)
		}
		e, err := envelope.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	// The recipient opens the epoch, and hands over entry 1's key.
	rep, err := es[0].OpenEpoch(bravo.kem)
	if err != nil {
		t.Fatal(err)
	}
	k1 := es[0].EntryKey(rep)
	if got, err := es[0].OpenDisclosed(k1); err != nil || !bytes.Equal(got, bodies[0]) {
		t.Fatalf("entry 1 with its key: %q, %v", got, err)
	}
	if _, err := es[1].OpenDisclosed(k1); !errors.Is(err, envelope.ErrOpen) {
		t.Errorf("entry 2 opened with entry 1's key: %v", err)
	}
	if got, err := es[1].OpenDisclosed(es[1].EntryKey(rep)); err != nil || !bytes.Equal(got, bodies[1]) {
		t.Errorf("entry 2 with its key: %q, %v", got, err)
	}
	bad := bytes.Clone(k1)
	bad[0] ^= 1
	if _, err := es[0].OpenDisclosed(bad); !errors.Is(err, envelope.ErrOpen) {
		t.Errorf("entry 1 with a changed key: %v", err)
	}
	// The author, holding the epoch it sealed with, derives the same key.
	if !bytes.Equal(es[0].EntryKey(ep), k1) {
		t.Error("the author's and the recipient's keys of entry 1 differ")
	}
	// A version 2 entry opens as before, and has no key of its own.
	raw, err := ep.SealV2(envelope.Header{Channel: "usa-chn", Author: "alpha", Recipient: "bravo", Index: 3, Precedence: envelope.Routine, Kind: envelope.Text},
		[]byte(`{"text":"old"}`), false, alpha.sign)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := envelope.Parse(raw)
	if err != nil || e2.Version != 2 {
		t.Fatalf("version 2 entry: %v", err)
	}
	if got, err := e2.OpenIn(rep); err != nil || string(got) != `{"text":"old"}` {
		t.Errorf("version 2 entry opens: %q, %v", got, err)
	}
	if _, err := e2.OpenDisclosed(k1); !errors.Is(err, envelope.ErrOpen) {
		t.Errorf("a version 2 entry disclosed: %v", err)
	}
}

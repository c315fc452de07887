package envelope_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"hotline/internal/envelope"
)

// FuzzParseEnvelope checks that Parse never panics, that every error is
// one a caller can test for, and that anything that verifies under the
// seeds' author key is byte for byte one of the seeds. The seeds are of
// both versions, and of a key epoch's run: an entry that begins no epoch
// is opened with the run's.
func FuzzParseEnvelope(f *testing.F) {
	alpha, bravo := newParty(f), newParty(f)
	type seed struct {
		raw  []byte
		body []byte
	}
	var seeds []seed
	add := func(raw, body []byte, err error) {
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, seed{raw, body})
		f.Add(raw)
	}
	run, err := envelope.NewEpoch(bravo.kem.PublicKey(), nil)
	if err != nil {
		f.Fatal(err)
	}
	h := testHeader()
	body := []byte(`{"text":"hello"}`)
	raw, err := run.Seal(h, body, true, alpha.sign)
	add(raw, body, err)
	raw, err = envelope.Seal(h, body, bravo.kem.PublicKey(), alpha.sign)
	add(raw, body, err)
	raw, err = envelope.SealV1(h, body, bravo.kem.PublicKey(), alpha.sign)
	add(raw, body, err)
	h.Index, h.Kind, h.Precedence = 1, envelope.Agreement, envelope.Flash
	body = []byte(`{"charter":"hotline channel charter v1\n"}`)
	raw, err = run.Seal(h, body, false, alpha.sign)
	add(raw, body, err)
	h.Index, h.Kind, h.Precedence = 2, envelope.Ack, envelope.Routine
	raw, err = run.Seal(h, nil, false, alpha.sign)
	add(raw, nil, err)
	f.Add([]byte("HLE1"))
	f.Add([]byte("HLE2"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := envelope.Parse(data)
		if err != nil {
			if !errors.Is(err, envelope.ErrMalformed) && !errors.Is(err, envelope.ErrTooLarge) {
				t.Fatalf("Parse error %v is neither ErrMalformed nor ErrTooLarge", err)
			}
			if e != nil {
				t.Fatal("Parse returned an envelope and an error")
			}
			return
		}
		if !bytes.Equal(e.Raw, data) {
			t.Fatal("Raw differs from the input")
		}
		if len(data) > envelope.MaxSize {
			t.Fatalf("Parse accepted %d bytes", len(data))
		}
		if len(e.Sig) != ed25519.SignatureSize || !e.Precedence.Valid() || !e.Kind.Valid() || e.Index == 0 ||
			e.Channel == "" || e.Author == "" || e.Recipient == "" {
			t.Fatalf("Parse accepted an invalid header: %+v", e.Header)
		}
		verr := e.Verify(alpha.pub())
		if verr != nil && !errors.Is(verr, envelope.ErrSignature) {
			t.Fatalf("Verify error %v is not ErrSignature", verr)
		}
		body, oerr := e.Open(bravo.kem)
		if !e.BeginsEpoch() {
			if !errors.Is(oerr, envelope.ErrNoEpoch) {
				t.Fatalf("Open of an entry continuing an epoch: %v, want ErrNoEpoch", oerr)
			}
			body, oerr = e.OpenIn(run)
		}
		if oerr != nil && !errors.Is(oerr, envelope.ErrOpen) {
			t.Fatalf("Open error %v is not ErrOpen", oerr)
		}
		for _, s := range seeds {
			if verr == nil && bytes.Equal(data, s.raw) {
				if oerr != nil || !bytes.Equal(body, s.body) {
					t.Fatalf("seed does not open: %v", oerr)
				}
				return
			}
		}
		if verr == nil {
			t.Fatalf("an envelope that is not a seed verifies under the seeds' key: %x", data)
		}
		if oerr == nil {
			// Only a change to the signature can leave the body opening;
			// the signed part must then be a seed's.
			for _, s := range seeds {
				n := len(s.raw) - ed25519.SignatureSize
				if len(data) == len(s.raw) && bytes.Equal(data[:n], s.raw[:n]) && bytes.Equal(body, s.body) {
					return
				}
			}
			t.Fatalf("an envelope whose signed part is not a seed's opens to %q", body)
		}
	})
}

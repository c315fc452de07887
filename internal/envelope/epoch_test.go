package envelope_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"

	"hotline/internal/envelope"
)

// sealRun seals n entries of one log under one epoch: the first carries
// the encapsulation, the rest continue it.
func sealRun(t *testing.T, from, to party, n int) (*envelope.Epoch, [][]byte) {
	t.Helper()
	ep, err := envelope.NewEpoch(to.kem.PublicKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	for i := range n {
		h := testHeader()
		h.Index = uint64(i + 1)
		raw, err := ep.Seal(h, fmt.Appendf(nil, "message %d", i+1), i == 0, from.sign)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	return ep, raws
}

func TestEpochRun(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	_, raws := sealRun(t, alpha, bravo, 5)
	var ep *envelope.Epoch
	for i, raw := range raws {
		e, err := envelope.Parse(raw)
		if err != nil {
			t.Fatalf("entry %d: Parse: %v", i+1, err)
		}
		if err := e.Verify(alpha.pub()); err != nil {
			t.Fatalf("entry %d: Verify: %v", i+1, err)
		}
		if e.Version != 3 {
			t.Errorf("entry %d: version %d", i+1, e.Version)
		}
		if got, want := e.BeginsEpoch(), i == 0; got != want {
			t.Errorf("entry %d: BeginsEpoch = %v, want %v", i+1, got, want)
		}
		if i == 0 {
			if ep, err = e.OpenEpoch(bravo.kem); err != nil {
				t.Fatalf("OpenEpoch: %v", err)
			}
			// A KEM decapsulates with any key (implicit rejection): the
			// wrong key gives a wrong epoch, found when the body does
			// not open.
			wrong, err := e.OpenEpoch(alpha.kem)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.OpenIn(wrong); !errors.Is(err, envelope.ErrOpen) {
				t.Errorf("OpenIn with an epoch opened by the author's key = %v, want ErrOpen", err)
			}
			if _, err := e.Open(alpha.kem); !errors.Is(err, envelope.ErrOpen) {
				t.Errorf("Open with the author's key = %v, want ErrOpen", err)
			}
		} else {
			// The encapsulation is carried once: a continuing entry is
			// smaller than the first by its 1,120 bytes.
			if d := len(raws[0]) - len(raw); d != 1120 {
				t.Errorf("entry %d is %d bytes smaller than the first, want 1120", i+1, d)
			}
			if _, err := e.Open(bravo.kem); !errors.Is(err, envelope.ErrNoEpoch) {
				t.Errorf("entry %d: Open without its epoch = %v, want ErrNoEpoch", i+1, err)
			}
			if _, err := e.OpenIn(nil); !errors.Is(err, envelope.ErrNoEpoch) {
				t.Errorf("entry %d: OpenIn(nil) = %v, want ErrNoEpoch", i+1, err)
			}
		}
		body, err := e.OpenIn(ep)
		if err != nil {
			t.Fatalf("entry %d: OpenIn: %v", i+1, err)
		}
		if want := fmt.Sprintf("message %d", i+1); string(body) != want {
			t.Errorf("entry %d: body %q, want %q", i+1, body, want)
		}
		// An epoch made again of its key opens the same.
		restored, err := envelope.EpochFromKey(ep.Key())
		if err != nil {
			t.Fatal(err)
		}
		if b2, err := e.OpenIn(restored); err != nil || !bytes.Equal(b2, body) {
			t.Errorf("entry %d: OpenIn(restored) = %q, %v", i+1, b2, err)
		}
	}
}

func TestEpochOtherRunRefused(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	_, a := sealRun(t, alpha, bravo, 2)
	other, _ := sealRun(t, alpha, bravo, 1)
	e, err := envelope.Parse(a[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.OpenIn(other); !errors.Is(err, envelope.ErrOpen) {
		t.Errorf("OpenIn with another run's epoch = %v, want ErrOpen", err)
	}
}

// A continuing entry's header is bound to its body: re-signed with a
// changed header by the author's key, the body no longer opens; nor with
// a flipped nonce.
func TestEpochHeaderBound(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	ep, raws := sealRun(t, alpha, bravo, 2)
	e, _ := envelope.Parse(raws[1])
	for what, at := range map[string]int{
		"a re-signed header": fieldOffset(testHeader(), "index") + 7,
		"a flipped nonce":    len(raws[1]) - ed25519.SignatureSize - len(e.Sealed),
	} {
		b := bytes.Clone(raws[1])
		b[at]++
		e, err := envelope.Parse(resign(alpha.sign, b))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if _, err := e.OpenIn(ep); !errors.Is(err, envelope.ErrOpen) {
			t.Errorf("OpenIn of %s = %v, want ErrOpen", what, err)
		}
	}
}

func TestRestoredEpochCannotBegin(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	ep, _ := sealRun(t, alpha, bravo, 1)
	restored, err := envelope.EpochFromKey(ep.Key())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restored.Seal(testHeader(), []byte("x"), true, alpha.sign); err == nil {
		t.Error("a restored epoch began a run of entries")
	}
	// Nor can one the recipient opened from an entry.
	_, raws := sealRun(t, alpha, bravo, 1)
	e, err := envelope.Parse(raws[0])
	if err != nil {
		t.Fatal(err)
	}
	opened, err := e.OpenEpoch(bravo.kem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opened.Seal(testHeader(), []byte("x"), true, alpha.sign); err == nil {
		t.Error("an epoch opened from an entry began a run of entries")
	}
	if _, err := envelope.EpochFromKey([]byte("short")); err == nil {
		t.Error("EpochFromKey took a 5-byte key")
	}
}

// Entries of version 1 (one HPKE seal each), as earlier stations stored
// and exported them, still parse, verify and open.
func TestVersion1StillOpens(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	raw, err := envelope.SealV1(testHeader(), []byte("old"), bravo.kem.PublicKey(), alpha.sign)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw[:4]) != "HLE1" {
		t.Fatalf("magic %q", raw[:4])
	}
	e, err := envelope.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if e.Version != 1 || !e.BeginsEpoch() {
		t.Errorf("version %d, BeginsEpoch %v", e.Version, e.BeginsEpoch())
	}
	if err := e.Verify(alpha.pub()); err != nil {
		t.Fatal(err)
	}
	if body, err := e.Open(bravo.kem); err != nil || string(body) != "old" {
		t.Errorf("Open = %q, %v", body, err)
	}
	if _, err := e.OpenEpoch(bravo.kem); !errors.Is(err, envelope.ErrOpen) {
		t.Errorf("OpenEpoch of a version 1 entry = %v, want ErrOpen", err)
	}
	// Version 1 always carries its encapsulation.
	hl := headerLen(testHeader())
	b := append(bytes.Clone(raw[:hl]), 0, 0)
	b = append(b, raw[hl+2+len(e.Enc):]...)
	if _, err := envelope.Parse(resign(alpha.sign, b)); !errors.Is(err, envelope.ErrMalformed) {
		t.Errorf("Parse of a version 1 envelope without enc = %v, want ErrMalformed", err)
	}
}

// TestEpochNonces: an epoch given a source of nonces seals with its
// bytes, and one whose source fails refuses to seal rather than use a
// nonce it did not get.
func TestEpochNonces(t *testing.T) {
	alpha, bravo := newParty(t), newParty(t)
	nonce := bytes.Repeat([]byte{0x5a}, 24)
	ep, err := envelope.NewEpoch(bravo.kem.PublicKey(), bytes.NewReader(nonce))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ep.Seal(testHeader(), []byte("hello"), true, alpha.sign)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, nonce) {
		t.Error("the sealed entry does not carry the nonce read from the source")
	}
	// The source is spent: the next seal has no nonce and is refused.
	h := testHeader()
	h.Index++
	if _, err := ep.Seal(h, []byte("again"), false, alpha.sign); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("Seal with a spent nonce source = %v, want an error naming the nonce", err)
	}
}

package deposit

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"hotline/internal/identity"
)

// checkOpen opens payload as the relay handed it over from the key from,
// and fails t unless the error is one a caller can test for, or what
// opened keeps the rules: a station named as sender, a frame, and the
// payload exactly the smallest class that holds it.
func checkOpen(t *testing.T, payload []byte, from ed25519.PublicKey, self *identity.Keys) *Opened {
	o, err := Open(payload, from, []*identity.Keys{self})
	if err != nil {
		if o != nil {
			t.Fatalf("an error (%v) with something opened", err)
		}
		if !errors.Is(err, ErrSize) && !errors.Is(err, ErrOpen) && !errors.Is(err, ErrContent) {
			t.Fatalf("error %v is none of ErrSize, ErrOpen, ErrContent", err)
		}
		return nil
	}
	if identity.CheckName("sender", o.Sender) != nil || len(o.Frame) == 0 {
		t.Fatalf("opened a frame of %d bytes from %q", len(o.Frame), o.Sender)
	}
	if c, err := ClassFor(len(o.Frame), o.Sender, self.Name); err != nil || c != len(payload) {
		t.Fatalf("a frame of %d bytes opened from a deposit of %d bytes, not its class %d", len(o.Frame), len(payload), c)
	}
	return o
}

// FuzzOpen feeds the opener what a relay could hand over: any payload,
// labelled as from the sender's key or another. Only the seeds open; a
// changed one never does.
func FuzzOpen(f *testing.F) {
	usa, chn := newKeys(f, "USA"), newKeys(f, "CHN")
	var seeds [][]byte
	for _, n := range []int{1, 60, 900, 3000} {
		d := seal(f, frameOf(n), usa, chn)
		seeds = append(seeds, d)
		f.Add(d, true)
		f.Add(d[:len(d)/2], true)
	}
	f.Add([]byte(magic), true)
	f.Add(make([]byte, Classes[0]), false)
	f.Fuzz(func(t *testing.T, payload []byte, fromUSA bool) {
		from := chn.SignPublic()
		if fromUSA {
			from = usa.SignPublic()
		}
		o := checkOpen(t, payload, from, chn)
		if o == nil {
			return
		}
		for _, s := range seeds {
			if bytes.Equal(s, payload) && fromUSA {
				return
			}
		}
		t.Fatalf("a deposit that is none of the seeds opened: %d bytes from %s", len(payload), o.Sender)
	})
}

// FuzzOpenPlaintext seals any plaintext, as a sender might (the sender
// is not trusted more than the relay), at the size of the smallest
// class, and checks what the opener makes of it.
func FuzzOpenPlaintext(f *testing.F) {
	usa, chn := newKeys(f, "USA"), newKeys(f, "CHN")
	room := Classes[0] - Overhead
	good := append([]byte("\x03USA\x03CHN\x00\x00\x05hello"), make([]byte, 64)...)
	f.Add(good)
	f.Add([]byte("\x03USA\x03RUS\x00\x00\x05hello"))
	f.Add([]byte("\x03USA\x03CHN\xff\xff\xff"))
	f.Add([]byte("\x00\x03CHN\x00\x00\x01x"))
	f.Add(append([]byte("\x03USA\x03CHN\x00\x00\x01x"), 1))
	f.Fuzz(func(t *testing.T, pt []byte) {
		if len(pt) > room {
			pt = pt[:room]
		}
		pt = append(bytes.Clone(pt), make([]byte, room-len(pt))...)
		d, err := sealPlain(pt, usa.SignPublic(), "CHN", chn.KEM.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		o := checkOpen(t, d, usa.SignPublic(), chn)
		if o == nil {
			return
		}
		// What opened seals again to the same plaintext: one encoding.
		again := []byte{byte(len(o.Sender))}
		again = append(again, o.Sender...)
		again = append(again, 3, 'C', 'H', 'N', byte(len(o.Frame)>>16), byte(len(o.Frame)>>8), byte(len(o.Frame)))
		again = append(again, o.Frame...)
		again = append(again, make([]byte, room-len(again))...)
		if !bytes.Equal(again, pt) {
			t.Fatalf("the plaintext opened as %q from %s, which is not how it was sealed", o.Frame, o.Sender)
		}
	})
}

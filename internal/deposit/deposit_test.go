package deposit

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"

	"hotline/internal/identity"
	"hotline/internal/relay"
)

func newKeys(t testing.TB, name string) *identity.Keys {
	t.Helper()
	k, err := identity.NewKeys(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sender(k *identity.Keys) Sender { return Sender{Name: k.Name, Key: k.SignPublic()} }

func seal(t testing.TB, frame []byte, from, to *identity.Keys) []byte {
	t.Helper()
	d, err := Seal(frame, sender(from), to.Name, to.KEM.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// frameOf is a frame of n bytes that is not all zeros at its end, so
// that a frame cut short would show.
func frameOf(n int) []byte {
	f := make([]byte, n)
	for i := range f {
		f[i] = byte(i%251 + 1)
	}
	return f
}

func TestClasses(t *testing.T) {
	if MaxSize != relay.MaxPayload {
		t.Fatalf("the largest class is %d bytes, the relay's largest payload %d", MaxSize, relay.MaxPayload)
	}
	for i := 1; i < len(Classes); i++ {
		if Classes[i] <= Classes[i-1] {
			t.Fatalf("classes not increasing: %v", Classes)
		}
	}
	if Classes[0] <= Overhead+fixed("A", "B") {
		t.Fatalf("the smallest class (%d) holds no frame", Classes[0])
	}
}

// TestRoundTrip: frames at the edges of every class open as sealed, each
// deposit exactly the smallest class that holds its frame.
func TestRoundTrip(t *testing.T) {
	usa, chn := newKeys(t, "USA"), newKeys(t, "CHN")
	room := func(c int) int { return c - Overhead - fixed("USA", "CHN") }
	sizes := []int{1, 40}
	for i, c := range Classes {
		sizes = append(sizes, room(c))
		if i+1 < len(Classes) {
			sizes = append(sizes, room(c)+1)
		}
	}
	for _, n := range sizes {
		frame := frameOf(n)
		d := seal(t, frame, usa, chn)
		want, err := ClassFor(n, "USA", "CHN")
		if err != nil {
			t.Fatal(err)
		}
		if len(d) != want || !IsClass(len(d)) {
			t.Fatalf("a frame of %d bytes: a deposit of %d bytes, want the class %d", n, len(d), want)
		}
		o, err := Open(d, usa.SignPublic(), []*identity.Keys{chn})
		if err != nil {
			t.Fatalf("a frame of %d bytes: %v", n, err)
		}
		if o.Sender != "USA" || o.Key != 0 || !bytes.Equal(o.Frame, frame) {
			t.Fatalf("a frame of %d bytes opened as %d bytes from %s with key %d", n, len(o.Frame), o.Sender, o.Key)
		}
	}
	if _, err := Seal(frameOf(room(MaxSize)+1), sender(usa), "CHN", chn.KEM.PublicKey()); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a frame over the largest class: %v", err)
	}
	if _, err := Seal(nil, sender(usa), "CHN", chn.KEM.PublicKey()); err == nil {
		t.Fatal("an empty frame was sealed")
	}
}

// TestNothingInTheClear: a deposit shows neither the frame nor the names,
// and two deposits of the same frame share nothing but the magic.
func TestNothingInTheClear(t *testing.T) {
	usa, chn := newKeys(t, "USA"), newKeys(t, "CHN")
	frame := []byte("\x03\x0cusa-chn-staff\x03USA FLASH secret text")
	a, b := seal(t, frame, usa, chn), seal(t, frame, usa, chn)
	for _, s := range []string{"usa-chn-staff", "USA", "CHN", "FLASH", "secret"} {
		if bytes.Contains(a, []byte(s)) {
			t.Errorf("the deposit holds %q", s)
		}
	}
	if bytes.Equal(a[len(magic):len(magic)+encSize], b[len(magic):len(magic)+encSize]) {
		t.Error("two deposits share an encapsulation")
	}
}

// TestRetiredKey: a deposit sealed to the recipient's earlier card opens
// with its retired keys, and says so; without them it does not open.
func TestRetiredKey(t *testing.T) {
	usa, oldCHN, newCHN := newKeys(t, "USA"), newKeys(t, "CHN"), newKeys(t, "CHN")
	d := seal(t, []byte("status"), usa, oldCHN)
	o, err := Open(d, usa.SignPublic(), []*identity.Keys{newCHN, oldCHN})
	if err != nil || o.Key != 1 || string(o.Frame) != "status" {
		t.Fatalf("opened %+v, %v; want the frame, with key 1", o, err)
	}
	if _, err := Open(d, usa.SignPublic(), []*identity.Keys{newCHN}); !errors.Is(err, ErrOpen) {
		t.Fatalf("without the retired key: %v", err)
	}
}

// TestRefused: everything a relay can do to a deposit, and everything a
// sender can get wrong, is refused with an error a caller can test for.
func TestRefused(t *testing.T) {
	usa, chn, rus := newKeys(t, "USA"), newKeys(t, "CHN"), newKeys(t, "RUS")
	frame := frameOf(500)
	good := seal(t, frame, usa, chn)
	self := []*identity.Keys{chn}
	flip := func(at int) []byte {
		d := bytes.Clone(good)
		d[at] ^= 0x40
		return d
	}
	plain := func(from, to string, f []byte, pad int) []byte {
		pt := []byte{byte(len(from))}
		pt = append(pt, from...)
		pt = append(pt, byte(len(to)))
		pt = append(pt, to...)
		pt = append(pt, byte(len(f)>>16), byte(len(f)>>8), byte(len(f)))
		pt = append(pt, f...)
		return append(pt, make([]byte, pad-Overhead-len(pt))...)
	}
	rawTo := func(pt []byte, to string) []byte {
		d, err := sealPlain(pt, usa.SignPublic(), to, chn.KEM.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	raw := func(pt []byte) []byte { return rawTo(pt, "CHN") }
	badPad := plain("USA", "CHN", frame, Classes[0])
	badPad[len(badPad)-1] = 1
	// A frame length that runs past the plaintext's end.
	long := plain("USA", "CHN", frame, Classes[0])
	long[1+3+1+3] = 0xff
	cases := []struct {
		name    string
		payload []byte
		from    ed25519.PublicKey
		want    error
	}{
		{"magic", flip(0), usa.SignPublic(), ErrOpen},
		{"encapsulation", flip(len(magic) + 7), usa.SignPublic(), ErrOpen},
		{"ciphertext", flip(len(magic) + encSize + 3), usa.SignPublic(), ErrOpen},
		{"padding's ciphertext", flip(len(good) - tagSize - 1), usa.SignPublic(), ErrOpen},
		{"tag", flip(len(good) - 1), usa.SignPublic(), ErrOpen},
		{"truncated", good[:len(good)-1], usa.SignPublic(), ErrSize},
		{"extended", append(bytes.Clone(good), 0), usa.SignPublic(), ErrSize},
		{"empty", nil, usa.SignPublic(), ErrSize},
		{"relabelled sender", good, rus.SignPublic(), ErrOpen},
		{"sealed to another station", seal(t, frame, usa, rus), usa.SignPublic(), ErrOpen},
		{"names another recipient", raw(plain("USA", "RUS", frame, Classes[0])), usa.SignPublic(), ErrContent},
		{"bound to another recipient", rawTo(plain("USA", "CHN", frame, Classes[0]), "RUS"), usa.SignPublic(), ErrOpen},
		{"a sender that is no station name", raw(plain("U S A", "CHN", frame, Classes[0])), usa.SignPublic(), ErrContent},
		{"empty frame", raw(plain("USA", "CHN", nil, Classes[0])), usa.SignPublic(), ErrContent},
		{"frame longer than the plaintext", raw(long), usa.SignPublic(), ErrContent},
		{"padding not zeros", raw(badPad), usa.SignPublic(), ErrContent},
		{"padded to a larger class", raw(plain("USA", "CHN", frame, Classes[1])), usa.SignPublic(), ErrContent},
	}
	for _, c := range cases {
		o, err := Open(c.payload, c.from, self)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: opened %+v, error %v; want %v", c.name, o, err, c.want)
		}
	}
	if _, err := Open(good, usa.SignPublic(), self); err != nil {
		t.Fatalf("the good deposit: %v", err)
	}
}

func ExampleSeal() {
	usa, _ := identity.NewKeys("USA")
	chn, _ := identity.NewKeys("CHN")
	frame := []byte{7, 4, 'o', 'p', 's'} // a probe's first bytes, say
	d, _ := Seal(frame, Sender{Name: "USA", Key: usa.SignPublic()}, "CHN", chn.KEM.PublicKey())
	o, _ := Open(d, usa.SignPublic(), []*identity.Keys{chn})
	fmt.Println(len(d), o.Sender, bytes.Equal(o.Frame, frame))
	// Output: 2048 USA true
}

package transcript

import (
	"crypto/ed25519"
	"fmt"
	"testing"
)

// TestBatch: a batch of good signatures by two keys verifies; any one
// signature, message or key changed makes the batch fail.
func TestBatch(t *testing.T) {
	type sig struct {
		key      ed25519.PublicKey
		msg, sig []byte
	}
	var sigs []sig
	for k := range 2 {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 40 {
			msg := []byte(fmt.Sprintf("entry %d of key %d", i, k))
			sigs = append(sigs, sig{pub, msg, ed25519.Sign(priv, msg)})
		}
	}
	run := func(edit func(i int, s *sig)) bool {
		var b batch
		for i, s := range sigs {
			s.msg, s.sig = append([]byte(nil), s.msg...), append([]byte(nil), s.sig...)
			edit(i, &s)
			b.add(s.key, s.msg, s.sig)
		}
		return b.verify()
	}
	if !run(func(int, *sig) {}) {
		t.Fatal("a batch of good signatures fails")
	}
	var empty batch
	if empty.verify() {
		t.Error("an empty batch verifies")
	}
	for _, at := range []int{0, 17, 40, 79} {
		for name, edit := range map[string]func(s *sig){
			"R changed":       func(s *sig) { s.sig[3] ^= 1 },
			"s changed":       func(s *sig) { s.sig[40] ^= 1 },
			"s not canonical": func(s *sig) { s.sig[63] |= 0xf0 },
			"message changed": func(s *sig) { s.msg[0] ^= 1 },
			"other key":       func(s *sig) { s.key = sigs[(at+40)%80].key },
			"short signature": func(s *sig) { s.sig = s.sig[:63] },
		} {
			if run(func(i int, s *sig) {
				if i == at {
					edit(s)
				}
			}) {
				t.Errorf("signature %d, %s: the batch verifies", at, name)
			}
		}
	}
}

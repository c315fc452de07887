package mediawire

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

// TestLayouts: what a station and a relay accept of each other.
func TestLayouts(t *testing.T) {
	key := make(ed25519.PublicKey, 32)
	key[0] = 7
	tok := [TokenSize]byte{1, 2, 3}
	to := AppendTo(nil, tok, key, []byte("x"))
	if !IsRelay(to) || len(to) != 3+16+32+1 {
		t.Fatalf("packet to the relay: %x", to)
	}
	gt, gk, gp, err := ParseTo(to)
	if err != nil || gt != tok || !gk.Equal(key) || string(gp) != "x" {
		t.Fatalf("ParseTo: %x %x %q %v", gt, gk, gp, err)
	}
	if _, k, p, err := ParseTo(AppendTo(nil, tok, nil, nil)); err != nil || k != nil || len(p) != 0 {
		t.Fatalf("keepalive: %x %q %v", k, p, err)
	}
	from := AppendFrom(nil, key, []byte("y"))
	if k, p, err := ParseFrom(from); err != nil || !k.Equal(key) || string(p) != "y" {
		t.Fatalf("ParseFrom: %x %q %v", k, p, err)
	}
	echo := AppendFrom(nil, nil, nil)
	if k, p, err := ParseFrom(echo); err != nil || k != nil || p != nil {
		t.Fatalf("echo: %x %q %v", k, p, err)
	}
	for name, p := range map[string][]byte{
		"short":          {0x0E, 'H', 'R', 1},
		"not relay":      {0x80, 'H', 'R'},
		"echo with data": append(echo, 1),
		"oversized":      AppendFrom(nil, key, make([]byte, MaxPayload+1)),
	} {
		if _, _, err := ParseFrom(p); !errors.Is(err, ErrPacket) {
			t.Errorf("ParseFrom %s: %v", name, err)
		}
	}
	for name, p := range map[string][]byte{
		"short":               AppendTo(nil, tok, key, nil)[:40],
		"keepalive with data": AppendTo(nil, tok, nil, []byte{1}),
		"oversized":           AppendTo(nil, tok, key, make([]byte, MaxPayload+1)),
		"a probe":             Probe(true, 1, [32]byte{}),
	} {
		if _, _, _, err := ParseTo(p); !errors.Is(err, ErrPacket) {
			t.Errorf("ParseTo %s: %v", name, err)
		}
	}
	k1, k2 := ProbeKey("pwdA", "pwdB"), ProbeKey("pwdC", "pwdB")
	if ProbeKey("pwdB", "pwdA") != k1 {
		t.Error("the probe key depends on the order of the passwords")
	}
	if h, n, ok := ParseProbe(Probe(true, 7, k1), k2, k1); !h || n != 7 || !ok {
		t.Error("probe true")
	}
	if h, n, ok := ParseProbe(Probe(false, 8, k1), k1); h || n != 8 || !ok {
		t.Error("probe false")
	}
	if _, _, ok := ParseProbe(Probe(true, 7, k1), k2); ok {
		t.Error("a probe under another key taken")
	}
	forged := Probe(false, 9, k1)
	forged[3] = 1 // "I hear you", changed on the way
	if _, _, ok := ParseProbe(forged, k1); ok {
		t.Error("an altered probe taken")
	}
	if _, _, ok := ParseProbe(to, k1); ok {
		t.Error("a relay packet taken for a probe")
	}
	if IsRelay(Probe(true, 1, k1)) || !IsProbe(Probe(true, 1, k1)) {
		t.Error("a probe taken for a relay packet")
	}
}

// FuzzParse: the parsers never panic, refuse with ErrPacket, and what
// they accept is encoded again to the same bytes.
func FuzzParse(f *testing.F) {
	key := bytes.Repeat([]byte{9}, 32)
	f.Add(AppendTo(nil, [TokenSize]byte{1}, key, []byte("payload")))
	f.Add(AppendTo(nil, [TokenSize]byte{}, nil, nil))
	f.Add(AppendFrom(nil, key, []byte("p")))
	f.Add(Probe(true, 1, [32]byte{1}))
	f.Fuzz(func(t *testing.T, p []byte) {
		if tok, to, payload, err := ParseTo(p); err != nil {
			if !errors.Is(err, ErrPacket) {
				t.Fatal(err)
			}
		} else if again := AppendTo(nil, tok, to, payload); !bytes.Equal(again, p) {
			t.Fatalf("ParseTo then AppendTo: %x → %x", p, again)
		}
		if from, payload, err := ParseFrom(p); err != nil {
			if !errors.Is(err, ErrPacket) {
				t.Fatal(err)
			}
		} else if again := AppendFrom(nil, from, payload); !bytes.Equal(again, p) {
			t.Fatalf("ParseFrom then AppendFrom: %x → %x", p, again)
		}
		if h, n, ok := ParseProbe(p, [32]byte{1}); ok && !bytes.Equal(Probe(h, n, [32]byte{1}), p) {
			t.Fatalf("probe %x", p)
		}
	})
}

package envelope_test

import (
	"strings"
	"testing"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/identity"
)

func benchKeys(b *testing.B) (a, r *identity.Keys) {
	b.Helper()
	a, err := identity.NewKeys("A")
	if err != nil {
		b.Fatal(err)
	}
	r, err = identity.NewKeys("B")
	if err != nil {
		b.Fatal(err)
	}
	return a, r
}

var benchHeader = envelope.Header{Channel: "bench", Author: "A", Recipient: "B", Index: 1,
	Precedence: envelope.Flash, Kind: envelope.Text, Time: time.Unix(1_800_000_000, 0)}

// BenchmarkSeal is the author's cost for a message that begins a key
// epoch: HPKE (ML-KEM-768 + X25519) encapsulation and export,
// XChaCha20-Poly1305, Ed25519 signature.
func BenchmarkSeal(b *testing.B) {
	a, r := benchKeys(b)
	body := []byte(`{"text":"` + strings.Repeat("x", 256) + `"}`)
	pub := r.KEM.PublicKey()
	for b.Loop() {
		if _, err := envelope.Seal(benchHeader, body, pub, a.Sign); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseVerifyOpen is the receiver's cost for a message that
// begins a key epoch: decapsulation included.
func BenchmarkParseVerifyOpen(b *testing.B) {
	a, r := benchKeys(b)
	body := []byte(`{"text":"` + strings.Repeat("x", 256) + `"}`)
	raw, err := envelope.Seal(benchHeader, body, r.KEM.PublicKey(), a.Sign)
	if err != nil {
		b.Fatal(err)
	}
	pub := a.SignPublic()
	for b.Loop() {
		e, err := envelope.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Verify(pub); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Open(r.KEM); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEpochSeal is the author's cost per message that continues a
// key epoch: XChaCha20-Poly1305 and the Ed25519 signature, no
// encapsulation.
func BenchmarkEpochSeal(b *testing.B) {
	a, r := benchKeys(b)
	body := []byte(`{"text":"` + strings.Repeat("x", 256) + `"}`)
	ep, err := envelope.NewEpoch(r.KEM.PublicKey())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ep.Seal(benchHeader, body, false, a.Sign); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEpochParseVerifyOpen is the receiver's cost per message that
// continues a key epoch it holds.
func BenchmarkEpochParseVerifyOpen(b *testing.B) {
	a, r := benchKeys(b)
	body := []byte(`{"text":"` + strings.Repeat("x", 256) + `"}`)
	ep, err := envelope.NewEpoch(r.KEM.PublicKey())
	if err != nil {
		b.Fatal(err)
	}
	raw, err := ep.Seal(benchHeader, body, false, a.Sign)
	if err != nil {
		b.Fatal(err)
	}
	pub := a.SignPublic()
	for b.Loop() {
		e, err := envelope.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Verify(pub); err != nil {
			b.Fatal(err)
		}
		if _, err := e.OpenIn(ep); err != nil {
			b.Fatal(err)
		}
	}
}

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

var benchBody = []byte(`{"text":"` + strings.Repeat("x", 256) + `"}`)

// benchSeal measures seal, which builds an envelope of benchBody.
func benchSeal(b *testing.B, seal func(body []byte) ([]byte, error)) {
	for b.Loop() {
		if _, err := seal(benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

// benchOpen measures what a receiver does with raw: parse, verify the
// author's signature, and open the body with open.
func benchOpen(b *testing.B, raw []byte, author *identity.Keys, open func(*envelope.Envelope) ([]byte, error)) {
	pub := author.SignPublic()
	for b.Loop() {
		e, err := envelope.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Verify(pub); err != nil {
			b.Fatal(err)
		}
		if _, err := open(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeal is the author's cost for a message that begins a key
// epoch: HPKE (ML-KEM-768 + X25519) encapsulation and export,
// XChaCha20-Poly1305, Ed25519 signature.
func BenchmarkSeal(b *testing.B) {
	a, r := benchKeys(b)
	benchSeal(b, func(body []byte) ([]byte, error) { return envelope.Seal(benchHeader, body, r.KEM.PublicKey(), a.Sign) })
}

// BenchmarkParseVerifyOpen is the receiver's cost for a message that
// begins a key epoch: decapsulation included.
func BenchmarkParseVerifyOpen(b *testing.B) {
	a, r := benchKeys(b)
	raw, err := envelope.Seal(benchHeader, benchBody, r.KEM.PublicKey(), a.Sign)
	if err != nil {
		b.Fatal(err)
	}
	benchOpen(b, raw, a, func(e *envelope.Envelope) ([]byte, error) { return e.Open(r.KEM) })
}

// benchEpoch begins an epoch from a to r.
func benchEpoch(b *testing.B) (a, r *identity.Keys, ep *envelope.Epoch) {
	a, r = benchKeys(b)
	ep, err := envelope.NewEpoch(r.KEM.PublicKey(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return a, r, ep
}

// BenchmarkEpochSeal is the author's cost per message that continues a
// key epoch: XChaCha20-Poly1305 and the Ed25519 signature, no
// encapsulation.
func BenchmarkEpochSeal(b *testing.B) {
	a, _, ep := benchEpoch(b)
	benchSeal(b, func(body []byte) ([]byte, error) { return ep.Seal(benchHeader, body, false, a.Sign) })
}

// BenchmarkEpochParseVerifyOpen is the receiver's cost per message that
// continues a key epoch it holds.
func BenchmarkEpochParseVerifyOpen(b *testing.B) {
	a, _, ep := benchEpoch(b)
	raw, err := ep.Seal(benchHeader, benchBody, false, a.Sign)
	if err != nil {
		b.Fatal(err)
	}
	benchOpen(b, raw, a, func(e *envelope.Envelope) ([]byte, error) { return e.OpenIn(ep) })
}

package transcript

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"

	"filippo.io/edwards25519"
)

// batch checks many Ed25519 signatures at once, by the batch equation of
// github.com/hdevalence/ed25519consensus (ZIP-215):
//
//	[8]( [-Σ z_i s_i]B + Σ [z_i]R_i + Σ [z_i k_i]A_i ) = 0
//
// with z_i random 128-bit scalars and k_i = SHA-512(R_i || A_i || M_i).
// The signatures of a log come from one or two keys, so the terms of one
// key are summed into one, [Σ z_i k_i]A: the same equation, with half the
// points to decompress and to multiply. A batch that fails says only that
// some signature is bad; the caller then checks them one by one with
// crypto/ed25519. Every signature crypto/ed25519 accepts satisfies the
// equation; those it accepts beyond them (the cofactored equation, and
// non-canonical R) can be made only by the key's holder.
type batch struct {
	keys  []ed25519.PublicKey
	kcoef []edwards25519.Scalar // by key: Σ z_i k_i
	bcoef edwards25519.Scalar   // Σ z_i s_i
	rs    []edwards25519.Point
	zs    []edwards25519.Scalar
	bad   bool
}

// add adds a signature of msg by key.
func (b *batch) add(key ed25519.PublicKey, msg, sig []byte) {
	if len(key) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		b.bad = true
		return
	}
	var r edwards25519.Point
	if _, err := r.SetBytes(sig[:32]); err != nil {
		b.bad = true
		return
	}
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:])
	if err != nil {
		b.bad = true
		return
	}
	var zb [32]byte
	if _, err := rand.Read(zb[:16]); err != nil {
		b.bad = true
		return
	}
	z, err := new(edwards25519.Scalar).SetCanonicalBytes(zb[:])
	if err != nil {
		b.bad = true
		return
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(key)
	h.Write(msg)
	k, err := new(edwards25519.Scalar).SetUniformBytes(h.Sum(nil))
	if err != nil {
		b.bad = true
		return
	}
	b.bcoef.MultiplyAdd(z, s, &b.bcoef)
	i := b.key(key)
	b.kcoef[i].MultiplyAdd(z, k, &b.kcoef[i])
	b.rs = append(b.rs, r)
	b.zs = append(b.zs, *z)
}

// key returns the index of key among the batch's keys, adding it.
func (b *batch) key(key ed25519.PublicKey) int {
	for i, k := range b.keys {
		if k.Equal(key) {
			return i
		}
	}
	b.keys = append(b.keys, key)
	b.kcoef = append(b.kcoef, edwards25519.Scalar{})
	return len(b.keys) - 1
}

// verify reports whether every signature added is good.
func (b *batch) verify() bool {
	if b.bad || len(b.rs) == 0 {
		return false
	}
	n := 1 + len(b.rs) + len(b.keys)
	scalars := make([]*edwards25519.Scalar, 0, n)
	points := make([]*edwards25519.Point, 0, n)
	scalars = append(scalars, new(edwards25519.Scalar).Negate(&b.bcoef))
	points = append(points, edwards25519.NewGeneratorPoint())
	for i := range b.rs {
		scalars = append(scalars, &b.zs[i])
		points = append(points, &b.rs[i])
	}
	for i, key := range b.keys {
		a, err := new(edwards25519.Point).SetBytes(key)
		if err != nil {
			return false
		}
		scalars = append(scalars, &b.kcoef[i])
		points = append(points, a)
	}
	check := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
	check.MultByCofactor(check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}

package transcript

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Receipts are C2SP tlog-cosignature v1 signatures
// (https://c2sp.org/tlog-cosignature): the receiver signs, with its
// Ed25519 key, "cosignature/v1\ntime <seconds>\n" followed by the
// checkpoint's text, and the signature line carries the time. A receipt
// thus proves when the receiver's station held the entries: "received by
// CHN's station at T", by CHN's clock and CHN's signature.
//
// Its key ID is SHA-256(name || "\n" || 0x04 || public key)[:4], unlike a
// note signature's (0x01), so the same key serves both without one being
// taken for the other.

const (
	algCosignatureV1 = 0x04
	cosignHeader     = "cosignature/v1\n"
)

// cosignKeyHash is the key ID of a cosignature/v1 key.
func cosignKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// cosignMessage is what a cosignature/v1 signs.
func cosignMessage(t uint64, text []byte) []byte {
	return append([]byte(cosignHeader+"time "+strconv.FormatUint(t, 10)+"\n"), text...)
}

// Cosigner is a note.Signer that makes cosignature/v1 signatures, at the
// time its clock gives (whole seconds).
type Cosigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	now  func() time.Time
}

// NewCosigner returns the cosigner of the station name with its signing
// key, reading the time from now.
func NewCosigner(name string, key ed25519.PrivateKey, now func() time.Time) *Cosigner {
	return &Cosigner{name: name, hash: cosignKeyHash(name, key.Public().(ed25519.PublicKey)), key: key, now: now}
}

func (s *Cosigner) Name() string    { return s.name }
func (s *Cosigner) KeyHash() uint32 { return s.hash }

// Sign returns the timestamp and the signature, as C2SP's
// timestamped_signature.
func (s *Cosigner) Sign(msg []byte) ([]byte, error) {
	t := s.now().Unix()
	if t < 0 {
		return nil, fmt.Errorf("cosigning at %v, before 1970", s.now())
	}
	out := binary.BigEndian.AppendUint64(nil, uint64(t))
	return append(out, ed25519.Sign(s.key, cosignMessage(uint64(t), msg))...), nil
}

// CosignVerifier is the note.Verifier of a station's cosignature/v1
// signatures.
type CosignVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

// NewCosignVerifier returns the verifier of name's cosignatures by key.
func NewCosignVerifier(name string, key ed25519.PublicKey) *CosignVerifier {
	return &CosignVerifier{name: name, hash: cosignKeyHash(name, key), key: key}
}

func (v *CosignVerifier) Name() string    { return v.name }
func (v *CosignVerifier) KeyHash() uint32 { return v.hash }

// Verify checks a timestamped signature over msg.
func (v *CosignVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.key, cosignMessage(t, msg), sig[8:])
}

// ErrNoTime marks a receipt cosigned without a time: a plain note
// signature, as receipts were before cosignature/v1.
var ErrNoTime = errors.New("the cosignature carries no time")

// CosignTime returns the time in the signature of n by v, a
// CosignVerifier; ErrNoTime if v is not one.
func CosignTime(n *note.Note, v note.Verifier) (time.Time, error) {
	if _, ok := v.(*CosignVerifier); !ok {
		return time.Time{}, ErrNoTime
	}
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			raw, err := base64.StdEncoding.DecodeString(s.Base64)
			if err != nil || len(raw) < 12 {
				return time.Time{}, fmt.Errorf("%w: malformed cosignature", ErrCosign)
			}
			return time.Unix(int64(binary.BigEndian.Uint64(raw[4:12])), 0).UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: no signature by %s", ErrCosign, v.Name())
}

// ReceiptVerifiers are the two ways a station's key cosigns a receipt:
// cosignature/v1, with its time, and the plain note signature of
// receipts made before it.
func ReceiptVerifiers(name string, key ed25519.PublicKey) []note.Verifier {
	vkey, err := note.NewEd25519VerifierKey(name, key)
	if err != nil {
		panic(err) // only for a bad name or key size
	}
	plain, err := note.NewVerifier(vkey)
	if err != nil {
		panic(err)
	}
	return []note.Verifier{NewCosignVerifier(name, key), plain}
}

// Receipt is an opened receipt: the checkpoint, and when the receiver
// cosigned it (zero for a receipt without a time).
type Receipt struct {
	Checkpoint
	Time time.Time
	// By is the verifier whose signature cosigned it.
	By note.Verifier
}

// OpenReceipt opens a checkpoint signed by author and cosigned by one of
// receivers (each a verifier of ReceiptVerifiers, or any note verifier).
func OpenReceipt(signed []byte, author note.Verifier, receivers ...note.Verifier) (Receipt, error) {
	var first error
	for _, rv := range receivers {
		cp, n, err := OpenCheckpoint(signed, author, rv)
		if err != nil {
			if first == nil {
				first = err // the reason for the usual kind, not the oldest
			}
			continue
		}
		r := Receipt{Checkpoint: cp, By: rv}
		if t, err := CosignTime(n, rv); err == nil {
			r.Time = t
		}
		return r, nil
	}
	if first == nil {
		first = fmt.Errorf("%w: no cosigner given", ErrCosign)
	}
	return Receipt{}, first
}

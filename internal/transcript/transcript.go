// Package transcript holds the verifiable record of a channel: per-author
// append-only logs whose leaves are envelopes (RFC 6962 Merkle trees, built
// with github.com/transparency-dev/merkle), checkpoints in the C2SP
// tlog-checkpoint format signed as notes (golang.org/x/mod/sumdb/note), and
// the receiver's cosignature of a checkpoint, which is the delivery receipt
// for every entry up to its size.
//
// Everything here is a plain function over bytes and keys: no I/O.
package transcript

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"hotline/internal/identity"
)

// Errors a caller can test for with errors.Is.
var (
	ErrCheckpoint = errors.New("checkpoint is not valid")
	ErrRoot       = errors.New("root hash does not match the entries held")
	ErrCosign     = errors.New("cosignature is not valid")
)

var factory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// LeafHash is the RFC 6962 leaf hash of an entry's exact bytes.
func LeafHash(entry []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(entry) }

// EmptyRoot is the root of a log with no entries.
func EmptyRoot() []byte { return rfc6962.DefaultHasher.EmptyRoot() }

// Tree is the compact state of one log: enough to append and to compute the
// root, a few dozen hashes however long the log.
type Tree struct {
	r *compact.Range
}

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{r: factory.NewEmptyRange(0)} }

// TreeFromHashes restores a tree of the given size from Hashes.
func TreeFromHashes(size uint64, hashes [][]byte) (*Tree, error) {
	own := make([][]byte, len(hashes)) // the range appends in place
	for i, h := range hashes {
		own[i] = bytes.Clone(h)
	}
	r, err := factory.NewRange(0, size, own)
	if err != nil {
		return nil, fmt.Errorf("restoring tree of size %d: %w", size, err)
	}
	return &Tree{r: r}, nil
}

// Size is the number of leaves.
func (t *Tree) Size() uint64 { return t.r.End() }

// Append adds the entry's leaf.
func (t *Tree) Append(entry []byte) {
	if err := t.r.Append(LeafHash(entry), nil); err != nil {
		panic(err) // only fails for a hash of the wrong size
	}
}

// AppendLeafHash adds a leaf by its hash (LeafHash).
func (t *Tree) AppendLeafHash(h []byte) {
	if err := t.r.Append(h, nil); err != nil {
		panic(err) // only fails for a hash of the wrong size
	}
}

// Root is the RFC 6962 root of the tree.
func (t *Tree) Root() []byte {
	if t.r.End() == 0 {
		return EmptyRoot()
	}
	root, err := t.r.GetRootHash(nil)
	if err != nil {
		panic(err)
	}
	return root
}

// Hashes returns a copy of the compact range, for storing. It is a copy
// because the range changes in place as leaves are appended, while the
// caller's batch may be written later.
func (t *Tree) Hashes() [][]byte {
	hs := t.r.Hashes()
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = bytes.Clone(h)
	}
	return out
}

// Clone returns an independent copy.
func (t *Tree) Clone() *Tree {
	r, err := factory.NewRange(0, t.r.End(), t.Hashes())
	if err != nil {
		panic(err)
	}
	return &Tree{r: r}
}

// Origin names a log in its checkpoints: one log per channel and author.
func Origin(channel, author string) string { return "hotline/" + channel + "/" + author }

// Checkpoint is the body of a signed checkpoint.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
	// Held is what the author held of the other party's log on the
	// channel when it signed, or nil if the checkpoint does not say.
	// It is the checkpoint's one extension line (C2SP tlog-checkpoint
	// allows them): "held SIZE ROOT". Signed by the author and cosigned
	// by the other party, it ties the two logs together: a bundle that
	// shows less of the other log than a checkpoint says was held is
	// caught (docs/TRANSCRIPT.md).
	Held *Held
}

// Held is the size and root of a log as another party held it.
type Held struct {
	Size uint64
	Root []byte
}

// Text is the C2SP tlog-checkpoint body: origin, size and root, one a
// line, then the held line if there is one.
func (c Checkpoint) Text() string {
	t := fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root))
	if c.Held != nil {
		t += fmt.Sprintf("held %d %s\n", c.Held.Size, base64.StdEncoding.EncodeToString(c.Held.Root))
	}
	return t
}

// SignCheckpoint signs a checkpoint as the log's author.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: c.Text()}, s)
}

// ParseCheckpointText parses a checkpoint body. Sizes are decimal with
// no leading zero. Extension lines other than one held line are
// ignored, as C2SP says; a malformed or repeated held line is refused.
func ParseCheckpointText(text string) (Checkpoint, error) {
	lines := strings.Split(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return Checkpoint{}, fmt.Errorf("%w: fewer than three lines, or no final newline", ErrCheckpoint)
	}
	size, err := parseSize(lines[1])
	if err != nil {
		return Checkpoint{}, err
	}
	root, err := parseRoot(lines[2])
	if err != nil {
		return Checkpoint{}, err
	}
	if lines[0] == "" {
		return Checkpoint{}, fmt.Errorf("%w: empty origin", ErrCheckpoint)
	}
	c := Checkpoint{Origin: lines[0], Size: size, Root: root}
	for _, l := range lines[3 : len(lines)-1] {
		rest, ok := strings.CutPrefix(l, "held ")
		if !ok {
			continue
		}
		if c.Held != nil {
			return Checkpoint{}, fmt.Errorf("%w: two held lines", ErrCheckpoint)
		}
		sz, r, ok := strings.Cut(rest, " ")
		if !ok {
			return Checkpoint{}, fmt.Errorf("%w: held line %q is not \"held SIZE ROOT\"", ErrCheckpoint, l)
		}
		h := &Held{}
		if h.Size, err = parseSize(sz); err != nil {
			return Checkpoint{}, err
		}
		if h.Root, err = parseRoot(r); err != nil {
			return Checkpoint{}, err
		}
		c.Held = h
	}
	return c, nil
}

// parseSize parses a checkpoint's decimal size: digits only, and no
// leading zero.
func parseSize(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || s[0] == '+' || len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%w: size %q", ErrCheckpoint, s)
	}
	return n, nil
}

// parseRoot parses a checkpoint's root: 32 bytes in canonical standard
// base64.
func parseRoot(s string) ([]byte, error) {
	root, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(root) != 32 || strings.ContainsAny(s, "\r") {
		return nil, fmt.Errorf("%w: root %q", ErrCheckpoint, s)
	}
	return root, nil
}

// PeekCheckpoint parses the body of a signed checkpoint without checking
// any signature. What it returns is a claim, good only for deciding
// whether a closer look is needed; never trust it.
func PeekCheckpoint(signed []byte) (Checkpoint, error) {
	return ParseCheckpointText(noteText(signed))
}

// OpenCheckpoint verifies a signed checkpoint against the verifiers given
// and parses it. Every verifier must have signed: a checkpoint opened with
// the author's and the receiver's verifier is a verified receipt.
func OpenCheckpoint(signed []byte, verifiers ...note.Verifier) (Checkpoint, *note.Note, error) {
	if len(signed) > 8<<10 {
		return Checkpoint{}, nil, fmt.Errorf("%w: %d bytes", ErrCheckpoint, len(signed))
	}
	n, err := note.Open(signed, note.VerifierList(verifiers...))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	if err := identity.CheckCanonical(signed); err != nil {
		return Checkpoint{}, nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	for _, v := range verifiers {
		found := false
		for _, s := range n.Sigs {
			if s.Name == v.Name() && s.Hash == v.KeyHash() {
				found = true
			}
		}
		if !found {
			return Checkpoint{}, nil, fmt.Errorf("%w: no signature by %s", ErrCosign, v.Name())
		}
	}
	c, err := ParseCheckpointText(n.Text)
	return c, n, err
}

// Cosign adds the receiver's signature to a checkpoint that the author
// signed. The caller must have checked that it holds, durably, every entry
// up to the checkpoint's size and that the root matches them: a cosignature
// is a receipt.
func Cosign(signed []byte, author note.Verifier, receiver note.Signer) ([]byte, error) {
	n, err := note.Open(signed, note.VerifierList(author))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	// Keep only the author's signature: a receipt is exactly two signatures.
	var sigs []note.Signature
	for _, s := range n.Sigs {
		if s.Name == author.Name() && s.Hash == author.KeyHash() {
			sigs = append(sigs, s)
		}
	}
	n.Sigs, n.UnverifiedSigs = sigs, nil
	return note.Sign(n, receiver)
}

// CosignOpened is Cosign for a checkpoint already opened with
// OpenCheckpoint and the author's verifier: it signs without verifying
// again. The same rules as for Cosign apply to the caller.
func CosignOpened(n *note.Note, author note.Verifier, receiver note.Signer) ([]byte, error) {
	var sigs []note.Signature
	for _, s := range n.Sigs {
		if s.Name == author.Name() && s.Hash == author.KeyHash() {
			sigs = append(sigs, s)
		}
	}
	if len(sigs) != 1 {
		return nil, fmt.Errorf("%w: %d signatures by %s", ErrCheckpoint, len(sigs), author.Name())
	}
	return note.Sign(&note.Note{Text: n.Text, Sigs: sigs}, receiver)
}

// SameBody reports whether two signed notes carry the same text.
func SameBody(a, b []byte) bool {
	return bytes.Equal(noteBody(a), noteBody(b))
}

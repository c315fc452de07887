package transcript_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"hotline/internal/identity"
	"hotline/internal/transcript"
)

// tlogStore is an independent RFC 6962 implementation for checking roots:
// golang.org/x/mod/sumdb/tlog over an in-memory hash store.
type tlogStore struct{ hashes []tlog.Hash }

func (s *tlogStore) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(s.hashes)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = s.hashes[x]
	}
	return out, nil
}

func (s *tlogStore) append(t *testing.T, n int64, data []byte) {
	hs, err := tlog.StoredHashes(n, data, s)
	if err != nil {
		t.Fatal(err)
	}
	s.hashes = append(s.hashes, hs...)
}

func (s *tlogStore) root(t *testing.T, n int64) []byte {
	h, err := tlog.TreeHash(n, s)
	if err != nil {
		t.Fatal(err)
	}
	return h[:]
}

func leafData(i int) []byte { return []byte(fmt.Sprintf("entry %d %s", i, strings.Repeat("x", i%7))) }

func TestTreeRootsMatchTlog(t *testing.T) {
	tree := transcript.NewTree()
	store := &tlogStore{}
	for n := 0; n <= 70; n++ {
		if n > 0 {
			tree.Append(leafData(n - 1))
			store.append(t, int64(n-1), leafData(n-1))
		}
		if got := tree.Size(); got != uint64(n) {
			t.Fatalf("Size = %d, want %d", got, n)
		}
		want := store.root(t, int64(n))
		if got := tree.Root(); !bytes.Equal(got, want) {
			t.Fatalf("size %d: Root = %x, tlog root = %x", n, got, want)
		}
	}
}

// TestTreeKnownAnswers checks RFC 6962 section 2.1 directly, without
// either library.
func TestTreeKnownAnswers(t *testing.T) {
	leaf := func(b []byte) []byte { s := sha256.Sum256(append([]byte{0}, b...)); return s[:] }
	node := func(l, r []byte) []byte { s := sha256.Sum256(append(append([]byte{1}, l...), r...)); return s[:] }
	empty := sha256.Sum256(nil)
	a, b, c := []byte("a"), []byte("b"), []byte("c")
	tests := []struct {
		name    string
		entries [][]byte
		want    []byte
	}{
		{"empty", nil, empty[:]},
		{"one", [][]byte{a}, leaf(a)},
		{"two", [][]byte{a, b}, node(leaf(a), leaf(b))},
		{"three", [][]byte{a, b, c}, node(node(leaf(a), leaf(b)), leaf(c))},
		{"empty entry", [][]byte{{}}, leaf(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := transcript.NewTree()
			for _, e := range tt.entries {
				tree.Append(e)
			}
			if got := tree.Root(); !bytes.Equal(got, tt.want) {
				t.Errorf("Root = %x, want %x", got, tt.want)
			}
		})
	}
	if !bytes.Equal(transcript.EmptyRoot(), empty[:]) {
		t.Errorf("EmptyRoot = %x, want SHA-256 of nothing", transcript.EmptyRoot())
	}
	if got, want := transcript.LeafHash(a), leaf(a); !bytes.Equal(got, want) {
		t.Errorf("LeafHash = %x, want %x", got, want)
	}
	if got, want := transcript.LeafHash(a), tlog.RecordHash(a); !bytes.Equal(got, want[:]) {
		t.Errorf("LeafHash = %x, tlog.RecordHash = %x", got, want)
	}
}

func TestTreeFromHashes(t *testing.T) {
	tree := transcript.NewTree()
	for n := 0; n <= 70; n++ {
		if n > 0 {
			tree.Append(leafData(n - 1))
		}
		hs := tree.Hashes()
		// A stored copy: nothing shared with the live tree.
		stored := make([][]byte, len(hs))
		for i, h := range hs {
			stored[i] = bytes.Clone(h)
		}
		restored, err := transcript.TreeFromHashes(tree.Size(), stored)
		if err != nil {
			t.Fatalf("size %d: TreeFromHashes: %v", n, err)
		}
		if restored.Size() != tree.Size() || !bytes.Equal(restored.Root(), tree.Root()) {
			t.Fatalf("size %d: restored tree has size %d root %x, want %d %x", n, restored.Size(), restored.Root(), tree.Size(), tree.Root())
		}
		// Both grow the same way.
		next := tree.Clone()
		next.Append([]byte("next"))
		restored.Append([]byte("next"))
		if !bytes.Equal(restored.Root(), next.Root()) {
			t.Fatalf("size %d: restored tree diverges after an append", n)
		}
	}
}

// TestTreeHashesSnapshot checks that Hashes is a snapshot: appends after
// the call do not change what it returned, so a caller can store it later.
func TestTreeHashesSnapshot(t *testing.T) {
	tree := transcript.NewTree()
	type saved struct {
		size   uint64
		root   []byte
		hashes [][]byte
	}
	var all []saved
	for n := 0; n <= 70; n++ {
		if n > 0 {
			tree.Append(leafData(n - 1))
		}
		all = append(all, saved{tree.Size(), tree.Root(), tree.Hashes()})
	}
	for _, s := range all {
		restored, err := transcript.TreeFromHashes(s.size, s.hashes)
		if err != nil {
			t.Fatalf("size %d: %v", s.size, err)
		}
		if !bytes.Equal(restored.Root(), s.root) {
			t.Fatalf("size %d: hashes taken at this size changed after later appends", s.size)
		}
	}
}

func TestTreeFromHashesRejects(t *testing.T) {
	tree := transcript.NewTree()
	for i := range 11 { // 11 = 8+2+1: three hashes
		tree.Append(leafData(i))
	}
	hs := tree.Hashes()
	if len(hs) != 3 {
		t.Fatalf("tree of 11 has %d hashes, want 3", len(hs))
	}
	tests := []struct {
		name   string
		size   uint64
		hashes [][]byte
	}{
		{"too few hashes", 11, hs[:2]},
		{"too many hashes", 11, append(append([][]byte{}, hs...), hs[0])},
		{"wrong size", 12, hs},
		{"size 0 with hashes", 0, hs},
		{"hashes for size 0", 11, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := transcript.TreeFromHashes(tt.size, tt.hashes); err == nil {
				t.Fatalf("TreeFromHashes = size %d, want error", got.Size())
			}
		})
	}
}

func TestTreeClone(t *testing.T) {
	orig := transcript.NewTree()
	for i := range 5 {
		orig.Append(leafData(i))
	}
	rootAt5 := orig.Root()
	clone := orig.Clone()
	if !bytes.Equal(clone.Root(), rootAt5) || clone.Size() != 5 {
		t.Fatal("clone differs from the original")
	}

	// Appends to the clone do not reach the original, and vice versa.
	for i := 5; i < 12; i++ {
		clone.Append(leafData(i))
	}
	if orig.Size() != 5 || !bytes.Equal(orig.Root(), rootAt5) {
		t.Fatalf("appending to the clone changed the original: size %d", orig.Size())
	}
	orig.Append([]byte("other"))
	orig.Append([]byte("branch"))

	want := func(entries ...[]byte) []byte {
		tr := transcript.NewTree()
		for _, e := range entries {
			tr.Append(e)
		}
		return tr.Root()
	}
	var cloneEntries, origEntries [][]byte
	for i := range 12 {
		cloneEntries = append(cloneEntries, leafData(i))
	}
	for i := range 5 {
		origEntries = append(origEntries, leafData(i))
	}
	origEntries = append(origEntries, []byte("other"), []byte("branch"))
	if !bytes.Equal(clone.Root(), want(cloneEntries...)) || clone.Size() != 12 {
		t.Error("clone root is wrong after both grew")
	}
	if !bytes.Equal(orig.Root(), want(origEntries...)) || orig.Size() != 7 {
		t.Error("original root is wrong after both grew")
	}

	// Clone of an empty tree.
	e := transcript.NewTree().Clone()
	if e.Size() != 0 || !bytes.Equal(e.Root(), transcript.EmptyRoot()) {
		t.Error("clone of an empty tree is not empty")
	}
}

type signer struct {
	keys *identity.Keys
	v    note.Verifier
}

func newSigner(t testing.TB, name string) signer {
	t.Helper()
	k, err := identity.NewKeys(name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := identity.NewCard(k, "p", nil, time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	return signer{k, v}
}

func testCheckpoint(size uint64) transcript.Checkpoint {
	tree := transcript.NewTree()
	for i := range size {
		tree.Append(leafData(int(i)))
	}
	return transcript.Checkpoint{Origin: transcript.Origin("red-blue.1", "alpha"), Size: size, Root: tree.Root()}
}

func TestCheckpointText(t *testing.T) {
	c := testCheckpoint(3)
	want := "hotline/red-blue.1/alpha\n3\n" + base64.StdEncoding.EncodeToString(c.Root) + "\n"
	if got := c.Text(); got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
	if got := transcript.Origin("c", "a"); got != "hotline/c/a" {
		t.Errorf("Origin = %q", got)
	}
	got, err := transcript.ParseCheckpointText(want)
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != c.Origin || got.Size != c.Size || !bytes.Equal(got.Root, c.Root) {
		t.Errorf("ParseCheckpointText = %+v, want %+v", got, c)
	}
	// C2SP checkpoints may carry extension lines after the root.
	if _, err := transcript.ParseCheckpointText(want + "extension\n"); err != nil {
		t.Errorf("ParseCheckpointText with an extension line: %v", err)
	}
}

func TestParseCheckpointTextRejects(t *testing.T) {
	root := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"two lines", "o\n3\n"},
		{"no final newline", "o\n3\n" + root},
		{"empty origin", "\n3\n" + root + "\n"},
		{"size not a number", "o\nthree\n" + root + "\n"},
		{"negative size", "o\n-1\n" + root + "\n"},
		{"size with space", "o\n 3\n" + root + "\n"},
		{"size overflows", "o\n18446744073709551616\n" + root + "\n"},
		{"root bad base64", "o\n3\n!!!!\n"},
		{"root 31 bytes", "o\n3\n" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\n"},
		{"root 33 bytes", "o\n3\n" + base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := transcript.ParseCheckpointText(tt.text); !errors.Is(err, transcript.ErrCheckpoint) {
				t.Fatalf("ParseCheckpointText = %+v, %v; want ErrCheckpoint", got, err)
			}
		})
	}
}

func TestSignOpenCheckpoint(t *testing.T) {
	alpha, bravo := newSigner(t, "alpha"), newSigner(t, "bravo")
	for _, size := range []uint64{0, 1, 7, 70} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := testCheckpoint(size)
			signed, err := transcript.SignCheckpoint(c, alpha.keys.Signer())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(signed, []byte(c.Text()+"\n— alpha ")) {
				t.Errorf("signed checkpoint is not the text and alpha's signature:\n%s", signed)
			}
			got, n, err := transcript.OpenCheckpoint(signed, alpha.v)
			if err != nil {
				t.Fatalf("OpenCheckpoint: %v", err)
			}
			if got.Origin != c.Origin || got.Size != c.Size || !bytes.Equal(got.Root, c.Root) {
				t.Errorf("OpenCheckpoint = %+v, want %+v", got, c)
			}
			if n.Text != c.Text() || len(n.Sigs) != 1 {
				t.Errorf("note text %q with %d signatures", n.Text, len(n.Sigs))
			}
			// Not a receipt: bravo did not sign.
			if _, _, err := transcript.OpenCheckpoint(signed, alpha.v, bravo.v); !errors.Is(err, transcript.ErrCosign) {
				t.Errorf("OpenCheckpoint(author-only, both) = %v, want ErrCosign", err)
			}
		})
	}
}

func TestCosign(t *testing.T) {
	alpha, bravo, charlie := newSigner(t, "alpha"), newSigner(t, "bravo"), newSigner(t, "charlie")
	impostor := newSigner(t, "bravo") // bravo's name, another key
	c := testCheckpoint(5)
	signed, err := transcript.SignCheckpoint(c, alpha.keys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	receipt, err := transcript.Cosign(signed, alpha.v, bravo.keys.Signer())
	if err != nil {
		t.Fatalf("Cosign: %v", err)
	}
	if !transcript.SameBody(signed, receipt) {
		t.Error("Cosign changed the checkpoint text")
	}
	forged, err := transcript.Cosign(signed, alpha.v, impostor.keys.Signer())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		note      []byte
		verifiers []note.Verifier
		want      error // nil: opens
	}{
		{"receipt, both", receipt, []note.Verifier{alpha.v, bravo.v}, nil},
		{"receipt, both reversed", receipt, []note.Verifier{bravo.v, alpha.v}, nil},
		{"receipt, author", receipt, []note.Verifier{alpha.v}, nil},
		{"receipt, receiver", receipt, []note.Verifier{bravo.v}, nil},
		{"receipt, author and third party", receipt, []note.Verifier{alpha.v, charlie.v}, transcript.ErrCosign},
		{"receipt, receiver and third party", receipt, []note.Verifier{bravo.v, charlie.v}, transcript.ErrCosign},
		{"receipt, third party", receipt, []note.Verifier{charlie.v}, transcript.ErrCheckpoint},
		{"receipt, impostor's verifier", receipt, []note.Verifier{alpha.v, impostor.v}, transcript.ErrCosign},
		{"impostor cosigned, both", forged, []note.Verifier{alpha.v, bravo.v}, transcript.ErrCosign},
		{"no verifiers", receipt, nil, transcript.ErrCheckpoint},
		{"tampered size", bytes.Replace(receipt, []byte("\n5\n"), []byte("\n6\n"), 1), []note.Verifier{alpha.v, bravo.v}, transcript.ErrCheckpoint},
		{"too large", append(bytes.Repeat([]byte("x"), 8<<10), receipt...), []note.Verifier{alpha.v, bravo.v}, transcript.ErrCheckpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := transcript.OpenCheckpoint(tt.note, tt.verifiers...)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("OpenCheckpoint = %+v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenCheckpoint: %v", err)
			}
			if got.Size != 5 || !bytes.Equal(got.Root, c.Root) || len(n.Sigs) != len(tt.verifiers) {
				t.Errorf("OpenCheckpoint = %+v with %d verified signatures", got, len(n.Sigs))
			}
		})
	}
}

func TestCosignRejects(t *testing.T) {
	alpha, bravo, charlie := newSigner(t, "alpha"), newSigner(t, "bravo"), newSigner(t, "charlie")
	signed, err := transcript.SignCheckpoint(testCheckpoint(2), alpha.keys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		note   []byte
		author note.Verifier
	}{
		{"wrong author", signed, charlie.v},
		{"impostor author", signed, newSigner(t, "alpha").v},
		{"tampered", bytes.Replace(signed, []byte("\n2\n"), []byte("\n3\n"), 1), alpha.v},
		{"not a note", []byte("x"), alpha.v},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := transcript.Cosign(tt.note, tt.author, bravo.keys.Signer()); !errors.Is(err, transcript.ErrCheckpoint) {
				t.Fatalf("Cosign = %q, %v; want ErrCheckpoint", got, err)
			}
		})
	}
}

// TestCosignKeepsOnlyAuthor checks that a receipt is exactly two
// signatures: any other signature on the author's note is dropped.
func TestCosignKeepsOnlyAuthor(t *testing.T) {
	alpha, bravo, charlie := newSigner(t, "alpha"), newSigner(t, "bravo"), newSigner(t, "charlie")
	signed, err := note.Sign(&note.Note{Text: testCheckpoint(4).Text()}, alpha.keys.Signer(), charlie.keys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	signed = append(signed, []byte("— stranger AAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")...)
	receipt, err := transcript.Cosign(signed, alpha.v, bravo.keys.Signer())
	if err != nil {
		t.Fatal(err)
	}
	sigs := strings.Split(strings.TrimSuffix(string(receipt[bytes.LastIndex(receipt, []byte("\n\n"))+2:]), "\n"), "\n")
	if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "— alpha ") || !strings.HasPrefix(sigs[1], "— bravo ") {
		t.Errorf("receipt signatures = %q, want alpha's then bravo's", sigs)
	}
	if _, _, err := transcript.OpenCheckpoint(receipt, alpha.v, bravo.v); err != nil {
		t.Errorf("OpenCheckpoint(receipt): %v", err)
	}
}

func TestSameBody(t *testing.T) {
	alpha, bravo := newSigner(t, "alpha"), newSigner(t, "bravo")
	a, _ := transcript.SignCheckpoint(testCheckpoint(3), alpha.keys.Signer())
	b, _ := transcript.SignCheckpoint(testCheckpoint(3), bravo.keys.Signer())
	c, _ := transcript.SignCheckpoint(testCheckpoint(4), alpha.keys.Signer())
	tests := []struct {
		name string
		a, b []byte
		want bool
	}{
		{"same note", a, a, true},
		{"same text, other signer", a, b, true},
		{"other text", a, c, false},
		{"text vs note", []byte(testCheckpoint(3).Text()), a, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := transcript.SameBody(tt.a, tt.b); got != tt.want {
				t.Errorf("SameBody = %v, want %v", got, tt.want)
			}
		})
	}
}

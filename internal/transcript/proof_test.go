package transcript

import (
	"bytes"
	"fmt"
	"testing"
)

func TestInclusionProof(t *testing.T) {
	var entries [][]byte
	for i := range 21 {
		entries = append(entries, fmt.Appendf(nil, "entry %d", i+1))
	}
	for size := uint64(1); size <= uint64(len(entries)); size++ {
		tr := NewTree()
		for _, e := range entries[:size] {
			tr.Append(e)
		}
		root := tr.Root()
		for i := range size {
			p, err := InclusionProof(entries, i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(LeafHash(entries[i]), i, size, p, root); err != nil {
				t.Fatalf("leaf %d of %d: %v", i, size, err)
			}
			// Another leaf's hash does not verify with this proof.
			other := LeafHash(entries[(i+1)%uint64(len(entries))])
			if err := VerifyInclusion(other, i, size, p, root); err == nil {
				t.Fatalf("leaf %d of %d: another leaf verified", i, size)
			}
			if len(p) > 0 {
				bad := bytes.Clone(p[0])
				bad[0] ^= 1
				p[0] = bad
				if err := VerifyInclusion(LeafHash(entries[i]), i, size, p, root); err == nil {
					t.Fatalf("leaf %d of %d: a changed proof verified", i, size)
				}
			}
		}
	}
	if _, err := InclusionProof(entries, 5, 5); err == nil {
		t.Fatal("leaf 5 of a tree of 5: proof given")
	}
	if _, err := InclusionProof(entries, 0, 22); err == nil {
		t.Fatal("tree larger than the entries: proof given")
	}
}

package transcript

import (
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// InclusionProof returns the RFC 6962 inclusion proof of leaf index
// (0-based: entry index+1) in the tree of the first size entries: the
// hashes an auditor folds with the leaf hash to reach the root of a
// checkpoint of that size (RFC 9162, section 2.1.3.2). Which nodes the
// proof needs comes from github.com/transparency-dev/merkle/proof; each
// is the root of a perfect subtree of the entries, computed here.
func InclusionProof(entries [][]byte, index, size uint64) ([][]byte, error) {
	if size > uint64(len(entries)) {
		return nil, fmt.Errorf("inclusion proof: tree size %d, but only %d entries", size, len(entries))
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		hashes[i] = subtree(entries, id.Index<<id.Level, (id.Index+1)<<id.Level)
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// subtree is the hash of the perfect subtree over entries [begin, end).
func subtree(entries [][]byte, begin, end uint64) []byte {
	if end-begin == 1 {
		return LeafHash(entries[begin])
	}
	mid := begin + (end-begin)/2
	return rfc6962.DefaultHasher.HashChildren(subtree(entries, begin, mid), subtree(entries, mid, end))
}

// VerifyInclusion checks an inclusion proof of a leaf hash against the
// root of a tree of size leaves.
func VerifyInclusion(leafHash []byte, index, size uint64, path [][]byte, root []byte) error {
	return proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leafHash, path, root)
}

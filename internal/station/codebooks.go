package station

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/codebook"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/store"
)

// Codebook extensions (docs/DECONFLICTION.md, "Extensions by agreement"):
// the two parties agree an extension file, each loads it on its station
// (hotline codebook add), and a channel proposed with the extended
// codebook's reference uses it. A station keeps the files in its store,
// so that every machine of a station on PostgreSQL has them, and builds
// its codebooks from them at start: the embedded one first, then each
// extension on the codebook it names.

// loadCodebooks builds the station's codebooks from the embedded one and
// the extension files stored, in the order they were added.
func loadCodebooks(ctx context.Context, st store.Store) ([]*codebook.Codebook, []store.CodebookFile, error) {
	books := []*codebook.Codebook{codebook.Default()}
	files, err := st.Codebooks(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("codebook extensions: %w", err)
	}
	for _, f := range files {
		b, err := extendOne(books, f.File)
		if err != nil {
			return nil, nil, fmt.Errorf("codebook extension %s, stored: %w", f.Ref, err)
		}
		if b.Ref().String() != f.Ref {
			return nil, nil, fmt.Errorf("codebook extension stored as %s makes %s", f.Ref, b.Ref())
		}
		books = append(books, b)
	}
	return books, files, nil
}

// extendOne extends, with an extension file, the codebook among books it
// names.
func extendOne(books []*codebook.Codebook, file []byte) (*codebook.Codebook, error) {
	base, err := codebook.ExtensionBase(file)
	if err != nil {
		return nil, err
	}
	var have []string
	for _, b := range books {
		if b.Check(base) == nil {
			return b.Extend(file)
		}
		have = append(have, b.Version())
	}
	return nil, fmt.Errorf("%w: the extension extends %s, which this station does not have (it has %v): load that first",
		codebook.ErrMismatch, base, have)
}

// Books are the codebooks this station has, the embedded one first (the
// core has the same).
func (s *Station) Books() []*codebook.Codebook { return s.codebooks() }

func (s *Station) codebooks() []*codebook.Codebook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.books)
}

// AddCodebook loads an agreed codebook extension: checked against the
// codebook it extends, stored, then given to the core. Loading the same
// extension again changes nothing.
func (s *Station) AddCodebook(ctx context.Context, file []byte) (*ops.CodebookView, error) {
	b, err := extendOne(s.codebooks(), file)
	if err != nil {
		return nil, badrequest.New("%v", err)
	}
	if _, err := s.Store.AddCodebook(ctx, store.CodebookFile{Ref: b.Ref().String(), File: file, AddedAt: time.Now().UTC()}); err != nil {
		return nil, err
	}
	if _, err := s.Call(ctx, func(id uint64) protocol.Event { return protocol.AddCodebook{ID: id, Book: b} }); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if !slices.ContainsFunc(s.books, func(c *codebook.Codebook) bool { return c.Check(b.Ref()) == nil }) {
		s.books = append(s.books, b)
	}
	s.mu.Unlock()
	views, err := s.Codebooks(ctx)
	if err != nil {
		return nil, err
	}
	for i := range views {
		if views[i].Ref == b.Ref().String() {
			return &views[i], nil
		}
	}
	return nil, errors.New("the codebook added is not listed")
}

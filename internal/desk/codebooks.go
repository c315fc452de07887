package desk

import (
	"context"
	"hotline/internal/call"
	"hotline/internal/channel"
	"hotline/internal/codebook"
	"hotline/internal/deconflict"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"time"
)

// Bodies decodes the bodies a station carries: the protocol's own kinds,
// those of deconfliction (coded messages, notices, reports, incident
// entries) and those of calls.
var Bodies = protocol.MustBodies(BodyKinds()...)

// BodyKinds are the kinds a station registers with its core beyond the
// protocol's own: deconfliction's and calls'.
func BodyKinds() []protocol.BodyKind {
	var out []protocol.BodyKind
	for _, k := range deconflict.BodyKinds() {
		out = append(out, k)
	}
	for _, k := range call.BodyKinds() {
		out = append(out, k)
	}
	return out
}

// Book is cb as the core sees it: nil when the station lacks the
// charter's codebook (a nil *Codebook in a channel.Book would not be).
func Book(cb *codebook.Codebook) channel.Book {
	if cb == nil {
		return nil
	}
	return cb
}

// Codebooks lists the codebooks this station has: the embedded one and
// the extensions loaded.
func (s *Desk) Codebooks(ctx context.Context) ([]ops.CodebookView, error) {
	files, err := s.db.Codebooks(ctx)
	if err != nil {
		return nil, err
	}
	added := map[string]time.Time{}
	for _, f := range files {
		added[f.Ref] = f.AddedAt
	}
	var out []ops.CodebookView
	for i, b := range s.st.Books() {
		out = append(out, ops.CodebookView{Ref: b.Ref().String(), Version: b.Version(), Hash: b.Hash(),
			Phrases: len(b.Phrases()), Embedded: i == 0, AddedAt: added[b.Ref().String()]})
	}
	return out, nil
}

// Codebook returns one of the station's codebooks with its phrases, by
// its reference or its version ("" for the embedded one).
func (s *Desk) Codebook(ctx context.Context, name string) (*ops.CodebookPhrases, error) {
	b, err := FindBook(s.st.Books(), name)
	if err != nil {
		return nil, err
	}
	views, err := s.Codebooks(ctx)
	if err != nil {
		return nil, err
	}
	out := &ops.CodebookPhrases{Languages: b.Languages(), Categories: b.Categories(), Phrases: b.Phrases()}
	for _, v := range views {
		if v.Ref == b.Ref().String() {
			out.CodebookView = v
		}
	}
	return out, nil
}

package deconflict

import (
	"fmt"

	"hotline/internal/channel"
	"hotline/internal/codebook"
	"hotline/internal/envelope"
)

// BodyKinds are the entry kinds whose bodies this package (and the codebook
// it renders) gives meaning to: coded messages, notices of activities,
// encounter reports and incident entries. A station gives them to its
// core (protocol.Bodies), which carries them without knowing what they
// say: it asks a kind to decode a body, to check it against the channel
// it is written on, and to put it in words for a forward up the
// escalation ladder.
func BodyKinds() []BodyKind {
	return []BodyKind{codedKind{}, noticeKind{}, reportKind{}, incidentKind{}}
}

// BodyKind is one entry kind, as protocol.BodyKind asks for it.
type BodyKind interface {
	Kind() envelope.Kind
	// Decode parses and checks a body on a channel whose charter names
	// book (nil if the station does not have it).
	Decode(p []byte, book channel.Book) (any, error)
	// Check checks a decoded body against the channel it is written on.
	Check(body any, channel string) error
	// Forward is the body in words, for a forward up the ladder, and the
	// language of the words ("" for every language of the codebook).
	Forward(body any, book channel.Book) (text, lang string)
}

// codebookOf is the codebook behind a channel's book, nil if the station
// does not have it.
func codebookOf(book channel.Book) *codebook.Codebook {
	cb, _ := book.(*codebook.Codebook)
	return cb
}

type codedKind struct{}

func (codedKind) Kind() envelope.Kind { return envelope.Coded }

func (codedKind) Decode(p []byte, book channel.Book) (any, error) {
	cb := codebookOf(book)
	if cb == nil {
		return nil, fmt.Errorf("coded message: this station does not have the channel's codebook")
	}
	m, err := cb.Decode(p)
	if err != nil {
		return nil, fmt.Errorf("coded message: %w", err)
	}
	return m, nil
}

func (codedKind) Check(any, string) error { return nil }

// Forward carries the phrases in every language of the codebook,
// rendered from the codes here.
func (codedKind) Forward(body any, book channel.Book) (string, string) {
	m, ok := body.(*codebook.Message)
	cb := codebookOf(book)
	if !ok || cb == nil {
		return "", ""
	}
	return MessageText(cb, m), ""
}

type noticeKind struct{}

func (noticeKind) Kind() envelope.Kind                          { return envelope.Notice }
func (noticeKind) Decode(p []byte, _ channel.Book) (any, error) { return DecodeNotice(p) }
func (noticeKind) Check(any, string) error                      { return nil }

func (noticeKind) Forward(body any, _ channel.Book) (string, string) {
	if n, ok := body.(*Notice); ok {
		return n.Summary("en"), "en"
	}
	return "", ""
}

type reportKind struct{}

func (reportKind) Kind() envelope.Kind { return envelope.Report }

func (reportKind) Decode(p []byte, book channel.Book) (any, error) {
	cb := codebookOf(book)
	if cb == nil {
		return nil, fmt.Errorf("encounter report: this station does not have the channel's codebook")
	}
	return DecodeReport(p, cb)
}

func (reportKind) Check(any, string) error { return nil }

func (reportKind) Forward(body any, _ channel.Book) (string, string) {
	if r, ok := body.(*Report); ok {
		return r.Summary("en"), "en"
	}
	return "", ""
}

type incidentKind struct{}

func (incidentKind) Kind() envelope.Kind                          { return envelope.Incident }
func (incidentKind) Decode(p []byte, _ channel.Book) (any, error) { return DecodeIncident(p) }

// Check: an incident lives on one channel, both parties' logs of it.
func (incidentKind) Check(body any, ch string) error {
	b, ok := body.(*IncidentBody)
	if !ok {
		return fmt.Errorf("incident entry: not an incident body")
	}
	for _, r := range []*EntryRef{b.Incident, b.Prev} {
		if r != nil && r.Channel != ch {
			return fmt.Errorf("incident entry names %s, an entry of another channel than %s", r, ch)
		}
	}
	return nil
}

func (incidentKind) Forward(body any, _ channel.Book) (string, string) {
	if b, ok := body.(*IncidentBody); ok {
		return b.Summary("en"), "en"
	}
	return "", ""
}

package call

import (
	"fmt"

	"hotline/internal/channel"
	"hotline/internal/envelope"
)

// BodyKinds are the call entry kinds as the core takes them
// (protocol.BodyKind). A station gives them to its core, which carries
// them without knowing what they say. The kinds also tell the core which
// entry a body acknowledges: an answer or a decline acknowledges the call
// it names, and a call back acknowledges the call it returns. So a call
// nobody answers climbs the escalation ladder as a message does.
func BodyKinds() []BodyKind {
	out := make([]BodyKind, len(Kinds))
	for i, k := range Kinds {
		out[i] = kind{k}
	}
	return out
}

// BodyKind is one entry kind, as protocol.BodyKind and
// protocol.Acknowledging ask for it.
type BodyKind interface {
	Kind() envelope.Kind
	// Decode parses and checks a body; calls use no codebook.
	Decode(p []byte, book channel.Book) (any, error)
	// Check checks a decoded body against the channel it is written on:
	// the call it names must be on that channel.
	Check(body any, channel string) error
	// Forward is the body in words, for a forward up the ladder, and the
	// language of the words.
	Forward(body any, book channel.Book) (text, lang string)
	// Acknowledges names the entry a body acknowledges (CHANNEL/AUTHOR/
	// INDEX, "" for none) and who acknowledged it.
	Acknowledges(body any) (entry, by string)
}

type kind struct{ k envelope.Kind }

func (k kind) Kind() envelope.Kind { return k.k }

func (k kind) Decode(p []byte, _ channel.Book) (any, error) { return Decode(k.k, p) }

func (k kind) Check(body any, ch string) error {
	if r := RefOf(body); r != nil && r.Channel != ch {
		return fmt.Errorf("%w: %s names call %s, on another channel than %s", ErrBody, k.k, r, ch)
	}
	return nil
}

// Forward puts a request in words: who called and how. Only requests
// wait for an answer, so only they climb.
func (kind) Forward(body any, _ channel.Book) (string, string) {
	b, ok := body.(*Request)
	if !ok {
		return "", ""
	}
	how := "voice"
	if b.Video {
		how = "voice and video"
	}
	return fmt.Sprintf("Call (%s) placed by %s, not answered.", how, b.Caller), "en"
}

func (kind) Acknowledges(body any) (string, string) {
	switch b := body.(type) {
	case *Answer:
		return b.ref.String(), b.By
	case *Decline:
		return b.ref.String(), b.By
	case *Request:
		if b.back != nil {
			return b.back.String(), b.Caller + " (called back)"
		}
	}
	return "", ""
}

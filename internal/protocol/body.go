package protocol

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"hotline/internal/envelope"
)

// MaxText is the longest message text, in bytes. The envelope limit also
// applies.
const MaxText = 32 << 10

// TextBody is the sealed body of a text entry.
type TextBody struct {
	Text string `json:"text"`
	Lang string `json:"lang,omitempty"` // BCP 47 tag of the text as written, e.g. "en", "zh-Hans"
}

// AckBody is the sealed body of an acknowledgement: the operator who
// acknowledged entry Of of the peer's log on the same channel.
type AckBody struct {
	Of uint64 `json:"of"`
	By string `json:"by"`
}

// AgreementBody carries a channel charter: signed by the proposer in the
// proposer's entry 1, by both in the acceptor's entry 1.
type AgreementBody struct {
	Charter string `json:"charter"`
}

// DecodeBody parses and checks the body of an entry of the given kind.
func DecodeBody(kind envelope.Kind, p []byte) (any, error) {
	switch kind {
	case envelope.Text:
		var b TextBody
		if err := json.Unmarshal(p, &b); err != nil {
			return nil, fmt.Errorf("text body: %v", err)
		}
		if err := CheckText(b.Text); err != nil {
			return nil, err
		}
		return &b, nil
	case envelope.Ack:
		var b AckBody
		if err := json.Unmarshal(p, &b); err != nil {
			return nil, fmt.Errorf("acknowledgement body: %v", err)
		}
		if b.Of == 0 || b.By == "" || len(b.By) > 128 {
			return nil, fmt.Errorf("acknowledgement body: needs the index acknowledged and who acknowledged it")
		}
		return &b, nil
	case envelope.Agreement:
		var b AgreementBody
		if err := json.Unmarshal(p, &b); err != nil {
			return nil, fmt.Errorf("agreement body: %v", err)
		}
		return &b, nil
	}
	return nil, fmt.Errorf("no body format for %s", kind)
}

// CheckText checks message text an operator typed.
func CheckText(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("message text is empty")
	case len(s) > MaxText:
		return fmt.Errorf("message text has %d bytes, limit %d", len(s), MaxText)
	case !utf8.ValidString(s):
		return fmt.Errorf("message text is not valid UTF-8")
	}
	return nil
}

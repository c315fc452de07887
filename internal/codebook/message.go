package codebook

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"hotline/internal/channel"
	"hotline/internal/strictjson"
)

// Limits on a coded message.
const (
	MaxBody     = 16 << 10 // bytes of an encoded message
	MaxItems    = 32       // items in one message
	MaxFree     = 2000     // bytes of one free-text item
	maxParamRaw = 512      // bytes of one encoded parameter value
)

// Message is the body of a coded message: items in order, each a phrase
// with its parameter values or free text.
type Message struct {
	Codebook string `json:"codebook"` // Version of the codebook the sender used
	Items    []Item `json:"items"`
}

// Item is one item of a message: either Code with Params, or Free text
// with Lang.
type Item struct {
	Code   string                     `json:"code,omitempty"`
	Params map[string]json.RawMessage `json:"params,omitempty"`
	Free   string                     `json:"free,omitempty"`
	Lang   string                     `json:"lang,omitempty"` // BCP 47 tag of Free, e.g. "en", "zh-Hans"
}

// Args are parameter values given as Go values: integers or floats for
// numbers, strings, time.Time, Position.
type Args map[string]any

// Coded returns an item for the phrase code with args. Values are checked
// when the item is put into a message.
func Coded(code string, args Args) Item {
	it := Item{Code: code}
	if len(args) > 0 {
		it.Params = map[string]json.RawMessage{}
	}
	for k, v := range args {
		if t, ok := v.(time.Time); ok {
			v = t.UTC()
		}
		raw, err := json.Marshal(v)
		if err != nil {
			raw = nil // refused by the check, naming the parameter
		}
		it.Params[k] = raw
	}
	return it
}

// Free returns an item of free text in the language lang (a BCP 47 tag).
func Free(text, lang string) Item { return Item{Free: text, Lang: lang} }

// ItemError names the item, code and parameter of a message that is not
// valid. Err wraps one of the package's sentinel errors.
type ItemError struct {
	Index int    // of the item, from 0
	Code  string // "" for free text
	Param string // "" when the item as a whole is wrong
	Err   error
}

func (e *ItemError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "items[%d]", e.Index)
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Param != "" {
		fmt.Fprintf(&b, ": parameter %s", e.Param)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *ItemError) Unwrap() error { return e.Err }

var langRE = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$`)

// DecodeMessage parses a message body strictly and checks its structure
// (sizes, that every item is either a code or free text with a language).
// Whether its codes and values are valid is the codebook's to say:
// Codebook.Decode does both.
func DecodeMessage(p []byte) (*Message, error) {
	var m Message
	if err := strictjson.Decode(p, &m, MaxBody); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMessage, err)
	}
	if err := m.checkShape(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Message) checkShape() error {
	if !channel.ValidBookVersion(m.Codebook) {
		return fmt.Errorf("%w: codebook version %q is not name/version", ErrMessage, m.Codebook)
	}
	if len(m.Items) == 0 || len(m.Items) > MaxItems {
		return fmt.Errorf("%w: %d items, want 1-%d", ErrMessage, len(m.Items), MaxItems)
	}
	for i, it := range m.Items {
		ie := func(err error) error { return &ItemError{Index: i, Code: it.Code, Err: err} }
		switch {
		case it.Code != "" && (it.Free != "" || it.Lang != ""):
			return ie(fmt.Errorf("%w: an item is either a code or free text, not both", ErrMessage))
		case it.Code != "":
			if !codeRE.MatchString(it.Code) {
				return ie(fmt.Errorf("%w: %q is not a code", ErrUnknownCode, it.Code))
			}
			if len(it.Params) > MaxParams {
				return ie(fmt.Errorf("%w: %d parameters, limit %d", ErrExtraParam, len(it.Params), MaxParams))
			}
			for k, raw := range it.Params {
				if len(raw) > maxParamRaw {
					return &ItemError{i, it.Code, k, fmt.Errorf("%w: %d bytes, limit %d", ErrParamValue, len(raw), maxParamRaw)}
				}
			}
		case it.Free != "":
			if len(it.Params) > 0 {
				return ie(fmt.Errorf("%w: free text has no parameters", ErrMessage))
			}
			if !langRE.MatchString(it.Lang) {
				return ie(fmt.Errorf("%w: free text needs its language as a BCP 47 tag such as en or zh-Hans, not %q", ErrMessage, it.Lang))
			}
			if err := checkFree(it.Free); err != nil {
				return ie(fmt.Errorf("%w: free text: %v", ErrMessage, err))
			}
		default:
			return ie(fmt.Errorf("%w: an item needs a code or free text", ErrMessage))
		}
	}
	return nil
}

// checkFree checks free text: like checkText, but line breaks are allowed.
func checkFree(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("empty")
	case len(s) > MaxFree:
		return fmt.Errorf("%d bytes, limit %d", len(s), MaxFree)
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			return fmt.Errorf("control or formatting character %U", r)
		}
	}
	return nil
}

// NewMessage builds a message of items under this codebook and checks it.
func (c *Codebook) NewMessage(items ...Item) (*Message, error) {
	m := &Message{Codebook: c.Version(), Items: items}
	if err := c.Validate(m); err != nil {
		return nil, err
	}
	if b, err := m.Encode(); err != nil {
		return nil, err
	} else if len(b) > MaxBody {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMessage, len(b), MaxBody)
	}
	return m, nil
}

// Encode returns the message's JSON body.
func (m *Message) Encode() ([]byte, error) { return json.Marshal(m) }

// Decode parses a message body and checks it against the codebook.
func (c *Codebook) Decode(p []byte) (*Message, error) {
	m, err := DecodeMessage(p)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(m); err != nil {
		return nil, err
	}
	return m, nil
}

// Validate checks that m was written under this codebook, that every code
// is known, and that every phrase has exactly its parameters, each of the
// right type and in range.
func (c *Codebook) Validate(m *Message) error {
	if err := m.checkShape(); err != nil {
		return err
	}
	if m.Codebook != c.Version() {
		return fmt.Errorf("%w: message uses codebook %s, this channel %s", ErrMismatch, m.Codebook, c.Version())
	}
	for i, it := range m.Items {
		if it.Code != "" {
			if _, err := c.values(i, it); err != nil {
				return err
			}
		}
	}
	return nil
}

// values checks a coded item's parameters and returns their values.
func (c *Codebook) values(i int, it Item) (map[string]value, error) {
	p, ok := c.phrases[it.Code]
	if !ok {
		return nil, &ItemError{Index: i, Code: it.Code, Err: fmt.Errorf("%w %s in codebook %s", ErrUnknownCode, it.Code, c.Version())}
	}
	vals := map[string]value{}
	for _, a := range p.Params {
		raw, ok := it.Params[a.Name]
		if !ok {
			return nil, &ItemError{i, it.Code, a.Name, fmt.Errorf("%w (%s)", ErrMissingParam, types[a.Type].en)}
		}
		if raw == nil {
			return nil, &ItemError{i, it.Code, a.Name, fmt.Errorf("%w: the value could not be encoded as JSON", ErrParamValue)}
		}
		v, err := types[a.Type].check(raw)
		if err != nil {
			return nil, &ItemError{i, it.Code, a.Name, fmt.Errorf("%w: %s: %v", ErrParamValue, a.Type, err)}
		}
		vals[a.Name] = v
	}
	if len(it.Params) != len(p.Params) {
		var extra []string
		for k := range it.Params {
			if !slices.ContainsFunc(p.Params, func(a Param) bool { return a.Name == k }) {
				extra = append(extra, k)
			}
		}
		slices.Sort(extra)
		return nil, &ItemError{i, it.Code, extra[0], fmt.Errorf("%w: %s takes %s", ErrExtraParam, it.Code, paramList(p.Params))}
	}
	return vals, nil
}

func paramList(ps []Param) string {
	if len(ps) == 0 {
		return "no parameters"
	}
	var names []string
	for _, a := range ps {
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}

// Line is one rendered item.
type Line struct {
	Code string // "" for free text
	Text string
	Lang string // the language Text is in
	Free bool   // Text is the sender's own words, not rendered from the codebook
}

// Render writes each item of m in lang: a coded item from its phrase's
// template in lang and its parameter values, free text as written.
func (c *Codebook) Render(m *Message, lang string) ([]Line, error) {
	if !slices.Contains(c.content.Languages, lang) {
		return nil, fmt.Errorf("%w: %q (it has %s)", ErrLanguage, lang, strings.Join(c.content.Languages, ", "))
	}
	if err := c.Validate(m); err != nil {
		return nil, err
	}
	lines := make([]Line, 0, len(m.Items))
	for i, it := range m.Items {
		if it.Code == "" {
			lines = append(lines, Line{Text: it.Free, Lang: it.Lang, Free: true})
			continue
		}
		vals, _ := c.values(i, it)
		var b strings.Builder
		p := c.phrases[it.Code]
		for _, s := range c.segments[it.Code][lang] {
			if s.param == "" {
				b.WriteString(s.lit)
				continue
			}
			for _, a := range p.Params {
				if a.Name == s.param {
					b.WriteString(types[a.Type].render(vals[a.Name], lang))
				}
			}
		}
		lines = append(lines, Line{Code: it.Code, Text: b.String(), Lang: lang})
	}
	return lines, nil
}

// RenderText renders m in lang as text for a person, one item a line,
// with free text marked as such and with its language.
func (c *Codebook) RenderText(m *Message, lang string) (string, error) {
	lines, err := c.Render(m, lang)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, l := range lines {
		switch {
		case !l.Free:
			fmt.Fprintf(&b, "%s %s\n", l.Code, l.Text)
		case lang == "zh-Hans":
			fmt.Fprintf(&b, "【自由文本，%s】%s\n", l.Lang, l.Text)
		default:
			fmt.Fprintf(&b, "[free text, %s] %s\n", l.Lang, l.Text)
		}
	}
	return b.String(), nil
}

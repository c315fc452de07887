// Package codebook holds the bilingual standard-phrase codebook and the
// coded messages built from it.
//
// The codebook is data: a versioned JSON file of phrases, each with a
// stable code, a category, a text template per language (English and
// Simplified Chinese) and typed parameters (course, speed, distance,
// position, time, ...). It is modelled on the Code for Unplanned Encounters
// at Sea (CUES, 2014) and the International Code of Signals; the default,
// cues-v1.json, is embedded. Two parties may extend it by agreement with an
// extension file that adds phrases under codes beginning with "X" and
// never changes an existing one. A codebook is named by its version and a
// hash of its content (Ref), which is what a channel charter records.
//
// A coded message is a list of items: a code with parameter values, or
// free text marked with its language. Each side renders the message in its
// own language from the codes and values, never from a translation of the
// other side's text; free text is shown as written and marked as free
// text. The formats are in docs/DECONFLICTION.md.
package codebook

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"hotline/internal/channel"
	"hotline/internal/strictjson"
)

//go:embed cues-v1.json
var defaultFile []byte

// MaxFile is the largest codebook or extension file accepted, in bytes.
const MaxFile = 1 << 20

// Limits on what a codebook file may define.
const (
	MaxParams   = 8   // parameters of one phrase
	MaxTemplate = 500 // bytes of one phrase's text in one language
)

// File formats, the first member of a codebook or extension file.
const (
	FormatBase      = "hotline codebook v1"
	FormatExtension = "hotline codebook extension v1"
)

// Languages lists the languages a codebook may have texts in: those whose
// parameter values (numbers, positions, times) this package can format.
var Languages = []string{"en", "zh-Hans"}

// Errors a caller can test for with errors.Is.
var (
	ErrCodebook     = errors.New("codebook is not valid")
	ErrMismatch     = channel.ErrBook // the same error as a charter's
	ErrMessage      = errors.New("coded message is not valid")
	ErrUnknownCode  = errors.New("unknown code")
	ErrMissingParam = errors.New("missing parameter")
	ErrExtraParam   = errors.New("unexpected parameter")
	ErrParamValue   = errors.New("parameter value is not valid")
	ErrLanguage     = errors.New("language is not in the codebook")
)

// Category groups phrases (manoeuvring, safety, ...).
type Category struct {
	ID   string            `json:"id"`
	Text map[string]string `json:"text"` // language → name
}

// Phrase is one standard phrase.
type Phrase struct {
	Code     string            `json:"code"`
	Category string            `json:"category"`
	ICS      string            `json:"ics,omitempty"` // the International Code of Signals group with this meaning, if any
	Params   []Param           `json:"params"`
	Text     map[string]string `json:"text"` // language → template; "{name}" stands for parameter name
}

// Param is a phrase's parameter.
type Param struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
}

// file is a codebook or extension file as written.
type file struct {
	Format     string            `json:"format"`
	Name       string            `json:"name"`
	Version    int               `json:"version"`
	Base       string            `json:"base,omitempty"`      // extension: version of the codebook it extends
	BaseHash   string            `json:"base_hash,omitempty"` // extension: hash of the codebook it extends
	Title      map[string]string `json:"title"`
	Languages  []string          `json:"languages,omitempty"`
	Categories []Category        `json:"categories,omitempty"`
	Phrases    []Phrase          `json:"phrases"`
}

// canonical is what the hash covers: everything that decides how a
// message is checked and rendered. Phrases are sorted by code.
type canonical struct {
	Version    string     `json:"version"`
	Languages  []string   `json:"languages"`
	Categories []Category `json:"categories"`
	Phrases    []Phrase   `json:"phrases"`
}

// Codebook is a loaded, checked codebook: the base and any extensions. It
// is immutable and safe for concurrent use.
type Codebook struct {
	content  canonical
	hash     string
	phrases  map[string]*Phrase
	segments map[string]map[string][]segment // code → language → template
}

// segment is a piece of a template: literal text, or a parameter.
type segment struct {
	lit, param string
}

var defaultBook = sync.OnceValues(func() (*Codebook, error) { return Parse(defaultFile) })

// Default returns the embedded codebook (cues-v1.json).
func Default() *Codebook {
	c, err := defaultBook()
	if err != nil {
		panic("embedded codebook: " + err.Error()) // the tests load it
	}
	return c
}

// DefaultFile returns the bytes of the embedded codebook file, for a party
// that wants to publish or compare it.
func DefaultFile() []byte { return bytes.Clone(defaultFile) }

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	codeRE     = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,7}(-[A-Z0-9]{1,8})?$`)
	categoryRE = regexp.MustCompile(`^[a-z][a-z_]{1,31}$`)
	paramRE    = regexp.MustCompile(`^[a-z][a-z_]{0,23}$`)
	icsRE      = regexp.MustCompile(`^[A-Z]{1,3}[0-9]{0,2}$`)
)

// Parse loads a base codebook file.
func Parse(data []byte) (*Codebook, error) {
	f, err := decodeFile(data, FormatBase)
	if err != nil {
		return nil, err
	}
	if f.Base != "" || f.BaseHash != "" {
		return nil, bad("a base codebook names no base")
	}
	if len(f.Languages) == 0 {
		return nil, bad("no languages")
	}
	seen := map[string]bool{}
	for _, l := range f.Languages {
		if !slices.Contains(Languages, l) {
			return nil, bad("language %q: values can be formatted only in %s", l, strings.Join(Languages, ", "))
		}
		if seen[l] {
			return nil, bad("language %q listed twice", l)
		}
		seen[l] = true
	}
	for _, p := range f.Phrases {
		if strings.HasPrefix(p.Code, "X") {
			return nil, bad("phrase %s: codes beginning with X are for extensions", p.Code)
		}
	}
	c := &Codebook{content: canonical{Version: fmt.Sprintf("%s/%d", f.Name, f.Version), Languages: f.Languages}}
	if err := c.add(f); err != nil {
		return nil, err
	}
	return c, nil
}

// Extend returns the codebook with an extension file the two parties
// agreed. The extension names this codebook's version and hash; it may add
// categories and phrases (codes beginning with "X") but never change or
// remove an existing one. c itself is unchanged.
func (c *Codebook) Extend(data []byte) (*Codebook, error) {
	f, err := decodeFile(data, FormatExtension)
	if err != nil {
		return nil, err
	}
	if f.Base != c.Version() || f.BaseHash != c.Hash() {
		return nil, fmt.Errorf("%w: extension %s/%d extends %s %s, not this codebook %s %s",
			ErrMismatch, f.Name, f.Version, f.Base, f.BaseHash, c.Version(), c.Hash())
	}
	if f.Languages != nil && !slices.Equal(f.Languages, c.content.Languages) {
		return nil, bad("extension languages %v differ from the base's %v", f.Languages, c.content.Languages)
	}
	for _, p := range f.Phrases {
		if _, ok := c.phrases[p.Code]; ok {
			return nil, bad("extension %s/%d: phrase %s is already defined; an extension may only add codes", f.Name, f.Version, p.Code)
		}
		if !strings.HasPrefix(p.Code, "X") {
			return nil, bad("extension %s/%d: phrase %s: extension codes begin with X", f.Name, f.Version, p.Code)
		}
	}
	n := &Codebook{content: canonical{
		Version:    fmt.Sprintf("%s+%s/%d", c.Version(), f.Name, f.Version),
		Languages:  c.content.Languages,
		Categories: slices.Clone(c.content.Categories),
		Phrases:    slices.Clone(c.content.Phrases),
	}}
	if !channel.ValidBookVersion(n.content.Version) {
		return nil, bad("version %q: at most 7 extensions", n.content.Version)
	}
	if err := n.add(f); err != nil {
		return nil, err
	}
	return n, nil
}

// ExtensionBase returns the reference of the codebook an extension file
// extends, from the file alone (Extend checks the rest).
func ExtensionBase(data []byte) (Ref, error) {
	f, err := decodeFile(data, FormatExtension)
	if err != nil {
		return Ref{}, err
	}
	return ParseRef(f.Base + " " + f.BaseHash)
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCodebook, fmt.Sprintf(format, args...))
}

func decodeFile(data []byte, format string) (*file, error) {
	var f file
	if err := strictjson.Decode(data, &f, MaxFile); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCodebook, err)
	}
	if f.Format != format {
		return nil, bad("format %q, want %q", f.Format, format)
	}
	if !nameRE.MatchString(f.Name) {
		return nil, bad("name %q: use 1-32 lower-case letters, digits or '-'", f.Name)
	}
	if f.Version < 1 || f.Version > 9999 {
		return nil, bad("version %d: use 1-9999", f.Version)
	}
	if len(f.Phrases) == 0 {
		return nil, bad("no phrases")
	}
	return &f, nil
}

// add checks the categories and phrases of f against c's languages and
// what c already holds, adds them, and computes the hash.
func (c *Codebook) add(f *file) error {
	langs := c.content.Languages
	for _, l := range langs {
		if err := checkText(f.Title[l], 200); err != nil {
			return bad("title in %s: %v", l, err)
		}
	}
	if len(f.Title) != len(langs) {
		return bad("title: give one text for each of %v", langs)
	}
	cats := map[string]bool{}
	for _, k := range c.content.Categories {
		cats[k.ID] = true
	}
	for _, k := range f.Categories {
		if !categoryRE.MatchString(k.ID) {
			return bad("category %q: use 2-32 lower-case letters or '_'", k.ID)
		}
		if cats[k.ID] {
			return bad("category %s is already defined", k.ID)
		}
		if err := checkTexts(k.Text, langs, 100); err != nil {
			return bad("category %s: %v", k.ID, err)
		}
		cats[k.ID] = true
		c.content.Categories = append(c.content.Categories, k)
	}
	c.phrases = map[string]*Phrase{}
	c.segments = map[string]map[string][]segment{}
	for i := range c.content.Phrases {
		p := &c.content.Phrases[i]
		c.phrases[p.Code] = p
	}
	for _, p := range f.Phrases {
		if !codeRE.MatchString(p.Code) {
			return bad("phrase code %q: use an upper-case letter, then 1-7 upper-case letters or digits, optionally '-' and 1-8 more", p.Code)
		}
		if _, ok := c.phrases[p.Code]; ok {
			return bad("phrase %s is defined twice", p.Code)
		}
		if !cats[p.Category] {
			return bad("phrase %s: unknown category %q", p.Code, p.Category)
		}
		if p.ICS != "" && !icsRE.MatchString(p.ICS) {
			return bad("phrase %s: ICS group %q", p.Code, p.ICS)
		}
		if len(p.Params) > MaxParams {
			return bad("phrase %s: %d parameters, limit %d", p.Code, len(p.Params), MaxParams)
		}
		names := map[string]bool{}
		for _, a := range p.Params {
			if !paramRE.MatchString(a.Name) {
				return bad("phrase %s: parameter name %q: use 1-24 lower-case letters or '_'", p.Code, a.Name)
			}
			if names[a.Name] {
				return bad("phrase %s: parameter %s is declared twice", p.Code, a.Name)
			}
			if _, ok := types[a.Type]; !ok {
				return bad("phrase %s: parameter %s: unknown type %q", p.Code, a.Name, a.Type)
			}
			names[a.Name] = true
		}
		if err := checkTexts(p.Text, langs, MaxTemplate); err != nil {
			return bad("phrase %s: %v", p.Code, err)
		}
		c.content.Phrases = append(c.content.Phrases, p)
		c.phrases[p.Code] = &c.content.Phrases[len(c.content.Phrases)-1]
	}
	slices.SortFunc(c.content.Phrases, func(a, b Phrase) int { return strings.Compare(a.Code, b.Code) })
	for i := range c.content.Phrases {
		p := &c.content.Phrases[i]
		c.phrases[p.Code] = p
		c.segments[p.Code] = map[string][]segment{}
		for _, l := range langs {
			segs, err := parseTemplate(p.Text[l], p.Params)
			if err != nil {
				return bad("phrase %s in %s: %v", p.Code, l, err)
			}
			c.segments[p.Code][l] = segs
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c.content); err != nil {
		return bad("%v", err)
	}
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	c.hash = "sha256:" + hex.EncodeToString(sum[:])
	return nil
}

// checkTexts checks that m has exactly one valid text for each language.
func checkTexts(m map[string]string, langs []string, limit int) error {
	for _, l := range langs {
		if err := checkText(m[l], limit); err != nil {
			return fmt.Errorf("text in %s: %v", l, err)
		}
	}
	if len(m) != len(langs) {
		return fmt.Errorf("texts in %d languages; give one for each of %v", len(m), langs)
	}
	return nil
}

// checkText checks a short text shown to people: not empty, within limit
// bytes, and free of control and invisible formatting characters (which
// could make a rendered text read differently from what it holds).
func checkText(s string, limit int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("empty")
	case len(s) > limit:
		return fmt.Errorf("%d bytes, limit %d", len(s), limit)
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("control or formatting character %U", r)
		}
	}
	return nil
}

// parseTemplate splits a template into literal text and parameters, and
// checks that it uses every declared parameter and no other.
func parseTemplate(t string, params []Param) ([]segment, error) {
	declared := map[string]bool{}
	for _, p := range params {
		declared[p.Name] = false
	}
	var segs []segment
	for t != "" {
		i := strings.IndexAny(t, "{}")
		if i < 0 {
			segs = append(segs, segment{lit: t})
			break
		}
		if t[i] == '}' {
			return nil, errors.New("'}' without '{'")
		}
		if i > 0 {
			segs = append(segs, segment{lit: t[:i]})
		}
		j := strings.IndexAny(t[i+1:], "{}")
		if j < 0 || t[i+1+j] != '}' {
			return nil, errors.New("'{' without '}'")
		}
		name := t[i+1 : i+1+j]
		used, ok := declared[name]
		if !ok {
			return nil, fmt.Errorf("{%s} is not a declared parameter", name)
		}
		if used {
			return nil, fmt.Errorf("{%s} appears twice", name)
		}
		declared[name] = true
		segs = append(segs, segment{param: name})
		t = t[i+1+j+1:]
	}
	for _, p := range params {
		if !declared[p.Name] {
			return nil, fmt.Errorf("parameter %s is not used", p.Name)
		}
	}
	return segs, nil
}

// Version names the codebook and its extensions, e.g. "hotline-cues/1" or
// "hotline-cues/1+alpha-bravo/2".
func (c *Codebook) Version() string { return c.content.Version }

// Hash is "sha256:" and the hex SHA-256 of the codebook's canonical
// content (docs/DECONFLICTION.md, "Codebook").
func (c *Codebook) Hash() string { return c.hash }

// Ref is what a channel charter records: version and hash.
func (c *Codebook) Ref() Ref { return Ref{Version: c.Version(), Hash: c.hash} }

// Languages lists the codebook's languages.
func (c *Codebook) Languages() []string { return slices.Clone(c.content.Languages) }

// Categories lists the categories in the order the files define them.
func (c *Codebook) Categories() []Category {
	out := slices.Clone(c.content.Categories)
	for i := range out {
		out[i].Text = maps.Clone(out[i].Text)
	}
	return out
}

// Phrase returns the phrase with the given code.
func (c *Codebook) Phrase(code string) (Phrase, bool) {
	p, ok := c.phrases[code]
	if !ok {
		return Phrase{}, false
	}
	return clonePhrase(p), true
}

// Phrases lists every phrase in code order.
func (c *Codebook) Phrases() []Phrase {
	out := make([]Phrase, len(c.content.Phrases))
	for i := range c.content.Phrases {
		out[i] = clonePhrase(&c.content.Phrases[i])
	}
	return out
}

func clonePhrase(p *Phrase) Phrase {
	q := *p
	q.Params = slices.Clone(p.Params)
	q.Text = maps.Clone(p.Text)
	return q
}

// Ref names a codebook by version and content hash: what a channel
// charter records.
type Ref = channel.BookRef

// ParseRef reads "version sha256:hex", the form Ref's String writes.
func ParseRef(s string) (Ref, error) { return channel.ParseBookRef(s) }

// Check reports whether c is the codebook r names.
func (c *Codebook) Check(r Ref) error {
	if r.Version != c.Version() || r.Hash != c.hash {
		return fmt.Errorf("%w: agreed %s, have %s", ErrMismatch, r, c.Ref())
	}
	return nil
}

// Describe returns a one-line description of a parameter type for a
// person filling in a form, in the given language.
func Describe(t Type, lang string) string {
	ti, ok := types[t]
	if !ok {
		return ""
	}
	if lang == "zh-Hans" {
		return ti.zh
	}
	return ti.en
}

// Find returns the codebook a charter names from those given; a charter
// naming any other is refused (ErrMismatch).
func Find(c *channel.Charter, have ...*Codebook) (*Codebook, error) {
	books := make([]channel.Book, len(have))
	for i, b := range have {
		books[i] = b
	}
	b, err := c.FindBook(books...)
	if err != nil {
		return nil, err
	}
	return b.(*Codebook), nil
}

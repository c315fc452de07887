package codebook_test

import (
	"bytes"
	"errors"
	"testing"

	"hotline/internal/codebook"
)

// FuzzDecodeMessage checks that Decode never panics, that every error is
// one a caller can test for, and that an accepted message renders in both
// languages and encodes to a body that decodes and renders the same.
func FuzzDecodeMessage(f *testing.F) {
	c := codebook.Default()
	f.Add([]byte(`{"codebook":"hotline-cues/1","items":[{"code":"MNV23","params":{"course":45,"position":{"lat":16.5,"lon":-112.25},"speed":12.5}},{"free":"注意安全","lang":"zh-Hans"}]}`))
	f.Add([]byte(`{"codebook":"hotline-cues/1","items":[{"code":"ACT08","params":{"end":"2026-05-01T18:00:00Z","start":"2026-05-01T14:30:00Z"}}]}`))
	f.Add([]byte(`{"codebook":"hotline-cues/1","items":[{"code":"MNV09","params":{"course":90,"course":270}}]}`))
	f.Add([]byte(`{"codebook":"hotline-cues/1","items":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := c.Decode(data)
		if err != nil {
			if !errors.Is(err, codebook.ErrMessage) && !errors.Is(err, codebook.ErrMismatch) &&
				!errors.Is(err, codebook.ErrUnknownCode) && !errors.Is(err, codebook.ErrMissingParam) &&
				!errors.Is(err, codebook.ErrExtraParam) && !errors.Is(err, codebook.ErrParamValue) {
				t.Fatalf("error %v is none of the package's", err)
			}
			return
		}
		var texts []string
		for _, lang := range c.Languages() {
			s, err := c.RenderText(m, lang)
			if err != nil {
				t.Fatalf("accepted message does not render in %s: %v", lang, err)
			}
			texts = append(texts, s)
		}
		body, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.Decode(body)
		if err != nil {
			t.Fatalf("re-encoded message %s does not decode: %v", body, err)
		}
		for i, lang := range c.Languages() {
			if s, _ := c.RenderText(again, lang); s != texts[i] {
				t.Fatalf("%s: re-encoded message renders %q, was %q", lang, s, texts[i])
			}
		}
	})
}

// FuzzParse checks that a codebook file either parses to a codebook whose
// phrases all render, or is refused with ErrCodebook.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"format":"hotline codebook v1","name":"test","version":1,"title":{"en":"Test","zh-Hans":"测试"},"languages":["en","zh-Hans"],"categories":[{"id":"safety","text":{"en":"Safety","zh-Hans":"安全"}}],"phrases":[{"code":"SAF01","category":"safety","params":[{"name":"course","type":"course"}],"text":{"en":"Steer {course}.","zh-Hans":"操舵{course}。"}}]}`))
	f.Add([]byte(`{"format":"hotline codebook v1","name":"test","version":1,"title":{"en":"T"},"languages":["en"],"categories":[{"id":"ab","text":{"en":"A"}}],"phrases":[{"code":"AB","category":"ab","params":[],"text":{"en":"{"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := codebook.Parse(data)
		if err != nil {
			if !errors.Is(err, codebook.ErrCodebook) {
				t.Fatalf("error %v is not ErrCodebook", err)
			}
			return
		}
		again, err := codebook.Parse(bytes.Clone(data))
		if err != nil || again.Hash() != c.Hash() {
			t.Fatalf("parsing again: %v, hash %s vs %s", err, again.Hash(), c.Hash())
		}
		for _, p := range c.Phrases() {
			if len(p.Params) > 0 {
				continue
			}
			m, err := c.NewMessage(codebook.Coded(p.Code, nil))
			if err != nil {
				t.Fatalf("%s: %v", p.Code, err)
			}
			for _, lang := range c.Languages() {
				if _, err := c.Render(m, lang); err != nil {
					t.Fatalf("%s in %s: %v", p.Code, lang, err)
				}
			}
		}
	})
}

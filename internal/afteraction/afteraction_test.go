package afteraction

import (
	"strings"
	"testing"
)

func TestParseRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"no data":      "<html><body>nothing</body></html>",
		"not closed":   `<script type="application/json" id="hotline-report">{"format":"hotline after-action report v1"}`,
		"not json":     `<script type="application/json" id="hotline-report">{</script>`,
		"wrong format": `<script type="application/json" id="hotline-report">{"format":"something else"}</script>`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// TestHTMLRoundTrip: a report's data comes back from its document, and
// script in any text is text.
func TestHTMLRoundTrip(t *testing.T) {
	r := &Report{Format: Format, Station: "USA"}
	r.Incident.ID, r.Incident.Title, r.Incident.State = "c/USA/3", `</script><script>alert(1)</script>`, "open"
	doc, err := r.HTML("en")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), "<script>alert") {
		t.Fatal("a title closed the data block")
	}
	got, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Incident.Title != r.Incident.Title || got.Station != "USA" {
		t.Fatalf("round trip: %+v", got)
	}
}

func FuzzParse(f *testing.F) {
	r := &Report{Format: Format, Station: "USA"}
	doc, _ := r.HTML("en")
	f.Add(doc)
	f.Add([]byte(`<script type="application/json" id="hotline-report">{"format":"hotline after-action report v1","entries":[{"id":"a/b/1"}]}</script>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		r, err := Parse(doc)
		if err == nil && r.Format != Format {
			t.Fatalf("parsed a report of format %q", r.Format)
		}
	})
}

// TestCatalogsComplete: every word of the report is in both languages.
func TestCatalogsComplete(t *testing.T) {
	for k := range catalogs["en"] {
		if catalogs["zh-Hans"][k] == "" {
			t.Errorf("%q has no Chinese", k)
		}
	}
	for k := range catalogs["zh-Hans"] {
		if catalogs["en"][k] == "" {
			t.Errorf("%q has no English", k)
		}
	}
}

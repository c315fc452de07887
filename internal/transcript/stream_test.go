package transcript_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"hotline/internal/envelope"
	"hotline/internal/transcript"
)

// TestCheckStreamAgrees: the streaming reader gives the report the
// in-memory one gives, for the bundle as hotline export writes it.
func TestCheckStreamAgrees(t *testing.T) {
	fx := mustBundleFixture(t)
	data, err := json.MarshalIndent(fx.Bundle, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want, err := transcript.Check(fx.Bundle, transcript.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := transcript.CheckStream(bytes.NewReader(data), transcript.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Report, want.Report) {
		t.Errorf("stream report %+v\nin memory %+v", got.Report, want.Report)
	}
	// Bundles compare the same way from either reader.
	if _, err := transcript.Compare(got, want); err != nil {
		t.Errorf("Compare: %v", err)
	}
}

// TestCheckStreamRefuses: the streaming reader is as strict as
// ReadBundle, and says ErrOrder for fields it cannot stream, which
// CheckFile then reads whole.
func TestCheckStreamRefuses(t *testing.T) {
	fx := mustBundleFixture(t)
	valid, err := json.Marshal(fx.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct{ data, want string }{
		"name in another case": {strings.Replace(string(valid), `"exported_by"`, `"Exported_By"`, 1), `unknown field "Exported_By"`},
		"repeated name":        {strings.Replace(string(valid), `"exported_by":"alpha"`, `"exported_by":"alpha","exported_by":"bravo"`, 1), `field "exported_by" given twice`},
		"null":                 {strings.Replace(string(valid), `"exported_by":"alpha"`, `"exported_by":null`, 1), "exported_by is <nil>, not a string"},
		"entry not a string":   {strings.Replace(string(valid), `"entries":["`, `"entries":[7,"`, 1), "entry 1 of alpha's log is 7"},
		"entry not base64":     {strings.Replace(string(valid), `"entries":["`, `"entries":["!!`, 1), "entry 1 of alpha's log: illegal base64"},
		"trailing data":        {string(valid) + "{}", "data after the bundle's JSON object"},
		"truncated":            {string(valid[:len(valid)/2]), "unexpected EOF"},
		"no logs":              {strings.Replace(string(valid), `"logs":`, `"logz":`, 1), `unknown field "logz"`},
		"wrong format":         {strings.Replace(string(valid), transcript.BundleFormat, "hotline-transcript/v9", 1), `format "hotline-transcript/v9"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := transcript.CheckStream(strings.NewReader(tt.data), transcript.Options{})
			if !errors.Is(err, transcript.ErrBundle) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckStream = %v, want ErrBundle: %q", err, tt.want)
			}
		})
	}
	// The logs before the cards: not streamable, but a valid bundle.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(valid, &m); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"logs":` + string(m["logs"]))
	for _, k := range []string{"format", "channel", "exported_by", "exported_at", "export", "cards", "charter"} {
		buf.WriteString(`,"` + k + `":` + string(m[k]))
	}
	buf.WriteString("}")
	if _, err := transcript.CheckStream(bytes.NewReader(buf.Bytes()), transcript.Options{}); !errors.Is(err, transcript.ErrOrder) {
		t.Fatalf("logs first: CheckStream = %v, want ErrOrder", err)
	}
	if c, err := transcript.CheckSeeker(bytes.NewReader(buf.Bytes()), transcript.Options{}); err != nil || c.Report.Verdict == "" {
		t.Fatalf("CheckSeeker of the reordered bundle: %v", err)
	}
}

// TestDisclosedEntry: a disclosed entry verifies, streamed or in memory,
// and is reported with its author, time, precedence and body; a body
// that is not what the key opens is refused.
func TestDisclosedEntry(t *testing.T) {
	fx := mustBundleFixture(t)
	raw := fx.Bundle.Logs[1].Entries[2] // bravo/3, sealed to alpha
	e, err := envelope.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture seals each entry under an epoch of its own.
	ep, err := e.OpenEpoch(fx.Stations["alpha"].Keys.KEM)
	if err != nil {
		t.Fatal(err)
	}
	k := e.EntryKey(ep)
	body, err := e.OpenDisclosed(k)
	if err != nil {
		t.Fatal(err)
	}
	b := trick(t, fx, func(b *transcript.Bundle) {
		b.Logs[1].Disclosed = []transcript.Disclosure{{Index: 3, Key: k, Body: string(body)}}
	})
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for name, check := range map[string]func() (*transcript.Checked, error){
		"in memory": func() (*transcript.Checked, error) { return transcript.Check(b, transcript.Options{}) },
		"streamed": func() (*transcript.Checked, error) {
			return transcript.CheckStream(bytes.NewReader(data), transcript.Options{})
		},
	} {
		c, err := check()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := c.Report.Logs[1].Disclosed
		if len(d) != 1 || d[0].ID != "red-blue.1/bravo/3" || d[0].Body != `{"text":"message 3 from bravo"}` || d[0].Precedence != "PRIORITY" || !d[0].Time.Equal(e.Time) {
			t.Errorf("%s: disclosed %+v", name, d)
		}
	}
	b.Logs[1].Disclosed[0].Body = `{"text":"message 3 from bravo: we accept"}`
	refused(t, b, "red-blue.1/bravo/3: the body the bundle discloses is not the entry's")
}

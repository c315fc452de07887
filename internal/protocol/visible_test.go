package protocol

import (
	"strings"
	"testing"

	"hotline/internal/envelope"
)

// TestVisible: a person's text may hold any language, newlines and tabs,
// but not what shows other than it reads (security review item 9).
func TestVisible(t *testing.T) {
	for _, ok := range []string{"CPA 0.5 NM at 10:26Z", "最接近点 0.5 海里", "line one\nline two\tcolumn", "🇺🇸 ok", ""} {
		if err := Visible("text", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"CPA \u202e5.0\u202c NM", // right-to-left override
		"\u2066isolate\u2069",    // isolates
		"zero\u200bwidth",        // zero-width space
		"join\u200dme",           // zero-width joiner
		"bell\a",                 // a control character
		"line\u2028separator",    // line separator
		"\ufeffbom",              // byte order mark
	} {
		err := Visible("message text", bad)
		if err == nil || !strings.Contains(err.Error(), "message text holds the invisible character U+") {
			t.Errorf("%q: %v, want it refused naming the character", bad, err)
		}
	}
	if got, want := Reveal("CPA \u202e5.0\u202c NM"), "CPA ⟨U+202E⟩5.0⟨U+202C⟩ NM"; got != want {
		t.Errorf("Reveal = %q, want %q", got, want)
	}
	if got := Reveal("最接近点\n0.5"); got != "最接近点\n0.5" {
		t.Errorf("Reveal changed a visible text: %q", got)
	}
}

// TestSubmitRefusesInvisible: this station's operators cannot write such
// text either, as a message, an acknowledgement's name or a reason.
func TestSubmitRefusesInvisible(t *testing.T) {
	s := newSim(t, 3)
	a := s.nodes[0]
	before := len(a.disk.entries["ops/ALPHA"])
	for _, kind := range []struct {
		name string
		ev   func(id uint64) Event
	}{
		{"text", func(id uint64) Event {
			return Submit{ID: id, Channel: "ops", Kind: envelope.Text, Precedence: envelope.Flash, Body: []byte(`{"text":"CPA \u202e5.0 NM"}`)}
		}},
		{"suspension reason", func(id uint64) Event {
			return Submit{ID: id, Channel: "ops", Kind: envelope.Suspend, Precedence: envelope.Flash, Body: []byte(`{"reason":"drill\u202e","by":"duty"}`)}
		}},
	} {
		req := s.request(a, kind.ev)
		if d, ok := a.done[req]; !ok || d.Err == nil || !strings.Contains(d.Err.Error(), "invisible character") {
			t.Errorf("%s: %+v, want it refused", kind.name, d)
		}
	}
	s.settle(1000)
	if after := len(a.disk.entries["ops/ALPHA"]); after != before {
		t.Errorf("refused submits wrote %d entries", after-before)
	}
}

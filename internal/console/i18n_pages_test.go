package console_test

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"hotline/internal/console"
	"hotline/internal/ops"
)

// verb is a format verb of a catalogue string or an alert format.
var verb = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[sdqvf]`)

// englishFragments are the fixed parts of the English catalogue and of the
// station's alert formats that a Chinese page must not show: each part
// between format verbs of two words or more, unless the Chinese of the
// same string holds it too (a name such as "EEMUA 191").
func englishFragments() map[string]string {
	out := map[string]string{}
	add := func(key, en, zh string) {
		for _, part := range verb.Split(en, -1) {
			part = strings.Trim(part, " .,:;()·–—\"'[]")
			words := strings.Fields(part)
			if len(words) < 2 || strings.Contains(zh, part) {
				continue
			}
			letters := 0
			for _, w := range words {
				if regexp.MustCompile(`^[A-Za-z]{2,}`).MatchString(w) {
					letters++
				}
			}
			if letters >= 2 {
				out[part] = key
			}
		}
	}
	en, zh := console.Catalogs()["en"], console.Catalogs()["zh"]
	for k, v := range en {
		add(k, v, zh[k])
	}
	for f, z := range console.AlertFormats()["zh"] {
		add("alert format "+f, f, z)
	}
	return out
}

var attrText = regexp.MustCompile(`\s(?:title|aria-label|alt|placeholder)="([^"]*)"`)

// shown is what a person reads on a page: its text and the titles and
// labels of its elements.
func shown(page string) string {
	var b strings.Builder
	b.WriteString(text(regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>`).ReplaceAllString(page, " ")))
	for _, m := range attrText.FindAllStringSubmatch(page, -1) {
		b.WriteString(" " + html.UnescapeString(m[1]))
	}
	return b.String()
}

// untranslated lists the English catalogue strings on a page drawn for a
// Chinese console, and times written the American way.
func untranslated(t *testing.T, frags map[string]string, name, page string) {
	t.Helper()
	// Signatures and proofs in base64 (the after-action report's) are
	// no words: a run of them may hold "ok" between two digits.
	s := regexp.MustCompile(`[A-Za-z0-9+/=]{40,}`).ReplaceAllString(shown(page), " ")
	var bad []string
	for f, key := range frags {
		if i := strings.Index(s, f); i >= 0 {
			bad = append(bad, fmt.Sprintf("%q (%s) in …%s…", f, key, s[max(0, i-60):min(len(s), i+len(f)+60)]))
		}
	}
	// The words the console names states and outcomes by, whole.
	for k, v := range console.Catalogs()["en"] {
		if !regexp.MustCompile(`^(inc_|state_|outcome_)`).MatchString(k) || strings.Contains(v, " ") {
			continue
		}
		if m := regexp.MustCompile(`(^|[^A-Za-z_./-])` + regexp.QuoteMeta(v) + `($|[^A-Za-z_./-])`).FindStringIndex(s); m != nil {
			bad = append(bad, fmt.Sprintf("%q (%s) in …%s…", v, k, s[max(0, m[0]-60):min(len(s), m[1]+60)]))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%s in Chinese shows English: %s", name, strings.Join(bad, ", "))
	}
	if m := regexp.MustCompile(`\d{1,2}/\d{1,2}/\d{4}|\d:\d\d(:\d\d)? ?[AP]M`).FindString(s); m != "" {
		t.Errorf("%s in Chinese writes a time the American way: %q", name, m)
	}
	if !strings.Contains(page, `lang="zh-Hans"`) {
		t.Errorf("%s in Chinese is not marked lang=zh-Hans", name)
	}
}

// TestEveryPageInChinese draws every page of the console for Chinese
// operators of each role, after a crisis: a FLASH unacknowledged (taking
// over), a message that climbed its whole ladder, a suspension by the
// other party, a notice, coded phrases, an encounter report and an
// incident, a call, a text to several parties one of whom was refused;
// the refusal pages and the pages of bad requests; and
// fails on any fixed part of an English catalogue string or alert format
// on any of them.
func TestEveryPageInChinese(t *testing.T) {
	usa, chn, inc := scene(t)
	ctx := t.Context()
	const unit = "usa-chn-unit"
	agree(t, usa, chn, ops.ProposeRequest{Peer: "CHN", Channel: unit, Level: "unit", EscalateTo: theatre,
		Deadlines: map[string]string{"PRIORITY": "1s"}, Delivery: map[string]string{"PRIORITY": "500ms"}})
	_, err := usa.Send(ctx, ops.SendRequest{Channel: unit, Precedence: "PRIORITY", Text: "Say your intentions"})
	if err != nil {
		t.Fatal(err)
	}
	coded, err := chn.SendCoded(ctx, ops.CodedRequest{Channel: theatre, Precedence: "FLASH", Items: []ops.CodedItem{
		{Code: "MNV08", Args: map[string]string{"course": "270", "speed": "20"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chn.Send(ctx, ops.SendRequest{Channel: theatre, Precedence: "FLASH", Text: "Flash to USA"}); err != nil {
		t.Fatal(err)
	}
	// A text to several parties, one of whom nobody is.
	bv, err := usa.Broadcast(ctx, ops.BroadcastRequest{To: []string{"CHN", "NOBODY"}, Level: "staff", Precedence: "PRIORITY", Text: "Fleet exercise cancelled"})
	if err != nil {
		t.Fatal(err)
	}
	d := newDesk(t, usa)
	sam := d.login(t, "sam")
	waitFor(t, usa, "the ladder climbed", func() bool {
		return strings.Contains(sam.do(t, "GET", "/console/frag/conversation/"+unit, "").body, `data-step="4" class="taken"`)
	})
	if _, err := chn.Suspend(ctx, ops.SuspendRequest{Channel: unit, Reason: "maintenance of the link", By: "wang"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, usa, "the suspension", func() bool { return stateOf(t, usa, unit).State == "suspended" })
	// The coded FLASH takes over a Chinese console in Chinese.
	var zh string
	waitFor(t, usa, "the coded FLASH", func() bool {
		in, _ := usa.Inbox(ctx, theatre)
		for _, m := range in {
			if m.ID == coded.ID {
				zh = m.Rendered["zh-Hans"]
			}
		}
		return zh != ""
	})
	frags := englishFragments()
	if len(frags) < 200 {
		t.Fatalf("only %d English fragments to look for: is the extraction broken?", len(frags))
	}

	login := d.login(t, "sam") // a fresh client for the login page
	login.cookie = ""
	r := login.do(t, "GET", "/console/login", "", "Accept-Language", "zh-CN,zh;q=0.9")
	untranslated(t, frags, "the login page", r.body)

	incQ := url.QueryEscape(inc)
	for _, who := range []string{"sam", "dora", "ada", "aud"} {
		b := d.login(t, who)
		if r := b.do(t, "POST", "/console/api/lang", `{"lang":"zh"}`); r.code != 200 {
			t.Fatal(r.body)
		}
		for _, path := range []string{"/console/", "/console/channel/" + theatre, "/console/channel/" + unit, "/console/incidents",
			"/console/incident?id=" + incQ, "/console/map", "/console/audit", "/console/admin", "/console/incident/report?id=" + incQ,
			"/console/frag/board", "/console/frag/alerts", "/console/frag/takeover", "/console/frag/conversation/" + unit,
			"/console/frag/channel-head/" + unit, "/console/frag/checks/" + unit, "/console/frag/incidents", "/console/frag/map",
			"/console/broadcasts", "/console/broadcast/" + bv.ID, "/console/frag/broadcasts", "/console/frag/broadcast/" + bv.ID,
			"/console/frag/conversation/" + theatre,
		} {
			r := b.do(t, "GET", path, "")
			if r.code != 200 && r.code != 403 {
				t.Errorf("%s: %s: %d %.200s", who, path, r.code, r.body)
				continue
			}
			if strings.HasPrefix(path, "/console/frag/") {
				r.body = `<html lang="zh-Hans">` + r.body // a fragment goes into a page marked so
			}
			untranslated(t, frags, fmt.Sprintf("%s %s (%d)", who, path, r.code), r.body)
		}
	}
	if tk := sam.do(t, "GET", "/console/frag/takeover", "").body; !strings.Contains(html.UnescapeString(tk), zh) || !strings.Contains(tk, `lang="zh-Hans"`) {
		t.Errorf("the coded FLASH takes over without its Chinese %q:\n%s", zh, tk)
	}
	// Bad requests, as a browser opening them sees them.
	sam = d.login(t, "sam")
	sam.do(t, "POST", "/console/api/lang", `{"lang":"zh"}`)
	for _, path := range []string{"/console/map?from=yesterday", "/console/incident?id=" + url.QueryEscape(theatre+"/USA/99"),
		"/console/channel/no-such-channel", "/console/incident/report?id=x", "/console/broadcast/b-0000000000000000", "/console/broadcast/nonsense"} {
		r := sam.do(t, "GET", path, "", "Accept", "text/html")
		if r.code < 400 {
			t.Errorf("%s: %d, want an error", path, r.code)
		}
		untranslated(t, frags, fmt.Sprintf("%s (%d)", path, r.code), r.body)
	}
}

package call

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"hotline/internal/envelope"
)

// TestDecodeRefuses: each body is decoded strictly and what a person
// wrote must show as written; each refusal names what is wrong.
func TestDecodeRefuses(t *testing.T) {
	for _, tt := range []struct {
		kind envelope.Kind
		body string
		want string
	}{
		{envelope.CallRequest, `{}`, "caller"},
		{envelope.CallRequest, `{"caller":"  "}`, "caller is empty"},
		{envelope.CallRequest, `{"caller":"A","Caller":"B"}`, "Caller"},
		{envelope.CallRequest, `{"caller":"A","extra":1}`, "extra"},
		{envelope.CallRequest, `{"caller":"A","video":null}`, "null"},
		{envelope.CallRequest, `{"caller":"A"} {}`, "after"},
		{envelope.CallRequest, `{"caller":"A\u200bB"}`, "U+200B"},
		{envelope.CallRequest, `{"caller":"A\nB"}`, "U+000A"},
		{envelope.CallRequest, `{"caller":"A","back":"x/y"}`, "back"},
		{envelope.CallAnswer, `{"call":"ch/USA/0","by":"Li"}`, "not CHANNEL/STATION/INDEX"},
		{envelope.CallAnswer, `{"call":"ch/USA/01","by":"Li"}`, "not CHANNEL/STATION/INDEX"},
		{envelope.CallAnswer, `{"call":"ch/USA/1"}`, "by"},
		{envelope.CallAnswer, `{"call":"ch/USA/1","by":"` + strings.Repeat("x", 129) + `"}`, "limit 128"},
		{envelope.CallDecline, `{"call":"ch/USA/1","by":"Li","reason":"\u202eevil"}`, "U+202E"},
		{envelope.CallDecline, `{"call":"ch/USA/1","by":"Li","reason":"` + strings.Repeat("x", 1025) + `"}`, "limit 1024"},
		{envelope.CallEnd, `{"call":"","by":"Li"}`, "call id"},
		{envelope.CallJoin, `{"call":"ch/USA/1","participant":""}`, "participant is empty"},
		{envelope.CallLeave, `{"call":"ch/USA/1"}`, "participant"},
		{envelope.Text, `{"text":"x"}`, "not a call entry kind"},
	} {
		if _, err := Decode(tt.kind, []byte(tt.body)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decode(%s, %s) = %v, want an error about %q", tt.kind, tt.body, err, tt.want)
		}
	}
	b, err := Decode(envelope.CallRequest, []byte(`{"caller":"Cdr. Hale","video":true,"back":"ch/CHN/4"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := b.(*Request); r.Caller != "Cdr. Hale" || !r.Video || r.BackRef() == nil || *r.BackRef() != (Ref{"ch", "CHN", 4}) {
		t.Errorf("request decoded as %+v", r)
	}
}

// TestKinds: each kind checks the channel the call names and says what
// it acknowledges.
func TestKinds(t *testing.T) {
	ks := map[envelope.Kind]BodyKind{}
	for _, k := range BodyKinds() {
		ks[k.Kind()] = k
	}
	ans, _ := DecodeAnswer([]byte(`{"call":"ch/USA/3","by":"Li"}`))
	if err := ks[envelope.CallAnswer].Check(ans, "other"); err == nil || !strings.Contains(err.Error(), "another channel") {
		t.Errorf("an answer to a call of another channel: %v", err)
	}
	if err := ks[envelope.CallAnswer].Check(ans, "ch"); err != nil {
		t.Error(err)
	}
	if e, by := ks[envelope.CallAnswer].Acknowledges(ans); e != "ch/USA/3" || by != "Li" {
		t.Errorf("an answer acknowledges %q by %q", e, by)
	}
	end, _ := DecodeEnd([]byte(`{"call":"ch/USA/3","by":"Li"}`))
	if e, _ := ks[envelope.CallEnd].Acknowledges(end); e != "" {
		t.Errorf("an end acknowledges %q", e)
	}
	req, _ := DecodeRequest([]byte(`{"caller":"Hale"}`))
	if e, _ := ks[envelope.CallRequest].Acknowledges(req); e != "" {
		t.Errorf("a request that returns no call acknowledges %q", e)
	}
	if text, lang := ks[envelope.CallRequest].Forward(req, nil); !strings.Contains(text, "Hale") || lang != "en" {
		t.Errorf("forward: %q %q", text, lang)
	}
}

// TestFold: a call's states as its entries arrive, and the deadline that
// makes a ringing call missed.
func TestFold(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	dl := func(string, envelope.Precedence) time.Duration { return 10 * time.Minute }
	e := func(author string, idx uint64, kind envelope.Kind, at time.Duration, body string) Entry {
		b, err := Decode(kind, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return Entry{Ref: Ref{"ch", author, idx}, Kind: kind, Precedence: envelope.Flash, SentAt: t0.Add(at), StoredAt: t0.Add(at), Body: b}
	}
	req := e("USA", 2, envelope.CallRequest, 0, `{"caller":"Hale","video":true}`)
	ans := e("CHN", 5, envelope.CallAnswer, time.Minute, `{"call":"ch/USA/2","by":"Li","video":true}`)
	ans2 := e("CHN", 6, envelope.CallAnswer, 2*time.Minute, `{"call":"ch/USA/2","by":"Wang"}`)
	own := e("USA", 3, envelope.CallAnswer, time.Minute, `{"call":"ch/USA/2","by":"Hale"}`)
	end := e("USA", 4, envelope.CallEnd, 3*time.Minute, `{"call":"ch/USA/2","by":"Hale"}`)
	dec := e("CHN", 5, envelope.CallDecline, time.Minute, `{"call":"ch/USA/2","by":"Li","reason":"busy"}`)
	back := e("CHN", 7, envelope.CallRequest, 20*time.Minute, `{"caller":"Li","back":"ch/USA/2"}`)
	for _, tt := range []struct {
		name    string
		entries []Entry
		now     time.Duration
		want    State
		by      string
	}{
		{"ringing", []Entry{req}, time.Minute, Ringing, ""},
		{"missed", []Entry{req}, 10 * time.Minute, Missed, ""},
		{"answered", []Entry{req, ans}, time.Hour, Answered, "Li"},
		{"second answer ignored", []Entry{req, ans, ans2}, time.Hour, Answered, "Li"},
		{"own answer ignored", []Entry{req, own}, time.Minute, Ringing, ""},
		{"ended", []Entry{req, ans, end}, time.Hour, Ended, "Li"},
		{"declined", []Entry{req, dec}, time.Hour, Declined, ""},
		{"answer after a decline ignored", []Entry{req, dec, ans2}, time.Hour, Declined, ""},
		{"hung up while ringing", []Entry{req, end}, time.Hour, Ended, ""},
		{"called back", []Entry{req, back}, time.Hour, Missed, ""},
		{"answered late", []Entry{req, e("CHN", 5, envelope.CallAnswer, time.Hour, `{"call":"ch/USA/2","by":"Li"}`)}, 2 * time.Hour, Answered, "Li"},
	} {
		calls := Fold(tt.entries, t0.Add(tt.now), dl)
		if len(calls) == 0 || calls[0].State != tt.want || calls[0].AnsweredBy != tt.by {
			t.Errorf("%s: %+v, want %s answered by %q", tt.name, calls, tt.want, tt.by)
		}
	}
	c := Fold([]Entry{req, ans, end}, t0.Add(time.Hour), dl)[0]
	if !c.Video || !c.AnsweredAt.Equal(t0.Add(time.Minute)) || !c.EndedAt.Equal(t0.Add(3*time.Minute)) || c.EndedBy != "Hale" {
		t.Errorf("answered and ended call: %+v", c)
	}
}

// TestMedia: a request or an answer carries a station's session
// description; its one SHA-256 fingerprint is read from it, and a
// description that is not SDP text, names no fingerprint, several, or
// another hash, or is too long, is refused with the body.
func TestMedia(t *testing.T) {
	fp := "AB:" + strings.Repeat("0F:", 30) + "C9"
	sdp := "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\na=fingerprint:sha-256 " + strings.ToLower(fp) + "\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
	body := func(s string) []byte {
		p, _ := json.Marshal(Request{Caller: "Cdr. Hale", Media: &Media{SDP: s}})
		return p
	}
	r, err := DecodeRequest(body(sdp))
	if err != nil {
		t.Fatal(err)
	}
	if r.Media == nil || r.Media.SDP != sdp || r.Media.Fingerprint() != fp {
		t.Fatalf("decoded media %+v, fingerprint %q", r.Media, r.Media.Fingerprint())
	}
	a, err := DecodeAnswer([]byte(`{"call":"c/USA/1","by":"Col. Li","media":{"sdp":` + strconv.Quote(sdp) + `}}`))
	if err != nil || a.Media.Fingerprint() != fp {
		t.Fatalf("answer: %+v %v", a, err)
	}
	if r, err := DecodeRequest([]byte(`{"caller":"Cdr. Hale"}`)); err != nil || r.Media != nil {
		t.Fatalf("a request without media: %+v %v", r, err)
	}
	for _, tc := range []struct{ name, sdp, want string }{
		{"empty", "", "empty"},
		{"not SDP", "hello\r\n", "v=0"},
		{"no CRLF at the end", strings.TrimSuffix(sdp, "\r\n"), "CRLF"},
		{"empty line", sdp + "\r\n", "empty"},
		{"control", strings.Replace(sdp, "s=-", "s=\x1b[2J", 1), "0x1b"},
		{"non-ASCII", strings.Replace(sdp, "s=-", "s=é", 1), "0xc3"},
		{"no fingerprint", strings.Replace(sdp, "a=fingerprint:", "a=fingerprnt:", 1), "no DTLS fingerprint"},
		{"two fingerprints", sdp + "a=fingerprint:sha-256 " + strings.Replace(fp, "AB", "CD", 1) + "\r\n", "more than one"},
		{"sha-1", strings.Replace(sdp, "sha-256", "sha-1", 1), "not sha-256"},
		{"short", strings.Replace(sdp, ":c9\r\n", "\r\n", 1), "32 hex pairs"},
		{"not hex", strings.Replace(sdp, "ab:", "zz:", 1), "32 hex pairs"},
		{"too long", sdp + strings.Repeat("a=x\r\n", MaxSDP/5), "limit"},
	} {
		if _, err := DecodeRequest(body(tc.sdp)); !errors.Is(err, ErrBody) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := DecodeRequest([]byte(`{"caller":"Cdr. Hale","media":{"sdp":"` + strings.ReplaceAll(sdp, "\r\n", `\r\n`) + `","extra":1}}`)); err == nil {
		t.Error("an unknown member of media was taken")
	}
}

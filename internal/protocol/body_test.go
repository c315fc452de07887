package protocol

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"hotline/internal/codebook"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/transcript"
)

// TestDecodeBodyRefuses: every body a peer could send that does not fit
// its kind is refused with an error naming the kind and what is wrong.
func TestDecodeBodyRefuses(t *testing.T) {
	long := strings.Repeat("x", MaxReason+1)
	tests := []struct {
		kind envelope.Kind
		body string
		want string
	}{
		{envelope.Suspend, `{"by":"Minister"}`, "a reason is required"},
		{envelope.Suspend, `{"reason":"protest"}`, "needs who did it"},
		{envelope.Suspend, `{"reason":"` + long + `","by":"x"}`, "at most 1024 bytes"},
		{envelope.Suspend, `{"reason":"protest","by":"x","extra":1}`, "unknown field"},
		{envelope.Suspend, `{"reason":"protest","by":"x"} {}`, "after the JSON object"},
		{envelope.Resume, `{"reason":"ok"}`, "needs who did it"},
		{envelope.Resume, `[]`, "resume body"},
		{envelope.Check, `{"window":"soon"}`, "not a positive duration"},
		{envelope.Check, `{"window":"-1m"}`, "not a positive duration"},
		{envelope.Check, `{}`, "not a positive duration"},
		{envelope.Reminder, `{"of":[]}`, "1 to 4096"},
		{envelope.Reminder, `{"of":[3,0]}`, "1 to 4096"},
		{envelope.Reminder, `{"of":"3"}`, "reminder body"},
		{envelope.Escalation, `{"from":"a/b/1","precedence":"URGENT","text":"x"}`, "URGENT"},
		{envelope.Escalation, `{"from":"a/b/1","precedence":"FLASH","text":""}`, "empty"},
		{envelope.Escalation, `{"precedence":"FLASH","text":"x"}`, "original entry"},
		{envelope.Key, `{}`, "a statement or a replacement record"},
		{envelope.Key, `{"statement":"hotline key rotation v1\n\n"}`, "key rotation statement is not valid"},
		{envelope.Key, `{"statement":"x","replaced":{"station":"A","old":"B","card":"c","by":"d"}}`, "not both"},
		{envelope.Key, `{"replaced":{"station":"A","old":"B","card":"c","by":"d"}}`, "station card is not valid"},
		{envelope.Key, `{"statement":"x","extra":1}`, "unknown field"},
		{envelope.Kind(200), `{}`, "no body format"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String()+" "+tt.want, func(t *testing.T) {
			_, err := testBodies.Decode(tt.kind, []byte(tt.body), codebook.Default())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeBody(%s, %s) = %v, want an error about %q", tt.kind, tt.body, err, tt.want)
			}
		})
	}
}

// FuzzDecodeBody: decoding never panics, and whatever decodes encodes to
// JSON that decodes to the same thing.
func FuzzDecodeBody(f *testing.F) {
	seeds := []struct {
		kind envelope.Kind
		body any
	}{
		{envelope.Text, TextBody{Text: "hello", Lang: "en"}},
		{envelope.Ack, AckBody{Of: 3, By: "duty"}},
		{envelope.Suspend, SuspendBody{Reason: "protest", By: "Minister"}},
		{envelope.Resume, ResumeBody{By: "Minister"}},
		{envelope.Check, CheckBody{Window: "10m0s"}},
		{envelope.Reminder, ReminderBody{Of: []uint64{1, 2}}},
		{envelope.Escalation, EscalationBody{From: "a/B/1", Precedence: "FLASH", Text: "turn back"}},
		{envelope.Coded, json.RawMessage(`{"codebook":"hotline-cues/1","items":[{"code":"MNV08","params":{"course":90,"speed":12}},{"free":"north","lang":"en"}]}`)},
		{envelope.Notice, json.RawMessage(`{"kind":"live_fire","area":{"polygon":[{"lat":17.5,"lon":110.5},{"lat":17.5,"lon":111.5},{"lat":17,"lon":111.5}]},` +
			`"band":{"low_m":0,"high_m":8000},"window":{"from":"2026-05-01T00:00:00Z","to":"2026-05-01T08:00:00Z"},"units":["Destroyer 173"],"call":"ops"}`)},
		{envelope.Report, json.RawMessage(`{"time":"2026-05-01T03:10:00Z","own":{"unit":"A","position":{"lat":16.9,"lon":112.2},"course":45,"speed_kn":14},` +
			`"other":{"unit":"B","position":{"lat":16.905,"lon":112.23},"course":300,"speed_kn":18},"cpa":{"distance_nm":0.3,"time":"2026-05-01T03:14:00Z"},` +
			`"said":[{"time":"2026-05-01T03:11:00Z","by":"own","message":{"codebook":"hotline-cues/1","items":[{"code":"REQ01"}]}}]}`)},
		{envelope.Incident, json.RawMessage(`{"action":"close","outcome":"resolved","incident":{"channel":"ops","author":"A","index":7},"prev":{"channel":"ops","author":"B","index":9}}`)},
	}
	// Key entries: a rotation statement, and a replacement record.
	old, _ := identity.NewKeys("ALPHA")
	nk, _ := identity.NewKeys("ALPHA")
	card, _ := identity.NewCard(nk, "ALPHA", []string{"alpha:7443"}, time.Unix(1_800_000_000, 0))
	stmt, _ := identity.NewRotation(old, card, identity.ReasonRotate, time.Unix(1_800_000_000, 0))
	seeds = append(seeds,
		struct {
			kind envelope.Kind
			body any
		}{envelope.Key, KeyBody{Statement: string(stmt.Text)}},
		struct {
			kind envelope.Kind
			body any
		}{envelope.Key, KeyBody{Replaced: &transcript.Replacement{Station: "ALPHA", Old: "AAAA-BBBB", Card: string(card.Text), By: "officer"}}})
	for _, s := range seeds {
		b, _ := json.Marshal(s.body)
		f.Add(uint8(s.kind), b)
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		v, err := testBodies.Decode(envelope.Kind(kind), data, codebook.Default())
		if err != nil {
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := testBodies.Decode(envelope.Kind(kind), again, codebook.Default())
		if err != nil {
			t.Fatalf("re-encoded body %s refused: %v", again, err)
		}
		if b2, _ := json.Marshal(v2); string(b2) != string(again) {
			t.Fatalf("round trip %s != %s", b2, again)
		}
	})
}

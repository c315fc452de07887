package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"hotline/internal/ops"
)

const liveFireNotice = `{"kind":"live_fire","title":"Naval gunnery","lang":"en",
 "area":{"polygon":[{"lat":17.5,"lon":110.5},{"lat":17.5,"lon":111.5},{"lat":17,"lon":111.5},{"lat":17,"lon":110.5}]},
 "band":{"low_m":0,"high_m":8000},
 "window":{"from":"2026-05-01T00:00:00Z","to":"2026-05-01T08:00:00Z"},
 "units":["Destroyer 173"],"call":"usa-chn-staff"}`

// TestCodedThroughAPI: a coded message sent by one station is shown by the
// other in either language, rendered from its codes, with free text marked
// as free text; bad input is refused naming the item, code and parameter,
// and sends nothing.
func TestCodedThroughAPI(t *testing.T) {
	ctx := context.Background()
	usa, chn := startPair(t)
	agree(t, usa, chn, staff)

	m, err := usa.c.SendCoded(ctx, ops.CodedRequest{Channel: staff, Precedence: "IMMEDIATE", Items: []ops.CodedItem{
		{Code: "MNV08", Args: map[string]string{"course": "090", "speed": "12"}},
		{Code: "MNV06"},
		{Free: "Fishing fleet to the north.", Lang: "en"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != "coded" || m.Coded == nil || len(m.Coded.Items) != 3 {
		t.Fatalf("sent %+v", m)
	}
	waitFor(t, "CHN to receive the coded message", func() (bool, error) {
		in, err := chn.c.Inbox(ctx, staff)
		return messageOf(in, m.ID) != nil, err
	}, chn.st)
	in, _ := chn.c.Inbox(ctx, staff)
	got := messageOf(in, m.ID)
	wantZH := "MNV08 我船航向090°，航速12节。\nMNV06 我船拟向右转向。\n【自由文本，en】Fishing fleet to the north."
	wantEN := "MNV08 My course is 090° and my speed is 12 knots.\nMNV06 I intend to alter course to starboard.\n[free text, en] Fishing fleet to the north."
	if got.Rendered["zh-Hans"] != wantZH || got.Rendered["en"] != wantEN || got.Text != wantEN {
		t.Errorf("CHN renders\n%q\n%q\nwant\n%q\n%q", got.Rendered["zh-Hans"], got.Rendered["en"], wantZH, wantEN)
	}
	if l := got.Coded.Lines["zh-Hans"]; len(l) != 3 || !l[2].Free || l[2].Lang != "en" || l[0].Code != "MNV08" || l[0].Lang != "zh-Hans" {
		t.Errorf("lines %+v", l)
	}
	if got.AckDue.IsZero() || got.Status != "received" {
		t.Errorf("a coded message waits for acknowledgement: %+v", got)
	}
	if _, err := chn.c.Ack(ctx, m.ID, "Cdr. Li"); err != nil {
		t.Fatalf("acknowledging a coded message: %v", err)
	}
	waitFor(t, "USA to see the coded message acknowledged", func() (bool, error) {
		out, err := usa.c.Outbox(ctx, staff)
		m := messageOf(out, m.ID)
		return m != nil && m.Acknowledged, err
	}, usa.st)

	before := stateOf(t, usa)
	bad := []struct {
		name  string
		req   ops.CodedRequest
		wants []string
	}{
		{"unknown code", ops.CodedRequest{Channel: staff, Precedence: "FLASH", Items: []ops.CodedItem{{Code: "MNV99"}}}, []string{"items[0]", "MNV99", "unknown code"}},
		{"wrong type", ops.CodedRequest{Channel: staff, Precedence: "FLASH", Items: []ops.CodedItem{{Code: "MNV09", Args: map[string]string{"course": "east"}}}}, []string{"items[0] (MNV09)", "parameter course", "east"}},
		{"out of range", ops.CodedRequest{Channel: staff, Precedence: "FLASH", Items: []ops.CodedItem{{Code: "MNV06"}, {Code: "MNV09", Params: map[string]json.RawMessage{"course": json.RawMessage("360")}}}}, []string{"items[1] (MNV09)", "parameter course", "360"}},
		{"missing parameter", ops.CodedRequest{Channel: staff, Precedence: "FLASH", Items: []ops.CodedItem{{Code: "MNV09"}}}, []string{"MNV09", "parameter course", "missing"}},
		{"extra parameter", ops.CodedRequest{Channel: staff, Precedence: "FLASH", Items: []ops.CodedItem{{Code: "MNV06", Args: map[string]string{"speed": "3"}}}}, []string{"MNV06", "speed"}},
		{"free text without language", ops.CodedRequest{Channel: staff, Precedence: "FLASH", Items: []ops.CodedItem{{Free: "hello"}}}, []string{"items[0]", "language"}},
		{"no items", ops.CodedRequest{Channel: staff, Precedence: "FLASH"}, []string{"no items"}},
		{"unknown channel", ops.CodedRequest{Channel: "nowhere", Precedence: "FLASH", Items: []ops.CodedItem{{Code: "MNV06"}}}, []string{"unknown channel", "nowhere"}},
		{"bad precedence", ops.CodedRequest{Channel: staff, Precedence: "SOON", Items: []ops.CodedItem{{Code: "MNV06"}}}, []string{"SOON"}},
	}
	for _, tt := range bad {
		_, err := usa.c.SendCoded(ctx, tt.req)
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		for _, w := range tt.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not name %q", tt.name, err, w)
			}
		}
	}
	for _, tt := range []struct {
		name  string
		req   ops.NoticeRequest
		wants []string
	}{
		{"notice ending before it starts", ops.NoticeRequest{Channel: staff, Notice: json.RawMessage(strings.Replace(liveFireNotice, `"to":"2026-05-01T08:00:00Z"`, `"to":"2026-04-30T08:00:00Z"`, 1))}, []string{"window", "before it starts"}},
		{"notice with a latitude out of range", ops.NoticeRequest{Channel: staff, Notice: json.RawMessage(strings.Replace(liveFireNotice, `"lat":17.5,"lon":110.5`, `"lat":97.5,"lon":110.5`, 1))}, []string{"area", "latitude 97.5"}},
		{"notice with an unknown field", ops.NoticeRequest{Channel: staff, Notice: json.RawMessage(strings.Replace(liveFireNotice, `"units"`, `"unit":"x","units"`, 1))}, []string{"unit"}},
		{"notice missing its window", ops.NoticeRequest{Channel: staff, Notice: json.RawMessage(`{"kind":"transit","area":{"circle":{"center":{"lat":1,"lon":1},"radius_nm":1}},"units":["x"],"call":"c"}`)}, []string{"window"}},
	} {
		_, err := usa.c.SendNotice(ctx, tt.req)
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		for _, w := range tt.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not name %q", tt.name, err, w)
			}
		}
	}
	assertUnchanged(t, usa, before, "refused coded messages and notices")
}

// TestIncidentThroughAPI: a notice and a report, and an incident about
// them that both stations fold to the same state as it goes from open to
// closed with both signatures; a step the lifecycle does not allow is
// refused and sends nothing.
func TestIncidentThroughAPI(t *testing.T) {
	ctx := context.Background()
	usa, chn := startPair(t)
	agree(t, usa, chn, staff)

	notice, err := chn.c.SendNotice(ctx, ops.NoticeRequest{Channel: staff, Notice: json.RawMessage(liveFireNotice)})
	if err != nil {
		t.Fatal(err)
	}
	if notice.Kind != "notice" || notice.Notice == nil || !strings.HasPrefix(notice.Rendered["zh-Hans"], "活动通报：实弹射击") {
		t.Fatalf("notice %+v", notice)
	}
	report, err := chn.c.SendReport(ctx, ops.ReportRequest{Channel: staff, Precedence: "FLASH", Report: json.RawMessage(`{"time":"2026-05-01T03:10:00Z",
		"own":{"unit":"Destroyer 173","position":{"lat":16.9,"lon":112.2},"course":45,"speed_kn":14},
		"other":{"unit":"DDG-00","position":{"lat":16.905,"lon":112.2296},"course":300,"speed_kn":18},
		"cpa":{"distance_nm":0.3,"time":"2026-05-01T03:14:00Z"},"unsafe":true}`),
		Said: []ops.SaidRequest{{Time: time.Date(2026, 5, 1, 3, 11, 0, 0, time.UTC), By: "own", Items: []ops.CodedItem{{Code: "SAF16"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if report.Report == nil || len(report.Report.Said) != 1 || !strings.Contains(report.Rendered["en"], "03:11 own: SAF16 Do not cross ahead of me.") {
		t.Fatalf("report %+v", report)
	}
	if _, err := chn.c.SendReport(ctx, ops.ReportRequest{Channel: staff, Report: report.Report.Said[0].Message.Items[0].Params["x"]}); err == nil {
		t.Error("an empty report was accepted")
	}

	inc, err := chn.c.Incident(ctx, ops.IncidentRequest{Action: "open", Channel: staff, Title: "Unsafe crossing ahead of Destroyer 173",
		Lang: "en", Links: []string{notice.ID, report.ID}, By: "Cdr. Li"})
	if err != nil {
		t.Fatal(err)
	}
	if inc.State != "open" || inc.Opener != "CHN" || len(inc.Linked) != 3 {
		t.Fatalf("opened %+v", inc)
	}
	id := inc.ID
	waitFor(t, "USA to see the incident", func() (bool, error) {
		vs, err := usa.c.Incidents(ctx, staff)
		return len(vs) == 1 && vs[0].ID == id, err
	}, usa.st)

	waitFor(t, "CHN to see the incident delivered", func() (bool, error) {
		out, err := chn.c.Outbox(ctx, staff)
		m := messageOf(out, id)
		return m != nil && m.Status == "delivered", err
	}, chn.st)
	before := stateOf(t, chn)
	for _, r := range []ops.IncidentRequest{
		{Action: "acknowledge", Incident: id},                                             // the opener does not acknowledge
		{Action: "discuss", Incident: id, Note: "talk", Lang: "en"},                       // not yet acknowledged
		{Action: "close", Incident: id, Outcome: "resolved"},                              // only withdrawn before acknowledged
		{Action: "close", Incident: id},                                                   // no outcome
		{Action: "link", Incident: id, Links: []string{staff + "/CHN/99"}},                // no such entry
		{Action: "acknowledge", Incident: staff + "/CHN/2"},                               // not an incident
		{Action: "wave", Incident: id},                                                    // no such action
		{Action: "open", Channel: staff},                                                  // no title
		{Action: "open", Channel: staff, Title: "x", Lang: "en", Links: []string{"junk"}}, // bad link
	} {
		if _, err := chn.c.Incident(ctx, r); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
	assertUnchanged(t, chn, before, "refused incident steps")

	steps := []struct {
		by *node
		r  ops.IncidentRequest
	}{
		{usa, ops.IncidentRequest{Action: "acknowledge", Incident: id, By: "Lt. Cdr. Smith"}},
		{chn, ops.IncidentRequest{Action: "discuss", Incident: id, Note: "Keep 2 NM from our units.", Lang: "en", By: "Cdr. Li"}},
		{usa, ops.IncidentRequest{Action: "close", Incident: id, Outcome: "resolved", Note: "Agreed.", Lang: "en", By: "Lt. Cdr. Smith"}},
		{chn, ops.IncidentRequest{Action: "close", Incident: id, Outcome: "resolved", By: "Cdr. Li"}},
	}
	want := []string{"acknowledged", "under_discussion", "closing", "closed"}
	for i, st := range steps {
		other := chn
		if st.by == chn {
			other = usa
		}
		v, err := st.by.c.Incident(ctx, st.r)
		if err != nil {
			t.Fatalf("step %d (%s by %s): %v", i, st.r.Action, st.by.name, err)
		}
		if v.State != want[i] {
			t.Fatalf("after %s by %s: %s, want %s", st.r.Action, st.by.name, v.State, want[i])
		}
		waitFor(t, "the other station to fold the same", func() (bool, error) {
			vs, err := other.c.Incidents(ctx, staff)
			return len(vs) == 1 && vs[0].State == want[i], err
		}, other.st)
	}
	for _, n := range []*node{usa, chn} {
		vs, err := n.c.Incidents(ctx, "")
		if err != nil || len(vs) != 1 {
			t.Fatalf("%s: %+v, %v", n.name, vs, err)
		}
		v := vs[0]
		if v.State != "closed" || v.Outcome != "resolved" || len(v.Timeline) != 5 {
			t.Errorf("%s: %s %s, %d steps", n.name, v.State, v.Outcome, len(v.Timeline))
		}
		signers := map[string]bool{}
		for _, s := range v.Timeline {
			if s.Action == "close" && s.Applied {
				signers[s.By] = true
			}
		}
		if !signers["USA"] || !signers["CHN"] {
			t.Errorf("%s: closed without both signatures: %+v", n.name, v.Timeline)
		}
	}
	// Acting on the incident acknowledged the other party's entries of it.
	waitFor(t, "USA's incident entries acknowledged at CHN", func() (bool, error) {
		out, err := usa.c.Outbox(ctx, staff)
		for _, m := range out {
			if m.Kind == "incident" && !m.Acknowledged {
				return false, err
			}
		}
		return true, err
	}, usa.st)
}

package console_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"hotline/internal/ops"
	"hotline/internal/station"
)

// trio opens USA with two peers, CHN and RUS, each pinned to USA and
// USA to each, running, with a staff channel agreed with each:
// usa-chn-staff and usa-rus-staff (an IMMEDIATE on it due in 1 s, to be
// delivered within 500 ms).
func trio(t *testing.T) (usa, chn, rus *station.Station) {
	t.Helper()
	ctx := t.Context()
	usa, chn = pair(t, "usa-chn-staff")
	rus = openStation(t, t.TempDir(), "RUS")
	for _, p := range [][2]*station.Station{{usa, rus}, {rus, usa}} {
		if _, err := p[0].AddPeer(ctx, p[1].OwnCard.Text, p[1].OwnCard.Fingerprint()); err != nil {
			t.Fatal(err)
		}
	}
	go rus.Run(ctx)
	agree(t, usa, rus, ops.ProposeRequest{Peer: "RUS", Channel: "usa-rus-staff", Level: "staff", Deadlines: map[string]string{"IMMEDIATE": "1s"}, Delivery: map[string]string{"IMMEDIATE": "500ms"}})
	return usa, chn, rus
}

// broadcastOf reads a broadcast the console sent from its answer.
func broadcastOf(t *testing.T, r reply) ops.BroadcastView {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("broadcast: %d %s", r.code, r.body)
	}
	var v ops.BroadcastView
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// partyRow is a party's row of a broadcast's page, as a person reads it.
func partyRow(t *testing.T, page, peer string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr data-peer="` + regexp.QuoteMeta(peer) + `".*?</tr>`).FindString(page)
	if m == "" {
		t.Fatalf("no row for %s:\n%s", peer, page)
	}
	return m
}

// TestBroadcastPages: a duty officer sends one text to CHN, RUS and a
// name nobody has from the Broadcasts form's action: CHN and RUS get
// their copies on their own channels, the unknown name is refused by
// name (the others went), and the act is audited. CHN acknowledges; RUS
// does not, past its 1 s deadline. The list and the broadcast's page
// show each party as it stands, in English and in Chinese: CHN
// acknowledged by whom, RUS delivered and overdue with its ladder, the
// unknown name not sent and why. Each channel's conversation marks the
// copy: a link to the broadcast on USA's, a note with its id on CHN's.
// Bad requests are refused with the station's words; an auditor may not
// send; an admin names a group, a duty officer may not, and a text to
// the group reaches its members.
func TestBroadcastPages(t *testing.T) {
	usa, chn, rus := trio(t)
	ctx := t.Context()
	du, dc := newDesk(t, usa, realTime), newDesk(t, chn, realTime)
	dora := du.login(t, "dora")

	page := dora.do(t, "GET", "/console/broadcasts", "")
	if page.code != 200 || !strings.Contains(page.body, `<form id="broadcast-form">`) || !strings.Contains(page.body, "Nothing sent to several parties yet.") {
		t.Fatalf("the Broadcasts page: %d\n%s", page.code, page.body)
	}
	for _, want := range []string{`<a href="/console/broadcasts" aria-current="page">Broadcasts</a>`,
		`<input type="checkbox" id="bc-to-all" name="to" value="all"> <label for="bc-to-all">Every party (all pinned peers)</label>`,
		`value="CHN"> <label for="bc-to-peer-0">CHN</label>`, `value="RUS"> <label for="bc-to-peer-1">RUS</label>`,
		`<option>staff</option>`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the Broadcasts page lacks %s", want)
		}
	}

	// Bad requests: the station's one line, nothing sent.
	for _, c := range []struct{ body, want string }{
		{`{"to":[],"precedence":"ROUTINE","text":"x"}`, "to: name the parties"},
		{`{"to":["NOBODY"],"precedence":"ROUTINE","text":"x"}`, "sent to nobody: NOBODY: not a pinned peer or a group"},
		{`{"to":["CHN"],"precedence":"ROUTINE","text":""}`, "give a text or a notice to send"},
	} {
		if r := dora.do(t, "POST", "/console/api/broadcasts", c.body); r.code != http.StatusBadRequest || !strings.Contains(r.errText(), c.want) {
			t.Errorf("%s: %d %s, want 400 %q", c.body, r.code, r.body, c.want)
		}
	}
	if bs, _ := usa.Broadcasts(ctx); len(bs) != 0 {
		t.Errorf("bad requests sent %d broadcasts", len(bs))
	}
	if r := du.login(t, "aud").do(t, "POST", "/console/api/broadcasts", `{"to":["CHN"],"precedence":"ROUTINE","text":"x"}`); r.code != http.StatusForbidden || r.errText() != "role auditor may not send" {
		t.Errorf("an auditor broadcasting: %d %s", r.code, r.body)
	}

	bv := broadcastOf(t, dora.do(t, "POST", "/console/api/broadcasts", jsonBody(ops.BroadcastRequest{
		To: []string{"CHN", "RUS", "NOBODY"}, Precedence: "IMMEDIATE", Text: "Fleet exercise cancelled <b>now</b>"})))
	if bv.Sent != 2 || bv.Refused != 1 || len(bv.Parties) != 3 {
		t.Fatalf("sent %d, refused %d of %d parties: %+v", bv.Sent, bv.Refused, len(bv.Parties), bv.Parties)
	}
	if a := du.lastAudit(t, "broadcast"); a == nil || a.Operator != "dora" || a.Outcome != "ok" || a.Target != bv.ID ||
		!strings.Contains(a.Detail, "2 sent, 1 refused; NOBODY: not a pinned peer or a group") {
		t.Errorf("audit of the broadcast: %+v", a)
	}
	var chnCopy string
	for _, p := range bv.Parties {
		if p.Peer == "CHN" {
			chnCopy = p.Entry
		}
	}
	waitFor(t, chn, "CHN's copy", func() bool {
		in, _ := chn.Inbox(ctx, "usa-chn-staff")
		return len(in) == 1 && in[0].ID == chnCopy && in[0].Broadcast == bv.ID
	})
	wang := dc.login(t, "dora")
	if r := wang.do(t, "POST", "/console/api/ack", jsonBody(map[string]string{"id": chnCopy})); r.code != 200 {
		t.Fatalf("CHN acknowledging: %d %s", r.code, r.body)
	}
	waitFor(t, usa, "CHN's acknowledgement and RUS overdue", func() bool {
		v, err := usa.BroadcastShow(ctx, bv.ID)
		return err == nil && v.Acknowledged == 1 && v.Delivered == 2 && v.Overdue == 1 && len(v.Parties[1].Ladder) > 0
	})

	// The list: newest first, counts, what needs a person standing out.
	list := dora.do(t, "GET", "/console/frag/broadcasts", "")
	row := regexp.MustCompile(`(?s)<tr data-broadcast="` + bv.ID + `".*?</tr>`).FindString(list.body)
	if row == "" {
		t.Fatalf("the list lacks %s:\n%s", bv.ID, list.body)
	}
	if got := text(row); !strings.Contains(got, bv.ID) || !strings.Contains(got, "IMMEDIATE message CHN, RUS, NOBODY Fleet exercise cancelled <b>now</b> 3 2 1 ⚠ 1 ⚠ 1") {
		t.Errorf("the list's row: %s", got)
	}
	if !strings.Contains(row, `class="needs"`) || !strings.Contains(row, `href="/console/broadcast/`+bv.ID+`"`) || strings.Contains(row, "<b>now") {
		t.Errorf("the list's row does not stand out, link or escape:\n%s", row)
	}

	// The broadcast's page, each party as it stands.
	bp := dora.do(t, "GET", "/console/broadcast/"+bv.ID, "")
	if bp.code != 200 || !strings.Contains(bp.body, `data-frag="/console/frag/broadcast/`+bv.ID+`"`) {
		t.Fatalf("the broadcast's page: %d\n%s", bp.code, bp.body)
	}
	if got := text(bp.body); !strings.Contains(got, "3 parties: 2 delivered, 1 acknowledged · ⚠ 1 overdue · ⚠ 1 not sent") {
		t.Errorf("the broadcast's counts: %s", got)
	}
	c := partyRow(t, bp.body, "CHN")
	if got := text(c); !strings.Contains(got, "acknowledged") || !strings.Contains(got, "by Lt. Dora Chen at") || !strings.Contains(got, "(their clock, signed receipt)") ||
		!strings.Contains(c, `href="/console/channel/usa-chn-staff#m-`+chnCopy+`"`) {
		t.Errorf("CHN's row:\n%s", c)
	}
	r := partyRow(t, bp.body, "RUS")
	if got := text(r); !strings.Contains(got, "delivered ⚠ overdue") ||
		!strings.Contains(got, "✓ acknowledgement deadline: peer reminded") || !strings.Contains(r, `class="countdown" data-due=`) {
		t.Errorf("RUS's row: %s", got)
	}
	n := partyRow(t, bp.body, "NOBODY")
	if got := text(n); !strings.Contains(got, "not sent Why: not a pinned peer or a group") || strings.Contains(n, "<a ") {
		t.Errorf("NOBODY's row: %s", got)
	}
	if f := dora.do(t, "GET", "/console/frag/broadcast/"+bv.ID, ""); f.code != 200 || !strings.Contains(f.body, `<tr data-peer="CHN" data-status="acknowledged"`) {
		t.Errorf("the broadcast's fragment: %d %s", f.code, f.body)
	}
	if r := dora.do(t, "GET", "/console/broadcast/b-0000000000000000", ""); r.code != http.StatusNotFound || !strings.Contains(r.body, "no broadcast b-0000000000000000") {
		t.Errorf("a broadcast nobody sent: %d %s", r.code, r.body)
	}

	// Each copy in its conversation.
	conv := dora.do(t, "GET", "/console/frag/conversation/usa-rus-staff", "").body
	if !strings.Contains(conv, `<p class="bcast" data-broadcast="`+bv.ID+`"><a href="/console/broadcast/`+bv.ID+`">sent to several parties at once</a>`) {
		t.Errorf("USA's copy to RUS is not linked to its broadcast:\n%s", conv)
	}
	conv = wang.do(t, "GET", "/console/frag/conversation/usa-chn-staff", "").body
	if m := regexp.MustCompile(`(?s)<p class="bcast".*?</p>`).FindString(conv); !strings.Contains(text(m), "USA sent this to several parties at once, each on its own channel: "+bv.ID) || strings.Contains(m, "<a ") {
		t.Errorf("CHN's copy is not marked (without a link): %s", m)
	}

	// In Chinese.
	if r := dora.do(t, "POST", "/console/api/lang", `{"lang":"zh"}`); r.code != 200 {
		t.Fatal(r.body)
	}
	frags := englishFragments()
	for _, path := range []string{"/console/broadcasts", "/console/broadcast/" + bv.ID, "/console/frag/broadcasts", "/console/frag/broadcast/" + bv.ID} {
		r := dora.do(t, "GET", path, "")
		if strings.HasPrefix(path, "/console/frag/") {
			r.body = `<html lang="zh-Hans">` + r.body
		}
		untranslated(t, frags, path, r.body)
	}
	bp = dora.do(t, "GET", "/console/broadcast/"+bv.ID, "")
	if got := text(bp.body); !strings.Contains(got, "共 3 方：2 方已送达，1 方已确认 · ⚠ 1 方已超时 · ⚠ 1 方未发送") {
		t.Errorf("the counts in Chinese: %s", got)
	}
	if got := text(partyRow(t, bp.body, "NOBODY")); !strings.Contains(got, "未发送 原因： 既不是已固定的对端，也不是组") {
		t.Errorf("NOBODY's row in Chinese: %s", got)
	}
	if got := text(partyRow(t, bp.body, "RUS")); !strings.Contains(got, "已送达 ⚠ 已超时") || !strings.Contains(got, "确认时限：已提醒对方") {
		t.Errorf("RUS's row in Chinese: %s", got)
	}

	// Groups: an admin names one; a duty officer may not; a text to it
	// reaches its members.
	if r := dora.do(t, "POST", "/console/api/groups", `{"name":"Allies","peers":["CHN","RUS"]}`); r.code != http.StatusForbidden || r.errText() != "role duty may not peers" {
		t.Errorf("a duty officer naming a group: %d %s", r.code, r.body)
	}
	ada := du.login(t, "ada")
	if r := ada.do(t, "POST", "/console/api/groups", `{"name":"Allies","peers":["CHN","RUS"]}`); r.code != 200 {
		t.Fatalf("an admin naming a group: %d %s", r.code, r.body)
	}
	if a := du.lastAudit(t, "group.set"); a == nil || a.Operator != "ada" || a.Outcome != "ok" || a.Target != "Allies" {
		t.Errorf("audit of the group: %+v", a)
	}
	page = ada.do(t, "GET", "/console/broadcasts", "")
	if !strings.Contains(text(page.body), "Allies CHN, RUS Remove") || !strings.Contains(page.body, `<form id="group-form">`) || strings.Contains(page.body, `id="broadcast-form"`) {
		t.Errorf("the groups on an admin's page:\n%s", page.body)
	}
	dora.do(t, "POST", "/console/api/lang", `{"lang":"en"}`)
	page = dora.do(t, "GET", "/console/broadcasts", "")
	if !strings.Contains(page.body, `value="Allies"> <label for="bc-to-group-0">Allies <span class="muted">(CHN, RUS)</span></label>`) || strings.Contains(page.body, `id="group-form"`) {
		t.Errorf("the group is not offered to a duty officer's form, or the group form is:\n%s", page.body)
	}
	g := broadcastOf(t, dora.do(t, "POST", "/console/api/broadcasts", `{"to":["Allies"],"precedence":"ROUTINE","text":"to the group"}`))
	if g.Sent != 2 || g.Refused != 0 {
		t.Errorf("a text to the group: %+v", g)
	}
	list = dora.do(t, "GET", "/console/frag/broadcasts", "")
	if i, j := strings.Index(list.body, g.ID), strings.Index(list.body, bv.ID); i < 0 || j < 0 || i > j {
		t.Errorf("the list is not newest first:\n%s", list.body)
	}
	if r := ada.do(t, "POST", "/console/api/groups/remove", `{"name":"Allies"}`); r.code != 200 {
		t.Errorf("removing the group: %d %s", r.code, r.body)
	}
	_ = rus
}

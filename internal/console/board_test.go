package console_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/console"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/station"
)

// TestBoardOrder: what needs a person is on top: an unacknowledged
// incoming FLASH or IMMEDIATE, then a dormant channel, a channel down,
// a missed deadline, messages waiting here, other states that are not
// active (a suspension, a path down), ours waiting on the peer, the rest.
func TestBoardOrder(t *testing.T) {
	now := time.Date(2031, 5, 1, 3, 0, 0, 0, time.UTC)
	up := []ops.PathView{{Name: "direct", Up: true, Active: true}}
	view := func(id, state string, here, peer int) ops.ChannelView {
		v := ops.ChannelView{ID: id, Peer: "CHN", State: state, AwaitingHere: here, AwaitingPeer: peer, Paths: up}
		if state == protocol.StateDown {
			v.Paths = []ops.PathView{{Name: "direct"}}
		}
		return v
	}
	views := []ops.ChannelView{
		view("a-quiet", "active", 0, 0),
		view("b-theirs", "active", 0, 1),
		view("c-suspended", "suspended", 0, 0),
		view("d-routine-here", "active", 1, 0),
		view("e-late", "active", 0, 1),
		view("f-down", "down", 0, 0),
		view("g-dormant", "dormant", 0, 0),
		view("h-immediate", "active", 1, 0),
		view("i-flash", "active", 1, 0),
		view("j-degraded", "degraded", 0, 0),
	}
	msg := func(ch, prec string, due time.Duration) ops.MessageView {
		return ops.MessageView{ID: ch + "/CHN/1", Channel: ch, Precedence: prec, AckDue: now.Add(due), Kind: "text"}
	}
	in := []ops.MessageView{
		msg("d-routine-here", "ROUTINE", time.Hour),
		msg("h-immediate", "IMMEDIATE", 20*time.Minute),
		msg("i-flash", "FLASH", 5*time.Minute),
	}
	out := []ops.MessageView{msg("b-theirs", "PRIORITY", time.Hour), msg("e-late", "PRIORITY", -time.Minute)}
	got := console.BoardOrder(views, in, out, now)
	want := []string{"i-flash", "h-immediate", "g-dormant", "f-down", "e-late", "d-routine-here", "c-suspended", "j-degraded", "b-theirs", "a-quiet"}
	if !slices.Equal(got, want) {
		t.Errorf("board order:\n got %v\nwant %v", got, want)
	}
}

// row returns the board's row of a channel as HTML.
func row(t *testing.T, b *browser, ch string) string {
	t.Helper()
	r := b.do(t, "GET", "/console/frag/board", "")
	if r.code != 200 {
		t.Fatalf("board: %d %s", r.code, r.body)
	}
	m := regexp.MustCompile(`(?s)<tr data-channel="` + regexp.QuoteMeta(ch) + `".*?</tr>`).FindString(r.body)
	if m == "" {
		t.Fatalf("no row for %s on the board:\n%s", ch, r.body)
	}
	return m
}

// text strips tags from HTML and unescapes it, for reading as a person does.
func text(s string) string {
	s = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(s, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// waitFor re-checks cond on each of the station's notifications.
func waitFor(t *testing.T, st *station.Station, what string, cond func() bool) {
	t.Helper()
	notes, cancel := st.Subscribe()
	defer cancel()
	timeout := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-notes:
		case <-time.After(200 * time.Millisecond):
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func stateOf(t *testing.T, st *station.Station, ch string) ops.ChannelView {
	t.Helper()
	cs, err := st.Channels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == ch {
			return c
		}
	}
	t.Fatalf("no channel %s", ch)
	return ops.ChannelView{}
}

// TestBoardStates: the board and the channel view show the station's
// state with its meaning: the paths with their health, a suspension as a
// party's act with its reason on both stations' consoles (never as an
// outage), and a channel down with the path that is down.
func TestBoardStates(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff", "usa-chn-unit")
	du, dc := newDesk(t, usa), newDesk(t, chn)
	bu, bc := du.login(t, "dora"), dc.login(t, "dora")
	ctx := t.Context()
	// Paths are probed every 500ms; wait for the first answer.
	waitFor(t, usa, "a probe answered", func() bool {
		ps := stateOf(t, usa, "usa-chn-staff").Paths
		return len(ps) == 1 && ps[0].RTTms != nil
	})

	r := row(t, bu, "usa-chn-staff")
	if !strings.Contains(r, `data-state="active"`) || !strings.Contains(r, `class="path path-up path-active" data-path="direct"`) {
		t.Errorf("an active channel's row:\n%s", r)
	}
	if !strings.Contains(text(r), "direct ▲ up · carries our messages · round trip") {
		t.Errorf("the direct path's health is not shown: %s", text(r))
	}

	// USA suspends; both consoles show it as USA's act with the reason.
	if _, err := usa.Suspend(ctx, ops.SuspendRequest{Channel: "usa-chn-unit", Reason: "collision at sea <b>", By: "sam"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, chn, "the suspension at CHN", func() bool { return stateOf(t, chn, "usa-chn-unit").State == protocol.StateSuspended })
	for _, b := range []*browser{bu, bc} {
		r := row(t, b, "usa-chn-unit")
		if !strings.Contains(r, `data-state="suspended"`) || strings.Contains(r, "path-down") {
			t.Errorf("%s: a suspended channel's row:\n%s", b.d.st.Cfg.Name, r)
		}
		if got := text(r); !strings.Contains(got, "suspended a party suspended it: a signed act, not an outage by USA at") ||
			!strings.Contains(got, "collision at sea <b>") {
			t.Errorf("%s: the suspension is not shown with who and why: %s", b.d.st.Cfg.Name, got)
		}
		if strings.Contains(r, "<b>") {
			t.Errorf("%s: the reason is not escaped", b.d.st.Cfg.Name)
		}
		head := b.do(t, "GET", "/console/frag/channel-head/usa-chn-unit", "")
		if !strings.Contains(text(head.body), "by USA at") || !strings.Contains(head.body, `class="reason">collision at sea &lt;b&gt;</q>`) {
			t.Errorf("%s: the channel view does not show the suspension:\n%s", b.d.st.Cfg.Name, head.body)
		}
	}
	if _, err := usa.Resume(ctx, ops.SuspendRequest{Channel: "usa-chn-unit", By: "sam"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, chn, "the resumption at CHN", func() bool { return stateOf(t, chn, "usa-chn-unit").State == protocol.StateActive })

	// CHN goes away: USA's channels are down, with the path that is down,
	// and come first on the board.
	if err := chn.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, usa, "the channels down", func() bool { return stateOf(t, usa, "usa-chn-staff").State == protocol.StateDown })
	r = row(t, bu, "usa-chn-staff")
	if !strings.Contains(r, `data-state="down"`) || !strings.Contains(r, `class="path path-down" data-path="direct"`) {
		t.Errorf("a channel down:\n%s", r)
	}
	if got := text(r); !strings.Contains(got, "no path to CHN is up (direct down)") || !strings.Contains(got, "direct ▼ down · last answered") {
		t.Errorf("a channel down does not say which path: %s", got)
	}
}

// TestSuspendFromConsole: a supervisor suspends a channel from its view
// with a reason (required), in their name; the other station's console is
// taken over by the suspension, and both show it as USA's act with the
// reason; resuming lifts it on both. A duty officer is not offered the
// form.
func TestSuspendFromConsole(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	du, dc := newDesk(t, usa, realTime), newDesk(t, chn, realTime)
	sam := du.login(t, "sam")
	page := sam.do(t, "GET", "/console/channel/usa-chn-staff", "")
	if !strings.Contains(page.body, `<form id="suspend" data-channel="usa-chn-staff"><label for="reason">Reason</label> <input id="reason" required`) || strings.Contains(page.body, `id="resume"`) {
		t.Fatalf("a supervisor's channel view does not offer a suspension with a required reason:\n%s", page.body)
	}
	if page := du.login(t, "dora").do(t, "GET", "/console/channel/usa-chn-staff", ""); strings.Contains(page.body, `id="suspension"`) {
		t.Error("a duty officer is offered to suspend")
	}
	if r := sam.do(t, "POST", "/console/api/channels/usa-chn-staff/suspend", `{"reason":"   "}`); r.code != 400 || !strings.Contains(r.errText(), "needs a reason") {
		t.Errorf("a suspension without a reason: %d %s", r.code, r.body)
	}
	if r := sam.do(t, "POST", "/console/api/channels/usa-chn-staff/suspend", `{"reason":"unsafe manoeuvres near the reef"}`); r.code != 200 {
		t.Fatalf("suspend: %d %s", r.code, r.body)
	}
	if a := du.lastAudit(t, "suspend"); a == nil || a.Operator != "sam" || a.Outcome != "ok" || a.Detail != "unsafe manoeuvres near the reef" {
		t.Errorf("audit of the suspension: %+v", a)
	}
	page = sam.do(t, "GET", "/console/channel/usa-chn-staff", "")
	if !strings.Contains(text(page.body), "USA (this station) suspended this channel at") || !strings.Contains(page.body, `<form id="resume"`) || strings.Contains(page.body, `<form id="suspend"`) {
		t.Errorf("after the suspension the view does not offer to resume:\n%s", page.body)
	}

	// CHN: taken over by the suspension, shown as USA's act with the reason.
	duty := dc.login(t, "dora")
	var key string
	waitFor(t, chn, "the suspension to take over at CHN", func() bool {
		key, _ = takeoverKeys(t, duty)
		return key != ""
	})
	tk := text(duty.do(t, "GET", "/console/frag/takeover", "").body)
	if !strings.Contains(tk, "Station alarm") || !strings.Contains(tk, "USA SUSPENDED channel usa-chn-staff (by supervisor): unsafe manoeuvres near the reef") {
		t.Errorf("CHN's takeover: %s", tk)
	}
	if got := text(row(t, duty, "usa-chn-staff")); !strings.Contains(got, "suspended a party suspended it") || !strings.Contains(got, "by USA at") || !strings.Contains(got, "unsafe manoeuvres near the reef") {
		t.Errorf("CHN's board: %s", got)
	}
	if r := duty.do(t, "POST", "/console/api/alerts/ack", jsonBody(map[string][]string{"keys": {key}})); r.code != 200 {
		t.Errorf("acknowledging the suspension: %d %s", r.code, r.body)
	}

	if r := sam.do(t, "POST", "/console/api/channels/usa-chn-staff/resume", `{"reason":"talks agreed"}`); r.code != 200 {
		t.Fatalf("resume: %d %s", r.code, r.body)
	}
	waitFor(t, chn, "the resumption at CHN", func() bool { return stateOf(t, chn, "usa-chn-staff").State == protocol.StateActive })
	if got := row(t, duty, "usa-chn-staff"); !strings.Contains(got, `data-state="active"`) || strings.Contains(got, "suspensions") {
		t.Errorf("CHN's board after the resumption:\n%s", got)
	}
	if r := sam.do(t, "POST", "/console/api/channels/usa-chn-staff/resume", `{"reason":""}`); r.code != 400 || !strings.Contains(r.errText(), "nothing to resume") {
		t.Errorf("resuming twice: %d %s", r.code, r.body)
	}
}

// TestChannelShowsReceiptTime: the channel view says when the peer's
// station held this station's entries, by the time its signed receipt
// carries.
func TestChannelShowsReceiptTime(t *testing.T) {
	usa, _ := pair(t, "usa-chn-staff")
	begun := time.Now().Add(-time.Second)
	if _, err := usa.Send(t.Context(), ops.SendRequest{Channel: "usa-chn-staff", Precedence: "ROUTINE", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	var ch ops.ChannelView
	waitFor(t, usa, "a receipt of USA's two entries", func() bool {
		cs, err := usa.Channels(t.Context())
		if err != nil || len(cs) != 1 {
			return false
		}
		ch = cs[0]
		return ch.Delivered == 2
	})
	if ch.ReceiptAt.Before(begun.Truncate(time.Second)) || ch.ReceiptAt.After(time.Now()) {
		t.Errorf("receipt time %v, not CHN's time of receipt during this test", ch.ReceiptAt)
	}
	page := newDesk(t, usa, realTime).login(t, "dora").do(t, "GET", "/console/channel/usa-chn-staff", "")
	if got := text(page.body); !strings.Contains(got, "Latest receipt CHN's station held entries 1–2 of this station's log at "+ch.ReceiptAt.UTC().Format("2006-01-02 15:04:05Z")+" (its clock, under its signature)") ||
		strings.Contains(got, "receipt_at") {
		t.Errorf("the channel view does not show the receipt's time:\n%s", got)
	}
	// And the message, when CHN's station first held it.
	out, err := usa.Outbox(t.Context(), "usa-chn-staff")
	if err != nil || len(out) != 1 || out[0].PeerReceivedAt == nil || !out[0].PeerReceivedAt.Equal(ch.ReceiptAt) {
		t.Fatalf("outbox: %+v, %v; want the message held by CHN at %v", out, err, ch.ReceiptAt)
	}
	if got := text(page.body); !strings.Contains(got, "Held by the peer's station (its signed receipt): "+ch.ReceiptAt.UTC().Format("2006-01-02 15:04:05Z")) {
		t.Errorf("the message does not show when CHN held it:\n%s", got)
	}
}

// TestRefusalPage: a page a role may not see is refused with a page of
// the console, in the operator's language, with its title and language
// set, saying which role and what it lacks.
func TestRefusalPage(t *testing.T) {
	usa, _ := pair(t, "usa-chn-staff")
	d := newDesk(t, usa, realTime)
	duty := d.login(t, "dora")
	r := duty.do(t, "GET", "/console/audit", "")
	if r.code != http.StatusForbidden || !strings.Contains(r.body, `<html lang="en">`) || !strings.Contains(r.body, "<title>") ||
		!strings.Contains(text(r.body), `Not allowed Your role, duty officer, may not do this (it needs the permission "audit"`) {
		t.Errorf("the refusal page in English: %d\n%s", r.code, r.body)
	}
	if r := duty.do(t, "POST", "/console/api/lang", `{"lang":"zh"}`); r.code != 200 {
		t.Fatal(r.body)
	}
	r = duty.do(t, "GET", "/console/audit", "")
	if r.code != http.StatusForbidden || !strings.Contains(r.body, `<html lang="zh-Hans">`) || !strings.Contains(text(r.body), "无权访问 您的角色（值班员）无权进行此操作") {
		t.Errorf("the refusal page in Chinese: %d\n%s", r.code, r.body)
	}
}

package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/console"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/station"
	"hotline/internal/store"
)

// realTime runs a console on the wall clock, as hotline run does, and
// takes channels down after a short grace.
func realTime(c *console.Config) {
	c.Now = time.Now
	c.DownAfter = 300 * time.Millisecond
}

// takeoverKeys lists what takes over an operator's screen, first first.
func takeoverKeys(t *testing.T, b *browser) (first string, all []string) {
	t.Helper()
	r := b.do(t, "GET", "/console/frag/takeover", "")
	if r.code != 200 {
		t.Fatalf("takeover: %d %s", r.code, r.body)
	}
	if m := regexp.MustCompile(`data-takeover="([^"]*)"`).FindStringSubmatch(r.body); m != nil {
		first = m[1]
		all = append(all, first)
	}
	for _, m := range regexp.MustCompile(`<li data-key="([^"]*)"`).FindAllStringSubmatch(r.body, -1) {
		all = append(all, m[1])
	}
	return first, all
}

func alertKeys(t *testing.T, b *browser) []string {
	t.Helper()
	_, all := takeoverKeys(t, b)
	var out []string
	for _, k := range all {
		if strings.HasPrefix(k, "a:") || strings.HasPrefix(k, "c:") {
			out = append(out, k)
		}
	}
	return out
}

// stationAlert returns the station alert a key names.
func stationAlert(t *testing.T, st *station.Station, key string) ops.AlertView {
	t.Helper()
	as, err := st.Alerts(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if "a:"+itoa(a.ID) == key {
			return a
		}
	}
	t.Fatalf("no station alert %s", key)
	return ops.AlertView{}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestMissedDeadlineTakesOver: a missed deadline raises station alarms on
// both sides; each takes over the screen of those who may acknowledge it
// (a supervisor's alert only a supervisor's) until one of them does, on
// the console: recorded in the console's store and the audit trail with
// who, never in the station's alerts. Acknowledging twice keeps the
// first.
func TestMissedDeadlineTakesOver(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	agree(t, usa, chn, ops.ProposeRequest{Peer: "CHN", Channel: "usa-chn-unit", Level: "unit",
		Deadlines: map[string]string{"ROUTINE": "300ms"}, Delivery: map[string]string{"ROUTINE": "200ms"}})
	du, dc := newDesk(t, usa, realTime), newDesk(t, chn, realTime)
	ctx := t.Context()
	m, err := chn.Send(ctx, ops.SendRequest{Channel: "usa-chn-unit", Precedence: "ROUTINE", Text: "Confirm your position"})
	if err != nil {
		t.Fatal(err)
	}
	// USA: its own deadline passed, and CHN reminds.
	duty := du.login(t, "dora")
	waitFor(t, usa, "USA's alarms", func() bool { return len(alertKeys(t, duty)) >= 2 })
	first, _ := takeoverKeys(t, duty)
	if a := stationAlert(t, usa, first); a.Level != "alarm" || !strings.Contains(a.Text, m.ID) {
		t.Errorf("the first alert to take over: %+v", a)
	}
	tk := duty.do(t, "GET", "/console/frag/takeover", "")
	for _, want := range []string{`role="alertdialog"`, `data-kind="alarm"`, `id="takeover-ack"`, `data-alert-ack="` + first + `"`, `id="takeover-ack-all"`} {
		if !strings.Contains(tk.body, want) {
			t.Errorf("the takeover lacks %s:\n%s", want, tk.body)
		}
	}
	if k, _ := takeoverKeys(t, du.login(t, "aud")); k != "" {
		t.Errorf("an auditor's screen is taken over by %s, which they may not acknowledge", k)
	}

	// Acknowledge them all at once, as the button does.
	keys := alertKeys(t, duty)
	r := duty.do(t, "POST", "/console/api/alerts/ack", jsonBody(map[string][]string{"keys": keys}))
	if r.code != 200 {
		t.Fatalf("acknowledging %v: %d %s", keys, r.code, r.body)
	}
	if left := alertKeys(t, duty); len(left) != 0 {
		t.Errorf("still taking over after the acknowledgement: %v", left)
	}
	if left := alertKeys(t, du.login(t, "sam")); len(left) != 0 {
		t.Errorf("a supervisor's screen still taken over by acknowledged alerts: %v", left)
	}
	for _, k := range keys {
		a := du.lastAuditOf(t, "alert.ack", k)
		if a == nil || a.Operator != "dora" || a.Outcome != "ok" || a.Detail != stationAlert(t, usa, k).Text {
			t.Errorf("audit of the acknowledgement of %s: %+v", k, a)
		}
	}
	recs, err := usa.Store.ConsoleAlerts(ctx, store.ConsoleAlertQuery{Kind: store.ConsoleAlertStation})
	if err != nil || len(recs) != len(keys) || recs[0].AckBy != "dora" {
		t.Errorf("the console's records: %+v %v", recs, err)
	}
	// A second acknowledgement keeps the first, and says so.
	sam := du.login(t, "sam")
	if r := sam.do(t, "POST", "/console/api/alerts/ack", jsonBody(map[string][]string{"keys": keys[:1]})); r.code != 200 || !strings.Contains(r.body, `"AckBy":"dora"`) {
		t.Errorf("a second acknowledgement: %d %s", r.code, r.body)
	}
	if a := du.lastAuditOf(t, "alert.ack", keys[0]); a == nil || a.Operator != "sam" || !strings.HasPrefix(a.Detail, "already acknowledged by dora") {
		t.Errorf("audit of the second acknowledgement: %+v", a)
	}
	// The alerts list shows who acknowledged.
	if al := duty.do(t, "GET", "/console/frag/alerts", ""); !strings.Contains(al.body, "acknowledged on this console by dora") {
		t.Errorf("the alerts list does not show the acknowledgement:\n%s", al.body)
	}

	// CHN: its message is late at USA, so CHN's ladder goes to a
	// supervisor: only a supervisor's screen is taken over by that, and
	// only a supervisor may acknowledge it.
	var supKey string
	chnSup := dc.login(t, "sam")
	waitFor(t, chn, "CHN's supervisor alert", func() bool {
		for _, k := range alertKeys(t, chnSup) {
			if strings.HasPrefix(k, "a:") && stationAlert(t, chn, k).Level == "supervisor" {
				supKey = k
				return true
			}
		}
		return false
	})
	chnDuty := dc.login(t, "dora")
	for _, k := range alertKeys(t, chnDuty) {
		if k == supKey {
			t.Errorf("a duty officer's screen is taken over by the supervisor's alert %s", k)
		}
	}
	r = chnDuty.do(t, "POST", "/console/api/alerts/ack", jsonBody(map[string][]string{"keys": {supKey}}))
	if r.code != http.StatusForbidden || r.errText() != "role duty may not escalate" {
		t.Errorf("a duty officer acknowledging a supervisor's alert: %d %s", r.code, r.body)
	}
	if a := dc.lastAuditOf(t, "alert.ack", supKey); a == nil || a.Operator != "dora" || a.Outcome != "refused" || a.Detail != "role duty may not escalate" {
		t.Errorf("audit of the refused acknowledgement: %+v", a)
	}
	if r := chnSup.do(t, "POST", "/console/api/alerts/ack", jsonBody(map[string][]string{"keys": {supKey}})); r.code != 200 {
		t.Errorf("a supervisor acknowledging: %d %s", r.code, r.body)
	}
	for _, c := range []struct{ body, want string }{
		{`{"keys":[]}`, "name 1 to 1000 alerts"},
		{`{"keys":["x:1"]}`, `alert "x:1" is not a:ID`},
		{`{"keys":["a:999999"]}`, "there is no station alert 999999"},
		{`{"keys":["c:999999"]}`, "there is no console alert 999999"},
	} {
		if r := chnSup.do(t, "POST", "/console/api/alerts/ack", c.body); r.code != 400 || !strings.Contains(r.errText(), c.want) {
			t.Errorf("acknowledging %s: %d %q, want 400 %q", c.body, r.code, r.errText(), c.want)
		}
	}
}

// TestDownTakesOver: a channel with no path up for longer than the grace
// takes over the screen, once per outage; acknowledged, it stays in the
// list, and it is marked cleared when a path is back.
func TestDownTakesOver(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	du := newDesk(t, usa, realTime)
	duty := du.login(t, "dora")
	if k, _ := takeoverKeys(t, duty); k != "" {
		t.Fatalf("taken over with every channel up: %s", k)
	}
	dir := chn.Dir
	if err := chn.Close(); err != nil {
		t.Fatal(err)
	}
	var key string
	waitFor(t, usa, "the channel down to take over", func() bool {
		key, _ = takeoverKeys(t, duty)
		return key != ""
	})
	tk := duty.do(t, "GET", "/console/frag/takeover", "")
	if !strings.HasPrefix(key, "c:") || !strings.Contains(text(tk.body), "Channel usa-chn-staff is DOWN") || !strings.Contains(tk.body, `data-kind="down"`) {
		t.Fatalf("the takeover of a channel down (%s):\n%s", key, tk.body)
	}
	if r := duty.do(t, "POST", "/console/api/alerts/ack", jsonBody(map[string][]string{"keys": {key}})); r.code != 200 {
		t.Fatalf("acknowledging: %d %s", r.code, r.body)
	}
	if a := du.lastAuditOf(t, "alert.ack", key); a == nil || a.Operator != "dora" || !strings.Contains(a.Detail, "usa-chn-staff: no path to CHN is up (direct down)") {
		t.Errorf("audit of the acknowledgement: %+v", a)
	}
	// Still down, acknowledged: nothing takes over again.
	if k, _ := takeoverKeys(t, duty); k != "" {
		t.Errorf("taken over again by %s while the same outage lasts", k)
	}

	// CHN is back: the outage is over, and the list says so.
	chn2, err := station.Open(t.Context(), dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chn2.Close() })
	go chn2.Run(t.Context())
	waitFor(t, usa, "the channel up again", func() bool { return stateOf(t, usa, "usa-chn-staff").State == protocol.StateActive })
	waitFor(t, usa, "the outage cleared", func() bool {
		recs, _ := usa.Store.ConsoleAlerts(context.Background(), store.ConsoleAlertQuery{Kind: store.ConsoleAlertDown})
		return len(recs) == 1 && !recs[0].ClearedAt.IsZero()
	})
	if al := duty.do(t, "GET", "/console/frag/alerts", ""); !strings.Contains(al.body, "A path came back at") || !strings.Contains(al.body, "acknowledged on this console by dora") {
		t.Errorf("the alerts list after the outage:\n%s", al.body)
	}
}

// dormantOps is a station whose channels all read as dormant, with an
// operator check from the peer waiting here: what a real station shows
// an hour and a check window after nobody answered (internal/station
// tests that in virtual time).
type dormantOps struct{ ops.Ops }

func (o dormantOps) Channels(ctx context.Context) ([]ops.ChannelView, error) {
	cs, err := o.Ops.Channels(ctx)
	for i := range cs {
		cs[i].State, cs[i].Dormant = protocol.StateDormant, true
	}
	return cs, err
}

func (o dormantOps) Inbox(ctx context.Context, ch string) ([]ops.MessageView, error) {
	in, err := o.Ops.Inbox(ctx, ch)
	now := time.Now().UTC()
	return append(in, ops.MessageView{ID: "usa-chn-unit/CHN/9", Channel: "usa-chn-unit", Index: 9, From: "CHN", Precedence: "ROUTINE",
		Text: "Communication check: acknowledge within 10m0s.", Lang: "en", SentAt: now, ReceivedAt: now, Status: "received",
		AckDue: now.Add(10 * time.Minute), Kind: "check"}), err
}

// TestDormantShown: a dormant channel is on top of the board, said loudly
// with what it means; a check from the peer is shown as a check to answer.
func TestDormantShown(t *testing.T) {
	usa, _ := pair(t, "usa-chn-staff", "usa-chn-unit")
	d := newDesk(t, usa, func(c *console.Config) { c.Ops = dormantOps{usa} })
	b := d.login(t, "dora")
	r := row(t, b, "usa-chn-staff")
	if !strings.Contains(r, `class="row-dormant`) || !strings.Contains(text(r), "DORMANT nobody at CHN answered this station's last communication check") {
		t.Errorf("a dormant channel's row:\n%s", r)
	}
	board := b.do(t, "GET", "/console/frag/board", "")
	if i, j := strings.Index(board.body, `data-channel="usa-chn-unit"`), strings.Index(board.body, `data-channel="usa-chn-staff"`); i < 0 || j < 0 || i > j {
		t.Errorf("the channel with a check to answer is not first among dormant channels:\n%s", board.body)
	}
	li := item(t, b, "usa-chn-unit", "usa-chn-unit/CHN/9")
	if !strings.Contains(text(li), "communication check") || !strings.Contains(text(li), "CHN asks whether this desk is manned: answer the check.") ||
		!strings.Contains(li, `data-ack="usa-chn-unit/CHN/9" aria-label="Answer check usa-chn-unit/CHN/9">Answer check</button>`) {
		t.Errorf("a check from the peer:\n%s", li)
	}
}

// TestAlarmLevels: every station alert of level alarm takes over the
// screen (a tamper alarm, as the core records one, among them); warnings
// and notices are listed but do not.
func TestAlarmLevels(t *testing.T) {
	st := openStation(t, t.TempDir(), "USA")
	d := newDesk(t, st, realTime)
	b := d.login(t, "dora")
	now := time.Now()
	tamper := "checkpoint from CHN for usa-chn-staff/USA at size 7 has root 3f9a…, this station computes 81c2…: tamper alarm"
	if err := st.Store.Apply(t.Context(), &record.Batch{Alerts: []record.Alert{
		{At: now, Level: "warning", Channel: "usa-chn-staff", Peer: "CHN", Text: "the clock of CHN is 2m0s from this station's"},
		{At: now, Level: "notice", Channel: "usa-chn-staff", Peer: "CHN", Text: "CHN resumed channel usa-chn-staff"},
		{At: now, Level: "alarm", Channel: "usa-chn-staff", Peer: "CHN", Text: tamper},
	}}); err != nil {
		t.Fatal(err)
	}
	first, all := takeoverKeys(t, b)
	if len(all) != 1 || stationAlert(t, st, first).Text != tamper {
		t.Fatalf("taken over by %v, want the tamper alarm alone", all)
	}
	if tk := text(b.do(t, "GET", "/console/frag/takeover", "").body); !strings.Contains(tk, "Station alarm") || !strings.Contains(tk, tamper) {
		t.Errorf("the takeover: %s", tk)
	}
	al := text(b.do(t, "GET", "/console/frag/alerts", "").body)
	for _, want := range []string{"warning [usa-chn-staff] the clock of CHN", "notice [usa-chn-staff] CHN resumed", "alarm [usa-chn-staff] checkpoint from CHN"} {
		if !strings.Contains(al, want) {
			t.Errorf("the alerts list lacks %q: %s", want, al)
		}
	}
}

// TestAlertsInOperatorsLanguage: the alarms the core raises for a missed
// deadline, and the console's own "channel down", are shown in Chinese to
// an operator who reads Chinese, with the message's id, and in English to
// one who reads English; the station's record stays in English.
func TestAlertsInOperatorsLanguage(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	agree(t, usa, chn, ops.ProposeRequest{Peer: "CHN", Channel: "usa-chn-unit", Level: "unit",
		Deadlines: map[string]string{"ROUTINE": "300ms"}, Delivery: map[string]string{"ROUTINE": "200ms"}})
	du := newDesk(t, usa, realTime)
	m, err := chn.Send(t.Context(), ops.SendRequest{Channel: "usa-chn-unit", Precedence: "ROUTINE", Text: "Confirm your position"})
	if err != nil {
		t.Fatal(err)
	}
	dora := du.login(t, "dora")
	if r := dora.do(t, "POST", "/console/api/lang", `{"lang":"zh"}`); r.code != 200 {
		t.Fatalf("lang: %d %s", r.code, r.body)
	}
	waitFor(t, usa, "USA's alarms", func() bool { return len(alertKeys(t, dora)) >= 2 })
	first, _ := takeoverKeys(t, dora)
	a := stationAlert(t, usa, first)
	if !strings.Contains(a.Text, m.ID) || !strings.Contains(a.Text, "acknowledge") {
		t.Fatalf("the station's record: %+v", a)
	}
	tk := text(dora.do(t, "GET", "/console/frag/takeover", "").body)
	if !strings.Contains(tk, m.ID) || !strings.Contains(tk, "确认") || strings.Contains(tk, a.Text) {
		t.Errorf("the takeover in Chinese shows %q; the station wrote %q", tk, a.Text)
	}
	al := text(dora.do(t, "GET", "/console/frag/alerts", "").body)
	if !strings.Contains(al, "来自 CHN 的 ROUTINE 消息 "+m.ID+" 尚未确认") && !strings.Contains(al, "CHN 提醒") {
		t.Errorf("the alerts list in Chinese: %s", al)
	}
	if strings.Contains(al, "is not acknowledged") || strings.Contains(al, "reminds:") {
		t.Errorf("the alerts list in Chinese still has English sentences: %s", al)
	}
	if r := dora.do(t, "POST", "/console/api/lang", `{"lang":"en"}`); r.code != 200 {
		t.Fatalf("lang: %d %s", r.code, r.body)
	}
	if tk := text(dora.do(t, "GET", "/console/frag/takeover", "").body); !strings.Contains(tk, a.Text) {
		t.Errorf("the takeover in English shows %q, want %q", tk, a.Text)
	}
}

// TestCallRingsAsTakeover: a call from the other party takes over the
// screen of whoever may answer it, in the operator's language, first of
// all, and leads to the call's page, which it does not cover; once the
// call is answered, declined or ended, it is gone.
func TestCallRingsAsTakeover(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	dc := newDesk(t, chn, realTime)
	duty := dc.login(t, "dora")
	c, err := usa.StartCall(t.Context(), ops.StartCallRequest{Channel: "usa-chn-staff", As: "Cdr. Hale"})
	if err != nil {
		t.Fatal(err)
	}
	key := "call:" + c.ID
	waitFor(t, chn, "the call ringing at CHN", func() bool {
		first, _ := takeoverKeys(t, duty)
		return first == key
	})
	tk := duty.do(t, "GET", "/console/frag/takeover", "")
	for _, want := range []string{"Incoming FLASH call", "Cdr. Hale of USA is calling.", `href="/console/call/` + c.ID + `"`, `id="takeover-ack"`} {
		if !strings.Contains(tk.body, want) {
			t.Errorf("the call's takeover does not show %q:\n%s", want, tk.body)
		}
	}
	if r := duty.do(t, "POST", "/console/api/lang", `{"lang":"zh"}`); r.code != 200 {
		t.Fatal(r.body)
	}
	if zh := duty.do(t, "GET", "/console/frag/takeover", ""); !strings.Contains(zh.body, "FLASH 级来电") || !strings.Contains(zh.body, "USA 的 Cdr. Hale 正在呼叫。") {
		t.Errorf("the call's takeover in Chinese:\n%s", zh.body)
	}
	if page := duty.do(t, "GET", "/console/call/"+c.ID, ""); page.code != 200 || strings.Contains(page.body, `data-takeover="`+key+`"`) {
		t.Errorf("the call's own page is covered by its takeover: %d", page.code)
	}
	// An auditor, who may not answer, is not rung.
	if first, _ := takeoverKeys(t, dc.login(t, "aud")); first == key {
		t.Error("an auditor's screen is taken over by the call")
	}
	if _, err := usa.EndCall(t.Context(), ops.CallActRequest{ID: c.ID, As: "Cdr. Hale"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, chn, "the call to stop ringing", func() bool {
		_, all := takeoverKeys(t, duty)
		return !slices.Contains(all, key)
	})
}

// TestMissedCallOnBoard: a call nobody answered within its deadline
// stops ringing and stays on the board as a missed call, until a call
// back returns it.
func TestMissedCallOnBoard(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	agree(t, usa, chn, ops.ProposeRequest{Peer: "CHN", Channel: "usa-chn-unit", Level: "unit",
		Deadlines: map[string]string{"FLASH": "400ms"}, Delivery: map[string]string{"FLASH": "300ms"}})
	dc := newDesk(t, chn, realTime)
	duty := dc.login(t, "dora")
	c, err := usa.StartCall(t.Context(), ops.StartCallRequest{Channel: "usa-chn-unit", As: "Cdr. Hale"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, chn, "the call missed at CHN", func() bool {
		r := duty.do(t, "GET", "/console/frag/board", "")
		return strings.Contains(r.body, `data-call="`+c.ID+`"`)
	})
	board := text(duty.do(t, "GET", "/console/", "").body)
	if !strings.Contains(board, "Missed calls FLASH Cdr. Hale of USA, on usa-chn-unit") {
		t.Errorf("the board does not show the missed call:\n%s", board)
	}
	if _, all := takeoverKeys(t, duty); slices.Contains(all, "call:"+c.ID) {
		t.Error("a missed call still rings")
	}
	back, err := chn.StartCall(t.Context(), ops.StartCallRequest{Channel: "usa-chn-unit", As: "Sr. Col. Zhang", Back: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if r := duty.do(t, "GET", "/console/frag/board", ""); strings.Contains(r.body, `data-call="`+c.ID+`"`) {
		t.Errorf("the missed call is still on the board after the call back %s", back.ID)
	}
}

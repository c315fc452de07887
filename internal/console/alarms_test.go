package console_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/internal/console"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/station"
	"hotline/internal/store"
)

// groupOf returns the alarm group ID of the line on the alarm board
// whose text holds want, or "".
func groupOf(t *testing.T, b *browser, want string) string {
	t.Helper()
	body := b.do(t, "GET", "/console/frag/alerts", "").body
	for _, li := range regexp.MustCompile(`(?s)<li class="alarm[^"]*" data-group="([0-9a-f]+)".*?</li>`).FindAllStringSubmatch(body, -1) {
		if strings.Contains(text(li[0]), want) {
			return li[1]
		}
	}
	return ""
}

// takingOver counts the alerts taking over an operator's screen.
func takingOver(t *testing.T, b *browser) int {
	t.Helper()
	tk := b.do(t, "GET", "/console/frag/takeover", "").body
	if m := regexp.MustCompile(`data-alert-ack="([^"]*)" id="takeover-ack-all"`).FindStringSubmatch(tk); m != nil {
		return len(strings.Fields(m[1]))
	}
	if strings.Contains(tk, "data-takeover=") {
		return 1
	}
	return 0
}

// TestDownClearedBeforeAck: a channel down takes over the screen; when
// its path comes back before anyone acknowledged it, the takeover is
// gone, and a "cleared" notice stands in its place on every page until
// someone acknowledges it; the alarm is in the history with its clearing
// time.
func TestDownClearedBeforeAck(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	du := newDesk(t, usa, realTime)
	duty := du.login(t, "dora")
	dir := chn.Dir
	if err := chn.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, usa, "the channel down to take over", func() bool {
		key, _ := takeoverKeys(t, duty)
		return strings.HasPrefix(key, "c:")
	})
	if tk := text(duty.do(t, "GET", "/console/frag/takeover", "").body); !strings.Contains(tk, "Channel usa-chn-staff is DOWN") {
		t.Fatalf("the takeover: %s", tk)
	}
	if al := duty.do(t, "GET", "/console/frag/alerts", "").body; !strings.Contains(al, `class="alarm alarm-down unacked`) {
		t.Errorf("the active list does not show the outage unacknowledged:\n%s", al)
	}
	chn2, err := station.Open(t.Context(), dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chn2.Close() })
	go chn2.Run(t.Context())
	waitFor(t, usa, "the takeover gone", func() bool {
		key, _ := takeoverKeys(t, duty)
		return key == ""
	})
	tk := duty.do(t, "GET", "/console/frag/takeover", "").body
	if strings.Contains(tk, "alertdialog") || !strings.Contains(text(tk), "Channel usa-chn-staff was DOWN, and is back.") || !strings.Contains(tk, `data-cleared="`) {
		t.Fatalf("no cleared notice in place of the takeover:\n%s", tk)
	}
	for _, page := range []string{"/console/", "/console/channel/usa-chn-staff", "/console/map"} {
		if r := duty.do(t, "GET", page, ""); !strings.Contains(r.body, "was DOWN, and is back.") || strings.Contains(r.body, `role="alertdialog"`) {
			t.Errorf("%s: the notice is not there, or a takeover is", page)
		}
	}
	al := duty.do(t, "GET", "/console/frag/alerts", "").body
	hist := al[strings.Index(al, `id="alarms-history-h"`)+1:]
	if !strings.Contains(text(hist), "A path came back at") || !strings.Contains(text(hist), "1 cleared before anyone acknowledged them") {
		t.Errorf("the history after the outage:\n%s", al)
	}
	// Acknowledged from the notice: it goes.
	keys := regexp.MustCompile(`data-cleared="[^"]*" data-count="1">.*?data-alert-ack="([^"]+)"`).FindStringSubmatch(strings.ReplaceAll(tk, "\n", " "))
	if keys == nil {
		t.Fatalf("the notice has no acknowledge button:\n%s", tk)
	}
	if r := duty.do(t, "POST", "/console/api/alerts/ack", jsonBody(map[string][]string{"keys": strings.Fields(keys[1])})); r.code != 200 {
		t.Fatalf("acknowledging the notice: %d %s", r.code, r.body)
	}
	if tk := duty.do(t, "GET", "/console/frag/takeover", "").body; strings.Contains(tk, "data-cleared") {
		t.Errorf("the notice stays after its acknowledgement:\n%s", tk)
	}
}

// TestShelve: a supervisor shelves a nuisance alarm group for a time
// with a reason: it takes over nobody's screen, the board lists it as
// shelved with who, why and until when, the audit trail has it, and
// when the time is up it is back. Bad input and a role that may not are
// refused, each with its reason, audited, changing nothing.
func TestShelve(t *testing.T) {
	st := openStation(t, t.TempDir(), "USA")
	d := newDesk(t, st)
	now := d.clock.Now()
	var alerts []record.Alert
	for i := range 20 {
		alerts = append(alerts, record.Alert{At: now.Add(time.Duration(i-20) * time.Second), Level: "alarm", Channel: "usa-chn-staff", Peer: "CHN",
			Text: "CHN reports: nothing heard for 1.5s", Format: "%s reports: %s", Args: []string{"CHN", "nothing heard for 1.5s"}})
	}
	if err := st.Store.Apply(t.Context(), &record.Batch{Alerts: alerts}); err != nil {
		t.Fatal(err)
	}
	dora, sam, aud := d.login(t, "dora"), d.login(t, "sam"), d.login(t, "aud")
	group := groupOf(t, sam, "CHN reports: nothing heard")
	if group == "" {
		t.Fatal("no line for the alarms")
	}
	if al := text(sam.do(t, "GET", "/console/frag/alerts", "").body); strings.Count(al, "CHN reports: nothing heard") != 1 || !strings.Contains(al, "×20") || !strings.Contains(al, "chattering") {
		t.Errorf("20 alarms in 20 s are not one chattering line with a count: %s", al)
	}
	if n := takingOver(t, dora); n != 20 {
		t.Fatalf("%d alarms take over, want 20", n)
	}
	shelve := func(b *browser, body any) reply { return b.do(t, "POST", "/console/api/alarms/shelve", jsonBody(body)) }
	audits := len(d.audit(t))
	for _, c := range []struct {
		who  *browser
		body any
		code int
		want string
	}{
		{sam, map[string]string{"group": group, "for": "15m"}, 400, "give the reason"},
		{sam, map[string]string{"group": group, "for": "15m", "reason": "   "}, 400, "give the reason"},
		{sam, map[string]string{"group": group, "for": "15m", "reason": strings.Repeat("x", 501)}, 400, "up to 500 bytes"},
		{sam, map[string]string{"group": group, "for": "-5m", "reason": "flapping"}, 400, "shelve for 10s to 12h0m0s, not -5m0s"},
		{sam, map[string]string{"group": group, "for": "100000h", "reason": "flapping"}, 400, "not 100000h0m0s"},
		{sam, map[string]string{"group": group, "for": "soon", "reason": "flapping"}, 400, `not "soon"`},
		{sam, map[string]string{"group": "0123456789ab", "for": "15m", "reason": "flapping"}, 400, "no alarm group"},
		{sam, map[string]any{"group": group, "for": "15m", "reason": "flapping", "by": "x"}, 400, "unknown field"},
		{dora, map[string]string{"group": group, "for": "15m", "reason": "flapping"}, 403, "role duty may not shelve"},
		{aud, map[string]string{"group": group, "for": "15m", "reason": "flapping"}, 403, "role auditor may not shelve"},
	} {
		r := shelve(c.who, c.body)
		if r.code != c.code || !strings.Contains(r.errText(), c.want) {
			t.Errorf("shelve %v: %d %q, want %d %q", c.body, r.code, r.errText(), c.code, c.want)
		}
	}
	recs := d.audit(t)
	if got := len(recs) - audits; got != 10 {
		t.Errorf("%d audit records for 10 refusals", got)
	}
	for _, r := range recs[:len(recs)-audits] {
		if r.Action != "alarm.shelve" || r.Outcome != "refused" {
			t.Errorf("a refusal audited as %s %s: %s", r.Action, r.Outcome, r.Detail)
		}
	}
	if takingOver(t, dora) != 20 || groupOf(t, sam, "shelved by") != "" {
		t.Fatal("a refused shelving changed something")
	}

	if r := shelve(sam, map[string]string{"group": group, "for": "15m", "reason": "CHN's link is being repaired"}); r.code != 200 {
		t.Fatalf("shelving: %d %s", r.code, r.body)
	}
	if n := takingOver(t, dora); n != 0 {
		t.Errorf("a shelved group still takes over: %d", n)
	}
	al := sam.do(t, "GET", "/console/frag/alerts", "").body
	if i := strings.Index(al, `id="alarms-shelved-h"`); i < 0 || !strings.Contains(text(al[i:]), "shelved by sam until") || !strings.Contains(al[i:], "CHN&#39;s link is being repaired") || !strings.Contains(al[i:], `data-unshelve="`+group+`"`) {
		t.Errorf("the board does not list the shelf:\n%s", al)
	}
	if a := d.lastAuditOf(t, "alarm.shelve", group); a == nil || a.Operator != "sam" || a.Outcome != "ok" || !strings.Contains(a.Detail, "shelved for 15m0s") || !strings.Contains(a.Detail, "CHN's link is being repaired") || !strings.Contains(a.Detail, "[usa-chn-staff] CHN reports") {
		t.Errorf("the audit of the shelving: %+v", a)
	}
	if al := dora.do(t, "GET", "/console/frag/alerts", "").body; strings.Contains(al, "data-unshelve") || strings.Contains(al, "shelve-form") {
		t.Error("a duty officer is offered shelving")
	}

	// The time is up: back, taking over again.
	d.clock.Add(15*time.Minute + time.Second)
	if n := takingOver(t, dora); n != 20 {
		t.Errorf("%d alarms take over after the shelf, want 20", n)
	}
	if al := sam.do(t, "GET", "/console/frag/alerts", "").body; strings.Contains(al, `id="alarms-shelved-h"`) {
		t.Error("still listed as shelved after its time")
	}

	// Shelved again, then unshelved before its time.
	if r := shelve(sam, map[string]string{"group": group, "for": "1h", "reason": "again"}); r.code != 200 {
		t.Fatalf("shelving: %d %s", r.code, r.body)
	}
	if r := dora.do(t, "POST", "/console/api/alarms/unshelve", jsonBody(map[string]string{"group": group})); r.code != 403 {
		t.Errorf("a duty officer unshelved: %d", r.code)
	}
	if r := sam.do(t, "POST", "/console/api/alarms/unshelve", jsonBody(map[string]string{"group": group})); r.code != 200 {
		t.Fatalf("unshelving: %d %s", r.code, r.body)
	}
	if a := d.lastAuditOf(t, "alarm.unshelve", group); a == nil || a.Outcome != "ok" || a.Operator != "sam" {
		t.Errorf("the audit of the unshelving: %+v", a)
	}
	if r := sam.do(t, "POST", "/console/api/alarms/unshelve", jsonBody(map[string]string{"group": group})); r.code != 400 || !strings.Contains(r.errText(), "is not shelved") {
		t.Errorf("unshelving twice: %d %s", r.code, r.body)
	}
	if n := takingOver(t, dora); n != 20 {
		t.Errorf("%d alarms take over after unshelving, want 20", n)
	}
}

// TestAlarmBoardInChinese: every word of the alarm board, the shelf and
// the cleared notice is in Chinese on a Chinese console.
func TestAlarmBoardInChinese(t *testing.T) {
	st := openStation(t, t.TempDir(), "USA")
	d := newDesk(t, st)
	now := d.clock.Now()
	if err := st.Store.Apply(t.Context(), &record.Batch{Alerts: []record.Alert{
		{At: now.Add(-3 * time.Second), Level: "warning", Channel: "usa-chn-staff", Peer: "CHN", Text: "CHN reports: nothing heard for 1.5s", Format: "%s reports: %s", Args: []string{"CHN", "nothing heard for 1.5s"}},
		{At: now.Add(-2 * time.Second), Level: "warning", Channel: "usa-chn-staff", Peer: "CHN", Text: "CHN reports: nothing heard for 1.5s", Format: "%s reports: %s", Args: []string{"CHN", "nothing heard for 1.5s"}},
		{At: now.Add(-time.Second), Level: "warning", Channel: "usa-chn-staff", Peer: "CHN", Text: "CHN reports: nothing heard for 1.5s", Format: "%s reports: %s", Args: []string{"CHN", "nothing heard for 1.5s"}},
	}}); err != nil {
		t.Fatal(err)
	}
	c, err := st.Store.AddConsoleAlert(t.Context(), store.ConsoleAlert{Kind: store.ConsoleAlertDown, Channel: "usa-chn-unit", Text: "usa-chn-unit: no path to CHN is up (direct down) since …", RaisedAt: now.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Store.ClearConsoleAlerts(t.Context(), store.ConsoleAlertDown, c.Channel, now.Add(-50*time.Second)); err != nil {
		t.Fatal(err)
	}
	sam := d.login(t, "sam")
	if r := sam.do(t, "POST", "/console/api/lang", `{"lang":"zh"}`); r.code != 200 {
		t.Fatal(r.body)
	}
	group := groupOf(t, sam, "CHN 报告")
	if r := sam.do(t, "POST", "/console/api/alarms/shelve", jsonBody(map[string]string{"group": group, "for": "1h", "reason": "维修中"})); r.code != 200 {
		t.Fatalf("shelving: %d %s", r.code, r.body)
	}
	page := sam.do(t, "GET", "/console/", "").body
	board := text(page)
	for _, want := range []string{"每个操作席位的警报率", "最近一小时", "最近一天", "可接受", "EEMUA 191：", "已搁置", "已由 sam 搁置至", "共 3 次", "频繁振荡", "取消搁置",
		"历史：已解除或已确认", "信道 usa-chn-unit 曾中断，现已恢复。", "此前无人确认该警报（共 1 次）", "1 次在无人确认前已解除"} {
		if !strings.Contains(board, want) {
			t.Errorf("the Chinese board lacks %q", want)
		}
	}
	en := console.Catalogs()["en"]
	for _, k := range []string{"alarms_active", "alarms_shelved", "alarms_history", "alarm_rate", "rate_benchmark", "cleared_title", "shelved_by", "unshelve", "rate_hour", "rate_day", "rate_ok", "rate_against", "rate_peak", "rate_per10", "rate_alarms"} {
		words := strings.Fields(strings.NewReplacer("%s", "", "%d", "").Replace(en[k]))
		if len(words) > 1 && strings.Contains(board, strings.Join(words[:2], " ")) {
			t.Errorf("the Chinese board has the English of %s: %q", k, en[k])
		}
	}
	// And the shelving form offered in Chinese on a line not shelved.
	if !strings.Contains(page, "搁置…") || !strings.Contains(page, "理由") || !strings.Contains(page, "15 分钟") {
		t.Error("the shelving form is not in Chinese")
	}
}

// pathOps is a station whose alerts include the path warnings a test
// adds: what the core records when it closes a silent path, or the peer
// says why it closed one.
type pathOps struct {
	ops.Ops
	mu    *sync.Mutex
	extra *[]ops.AlertView
}

func (o pathOps) Alerts(ctx context.Context, after int64) ([]ops.AlertView, error) {
	as, err := o.Ops.Alerts(ctx, after)
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, a := range *o.extra {
		if a.ID > after {
			as = append(as, a)
		}
	}
	return as, err
}

// TestPathWarningsClear: warnings about a path to the peer (closed for
// silence, or the peer's report of why it closed one) stand on the
// active list, one line with a count, while no path to the peer is up,
// and go to the history by themselves, with the time, when the console
// sees a path up again; no "cleared" notice is raised for a warning.
func TestPathWarningsClear(t *testing.T) {
	usa, chn := pair(t, "usa-chn-staff")
	var mu sync.Mutex
	var extra []ops.AlertView
	add := func(n int) {
		mu.Lock()
		defer mu.Unlock()
		for range n {
			id := int64(1000 + len(extra))
			extra = append(extra, ops.AlertView{ID: id, At: time.Now().UTC(), Level: "warning", Peer: "CHN", Text: "CHN reports: nothing heard for 1.5s",
				Format: "%s reports: %s", Args: []string{"CHN", "nothing heard for 1.5s"}})
		}
	}
	du := newDesk(t, usa, realTime, func(c *console.Config) { c.Ops = pathOps{usa, &mu, &extra} })
	dora := du.login(t, "dora")
	dir := chn.Dir
	if err := chn.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, usa, "the channel down", func() bool { return stateOf(t, usa, "usa-chn-staff").State == protocol.StateDown })
	time.Sleep(100 * time.Millisecond) // the console's watcher has seen it
	add(15)
	al := dora.do(t, "GET", "/console/frag/alerts", "").body
	active := al
	if i := strings.Index(al, `id="alarms-history-h"`); i >= 0 {
		active = al[:i]
	}
	if strings.Count(text(active), "CHN reports: nothing heard") != 1 || !strings.Contains(text(active), "×15") || !strings.Contains(active, `class="alarm alarm-warning unacked chattering"`) {
		t.Fatalf("15 path warnings are not one active line with a count:\n%s", al)
	}
	chn2, err := station.Open(t.Context(), dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chn2.Close() })
	go chn2.Run(t.Context())
	waitFor(t, usa, "the warnings in the history", func() bool {
		al := dora.do(t, "GET", "/console/frag/alerts", "").body
		i := strings.Index(al, `id="alarms-history-h"`)
		return i > 0 && strings.Contains(text(al[i:]), "CHN reports: nothing heard") && strings.Contains(text(al[i:]), "a path to the peer was up again at")
	})
	if tk := dora.do(t, "GET", "/console/frag/takeover", "").body; strings.Contains(tk, "nothing heard") {
		t.Errorf("a cleared warning is a notice:\n%s", tk)
	}
	// A new one while the path is up stands until a path goes and comes again.
	add(1)
	al = dora.do(t, "GET", "/console/frag/alerts", "").body
	// (The history may hold the channel's own down, raised if the
	// station took longer than the 300 ms grace to come back.)
	active, history := al, ""
	if i := strings.Index(al, `id="alarms-history-h"`); i >= 0 {
		active, history = al[:i], al[i:]
	}
	if strings.Contains(text(history), "CHN reports: nothing heard") || !strings.Contains(text(active), "CHN reports: nothing heard") || !strings.Contains(active, `data-count="16"`) {
		t.Errorf("a warning after the path came back is not active:\n%s", al)
	}
}

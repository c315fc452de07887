package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"hotline/internal/console"
	"hotline/internal/demo"
	"hotline/internal/netfault"
	"hotline/internal/operator"
	"hotline/internal/protocol"
)

// setConfig sets a key of a stopped station's config.json.
func setConfig(dir, key string, v any) error {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		return err
	}
	cfg[key] = v
	if data, err = json.Marshal(cfg); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// TestBrowserAlarms: alarm management in chromium, against two real
// stations whose direct endpoints are behind fault proxies, with a
// second's grace before a channel down takes over. The channel goes down
// and comes back 20 times: the first outage takes over both consoles and,
// once the path is back before anyone acknowledged it, the takeover is
// gone and a "cleared" notice stands (in Chinese on CHN's console); after
// the 20, USA's board has one line for the channel's outages with a count
// of 20, chattering, in the history, and no DOWN takeover standing. A
// supervisor shelves the group from its line with a reason: it leaves the
// list for the shelved ones, an outage while shelved takes over nobody's
// screen, the audit trail has the shelving; shelved for 10 s, it is back
// when they end, live. A shelving with no reason is refused. Every new
// string on CHN's Chinese board is in Chinese.
func TestBrowserAlarms(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "hotline")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "hotline/cmd/hotline").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const ch = "usa-chn-staff"
	var mu sync.Mutex
	var proxies []*netfault.Proxy
	p, err := demo.NewPairWith(ctx, filepath.Join(tmp, "stations"), bin, map[string]string{ch: "staff"}, demo.PairOptions{
		Endpoints: func(name, listen string) ([]string, error) {
			px, err := netfault.Listen(listen)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			proxies = append(proxies, px)
			mu.Unlock()
			t.Cleanup(func() { px.Close() })
			return []string{px.Addr()}, nil
		},
		Prepare: func(n *demo.Node) error { return setConfig(n.Dir, "console_down_after", "1s") },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	for _, o := range []struct {
		n   *demo.Node
		req operator.AddRequest
	}{
		{p.A, operator.AddRequest{Name: "sam", Role: "supervisor", Password: password}},
		{p.B, operator.AddRequest{Name: "王伟", Role: "duty", Password: password, Lang: "zh", As: "王上尉"}},
	} {
		if _, err := o.n.Client().AddOperator(ctx, o.req); err != nil {
			t.Fatal(err)
		}
	}
	urlA, urlB := base(t, p.A), base(t, p.B)
	s, b := newBrowser(t, ctx), newBrowser(t, ctx)
	logIn(t, s, urlA, "sam")
	ackTakeovers(t, s)
	logIn(t, b, urlB, "王伟")
	ackTakeovers(t, b)

	cut := func() {
		for _, px := range proxies {
			px.Cut()
		}
	}
	heal := func() {
		for _, px := range proxies {
			px.Heal()
		}
	}
	usa := p.A.Client()
	active := func() {
		t.Helper()
		if err := demo.WaitFor(ctx, usa, 30*time.Second, func() (bool, error) {
			cs, err := usa.Channels(ctx)
			return err == nil && len(cs) == 1 && cs[0].State == protocol.StateActive, err
		}); err != nil {
			t.Fatalf("the channel is not active again: %v", err)
		}
	}
	const downLine = `li.alarm.alarm-down`
	countIs := func(n int) string {
		return fmt.Sprintf(`(() => { const l = document.querySelectorAll(%q); return l.length === 1 && l[0].dataset.count === "%d"; })()`, downLine, n)
	}

	// The first outage takes over both consoles; back before anyone
	// acknowledged it, it is a cleared notice.
	cut()
	run(t, s, "USA: the channel down takes over",
		chromedp.WaitVisible(css(`#takeover [data-kind="down"]`)), chromedp.WaitVisible(css(`body[data-alarm="on"]`)))
	waitText(t, s, "USA's takeover", "#tk-title", "Channel "+ch+" is DOWN")
	run(t, b, "CHN: the channel down takes over", chromedp.WaitVisible(css(`#takeover [data-kind="down"]`)))
	heal()
	run(t, s, "USA: the takeover turns into a cleared notice",
		chromedp.WaitNotPresent(css(`#takeover [data-takeover]`)),
		chromedp.WaitVisible(css(`#takeover .cleared-notice`)),
		chromedp.WaitVisible(css(`body[data-alarm="off"]`)))
	waitText(t, s, "USA's notice", "#takeover .cleared-notice", "Channel "+ch+" was DOWN, and is back.", "before anyone acknowledged the alarm (1 times)")
	run(t, b, "CHN: the takeover turns into a cleared notice",
		chromedp.WaitNotPresent(css(`#takeover [data-takeover]`)), chromedp.WaitVisible(css(`#takeover .cleared-notice`)))
	waitText(t, b, "CHN's notice", "#takeover .cleared-notice", "信道 "+ch+" 曾中断，现已恢复。")
	shot(t, s, "console-cleared.png")

	// 19 more: one line, counting.
	for i := 2; i <= 20; i++ {
		active()
		cut()
		run(t, s, "", chromedp.Poll[chromedp.Void](countIs(i), chromedp.WithPollingTimeout(20*time.Second)))
		heal()
	}
	active()
	run(t, s, "USA: no DOWN takeover standing after 20 outages",
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`!document.querySelector("#takeover [data-takeover]") && !!document.querySelector(".alarms-history %s")`, downLine),
			chromedp.WithPollingTimeout(20*time.Second)))
	if n := eval[int](t, s, fmt.Sprintf(`document.querySelectorAll(%q).length`, downLine)); n != 1 {
		t.Errorf("%d lines for the channel's outages, want 1", n)
	}
	waitText(t, s, "the flapping line", downLine, "×20", "chattering", "20 cleared before anyone acknowledged them", "A path came back at")
	waitText(t, s, "USA's notice", "#takeover .cleared-notice", "(20 times)")
	if n := eval[int](t, s, `document.querySelectorAll("#takeover .cleared-notice").length`); n != 1 {
		t.Errorf("%d cleared notices, want one for the group", n)
	}
	shot(t, s, "console-alarms.png")

	// Refused without a reason, changing nothing.
	group := eval[string](t, s, fmt.Sprintf(`document.querySelector(%q).dataset.group`, downLine))
	if code := fetchStatus(t, s, "/console/api/alarms/shelve", fmt.Sprintf(`{"group":%q,"for":"15m","reason":""}`, group)); code != 400 {
		t.Errorf("shelving without a reason: HTTP %d", code)
	}
	if eval[bool](t, s, `!!document.querySelector(".alarms-shelved")`) {
		t.Error("shelved after a refusal")
	}

	// Shelved from its line, by keyboard: out of the lists, and an
	// outage while shelved takes over nobody's screen.
	const reason = "CHN's link is under repair"
	sel := fmt.Sprintf(`#shelve-%s`, group)
	run(t, s, "open the shelving form", chromedp.Click(css(sel+" summary")), chromedp.WaitVisible(css(sel+` input[name="reason"]`)))
	run(t, s, "shelve with a reason", chromedp.SendKeys(css(sel+` input[name="reason"]`), reason), chromedp.KeyEvent(kb.Enter))
	if err := chromedp.Do(s, chromedp.Poll[chromedp.Void](fmt.Sprintf(`!!document.querySelector(".alarms-shelved li[data-group='%s']")`, group), chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("not shelved: %v; the console says %q", err, eval[string](t, s, `document.getElementById("toast").textContent`))
	}
	waitText(t, s, "the shelf", ".alarms-shelved", "shelved by sam until", reason)
	run(t, s, "the notice goes with the shelf", chromedp.WaitNotPresent(css(`#takeover .cleared-notice`)))
	cut()
	run(t, s, "an outage while shelved is counted", chromedp.Poll[chromedp.Void](
		fmt.Sprintf(`document.querySelector(".alarms-shelved li[data-group='%s']").dataset.count === "21"`, group), chromedp.WithPollingTimeout(20*time.Second)))
	if eval[bool](t, s, `!!document.querySelector("#takeover [data-takeover]")`) {
		t.Error("a shelved group's outage takes over the screen")
	}
	heal()
	active()
	run(t, s, "the audit trail", chromedp.Navigate(urlA+"/console/audit"), chromedp.WaitVisible(css("table.audit")))
	waitText(t, s, "the audit of the shelving", "table.audit", "alarm.shelve", "shelved for 15m0s", reason, "refused")

	// Shelved for 10 s: back when they end, without a reload.
	run(t, s, "board", chromedp.Navigate(urlA+"/console/"), chromedp.WaitVisible(css(`body[data-connection="live"]`)))
	if code := fetchStatus(t, s, "/console/api/alarms/shelve", fmt.Sprintf(`{"group":%q,"for":"10s","reason":"a short one"}`, group)); code != 200 {
		t.Fatalf("shelving for 10s: HTTP %d", code)
	}
	run(t, s, "shelved", chromedp.WaitVisible(css(fmt.Sprintf(`.alarms-shelved li[data-group=%q]`, group))))
	start := time.Now()
	run(t, s, "back after 10 s", chromedp.Poll[chromedp.Void](
		fmt.Sprintf(`!document.querySelector(".alarms-shelved") && !!document.querySelector(".alarms-history li[data-group='%s']")`, group),
		chromedp.WithPollingTimeout(30*time.Second)))
	if d := time.Since(start); d < 8*time.Second {
		t.Errorf("the 10 s shelf ended after %s", d)
	}

	// CHN's Chinese board: every word of the alarm board in Chinese.
	run(t, b, "CHN's board", chromedp.Navigate(urlB+"/console/"), chromedp.WaitVisible(css(`body[data-connection="live"]`)),
		chromedp.WaitVisible(css(downLine)))
	page := eval[string](t, b, `document.body.innerText`)
	en, zh := console.Catalogs()["en"], console.Catalogs()["zh"]
	for _, k := range []string{"alarms_history", "alarm_rate", "rate_per10", "rate_peak", "rate_against", "rate_hour", "rate_day", "rate_benchmark", "alarm_chattering", "acknowledge_alert"} {
		if strings.Contains(page, en[k]) {
			t.Errorf("CHN's board shows %q in English", en[k])
		}
		if !strings.Contains(page, zh[k]) {
			t.Errorf("CHN's board lacks %q", zh[k])
		}
	}
	for _, want := range []string{"共 ", "次在无人确认前已解除", "曾中断，现已恢复。"} {
		if !strings.Contains(page, want) {
			t.Errorf("CHN's board lacks %q", want)
		}
	}
	unlabelled(t, b, "CHN's alarm board")
	lowContrast(t, s, "USA's alarm board")
}

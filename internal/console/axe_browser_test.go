package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hotline/internal/api"
	"hotline/internal/demo"
	"hotline/internal/operator"
	"hotline/internal/ops"
)

// axeSource is axe-core, kept with the tests (testdata/axe/README.md):
// nothing is downloaded when they run.
func axeSource(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// axeCheck runs axe-core on the page open in the tab (injected through
// the DevTools protocol, which the pages' Content-Security-Policy does
// not govern) and fails on any violation of serious or critical impact,
// and on the `region` rule (content outside any landmark); the others are
// logged.
func axeCheck(t *testing.T, ctx context.Context, src, page string) {
	t.Helper()
	if !eval[bool](t, ctx, `typeof window.axe === "object"`) {
		run(t, ctx, "", chromedp.Evaluate[chromedp.Void](src+"\n;undefined"))
	}
	// The pages are drawn again live: a run over a node that went away
	// fails, so each run is tried again a few times.
	var raw string
	var err error
	for range 3 {
		raw, err = chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
		if err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s: axe: %v", page, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatalf("%s: axe's answer: %v", page, err)
	}
	for _, v := range vs {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprintf("%v %.120s", n.Target, n.HTML))
		}
		if v.Impact == "serious" || v.Impact == "critical" || v.ID == "region" {
			t.Errorf("%s: axe %s (%s): %s, on %d: %s", page, v.ID, v.Impact, v.Help, len(v.Nodes), strings.Join(where, "; "))
		} else {
			t.Logf("%s: axe %s (%s): %s, on %d: %s", page, v.ID, v.Impact, v.Help, len(v.Nodes), strings.Join(where, "; "))
		}
	}
	t.Logf("%s: axe: %d violations", page, len(vs))
}

// TestBrowserAxe runs axe-core 4.14 in Debian's chromium on every page of
// the console, in English on USA's and in Chinese on CHN's: the login,
// the board, a channel, the incidents, an incident, the map, the
// after-action report, the audit trail, the broadcasts and a broadcast
// (and the broadcasts with an admin's group form), the administration
// page, the
// refusal pages (the audit trail and the report to a duty officer), with
// a takeover open (an incoming FLASH) and closed. No violation of serious
// or critical impact, and no content outside a landmark.
func TestBrowserAxe(t *testing.T) {
	needChromium(t)
	src := axeSource(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "hotline")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "hotline/cmd/hotline").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const ch = "usa-chn-staff"
	p, err := demo.NewPairWith(ctx, filepath.Join(tmp, "stations"), bin, map[string]string{ch: "staff"}, demo.PairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	for _, o := range []struct {
		n   *demo.Node
		req operator.AddRequest
	}{
		{p.A, operator.AddRequest{Name: "sam", Role: "supervisor", Password: password}},
		{p.A, operator.AddRequest{Name: "alice", Role: "duty", Password: password}},
		{p.A, operator.AddRequest{Name: "ada", Role: "admin", Password: password}},
		{p.B, operator.AddRequest{Name: "李明", Role: "supervisor", Password: password, Lang: "zh"}},
		{p.B, operator.AddRequest{Name: "王伟", Role: "duty", Password: password, Lang: "zh"}},
		{p.B, operator.AddRequest{Name: "张华", Role: "admin", Password: password, Lang: "zh"}},
	} {
		if _, err := o.n.Client().AddOperator(ctx, o.req); err != nil {
			t.Fatal(err)
		}
	}
	// Something on every page: a notice, a report, an incident.
	usa, chn := p.A.Client(), p.B.Client()
	now := time.Now().UTC().Truncate(time.Minute)
	at := func(h float64) string { return now.Add(time.Duration(h * float64(time.Hour))).Format(time.RFC3339) }
	fire, err := chn.SendNotice(ctx, ops.NoticeRequest{Channel: ch, Notice: json.RawMessage(fmt.Sprintf(`{"kind":"live_fire","title":"海上实弹射击","lang":"zh-Hans",
		"area":{"polygon":[{"lat":17.5,"lon":110.5},{"lat":17.5,"lon":111.5},{"lat":17,"lon":111.5},{"lat":17,"lon":110.5}]},
		"window":{"from":%q,"to":%q},"units":["驱逐舰173"],"call":%q}`, at(-1), at(8), ch))})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := usa.SendReport(ctx, ops.ReportRequest{Channel: ch, Precedence: "PRIORITY", Report: json.RawMessage(fmt.Sprintf(`{"time":%q,
		"own":{"unit":"DDG-00","position":{"lat":16.9,"lon":112.2},"course":45,"speed_kn":14},
		"other":{"unit":"Frigate 548","position":{"lat":16.905,"lon":112.2296},"course":300,"speed_kn":18},
		"cpa":{"distance_nm":0.3,"time":%q},"unsafe":true}`, at(0), at(0.05)))})
	if err != nil {
		t.Fatal(err)
	}
	inc, err := usa.Incident(ctx, ops.IncidentRequest{Action: "open", Channel: ch, Title: "Unsafe crossing near the firing area", Lang: "en",
		Links: []string{rep.ID, fire.ID}, By: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	incQ := url.QueryEscape(inc.ID)
	// A text to several parties from each side, one of them nobody, so
	// that the Broadcasts pages have a refused party and a delivered one.
	bcasts := map[string]string{}
	for _, s := range []struct {
		c    *api.Client
		lang string
		to   string
	}{{usa, "en", "CHN"}, {chn, "zh", "USA"}} {
		bv, err := s.c.Broadcast(ctx, ops.BroadcastRequest{To: []string{s.to, "NOBODY"}, Precedence: "PRIORITY", Text: "To the parties in the area"})
		if err != nil {
			t.Fatal(err)
		}
		bcasts[s.lang] = bv.ID
	}

	for _, side := range []struct {
		lang, url, sup, duty, admin string
		peer                        *demo.Node
	}{
		{"en", base(t, p.A), "sam", "alice", "ada", p.B},
		{"zh", base(t, p.B), "李明", "王伟", "张华", p.A},
	} {
		pg := func(name string) string { return side.lang + " " + name }
		b := newBrowser(t, ctx)
		run(t, b, "the login page", chromedp.Navigate(side.url+"/console/login"), chromedp.WaitVisible(css("#login-form")))
		axeCheck(t, b, src, pg("login"))
		logIn(t, b, side.url, side.sup)
		if side.lang == "zh" {
			// The login page is in the browser's language until someone
			// logs in; once logged in, in the operator's.
			run(t, b, "", chromedp.Poll[chromedp.Void](`document.documentElement.lang === "zh-Hans"`))
		}
		ackTakeovers(t, b)
		// Alerts open: nine incoming FLASH take over the screen, one in
		// full and eight in the queue under it, which scrolls.
		for i := range 9 {
			if _, err := side.peer.Client().Send(ctx, ops.SendRequest{Channel: ch, Precedence: "FLASH", Text: fmt.Sprintf("Flash %d for the axe run", i)}); err != nil {
				t.Fatal(err)
			}
		}
		run(t, b, "the takeover", chromedp.WaitVisible(css(`#takeover [data-takeover]`)),
			chromedp.Poll[chromedp.Void](`document.querySelectorAll("#takeover .takeover-queue li").length === 8`))
		if !eval[bool](t, b, `(q => q.scrollHeight > q.clientHeight)(document.querySelector("#takeover .takeover-queue"))`) {
			t.Error("the takeover's queue does not scroll: the check of scrollable regions has nothing to check")
		}
		axeCheck(t, b, src, pg("board, alert open"))
		run(t, b, "the channel", chromedp.Navigate(side.url+"/console/channel/"+ch), chromedp.WaitVisible(css(`#takeover [data-takeover]`)),
			chromedp.WaitVisible(css(`body[data-connection="live"]`)))
		axeCheck(t, b, src, pg("channel, alert open"))
		ackTakeovers(t, b)
		axeCheck(t, b, src, pg("channel"))
		for _, v := range []struct{ name, path, sel string }{
			{"board", "/console/", "table.board"},
			{"incidents", "/console/incidents", "table"},
			{"incident", "/console/incident?id=" + incQ, "ol.timeline"},
			{"map", "/console/map", "svg.seamap path.land"},
			{"audit", "/console/audit", "table.audit"},
			{"broadcasts", "/console/broadcasts", "table.broadcasts"},
			{"broadcast", "/console/broadcast/" + bcasts[side.lang], "table.parties"},
		} {
			run(t, b, pg(v.name), chromedp.Navigate(side.url+v.path), chromedp.WaitVisible(css(v.sel)),
				chromedp.WaitVisible(css(`body[data-connection="live"]`)))
			axeCheck(t, b, src, pg(v.name))
		}
		run(t, b, pg("report"), chromedp.Navigate(side.url+"/console/incident/report?id="+incQ), chromedp.WaitVisible(css(`div.map svg.seamap`)))
		axeCheck(t, b, src, pg("report"))

		run(t, b, "log out", chromedp.Navigate(side.url+"/console/"), chromedp.WaitVisible(css("#logout")), chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login-form")))
		logIn(t, b, side.url, side.admin)
		run(t, b, pg("admin"), chromedp.Navigate(side.url+"/console/admin"), chromedp.WaitVisible(css("#add-operator")))
		axeCheck(t, b, src, pg("admin"))
		run(t, b, pg("broadcasts, admin"), chromedp.Navigate(side.url+"/console/broadcasts"), chromedp.WaitVisible(css("#group-form")))
		axeCheck(t, b, src, pg("broadcasts, admin"))
		run(t, b, "log out", chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login-form")))
		logIn(t, b, side.url, side.duty)
		ackTakeovers(t, b)
		run(t, b, pg("audit refused"), chromedp.Navigate(side.url+"/console/audit"), chromedp.WaitVisible(css(`p.refused`)))
		axeCheck(t, b, src, pg("audit refused"))
		run(t, b, pg("report refused"), chromedp.Navigate(side.url+"/console/incident/report?id="+incQ), chromedp.WaitVisible(css(`p.refused`)))
		axeCheck(t, b, src, pg("report refused"))
	}
}

package console_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hotline/internal/api"
	"hotline/internal/demo"
	"hotline/internal/operator"
)

var screenshots = flag.String("console.screenshots", "", "write screenshots of the main views to this folder (docs/ keeps the ones in the README)")

const chromium = "/usr/bin/chromium"

// needChromium skips without Debian's chromium, unless under CI, where its
// absence is a failure (.ci/run installs it).
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing under CI: .ci/run must install Debian's chromium", chromium)
		}
		t.Skipf("skipping the browser test: %s is not installed (apt-get install -y chromium)", chromium)
	}
}

// newBrowser starts a headless chromium with a fresh profile; the
// returned context drives one tab.
func newBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		// The alarm must sound without a click in a test; a person's
		// browser asks for one click (the console says so).
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancel)
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelB)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx
}

// run does steps in the tab; each waits for its condition.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	start := time.Now()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%s: %s", what, time.Since(start).Round(time.Millisecond))
}

// get runs one action that returns a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

type css = chromedp.CSS

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if *screenshots == "" {
		return
	}
	png := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(*screenshots, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// keepAPIAddr sets the station's configured API address.
func keepAPIAddr(t *testing.T, dir, addr string) {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["api_listen"] = addr
	if data, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func base(t *testing.T, n *demo.Node) string {
	t.Helper()
	addr, err := os.ReadFile(filepath.Join(n.Dir, api.AddrFile))
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + strings.TrimSpace(string(addr))
}

func logIn(t *testing.T, ctx context.Context, url, name string) {
	t.Helper()
	run(t, ctx, "log in as "+name,
		chromedp.Navigate(url+"/console/"),
		chromedp.WaitVisible(css("#login-form")),
		chromedp.SendKeys(css("#name"), name),
		chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css(`#login-form button[type=submit]`)),
		chromedp.WaitVisible(css("#who")),
		chromedp.WaitVisible(css(`body[data-connection="live"]`)),
	)
}

// fetchStatus posts from the page, as the page's own script would, and
// returns the HTTP status.
func fetchStatus(t *testing.T, ctx context.Context, path, body string) int {
	t.Helper()
	js := fmt.Sprintf(`fetch(%q, {method: "POST", headers: {"Content-Type": "application/json"}, body: %q}).then(r => r.status)`, path, body)
	return get(t, ctx, "fetch "+path, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
}

// TestBrowser: two stations as real hotline run processes, a duty officer
// at each console in real headless chromium. One sends a FLASH from the
// keyboard; the other's console is taken over by the alert, live, with
// the alarm on; acknowledging with the Enter key turns the sender's
// message to acknowledged, live. A duty officer cannot suspend, an auditor
// cannot send, and a station that goes away is shown as lost. Every wait
// is for a condition in the DOM.
func TestBrowser(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "hotline")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "hotline/cmd/hotline").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const ch = "usa-chn-staff"
	p, err := demo.NewPair(ctx, t.TempDir(), bin, map[string]string{ch: "staff"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	for _, o := range []struct {
		n   *demo.Node
		req operator.AddRequest
	}{
		{p.A, operator.AddRequest{Name: "alice", Role: "duty", Password: password}},
		{p.A, operator.AddRequest{Name: "audrey", Role: "auditor", Password: password}},
		{p.B, operator.AddRequest{Name: "王伟", Role: "duty", Password: password, Lang: "zh"}},
	} {
		if _, err := o.n.Client().AddOperator(ctx, o.req); err != nil {
			t.Fatal(err)
		}
	}
	urlA, urlB := base(t, p.A), base(t, p.B)
	a, b := newBrowser(t, ctx), newBrowser(t, ctx)

	logIn(t, b, urlB, "王伟")
	shot(t, b, "console-board-zh.png")
	logIn(t, a, urlA, "alice")
	run(t, a, "open the channel",
		chromedp.Navigate(urlA+"/console/channel/"+ch),
		chromedp.WaitVisible(css("#compose")),
		chromedp.WaitVisible(css(`body[data-connection="live"]`)),
	)

	// Send a FLASH with the keyboard only: Ctrl+Enter in the text.
	text := "FLASH: unidentified aircraft near grid 42, <b>not</b> ours"
	run(t, a, "send a FLASH",
		chromedp.SetValue(css("#prec"), "FLASH"),
		chromedp.SendKeys(css("#text"), text),
		chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.WaitVisible(css(`li.msg.out.prec-FLASH`)),
	)
	id := get(t, a, "read the message id", chromedp.AttributeValue(css(`li.msg.out.prec-FLASH`), "data-id")).Value

	// The other console is taken over, live, with the alarm on and the
	// acknowledge button focused.
	sel := css(fmt.Sprintf(`#takeover [data-takeover=%q]`, id))
	run(t, b, "see the takeover", chromedp.WaitVisible(sel), chromedp.WaitVisible(css(`body[data-alarm="on"]`)))
	if shown := get(t, b, "takeover text", chromedp.Text(css("#tk-text"))); shown != text {
		t.Errorf("takeover shows %q, want the text as sent %q (as text, not markup)", shown, text)
	}
	if focused := get(t, b, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); focused != "takeover-ack" {
		t.Errorf("focus is on %q, want the acknowledge button", focused)
	}
	sound := get(t, b, "sound state", chromedp.Evaluate[string](`document.body.dataset.sound || ""`))
	t.Logf("audio context %q", sound)
	if sound == "" {
		t.Error("the alarm did not start an audio context")
	}
	shot(t, b, "console-takeover.png")

	// Acknowledge with the Enter key.
	run(t, b, "acknowledge with Enter",
		chromedp.KeyEvent("\r"),
		chromedp.WaitNotPresent(sel),
		chromedp.WaitVisible(css(`body[data-alarm="off"]`)),
	)
	// The sender's console shows it acknowledged, by whom, live.
	ackSel := css(fmt.Sprintf(`li.msg[data-id=%q][data-status="acknowledged"] .ackby`, id))
	run(t, a, "see acknowledged", chromedp.WaitVisible(ackSel))
	if ackBy := get(t, a, "acknowledged by", chromedp.Text(ackSel)); !strings.Contains(ackBy, "王伟") {
		t.Errorf("acknowledged %q, want by 王伟", ackBy)
	}
	shot(t, a, "console-channel.png")
	run(t, a, "board", chromedp.Navigate(urlA+"/console/"), chromedp.WaitVisible(css(`body[data-connection="live"]`)))
	shot(t, a, "console-board.png")

	// Roles, enforced by the server for a real browser's requests.
	if code := fetchStatus(t, a, "/console/api/channels/"+ch+"/suspend", `{"reason":"protest"}`); code != 403 {
		t.Errorf("duty officer suspending: HTTP %d, want 403", code)
	}
	run(t, a, "log out", chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login-form")))
	logIn(t, a, urlA, "audrey")
	run(t, a, "auditor's channel page",
		chromedp.Navigate(urlA+"/console/channel/"+ch),
		chromedp.WaitVisible(css(`li.msg[data-id]`)),
	)
	if forms := get(t, a, "compose forms", chromedp.Evaluate[int](`document.querySelectorAll("#compose").length`)); forms != 0 {
		t.Error("the auditor is shown a compose form")
	}
	if code := fetchStatus(t, a, "/console/api/send", `{"channel":"`+ch+`","precedence":"FLASH","text":"x"}`); code != 403 {
		t.Errorf("auditor sending: HTTP %d, want 403", code)
	}
	run(t, a, "audit page", chromedp.Navigate(urlA+"/console/audit"), chromedp.WaitVisible(css(`table.audit tr.outcome-refused`)))
	shot(t, a, "console-audit.png")

	// The station goes away: the console says so; it comes back: live again.
	if err := p.B.Stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	run(t, b, "see the connection lost", chromedp.WaitVisible(css(`#lost`)), chromedp.WaitVisible(css(`body[data-connection="lost"]`)))
	// The demo's stations take any free API port; this one must come back
	// where the browser knows it, as a real station's configured one does.
	keepAPIAddr(t, p.B.Dir, strings.TrimPrefix(urlB, "http://"))
	if err := p.B.Start(ctx); err != nil {
		t.Fatal(err)
	}
	run(t, b, "see it live again", chromedp.WaitVisible(css(`body[data-connection="live"]`)), chromedp.WaitNotVisible(css(`#lost`)))
}

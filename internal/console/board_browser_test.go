package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hotline/internal/ops"
	"hotline/internal/record"
)

// boardShots, when set, is where TestBrowserBoardFirst writes what it saw
// at each window size (for a person to look at).
var boardShots = os.Getenv("HOTLINE_BOARD_SHOTS")

// TestBrowserBoardFirst: the board of a station after a crisis (eight
// channels, messages waiting both ways, fifty station warnings in a
// dozen groups) in chromium at 1366×768 and at 1920×1080. The page never
// scrolls sideways; the channel table is in the first screen, its header
// and every row; each path is one line; a value too long for its column
// is cut with the whole of it in its title. A channel's page has its
// Compose box in the first screen. The duty officer's shortcuts: o opens
// the channel of the top alarm, a acknowledges it, c goes to the Compose
// box, ? lists them.
func TestBrowserBoardFirst(t *testing.T) {
	needChromium(t)
	ids := []string{"usa-chn-staff", "usa-chn-theatre-south-china-sea", "usa-chn-naval-liaison-hainan", "usa-chn-air-liaison",
		"usa-chn-coast-guard", "usa-chn-maritime-safety-watch", "usa-chn-tactical-01", "usa-chn-tactical-02"}
	usa, chn := pair(t, ids...)
	ctx := t.Context()
	for i, id := range ids {
		for j := range i % 3 {
			if _, err := chn.Send(ctx, ops.SendRequest{Channel: id, Precedence: "PRIORITY", Text: fmt.Sprintf("message %d on %s", j, id)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := usa.Send(ctx, ops.SendRequest{Channel: id, Precedence: "ROUTINE", Text: "reply on " + id}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	var alerts []record.Alert
	for i := range 50 {
		id := ids[i%6]
		alerts = append(alerts, record.Alert{At: now.Add(-time.Duration(50-i) * 20 * time.Second), Level: "warning", Channel: id, Peer: "CHN",
			Text: "CHN reports: nothing heard for 1.5s on " + id, Format: "%s reports: %s", Args: []string{"CHN", "nothing heard for 1.5s"}})
	}
	alerts = append(alerts, record.Alert{At: now.Add(-time.Minute), Level: "warning", Channel: ids[1], Peer: "CHN",
		Text: "sending stopped on " + ids[1] + ": queue full", Format: "sending stopped on %s: %s", Args: []string{ids[1], "queue full"}})
	if err := usa.Store.Apply(ctx, &record.Batch{Alerts: alerts}); err != nil {
		t.Fatal(err)
	}
	d := newDesk(t, usa)

	bctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	b := newBrowser(t, bctx)
	logIn(t, b, d.srv.URL, "dora")
	ackTakeovers(t, b)
	for _, size := range [][2]int64{{1366, 768}, {1920, 1080}} {
		name := fmt.Sprintf("%dx%d", size[0], size[1])
		run(t, b, "the board at "+name, chromedp.EmulateViewport(size[0], size[1]), chromedp.Navigate(d.srv.URL+"/console/"),
			chromedp.WaitVisible(css(`body[data-connection="live"]`)), chromedp.WaitVisible(css(`table.board`)))
		boardShot(t, b, "board-"+name+".png")
		layout(t, b, "board at "+name)
		type first struct {
			Rows, Visible int
			Bottom        float64
		}
		got := eval[first](t, b, `(() => {
			const rows = [...document.querySelectorAll("table.board thead tr, table.board tbody tr")];
			return {Rows: rows.length, Visible: rows.filter(r => r.getBoundingClientRect().bottom <= innerHeight).length,
				Bottom: Math.max(...rows.map(r => r.getBoundingClientRect().bottom))};
		})()`)
		if got.Rows != len(ids)+1 || got.Visible != got.Rows {
			t.Errorf("%s: %d of the board's %d rows (with its header) in the first screen; it ends at %.0f px", name, got.Visible, got.Rows, got.Bottom)
		}
		if bad := eval[[]string](t, b, `[...document.querySelectorAll("ul.paths li")].filter(li => {
				const lh = parseFloat(getComputedStyle(li).lineHeight) || 20;
				return li.getBoundingClientRect().height > 1.5 * lh;
			}).map(li => li.textContent.trim())`); len(bad) > 0 {
			t.Errorf("%s: paths on more than one line: %q", name, bad)
		}
		run(t, b, "a channel at "+name, chromedp.Navigate(d.srv.URL+"/console/channel/"+ids[1]),
			chromedp.WaitVisible(css(`body[data-connection="live"]`)), chromedp.WaitVisible(css(`#compose`)))
		boardShot(t, b, "channel-"+name+".png")
		layout(t, b, "channel at "+name)
		if bottom := eval[float64](t, b, `document.querySelector("#compose").getBoundingClientRect().bottom`); bottom > float64(size[1]) {
			t.Errorf("%s: the Compose box ends at %.0f px, below the first screen", name, bottom)
		}
	}

	// The keys, from the board: a acknowledges the top alarm.
	run(t, b, "the board", chromedp.Navigate(d.srv.URL+"/console/"), chromedp.WaitVisible(css(`body[data-connection="live"]`)),
		chromedp.WaitVisible(css(`.alarms-active li.unacked`)))
	const unacked = `document.querySelectorAll(".alarms-active li.unacked").length`
	const top = `document.querySelector(".alarms-active li.alarm[data-channel]").dataset`
	before := eval[int](t, b, unacked)
	group := eval[string](t, b, top+`.group`)
	run(t, b, "a: acknowledge the top alarm", chromedp.KeyEvent("a"),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('.alarms-active li.unacked[data-group=%q]') === null`, group)))
	if after := eval[int](t, b, unacked); after != before-1 {
		t.Errorf("a: %d unacknowledged lines, then %d; want one fewer", before, after)
	}
	if a := d.lastAudit(t, "alert.ack"); a == nil || a.Operator != "dora" || a.Outcome != "ok" {
		t.Errorf("a: the audit trail has %+v", a)
	}
	// o opens the channel of the (new) top alarm; c goes to its Compose box.
	ch := eval[string](t, b, top+`.channel`)
	run(t, b, "o: open the top alarm's channel", chromedp.KeyEvent("o"))
	acrossNavigation(t, b, "o: the top alarm's channel", fmt.Sprintf(`location.pathname === %q && document.readyState === "complete"`, "/console/channel/"+ch))
	run(t, b, "c: compose", chromedp.KeyEvent("c"), chromedp.Poll[chromedp.Void](`document.activeElement.id === "text"`))
	run(t, b, "typing c in the box is text", chromedp.KeyEvent("oca"))
	if v := eval[string](t, b, `document.getElementById("text").value`); v != "oca" {
		t.Errorf("typed oca in the Compose box, which holds %q", v)
	}
	ch = func() string {
		run(t, b, "the board", chromedp.Navigate(d.srv.URL+"/console/"), chromedp.WaitVisible(css(`body[data-connection="live"]`)),
			chromedp.WaitVisible(css(`.alarms-active li.alarm`)))
		return eval[string](t, b, top+`.channel`)
	}()
	run(t, b, "c from the board", chromedp.KeyEvent("c"))
	acrossNavigation(t, b, "c from the board: the top alarm's channel, in its Compose box",
		fmt.Sprintf(`location.pathname === %q && document.activeElement.id === "text"`, "/console/channel/"+ch))
}

// acrossNavigation waits until js is true in the tab, while it goes to
// another page (an evaluation fails while the page changes).
func acrossNavigation(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return
		}
	}
	t.Fatalf("%s: never %s (at %s, the focus on %s)", what, js, eval[string](t, ctx, `location.href`), eval[string](t, ctx, `document.activeElement.outerHTML.slice(0, 60)`))
}

// layout fails if the page scrolls sideways, or a value cut short in it
// does not carry its whole self in its title (spaces aside).
func layout(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if w := eval[[]float64](t, ctx, `[document.documentElement.scrollWidth, innerWidth]`); w[0] > w[1] {
		t.Errorf("%s: the page is %.0f px wide in a %.0f px window", page, w[0], w[1])
	}
	if bad := eval[[]string](t, ctx, `[...document.querySelectorAll("main *")].filter(el => {
			const s = getComputedStyle(el);
			if (s.textOverflow !== "ellipsis" || el.scrollWidth <= el.clientWidth) return false;
			const c = el.cloneNode(true);
			c.querySelectorAll(".local").forEach(l => l.remove()); // the local time the script adds beside a UTC one
			const norm = (x) => x.replace(/\s+/g, " ").trim();
			return norm(el.title) !== norm(c.textContent);
		}).map(el => el.title + " ≠ " + el.textContent)`); len(bad) > 0 {
		t.Errorf("%s: values cut short without the whole value in their title: %q", page, bad)
	}
}

func boardShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if boardShots == "" {
		return
	}
	png := get(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(boardShots, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

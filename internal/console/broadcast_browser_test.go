package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"hotline/internal/console"
	"hotline/internal/ops"
)

// TestBrowserBroadcast: in chromium, a duty officer at USA sends one text
// to CHN and RUS from the Broadcasts page by keyboard. Sent to nobody
// first, the station's one line is shown. RUS has suspended its channel
// with USA: the broadcast's page, where the form lands, names RUS as not
// sent with why, and CHN's copy as sent; when CHN acknowledges its copy,
// the acknowledgement and who made it appear on the page without a
// reload, and the list counts it.
func TestBrowserBroadcast(t *testing.T) {
	needChromium(t)
	usa, chn, rus := trio(t)
	ctx := t.Context()
	if _, err := rus.Suspend(ctx, ops.SuspendRequest{Channel: "usa-rus-staff", Reason: "maintenance of the link", By: "ivan"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, usa, "RUS's suspension at USA", func() bool { return len(stateOf(t, usa, "usa-rus-staff").Suspensions) == 1 })
	d := newDesk(t, usa, func(c *console.Config) { c.Now = time.Now })

	bctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	b := newBrowser(t, bctx)
	logIn(t, b, d.srv.URL, "dora")
	ackTakeovers(t, b)
	run(t, b, "the Broadcasts page", chromedp.Navigate(d.srv.URL+"/console/broadcasts"),
		chromedp.WaitVisible(css("#broadcast-form")), chromedp.WaitVisible(css(`body[data-connection="live"]`)))
	unlabelled(t, b, "broadcasts")
	lowContrast(t, b, "broadcasts")

	// Nobody chosen: the station says so, and nothing is sent.
	tabTo(t, b, "bc-text", false)
	run(t, b, "send to nobody", chromedp.KeyEvent("Fleet exercise cancelled"),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	waitText(t, b, "the station's refusal", "#toast", "to: name the parties")
	if bs, _ := usa.Broadcasts(ctx); len(bs) != 0 {
		t.Fatalf("sent to nobody, yet %d broadcasts", len(bs))
	}

	// CHN and RUS by keyboard, IMMEDIATE, Ctrl+Enter.
	for _, id := range []string{"bc-to-peer-1", "bc-to-peer-0"} {
		tabTo(t, b, id, true)
		run(t, b, "choose "+id, chromedp.KeyEvent(" "), chromedp.Poll[chromedp.Void](`document.getElementById("`+id+`").checked`))
	}
	tabTo(t, b, "bc-prec", false)
	run(t, b, "choose IMMEDIATE", chromedp.KeyEvent("I"), chromedp.Poll[chromedp.Void](`document.getElementById("bc-prec").value === "IMMEDIATE"`))
	tabTo(t, b, "bc-text", false)
	run(t, b, "send to CHN and RUS", chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	// The form goes to the broadcast's page: a question asked while the
	// tab navigates is asked again.
	landed := false
	for range 50 {
		v, err := chromedp.Run(b, chromedp.Evaluate[bool](`location.pathname.startsWith("/console/broadcast/b-") && !!document.getElementById("broadcast-head") && document.body.dataset.connection === "live"`))
		if err == nil && v {
			landed = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !landed {
		t.Fatalf("the form did not go to the broadcast's page: at %s", eval[string](t, b, `location.href`))
	}
	id := strings.TrimPrefix(eval[string](t, b, `location.pathname`), "/console/broadcast/")
	bv, err := usa.BroadcastShow(ctx, id)
	if err != nil || bv.Sent != 1 || bv.Refused != 1 || bv.Precedence != "IMMEDIATE" || bv.Summary != "Fleet exercise cancelled" {
		t.Fatalf("the broadcast sent: %+v %v", bv, err)
	}
	waitText(t, b, "RUS refused, with why", `tr[data-peer="RUS"][data-status="refused"]`, "not sent", "channel usa-rus-staff is suspended by RUS: maintenance of the link")
	unlabelled(t, b, "broadcast")
	lowContrast(t, b, "broadcast")

	// CHN acknowledges: shown live, the page not drawn again.
	run(t, b, "mark the page", chromedp.Evaluate[chromedp.Void](`window.sameLoad = true`))
	var copyID string
	waitFor(t, chn, "CHN's copy", func() bool {
		in, _ := chn.Inbox(ctx, "usa-chn-staff")
		for _, m := range in {
			if m.Broadcast == id {
				copyID = m.ID
			}
		}
		return copyID != ""
	})
	if _, err := chn.Ack(ctx, copyID, "Lt. Wang"); err != nil {
		t.Fatal(err)
	}
	waitText(t, b, "CHN's acknowledgement, live", `tr[data-peer="CHN"][data-status="acknowledged"]`, "acknowledged", "by Lt. Wang at")
	waitText(t, b, "the counts, live", "#broadcast-counts", "2 parties: 1 delivered, 1 acknowledged", "1 not sent")
	if !eval[bool](t, b, `window.sameLoad === true`) {
		t.Error("the page was loaded again to show the acknowledgement")
	}
	shot(t, b, "console-broadcast.png")

	// The list, from the page's link.
	run(t, b, "the list", chromedp.Click(css(`a[href="/console/broadcasts"][aria-current]`)), chromedp.WaitVisible(css(`tr[data-broadcast="`+id+`"]`)))
	waitText(t, b, "the list's counts", `tr[data-broadcast="`+id+`"]`, "IMMEDIATE", "Fleet exercise cancelled", "⚠ 1")
}

package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hotline/internal/ops"
)

// TestBrowserSound: chromium with its autoplay policy as a person's
// browser has it (sound only after a person touched the page). Logging
// in is the gesture that arms the alarm: the board can sound, and a
// FLASH that takes over sounds without a click; so does the next page,
// reached without a click. A page reloaded cannot: a standing banner
// says so and the tab's title starts with SOUND OFF, until one key (S)
// turns the sound on, and the takeover sounds.
func TestBrowserSound(t *testing.T) {
	needChromium(t)
	usa, chn := pair(t, "usa-chn-staff")
	d := newDesk(t, usa)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	b := newBrowser(t, ctx, chromedp.Flag("autoplay-policy", "document-user-activation-required"))
	const (
		running  = `document.body.dataset.sound === "running"`
		bannerUp = `!document.getElementById("sound-off").hidden`
		beeps    = `Number(document.body.dataset.beeps || 0)`
	)
	logIn(t, b, d.srv.URL, "dora")
	run(t, b, "the login armed the sound", chromedp.Poll[chromedp.Void](running))
	if eval[bool](t, b, bannerUp) || strings.HasPrefix(eval[string](t, b, `document.title`), "SOUND OFF") {
		t.Error("the board says the sound is off after the login")
	}
	if _, err := chn.Send(t.Context(), ops.SendRequest{Channel: "usa-chn-staff", Precedence: "FLASH", Text: "Sound check"}); err != nil {
		t.Fatal(err)
	}
	run(t, b, "the FLASH takes over and sounds", chromedp.WaitVisible(css(`#takeover [data-takeover]`)),
		chromedp.Poll[chromedp.Void](beeps+` >= 2`))

	// To a channel's page without a click (the page's own script goes
	// there, as a link would): it sounds.
	run(t, b, "", chromedp.Evaluate[chromedp.Void](`location.href = "/console/channel/usa-chn-staff"; undefined`))
	acrossNavigation(t, b, "the channel's page sounds", `location.pathname === "/console/channel/usa-chn-staff" && document.body.dataset.sound === "running" && Number(document.body.dataset.beeps || 0) >= 2`)

	// Reloaded, as a browser restarted overnight opens it: it cannot.
	run(t, b, "reload", chromedp.Reload(), chromedp.WaitVisible(css(`#takeover [data-takeover]`)),
		chromedp.Poll[chromedp.Void](bannerUp), chromedp.Poll[chromedp.Void](`document.title.startsWith("SOUND OFF · ")`))
	if eval[bool](t, b, running) || eval[int](t, b, beeps) != 0 {
		t.Errorf("a reloaded page sounds without a gesture: sound %q, %d beeps", eval[string](t, b, `document.body.dataset.sound`), eval[int](t, b, beeps))
	}
	if w := eval[string](t, b, `document.getElementById("sound-off").textContent`); !strings.Contains(w, "Press S") {
		t.Errorf("the banner says %q", w)
	}
	// Standing above the takeover.
	if top := eval[string](t, b, `(r => document.elementFromPoint(r.left + 5, r.top + 5).id)(document.getElementById("sound-off").getBoundingClientRect())`); top != "sound-off" {
		t.Errorf("the banner is under %q", top)
	}
	run(t, b, "S turns the sound on", chromedp.KeyEvent("s"), chromedp.Poll[chromedp.Void](running),
		chromedp.Poll[chromedp.Void](`document.getElementById("sound-off").hidden && !document.title.startsWith("SOUND OFF")`),
		chromedp.Poll[chromedp.Void](beeps+` >= 2`))
}

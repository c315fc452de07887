package console_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"hotline/internal/ops"
	"hotline/internal/protocol"
)

// TestBrowserBoardPerf measures, in chromium, the board of the station of
// BenchmarkBoard100Alarms10k (100 channels), before and after its 10,000
// alerts: the first paint of the board page over several loads, and how
// long an event takes from the station to the page's EventSource handler
// (a message sent on USA through its API, timed from just before the
// call to the handler's message event; one machine, one clock). It logs
// figures and asserts no timing (they are in docs/BENCHMARKS.md), and it
// runs only when asked, being long:
//
//	HOTLINE_BROWSER_PERF=1 go test ./internal/console -run BrowserBoardPerf -v -timeout 20m
//
// HOTLINE_PERF_LOADS (15), HOTLINE_PERF_EVENTS (200) and
// HOTLINE_PERF_GAP_MS (20, the pause after an event is seen before the
// next) change the counts.
func TestBrowserBoardPerf(t *testing.T) {
	if os.Getenv("HOTLINE_BROWSER_PERF") == "" {
		t.Skip("set HOTLINE_BROWSER_PERF=1 to measure the board in chromium")
	}
	needChromium(t)
	const n = 100
	loads, events := envInt("HOTLINE_PERF_LOADS", 15), envInt("HOTLINE_PERF_EVENTS", 200)
	gap := time.Duration(envInt("HOTLINE_PERF_GAP_MS", 20)) * time.Millisecond
	usa, chn := board100(t, n)
	d := newDesk(t, usa)
	bctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	b := newBrowser(t, bctx)
	// Every message event the page's EventSource receives, timed, before
	// the page's own handler (added later) sees it.
	run(t, b, "", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `(() => {
			const ES = window.EventSource;
			window.__events = [];
			window.EventSource = class extends ES {
				constructor(...a) {
					super(...a);
					this.addEventListener('message', (e) => window.__events.push({at: performance.timeOrigin + performance.now(), data: e.data}));
				}
			};
		})()`})
		return chromedp.Void{}, err
	})
	logIn(t, b, d.srv.URL, "dora")

	measure := func(name string) {
		// First paint: the board loaded afresh, loads times.
		type timing struct{ FCP, Response, DOM, Load float64 }
		var fcp, resp, dom, load []float64
		for i := range loads {
			// Each load on a quiet page: the last one's refresh (the
			// page asks for its fragments once its event stream opens)
			// done.
			run(t, b, "", chromedp.Sleep(time.Second))
			run(t, b, "", chromedp.Navigate(d.srv.URL+"/console/"), chromedp.WaitVisible(css(`table.board`)),
				chromedp.Poll[chromedp.Void](`performance.getEntriesByType('navigation')[0].loadEventEnd > 0 && performance.getEntriesByName('first-contentful-paint').length > 0`))
			tm := eval[timing](t, b, `(() => {
				const n = performance.getEntriesByType('navigation')[0];
				return {FCP: performance.getEntriesByName('first-contentful-paint')[0].startTime,
					Response: n.responseEnd, DOM: n.domContentLoadedEventEnd, Load: n.loadEventEnd};
			})()`)
			t.Logf("%s: load %d: response %.0f ms, first contentful paint %.0f ms, DOMContentLoaded %.0f ms, load %.0f ms", name, i+1, tm.Response, tm.FCP, tm.DOM, tm.Load)
			fcp, resp, dom, load = append(fcp, tm.FCP), append(resp, tm.Response), append(dom, tm.DOM), append(load, tm.Load)
		}
		t.Logf("%s: %d loads: first contentful paint %s; response end %s; DOMContentLoaded %s; load %s", name, loads,
			pct(fcp), pct(resp), pct(dom), pct(load))

		// Events, one after another, the next once the page has seen
		// this one: a notification the station emits (the console's own
		// path), and a message CHN sends through its API (over the link on
		// loopback, USA's "received").
		run(t, b, "", chromedp.WaitVisible(css(`body[data-connection="live"]`)))
		for _, how := range []string{"notification", "CHN's API send"} {
			var lat []float64
			for i := range events {
				ch := fmt.Sprintf("usa-chn-%03d", i%n)
				seen := eval[int](t, b, `window.__events.length`)
				start := float64(time.Now().UnixNano()) / 1e6
				if how == "notification" {
					usa.Notify(protocol.Notify{What: "channel", Channel: ch})
				} else if _, err := chn.Send(t.Context(), ops.SendRequest{Channel: ch, Precedence: "ROUTINE", Text: fmt.Sprintf("event %d", i)}); err != nil {
					t.Fatal(err)
				}
				at := get(t, b, "event on "+ch, chromedp.Poll[float64](fmt.Sprintf(`(() => {
					const e = window.__events.slice(%d).find((e) => JSON.parse(e.data).channel === %q);
					return e ? e.at : 0;
				})()`, seen, ch), chromedp.WithPollingInterval(5*time.Millisecond)))
				lat = append(lat, at-start)
				// The next event comes gap later: with a short gap it may
				// find the page still drawing what the last one changed.
				run(t, b, "", chromedp.Sleep(gap))
			}
			t.Logf("%s: %d events %s apart, %s → the page's EventSource handler: %s", name, events, gap, how, pct(lat))
		}
	}
	measure("no alerts")
	alerts10k(t, usa, n)
	measure("10,000 alerts")
}

// pct gives p50, p99 and the greatest of figures in milliseconds.
func pct(v []float64) string {
	s := slices.Clone(v)
	slices.Sort(s)
	at := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, max %.1f ms", at(0.50), at(0.99), s[len(s)-1])
}

func envInt(name string, def int) int {
	var v int
	if _, err := fmt.Sscan(os.Getenv(name), &v); err != nil || v <= 0 {
		return def
	}
	return v
}

package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"hotline/internal/ops"
	"hotline/internal/record"
	"hotline/internal/station"
	"hotline/internal/store"
)

// BenchmarkBoard200 draws the board of a station with 200 agreed channels
// on the server, as a logged-in duty officer's browser asks for it: 200
// channels, 400 received messages (half of them FLASH, unacknowledged)
// and 200 sent. Real stations, real SQLite, the console's real handler;
// the target is under 200 ms per board.
//
//	go test -run '^$' -bench Board200 -benchtime 20x ./internal/console
func BenchmarkBoard200(b *testing.B) {
	const n = 200
	usa, _ := busyPair(b, n)
	d := newDesk(b, usa)
	br := d.login(b, "dora")
	for _, path := range []string{"/console/frag/board", "/console/"} {
		b.Run(strings.Trim(strings.ReplaceAll(path, "/", " "), " "), func(b *testing.B) {
			req := httptest.NewRequest("GET", path, nil)
			req.Host = "127.0.0.1" // the console answers only to its own names
			req.Header.Set("Cookie", "hotline_session="+br.cookie)
			var worst time.Duration
			for b.Loop() {
				start := time.Now()
				w := httptest.NewRecorder()
				d.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK || strings.Count(w.Body.String(), `<tr data-channel=`) != n {
					b.Fatalf("board: %d, %d rows", w.Code, strings.Count(w.Body.String(), `<tr data-channel=`))
				}
				worst = max(worst, time.Since(start))
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/board")
			b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
		})
	}
}

// BenchmarkAlarmBoard10k draws the alarm board and the takeover with
// 10,000 station alerts over the last day (50 channels, four kinds each,
// most acknowledged) and 200 outages of channels, cleared:
//
//	go test -run '^$' -bench AlarmBoard10k -benchtime 20x ./internal/console
func BenchmarkAlarmBoard10k(b *testing.B) {
	st := openStation(b, b.TempDir(), "USA")
	now := time.Now().UTC()
	kinds := []string{"%s reports: %s", "%s %s from %s is not acknowledged and its deadline (%s) has passed", "sending stopped on %s: %s", "could not remind %s: %v"}
	var alerts []record.Alert
	for i := range 10000 {
		ch := fmt.Sprintf("usa-chn-%03d", i%50)
		level := "warning"
		if i%4 == 1 {
			level = "alarm"
		}
		alerts = append(alerts, record.Alert{At: now.Add(-time.Duration(10000-i) * 8 * time.Second), Level: level, Channel: ch, Peer: "CHN",
			Text: fmt.Sprintf("alert %d on %s", i, ch), Format: kinds[i%4], Args: []string{"x", "y"}})
	}
	if err := st.Store.Apply(b.Context(), &record.Batch{Alerts: alerts}); err != nil {
		b.Fatal(err)
	}
	as, err := st.Alerts(b.Context(), 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, a := range as[:9900] {
		if _, err := st.Store.AddConsoleAlert(b.Context(), store.ConsoleAlert{Alert: a.ID, AckBy: "dora", AckAt: a.At.Add(time.Minute)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 200 {
		at := now.Add(-time.Duration(200-i) * time.Minute)
		ch := fmt.Sprintf("usa-chn-%03d", i%50)
		if _, err := st.Store.AddConsoleAlert(b.Context(), store.ConsoleAlert{Kind: store.ConsoleAlertDown, Channel: ch, Text: ch + ": no path", RaisedAt: at}); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Store.ClearConsoleAlerts(b.Context(), store.ConsoleAlertDown, ch, at.Add(30*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	d := newDesk(b, st)
	br := d.login(b, "dora")
	for _, path := range []string{"/console/frag/alerts", "/console/frag/takeover"} {
		b.Run(strings.Trim(strings.ReplaceAll(path, "/", " "), " "), func(b *testing.B) {
			req := httptest.NewRequest("GET", path, nil)
			req.Host = "127.0.0.1"
			req.Header.Set("Cookie", "hotline_session="+br.cookie)
			var worst time.Duration
			for b.Loop() {
				start := time.Now()
				w := httptest.NewRecorder()
				d.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", path, w.Code, w.Body.String())
				}
				if path == "/console/frag/alerts" && strings.Count(w.Body.String(), `<li class="alarm `) < 100 {
					b.Fatalf("%d lines", strings.Count(w.Body.String(), `<li class="alarm `))
				}
				worst = max(worst, time.Since(start))
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
			b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
		})
	}
}

// BenchmarkBoard100Alarms10k draws the whole board page (the channel
// table, the alarm board, the takeover) on the server, as a logged-in
// duty officer's browser asks for it, for a station with 100 agreed
// channels (100 FLASH received and acknowledged, 100 ROUTINE waiting
// here, 100 sent) and 10,000 station alerts over the last day in its
// alarm history (100 channels, four kinds each, all but the last 100
// acknowledged); beside it, as its baseline, the same page before the
// alerts (no_alerts). Real stations, real SQLite, the console's real
// handler; the target is under 200 ms per page:
//
//	go test -run '^$' -bench Board100Alarms10k -benchtime 20x ./internal/console
func BenchmarkBoard100Alarms10k(b *testing.B) {
	const n = 100
	usa, _ := board100(b, n)
	d := newDesk(b, usa)
	br := d.login(b, "dora")
	draw := func(b *testing.B, alarmLines int) {
		req := httptest.NewRequest("GET", "/console/", nil)
		req.Host = "127.0.0.1"
		req.Header.Set("Cookie", "hotline_session="+br.cookie)
		var worst time.Duration
		var size int
		for b.Loop() {
			start := time.Now()
			w := httptest.NewRecorder()
			d.h.ServeHTTP(w, req)
			body := w.Body.String()
			if w.Code != http.StatusOK || strings.Count(body, `<tr data-channel=`) != n || strings.Count(body, `<li class="alarm `) < alarmLines {
				b.Fatalf("board: %d, %d rows, %d alarm lines", w.Code, strings.Count(body, `<tr data-channel=`), strings.Count(body, `<li class="alarm `))
			}
			size = len(body)
			worst = max(worst, time.Since(start))
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/board")
		b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
		b.ReportMetric(float64(size)/1024, "KiB")
	}
	b.Run("no_alerts", func(b *testing.B) { draw(b, 0) })
	alerts10k(b, usa, n)
	b.Run("10k_alerts", func(b *testing.B) { draw(b, 100) })
	// A duty officer acknowledges an alert, then the board is drawn:
	// the page timed is the one after each acknowledgement.
	pending, err := usa.Alerts(b.Context(), 0)
	if err != nil {
		b.Fatal(err)
	}
	pending = pending[len(pending)-100:]
	b.Run("10k_after_ack", func(b *testing.B) {
		req := httptest.NewRequest("GET", "/console/", nil)
		req.Host = "127.0.0.1"
		req.Header.Set("Cookie", "hotline_session="+br.cookie)
		var worst, total time.Duration
		i := 0
		for b.Loop() {
			if i == len(pending) {
				b.Fatal("no alert left to acknowledge")
			}
			if r := br.do(b, "POST", "/console/api/alerts/ack", jsonBody(map[string][]string{"keys": {fmt.Sprintf("a:%d", pending[i].ID)}})); r.code != 200 {
				b.Fatalf("ack: %d %s", r.code, r.body)
			}
			i++
			start := time.Now()
			w := httptest.NewRecorder()
			d.h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("board: %d", w.Code)
			}
			took := time.Since(start)
			total += took
			worst = max(worst, took)
		}
		b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/board")
		b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
	})
}

// board100 is USA's station of BenchmarkBoard100Alarms10k before its
// alerts: n agreed channels with CHN, on each a FLASH received and
// acknowledged, a ROUTINE waiting here and a PRIORITY sent.
func board100(tb testing.TB, n int) (usa, chn *station.Station) {
	tb.Helper()
	usa, chn = busyPair(tb, n)
	ctx := tb.Context()
	// The FLASH are acknowledged: nothing takes over the screen but the
	// last 100 alerts' alarms.
	in, err := usa.Inbox(ctx, "")
	if err != nil {
		tb.Fatal(err)
	}
	for _, m := range in {
		if m.Precedence == "FLASH" {
			if _, err := usa.Ack(ctx, m.ID, "dora"); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return usa, chn
}

// alerts10k adds to the station 10,000 alerts over the last day on its n
// channels (four kinds each, a quarter of them alarms), all but the last
// 100 acknowledged on the console.
func alerts10k(tb testing.TB, usa *station.Station, n int) {
	tb.Helper()
	ctx := tb.Context()
	now := time.Now().UTC()
	kinds := []string{"%s reports: %s", "%s %s from %s is not acknowledged and its deadline (%s) has passed", "sending stopped on %s: %s", "could not remind %s: %v"}
	var alerts []record.Alert
	for i := range 10000 {
		ch := fmt.Sprintf("usa-chn-%03d", i%n)
		level := "warning"
		if i%4 == 1 {
			level = "alarm"
		}
		alerts = append(alerts, record.Alert{At: now.Add(-time.Duration(10000-i) * 8 * time.Second), Level: level, Channel: ch, Peer: "CHN",
			Text: fmt.Sprintf("alert %d on %s", i, ch), Format: kinds[i%4], Args: []string{"x", "y"}})
	}
	if err := usa.Store.Apply(ctx, &record.Batch{Alerts: alerts}); err != nil {
		tb.Fatal(err)
	}
	as, err := usa.Alerts(ctx, 0)
	if err != nil {
		tb.Fatal(err)
	}
	for _, a := range as[:len(as)-100] {
		if _, err := usa.Store.AddConsoleAlert(ctx, store.ConsoleAlert{Alert: a.ID, AckBy: "dora", AckAt: a.At.Add(time.Minute)}); err != nil {
			tb.Fatal(err)
		}
	}
}

// busyPair is USA and CHN with n agreed channels, on each two messages
// received from CHN (a FLASH and a ROUTINE, unacknowledged) and a
// PRIORITY sent, all arrived.
func busyPair(tb testing.TB, n int) (usa, chn *station.Station) {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("usa-chn-%03d", i)
	}
	usa, chn = pair(tb, ids...)
	ctx := tb.Context()
	notes, cancel := usa.Subscribe()
	defer cancel()
	for _, id := range ids {
		for _, p := range []string{"FLASH", "ROUTINE"} {
			if _, err := chn.Send(ctx, ops.SendRequest{Channel: id, Precedence: p, Text: "message on " + id}); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := usa.Send(ctx, ops.SendRequest{Channel: id, Precedence: "PRIORITY", Text: "reply on " + id}); err != nil {
			tb.Fatal(err)
		}
	}
	// Notifications beyond the subscriber's buffer are dropped: re-check
	// the inbox on each one (or each second) until all have arrived.
	deadline := time.After(2 * time.Minute)
	for {
		in, err := usa.Inbox(ctx, "")
		if err != nil {
			tb.Fatal(err)
		}
		if len(in) == 2*n {
			return usa, chn
		}
		select {
		case <-notes:
		case <-time.After(time.Second):
		case <-deadline:
			tb.Fatalf("%d of %d messages arrived", len(in), 2*n)
		}
	}
}

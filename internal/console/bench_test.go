package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"hotline/internal/ops"
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
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("usa-chn-%03d", i)
	}
	usa, chn := pair(b, ids...)
	ctx := b.Context()
	notes, cancel := usa.Subscribe()
	defer cancel()
	for _, id := range ids {
		for _, p := range []string{"FLASH", "ROUTINE"} {
			if _, err := chn.Send(ctx, ops.SendRequest{Channel: id, Precedence: p, Text: "message on " + id}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := usa.Send(ctx, ops.SendRequest{Channel: id, Precedence: "PRIORITY", Text: "reply on " + id}); err != nil {
			b.Fatal(err)
		}
	}
	// Notifications beyond the subscriber's buffer are dropped: re-check
	// the inbox on each one (or each second) until all have arrived.
	deadline := time.After(2 * time.Minute)
	for {
		in, err := usa.Inbox(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		if len(in) == 2*n {
			break
		}
		select {
		case <-notes:
		case <-time.After(time.Second):
		case <-deadline:
			b.Fatalf("%d of %d messages arrived", len(in), 2*n)
		}
	}
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

package station

import (
	"context"
	"sort"
	"testing"
	"time"

	"hotline/internal/ops"
)

// BenchmarkCallSetup places calls between two running stations on
// loopback (direct path, SQLite), one at a time, and measures what a
// caller waits for: from the call placed to the other station ringing,
// and from the answer to both stations' media connected (DTLS under the
// certificates the signed entries name); and, as the baseline, a FLASH
// text from sent to held by the other station. Each is waited for on the
// station's notifications and a 1 ms poll.
//
//	go test ./internal/station -run '^$' -bench CallSetup -benchtime 20x
func BenchmarkCallSetup(b *testing.B) {
	ctx := context.Background()
	usa, chn := benchPair(b)
	const ch = "bench"
	var ring, media, msg []time.Duration
	for b.Loop() {
		t0 := time.Now()
		c, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Cdr. Hale"})
		if err != nil {
			b.Fatal(err)
		}
		benchWaitCall(b, chn, ch, c.ID, func(v ops.CallView) bool { return v.State == "ringing" })
		ring = append(ring, time.Since(t0))
		t1 := time.Now()
		if _, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: c.ID, As: "Col. Li"}); err != nil {
			b.Fatal(err)
		}
		for _, st := range []*Station{usa, chn} {
			benchWaitCall(b, st, ch, c.ID, func(v ops.CallView) bool { return mediaState(v) == "connected" })
		}
		media = append(media, time.Since(t1))
		if _, err := usa.EndCall(ctx, ops.CallActRequest{ID: c.ID, As: "Cdr. Hale"}); err != nil {
			b.Fatal(err)
		}
		benchWaitCall(b, chn, ch, c.ID, func(v ops.CallView) bool { return v.State == "ended" })
		// The baseline: a FLASH text, from sent to held by the other
		// station, as the call request is.
		t2 := time.Now()
		m, err := usa.Send(ctx, ops.SendRequest{Channel: ch, Precedence: "FLASH", Text: "baseline"})
		if err != nil {
			b.Fatal(err)
		}
		benchWaitMessage(b, chn, ch, m.ID)
		msg = append(msg, time.Since(t2))
	}
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"ring", ring}, {"answer-to-media", media}, {"flash-message", msg}} {
		sort.Slice(m.d, func(i, j int) bool { return m.d[i] < m.d[j] })
		b.ReportMetric(float64(m.d[len(m.d)/2].Microseconds())/1000, m.name+"-p50-ms")
		b.ReportMetric(float64(m.d[len(m.d)*99/100].Microseconds())/1000, m.name+"-p99-ms")
	}
}

// benchWaitCall waits, on notifications and a 1 ms poll, until the
// station lists the call as ok says.
func benchWaitCall(b *testing.B, st *Station, ch, id string, ok func(ops.CallView) bool) {
	b.Helper()
	notes, cancel := st.Subscribe()
	defer cancel()
	deadline := time.After(30 * time.Second)
	for {
		cs, err := st.Calls(context.Background(), ch)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cs {
			if c.ID == id && ok(c) {
				return
			}
		}
		select {
		case <-notes:
		case <-time.After(time.Millisecond):
		case <-deadline:
			b.Fatalf("%s: call %s not as awaited after 30 s", st.Cfg.Name, id)
		}
	}
}

// benchWaitMessage waits until the station holds the message.
func benchWaitMessage(b *testing.B, st *Station, ch, id string) {
	b.Helper()
	notes, cancel := st.Subscribe()
	defer cancel()
	deadline := time.After(30 * time.Second)
	for {
		ms, err := st.Inbox(context.Background(), ch)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range ms {
			if m.ID == id {
				return
			}
		}
		select {
		case <-notes:
		case <-time.After(time.Millisecond):
		case <-deadline:
			b.Fatalf("%s: message %s not held after 30 s", st.Cfg.Name, id)
		}
	}
}

package station

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/ops"
)

// callOf returns a call as a station lists it.
func callOf(t *testing.T, st *Station, ch, id string) ops.CallView {
	t.Helper()
	cs, err := st.Calls(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("%s lists no call %s: %+v", st.Cfg.Name, id, cs)
	return ops.CallView{}
}

// TestCalls: two real stations place, answer, decline and end calls; both
// list each call in the same state. A call nobody answers is missed at
// its deadline and climbs the ladder. Bad input is refused as the
// asker's error, and writes nothing.
func TestCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		usa, chn := virtualPair(t)
		defer usa.Close()
		defer chn.Close()
		const ch = "usa-chn-theatre"
		if _, err := usa.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: ch, Level: "theatre"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := chn.Accept(ctx, ch); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		both := func(id, state string) {
			t.Helper()
			for _, st := range []*Station{usa, chn} {
				if c := callOf(t, st, ch, id); c.State != state {
					t.Fatalf("%s sees call %s %s, want %s: %+v", st.Cfg.Name, id, c.State, state, c)
				}
			}
		}

		// USA calls; CHN answers; USA hangs up.
		c, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Cdr. Hale", Video: true})
		if err != nil {
			t.Fatal(err)
		}
		if c.State != "ringing" || c.From != "USA" || c.Precedence != "FLASH" || c.Channel != ch || !c.Video || c.Caller != "Cdr. Hale" {
			t.Fatalf("started call: %+v", c)
		}
		synctest.Wait()
		both(c.ID, "ringing")
		a, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: c.ID, As: "Col. Li"})
		if err != nil {
			t.Fatal(err)
		}
		if a.State != "answered" || a.AnsweredBy != "Col. Li" || a.AnsweredAt == nil || a.Video {
			t.Fatalf("answered call: %+v", a)
		}
		synctest.Wait()
		both(c.ID, "answered")
		if e, err := usa.EndCall(ctx, ops.CallActRequest{ID: c.ID, As: "Cdr. Hale"}); err != nil || e.State != "ended" || e.EndedAt == nil {
			t.Fatalf("end: %+v %v", e, err)
		}
		synctest.Wait()
		both(c.ID, "ended")

		// CHN calls; USA declines.
		d, err := chn.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Col. Li", Precedence: "IMMEDIATE"})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if x, err := usa.DeclineCall(ctx, ops.CallActRequest{ID: d.ID, As: "Cdr. Hale", Reason: "in a briefing"}); err != nil || x.State != "declined" || x.Reason != "in a briefing" {
			t.Fatalf("decline: %+v %v", x, err)
		}
		synctest.Wait()
		both(d.ID, "declined")

		// Bad input: each refused as the asker's error, nothing written.
		before := len(entriesOf(t, usa, ch)) + len(entriesOf(t, chn, ch))
		for _, tt := range []struct {
			name string
			do   func() error
			want string
		}{
			{"unknown channel", func() error {
				_, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: "nowhere", As: "Hale"})
				return err
			}, "unknown channel"},
			{"no caller", func() error { _, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch}); return err }, "who calls is empty"},
			{"bad precedence", func() error {
				_, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Hale", Precedence: "URGENT"})
				return err
			}, "precedence"},
			{"invisible caller", func() error {
				_, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Hale\u202e"})
				return err
			}, "U+202E"},
			{"never made", func() error {
				_, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: ch + "/USA/999", As: "Li"})
				return err
			}, "no call"},
			{"not a call id", func() error { _, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: "garbage", As: "Li"}); return err }, "CHANNEL/STATION/INDEX"},
			{"ended", func() error { _, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: c.ID, As: "Li"}); return err }, "has ended"},
			{"second answer", func() error { _, err := usa.AnswerCall(ctx, ops.CallActRequest{ID: d.ID, As: "Hale"}); return err }, "declined already"},
			{"own call", func() error { _, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: d.ID, As: "Li"}); return err }, "this station's own"},
			{"end twice", func() error { _, err := chn.EndCall(ctx, ops.CallActRequest{ID: c.ID, As: "Li"}); return err }, "ended already"},
			{"list unknown channel", func() error { _, err := usa.Calls(ctx, "nowhere"); return err }, "unknown channel"},
		} {
			err := tt.do()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, badrequest.Err) {
				t.Errorf("%s: %v, want a bad request about %q", tt.name, err, tt.want)
			}
		}
		synctest.Wait()
		if after := len(entriesOf(t, usa, ch)) + len(entriesOf(t, chn, ch)); after != before {
			t.Errorf("refused acts wrote %d entries", after-before)
		}

		// A second answer to an answered call is refused.
		e, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Cdr. Hale", Precedence: "PRIORITY"})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: e.ID, As: "Col. Li"}); err != nil {
			t.Fatal(err)
		}
		if _, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: e.ID, As: "Maj. Wang"}); err == nil || !strings.Contains(err.Error(), "answered already, by Col. Li") {
			t.Errorf("a second answer: %v", err)
		}
		synctest.Wait()

		// A FLASH call nobody answers: missed at 10m at both stations,
		// reminded, a supervisor alerted at 15m.
		m, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Cdr. Hale"})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10*time.Minute - time.Second)
		synctest.Wait()
		both(m.ID, "ringing")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		both(m.ID, "missed")
		if st := stepsOf(t, usa, ch, m.ID); len(st) != 1 || st[0] != 2 {
			t.Fatalf("steps at the deadline: %v", st)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if n := alertCount(t, usa, "supervisor", m.ID); n != 1 {
			t.Errorf("supervisor alerts naming the missed call: %d", n)
		}
		// CHN calls back: the missed call's ladder stops.
		back, err := chn.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Col. Li", Back: m.ID})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := callOf(t, usa, ch, m.ID); got.State != "missed" || got.ReturnedBy != back.ID {
			t.Fatalf("the missed call after a call back: %+v", got)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if st := stepsOf(t, usa, ch, m.ID); len(st) != 2 {
			t.Errorf("steps after the call back: %v, want [2 3]", st)
		}
		if _, err := chn.AnswerCall(ctx, ops.CallActRequest{ID: m.ID, As: "Col. Li"}); err == nil || !strings.Contains(err.Error(), "called back") {
			t.Errorf("answering a call that was called back: %v", err)
		}

		// A call on a suspended channel is refused.
		if _, err := chn.Suspend(ctx, ops.SuspendRequest{Channel: ch, Reason: "talks broke down", By: "Minister"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := usa.StartCall(ctx, ops.StartCallRequest{Channel: ch, As: "Hale", Precedence: "ROUTINE"}); err == nil ||
			!strings.Contains(err.Error(), "suspended") || !errors.Is(err, badrequest.Err) {
			t.Errorf("a call on a suspended channel: %v", err)
		}
	})
}

// entriesOf lists both logs of a channel at a station.
func entriesOf(t *testing.T, st *Station, ch string) []string {
	t.Helper()
	var out []string
	for _, author := range []string{"USA", "CHN"} {
		l, err := st.Store.Log(context.Background(), ch, author)
		if err != nil {
			t.Fatal(err)
		}
		for i := uint64(0); i < l.Size; i++ {
			out = append(out, author)
		}
	}
	return out
}

package console

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// down is one outage of a channel, as the console records it.
func down(id int, ch string, at, cleared time.Time, ackBy string) alarm {
	a := alarm{Key: fmt.Sprintf("c:%d", id), Source: ch, Kind: "down", Level: "down", At: at, Lasting: true, ClearedAt: cleared, AckBy: ackBy}
	if ackBy != "" {
		a.AckAt = at.Add(time.Second)
	}
	a.line = alertLine{At: at, Level: "alarm", Channel: ch, Text: ch + ": no path", Console: true, ClearedAt: cleared}
	return a
}

// event is a station alert (a one-shot event: it stands until acknowledged).
func event(id int, level, ch, format, text string, at time.Time, ackBy string) alarm {
	a := alarm{Key: fmt.Sprintf("a:%d", id), Source: ch, Kind: format, Level: level, At: at, AckBy: ackBy}
	if ackBy != "" {
		a.AckAt = at.Add(time.Minute)
	}
	a.line = alertLine{At: at, Level: level, Channel: ch, Text: text}
	return a
}

// TestFlappingFolds: a channel that goes down and comes back 20 times,
// nobody acknowledging, is one line of the history with a count of 20,
// its first and last time, chattering, and one "cleared" notice for the
// 20; a 21st outage that lasts brings the same line to the active list,
// unacknowledged, the notice still standing for the 20 that cleared.
func TestFlappingFolds(t *testing.T) {
	var occ []alarm
	for i := range 20 {
		at := t0.Add(time.Duration(i) * 3 * time.Second)
		occ = append(occ, down(i+1, "usa-chn-staff", at, at.Add(2*time.Second), ""))
	}
	now := t0.Add(2 * time.Minute)
	b := groupAlarms(occ, nil, now)
	if len(b.Active) != 0 || len(b.History) != 1 || len(b.Cleared) != 1 {
		t.Fatalf("active %d, history %d, cleared %d; want 0, 1, 1", len(b.Active), len(b.History), len(b.Cleared))
	}
	g := b.History[0]
	last := t0.Add(19 * 3 * time.Second)
	if g.Count != 20 || !g.First.Equal(t0) || !g.Last.Equal(last) || !g.Chattering || g.NotAcked != 20 || len(g.Keys) != 20 || !g.ClearedAt.Equal(last.Add(2*time.Second)) {
		t.Errorf("the flapping line: %+v", g)
	}
	if g.ID != groupID("usa-chn-staff", "down") {
		t.Errorf("group id %s", g.ID)
	}

	occ = append(occ, down(21, "usa-chn-staff", now.Add(-10*time.Second), time.Time{}, ""))
	b = groupAlarms(occ, nil, now)
	if len(b.Active) != 1 || len(b.History) != 0 || len(b.Cleared) != 1 {
		t.Fatalf("active %d, history %d, cleared %d; want 1, 0, 1", len(b.Active), len(b.History), len(b.Cleared))
	}
	if a := b.Active[0]; a.Count != 21 || a.Unacked != 1 || a.Standing != 1 || !a.ClearedAt.IsZero() || a.Acked() {
		t.Errorf("the line down again: %+v", a)
	}
	if c := b.Cleared[0]; c.NotAcked != 20 || c.ClearedAt.IsZero() {
		t.Errorf("the notice: %+v", c)
	}
}

// TestAlarmOrder: station alerts of one format on one channel fold into
// a line whatever their arguments; another channel is another line.
// Unacknowledged lines come above acknowledged ones (which are dimmed),
// alarms above warnings, then the newest first; an acknowledged event
// goes to the history with the time of its acknowledgement.
func TestAlarmOrder(t *testing.T) {
	const missed = "%s %s from %s is not acknowledged and its deadline (%s) has passed"
	const reports = "%s reports: %s"
	occ := []alarm{
		event(1, "warning", "CHN", reports, "CHN reports: nothing heard for 1.5s", t0, ""),
		event(2, "warning", "CHN", reports, "CHN reports: nothing heard for 1.5s", t0.Add(time.Second), ""),
		event(3, "alarm", "usa-chn-unit", missed, "ROUTINE usa-chn-unit/CHN/1 …", t0.Add(2*time.Second), ""),
		event(4, "alarm", "usa-chn-unit", missed, "ROUTINE usa-chn-unit/CHN/2 …", t0.Add(3*time.Second), "dora"),
		event(5, "alarm", "usa-chn-staff", missed, "ROUTINE usa-chn-staff/CHN/1 …", t0.Add(4*time.Second), "dora"),
		down(6, "usa-chn-theatre", t0.Add(5*time.Second), time.Time{}, "sam"),
	}
	now := t0.Add(10 * time.Minute)
	b := groupAlarms(occ, nil, now)
	var got []string
	for _, g := range b.Active {
		got = append(got, fmt.Sprintf("%s %s %d/%d", g.Source, g.Level, g.Unacked, g.Count))
	}
	want := []string{"usa-chn-unit alarm 1/2", "CHN warning 2/2", "usa-chn-theatre down 0/1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("active lines %v, want %v", got, want)
	}
	if !b.Active[2].Acked() || b.Active[0].Acked() {
		t.Error("the acknowledged line is not the dimmed one")
	}
	if b.Active[0].Latest.Text != "ROUTINE usa-chn-unit/CHN/2 …" || len(b.Active[0].Keys) != 1 || b.Active[0].Keys[0] != "a:3" {
		t.Errorf("the first line shows %q and acknowledges %v", b.Active[0].Latest.Text, b.Active[0].Keys)
	}
	if len(b.History) != 1 || b.History[0].Source != "usa-chn-staff" || !b.History[0].ClearedAt.Equal(t0.Add(4*time.Second+time.Minute)) || b.History[0].AckBy != "dora" {
		t.Errorf("history: %+v", b.History)
	}
	if len(b.Cleared) != 0 {
		t.Errorf("cleared notices for events: %+v", b.Cleared)
	}
}

// TestChattering: three of the same within a minute chatter; three
// spread over more than a minute do not.
func TestChattering(t *testing.T) {
	at := func(s ...int) []time.Time {
		var ts []time.Time
		for _, x := range s {
			ts = append(ts, t0.Add(time.Duration(x)*time.Second))
		}
		return ts
	}
	for _, c := range []struct {
		ts   []time.Time
		want bool
	}{
		{at(0, 30, 59), true},
		{at(0, 30, 60), false},
		{at(0, 61, 122), false},
		{at(0, 100, 120, 130), true},
		{at(0, 1), false},
	} {
		if got := chatters(c.ts); got != c.want {
			t.Errorf("chatters(%v) = %v", c.ts, got)
		}
	}
}

// TestShelvedGroup: a shelf in force moves the line to the shelved list
// (and takes its notice away); once it has ended the line is back.
func TestShelvedGroup(t *testing.T) {
	occ := []alarm{down(1, "usa-chn-staff", t0, time.Time{}, ""), down(2, "usa-chn-staff", t0.Add(-time.Minute), t0.Add(-30*time.Second), "")}
	id := groupID("usa-chn-staff", "down")
	sh := map[string]shelf{id: {Group: id, Until: t0.Add(15 * time.Minute), By: "sam", Reason: "known fault"}}
	b := groupAlarms(occ, sh, t0.Add(time.Minute))
	if len(b.Active) != 0 || len(b.Shelved) != 1 || b.Shelved[0].Shelf.Reason != "known fault" || len(b.Cleared) != 0 {
		t.Errorf("shelved: active %d shelved %d cleared %d", len(b.Active), len(b.Shelved), len(b.Cleared))
	}
	b = groupAlarms(occ, sh, t0.Add(15*time.Minute))
	if len(b.Active) != 1 || len(b.Shelved) != 0 || len(b.Cleared) != 1 {
		t.Errorf("after the shelf: active %d shelved %d cleared %d", len(b.Active), len(b.Shelved), len(b.Cleared))
	}
}

// TestAlarmRates: the mean per 10 minutes over the last hour and day,
// the most in any 10 minutes, against EEMUA 191's benchmark; warnings do
// not count.
func TestAlarmRates(t *testing.T) {
	now := t0.Add(24 * time.Hour)
	rates := func(occ []alarm) map[string]alarmRate {
		out := map[string]alarmRate{}
		for _, r := range alarmRates(occ, now) {
			out[r.Period] = r
		}
		return out
	}
	var occ []alarm
	// Six alarms an hour apart... and five within the last hour, ten
	// minutes apart: acceptable.
	for i := range 5 {
		occ = append(occ, event(i, "alarm", "c", "f", "x", now.Add(-time.Duration(i)*10*time.Minute-time.Minute), ""))
	}
	for i := range 30 {
		occ = append(occ, event(100+i, "warning", "c", "w", "x", now.Add(-time.Duration(i)*time.Second), ""))
	}
	r := rates(occ)
	if h := r["hour"]; h.Count != 5 || h.Peak != 1 || h.Status != "ok" || h.Per10 != 5.0/6 {
		t.Errorf("hour: %+v", h)
	}
	// Eleven more within 10 minutes: a flood.
	for i := range 11 {
		occ = append(occ, down(200+i, "c", now.Add(-time.Duration(i)*50*time.Second-30*time.Second), time.Time{}, ""))
	}
	r = rates(occ)
	if h := r["hour"]; h.Count != 16 || h.Peak < 11 || h.Status != "flood" {
		t.Errorf("hour in a flood: %+v", h)
	}
	if d := r["day"]; d.Count != 16 || d.Per10 != 16.0/144 || d.Status != "flood" {
		t.Errorf("day: %+v", d)
	}
	// Seven in the hour, two in any ten minutes: above the benchmark, no flood.
	occ = nil
	for i := range 7 {
		occ = append(occ, event(i, "supervisor", "c", "f", "x", now.Add(-time.Duration(i)*8*time.Minute-time.Second), ""))
	}
	if h := rates(occ)["hour"]; h.Count != 7 || h.Peak != 2 || h.Status != "high" {
		t.Errorf("hour above the benchmark: %+v", h)
	}
	// Nothing older than a day counts, nor anything ahead of now.
	occ = []alarm{event(1, "alarm", "c", "f", "x", now.Add(-25*time.Hour), ""), event(2, "alarm", "c", "f", "x", now.Add(time.Minute), "")}
	if d := rates(occ)["day"]; d.Count != 0 || d.Status != "ok" {
		t.Errorf("old and future alarms counted: %+v", d)
	}
}

// TestPathFormatsAreTheCores: the path warnings that clear by themselves
// are formats the core writes (alertFormats holds every one of those,
// TestAlertFormatsTranslated).
func TestPathFormatsAreTheCores(t *testing.T) {
	for f := range pathFormats {
		if _, ok := alertFormats["zh"][f]; !ok {
			t.Errorf("%q is not a format the station writes", f)
		}
	}
}

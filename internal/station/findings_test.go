package station

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"hotline/internal/ops"
	"hotline/internal/store"
)

// noticeJSON is a notice body with its window in hours from t0.
func noticeJSON(kind, area string, t0 time.Time, from, to float64, units, call string) json.RawMessage {
	at := func(h float64) string {
		return t0.Add(time.Duration(h * float64(time.Hour))).UTC().Format(time.RFC3339)
	}
	return json.RawMessage(fmt.Sprintf(`{"kind":%q,"area":%s,"window":{"from":%q,"to":%q},"units":[%q],"call":%q}`,
		kind, area, at(from), at(to), units, call))
}

const (
	fireArea    = `{"polygon":[{"lat":17.5,"lon":110.5},{"lat":17.5,"lon":111.5},{"lat":17,"lon":111.5},{"lat":17,"lon":110.5}]}`
	transitArea = `{"polygon":[{"lat":16.2,"lon":111.9},{"lat":16.35,"lon":112.05},{"lat":18.05,"lon":110.55},{"lat":17.9,"lon":110.4}]}`
	farArea     = `{"circle":{"center":{"lat":10,"lon":115},"radius_nm":10}}`
)

// TestFindings: each station checks its own plans and notices against the
// peer's notices, and the tracks of encounter reports, and raises each
// finding once as an alarm with a suggested message. A check that a crash
// kept from running runs when the station starts.
func TestFindings(t *testing.T) {
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
		// Virtual time starts at midnight, 1 January 2000.
		t0 := time.Now().UTC().Truncate(time.Minute).Add(30 * time.Hour)

		// CHN notifies live fire; an old notice that ended, and one far
		// away, come too.
		fire, err := chn.SendNotice(ctx, ops.NoticeRequest{Channel: ch, Notice: noticeJSON("live_fire", fireArea, t0, 0, 8, "Destroyer 173", ch)})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []json.RawMessage{
			noticeJSON("live_fire", fireArea, t0, -29, -28, "Destroyer 173", ch), // over by the time of the check
			noticeJSON("exercise", farArea, t0, 0, 8, "Frigate 548", ch),
		} {
			if _, err := chn.SendNotice(ctx, ops.NoticeRequest{Channel: ch, Notice: n}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(4 * time.Hour)
		synctest.Wait()
		// USA's transit plan, stored as a crash would leave it: before its
		// check ran.
		transit := noticeJSON("transit", transitArea, t0, 3, 9, "DDG-00", ch)
		if _, err := usa.Store.AddPlan(ctx, store.Plan{AddedAt: time.Now(), Body: transit}); err != nil {
			t.Fatal(err)
		}
		// And a plan that overlapped the old notice, both over now.
		past := noticeJSON("transit", transitArea, t0, -29.5, -27.5, "DDG-00", ch)
		if _, err := usa.Store.AddPlan(ctx, store.Plan{AddedAt: time.Now(), Body: past}); err != nil {
			t.Fatal(err)
		}
		if fs, _ := usa.Findings(ctx); len(fs) != 0 {
			t.Fatalf("findings before any check: %+v", fs)
		}
		// hotline run starts the detector, whose first pass finds it.
		dctx, stop := context.WithCancel(ctx)
		defer stop()
		for _, st := range []*Station{usa, chn} {
			st.bg.Add(1)
			go func() {
				defer st.bg.Done()
				st.RunDetector(dctx)
			}()
		}
		synctest.Wait()
		fs, err := usa.Findings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 1 {
			t.Fatalf("USA findings: %+v", fs)
		}
		f := fs[0]
		if f.Rule != "overlap" || f.Planned != "plan 1" || f.Notified != fire.ID || f.Channel != ch || f.Peer != "CHN" || f.DistanceNM != 0 ||
			!f.From.Equal(t0.Add(3*time.Hour)) || !f.To.Equal(t0.Add(8*time.Hour)) || f.Gap != "" {
			t.Errorf("USA's finding: %+v", f)
		}
		if w := f.Where; w.Lat < 17 || w.Lat > 17.5 || w.Lon < 110.5 || w.Lon > 111.5 {
			t.Errorf("shown at %+v, outside the firing area", w)
		}
		if s := f.Suggest.Text("en"); !strings.HasPrefix(s, "ACT16 I intend to transit the area centred on") || !strings.HasSuffix(s, "REQ01 What are your intentions?") {
			t.Errorf("suggested: %s", s)
		}
		if s := f.Suggest.Text("zh-Hans"); !strings.Contains(s, "REQ01 请告知你方意图。") {
			t.Errorf("suggested in Chinese: %s", s)
		}
		// The alarm carries the finding in both languages, for a console
		// in either.
		var alarm *ops.AlertView
		as, _ := usa.Alerts(ctx, 0)
		for i := range as {
			if as[i].Format == ops.AlertFindingFormat {
				alarm = &as[i]
			}
		}
		if alarm == nil || len(alarm.Args) != 2 || alarm.Args[0] != f.Text["en"] || alarm.Args[1] == "" || alarm.Args[1] != f.Text["zh-Hans"] {
			t.Errorf("the finding's alarm: %+v, want its English and Chinese text", alarm)
		}
		if !strings.HasPrefix(f.Text["en"], "FINDING 1 on usa-chn-theatre: this station's plan 1 (transit, DDG-00) and CHN's notice "+fire.ID+" (live fire) conflict near") ||
			!strings.HasPrefix(f.Text["zh-Hans"], "发现1（usa-chn-theatre）：本方计划1（过航，DDG-00）与CHN的通报") {
			t.Errorf("finding text:\n%s\n%s", f.Text["en"], f.Text["zh-Hans"])
		}
		if alertCount(t, usa, "alarm", "FINDING 1 on usa-chn-theatre") != 1 {
			t.Error("no alarm for the finding")
		}

		// USA notifies its transit: CHN, checking its live fire against it
		// when it arrives, finds the same danger from its side; USA finds
		// nothing new (the notice is its plan).
		tn, err := usa.SendNotice(ctx, ops.NoticeRequest{Channel: ch, Plan: 1})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if ps, _ := usa.Plans(ctx); len(ps) != 2 || ps[0].Notice != tn.ID {
			t.Errorf("plans: %+v", ps)
		}
		if fs, _ := usa.Findings(ctx); len(fs) != 1 {
			t.Errorf("USA found again: %+v", fs)
		}
		if _, err := usa.SendNotice(ctx, ops.NoticeRequest{Channel: ch, Plan: 1}); err == nil || !strings.Contains(err.Error(), "notified already") {
			t.Errorf("notifying a plan twice: %v", err)
		}
		cf, err := chn.Findings(ctx)
		if err != nil || len(cf) != 1 {
			t.Fatalf("CHN findings: %+v, %v", cf, err)
		}
		if cf[0].Planned != fire.ID || cf[0].Notified != tn.ID || cf[0].Peer != "USA" ||
			!strings.HasPrefix(cf[0].Suggest.Text("en"), "REQ04 Keep clear of the area centred on") {
			t.Errorf("CHN's finding: %+v", cf[0])
		}

		// An amended notice replaces the one it amends: moved away, the
		// danger is gone, and nothing new is found.
		moved := noticeJSON("live_fire", farArea, t0, 0, 8, "Destroyer 173", ch)
		moved = json.RawMessage(strings.Replace(string(moved), `"call"`, fmt.Sprintf(`"replaces":{"channel":%q,"author":"CHN","index":%d},"call"`, ch, fire.Index), 1))
		if _, err := chn.SendNotice(ctx, ops.NoticeRequest{Channel: ch, Notice: moved}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if fs, _ := usa.Findings(ctx); len(fs) != 1 {
			t.Errorf("USA findings after the amendment: %+v", fs)
		}

		// An unsafe crossing reported by CHN: each station predicts the
		// closest approach from its own unit's side and is offered its part
		// under the crossing rule.
		rep, err := chn.SendReport(ctx, ops.ReportRequest{Channel: ch, Report: json.RawMessage(`{"time":"2026-05-01T03:10:00Z",
			"own":{"unit":"Frigate 548","position":{"lat":16.9,"lon":112.2},"course":45,"speed_kn":14},
			"other":{"unit":"DDG-00","position":{"lat":16.905,"lon":112.2296},"course":300,"speed_kn":18},
			"cpa":{"distance_nm":0.3,"time":"2026-05-01T03:14:00Z"},"unsafe":true}`)})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for _, c := range []struct {
			st      *Station
			own     string
			suggest string
		}{{chn, "Frigate 548", "MNV06 I intend to alter course to starboard."}, {usa, "DDG-00", "MNV12 I intend to maintain my course and speed."}} {
			fs, _ := c.st.Findings(ctx)
			f := fs[len(fs)-1]
			if f.Rule != "approach" || f.Report != rep.ID || f.Approach == nil || f.Approach.Own != c.own || f.DistanceNM > 0.3 ||
				!strings.HasPrefix(f.Suggest.Text("en"), c.suggest) {
				t.Errorf("%s's approach finding: %+v %+v", c.st.Cfg.Name, f, f.Approach)
			}
			if alertCount(t, c.st, "alarm", "predicts") != 1 {
				t.Errorf("%s: no alarm for the approach", c.st.Cfg.Name)
			}
		}

		// Its suggestion goes with one request, on the finding's channel;
		// an incident opened from it links the entries it is about.
		fs, _ = usa.Findings(ctx)
		m, err := usa.SendCoded(ctx, ops.CodedRequest{Precedence: "IMMEDIATE", Finding: fs[0].ID})
		if err != nil || m.Channel != ch || !strings.HasPrefix(m.Rendered["en"], "ACT16") {
			t.Fatalf("sending the suggestion: %+v, %v", m, err)
		}
		inc, err := usa.Incident(ctx, ops.IncidentRequest{Action: "open", Finding: fs[0].ID, Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if inc.Title != "Finding 1: transit and live fire conflict" || len(inc.Links) != 3 || inc.Links[1] != tn.ID || inc.Links[2] != fire.ID {
			t.Errorf("incident from the finding: %+v", inc)
		}
		// Passes that find nothing new raise nothing.
		before, _ := usa.Alerts(ctx, 0)
		usa.KickDetector()
		synctest.Wait()
		if after, _ := usa.Alerts(ctx, 0); len(after) != len(before) {
			t.Errorf("a pass with nothing new raised %d alerts", len(after)-len(before))
		}
		stop()
		synctest.Wait()
	})
}

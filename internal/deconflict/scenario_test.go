package deconflict_test

import (
	"strings"
	"testing"
	"time"

	"hotline/internal/codebook"
	"hotline/internal/deconflict"
)

// TestSouthChinaSeaScenario runs the deconfliction half of the issue's
// demonstration with pure calls: red notifies live fire south of Hainan;
// blue has planned a transit through it; both stations find the overlap
// and are offered standard phrases; later an unsafe crossing is reported,
// its closest approach predicted, and an incident about it opened,
// acknowledged and closed by both.
func TestSouthChinaSeaScenario(t *testing.T) {
	cb := codebook.Default()
	c := deconflict.NewChecker()

	fire, err := deconflict.DecodeNotice([]byte(liveFire)) // 17-17.5°N 110.5-111.5°E, 00:00-08:00
	if err != nil {
		t.Fatal(err)
	}
	transit := &deconflict.Notice{
		Kind: deconflict.Transit, Title: "北上过航", Lang: "zh-Hans",
		// A corridor from the Paracels towards the Qiongzhou approaches.
		Area:   polygon(16.2, 111.9, 16.35, 112.05, 18.05, 110.55, 17.9, 110.4),
		Band:   &deconflict.Band{LowM: 0, HighM: 60},
		Window: deconflict.Window{From: t0.Add(3 * time.Hour), To: t0.Add(9 * time.Hour)},
		Units:  []string{"DDG-00"}, Call: "red-blue.theatre",
	}
	fireA, err := deconflict.NewActivity(fire)
	if err != nil {
		t.Fatal(err)
	}
	transitA, err := deconflict.NewActivity(transit)
	if err != nil {
		t.Fatal(err)
	}

	// Blue checks its planned transit against red's notice.
	blue, found, err := c.Overlap(transitA, fireA)
	if err != nil || !found {
		t.Fatalf("blue finds no overlap: %v", err)
	}
	if blue.Distance != 0 || !blue.From.Equal(t0.Add(3*time.Hour)) || !blue.To.Equal(t0.Add(8*time.Hour)) {
		t.Errorf("blue's finding: %.2f NM, %s to %s", blue.Distance, blue.From, blue.To)
	}
	if w := blue.Where; w.Lat < 17-1e-6 || w.Lat > 17.5+1e-6 || w.Lon < 110.5-1e-6 || w.Lon > 111.5+1e-6 {
		t.Errorf("blue's finding is shown at %+v, outside the firing area", w)
	}
	zh, err := cb.RenderText(blue.Suggest, "zh-Hans")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(zh, "ACT16 我方拟于2026年5月1日03:00（UTC）至2026年5月1日09:00（UTC）通过以北纬17°") || !strings.Contains(zh, "REQ01 请告知你方意图。") {
		t.Errorf("blue's suggestion in Chinese:\n%s", zh)
	}

	// Red, once blue notifies the transit, checks the other way round.
	red, found, err := c.Overlap(fireA, transitA)
	if err != nil || !found {
		t.Fatalf("red finds no overlap: %v", err)
	}
	en, _ := cb.RenderText(red.Suggest, "en")
	if !strings.HasPrefix(en, "REQ04 Keep clear of the area centred on 17°15.") ||
		!strings.Contains(en, "ACT08 Live firing will take place from 00:00 UTC 1 May 2026 to 08:00 UTC 1 May 2026.") {
		t.Errorf("red's suggestion:\n%s", en)
	}

	// At 03:10 the destroyer, on the frigate's starboard bow, crosses
	// ahead of it; the frigate reports it. The reported tracks predict the
	// close pass the frigate observed.
	report, err := deconflict.DecodeReport([]byte(encounter), cb)
	if err != nil {
		t.Fatal(err)
	}
	own, other := report.Fixes()
	ap, err := deconflict.ClosestApproach(own, other, report.Time, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if ap.Relative > 112.5 || ap.TCPA < 3*time.Minute || ap.TCPA > 5*time.Minute || ap.Distance > 0.3 {
		t.Errorf("predicted CPA %.2f NM in %s, other at %.0f° relative", ap.Distance, ap.TCPA, ap.Relative)
	}
	// Under the crossing rule the vessel with the other on her starboard
	// side gives way: here the frigate. Each station, checking the same
	// tracks from its own side, is offered its part.
	f, found, err := c.Approach(own, other, report.Time)
	if err != nil || !found {
		t.Fatalf("no approach finding: %v", err)
	}
	if s, _ := cb.RenderText(f.Suggest, "en"); !strings.HasPrefix(s, "MNV06 I intend to alter course to starboard.") {
		t.Errorf("frigate's suggestion:\n%s", s)
	}
	f, found, err = c.Approach(other, own, report.Time)
	if err != nil || !found {
		t.Fatalf("no approach finding from the destroyer's side: %v", err)
	}
	if s, _ := cb.RenderText(f.Suggest, "en"); !strings.HasPrefix(s, "MNV12 I intend to maintain my course and speed.") {
		t.Errorf("destroyer's suggestion:\n%s", s)
	}

	// The incident: red opens it from the report (red/6), blue
	// acknowledges, both discuss, both sign the close.
	s := newStory("red", 7, ref("red", 6))
	ack := s.add("blue", 3, s.open, deconflict.Acknowledge, "")
	d := s.add("red", 8, ack, deconflict.Discuss, "")
	c1 := s.add("blue", 4, d, deconflict.Close, deconflict.Resolved)
	s.add("red", 9, c1, deconflict.Close, deconflict.Resolved)
	inc := s.fold(t)
	if inc.State != deconflict.StateClosed || inc.Outcome != deconflict.Resolved || inc.ClosingBy != "blue" {
		t.Errorf("incident %s %s by %s", inc.State, inc.Outcome, inc.ClosingBy)
	}
}

package deconflict_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"hotline/internal/codebook"
	"hotline/internal/deconflict"
)

func fix(lat, lon, course, speed float64) deconflict.Fix {
	return deconflict.Fix{Position: pos(lat, lon), Course: course, SpeedKn: speed, Time: t0}
}

// TestClosestApproach checks predictions against encounters worked out by
// hand in a flat plane (short ranges, where the sphere adds less than the
// tolerance).
func TestClosestApproach(t *testing.T) {
	east6 := 6 / nmPerDegree // 6 NM east of 0°, in degrees of longitude
	tests := []struct {
		name        string
		own, other  deconflict.Fix
		horizon     time.Duration
		tcpa        time.Duration
		distance    float64
		rangeNM     float64
		relative    float64
		aspect      float64
		ownAtCPA    codebook.Position
		tolDistance float64
	}{
		{
			// 0.5° apart on the equator, closing at 20 kn: they meet
			// halfway after 30.02/20 hours.
			name: "head-on", own: fix(0, 0, 90, 10), other: fix(0, 0.5, 270, 10), horizon: 3 * time.Hour,
			tcpa: time.Duration(0.5 * nmPerDegree / 20 * float64(time.Hour)), distance: 0, rangeNM: 0.5 * nmPerDegree, relative: 0,
			ownAtCPA: pos(0, 0.25),
		},
		{
			// Other 6 NM east heading west at 12 kn, own heading north at
			// 12 kn: r = (6, 0), v = (-12, -12); t = -(r·v)/|v|² = 72/288 h
			// = 15 min; r + v·t = (3, -3), 4.243 NM.
			name: "crossing from starboard", own: fix(0, 0, 0, 12), other: fix(0, east6, 270, 12), horizon: time.Hour,
			tcpa: 15 * time.Minute, distance: 3 * math.Sqrt2, rangeNM: 6, relative: 90, aspect: 0,
			ownAtCPA: pos(3/nmPerDegree, 0),
		},
		{
			name: "crossing seen from the other side", own: fix(0, east6, 270, 12), other: fix(0, 0, 0, 12), horizon: time.Hour,
			tcpa: 15 * time.Minute, distance: 3 * math.Sqrt2, rangeNM: 6, relative: 0, aspect: 90,
			ownAtCPA: pos(0, east6-3/nmPerDegree),
		},
		{
			// Other ahead and faster on the same course: opening, so the
			// closest approach is now.
			name: "opening", own: fix(10, 110, 0, 10), other: fix(10+2/nmPerDegree, 110, 0, 15), horizon: time.Hour,
			tcpa: 0, distance: 2, rangeNM: 2, relative: 0, aspect: 180, ownAtCPA: pos(10, 110),
		},
		{
			name: "both stopped", own: fix(10, 110, 0, 0), other: fix(10+2/nmPerDegree, 110, 180, 0), horizon: time.Hour,
			tcpa: 0, distance: 2, rangeNM: 2, relative: 0, ownAtCPA: pos(10, 110),
		},
		{
			// Overtaking: other 1 NM astern, 0.5 NM to port, 10 kn faster
			// on the same course: abeam after 6 minutes at 0.5 NM.
			name: "overtaken", own: fix(0, 0, 0, 10), other: fix(-1/nmPerDegree, -0.5/nmPerDegree, 0, 20), horizon: time.Hour,
			tcpa: 6 * time.Minute, distance: 0.5, rangeNM: math.Hypot(1, 0.5), relative: 180 + math.Atan2(0.5, 1)*180/math.Pi,
			aspect:   math.Atan2(0.5, 1) * 180 / math.Pi,
			ownAtCPA: pos(1/nmPerDegree, 0),
		},
		{
			// Beyond the horizon: the closest approach inside it is at its end.
			name: "head-on beyond the horizon", own: fix(0, 0, 90, 10), other: fix(0, 0.5, 270, 10), horizon: time.Hour,
			tcpa: time.Hour, distance: 0.5*nmPerDegree - 20, rangeNM: 0.5 * nmPerDegree, relative: 0,
			ownAtCPA: pos(0, 10/nmPerDegree),
		},
		{
			// Either side of the North Pole, 0.1° from it, both steering
			// north: head-on across the pole, meeting on it after 12.008/20 h.
			name: "across the north pole", own: fix(89.9, 0, 0, 10), other: fix(89.9, 180, 0, 10), horizon: time.Hour,
			tcpa: time.Duration(0.2 * nmPerDegree / 20 * float64(time.Hour)), distance: 0, rangeNM: 0.2 * nmPerDegree, relative: 0,
			ownAtCPA: pos(90, 0), tolDistance: 0.01,
		},
		{
			// Either side of the antimeridian at 10°N: 0.1° of longitude
			// apart, 5.913 NM, closing at 20 kn.
			name: "across the antimeridian", own: fix(10, 179.95, 90, 10), other: fix(10, -179.95, 270, 10), horizon: time.Hour,
			tcpa: time.Duration(0.1 * nmPerDegree * math.Cos(10*math.Pi/180) / 20 * float64(time.Hour)), distance: 0,
			rangeNM: 0.1 * nmPerDegree * math.Cos(10*math.Pi/180), relative: 0, ownAtCPA: pos(10, 180), tolDistance: 0.01,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ap, err := deconflict.ClosestApproach(tc.own, tc.other, t0, tc.horizon)
			if err != nil {
				t.Fatal(err)
			}
			tol := max(tc.tolDistance, 0.005)
			if d := ap.TCPA - tc.tcpa; d < -2*time.Second || d > 2*time.Second {
				t.Errorf("TCPA %s, want %s", ap.TCPA, tc.tcpa)
			}
			if !ap.Time.Equal(t0.Add(ap.TCPA)) {
				t.Errorf("Time %s is not At + TCPA", ap.Time)
			}
			if math.Abs(ap.Distance-tc.distance) > tol {
				t.Errorf("distance %.4f NM, want %.4f", ap.Distance, tc.distance)
			}
			if math.Abs(ap.Range-tc.rangeNM) > tol {
				t.Errorf("range %.4f NM, want %.4f", ap.Range, tc.rangeNM)
			}
			if d := math.Abs(math.Mod(ap.Relative-tc.relative+540, 360) - 180); d > 0.5 {
				t.Errorf("relative bearing %.2f°, want %.2f°", ap.Relative, tc.relative)
			}
			if d := math.Abs(math.Mod(ap.Aspect-tc.aspect+540, 360) - 180); d > 0.5 && tc.own.SpeedKn > 0 && tc.other.SpeedKn > 0 {
				t.Errorf("aspect %.2f°, want %.2f°", ap.Aspect, tc.aspect)
			}
			if !near(ap.Own, tc.ownAtCPA, 0.02) {
				t.Errorf("own at CPA %+v, want %+v", ap.Own, tc.ownAtCPA)
			}
		})
	}
}

// TestClosestApproachDeadReckons checks that a fix taken before the time
// predicted from is carried forward along its course.
func TestClosestApproachDeadReckons(t *testing.T) {
	own, other := fix(0, 0, 90, 10), fix(0, 0.5, 270, 10)
	now, err := deconflict.ClosestApproach(own, other, t0, 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The same own ship, reported 30 minutes earlier 5 NM further west.
	own = fix(0, -5/nmPerDegree, 90, 10)
	own.Time = t0.Add(-30 * time.Minute)
	old, err := deconflict.ClosestApproach(own, other, t0, 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(old.Range-now.Range) > 0.001 || old.TCPA-now.TCPA > time.Second || now.TCPA-old.TCPA > time.Second {
		t.Errorf("from an old fix: range %.4f TCPA %s, from a current one %.4f %s", old.Range, old.TCPA, now.Range, now.TCPA)
	}
}

func TestClosestApproachErrors(t *testing.T) {
	old := fix(0, 0, 0, 10)
	old.Time = t0.Add(-7 * time.Hour)
	tests := []struct {
		name       string
		own, other deconflict.Fix
		horizon    time.Duration
		want       string
	}{
		{"course 360", fix(0, 0, 360, 10), fix(0, 0.1, 0, 10), time.Hour, "own: course 360 is not from 0 to less than 360 degrees"},
		{"negative speed", fix(0, 0, 0, 10), fix(0, 0.1, 0, -3), time.Hour, "other: speed -3 is not from 0 to 2000 knots"},
		{"latitude", fix(91, 0, 0, 10), fix(0, 0.1, 0, 10), time.Hour, "own: latitude 91 is not between -90 and 90"},
		{"old fix", old, fix(0, 0.1, 0, 10), time.Hour, "own: fix at 2026-04-30T17:00:00Z is more than 6h0m0s from 2026-05-01T00:00:00Z"},
		{"too far apart", fix(0, 0, 0, 10), fix(0, 10, 0, 10), time.Hour, "units are 600 NM apart; closest approach is predicted within 500 NM"},
		{"no horizon", fix(0, 0, 0, 10), fix(0, 0.1, 0, 10), 0, "horizon 0s is not above 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := deconflict.ClosestApproach(tc.own, tc.other, t0, tc.horizon)
			if !errors.Is(err, deconflict.ErrTrack) {
				t.Fatalf("error %v, want ErrTrack", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestApproachFinding(t *testing.T) {
	cb := codebook.Default()
	east6 := 6 / nmPerDegree
	tests := []struct {
		name       string
		own, other deconflict.Fix
		cpa        float64
		found      bool
		from, to   time.Duration
		suggest    string
	}{
		{
			// |r + v·t|² = 18 + 288(t - 1/4)² < 25 for |t - 1/4| < √(7/288) h.
			name: "crossing, other to starboard: give way", own: fix(0, 0, 0, 12), other: fix(0, east6, 270, 12), cpa: 5, found: true,
			from: time.Duration((0.25 - math.Sqrt(7.0/288)) * float64(time.Hour)), to: time.Duration((0.25 + math.Sqrt(7.0/288)) * float64(time.Hour)),
			suggest: "MNV06 I intend to alter course to starboard.\nMNV20 I will keep at least 5 nautical miles from you.\n",
		},
		{
			name: "crossing, own on the other's starboard: stand on", own: fix(0, east6, 270, 12), other: fix(0, 0, 0, 12), cpa: 5, found: true,
			from: time.Duration((0.25 - math.Sqrt(7.0/288)) * float64(time.Hour)), to: time.Duration((0.25 + math.Sqrt(7.0/288)) * float64(time.Hour)),
			suggest: "MNV12 I intend to maintain my course and speed.\nREQ01 What are your intentions?\n",
		},
		{
			name: "overtaken", own: fix(0, 0, 0, 10), other: fix(-1/nmPerDegree, -0.5/nmPerDegree, 0, 20), cpa: 1, found: true,
			// |r + v·t|² = 0.25 + 100(t - 0.1)² < 1 for |t - 0.1| < √0.75/10 h.
			from: time.Duration((0.1 - math.Sqrt(0.75)/10) * float64(time.Hour)), to: time.Duration((0.1 + math.Sqrt(0.75)/10) * float64(time.Hour)),
			suggest: "MNV12 I intend to maintain my course and speed.\nREQ11 Keep at least 1 nautical mile from me.\n",
		},
		{name: "crossing, passes outside the margin", own: fix(0, 0, 0, 12), other: fix(0, east6, 270, 12), cpa: 4},
		{name: "stopped, within the margin all along", own: fix(0, 0, 0, 0), other: fix(0, 1/nmPerDegree, 0, 0), cpa: 2, found: true,
			from: 0, to: time.Hour, suggest: "MNV06 I intend to alter course to starboard.\nMNV20 I will keep at least 2 nautical miles from you.\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := deconflict.NewChecker()
			c.Margins.CPANM = tc.cpa
			f, found, err := c.Approach(tc.own, tc.other, t0)
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.found {
				t.Fatalf("found %v, want %v (%+v)", found, tc.found, f.Approach)
			}
			if !found {
				return
			}
			if f.Rule != deconflict.RuleApproach || f.Approach == nil || f.Distance != f.Approach.Distance {
				t.Errorf("finding %+v", f)
			}
			for _, w := range [][2]time.Time{{f.From, t0.Add(tc.from)}, {f.To, t0.Add(tc.to)}} {
				if d := w[0].Sub(w[1]); d < -2*time.Second || d > 2*time.Second {
					t.Errorf("window %s to %s, want %s to %s", f.From, f.To, t0.Add(tc.from), t0.Add(tc.to))
				}
			}
			got, err := cb.RenderText(f.Suggest, "en")
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.suggest {
				t.Errorf("suggested\n%s\nwant\n%s", got, tc.suggest)
			}
		})
	}
}

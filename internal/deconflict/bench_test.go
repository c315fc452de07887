package deconflict_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"hotline/internal/deconflict"
)

// randomActivities makes n activities in the South China Sea (5-22°N,
// 105-121°E): circles and polygons of 5-50 NM, windows of 2-72 hours
// within 30 days.
func randomActivities(tb testing.TB, rng *rand.Rand, n int) []*deconflict.Activity {
	tb.Helper()
	kinds := deconflict.Kinds[:6]
	out := make([]*deconflict.Activity, 0, n)
	for len(out) < n {
		lat, lon := 5+rng.Float64()*17, 105+rng.Float64()*16
		r := 5 + rng.Float64()*45
		var area deconflict.Area
		if rng.IntN(2) == 0 {
			area = circle(lat, lon, r)
		} else {
			k := 4 + rng.IntN(9)
			for i := range k {
				th := 2 * math.Pi * float64(i) / float64(k)
				rr := r * (0.6 + 0.4*rng.Float64()) / nmPerDegree
				area.Polygon = append(area.Polygon, pos(lat+rr*math.Cos(th), lon+rr*math.Sin(th)/math.Cos(lat*math.Pi/180)))
			}
		}
		from := rng.Float64() * 30 * 24
		n := &deconflict.Notice{
			Kind: kinds[rng.IntN(len(kinds))], Area: area, Units: []string{"unit"}, Call: "red-blue.theatre",
			Window: deconflict.Window{From: t0.Add(time.Duration(from * float64(time.Hour))), To: t0.Add(time.Duration((from + 2 + rng.Float64()*70) * float64(time.Hour)))},
		}
		if a, err := deconflict.NewActivity(n); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// BenchmarkOverlaps checks 100 planned activities against 1,000 notified
// ones, all in one sea: 100,000 pairs per operation.
func BenchmarkOverlaps(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	planned, notified := randomActivities(b, rng, 100), randomActivities(b, rng, 1000)
	c := deconflict.NewChecker()
	var findings int
	for b.Loop() {
		fs, err := c.Overlaps(planned, notified)
		if err != nil {
			b.Fatal(err)
		}
		findings = len(fs)
	}
	b.ReportMetric(float64(len(planned)*len(notified))*float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
	b.ReportMetric(float64(findings), "findings")
}

// BenchmarkNewActivity is the cost of checking a notice and building its
// geometry, paid once per notice.
func BenchmarkNewActivity(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	notices := make([]*deconflict.Notice, 0, 100)
	for _, a := range randomActivities(b, rng, 100) {
		notices = append(notices, a.Notice)
	}
	i := 0
	for b.Loop() {
		if _, err := deconflict.NewActivity(notices[i%len(notices)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkClosestApproach is one prediction for two reported tracks.
func BenchmarkClosestApproach(b *testing.B) {
	own, other := fix(16.9, 112.2, 45, 14), fix(16.95, 112.25, 300, 18)
	for b.Loop() {
		if _, err := deconflict.ClosestApproach(own, other, t0, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApproachFinding is a prediction that finds a danger (a
// crossing at 4.2 NM, margin 5), with its suggested message built.
func BenchmarkApproachFinding(b *testing.B) {
	own, other := fix(0, 0, 0, 12), fix(0, 6/nmPerDegree, 270, 12)
	c := deconflict.NewChecker()
	c.Margins.CPANM = 5
	for b.Loop() {
		if _, found, err := c.Approach(own, other, t0); err != nil || !found {
			b.Fatal(found, err)
		}
	}
}

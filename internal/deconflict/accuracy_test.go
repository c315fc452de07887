package deconflict_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/golang/geo/r3"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"

	"hotline/internal/codebook"
	"hotline/internal/deconflict"
)

// greatCircleTrack moves a fix along the great circle of its initial
// course, with s2 doing the geometry: the sphere's answer to "keep going".
func greatCircleTrack(f deconflict.Fix) func(hours float64) s2.Point {
	p := s2.PointFromLatLng(s2.LatLngFromDegrees(f.Position.Lat, f.Position.Lon))
	east := r3.Vector{Z: 1}.Cross(p.Vector).Normalize()
	north := p.Vector.Cross(east)
	c := f.Course * math.Pi / 180
	dir := s2.Point{Vector: north.Mul(math.Cos(c)).Add(east.Mul(math.Sin(c)))}
	return func(h float64) s2.Point {
		return s2.PointOnRay(p, dir, s1.Angle(f.SpeedKn*h/(nmPerDegree*180/math.Pi)))
	}
}

// TestClosestApproachAgainstSphere compares predictions with a brute-force
// search, one second at a time, of the least s2 distance between two units
// moving along great circles. It is the error bound documented on
// ClosestApproach, measured.
func TestClosestApproachAgainstSphere(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var worstD, worstRel, worstT float64
	for range 400 {
		lat := rng.Float64()*160 - 80
		lon := rng.Float64()*360 - 180
		own := deconflict.Fix{Position: pos(lat, lon), Course: rng.Float64() * 360, SpeedKn: 5 + rng.Float64()*30, Time: t0}
		// The other unit 2-60 NM away in any direction, or now and then
		// up to the 500 NM limit.
		rangeNM := 2 + rng.Float64()*58
		if rng.IntN(4) == 0 {
			rangeNM = 2 + rng.Float64()*498
		}
		bearing := rng.Float64() * 360
		other := deconflict.Fix{Course: rng.Float64() * 360, SpeedKn: 5 + rng.Float64()*30, Time: t0}
		other.Position = greatCirclePosition(own, bearing, rangeNM)
		ap, err := deconflict.ClosestApproach(own, other, t0, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		a, b := greatCircleTrack(own), greatCircleTrack(other)
		bestD, bestT := math.Inf(1), 0.0
		for s := 0; s <= 3600; s++ {
			h := float64(s) / 3600
			if d := a(h).Distance(b(h)).Radians() * nmPerDegree * 180 / math.Pi; d < bestD {
				bestD, bestT = d, h
			}
		}
		dErr := math.Abs(ap.Distance - bestD)
		worstD = max(worstD, dErr)
		worstRel = max(worstRel, dErr/rangeNM)
		// The time matters only when the approach is close enough to act on.
		if bestD < 5 {
			worstT = max(worstT, math.Abs(ap.TCPA.Hours()-bestT)*60)
		}
		// The positions at the closest approach, back on the sphere, are
		// as far apart as the plane says.
		s2d := s2.PointFromLatLng(s2.LatLngFromDegrees(ap.Own.Lat, ap.Own.Lon)).Distance(
			s2.PointFromLatLng(s2.LatLngFromDegrees(ap.Other.Lat, ap.Other.Lon))).Radians() * nmPerDegree * 180 / math.Pi
		if math.Abs(s2d-ap.Distance) > 0.002*ap.Distance+0.001 {
			t.Errorf("own %+v other %+v: plane distance %.4f NM, s2 distance of the same positions %.4f", own, other, ap.Distance, s2d)
		}
	}
	t.Logf("worst CPA distance error %.4f NM (%.3f%% of range), worst TCPA error %.2f min", worstD, worstRel*100, worstT)
	if worstRel > 0.002 {
		t.Errorf("CPA distance differs from the sphere's by %.3f%% of the range, bound 0.2%%", worstRel*100)
	}
	if worstT > 1 {
		t.Errorf("TCPA differs from the sphere's by %.2f min", worstT)
	}
}

// greatCirclePosition is the point rangeNM from f along the great circle
// of the given bearing.
func greatCirclePosition(f deconflict.Fix, bearing, rangeNM float64) codebook.Position {
	g := greatCircleTrack(deconflict.Fix{Position: f.Position, Course: bearing, SpeedKn: rangeNM})
	ll := s2.LatLngFromPoint(g(1))
	return pos(ll.Lat.Degrees(), ll.Lng.Degrees())
}

package deconflict

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"

	"hotline/internal/codebook"
)

// randomArea returns a convex-ish polygon (a jittered regular polygon) or
// a circle somewhere near (lat, lon), radius up to r NM.
func randomArea(rng *rand.Rand, lat, lon, r float64) Area {
	c := codebook.Position{Lat: lat + rng.Float64()*4 - 2, Lon: lon + rng.Float64()*4 - 2}
	c.Lat = max(-89, min(89, c.Lat))
	c.Lon = math.Mod(c.Lon+540, 360) - 180
	radius := 1 + rng.Float64()*r
	if rng.IntN(3) == 0 {
		return Area{Circle: &Circle{Center: c, RadiusNM: radius}}
	}
	n := 3 + rng.IntN(10)
	center := point(c)
	var a Area
	for i := range n {
		// Walk round the centre; s2.PointOnRay keeps it valid near the poles.
		e, nn := localFrame(s2.LatLngFromPoint(center))
		th := 2 * math.Pi * float64(i) / float64(n)
		dir := s2.Point{Vector: e.Mul(math.Sin(th)).Add(nn.Mul(math.Cos(th)))}
		p := s2.PointOnRay(center, dir, fromNM(radius*(0.6+0.4*rng.Float64())))
		a.Polygon = append(a.Polygon, position(p))
	}
	return a
}

// TestSeparationAgainstEdgeQuery checks the distance between areas against
// s2's own ClosestEdgeQuery over shape indexes (polygons) and point
// targets (circles), for random areas near the equator, the antimeridian
// and the poles.
func TestSeparationAgainstEdgeQuery(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	places := [][2]float64{{0, 0}, {0, 180}, {16, 112}, {85, 30}, {-85, -150}, {60, -179}}
	checked := 0
	for range 600 {
		pl := places[rng.IntN(len(places))]
		a1, a2 := randomArea(rng, pl[0], pl[1], 80), randomArea(rng, pl[0], pl[1], 80)
		r1, err1 := a1.region()
		r2, err2 := a2.region()
		if err1 != nil || err2 != nil {
			continue // a jitter made a vertex double back: not what this test is about
		}
		got, where := separation(r1, r2)
		want := referenceDistance(r1, r2)
		if math.Abs(got.Radians()-want.Radians()) > 1e-9 {
			t.Fatalf("areas %+v and %+v: separation %.6f NM, s2 edge query %.6f NM", a1, a2, toNM(got), toNM(want))
		}
		// The point shown is in both areas, or midway between them.
		d1, d2 := distanceTo(r1, where), distanceTo(r2, where)
		if math.Abs(d1.Radians()-got.Radians()/2) > 1e-9 || math.Abs(d2.Radians()-got.Radians()/2) > 1e-9 {
			t.Fatalf("areas %+v and %+v: point %v is %.6f and %.6f NM from them, separation %.6f", a1, a2, position(where), toNM(d1), toNM(d2), toNM(got))
		}
		checked++
	}
	if checked < 400 {
		t.Fatalf("only %d pairs checked", checked)
	}
}

// referenceDistance is the distance between two regions by s2's
// ClosestEdgeQuery, with polygon interiors included.
func referenceDistance(a, b *region) s1.Angle {
	if a.poly == nil && b.poly == nil {
		return max(0, a.center.Distance(b.center)-a.radius-b.radius)
	}
	if a.poly == nil {
		a, b = b, a
	}
	ia := s2.NewShapeIndex()
	ia.Add(a.poly)
	q := s2.NewClosestEdgeQuery(ia, s2.NewClosestEdgeQueryOptions().IncludeInteriors(true))
	if b.poly == nil {
		return max(0, q.Distance(s2.NewMinDistanceToPointTarget(b.center)).Angle()-b.radius)
	}
	ib := s2.NewShapeIndex()
	ib.Add(b.poly)
	return q.Distance(s2.NewMinDistanceToShapeIndexTarget(ib)).Angle()
}

// distanceTo is the distance from p to region r (0 inside it).
func distanceTo(r *region, p s2.Point) s1.Angle {
	if r.poly == nil {
		return max(0, r.center.Distance(p)-r.radius)
	}
	ir := s2.NewShapeIndex()
	ir.Add(r.poly)
	q := s2.NewClosestEdgeQuery(ir, s2.NewClosestEdgeQueryOptions().IncludeInteriors(true))
	return q.Distance(s2.NewMinDistanceToPointTarget(p)).Angle()
}

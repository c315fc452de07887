package deconflict

import (
	"errors"
	"fmt"
	"math"

	"github.com/golang/geo/earth"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"

	"hotline/internal/codebook"
)

// Area is a region of the sea or sky: a circle or a polygon, in WGS84.
//
// A polygon's edges are great-circle arcs (the shortest path between
// consecutive vertices), so an area across the antimeridian is written
// with longitudes either side of ±180 (179.5, then -179.5), and one around
// a pole just lists its vertices. Vertices may go either way round: the
// area is the smaller of the two regions the ring bounds. List each vertex
// once; the ring closes by itself.
type Area struct {
	Circle  *Circle             `json:"circle,omitempty"`
	Polygon []codebook.Position `json:"polygon,omitempty"`
}

// Circle is a centre and a radius in nautical miles.
type Circle struct {
	Center   codebook.Position `json:"center"`
	RadiusNM float64           `json:"radius_nm"`
}

// nmPerRadian converts angles on the sphere to nautical miles, on the
// sphere of the Earth's mean radius that s2/earth uses. Against the WGS84
// ellipsoid, distances are within 0.5%.
var nmPerRadian = earth.Radius.Meters() / 1852

func toNM(a s1.Angle) float64    { return a.Radians() * nmPerRadian }
func fromNM(nm float64) s1.Angle { return s1.Angle(nm / nmPerRadian) }

func point(p codebook.Position) s2.Point {
	return s2.PointFromLatLng(s2.LatLngFromDegrees(p.Lat, p.Lon))
}

func position(p s2.Point) codebook.Position {
	ll := s2.LatLngFromPoint(p)
	return codebook.Position{Lat: ll.Lat.Degrees(), Lon: ll.Lng.Degrees()}
}

// region is an Area built for geometry: a cap (the circle itself, or a
// bound of the polygon) and, for a polygon, the s2 polygon.
type region struct {
	cap    s2.Cap
	poly   *s2.Polygon // nil for a circle
	center s2.Point    // circle
	radius s1.Angle    // circle
}

// region checks the area and builds it.
func (a *Area) region() (*region, error) {
	switch {
	case a.Circle != nil && a.Polygon != nil:
		return nil, errors.New("give a circle or a polygon, not both")
	case a.Circle != nil:
		c := a.Circle
		if err := c.Center.Check(); err != nil {
			return nil, fmt.Errorf("circle.center: %v", err)
		}
		if math.IsNaN(c.RadiusNM) || c.RadiusNM <= 0 || c.RadiusNM > MaxExtentNM {
			return nil, fmt.Errorf("circle.radius_nm %v is not above 0 and at most %d", c.RadiusNM, MaxExtentNM)
		}
		p := point(c.Center)
		return &region{cap: s2.CapFromCenterAngle(p, fromNM(c.RadiusNM)), center: p, radius: fromNM(c.RadiusNM)}, nil
	case a.Polygon != nil:
		return polygonRegion(a.Polygon)
	}
	return nil, errors.New("give a circle or a polygon")
}

func polygonRegion(vs []codebook.Position) (*region, error) {
	n := len(vs)
	if n < 3 || n > MaxVertices {
		return nil, fmt.Errorf("polygon has %d vertices, want 3-%d", n, MaxVertices)
	}
	pts := make([]s2.Point, n)
	for i, v := range vs {
		if err := v.Check(); err != nil {
			return nil, fmt.Errorf("polygon[%d]: %v", i, err)
		}
		pts[i] = point(v)
	}
	// Points closer than this (about 6 mm) are the same point.
	const same = 1e-9
	for i := range pts {
		for j := i + 1; j < n; j++ {
			if pts[i].Distance(pts[j]) < same {
				if i == 0 && j == n-1 {
					return nil, fmt.Errorf("polygon[%d] repeats polygon[0]: list each vertex once, the ring closes by itself", j)
				}
				return nil, fmt.Errorf("polygon[%d] and polygon[%d] are the same point", i, j)
			}
		}
	}
	for i := range pts {
		a, b, c := pts[i], pts[(i+1)%n], pts[(i+2)%n]
		if math.Abs(s2.TurnAngle(a, b, c).Radians()) > math.Pi-1e-9 {
			return nil, fmt.Errorf("polygon[%d] doubles back on the edge before it", (i+1)%n)
		}
	}
	for i := range n {
		for j := i + 2; j < n; j++ {
			if i == 0 && j == n-1 {
				continue // adjacent through the closing edge
			}
			if s2.CrossingSign(pts[i], pts[(i+1)%n], pts[j], pts[(j+1)%n]) != s2.DoNotCross {
				return nil, fmt.Errorf("edges polygon[%d]-polygon[%d] and polygon[%d]-polygon[%d] cross: the polygon crosses itself",
					i, (i+1)%n, j, (j+1)%n)
			}
		}
	}
	loop := s2.LoopFromPoints(pts)
	loop.Normalize() // the smaller of the two regions, whichever way round the vertices go
	poly := s2.PolygonFromLoops([]*s2.Loop{loop})
	if err := poly.Validate(); err != nil {
		return nil, fmt.Errorf("polygon: %v", err)
	}
	bound := poly.CapBound()
	if r := toNM(bound.Radius()); r > MaxExtentNM {
		return nil, fmt.Errorf("polygon spans %.0f NM from its centre, limit %d: edges are the shortest great-circle arcs between vertices, so an area across the antimeridian is written with longitudes either side of ±180 (179.5, then -179.5)", r, MaxExtentNM)
	}
	return &region{cap: bound, poly: poly}, nil
}

// separation returns the least distance between r and o (0 when they
// intersect) and a point to show: in both when they intersect, else
// midway between their closest points.
func separation(r, o *region) (s1.Angle, s2.Point) {
	switch {
	case r.poly == nil && o.poly == nil:
		return capToCap(r, o)
	case r.poly == nil:
		return capToPolygon(r, o.poly)
	case o.poly == nil:
		return capToPolygon(o, r.poly)
	}
	return polygonToPolygon(r.poly, o.poly)
}

func capToCap(r, o *region) (s1.Angle, s2.Point) {
	d := r.center.Distance(o.center)
	if gap := d - r.radius - o.radius; gap > 0 {
		return gap, s2.PointOnLine(r.center, o.center, r.radius+gap/2)
	}
	// Along the line between the centres r covers [-r, r] and o covers
	// [d-o, d+o]: show the middle of what both cover.
	lo, hi := max(-r.radius, d-o.radius), min(r.radius, d+o.radius)
	return 0, s2.PointOnLine(r.center, o.center, (lo+hi)/2)
}

func capToPolygon(c *region, p *s2.Polygon) (s1.Angle, s2.Point) {
	if p.ContainsPoint(c.center) {
		return 0, c.center
	}
	q, d := closestOnBoundary(c.center, p)
	if gap := d - c.radius; gap > 0 {
		return gap, s2.PointOnLine(c.center, q, c.radius+gap/2)
	}
	return 0, q
}

// closestOnBoundary returns the point of p's boundary nearest x.
func closestOnBoundary(x s2.Point, p *s2.Polygon) (s2.Point, s1.Angle) {
	best, bestD := s2.Point{}, s1.InfAngle()
	for i := range p.NumEdges() {
		e := p.Edge(i)
		q := s2.Project(x, e.V0, e.V1)
		if d := x.Distance(q); d < bestD {
			best, bestD = q, d
		}
	}
	return best, bestD
}

func polygonToPolygon(a, b *s2.Polygon) (s1.Angle, s2.Point) {
	if a.Intersects(b) {
		return 0, commonPoint(a, b)
	}
	var best s2.Point
	bestD := s1.InfAngle()
	for i := range a.NumEdges() {
		ea := a.Edge(i)
		for j := range b.NumEdges() {
			eb := b.Edge(j)
			p, q := s2.EdgePairClosestPoints(ea.V0, ea.V1, eb.V0, eb.V1)
			if d := p.Distance(q); d < bestD {
				best, bestD = s2.Interpolate(0.5, p, q), d
			}
		}
	}
	return bestD, best
}

// commonPoint returns a point in two intersecting polygons: a vertex of
// one inside the other, or where their edges cross.
func commonPoint(a, b *s2.Polygon) s2.Point {
	for _, pair := range [][2]*s2.Polygon{{a, b}, {b, a}} {
		for _, v := range pair[0].Loop(0).Vertices() {
			if pair[1].ContainsPoint(v) {
				return v
			}
		}
	}
	for i := range a.NumEdges() {
		ea := a.Edge(i)
		for j := range b.NumEdges() {
			eb := b.Edge(j)
			if s2.CrossingSign(ea.V0, ea.V1, eb.V0, eb.V1) == s2.Cross {
				return s2.Intersection(ea.V0, ea.V1, eb.V0, eb.V1)
			}
		}
	}
	return a.Loop(0).Vertex(0) // they touch at a vertex
}

package deconflict

import (
	"fmt"
	"math"
	"time"

	"github.com/golang/geo/r3"
	"github.com/golang/geo/s2"

	"hotline/internal/codebook"
)

// Limits on closest-approach predictions.
const (
	MaxApproachRangeNM = 500            // units further apart are not an encounter
	MaxHorizon         = 24 * time.Hour // furthest ahead a prediction looks
	maxFixAge          = 6 * time.Hour  // furthest a fix may be from the time predicted from
)

// Fix is a unit's position, course and speed at a time.
type Fix struct {
	Position codebook.Position
	Course   float64 // degrees true, 0 to less than 360
	SpeedKn  float64
	Time     time.Time
}

func (f Fix) check(at time.Time) error {
	if err := f.Position.Check(); err != nil {
		return err
	}
	if err := checkCourse(f.Course); err != nil {
		return err
	}
	if err := checkSpeed(f.SpeedKn); err != nil {
		return err
	}
	if d := f.Time.Sub(at); d < -maxFixAge || d > maxFixAge {
		return fmt.Errorf("fix at %s is more than %s from %s", f.Time.UTC().Format(time.RFC3339), maxFixAge, at.UTC().Format(time.RFC3339))
	}
	return nil
}

// Approach is the predicted closest point of approach (CPA) of two units
// that keep their course and speed.
type Approach struct {
	At       time.Time     // the time predicted from
	Range    float64       // nautical miles between them at At
	Bearing  float64       // degrees true from own to other at At
	Relative float64       // degrees from own's heading to other at At, clockwise (0 ahead, 90 on the starboard beam)
	Aspect   float64       // degrees from other's heading to own at At, clockwise
	Time     time.Time     // of the closest approach: At, or later by at most the horizon
	TCPA     time.Duration // Time - At
	Distance float64       // nautical miles between them at Time
	Own      codebook.Position
	Other    codebook.Position

	r, v    vec     // other relative to own at At (NM), and its velocity (knots)
	tFree   float64 // hours to the closest approach, unclamped (may be negative)
	horizon float64 // hours
}

// ClosestApproach predicts when and how close two units come if both keep
// their course and speed, looking ahead from at for at most horizon.
// Each fix is first dead-reckoned to at.
//
// The motion is computed in a plane tangent to the Earth midway between
// the units (azimuthal equidistant, built from s2 points), with each
// unit's velocity carried into that plane from its own north and east, as
// radar plotting aids do. Within MaxApproachRangeNM the plane's distances
// differ from s2's great-circle distances by less than 0.2% of the
// distance (the projection's scale error is about ρ²/6 at ρ radians from
// the centre); the tests measure it against s2 tracks moving along great
// circles. A ship steering a constant compass course follows a rhumb line,
// which drifts from a straight line by about L²·tan(latitude)/(8R) over a
// leg of length L: 0.02 NM for 20 NM at 45°.
func ClosestApproach(own, other Fix, at time.Time, horizon time.Duration) (Approach, error) {
	if err := own.check(at); err != nil {
		return Approach{}, fmt.Errorf("%w: own: %v", ErrTrack, err)
	}
	if err := other.check(at); err != nil {
		return Approach{}, fmt.Errorf("%w: other: %v", ErrTrack, err)
	}
	if horizon <= 0 || horizon > MaxHorizon {
		return Approach{}, fmt.Errorf("%w: horizon %s is not above 0 and at most %s", ErrTrack, horizon, MaxHorizon)
	}
	a, b := point(own.Position), point(other.Position)
	if d := toNM(a.Distance(b)); d > MaxApproachRangeNM {
		return Approach{}, fmt.Errorf("%w: units are %.0f NM apart; closest approach is predicted within %d NM", ErrTrack, d, MaxApproachRangeNM)
	}
	pl := newPlane(s2.Interpolate(0.5, a, b))
	va, vb := pl.velocity(own), pl.velocity(other)
	pa := pl.project(a).add(va.scale(hours(at.Sub(own.Time))))
	pb := pl.project(b).add(vb.scale(hours(at.Sub(other.Time))))
	ap := Approach{At: at, r: pb.sub(pa), v: vb.sub(va), horizon: hours(horizon)}
	if vv := ap.v.dot(ap.v); vv > 1e-12 {
		ap.tFree = -ap.r.dot(ap.v) / vv
	}
	t := min(max(ap.tFree, 0), ap.horizon)
	ap.Time = at.Add(time.Duration(t * float64(time.Hour)).Round(time.Second))
	ap.TCPA = ap.Time.Sub(at)
	ap.Distance = ap.r.add(ap.v.scale(t)).norm()
	ap.Own = position(pl.unproject(pa.add(va.scale(t))))
	ap.Other = position(pl.unproject(pb.add(vb.scale(t))))
	ap.Range = ap.r.norm()
	ap.Bearing = degrees(math.Atan2(ap.r.x, ap.r.y))
	ho := pl.velocity(Fix{Position: own.Position, Course: own.Course, SpeedKn: 1})
	hb := pl.velocity(Fix{Position: other.Position, Course: other.Course, SpeedKn: 1})
	ap.Relative = degrees(math.Atan2(ap.r.x, ap.r.y) - math.Atan2(ho.x, ho.y))
	ap.Aspect = degrees(math.Atan2(-ap.r.x, -ap.r.y) - math.Atan2(hb.x, hb.y))
	return ap, nil
}

// Within returns when, inside the prediction's horizon, the two units are
// closer than nm.
func (a Approach) Within(nm float64) (from, to time.Time, ok bool) {
	vv := a.v.dot(a.v)
	var lo, hi float64
	if vv <= 1e-12 {
		if a.r.norm() >= nm {
			return time.Time{}, time.Time{}, false
		}
		lo, hi = 0, a.horizon
	} else {
		dmin := a.r.add(a.v.scale(a.tFree)).norm()
		if dmin >= nm {
			return time.Time{}, time.Time{}, false
		}
		w := math.Sqrt((nm*nm - dmin*dmin) / vv)
		lo, hi = max(a.tFree-w, 0), min(a.tFree+w, a.horizon)
		if lo >= hi {
			return time.Time{}, time.Time{}, false
		}
	}
	at := func(h float64) time.Time { return a.At.Add(time.Duration(h * float64(time.Hour)).Round(time.Second)) }
	return at(lo), at(hi), true
}

func hours(d time.Duration) float64 { return d.Hours() }

// degrees turns radians into degrees in [0, 360).
func degrees(rad float64) float64 {
	d := math.Mod(rad*180/math.Pi, 360)
	if d < 0 {
		d += 360
	}
	if d >= 360 { // -tiny + 360 rounds to 360
		d = 0
	}
	return d
}

// vec is a vector in the tangent plane: east and north, in nautical miles
// or knots.
type vec struct{ x, y float64 }

func (a vec) add(b vec) vec       { return vec{a.x + b.x, a.y + b.y} }
func (a vec) sub(b vec) vec       { return vec{a.x - b.x, a.y - b.y} }
func (a vec) scale(k float64) vec { return vec{a.x * k, a.y * k} }
func (a vec) dot(b vec) float64   { return a.x*b.x + a.y*b.y }
func (a vec) norm() float64       { return math.Hypot(a.x, a.y) }

// plane is the azimuthal equidistant projection about o: a point's
// distance from o and its direction there are kept exactly.
type plane struct {
	o    s2.Point
	e, n r3.Vector // east and north at o
}

func newPlane(o s2.Point) plane {
	e, n := localFrame(s2.LatLngFromPoint(o))
	return plane{o, e, n}
}

// localFrame returns unit vectors east and north at ll. At a pole, where
// they are not defined by the point alone, ll's longitude fixes them:
// north continues along that meridian across the pole.
func localFrame(ll s2.LatLng) (e, n r3.Vector) {
	sinLat, cosLat := math.Sincos(ll.Lat.Radians())
	sinLon, cosLon := math.Sincos(ll.Lng.Radians())
	return r3.Vector{X: -sinLon, Y: cosLon}, r3.Vector{X: -sinLat * cosLon, Y: -sinLat * sinLon, Z: cosLat}
}

func (pl plane) project(p s2.Point) vec {
	t := p.Sub(pl.o.Mul(p.Dot(pl.o.Vector))) // the direction of p, seen from o
	if t.Norm() < 1e-15 {
		return vec{}
	}
	t = t.Normalize()
	d := toNM(pl.o.Distance(p))
	return vec{d * t.Dot(pl.e), d * t.Dot(pl.n)}
}

func (pl plane) unproject(v vec) s2.Point {
	l := v.norm()
	if l == 0 {
		return pl.o
	}
	dir := pl.e.Mul(v.x / l).Add(pl.n.Mul(v.y / l))
	return s2.PointOnRay(pl.o, s2.Point{Vector: dir}, fromNM(l))
}

// velocity carries a fix's velocity, given against north and east where
// the unit is, into the plane.
func (pl plane) velocity(f Fix) vec {
	e, n := localFrame(s2.LatLngFromDegrees(f.Position.Lat, f.Position.Lon))
	sin, cos := math.Sincos(f.Course * math.Pi / 180)
	v := n.Mul(f.SpeedKn * cos).Add(e.Mul(f.SpeedKn * sin))
	return vec{v.Dot(pl.e), v.Dot(pl.n)}
}

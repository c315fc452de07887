package deconflict

import (
	"fmt"
	"math"
	"time"

	"github.com/golang/geo/s2"

	"hotline/internal/codebook"
)

// Margins are the safety margins of the checks: two activities conflict
// when they come closer than all three of DistanceNM, Time and VerticalM
// at once; two tracks conflict when they are predicted to pass closer
// than CPANM within Horizon.
type Margins struct {
	DistanceNM float64
	Time       time.Duration
	VerticalM  float64
	CPANM      float64
	Horizon    time.Duration
}

// DefaultMargins are the margins a station uses unless its operators set
// others.
var DefaultMargins = Margins{DistanceNM: 5, Time: time.Hour, VerticalM: 300, CPANM: 2, Horizon: time.Hour}

func (m Margins) check() error {
	switch {
	case m.DistanceNM < 0 || m.DistanceNM > MaxExtentNM:
		return fmt.Errorf("distance margin %v NM is not from 0 to %d", m.DistanceNM, MaxExtentNM)
	case m.Time < 0 || m.Time > MaxWindow:
		return fmt.Errorf("time margin %s is not from 0 to %s", m.Time, MaxWindow)
	case m.VerticalM < 0 || m.VerticalM > MaxAltitudeM:
		return fmt.Errorf("vertical margin %v m is not from 0 to %d", m.VerticalM, MaxAltitudeM)
	case m.CPANM < 0 || m.CPANM > MaxApproachRangeNM:
		return fmt.Errorf("closest-approach margin %v NM is not from 0 to %d", m.CPANM, MaxApproachRangeNM)
	case m.Horizon <= 0 || m.Horizon > MaxHorizon:
		return fmt.Errorf("horizon %s is not above 0 and at most %s", m.Horizon, MaxHorizon)
	}
	return nil
}

// Activity is a checked notice with its geometry built, ready to check
// against others many times.
type Activity struct {
	Notice *Notice
	region *region
}

// NewActivity checks n and builds its geometry.
func NewActivity(n *Notice) (*Activity, error) {
	r, err := n.check()
	if err != nil {
		return nil, err
	}
	return &Activity{Notice: n, region: r}, nil
}

// Rule names the check behind a finding.
type Rule string

// Rules.
const (
	RuleOverlap  Rule = "overlap"  // two activities within the margins of each other
	RuleApproach Rule = "approach" // two tracks predicted to pass within the margin
)

// Finding is a danger a check found: where, how close, when, and a coded
// message the station's operators may send about it.
type Finding struct {
	Rule Rule

	// Where is a point to show: in both areas when they overlap, else
	// midway between their closest points; for an approach, midway
	// between the two units at the closest approach.
	Where    codebook.Position
	Distance float64 // nautical miles: 0 when the areas overlap; at the closest approach

	// From and To bound the conflict: for an overlap, when both are
	// active (or, when they only come within the time margin, the Gap
	// between them); for an approach, when the units are within the
	// margin of each other.
	From, To time.Time
	Gap      time.Duration

	Planned, Notified int       // RuleOverlap: indexes in the slices given to Overlaps
	Approach          *Approach // RuleApproach

	Suggest *codebook.Message // nil when the codebook lacks the phrases
}

// Checker runs the checks with its margins and suggests messages from its
// codebook.
type Checker struct {
	Margins  Margins
	Codebook *codebook.Codebook // codebook.Default() when nil
}

// NewChecker returns a checker with the default margins and codebook.
func NewChecker() *Checker { return &Checker{Margins: DefaultMargins} }

func (c *Checker) codebook() *codebook.Codebook {
	if c.Codebook == nil {
		return codebook.Default()
	}
	return c.Codebook
}

// Overlaps checks every planned activity against every notified one and
// returns the findings in the order of the pairs.
func (c *Checker) Overlaps(planned, notified []*Activity) ([]Finding, error) {
	if err := c.Margins.check(); err != nil {
		return nil, err
	}
	var out []Finding
	for i, p := range planned {
		for j, n := range notified {
			if f, ok := c.overlap(p, n); ok {
				f.Planned, f.Notified = i, j
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// Overlap checks one planned activity against one notified.
func (c *Checker) Overlap(planned, notified *Activity) (Finding, bool, error) {
	if err := c.Margins.check(); err != nil {
		return Finding{}, false, err
	}
	f, ok := c.overlap(planned, notified)
	return f, ok, nil
}

func (c *Checker) overlap(p, n *Activity) (Finding, bool) {
	m := c.Margins
	pw, nw := p.Notice.Window, n.Notice.Window
	gap := later(pw.From, nw.From).Sub(earlier(pw.To, nw.To))
	if !(gap < 0 || gap < m.Time) {
		return Finding{}, false
	}
	if v := verticalGap(p.Notice.Band, n.Notice.Band); !(v <= 0 || v < m.VerticalM) {
		return Finding{}, false
	}
	margin := fromNM(m.DistanceNM)
	if !p.region.cap.Expanded(margin).Intersects(n.region.cap) {
		return Finding{}, false
	}
	d, where := separation(p.region, n.region)
	if !(d == 0 || d < margin) {
		return Finding{}, false
	}
	f := Finding{Rule: RuleOverlap, Where: position(where), Distance: toNM(d)}
	if gap < 0 {
		f.From, f.To = later(pw.From, nw.From), earlier(pw.To, nw.To)
	} else {
		f.From, f.To, f.Gap = earlier(pw.To, nw.To), later(pw.From, nw.From), gap
	}
	f.Suggest = c.suggestOverlap(p)
	return f, true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// verticalGap is how far apart two bands are (negative when they
// overlap); an absent band is every height and depth.
func verticalGap(a, b *Band) float64 {
	all := Band{LowM: math.Inf(-1), HighM: math.Inf(1)}
	if a == nil {
		a = &all
	}
	if b == nil {
		b = &all
	}
	return max(a.LowM, b.LowM) - min(a.HighM, b.HighM)
}

// suggestOverlap proposes what the planner tells the notifier: keep clear
// of a hazardous activity of ours, or our intention to transit and a
// request for theirs.
func (c *Checker) suggestOverlap(p *Activity) *codebook.Message {
	center, radius := p.region.cap.Center(), toNM(p.region.cap.Radius())
	if p.region.poly == nil {
		radius = p.Notice.Area.Circle.RadiusNM
	}
	pos := position(center)
	from := p.Notice.Window.From.UTC().Truncate(time.Minute)
	to := p.Notice.Window.To.UTC().Add(time.Minute - time.Nanosecond).Truncate(time.Minute)
	var items []codebook.Item
	switch {
	case p.Notice.Kind.hazardous():
		items = []codebook.Item{
			codebook.Coded("REQ04", codebook.Args{"position": pos, "distance": roundUpNM(radius + c.Margins.DistanceNM)}),
			codebook.Coded("ACT08", codebook.Args{"start": from, "end": to}),
		}
	case p.Notice.Kind == Transit:
		items = []codebook.Item{
			codebook.Coded("ACT16", codebook.Args{"position": pos, "start": from, "end": to}),
			codebook.Coded("REQ01", nil),
		}
	default:
		items = []codebook.Item{codebook.Coded("REQ18", nil), codebook.Coded("REQ01", nil)}
	}
	m, err := c.codebook().NewMessage(items...)
	if err != nil {
		return nil
	}
	return m
}

// roundUpNM rounds up to a tenth of a mile, the precision of the codebook's
// distances, so that a suggested keep-clear distance is never short.
func roundUpNM(nm float64) float64 { return min(math.Ceil(nm*10-1e-9)/10, 9999) }

// Approach predicts the closest approach of own and other from at, and
// reports a finding when they come within the margin inside the horizon.
func (c *Checker) Approach(own, other Fix, at time.Time) (Finding, bool, error) {
	if err := c.Margins.check(); err != nil {
		return Finding{}, false, err
	}
	ap, err := ClosestApproach(own, other, at, c.Margins.Horizon)
	if err != nil {
		return Finding{}, false, err
	}
	from, to, ok := ap.Within(c.Margins.CPANM)
	if !ok {
		return Finding{}, false, nil
	}
	f := Finding{
		Rule:     RuleApproach,
		Where:    position(s2.Interpolate(0.5, point(ap.Own), point(ap.Other))),
		Distance: ap.Distance,
		From:     from,
		To:       to,
		Approach: &ap,
	}
	f.Suggest = c.suggestApproach(ap)
	return f, true, nil
}

// suggestApproach proposes what own says, after the steering rules of
// COLREGs (rules 13-15): head-on, both turn to starboard; the vessel with
// the other on her starboard side gives way, the other stands on; an
// overtaking vessel keeps clear. Relative bearings come from the plane.
func (c *Checker) suggestApproach(ap Approach) *codebook.Message {
	keep := codebook.Args{"distance": roundUpNM(c.Margins.CPANM)}
	ahead := func(b float64) bool { return b <= 6 || b >= 354 }
	abaft := func(b float64) bool { return b > 112.5 && b < 247.5 }
	starboard := func(b float64) bool { return b > 0 && b <= 112.5 }
	var items []codebook.Item
	switch r, a := ap.Relative, ap.Aspect; {
	case ahead(r) && ahead(a): // head-on
		items = []codebook.Item{codebook.Coded("MNV06", nil), codebook.Coded("MNV20", keep)}
	case abaft(r): // other overtaking own
		items = []codebook.Item{codebook.Coded("MNV12", nil), codebook.Coded("REQ11", keep)}
	case abaft(a): // own overtaking other
		items = []codebook.Item{codebook.Coded("MNV20", keep)}
	case starboard(r) && !ahead(r): // other on own's starboard: own gives way
		items = []codebook.Item{codebook.Coded("MNV06", nil), codebook.Coded("MNV20", keep)}
	case starboard(a) && !ahead(a): // own on other's starboard: own stands on
		items = []codebook.Item{codebook.Coded("MNV12", nil), codebook.Coded("REQ01", nil)}
	case ahead(r): // other dead ahead, crossing from starboard to port: give way
		items = []codebook.Item{codebook.Coded("MNV06", nil), codebook.Coded("MNV20", keep)}
	default: // each on the other's port side: no one gives way; ask
		items = []codebook.Item{codebook.Coded("MNV12", nil), codebook.Coded("REQ01", nil)}
	}
	m, err := c.codebook().NewMessage(items...)
	if err != nil {
		return nil
	}
	return m
}

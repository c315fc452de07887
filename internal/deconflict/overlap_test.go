package deconflict_test

import (
	"math"
	"testing"
	"time"

	"hotline/internal/codebook"
	"hotline/internal/deconflict"
)

// nmPerDegree on the sphere of the Earth's mean radius (6371.01 km) that
// the package uses: 60.04 NM.
var nmPerDegree = 6371.01e3 / 1852 * math.Pi / 180

var t0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

func pos(lat, lon float64) codebook.Position { return codebook.Position{Lat: lat, Lon: lon} }

func circle(lat, lon, r float64) deconflict.Area {
	return deconflict.Area{Circle: &deconflict.Circle{Center: pos(lat, lon), RadiusNM: r}}
}

func polygon(latlons ...float64) deconflict.Area {
	var a deconflict.Area
	for i := 0; i < len(latlons); i += 2 {
		a.Polygon = append(a.Polygon, pos(latlons[i], latlons[i+1]))
	}
	return a
}

// notice makes a checked activity from an area, a kind and hours after t0.
func activity(t *testing.T, kind deconflict.Kind, area deconflict.Area, from, to float64, band *deconflict.Band) *deconflict.Activity {
	t.Helper()
	n := &deconflict.Notice{
		Kind: kind, Area: area, Band: band, Units: []string{"unit"}, Call: "red-blue.theatre",
		Window: deconflict.Window{From: t0.Add(time.Duration(from * float64(time.Hour))), To: t0.Add(time.Duration(to * float64(time.Hour)))},
	}
	a, err := deconflict.NewActivity(n)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// near reports whether two positions are within tol nautical miles, with
// longitudes compared across the antimeridian and any longitude at a pole.
func near(a, b codebook.Position, tol float64) bool {
	dlat := (a.Lat - b.Lat) * nmPerDegree
	dlon := math.Mod(a.Lon-b.Lon+540, 360) - 180
	dx := dlon * nmPerDegree * math.Cos((a.Lat+b.Lat)/2*math.Pi/180)
	return math.Hypot(dlat, dx) <= tol
}

// TestOverlapGeometry checks distances and the point shown against values
// worked out by hand on the sphere: along the equator or a meridian, d
// degrees are d × 60.04 NM.
func TestOverlapGeometry(t *testing.T) {
	tests := []struct {
		name      string
		a, b      deconflict.Area
		margin    float64
		found     bool
		distance  float64 // NM
		where     codebook.Position
		whereTol  float64 // NM; 0 to skip
		whereAlt  *codebook.Position
		whereIn   [4]float64
		checkIn   bool // the edges are great circles, which bulge poleward of the parallels by up to 2e-5° here
		tolerance float64
	}{
		{name: "circles overlap", a: circle(0, 0, 10), b: circle(0, 0.3, 10), margin: 0,
			found: true, distance: 0, where: pos(0, 0.15), whereTol: 0.01},
		{name: "circles apart, within margin", a: circle(0, 0, 5), b: circle(0, 0.3, 5), margin: 10,
			found: true, distance: 0.3*nmPerDegree - 10, where: pos(0, 0.15), whereTol: 0.01},
		{name: "circles apart, outside margin", a: circle(0, 0, 5), b: circle(0, 0.3, 5), margin: 5},
		{name: "circle inside circle", a: circle(10, 10, 50), b: circle(10, 10.1, 5), margin: 0,
			found: true, distance: 0, where: pos(10, 10.1), whereTol: 0.1},
		{name: "circles across the antimeridian", a: circle(0, 179.9, 5), b: circle(0, -179.9, 5), margin: 5,
			found: true, distance: 0.2*nmPerDegree - 10, where: pos(0, 180), whereTol: 0.01},
		{name: "box across the antimeridian holds a circle at 180", a: polygon(-1, 179, -1, -179, 1, -179, 1, 179), b: circle(0, 180, 1),
			found: true, distance: 0, where: pos(0, 180), whereTol: 0.01},
		{name: "boxes either side of the antimeridian", a: polygon(-1, 179.5, -1, -179.5, 1, -179.5, 1, 179.5), b: polygon(-1, 170, -1, 175, 1, 175, 1, 170), margin: 300,
			// The meridians converge: the closest points are the corners at
			// latitude ±1, 2·asin(cos 1°·sin 2.25°) = 4.49931° apart.
			found: true, distance: 2 * math.Asin(math.Cos(1*math.Pi/180)*math.Sin(2.25*math.Pi/180)) * 180 / math.Pi * nmPerDegree,
			where: pos(1.0008, 177.25), whereAlt: &codebook.Position{Lat: -1.0008, Lon: 177.25}, whereTol: 0.1},
		{name: "boxes either side of the antimeridian, small margin", a: polygon(-1, 179.5, -1, -179.5, 1, -179.5, 1, 179.5), b: polygon(-1, 170, -1, 175, 1, 175, 1, 170), margin: 200},
		{name: "box across the antimeridian is not the rest of the world", a: polygon(0, 170, 0, -170, 10, -170, 10, 170), b: circle(5, 0, 100), margin: 100},
		{name: "polygon round the north pole holds a circle", a: polygon(85, 0, 85, 90, 85, 180, 85, -90), b: circle(89, 45, 10),
			found: true, distance: 0, where: pos(89, 45), whereTol: 0.01},
		{name: "circle at the north pole and one across it", a: circle(90, 0, 60), b: circle(88, 180, 50), margin: 15,
			found: true, distance: 2*nmPerDegree - 110, where: pos(90-(60+(2*nmPerDegree-110)/2)/nmPerDegree, 180), whereTol: 0.01},
		{name: "triangle round the south pole", a: polygon(-80, 0, -80, 120, -80, -120), b: circle(-89.9, 30, 1),
			found: true, distance: 0, where: pos(-89.9, 30), whereTol: 0.01},
		{name: "crossed bars, no vertex inside the other", a: polygon(-0.1, -1, -0.1, 1, 0.1, 1, 0.1, -1), b: polygon(-1, -0.1, -1, 0.1, 1, 0.1, 1, -0.1),
			found: true, distance: 0, whereIn: [4]float64{-0.1, 0.1, -0.1, 0.1}, checkIn: true},
		{name: "circle near a box edge", a: polygon(0, 0, 0, 1, 1, 1, 1, 0), b: circle(0.5, 1.2, 6), margin: 10,
			found: true, distance: 0.2*nmPerDegree - 6, where: pos(0.5, 1+(0.2-6/nmPerDegree)/2), whereTol: 0.05},
		{name: "vertices either way round", a: polygon(1, 0, 1, 1, 0, 1, 0, 0), b: circle(0.5, 0.5, 1),
			found: true, distance: 0, where: pos(0.5, 0.5), whereTol: 0.01},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := deconflict.NewChecker()
			c.Margins.DistanceNM = tc.margin
			a := activity(t, deconflict.Exercise, tc.a, 0, 2, nil)
			b := activity(t, deconflict.Exercise, tc.b, 1, 3, nil)
			for _, swap := range []bool{false, true} {
				p, n := a, b
				if swap {
					p, n = b, a
				}
				f, found, err := c.Overlap(p, n)
				if err != nil {
					t.Fatal(err)
				}
				if found != tc.found {
					t.Fatalf("swap %v: found %v (%+v), want %v", swap, found, f, tc.found)
				}
				if !found {
					continue
				}
				tol := max(tc.tolerance, 0.005)
				if math.Abs(f.Distance-tc.distance) > tol {
					t.Errorf("swap %v: distance %.4f NM, want %.4f", swap, f.Distance, tc.distance)
				}
				if tc.whereTol > 0 && !near(f.Where, tc.where, tc.whereTol) && (tc.whereAlt == nil || !near(f.Where, *tc.whereAlt, tc.whereTol)) {
					t.Errorf("swap %v: where %+v, want %+v", swap, f.Where, tc.where)
				}
				if r := tc.whereIn; tc.checkIn && (f.Where.Lat < r[0]-1e-4 || f.Where.Lat > r[1]+1e-4 || f.Where.Lon < r[2]-1e-4 || f.Where.Lon > r[3]+1e-4) {
					t.Errorf("swap %v: where %+v is not in both", swap, f.Where)
				}
			}
		})
	}
}

func TestOverlapTimeAndHeight(t *testing.T) {
	sub := &deconflict.Band{LowM: -300, HighM: 0}
	air := &deconflict.Band{LowM: 300, HighM: 9000}
	surface := &deconflict.Band{LowM: 0, HighM: 50}
	tests := []struct {
		name           string
		a, b           [2]float64 // hours after t0
		ba, bb         *deconflict.Band
		time           time.Duration
		vertical       float64
		found          bool
		from, to, gap  time.Duration // after t0
		wantWindowSkip bool
	}{
		{name: "overlapping windows", a: [2]float64{10, 12}, b: [2]float64{11, 13}, found: true, from: 11 * time.Hour, to: 12 * time.Hour},
		{name: "one inside the other", a: [2]float64{10, 20}, b: [2]float64{11, 13}, found: true, from: 11 * time.Hour, to: 13 * time.Hour},
		{name: "touching, no margin", a: [2]float64{10, 12}, b: [2]float64{12, 14}},
		{name: "touching, 30 minute margin", a: [2]float64{10, 12}, b: [2]float64{12, 14}, time: 30 * time.Minute, found: true, from: 12 * time.Hour, to: 12 * time.Hour},
		{name: "45 minutes apart, 1 hour margin", a: [2]float64{10, 12}, b: [2]float64{12.75, 14}, time: time.Hour, found: true, from: 12 * time.Hour, to: 12*time.Hour + 45*time.Minute, gap: 45 * time.Minute},
		{name: "45 minutes apart, 30 minute margin", a: [2]float64{10, 12}, b: [2]float64{12.75, 14}, time: 30 * time.Minute},
		{name: "earlier and later", a: [2]float64{12.75, 14}, b: [2]float64{10, 12}, time: time.Hour, found: true, from: 12 * time.Hour, to: 12*time.Hour + 45*time.Minute, gap: 45 * time.Minute},
		{name: "submarine under aircraft, 300 m apart, margin 300", a: [2]float64{0, 1}, b: [2]float64{0, 1}, ba: sub, bb: air, vertical: 300},
		{name: "submarine under aircraft, margin 301", a: [2]float64{0, 1}, b: [2]float64{0, 1}, ba: sub, bb: air, vertical: 301, found: true, to: time.Hour},
		{name: "submarine meets surface at 0 m", a: [2]float64{0, 1}, b: [2]float64{0, 1}, ba: sub, bb: surface, found: true, to: time.Hour},
		{name: "no band is every height", a: [2]float64{0, 1}, b: [2]float64{0, 1}, bb: air, found: true, to: time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := deconflict.NewChecker()
			c.Margins.Time, c.Margins.VerticalM = tc.time, tc.vertical
			a := activity(t, deconflict.Exercise, circle(10, 110, 5), tc.a[0], tc.a[1], tc.ba)
			b := activity(t, deconflict.Exercise, circle(10, 110, 5), tc.b[0], tc.b[1], tc.bb)
			f, found, err := c.Overlap(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.found {
				t.Fatalf("found %v (%+v), want %v", found, f, tc.found)
			}
			if !found {
				return
			}
			if !f.From.Equal(t0.Add(tc.from)) || !f.To.Equal(t0.Add(tc.to)) || f.Gap != tc.gap {
				t.Errorf("window %s to %s gap %s, want %s to %s gap %s", f.From, f.To, f.Gap, t0.Add(tc.from), t0.Add(tc.to), tc.gap)
			}
		})
	}
}

// TestOverlapSuggestions checks the coded message offered for each kind of
// planned activity.
func TestOverlapSuggestions(t *testing.T) {
	cb := codebook.Default()
	c := deconflict.NewChecker()
	notified := activity(t, deconflict.Exercise, circle(16, 112, 20), 0, 6, nil)
	tests := []struct {
		kind deconflict.Kind
		area deconflict.Area
		en   string
	}{
		{deconflict.LiveFire, circle(16.2, 112, 10.04),
			"REQ04 Keep clear of the area centred on 16°12.00′N 112°00.00′E, radius 15.1 nautical miles.\n" +
				"ACT08 Live firing will take place from 02:00 UTC 1 May 2026 to 05:00 UTC 1 May 2026.\n"},
		{deconflict.Transit, circle(16.2, 112, 10),
			"ACT16 I intend to transit the area centred on 16°12.00′N 112°00.00′E between 02:00 UTC 1 May 2026 and 05:00 UTC 1 May 2026.\n" +
				"REQ01 What are your intentions?\n"},
		{deconflict.Survey, circle(16.2, 112, 10),
			"REQ18 Confirm the area and time of your activity.\nREQ01 What are your intentions?\n"},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			f, found, err := c.Overlap(activity(t, tc.kind, tc.area, 2, 5, nil), notified)
			if err != nil || !found {
				t.Fatalf("found %v, %v", found, err)
			}
			if f.Suggest == nil {
				t.Fatal("no suggestion")
			}
			en, err := cb.RenderText(f.Suggest, "en")
			if err != nil {
				t.Fatal(err)
			}
			if en != tc.en {
				t.Errorf("suggested\n%s\nwant\n%s", en, tc.en)
			}
			if _, err := cb.RenderText(f.Suggest, "zh-Hans"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestOverlapsIndexes(t *testing.T) {
	c := deconflict.NewChecker()
	planned := []*deconflict.Activity{
		activity(t, deconflict.Transit, circle(10, 110, 5), 0, 2, nil),
		activity(t, deconflict.Transit, circle(20, 120, 5), 0, 2, nil),
	}
	notified := []*deconflict.Activity{
		activity(t, deconflict.LiveFire, circle(30, 130, 5), 0, 2, nil),
		activity(t, deconflict.LiveFire, circle(20, 120.1, 5), 1, 3, nil),
		activity(t, deconflict.LiveFire, circle(10, 110, 5), 5, 6, nil),
	}
	fs, err := c.Overlaps(planned, notified)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Planned != 1 || fs[0].Notified != 1 || fs[0].Rule != deconflict.RuleOverlap {
		t.Fatalf("findings %+v", fs)
	}
	c.Margins.Horizon = 0
	if _, err := c.Overlaps(planned, notified); err == nil {
		t.Error("Overlaps accepted a zero horizon")
	}
}

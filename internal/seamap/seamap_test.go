package seamap

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestLandDecodes(t *testing.T) {
	polys, err := land()
	if err != nil {
		t.Fatal(err)
	}
	if len(polys) < 1000 {
		t.Fatalf("%d land polygons; Natural Earth 1:50m has 1419", len(polys))
	}
	// Hainan lies at about 18-20°N, 108.6-111°E: some ring must hold
	// its north-east corner near Haikou.
	found := false
	for _, p := range polys {
		r := p[0]
		if r.south > 17.5 && r.north < 20.5 && r.west > 108 && r.east < 111.5 {
			found = true
		}
	}
	if !found {
		t.Fatal("no ring for Hainan in the land data")
	}
	for _, p := range polys {
		for _, r := range p {
			if r.south < -90 || r.north > 90 || r.west < -180.001 || r.east > 180.001 {
				t.Fatalf("ring out of range: %+v", r)
			}
		}
	}
}

func TestDecodeTopoRefusesBadData(t *testing.T) {
	for name, data := range map[string]string{
		"not json":     `{`,
		"not topology": `{"type":"Feature","objects":{}}`,
		"no object":    `{"type":"Topology","objects":{},"arcs":[]}`,
		"bad arc":      `{"type":"Topology","objects":{"land":{"type":"Polygon","arcs":[[5]]}},"arcs":[]}`,
	} {
		if _, err := decodeTopo([]byte(data), "land"); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	// Delta-encoded, quantized arcs, one reversed (~0).
	ps, err := decodeTopo([]byte(`{"type":"Topology","transform":{"scale":[0.5,0.25],"translate":[100,10]},
	 "objects":{"land":{"type":"Polygon","arcs":[[0,1]]}},
	 "arcs":[[[0,0],[2,0],[0,4]],[[2,4],[-2,-4]]]}`), "land")
	if err != nil {
		t.Fatal(err)
	}
	got := ps[0][0].pts
	want := []Point{{10, 100}, {10, 101}, {11, 101}, {10, 100}}
	if len(got) != len(want) {
		t.Fatalf("ring %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ring %v, want %v", got, want)
		}
	}
}

// points reads the first "points" attribute after marker.
func points(t *testing.T, svg, marker string) [][2]float64 {
	t.Helper()
	i := strings.Index(svg, marker)
	if i < 0 {
		t.Fatalf("%q not in the SVG", marker)
	}
	m := regexp.MustCompile(`points="([^"]*)"`).FindStringSubmatch(svg[i:])
	var out [][2]float64
	for _, p := range strings.Fields(m[1]) {
		x, y, _ := strings.Cut(p, ",")
		fx, _ := strconv.ParseFloat(x, 64)
		fy, _ := strconv.ParseFloat(y, 64)
		out = append(out, [2]float64{fx, fy})
	}
	return out
}

func near(a, b [2]float64) bool { return math.Abs(a[0]-b[0]) <= 0.1 && math.Abs(a[1]-b[1]) <= 0.1 }

func TestProjection(t *testing.T) {
	// 8° by 10° about 16°N, 800 px wide: 80 px a degree of longitude,
	// 80/cos(16°) a degree of latitude.
	m := New(Bounds{South: 12, North: 20, West: 110, East: 120}, 800)
	k := 80 / math.Cos(16*math.Pi/180)
	if m.Height != math.Round(8*k) {
		t.Fatalf("height %v, want %v", m.Height, math.Round(8*k))
	}
	svg := m.SVG("t", "d", []Layer{{Name: "notices", Stroke: "#f00", Shapes: []Shape{
		{Kind: Area, ID: "sq", Points: []Point{{17.5, 110.5}, {17.5, 111.5}, {17, 111.5}, {17, 110.5}}},
	}}})
	got := points(t, svg, `id="sq"`)
	for _, v := range []Point{{17.5, 110.5}, {17.5, 111.5}, {17, 111.5}, {17, 110.5}} {
		want := [2]float64{(v.Lon - 110) * 80, (20 - v.Lat) * k}
		ok := false
		for _, g := range got {
			ok = ok || near(g, want)
		}
		if !ok {
			t.Errorf("vertex %v: want (%.1f, %.1f) among %v", v, want[0], want[1], got)
		}
	}
}

func TestAntimeridian(t *testing.T) {
	pts := []Point{{-17, 179.5}, {-17, -179.5}, {-18, -179.5}, {-18, 179.5}}
	b := Fit(pts, 0, 0)
	if b.West != 179.5 || b.East != 180.5 {
		t.Fatalf("fit %+v, want 179.5 to 180.5", b)
	}
	m := New(Bounds{South: -22, North: -14, West: 175, East: 185}, 1000)
	svg := m.SVG("t", "d", []Layer{{Shapes: []Shape{{Kind: Area, ID: "fiji", Points: pts}}}})
	got := points(t, svg, `id="fiji"`)
	// One degree wide, not 359: every point within the view, x from
	// 450 to 550 (100 px a degree).
	for _, g := range got {
		if g[0] < 449.9 || g[0] > 550.1 {
			t.Fatalf("point %v outside 450-550: drawn the long way round", g)
		}
	}
	if x, _ := m.XY(Point{0, -179}); math.Abs(x-600) > 1e-9 {
		t.Fatalf("179°W at x=%v, want 600", x)
	}
	// Land across the antimeridian (Fiji, Taveuni at 179.9°W) is drawn.
	if !strings.Contains(svg, `class="land"`) || len(regexp.MustCompile(`M`).FindAllString(svg[strings.Index(svg, `class="land"`):], -1)) < 3 {
		t.Fatal("no land drawn about Fiji")
	}
}

func TestFit(t *testing.T) {
	for _, c := range []struct {
		name string
		pts  []Point
		want Bounds
	}{
		{"none", nil, SouthChinaSea},
		{"one point", []Point{{16, 112}}, Bounds{15, 17, 111, 113}},
		{"spread", []Point{{10, 110}, {20, 115}}, Bounds{9.5, 20.5, 109.5, 115.5}},
		{"across 180", []Point{{0, 170}, {0, -170}}, Bounds{-1, 1, 169.5, 190.5}},
	} {
		margin := 0.5
		if c.name == "one point" {
			margin = 0
		}
		got := Fit(c.pts, margin, 2)
		if math.Abs(got.South-c.want.South) > 1e-9 || math.Abs(got.North-c.want.North) > 1e-9 || math.Abs(got.West-c.want.West) > 1e-9 || math.Abs(got.East-c.want.East) > 1e-9 {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestCircle(t *testing.T) {
	// 60 NM about the equator: a degree of arc (60.04 NM on the mean
	// sphere), so the ring reaches 1° north and south.
	ring := circleRing(Point{0, 100}, 60, 4)
	if math.Abs(ring[0].Lat-60/nmRadius*180/math.Pi) > 1e-9 || math.Abs(ring[0].Lon-100) > 1e-9 {
		t.Fatalf("north point %v", ring[0])
	}
	if math.Abs(ring[1].Lon-100-60/nmRadius*180/math.Pi) > 1e-6 {
		t.Fatalf("east point %v", ring[1])
	}
}

func TestClip(t *testing.T) {
	sq := [][2]float64{{-10, -10}, {10, -10}, {10, 10}, {-10, 10}}
	got := clip(sq, 0, 0, 5, 5)
	if len(got) != 4 {
		t.Fatalf("clip: %v", got)
	}
	for _, p := range got {
		if p[0] < 0 || p[0] > 5 || p[1] < 0 || p[1] > 5 {
			t.Fatalf("point %v outside the rectangle", p)
		}
	}
	if clip(sq, 20, 20, 30, 30) != nil {
		t.Fatal("polygon outside kept")
	}
}

func TestTextIsText(t *testing.T) {
	m := New(SouthChinaSea, 600)
	svg := m.SVG(`<script>alert(1)</script>`, "d", []Layer{{Name: `<b>x</b>`, Stroke: `"red`, Shapes: []Shape{
		{Kind: Mark, Points: []Point{{10, 110}}, Label: `<script>alert(2)</script>`, Href: `javascript:"x"`},
	}}})
	if strings.Contains(svg, "<script") || strings.Contains(svg, "<b>") || strings.Contains(svg, `"red`) {
		t.Fatalf("markup passed through: %s", svg[:300])
	}
	if !strings.Contains(svg, "&lt;script&gt;alert(2)&lt;/script&gt;") {
		t.Fatal("label not drawn as text")
	}
}

func BenchmarkSVG(b *testing.B) {
	m := New(SouthChinaSea, 960)
	for b.Loop() {
		m.SVG("t", "d", nil)
	}
}

// crowded is a map where a dozen features meet: marks on one spot,
// tracks ending on it, an area whose top is there, in two scripts.
func crowded() (*Map, []Layer) {
	m := New(Bounds{South: 15, North: 20, West: 110, East: 115}, 720)
	c := Point{Lat: 17.5, Lon: 112.5}
	var marks, tracks []Shape
	for i := range 8 {
		marks = append(marks, Shape{Kind: Mark, Points: []Point{c}, Label: "CPA 0." + strconv.Itoa(i) + " NM 10:2" + strconv.Itoa(i) + "Z"})
	}
	for i := range 4 {
		tracks = append(tracks, Shape{Kind: Track, Points: []Point{{Lat: 17 + float64(i)/10, Lon: 112}, {Lat: 17.5, Lon: 112.5}}, Label: "DDG-0" + strconv.Itoa(i) + " 10:22Z"})
	}
	areas := []Shape{{Kind: Area, Points: []Point{{Lat: 17.5, Lon: 112.4}, {Lat: 17.5, Lon: 112.6}, {Lat: 17, Lon: 112.6}, {Lat: 17, Lon: 112.4}}, Label: "海上实弹射击 驱逐舰173"}}
	return m, []Layer{{Name: "areas", Stroke: "#f00", Shapes: areas}, {Name: "tracks", Stroke: "#0f0", Shapes: tracks}, {Name: "marks", Stroke: "#00f", Shapes: marks}}
}

var textEl = regexp.MustCompile(`<text x="([-\d.]+)" y="([-\d.]+)" fill="#f1f3f5" stroke="#0b2942"[^>]*>([^<]*)</text>`)

// TestLabelsNeverOverlap: thirteen labels on one spot are drawn apart,
// none over another or over the scale bar, the moved ones joined to
// their feature by a leader line, all on the map.
func TestLabelsNeverOverlap(t *testing.T) {
	m, layers := crowded()
	svg := m.SVG("t", "d", layers)
	ts := textEl.FindAllStringSubmatch(svg, -1)
	if len(ts) != 13 {
		t.Fatalf("%d labels drawn, want 13", len(ts))
	}
	boxes := []box{m.scaleBox()}
	for _, x := range ts {
		lx, _ := strconv.ParseFloat(x[1], 64)
		ly, _ := strconv.ParseFloat(x[2], 64)
		b := labelBox(lx, ly, x[3])
		if b.x0 < 0 || b.y0 < 0 || b.x1 > m.Width || b.y1 > m.Height {
			t.Errorf("label %q at %v is off the map", x[3], b)
		}
		for _, o := range boxes {
			if b.overlaps(o) {
				t.Errorf("label %q at %v overlaps %v", x[3], b, o)
			}
		}
		boxes = append(boxes, b)
	}
	if n := strings.Count(svg, `<line class="leader"`); n < 10 {
		t.Errorf("%d leader lines for 13 labels on one spot", n)
	}
	// A label alone stays in its own place, with no leader line.
	alone := m.SVG("t", "d", []Layer{{Shapes: []Shape{{Kind: Mark, Points: []Point{{Lat: 16, Lon: 111}}, Label: "alone"}}}})
	if strings.Contains(alone, "leader") {
		t.Error("a label alone was moved")
	}
}

// TestScaleBar: the scale bar's length in nautical miles is a round
// number and its length in pixels what the projection makes of it, at
// every zoom.
func TestScaleBar(t *testing.T) {
	for _, span := range []float64{0.2, 1, 5, 20, 60} {
		m := New(Bounds{South: 17, North: 17 + span, West: 112, East: 112 + span}, 720)
		svg := m.SVG("t", "d", nil)
		g := regexp.MustCompile(`<g class="scale" data-nm="([\d.]+)" data-px="([\d.]+)"`).FindStringSubmatch(svg)
		if g == nil {
			t.Fatalf("span %v°: no scale bar", span)
		}
		nm, _ := strconv.ParseFloat(g[1], 64)
		px, _ := strconv.ParseFloat(g[2], 64)
		// From the projection: two points nm apart north-south.
		_, y0 := m.XY(Point{Lat: 17, Lon: 112})
		_, y1 := m.XY(Point{Lat: 17 + nm/60, Lon: 112})
		if math.Abs((y0-y1)-px) > 0.1 || px < 50 || px > 150 {
			t.Errorf("span %v°: %v NM drawn %v px, the projection says %.1f", span, nm, px, y0-y1)
		}
		if mant := nm / math.Pow(10, math.Floor(math.Log10(nm)+1e-9)); math.Abs(mant-1) > 1e-9 && math.Abs(mant-2) > 1e-9 && math.Abs(mant-5) > 1e-9 {
			t.Errorf("span %v°: %v NM is not a round number", span, nm)
		}
		if !strings.Contains(svg, ">"+g[1]+" NM</text>") {
			t.Errorf("span %v°: the bar is not labelled %s NM", span, g[1])
		}
	}
	m := New(Bounds{South: 17, North: 18, West: 112, East: 113}, 720)
	m.Unit = "海里"
	if !strings.Contains(m.SVG("t", "d", nil), " 海里</text>") {
		t.Error("the scale bar is not in the map's unit")
	}
}

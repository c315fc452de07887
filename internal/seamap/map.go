package seamap

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Bounds is the part of the Earth a map shows, in degrees. East is above
// West; it may pass 180 for a view across the antimeridian (West 170,
// East 190 shows 170°E to 170°W).
type Bounds struct {
	South, North, West, East float64
}

// SouthChinaSea is the view when there is nothing to fit.
var SouthChinaSea = Bounds{South: 0, North: 25, West: 100, East: 125}

// Centre is the middle of the bounds.
func (b Bounds) Centre() Point {
	return Point{Lat: (b.South + b.North) / 2, Lon: (b.West + b.East) / 2}
}

// String writes the bounds as people read them: 0°N–25°N 100°E–125°E.
func (b Bounds) String() string {
	return fmt.Sprintf("%s–%s %s–%s", latText(b.South), latText(b.North), lonText(b.West), lonText(b.East))
}

func latText(v float64) string {
	if v < 0 {
		return trim(-v) + "°S"
	}
	return trim(v) + "°N"
}

func lonText(v float64) string {
	v = wrap180(v)
	switch {
	case v < 0:
		return trim(-v) + "°W"
	case v == 180:
		return "180°"
	}
	return trim(v) + "°E"
}

// trim writes degrees to a hundredth, without trailing zeros.
func trim(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

// wrap180 brings a longitude into (-180, 180].
func wrap180(lon float64) float64 {
	lon = math.Mod(lon+180, 360)
	if lon <= 0 {
		lon += 360
	}
	return lon - 180
}

// Fit returns the smallest bounds that hold every point, widened by
// margin degrees on each side and to at least minSpan degrees each way.
// Longitudes are taken the short way round: points at 179°E and 179°W
// give a view 2° wide across the antimeridian. With no points it is
// SouthChinaSea.
func Fit(pts []Point, margin, minSpan float64) Bounds {
	if len(pts) == 0 {
		return SouthChinaSea
	}
	south, north := 90.0, -90.0
	lons := make([]float64, 0, len(pts))
	for _, p := range pts {
		south, north = math.Min(south, p.Lat), math.Max(north, p.Lat)
		l := math.Mod(p.Lon, 360)
		if l < 0 {
			l += 360
		}
		lons = append(lons, l)
	}
	sort.Float64s(lons)
	// The view starts after the widest gap between consecutive longitudes.
	west, gap := lons[0], 360-(lons[len(lons)-1]-lons[0])
	for i := 1; i < len(lons); i++ {
		if g := lons[i] - lons[i-1]; g > gap {
			gap, west = g, lons[i]
		}
	}
	span := 360 - gap
	west = wrap180(west)
	b := Bounds{South: south - margin, North: north + margin, West: west - margin, East: west + span + margin}
	if d := minSpan - (b.North - b.South); d > 0 {
		b.South, b.North = b.South-d/2, b.North+d/2
	}
	if d := minSpan - (b.East - b.West); d > 0 {
		b.West, b.East = b.West-d/2, b.East+d/2
	}
	b.South, b.North = math.Max(b.South, -85), math.Min(b.North, 85)
	if b.West < -180 && b.East <= 180 {
		// Keep the western edge in range; East may pass 180.
		b.West, b.East = b.West+360, b.East+360
	}
	return b
}

// Map is a projection of Bounds onto a Width × Height picture:
// equirectangular, true to scale along the middle latitude (x = (λ −
// West)·k·cos φ₀, y = (North − φ)·k), which keeps the shapes of areas
// the size of a sea near right, and lines of latitude and longitude
// straight.
type Map struct {
	Bounds        Bounds
	Width, Height float64
	// Unit is the scale bar's name of a nautical mile ("NM" if empty).
	Unit  string
	k, kx float64
}

// New returns the map of b at the given width. The bounds are widened
// (about their centre) so that the picture is between half as high as
// wide and as high as wide.
func New(b Bounds, width float64) *Map {
	c := b.Centre()
	cos := math.Cos(c.Lat * math.Pi / 180)
	w, h := (b.East-b.West)*cos, b.North-b.South
	switch {
	case h > w:
		d := (h/cos - (b.East - b.West)) / 2
		b.West, b.East = b.West-d, b.East+d
	case h < w/2:
		d := (w/2 - h) / 2
		b.South, b.North = b.South-d, b.North+d
	}
	m := &Map{Bounds: b, Width: width}
	m.kx = width / (b.East - b.West)
	m.k = m.kx / cos
	m.Height = math.Round((b.North - b.South) * m.k)
	return m
}

// Unwrap returns the longitude, plus or minus a whole turn, nearest the
// middle of the map.
func (m *Map) Unwrap(lon float64) float64 {
	c := (m.Bounds.West + m.Bounds.East) / 2
	return c + wrap180(lon-c)
}

// XY projects a position (its longitude unwrapped to the view).
func (m *Map) XY(p Point) (x, y float64) {
	return m.xy(p.Lat, m.Unwrap(p.Lon))
}

// xy projects without unwrapping.
func (m *Map) xy(lat, lon float64) (x, y float64) {
	return (lon - m.Bounds.West) * m.kx, (m.Bounds.North - lat) * m.k
}

// unwrapPath unwraps each longitude towards the one before it, so that a
// path across the antimeridian is drawn the short way, then shifts the
// whole path to the view.
func (m *Map) unwrapPath(pts []Point) []Point {
	if len(pts) == 0 {
		return nil
	}
	out := make([]Point, len(pts))
	out[0] = Point{pts[0].Lat, m.Unwrap(pts[0].Lon)}
	for i := 1; i < len(pts); i++ {
		prev := out[i-1].Lon
		out[i] = Point{pts[i].Lat, prev + wrap180(pts[i].Lon-prev)}
	}
	return out
}

// Kind is what a shape is.
type Kind int

// Shapes.
const (
	Area   Kind = iota // a closed polygon; its edges are great-circle arcs
	Circle             // a circle of RadiusNM nautical miles about Points[0]
	Track              // a line through the points, in order
	Mark               // a point
)

// Shape is one feature drawn on the map.
type Shape struct {
	Kind     Kind
	Points   []Point
	RadiusNM float64
	Label    string // written beside it
	Title    string // shown on hover (SVG <title>); the label if empty
	Href     string // followed on a click; none if empty
	ID       string // the element's id, if any
}

// Layer is a kind of feature with its look and its name in the legend.
type Layer struct {
	Name   string
	Stroke string // a colour
	Fill   string // a colour, or "none"
	Dashed bool
	Shapes []Shape
}

// nmRadius is the Earth's mean radius in nautical miles (6371.01 km,
// as s2/earth, which the checks use).
const nmRadius = 6371010.0 / 1852

// circleRing returns n points on the circle of radius nm about c.
func circleRing(c Point, nm float64, n int) []Point {
	d := nm / nmRadius
	φ1, λ1 := c.Lat*math.Pi/180, c.Lon*math.Pi/180
	out := make([]Point, n)
	for i := range n {
		θ := 2 * math.Pi * float64(i) / float64(n)
		φ2 := math.Asin(math.Sin(φ1)*math.Cos(d) + math.Cos(φ1)*math.Sin(d)*math.Cos(θ))
		λ2 := λ1 + math.Atan2(math.Sin(θ)*math.Sin(d)*math.Cos(φ1), math.Cos(d)-math.Sin(φ1)*math.Sin(φ2))
		out[i] = Point{Lat: φ2 * 180 / math.Pi, Lon: λ2 * 180 / math.Pi}
	}
	return out
}

// greatCircle returns the points of a ring with its edges followed along
// great circles, a point at least every degree; the vertices are kept.
func greatCircle(pts []Point, closed bool) []Point {
	var out []Point
	n := len(pts)
	last := n - 1
	if closed {
		last = n
	}
	for i := 0; i < last; i++ {
		a, b := pts[i], pts[(i+1)%n]
		out = append(out, a)
		va, vb := vec(a), vec(b)
		ang := math.Acos(math.Max(-1, math.Min(1, va[0]*vb[0]+va[1]*vb[1]+va[2]*vb[2])))
		steps := int(ang * 180 / math.Pi)
		for s := 1; s <= steps; s++ {
			t := float64(s) / float64(steps+1)
			sa, sb := math.Sin((1-t)*ang)/math.Sin(ang), math.Sin(t*ang)/math.Sin(ang)
			v := [3]float64{sa*va[0] + sb*vb[0], sa*va[1] + sb*vb[1], sa*va[2] + sb*vb[2]}
			out = append(out, Point{Lat: math.Atan2(v[2], math.Hypot(v[0], v[1])) * 180 / math.Pi, Lon: math.Atan2(v[1], v[0]) * 180 / math.Pi})
		}
	}
	if !closed && n > 0 {
		out = append(out, pts[n-1])
	}
	return out
}

func vec(p Point) [3]float64 {
	φ, λ := p.Lat*math.Pi/180, p.Lon*math.Pi/180
	return [3]float64{math.Cos(φ) * math.Cos(λ), math.Cos(φ) * math.Sin(λ), math.Sin(φ)}
}

// num writes a coordinate to a tenth of a pixel.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func esc(s string) string { return html.EscapeString(s) }

// SVG draws the map: the sea, the land, a graticule, the layers in order
// (each shape labelled, with its title and link) and the legend. title
// and desc name the picture for a screen reader. The result is an inline
// <svg> element for an HTML page: it needs nothing outside itself.
func (m *Map) SVG(title, desc string, layers []Layer) string {
	var b strings.Builder
	w, h := num(m.Width), num(m.Height)
	legend := legendRows(m.Width, layers)
	full := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	th := num(m.Height + float64(22*len(legend)) + 8*min(float64(len(legend)), 1))
	fmt.Fprintf(&b, `<svg class="seamap" viewBox="0 0 %s %s" width="%s" height="%s" role="group" aria-labelledby="seamap-title seamap-desc" data-map="%s,%s" data-bounds="%s,%s,%s,%s">`,
		w, th, w, th, w, h, full(m.Bounds.South), full(m.Bounds.North), full(m.Bounds.West), full(m.Bounds.East))
	fmt.Fprintf(&b, `<title id="seamap-title">%s</title><desc id="seamap-desc">%s</desc>`, esc(title), esc(desc))
	b.WriteString(`<defs><clipPath id="seamap-clip"><rect width="` + w + `" height="` + h + `"/></clipPath></defs>`)
	fmt.Fprintf(&b, `<rect class="sea" width="%s" height="%s" fill="#0b2942"/>`, w, h)
	// What zooms and pans (the console's script scales and moves the
	// view), clipped to the map; the scale bar and the legend stay.
	b.WriteString(`<g clip-path="url(#seamap-clip)"><g class="view">`)
	m.drawLand(&b)
	m.drawGraticule(&b)
	labels := m.placeLabels(layers)
	for i, l := range layers {
		dash := ""
		if l.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fill := l.Fill
		if fill == "" {
			fill = "none"
		}
		fmt.Fprintf(&b, `<g class="layer" data-layer="%d" stroke="%s" fill="%s"%s>`, i, esc(l.Stroke), esc(fill), dash)
		for j, s := range l.Shapes {
			m.drawShape(&b, s, labels[[2]int{i, j}])
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</g></g>`)
	m.drawScale(&b)
	m.drawLegend(&b, legend)
	b.WriteString(`</svg>`)
	return b.String()
}

func (m *Map) drawShape(b *strings.Builder, s Shape, lp label) {
	if len(s.Points) == 0 {
		return
	}
	title := s.Title
	if title == "" {
		title = s.Label
	}
	if s.Href != "" {
		// A link's name for a screen reader: the label, or the title's
		// first line.
		name := s.Label
		if name == "" {
			name, _, _ = strings.Cut(title, "\n")
		}
		fmt.Fprintf(b, `<a href="%s" aria-label="%s">`, esc(s.Href), esc(name))
	}
	id := ""
	if s.ID != "" {
		id = ` id="` + esc(s.ID) + `"`
	}
	fmt.Fprintf(b, `<g class="shape"%s><title>%s</title>`, id, esc(title))
	switch s.Kind {
	case Area, Circle:
		ring := s.Points
		if s.Kind == Circle {
			ring = circleRing(s.Points[0], s.RadiusNM, 90)
		} else {
			ring = greatCircle(ring, true)
		}
		ring = m.unwrapPath(ring)
		b.WriteString(`<polygon fill-opacity="0.25" stroke-width="2" points="`)
		for i, p := range ring {
			x, y := m.xy(p.Lat, p.Lon)
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(num(x) + "," + num(y))
		}
		b.WriteString(`"/>`)
		if s.Kind == Circle {
			cx, cy := m.XY(s.Points[0])
			fmt.Fprintf(b, `<circle class="centre" cx="%s" cy="%s" r="2"/>`, num(cx), num(cy))
		}
	case Track:
		pts := m.unwrapPath(greatCircle(s.Points, false))
		b.WriteString(`<polyline fill="none" stroke-width="2.5" points="`)
		for i, p := range pts {
			x, y := m.xy(p.Lat, p.Lon)
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(num(x) + "," + num(y))
		}
		b.WriteString(`"/>`)
		x0, y0 := m.xy(pts[0].Lat, pts[0].Lon)
		xn, yn := m.xy(pts[len(pts)-1].Lat, pts[len(pts)-1].Lon)
		fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="4"/>`, num(x0), num(y0))
		fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="2.5" fill-opacity="1"/>`, num(xn), num(yn))
	case Mark:
		x, y := m.XY(s.Points[0])
		fmt.Fprintf(b, `<path stroke-width="2" fill-opacity="0.9" d="M%s %sl7 7l-7 7l-7-7z"/>`, num(x), num(y-7))
	}
	if s.Label != "" {
		if lp.moved {
			// A leader line from the feature to the nearest point of
			// its label, moved away so as not to cover another.
			bx := math.Max(lp.box.x0, math.Min(lp.ax, lp.box.x1))
			by := math.Max(lp.box.y0, math.Min(lp.ay, lp.box.y1))
			fmt.Fprintf(b, `<line class="leader" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#f1f3f5" stroke-width="1" stroke-dasharray="none"/>`,
				num(lp.ax), num(lp.ay), num(bx), num(by))
		}
		fmt.Fprintf(b, `<text x="%s" y="%s" fill="#f1f3f5" stroke="#0b2942" stroke-width="3" paint-order="stroke" font-size="%s" font-family="system-ui, sans-serif">%s</text>`,
			num(lp.x), num(lp.y), num(labelSize), esc(s.Label))
	}
	b.WriteString(`</g>`)
	if s.Href != "" {
		b.WriteString(`</a>`)
	}
}

// drawLand draws the land polygons that reach into the view, each copied
// a turn east or west where that brings it into view, clipped to the view.
func (m *Map) drawLand(b *strings.Builder) {
	polys, err := land()
	if err != nil {
		return // the embedded data is tested; a map without land still shows the features
	}
	vb := m.Bounds
	b.WriteString(`<path class="land" fill="#3b4a3f" stroke="#8fa98f" stroke-width="0.7" fill-rule="evenodd" d="`)
	for _, poly := range polys {
		outer := poly[0]
		for _, off := range []float64{-360, 0, 360} {
			if outer.north < vb.South || outer.south > vb.North || outer.east+off < vb.West || outer.west+off > vb.East {
				continue
			}
			for _, r := range poly {
				m.ringPath(b, r.pts, off)
			}
		}
	}
	b.WriteString(`"/>`)
}

// ringPath writes one ring as a closed path, clipped to the view (with a
// small margin) and thinned to points at least half a pixel apart.
func (m *Map) ringPath(b *strings.Builder, pts []Point, off float64) {
	xy := make([][2]float64, len(pts))
	for i, p := range pts {
		x, y := m.xy(p.Lat, p.Lon+off)
		xy[i] = [2]float64{x, y}
	}
	xy = clip(xy, -4, -4, m.Width+4, m.Height+4)
	if len(xy) < 3 {
		return
	}
	var px, py float64
	n := 0
	for i, p := range xy {
		if i > 0 && math.Abs(p[0]-px) < 0.5 && math.Abs(p[1]-py) < 0.5 {
			continue
		}
		if n == 0 {
			b.WriteString("M")
		} else {
			b.WriteString("L")
		}
		b.WriteString(num(p[0]) + " " + num(p[1]))
		px, py = p[0], p[1]
		n++
	}
	b.WriteString("Z")
}

// clip cuts a closed polygon to a rectangle (Sutherland–Hodgman: the
// rectangle is convex, so the result is the part inside, with edges along
// the rectangle where the polygon leaves it).
func clip(pts [][2]float64, x0, y0, x1, y1 float64) [][2]float64 {
	type edge struct {
		in    func(p [2]float64) bool
		cross func(a, b [2]float64) [2]float64
	}
	atX := func(x float64) func(a, b [2]float64) [2]float64 {
		return func(a, b [2]float64) [2]float64 {
			t := (x - a[0]) / (b[0] - a[0])
			return [2]float64{x, a[1] + t*(b[1]-a[1])}
		}
	}
	atY := func(y float64) func(a, b [2]float64) [2]float64 {
		return func(a, b [2]float64) [2]float64 {
			t := (y - a[1]) / (b[1] - a[1])
			return [2]float64{a[0] + t*(b[0]-a[0]), y}
		}
	}
	edges := []edge{
		{func(p [2]float64) bool { return p[0] >= x0 }, atX(x0)},
		{func(p [2]float64) bool { return p[0] <= x1 }, atX(x1)},
		{func(p [2]float64) bool { return p[1] >= y0 }, atY(y0)},
		{func(p [2]float64) bool { return p[1] <= y1 }, atY(y1)},
	}
	for _, e := range edges {
		if len(pts) == 0 {
			return nil
		}
		var out [][2]float64
		prev := pts[len(pts)-1]
		for _, cur := range pts {
			switch {
			case e.in(cur) && !e.in(prev):
				out = append(out, e.cross(prev, cur), cur)
			case e.in(cur):
				out = append(out, cur)
			case e.in(prev):
				out = append(out, e.cross(prev, cur))
			}
			prev = cur
		}
		pts = out
	}
	return pts
}

// step picks a graticule spacing giving a few lines across span degrees.
func step(span float64) float64 {
	for _, s := range []float64{0.25, 0.5, 1, 2, 5, 10, 15, 30} {
		if span/s <= 8 {
			return s
		}
	}
	return 45
}

func (m *Map) drawGraticule(b *strings.Builder) {
	bd := m.Bounds
	s := step(math.Max(bd.North-bd.South, bd.East-bd.West))
	b.WriteString(`<g class="graticule" stroke="#4d6a82" stroke-width="0.5" stroke-dasharray="2 3" fill="#b8c7d6" font-size="11" font-family="system-ui, sans-serif">`)
	for lat := math.Ceil(bd.South/s) * s; lat <= bd.North; lat += s {
		_, y := m.xy(lat, bd.West)
		fmt.Fprintf(b, `<line x1="0" x2="%s" y1="%s" y2="%s"/><text x="4" y="%s" stroke="none">%s</text>`, num(m.Width), num(y), num(y), num(y-3), latText(lat))
	}
	for lon := math.Ceil(bd.West/s) * s; lon <= bd.East; lon += s {
		x, _ := m.xy(0, lon)
		fmt.Fprintf(b, `<line y1="0" y2="%s" x1="%s" x2="%s"/>`, num(m.Height), num(x), num(x))
		if x > 40 && x < m.Width-40 { // clear of the latitudes' labels
			fmt.Fprintf(b, `<text x="%s" y="%s" stroke="none">%s</text>`, num(x+3), num(m.Height-4), lonText(lon))
		}
	}
	b.WriteString(`</g>`)
}

// legendItem is a layer's place in the legend, below the map.
type legendItem struct {
	x     float64
	layer Layer
}

// legendRows lays the named layers out in rows across the width, by an
// estimate of their text's width (CJK characters are about twice as wide).
func legendRows(width float64, layers []Layer) [][]legendItem {
	var rows [][]legendItem
	var row []legendItem
	x := 8.0
	for _, l := range layers {
		if l.Name == "" {
			continue
		}
		w := 40.0
		for _, r := range l.Name {
			if r > 0x2e80 {
				w += 13
			} else {
				w += 7
			}
		}
		if x+w > width && len(row) > 0 {
			rows, row, x = append(rows, row), nil, 8
		}
		row = append(row, legendItem{x, l})
		x += w + 12
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}

// drawLegend draws the legend in a strip below the map, where it hides
// nothing.
func (m *Map) drawLegend(b *strings.Builder, rows [][]legendItem) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, `<g class="legend" font-size="12" font-family="system-ui, sans-serif"><rect y="%s" width="%s" height="%d" fill="#0d1117"/>`,
		num(m.Height), num(m.Width), 22*len(rows)+8)
	for i, row := range rows {
		y := m.Height + 8 + float64(22*i)
		for _, it := range row {
			l := it.layer
			dash := ""
			if l.Dashed {
				dash = ` stroke-dasharray="6 4"`
			}
			fill := l.Fill
			if fill == "" {
				fill = "none"
			}
			fmt.Fprintf(b, `<rect x="%s" y="%s" width="22" height="12" stroke="%s" fill="%s" fill-opacity="0.5" stroke-width="2"%s/><text x="%s" y="%s" fill="#e6edf3">%s</text>`,
				num(it.x), num(y+1), esc(l.Stroke), esc(fill), dash, num(it.x+30), num(y+12), esc(l.Name))
		}
	}
	b.WriteString(`</g>`)
}

// labelSize is the labels' font size, in the map's pixels.
const labelSize = 13

// box is a rectangle on the map, in its pixels.
type box struct{ x0, y0, x1, y1 float64 }

func (b box) overlaps(o box) bool { return b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1 }

// textWidth estimates the width of a label: CJK characters are about
// as wide as the font is high, others about 0.62 of it (a generous
// estimate for system-ui: room to spare keeps labels apart).
func textWidth(s string) float64 {
	w := 0.0
	for _, r := range s {
		if r > 0x2e80 {
			w += labelSize
		} else {
			w += labelSize * 0.62
		}
	}
	return w
}

// labelBox is the box of a label written from (x, y), its baseline's
// start, with a margin.
func labelBox(x, y float64, text string) box {
	return box{x - 2, y - labelSize - 1, x + textWidth(text) + 2, y + 5}
}

// label is where a shape's label is written: the start of its baseline,
// its box, the point of the feature it names and whether it was moved
// from its own place beside it (then a leader line joins them).
type label struct {
	x, y   float64
	box    box
	ax, ay float64
	moved  bool
}

// anchor is the point of a shape its label names, and the label's own
// place beside it: above the top of an area, ahead of a track's end (two
// tracks that meet part their labels), beside a mark.
func (m *Map) anchor(s Shape) (ax, ay, lx, ly float64) {
	switch s.Kind {
	case Area, Circle:
		ring := s.Points
		if s.Kind == Circle {
			ring = circleRing(s.Points[0], s.RadiusNM, 90)
		} else {
			ring = greatCircle(ring, true)
		}
		for i, p := range m.unwrapPath(ring) {
			x, y := m.xy(p.Lat, p.Lon)
			if i == 0 || y < ay {
				ax, ay = x, y
			}
		}
		return ax, ay, ax, ay - 6
	case Track:
		pts := m.unwrapPath(greatCircle(s.Points, false))
		ax, ay = m.xy(pts[len(pts)-1].Lat, pts[len(pts)-1].Lon)
		return ax, ay, ax + 7, ay - 7
	default:
		ax, ay = m.XY(s.Points[0])
		return ax, ay, ax + 9, ay - 9
	}
}

// placeLabels places every label, in the order the layers draw them, so
// that no two overlap: each at its own place if that is free, else at
// the nearest free place around it (rings of eight directions, further
// and further out, on the map while one is free there), joined to its
// feature by a leader line.
func (m *Map) placeLabels(layers []Layer) map[[2]int]label {
	out := map[[2]int]label{}
	taken := []box{m.scaleBox()}
	free := func(b box, inside bool) bool {
		if inside && (b.x0 < 0 || b.y0 < 0 || b.x1 > m.Width || b.y1 > m.Height) {
			return false
		}
		for _, t := range taken {
			if b.overlaps(t) {
				return false
			}
		}
		return true
	}
	dirs := [][2]float64{{1, 0}, {1, -1}, {0, -1}, {-1, -1}, {-1, 0}, {-1, 1}, {0, 1}, {1, 1}}
	for i, l := range layers {
		for j, s := range l.Shapes {
			if s.Label == "" || len(s.Points) == 0 {
				continue
			}
			ax, ay, lx, ly := m.anchor(s)
			w := textWidth(s.Label)
			lb := label{x: lx, y: ly, box: labelBox(lx, ly, s.Label), ax: ax, ay: ay}
			if !free(lb.box, false) {
				found := false
				for ring := 1; !found && ring < 400; ring++ {
					inside := ring < 40 // then anywhere, so that a place is always found
					for _, d := range dirs {
						x := ax + 9 + d[0]*float64(ring)*16
						if d[0] < 0 {
							x = ax - 9 - w + d[0]*float64(ring-1)*16
						} else if d[0] == 0 {
							x = ax - w/2
						}
						y := ay + 5 + d[1]*float64(ring)*(labelSize+6)
						if b := labelBox(x, y, s.Label); free(b, inside) {
							lb = label{x: x, y: y, box: b, ax: ax, ay: ay, moved: true}
							found = true
							break
						}
					}
				}
			}
			taken = append(taken, lb.box)
			out[[2]int{i, j}] = lb
		}
	}
	return out
}

// scale is the scale bar: its length in nautical miles and in pixels,
// and where it starts.
func (m *Map) scale() (nm, px, x0, y float64) {
	perPx := 60 / m.k // nautical miles per pixel: a degree of latitude is 60 NM
	nm = 0.1
	for _, p := range []float64{0.1, 1, 10, 100, 1000} {
		for _, f := range []float64{1, 2, 5} {
			if f*p/perPx <= 150 {
				nm = f * p
			}
		}
	}
	px = nm / perPx
	return nm, px, m.Width - px - 16, 22
}

// scaleBox is where the scale bar is drawn (labels keep out of it).
func (m *Map) scaleBox() box {
	_, px, x0, y := m.scale()
	return box{x0 - 8, y - 16, x0 + px + 8, y + 10}
}

// drawScale draws a scale bar at the top right of the map: a round
// number of nautical miles (1, 2 or 5 times a power of ten), between 60
// and 150 pixels long.
func (m *Map) drawScale(b *strings.Builder) {
	nm, px, x0, y := m.scale()
	unit := m.Unit
	if unit == "" {
		unit = "NM"
	}
	fmt.Fprintf(b, `<g class="scale" data-nm="%s" data-px="%s" data-unit="%s" font-size="12" font-family="system-ui, sans-serif">`, trim(nm), num(px), esc(unit))
	sb := m.scaleBox()
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" fill="#0d1117" fill-opacity="0.8"/>`, num(sb.x0), num(sb.y0), num(sb.x1-sb.x0), num(sb.y1-sb.y0))
	fmt.Fprintf(b, `<path d="M%s %sv6h%sv-6" stroke="#f1f3f5" stroke-width="2" fill="none"/>`, num(x0), num(y), num(px))
	fmt.Fprintf(b, `<text x="%s" y="%s" fill="#f1f3f5" text-anchor="middle">%s %s</text>`, num(x0+px/2), num(y-3), trim(nm), esc(unit))
	b.WriteString(`</g>`)
}

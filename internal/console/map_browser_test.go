package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hotline/internal/seamap"
)

// TestBrowserMapLabels: thirteen labels on one spot of the map (marks,
// tracks ending there, an area's top; Latin and Chinese), drawn by
// chromium with its fonts: no two labels' drawn boxes overlap, nor any
// the scale bar, and every label is on the map.
func TestBrowserMapLabels(t *testing.T) {
	needChromium(t)
	m := seamap.New(seamap.Bounds{South: 15, North: 20, West: 110, East: 115}, 720)
	c := seamap.Point{Lat: 17.5, Lon: 112.5}
	var marks, tracks []seamap.Shape
	for i := range 8 {
		marks = append(marks, seamap.Shape{Kind: seamap.Mark, Points: []seamap.Point{c}, Label: fmt.Sprintf("CPA 0.%d NM 10:2%dZ", i, i)})
	}
	for i := range 4 {
		tracks = append(tracks, seamap.Shape{Kind: seamap.Track, Points: []seamap.Point{{Lat: 17 + float64(i)/10, Lon: 112}, c}, Label: fmt.Sprintf("DDG-0%d 10:22Z", i)})
	}
	area := seamap.Shape{Kind: seamap.Area, Points: []seamap.Point{{Lat: 17.5, Lon: 112.4}, {Lat: 17.5, Lon: 112.6}, {Lat: 17, Lon: 112.6}, {Lat: 17, Lon: 112.4}}, Label: "海上实弹射击 驱逐舰173"}
	svg := m.SVG("labels", "thirteen labels on one spot", []seamap.Layer{{Name: "areas", Stroke: "#f00", Shapes: []seamap.Shape{area}},
		{Name: "tracks", Stroke: "#0f0", Shapes: tracks}, {Name: "marks", Stroke: "#00f", Shapes: marks}})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := newBrowser(t, ctx)
	js, _ := json.Marshal(svg)
	run(t, b, "draw the map", chromedp.Navigate("about:blank"),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.body.innerHTML = %s; undefined`, js)))
	type result struct {
		Labels int
		Bad    []string
	}
	got := eval[result](t, b, `(() => {
		const svg = document.querySelector("svg.seamap");
		const [w, h] = svg.dataset.map.split(",").map(Number);
		const boxes = [...svg.querySelectorAll("g.layer text")].map(t => ({b: t.getBBox(), s: t.textContent}));
		const sc = svg.querySelector("g.scale").getBBox();
		const bad = [];
		const over = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
		boxes.forEach((x, i) => {
			if (x.b.x < 0 || x.b.y < 0 || x.b.x + x.b.width > w || x.b.y + x.b.height > h) bad.push(x.s + " off the map");
			if (over(x.b, sc)) bad.push(x.s + " over the scale bar");
			boxes.slice(i + 1).forEach(y => { if (over(x.b, y.b)) bad.push(x.s + " over " + y.s); });
		});
		return {Labels: boxes.length, Bad: bad};
	})()`)
	if boardShots != "" {
		png := get(t, b, "shot", chromedp.FullScreenshot(100))
		_ = os.WriteFile(boardShots+"/map-labels.png", png, 0o644)
	}
	if got.Labels != 13 || len(got.Bad) > 0 {
		t.Errorf("%d labels drawn; overlapping: %q", got.Labels, got.Bad)
	}
}

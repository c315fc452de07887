package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"hotline/internal/ops"
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

// TestBrowserMapZoom: the map page zooms and pans by its buttons and by
// dragging; its scale bar follows the zoom (a round number, its length
// what the zoom makes of it), labels keep their size; a notice arriving
// live redraws the map and the view is kept; Whole map goes back.
func TestBrowserMapZoom(t *testing.T) {
	needChromium(t)
	usa, chn, _ := scene(t)
	d := newDesk(t, usa)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	b := newBrowser(t, ctx)
	logIn(t, b, d.srv.URL, "sam")
	ackTakeovers(t, b)
	run(t, b, "the map", chromedp.Navigate(d.srv.URL+"/console/map"), chromedp.WaitVisible(css(`svg.seamap path.land`)),
		chromedp.WaitVisible(css(`body[data-connection="live"]`)))
	type state struct {
		Transform string
		NM, PX    float64
		Bar       string
		Font      float64
	}
	read := func() state {
		return eval[state](t, b, `(() => {
			const svg = document.querySelector("#map svg.seamap"), sc = svg.querySelector("g.scale");
			const label = svg.querySelector("g.layer text");
			return {Transform: svg.querySelector("g.view").getAttribute("transform") || "", NM: Number(sc.dataset.nm), PX: Number(sc.dataset.px),
				Bar: sc.querySelector("text").textContent, Font: label ? Number(label.getAttribute("font-size")) * (() => { const m = (svg.querySelector("g.view").getAttribute("transform") || "").match(/scale\(([\d.]+)\)/); return m ? Number(m[1]) : 1; })() : 13};
		})()`)
	}
	start := read()
	if start.Bar != fmt.Sprint(start.NM)+" NM" || start.PX < 50 || start.PX > 150 {
		t.Fatalf("the scale bar at the start: %+v", start)
	}
	ackTakeovers(t, b)
	run(t, b, "zoom in", chromedp.Click(css(`button[data-map-zoom="in"]`)))
	in := read()
	if want := "scale(2) translate("; len(in.Transform) < len(want) || in.Transform[:len(want)] != want {
		t.Errorf("zoomed in: transform %q", in.Transform)
	}
	// The bar: pixels per nautical mile twice what they were.
	if r := (in.PX / in.NM) / (start.PX / start.NM); r < 1.98 || r > 2.02 || in.Bar != fmt.Sprint(in.NM)+" NM" || in.PX > 150 {
		t.Errorf("zoomed in, the scale bar %+v against %+v (ratio %.3f)", in, start, r)
	}
	if in.Font < 12.9 || in.Font > 13.1 {
		t.Errorf("zoomed in, a label is drawn %.1f px high, want 13", in.Font)
	}
	run(t, b, "pan east", chromedp.Click(css(`button[data-map-pan="e"]`)))
	east := read()
	if east.Transform == in.Transform {
		t.Errorf("panning east left the view at %q", east.Transform)
	}
	// Dragged 120 px to the right, from a shape (a link) if one is in
	// view: the view moves west, and the link is not followed.
	held := func(p *input.DispatchMouseEventParams) { p.Buttons = 1 } // the left button, held down
	// The scene's closest approach may take over the screen late, even
	// between the press and the moves: the drag is on the map, not on a
	// takeover, so a drag that moved nothing is made again (at most
	// three) once any takeover is acknowledged.
	var ex, dx, y float64
	fmt.Sscanf(east.Transform, "scale(2) translate(%g %g)", &ex, &y)
	var dragged state
	for attempt := 1; ; attempt++ {
		ackTakeovers(t, b)
		box := eval[[]float64](t, b, `(() => {
		const svg = document.querySelector("#map svg.seamap"), r = svg.getBoundingClientRect();
		for (const a of svg.querySelectorAll("g.layer a")) {
			const q = a.getBoundingClientRect(), x = q.left + q.width / 2, y = q.top + q.height / 2;
			const e = document.elementFromPoint(x, y);
			if (e && e.closest("a") === a && x > r.left && x < r.right - 130 && y > r.top && y < r.bottom) return [x, y, 1];
		}
		return [r.left + r.width / 2, r.top + r.height / 2, 0];
	})()`)
		t.Logf("dragging from %v (on a link: %v)", box[:2], box[2] == 1)
		if on := eval[string](t, b, fmt.Sprintf(`(e => e && e.closest("#map svg.seamap") ? "" : (e ? e.outerHTML.slice(0, 80) : "nothing"))(document.elementFromPoint(%v, %v))`, box[0], box[1])); on != "" {
			t.Fatalf("the map is under %s where the drag starts", on)
		}
		run(t, b, "drag", chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, box[0], box[1], chromedp.ButtonLeft),
			chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box[0]+60, box[1], chromedp.ButtonLeft, held),
			chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box[0]+120, box[1], chromedp.ButtonLeft, held),
			chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, box[0]+120, box[1], chromedp.ButtonLeft))
		dragged = read()
		if p := eval[string](t, b, `location.pathname`); p != "/console/map" {
			t.Fatalf("the drag followed a link to %s", p)
		}
		fmt.Sscanf(dragged.Transform, "scale(2) translate(%g %g)", &dx, &y)
		if dx > ex || attempt == 3 {
			break
		}
		// Under a heavily loaded machine, chromium now and then lets a
		// drag that starts on a link move nothing (the events reach the
		// page; why the view stays is not found yet): made again.
		t.Logf("drag %d moved nothing (a takeover up: %q): again", attempt, eval[string](t, b, takeoverKey))
	}
	if dx <= ex {
		t.Errorf("dragged east, the view went from %q to %q, not west", east.Transform, dragged.Transform)
	}
	// A notice arrives: the map is drawn again, in the same view.
	more, err := chn.SendNotice(t.Context(), ops.NoticeRequest{Channel: theatre, Notice: json.RawMessage(`{"kind":"air_patrol","title":"Air patrol","lang":"en",
		"area":{"circle":{"center":{"lat":15.5,"lon":113.5},"radius_nm":30}},"window":{"from":"2026-05-01T00:00:00Z","to":"2026-05-09T00:00:00Z"},"units":["Wing 2"],"call":"` + theatre + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, b, "the new notice, live", chromedp.WaitReady(css(fmt.Sprintf(`svg.seamap g[id=%q]`, "map-"+more.ID))))
	if after := read(); after.Transform != dragged.Transform || after.NM != dragged.NM {
		t.Errorf("drawn again live, the view went from %+v to %+v", dragged, after)
	}
	run(t, b, "whole map", chromedp.Click(css(`button[data-map-zoom="reset"]`)))
	if whole := read(); whole.Transform != "scale(1) translate(0 0)" || whole.NM != start.NM || whole.PX != start.PX {
		t.Errorf("the whole map again: %+v, at the start %+v", whole, start)
	}
}

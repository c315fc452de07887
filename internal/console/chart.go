package console

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// The time-to-acknowledge chart of one channel, drawn here as SVG: no
// charting library, no script. Messages received here are measured on
// this station's clock alone (stored → acknowledged); messages sent are
// measured from this station's send time to the peer's acknowledgement
// time, so the peer's clock skew is in them.

var ranges = map[string]time.Duration{"day": 24 * time.Hour, "week": 7 * 24 * time.Hour, "month": 30 * 24 * time.Hour}

func chartRange(r *http.Request) string {
	if _, ok := ranges[r.URL.Query().Get("range")]; ok {
		return r.URL.Query().Get("range")
	}
	return "day"
}

type point struct {
	at  time.Time
	min float64 // minutes to acknowledge
	id  string
}

type series struct {
	label  string
	points []point
}

func median(ps []point) float64 {
	if len(ps) == 0 {
		return 0
	}
	v := make([]float64, len(ps))
	for i, p := range ps {
		v[i] = p.min
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (s *Server) chart(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("chart", se)
	ch := r.PathValue("id")
	_, ms, err := s.conversation(r.Context(), ch)
	if err != nil {
		s.fail(w, err)
		return
	}
	rng := chartRange(r)
	end := s.cfg.Now().UTC()
	start := end.Add(-ranges[rng])
	in := series{label: d.T("chart_in")}
	out := series{label: d.T("chart_out")}
	for _, m := range ms {
		if !m.Acknowledged || m.AckAt == nil || m.ReceivedAt.Before(start) {
			continue
		}
		if m.Incoming {
			in.points = append(in.points, point{m.ReceivedAt, math.Max(0, m.AckAt.Sub(m.ReceivedAt).Minutes()), m.ID})
		} else {
			out.points = append(out.points, point{m.SentAt, math.Max(0, m.AckAt.Sub(m.SentAt).Minutes()), m.ID})
		}
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Write(drawChart(d, ch, rng, start, end, in, out))
}

// drawChart returns the SVG. Every label goes through template escaping.
func drawChart(d *pageData, ch, rng string, start, end time.Time, in, out series) []byte {
	const (
		W, H                = 720, 240
		left, right, top, b = 56, 16, 28, 40
	)
	pw, ph := float64(W-left-right), float64(H-top-b)
	ymax := 1.0
	for _, s := range []series{in, out} {
		for _, p := range s.points {
			ymax = math.Max(ymax, p.min)
		}
	}
	ymax = niceCeil(ymax)
	x := func(t time.Time) float64 {
		return left + pw*float64(t.Sub(start))/float64(end.Sub(start))
	}
	y := func(v float64) float64 { return top + ph - ph*v/ymax }
	var buf bytes.Buffer
	esc := template.HTMLEscapeString
	title := fmt.Sprintf("%s: %s (%s)", d.T("chart"), ch, d.T(rng))
	fmt.Fprintf(&buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="t">`, W, H, W, H)
	fmt.Fprintf(&buf, `<title id="t">%s</title>`, esc(title))
	fmt.Fprintf(&buf, `<rect width="%d" height="%d" fill="#10151c"/>`, W, H)
	// Axes and grid.
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		fmt.Fprintf(&buf, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#2c3642" stroke-width="1"/>`, left, W-right, y(v), y(v))
		fmt.Fprintf(&buf, `<text x="%d" y="%.1f" fill="#c9d3de" font-size="11" text-anchor="end" font-family="sans-serif">%s</text>`, left-6, y(v)+4, trimFloat(v))
	}
	fmt.Fprintf(&buf, `<text x="12" y="%d" fill="#c9d3de" font-size="11" font-family="sans-serif" transform="rotate(-90 12 %d)" text-anchor="middle">%s</text>`, top+int(ph/2), top+int(ph/2), esc(d.T("minutes")))
	for i := 0; i <= 4; i++ {
		t := start.Add(time.Duration(float64(end.Sub(start)) * float64(i) / 4))
		label := t.Format("01-02 15:04Z")
		fmt.Fprintf(&buf, `<text x="%.1f" y="%d" fill="#c9d3de" font-size="11" text-anchor="middle" font-family="sans-serif">%s</text>`, x(t), H-b+16, label)
	}
	// Points: received (filled circles), sent (hollow squares).
	for _, p := range in.points {
		fmt.Fprintf(&buf, `<circle cx="%.1f" cy="%.1f" r="4" fill="#5fb3ff"><title>%s: %s min</title></circle>`, x(p.at), y(p.min), esc(p.id), trimFloat(p.min))
	}
	for _, p := range out.points {
		fmt.Fprintf(&buf, `<rect x="%.1f" y="%.1f" width="8" height="8" fill="none" stroke="#ffb347" stroke-width="2"><title>%s: %s min</title></rect>`, x(p.at)-4, y(p.min)-4, esc(p.id), trimFloat(p.min))
	}
	// Legend with medians.
	legend := func(i int, s series, mark string) {
		lx := left + 8 + i*320
		fmt.Fprint(&buf, fmt.Sprintf(mark, lx, 12))
		fmt.Fprintf(&buf, `<text x="%d" y="16" fill="#e8eef5" font-size="12" font-family="sans-serif">%s · n=%d · median %s min</text>`, lx+14, esc(s.label), len(s.points), trimFloat(median(s.points)))
	}
	legend(0, in, `<circle cx="%d" cy="%d" r="4" fill="#5fb3ff"/>`)
	legend(1, out, `<rect x="%d" y="%d" width="8" height="8" transform="translate(-4 -4)" fill="none" stroke="#ffb347" stroke-width="2"/>`)
	if len(in.points)+len(out.points) == 0 {
		fmt.Fprintf(&buf, `<text x="%d" y="%d" fill="#c9d3de" font-size="14" text-anchor="middle" font-family="sans-serif">%s</text>`, left+int(pw/2), top+int(ph/2), esc(d.T("no_acks")))
	}
	buf.WriteString(`</svg>`)
	return buf.Bytes()
}

func niceCeil(v float64) float64 {
	for _, n := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 720, 1440, 2880, 10080, 43200} {
		if v <= n {
			return n
		}
	}
	return math.Ceil(v)
}

func trimFloat(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

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

	"hotline/internal/ops"
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

// The communication check chart of one channel, from Ops.Checks: for the
// last day, week and month, the answer rate of this station's operator
// checks and of its machine-answered link tests (left), and the mean
// time a person at the peer took to answer a check (right).

func (s *Server) checksChart(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("chart", se)
	v, err := s.cfg.Ops.Checks(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Write(drawChecks(d, v))
}

// meanAnswer is a period's mean time to answer a check, zero if none.
func meanAnswer(p ops.CheckStats) time.Duration {
	d, _ := time.ParseDuration(p.MeanAnswer)
	return d
}

// drawChecks returns the SVG. Every label goes through template escaping.
func drawChecks(d *pageData, v *ops.ChecksView) []byte {
	const (
		W, H              = 720, 240
		top, bottom, half = 40, 44, 360
	)
	ph := float64(H - top - bottom)
	var buf bytes.Buffer
	esc := template.HTMLEscapeString
	title := fmt.Sprintf("%s: %s", d.T("checks_chart"), v.Channel)
	fmt.Fprintf(&buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="ct">`, W, H, W, H)
	fmt.Fprintf(&buf, `<title id="ct">%s</title>`, esc(title))
	fmt.Fprintf(&buf, `<rect width="%d" height="%d" fill="#10151c"/>`, W, H)
	text := func(x, y float64, size int, anchor, fill, s string) {
		fmt.Fprintf(&buf, `<text x="%.1f" y="%.1f" fill="%s" font-size="%d" text-anchor="%s" font-family="sans-serif">%s</text>`, x, y, fill, size, anchor, esc(s))
	}
	// Left: answer rates, 0 to 100 %.
	const left, lw = 48.0, 290.0
	y := func(rate float64) float64 { return top + ph - ph*rate }
	text(left, 18, 12, "start", "#e8eef5", d.T("answer_rate"))
	for i := 0; i <= 4; i++ {
		r := float64(i) / 4
		fmt.Fprintf(&buf, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#2c3642"/>`, left, left+lw, y(r), y(r))
		text(left-6, y(r)+4, 11, "end", "#c9d3de", fmt.Sprintf("%d%%", i*25))
	}
	group := lw / float64(max(len(v.Periods), 1))
	for i, p := range v.Periods {
		gx := left + group*float64(i)
		bar := func(j int, rate *float64, fill, label string) {
			x := gx + 10 + float64(j)*(group-20)/2
			bw := (group-20)/2 - 4
			if rate == nil {
				text(x+bw/2, y(0)-4, 10, "middle", "#c9d3de", "—")
				return
			}
			fmt.Fprintf(&buf, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`, x, y(*rate), bw, y(0)-y(*rate), fill, esc(label))
			text(x+bw/2, y(*rate)-4, 10, "middle", "#e8eef5", fmt.Sprintf("%.0f%%", *rate*100))
		}
		bar(0, p.AnswerRate, "#5fb3ff", fmt.Sprintf("%s %s: %d/%d", d.T(p.Period), d.T("operator_checks"), p.Answered, p.Checks))
		bar(1, p.LinkRate, "#ffb347", fmt.Sprintf("%s %s: %d/%d", d.T(p.Period), d.T("link_tests"), p.LinkAnswered, p.LinkTests))
		text(gx+group/2, H-bottom+16, 11, "middle", "#c9d3de", fmt.Sprintf("%s %d/%d", d.T(p.Period), p.Answered, p.Checks))
	}
	fmt.Fprintf(&buf, `<rect x="%.1f" y="%d" width="10" height="10" fill="#5fb3ff"/>`, left, H-18)
	text(left+14, H-9, 11, "start", "#e8eef5", d.T("operator_checks"))
	fmt.Fprintf(&buf, `<rect x="%.1f" y="%d" width="10" height="10" fill="#ffb347"/>`, left+150, H-18)
	text(left+164, H-9, 11, "start", "#e8eef5", d.T("link_tests"))

	// Right: mean time to answer an operator check.
	const rl, rw = half + 64.0, 270.0
	var tmax time.Duration
	for _, p := range v.Periods {
		tmax = max(tmax, meanAnswer(p))
	}
	scale := niceCeil(math.Max(tmax.Minutes(), 1))
	ty := func(m float64) float64 { return top + ph - ph*m/scale }
	text(rl, 18, 12, "start", "#e8eef5", d.T("time_to_answer"))
	for i := 0; i <= 4; i++ {
		m := scale * float64(i) / 4
		fmt.Fprintf(&buf, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#2c3642"/>`, rl, rl+rw, ty(m), ty(m))
		text(rl-6, ty(m)+4, 11, "end", "#c9d3de", trimFloat(m))
	}
	fmt.Fprintf(&buf, `<text x="%d" y="%d" fill="#c9d3de" font-size="11" font-family="sans-serif" transform="rotate(-90 %d %d)" text-anchor="middle">%s</text>`, half+18, top+int(ph/2), half+18, top+int(ph/2), esc(d.T("minutes")))
	rgroup := rw / float64(max(len(v.Periods), 1))
	for i, p := range v.Periods {
		x := rl + rgroup*float64(i) + rgroup/4
		bw := rgroup / 2
		if m := meanAnswer(p); p.MeanAnswer != "" {
			fmt.Fprintf(&buf, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#8ce99a"><title>%s: %s</title></rect>`, x, ty(m.Minutes()), bw, ty(0)-ty(m.Minutes()), esc(d.T(p.Period)), esc(p.MeanAnswer))
			text(x+bw/2, ty(m.Minutes())-4, 10, "middle", "#e8eef5", p.MeanAnswer)
		} else {
			text(x+bw/2, ty(0)-4, 10, "middle", "#c9d3de", "—")
		}
		text(x+bw/2, H-bottom+16, 11, "middle", "#c9d3de", d.T(p.Period))
	}
	buf.WriteString(`</svg>`)
	return buf.Bytes()
}

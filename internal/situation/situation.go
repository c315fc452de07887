// Package situation turns what a station holds about deconfliction
// (notices of activities, encounter reports, incidents and findings) into
// the layers of a sea map (internal/seamap), within a time filter. The
// console's map page and the after-action report draw from it.
//
// Text is written in the operator's language from the entries' fields
// (the station's renderings in ops.MessageView.Rendered), never from
// a translation carried in them; free text stays as written.
package situation

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"hotline/internal/codebook"
	"hotline/internal/deconflict"
	"hotline/internal/ops"
	"hotline/internal/seamap"
)

// ErrFilter marks a time filter that cannot be read.
var ErrFilter = errors.New("time filter is not valid")

// FilterError is a time filter that cannot be read: what was wrong, as
// a format and its arguments, so that a console can say it in its
// operator's language. It is an ErrFilter.
type FilterError struct {
	Format string
	Args   []string
}

func (e *FilterError) Error() string {
	args := make([]any, len(e.Args))
	for i, a := range e.Args {
		args[i] = a
	}
	return ErrFilter.Error() + ": " + fmt.Sprintf(e.Format, args...)
}

func (e *FilterError) Unwrap() error { return ErrFilter }

func filterError(format string, args ...string) error {
	return &FilterError{Format: format, Args: args}
}

// MaxHours bounds "now ± hours".
const MaxHours = 24 * 400

// Filter is a time window: what was active at any time in [From, To]
// is shown. A zero From or To leaves that side open.
type Filter struct {
	From, To time.Time
	Hours    int // when set, From and To are now ± Hours
}

// layouts are the ways a person may write a time in the filter.
var layouts = []string{time.RFC3339, "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

func parseTime(what, s string) (time.Time, error) {
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			if t.Year() < 2000 || t.Year() > 2199 {
				return time.Time{}, filterError("%s %q: the year must be 2000-2199", what, s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, filterError("%s %q is not a time like 2026-05-01T14:30Z (UTC) or 2026-05-01", what, s)
}

// ParseFilter reads a filter from a form: from and to (times, UTC unless
// they say otherwise; either may be empty), or hours (now ± that many
// hours), not both.
func ParseFilter(from, to, hours string, now time.Time) (Filter, error) {
	from, to, hours = strings.TrimSpace(from), strings.TrimSpace(to), strings.TrimSpace(hours)
	var f Filter
	if hours != "" {
		if from != "" || to != "" {
			return Filter{}, filterError("give from and to, or hours, not both")
		}
		h, err := strconv.Atoi(hours)
		if err != nil || h < 1 || h > MaxHours {
			return Filter{}, filterError("hours %q is not a whole number from 1 to %s", hours, strconv.Itoa(MaxHours))
		}
		d := time.Duration(h) * time.Hour
		return Filter{From: now.Add(-d).UTC(), To: now.Add(d).UTC(), Hours: h}, nil
	}
	var err error
	if from != "" {
		if f.From, err = parseTime("from", from); err != nil {
			return Filter{}, err
		}
	}
	if to != "" {
		if f.To, err = parseTime("to", to); err != nil {
			return Filter{}, err
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return Filter{}, filterError("from %s is not before to %s", from, to)
	}
	return f, nil
}

// Shows reports whether something active over [a, b] (b zero: at a
// only) falls in the filter.
func (f Filter) Shows(a, b time.Time) bool {
	if b.IsZero() || b.Before(a) {
		b = a
	}
	return (f.From.IsZero() || !b.Before(f.From)) && (f.To.IsZero() || !a.After(f.To))
}

// Lang is the station's name of a console language ("zh" → "zh-Hans").
func Lang(lang string) string {
	if lang == "zh" || lang == "zh-Hans" {
		return "zh-Hans"
	}
	return "en"
}

// names are the layers' names in the legend, and other words the map
// writes, in each language.
var names = map[string]map[string]string{
	"en": {
		"notices": "Notices of activities", "own_tracks": "Reports: our units", "other_tracks": "Reports: their units",
		"cpa": "Closest approach (findings)", "overlap": "Overlaps (findings)", "incidents": "Incidents",
		"cpa_label": "CPA %s NM", "overlap_label": "overlap %s NM", "finding": "Finding %d", "nm": "NM",
		"inc_open": "open", "inc_acknowledged": "acknowledged", "inc_under_discussion": "under discussion", "inc_closing": "closing", "inc_closed": "closed",
	},
	"zh-Hans": {
		"notices": "活动通报", "own_tracks": "报告：我方单位", "other_tracks": "报告：对方单位",
		"cpa": "最近会遇点（检查结果）", "overlap": "活动重叠（检查结果）", "incidents": "事件",
		"cpa_label": "最近会遇 %s海里", "overlap_label": "重叠 %s海里", "finding": "检查结果 %d", "nm": "海里",
		"inc_open": "已发起", "inc_acknowledged": "已确认", "inc_under_discussion": "讨论中", "inc_closing": "待关闭", "inc_closed": "已关闭",
	},
}

// incState is an incident's state in lang, as the station names it when
// the map does not know it.
func incState(lang, state string) string {
	if s, ok := names[Lang(lang)]["inc_"+state]; ok {
		return s
	}
	return state
}

// Name is a word of the map in lang.
func Name(lang, key string) string { return names[Lang(lang)][key] }

// Links make the hrefs of what the map shows; nil leaves them out.
type Links struct {
	Entry    func(id string) string
	Incident func(id string) string
	Finding  func(id int64) string
}

// Picture is what a map shows, and the points to fit the view to.
type Picture struct {
	Layers []seamap.Layer
	Points []seamap.Point
	// Counts of what is drawn, by layer name key.
	Counts map[string]int
	lang   string
}

// Map draws the picture, fitted to what it shows, at least 5° each way
// so that the nearest coasts give it a place (the South China Sea when it
// shows nothing).
func (p *Picture) Map(width float64) *seamap.Map {
	m := seamap.New(seamap.Fit(p.Points, 0.5, 5), width)
	m.Unit = Name(p.lang, "nm")
	return m
}

func pt(p codebook.Position) seamap.Point { return seamap.Point{Lat: p.Lat, Lon: p.Lon} }

// areaShape is the shape of a notice's area.
func areaShape(a deconflict.Area) (seamap.Shape, []seamap.Point) {
	if a.Circle != nil {
		c := pt(a.Circle.Center)
		// Fit to the circle's north, south, east and west.
		d := a.Circle.RadiusNM / 60
		dl := d / math.Max(math.Cos(c.Lat*math.Pi/180), 0.01)
		return seamap.Shape{Kind: seamap.Circle, Points: []seamap.Point{c}, RadiusNM: a.Circle.RadiusNM},
			[]seamap.Point{{Lat: c.Lat + d, Lon: c.Lon}, {Lat: c.Lat - d, Lon: c.Lon}, {Lat: c.Lat, Lon: c.Lon + dl}, {Lat: c.Lat, Lon: c.Lon - dl}}
	}
	pts := make([]seamap.Point, len(a.Polygon))
	for i, v := range a.Polygon {
		pts[i] = pt(v)
	}
	return seamap.Shape{Kind: seamap.Area, Points: pts}, pts
}

// Centre is a point to show an area at: the circle's centre, or the mean
// of the polygon's vertices (taken the short way round the antimeridian).
func Centre(a deconflict.Area) seamap.Point {
	if a.Circle != nil {
		return pt(a.Circle.Center)
	}
	return mean(toPoints(a.Polygon))
}

func toPoints(ps []codebook.Position) []seamap.Point {
	out := make([]seamap.Point, len(ps))
	for i, p := range ps {
		out[i] = pt(p)
	}
	return out
}

func mean(ps []seamap.Point) seamap.Point {
	if len(ps) == 0 {
		return seamap.Point{}
	}
	var lat, lon float64
	ref := ps[0].Lon
	for _, p := range ps {
		lat += p.Lat
		d := math.Mod(p.Lon-ref+540, 360) - 180
		lon += ref + d
	}
	n := float64(len(ps))
	return seamap.Point{Lat: lat / n, Lon: math.Mod(lon/n+540, 360) - 180}
}

// ahead dead-reckons a track minutes ahead (a line on the chart; over a
// quarter of an hour the difference from a rhumb line is a few metres).
func ahead(t deconflict.Track, minutes float64) seamap.Point {
	nm := t.SpeedKn * minutes / 60
	c := t.Course * math.Pi / 180
	lat := t.Position.Lat + nm*math.Cos(c)/60
	lon := t.Position.Lon + nm*math.Sin(c)/(60*math.Max(math.Cos(t.Position.Lat*math.Pi/180), 0.01))
	return seamap.Point{Lat: lat, Lon: lon}
}

func rendered(m ops.MessageView, lang string) string {
	if t := m.Rendered[Lang(lang)]; t != "" {
		return t
	}
	return m.Text
}

// Build gathers the picture from a station's messages (both directions),
// incidents and findings, keeping what the filter shows. self is this
// station's name: its reports' "own" units are ours. A notice amended by
// a later one held here is left out.
func Build(self string, msgs []ops.MessageView, incidents []ops.IncidentView, findings []ops.FindingView, f Filter, lang string, links Links) *Picture {
	lang = Lang(lang)
	n := names[lang]
	p := &Picture{Counts: map[string]int{}, lang: lang}
	notices := seamap.Layer{Name: n["notices"], Stroke: "#ffa94d", Fill: "#ffa94d", Dashed: false}
	own := seamap.Layer{Name: n["own_tracks"], Stroke: "#74c0fc", Fill: "#74c0fc"}
	other := seamap.Layer{Name: n["other_tracks"], Stroke: "#ff6b6b", Fill: "#ff6b6b"}
	cpa := seamap.Layer{Name: n["cpa"], Stroke: "#ffd43b", Fill: "#ffd43b"}
	overlap := seamap.Layer{Name: n["overlap"], Stroke: "#e599f7", Fill: "#e599f7"}
	incs := seamap.Layer{Name: n["incidents"], Stroke: "#ffffff", Fill: "#f03e3e"}
	href := func(fn func(string) string, id string) string {
		if fn == nil {
			return ""
		}
		return fn(id)
	}
	replaced := map[string]bool{}
	for _, m := range msgs {
		if m.Notice != nil && m.Notice.Replaces != nil {
			replaced[m.Notice.Replaces.String()] = true
		}
	}
	where := map[string][]seamap.Point{} // entry → where it is, for incidents
	sort.SliceStable(msgs, func(i, j int) bool { return msgs[i].SentAt.Before(msgs[j].SentAt) })
	for _, m := range msgs {
		switch {
		case m.Notice != nil:
			where[m.ID] = []seamap.Point{Centre(m.Notice.Area)}
			if replaced[m.ID] || !f.Shows(m.Notice.Window.From, m.Notice.Window.To) {
				continue
			}
			s, fit := areaShape(m.Notice.Area)
			s.Label = noticeLabel(m.Notice, m.From, lang)
			s.Title = m.ID + "\n" + rendered(m, lang)
			s.Href, s.ID = href(links.Entry, m.ID), "map-"+m.ID
			notices.Shapes = append(notices.Shapes, s)
			p.Points = append(p.Points, fit...)
			p.Counts["notices"]++
		case m.Report != nil:
			r := m.Report
			ours, theirs := r.Own, r.Other
			if m.From != self {
				ours, theirs = r.Other, r.Own
			}
			where[m.ID] = []seamap.Point{pt(r.Own.Position), pt(r.Other.Position)}
			if !f.Shows(r.Time, r.CPA.Time) {
				continue
			}
			title := m.ID + "\n" + rendered(m, lang)
			for _, tr := range []struct {
				t     deconflict.Track
				layer *seamap.Layer
				key   string
			}{{ours, &own, "own_tracks"}, {theirs, &other, "other_tracks"}} {
				end := ahead(tr.t, 15)
				tr.layer.Shapes = append(tr.layer.Shapes, seamap.Shape{Kind: seamap.Track, Points: []seamap.Point{pt(tr.t.Position), end},
					Label: tr.t.Unit + " " + r.Time.UTC().Format("15:04Z"), Title: title, Href: href(links.Entry, m.ID), ID: "map-" + m.ID + "-" + tr.key})
				p.Points = append(p.Points, pt(tr.t.Position), end)
				p.Counts[tr.key]++
			}
		}
	}
	for _, fd := range findings {
		to := fd.To
		if fd.Approach != nil {
			to = fd.Approach.Time
		}
		if !f.Shows(fd.From, to) {
			continue
		}
		var h string
		if links.Finding != nil {
			h = links.Finding(fd.ID)
		}
		title := fmt.Sprintf(n["finding"], fd.ID) + "\n" + fd.Text[lang]
		if fd.Text[lang] == "" {
			title = fmt.Sprintf(n["finding"], fd.ID) + "\n" + fd.Text["en"]
		}
		dist := strconv.FormatFloat(fd.DistanceNM, 'f', 1, 64)
		if a := fd.Approach; a != nil {
			cpa.Shapes = append(cpa.Shapes,
				seamap.Shape{Kind: seamap.Track, Points: []seamap.Point{pt(a.OwnAt), pt(a.OtherAt)}, Title: title, Href: h},
				seamap.Shape{Kind: seamap.Mark, Points: []seamap.Point{pt(a.OwnAt)}, Label: fmt.Sprintf(n["cpa_label"], dist) + " " + a.Time.UTC().Format("15:04Z"), Title: title, Href: h, ID: fmt.Sprintf("map-finding-%d", fd.ID)})
			p.Points = append(p.Points, pt(a.OwnAt), pt(a.OtherAt))
			p.Counts["cpa"]++
			continue
		}
		overlap.Shapes = append(overlap.Shapes, seamap.Shape{Kind: seamap.Mark, Points: []seamap.Point{pt(fd.Where)}, Label: fmt.Sprintf(n["overlap_label"], dist),
			Title: title, Href: h, ID: fmt.Sprintf("map-finding-%d", fd.ID)})
		p.Points = append(p.Points, pt(fd.Where))
		p.Counts["overlap"]++
	}
	for _, inc := range incidents {
		var first, last time.Time
		for _, st := range inc.Timeline {
			if first.IsZero() || st.At.Before(first) {
				first = st.At
			}
			if st.At.After(last) {
				last = st.At
			}
		}
		if inc.State != string(deconflict.StateClosed) {
			last = endOfTime // not closed: in force from its opening on
		}
		if !f.Shows(first, last) {
			continue
		}
		var at []seamap.Point
		for _, l := range inc.Links {
			at = append(at, where[l]...)
		}
		if len(at) == 0 {
			continue // about nothing with a place
		}
		c := mean(at)
		incs.Shapes = append(incs.Shapes, seamap.Shape{Kind: seamap.Mark, Points: []seamap.Point{c},
			Label: inc.Title + " · " + incState(lang, inc.State), Title: inc.ID + "\n" + inc.Title + " (" + incState(lang, inc.State) + ")",
			Href: href(links.Incident, inc.ID), ID: "map-incident-" + inc.ID})
		p.Points = append(p.Points, c)
		p.Counts["incidents"]++
	}
	for _, l := range []seamap.Layer{notices, own, other, overlap, cpa, incs} {
		if len(l.Shapes) > 0 {
			p.Layers = append(p.Layers, l)
		}
	}
	return p
}

var endOfTime = time.Date(2199, 12, 31, 23, 59, 59, 0, time.UTC)

// noticeLabel is a short label: the kind, the title or the units.
func noticeLabel(n *deconflict.Notice, from, lang string) string {
	s := from + " " + n.Kind.Text(lang)
	if n.Title != "" {
		s += ": " + n.Title
	} else if len(n.Units) > 0 {
		s += ": " + n.Units[0]
	}
	return s
}

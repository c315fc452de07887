package console

// Deconfliction in the console (docs/DECONFLICTION.md, docs/CONSOLE.md):
// coded messages, notices, encounter reports and incident entries shown
// in the operator's language; the incidents and their timelines; the map
// of notices, reports, findings and incidents, drawn here as SVG from the
// embedded coastline (internal/seamap, internal/situation); and the
// after-action report of an incident (internal/afteraction).

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"hotline/internal/afteraction"
	"hotline/internal/badrequest"
	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/situation"
)

// Rendered is a coded message, notice, report or incident entry written
// in the operator's language from its codes and fields (never from a
// translation carried in it); other messages as their text.
func (p *pageData) Rendered(m ops.MessageView) string {
	if t := m.Rendered[situation.Lang(p.Lang)]; t != "" {
		return t
	}
	return m.Text
}

// Lines are a coded message's items in the operator's language.
func (p *pageData) Lines(c *ops.CodedView) []ops.LineView {
	if c == nil {
		return nil
	}
	if ls, ok := c.Lines[situation.Lang(p.Lang)]; ok {
		return ls
	}
	return c.Lines["en"]
}

// StepText is an incident step written in the operator's language.
func (p *pageData) StepText(st ops.IncidentStepView) string {
	if t := st.Rendered[situation.Lang(p.Lang)]; t != "" {
		return t
	}
	return st.Rendered["en"]
}

// FindingText is a finding written in the operator's language.
func (p *pageData) FindingText(f ops.FindingView) string {
	if t := f.Text[situation.Lang(p.Lang)]; t != "" {
		return t
	}
	return f.Text["en"]
}

// Suggestion is a finding's suggested message in the operator's language.
func (p *pageData) Suggestion(f ops.FindingView) []ops.LineView {
	return p.Lines(f.Suggest)
}

func incidentHref(id string) string { return "/console/incident?id=" + url.QueryEscape(id) }

// IncidentHref links to an incident's page.
func (p *pageData) IncidentHref(id string) string { return incidentHref(id) }

// IncidentOf is the incident an incident entry belongs to: the entry
// that opened it.
func (p *pageData) IncidentOf(m ops.MessageView) string {
	if m.Incident != nil && m.Incident.Incident != nil {
		return m.Incident.Incident.String()
	}
	return m.ID
}

// ReportHref links to an incident's after-action report.
func (p *pageData) ReportHref(id string) string {
	return "/console/incident/report?id=" + url.QueryEscape(id)
}

// EntryHref links to an entry in its channel's conversation.
func (p *pageData) EntryHref(id string) string { return entryHref(id) }

func entryHref(id string) string {
	ch, _, _, err := ops.ParseID(id)
	if err != nil {
		return ""
	}
	return "/console/channel/" + url.PathEscape(ch) + "#m-" + id
}

var findingAlert = regexp.MustCompile(`^FINDING (\d+) on `)

// Finding is the number of the finding an alert raises, or 0.
func (a alertLine) Finding() int64 {
	m := findingAlert.FindStringSubmatch(a.Text)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// mapView is the map page: the filter as given, the map, and what it
// shows as a list for those who cannot see it.
type mapView struct {
	From, To, Hours string
	Filter          situation.Filter
	Error           string
	Query           string // the filter, for the live fragment
	SVG             template.HTML
	Items           []mapItem
	Findings        []ops.FindingView
	Bounds          string
}

type mapItem struct {
	Layer, Label, Title, Href string
}

// picture gathers every message, incident and finding the station holds.
func (s *Server) gather(ctx context.Context) ([]ops.MessageView, []ops.IncidentView, []ops.FindingView, error) {
	in, err := s.cfg.Ops.Inbox(ctx, "")
	if err != nil {
		return nil, nil, nil, err
	}
	out, err := s.cfg.Ops.Outbox(ctx, "")
	if err != nil {
		return nil, nil, nil, err
	}
	incs, err := s.cfg.Ops.Incidents(ctx, "")
	if err != nil {
		return nil, nil, nil, err
	}
	fs, err := s.cfg.Ops.Findings(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	return append(in, out...), incs, fs, nil
}

// mapOf draws the map of what the filter shows.
func (s *Server) mapOf(ctx context.Context, q url.Values, lang string) (*mapView, error) {
	v := &mapView{From: q.Get("from"), To: q.Get("to"), Hours: q.Get("hours")}
	f, err := situation.ParseFilter(v.From, v.To, v.Hours, s.cfg.Now())
	if err != nil {
		return v, fmt.Errorf("%w: %w", badrequest.Err, err)
	}
	v.Filter = f
	keep := url.Values{}
	for _, k := range []string{"from", "to", "hours"} {
		if q.Get(k) != "" {
			keep.Set(k, q.Get(k))
		}
	}
	v.Query = keep.Encode()
	msgs, incs, fs, err := s.gather(ctx)
	if err != nil {
		return v, err
	}
	pic := situation.Build(s.cfg.Station, msgs, incs, fs, f, lang, situation.Links{
		Entry:    entryHref,
		Incident: incidentHref,
		Finding:  func(id int64) string { return fmt.Sprintf("#finding-%d", id) },
	})
	for _, fd := range fs {
		to := fd.To
		if fd.Approach != nil {
			to = fd.Approach.Time
		}
		if f.Shows(fd.From, to) {
			v.Findings = append(v.Findings, fd)
		}
	}
	m := pic.Map(960)
	v.Bounds = m.Bounds.String()
	cat := catalog(lang)
	v.SVG = template.HTML(m.SVG(cat["map"], fmt.Sprintf(cat["map_desc"], v.Bounds), pic.Layers))
	for _, l := range pic.Layers {
		for _, sh := range l.Shapes {
			if sh.Label == "" {
				continue
			}
			v.Items = append(v.Items, mapItem{Layer: l.Name, Label: sh.Label, Title: sh.Title, Href: sh.Href})
		}
	}
	return v, nil
}

func (s *Server) mapPage(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("map", se)
	var err error
	d.Map, err = s.mapOf(r.Context(), r.URL.Query(), d.Lang)
	if err == nil {
		err = s.fillTakeover(r.Context(), d)
	}
	if errors.Is(err, badrequest.Err) {
		// The page again with the filter as given and what was wrong with it.
		d.Map.Error = errText(err)
		if fe := (*situation.FilterError)(nil); errors.As(err, &fe) {
			d.Map.Error = filterText(d.Lang, fe)
		}
		var buf strings.Builder
		if err := pages.ExecuteTemplate(&buf, "map-page", d); err != nil {
			s.failPage(w, se, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(buf.String()))
		return
	}
	if err != nil {
		s.failPage(w, se, err)
		return
	}
	s.render(w, "map-page", d)
}

func (s *Server) incidentsPage(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("incidents", se)
	var err error
	if d.Incidents, err = s.cfg.Ops.Incidents(r.Context(), ""); err == nil {
		err = s.fillTakeover(r.Context(), d)
	}
	if err != nil {
		s.failPage(w, se, err)
		return
	}
	s.render(w, "incidents-page", d)
}

// incident finds one incident by the id of its opening entry.
func (s *Server) incident(ctx context.Context, id string, lang string) (*ops.IncidentView, *mapView, error) {
	ch, _, _, err := ops.ParseID(id)
	if err != nil {
		return nil, nil, bad("incident %q: %v", id, errText(err))
	}
	incs, err := s.cfg.Ops.Incidents(ctx, ch)
	if err != nil {
		return nil, nil, err
	}
	for i := range incs {
		if incs[i].ID == id {
			inc := &incs[i]
			msgs := append([]ops.MessageView(nil), inc.Linked...)
			pic := situation.Build(s.cfg.Station, msgs, []ops.IncidentView{*inc}, nil, situation.Filter{}, lang, situation.Links{Entry: entryHref, Incident: incidentHref})
			m := pic.Map(720)
			cat := catalog(lang)
			mv := &mapView{Bounds: m.Bounds.String()}
			mv.SVG = template.HTML(m.SVG(cat["map"]+" · "+inc.Title, fmt.Sprintf(cat["map_desc"], mv.Bounds), pic.Layers))
			return inc, mv, nil
		}
	}
	return nil, nil, bad("no incident %s here", id)
}

func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("incident", se)
	var err error
	if d.Incident, d.Map, err = s.incident(r.Context(), r.URL.Query().Get("id"), d.Lang); err == nil {
		err = s.fillTakeover(r.Context(), d)
	}
	if err != nil {
		s.failPage(w, se, err)
		return
	}
	s.render(w, "incident-page", d)
}

// report sends an incident's after-action report: one self-contained
// HTML document (its own styles, the map inline, no script, nothing
// fetched), in the operator's language.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	// A browser sent here by a role that may not have the report is
	// shown the refusal page, in the operator's language.
	if se, err := s.current(r); err == nil && !operator.Allowed(se.op.Role, operator.Report) {
		s.audit(r, se, "incident.report", r.URL.Query().Get("id"), "refused", fmt.Sprintf("role %s may not %s", se.op.Role, operator.Report))
		d := s.data("refused", se)
		d.Refused = string(operator.Report)
		s.renderCode(w, http.StatusForbidden, "refused-page", d)
		return
	}
	s.action(operator.Report, "incident.report", func(r *http.Request, se *session) (result, error) {
		id := r.URL.Query().Get("id")
		if _, _, _, err := ops.ParseID(id); err != nil {
			return result{target: id}, bad("incident %q: %v", id, errText(err))
		}
		rep, err := afteraction.Gather(r.Context(), s.cfg.Ops, id, s.cfg.Now())
		if err != nil {
			return result{target: id}, err
		}
		page, err := rep.HTML(se.op.Lang)
		if err != nil {
			return result{target: id}, err
		}
		return result{target: id, detail: fmt.Sprintf("%d entries with proofs", rep.Proven()), write: func(w http.ResponseWriter) {
			h := w.Header()
			// The document is a file to keep: its own styles inline, no script.
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", afteraction.FileName(id)))
			w.Write(page)
		}}, nil
	})(w, r)
}

func (s *Server) deconflictRoutes() {
	m := s.mux
	m.HandleFunc("GET /console/map", s.page(operator.Read, s.mapPage))
	m.HandleFunc("GET /console/incidents", s.page(operator.Read, s.incidentsPage))
	m.HandleFunc("GET /console/incident", s.page(operator.Read, s.incidentPage))
	m.HandleFunc("GET /console/incident/report", s.report)
	frag := func(name string, fill func(r *http.Request, d *pageData) error) http.HandlerFunc {
		return s.page(operator.Read, func(w http.ResponseWriter, r *http.Request, se *session) {
			d := s.data(name, se)
			if err := fill(r, d); err != nil {
				if errors.Is(err, badrequest.Err) {
					http.Error(w, errText(err), http.StatusBadRequest)
					return
				}
				s.fail(w, err)
				return
			}
			s.render(w, name, d)
		})
	}
	m.HandleFunc("GET /console/frag/map", frag("map", func(r *http.Request, d *pageData) (err error) {
		d.Map, err = s.mapOf(r.Context(), r.URL.Query(), d.Lang)
		return err
	}))
	m.HandleFunc("GET /console/frag/incidents", frag("incidents", func(r *http.Request, d *pageData) (err error) {
		d.Incidents, err = s.cfg.Ops.Incidents(r.Context(), "")
		return err
	}))
	m.HandleFunc("GET /console/frag/incident", frag("incident", func(r *http.Request, d *pageData) (err error) {
		d.Incident, d.Map, err = s.incident(r.Context(), r.URL.Query().Get("id"), d.Lang)
		return err
	}))
}

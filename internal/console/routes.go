package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/situation"
	"hotline/internal/store"
	"hotline/internal/transcript"
)

//go:embed assets
var assets embed.FS

var static, _ = fs.Sub(assets, "assets")

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"utc":        utc,
	"iso":        iso,
	"lowerState": lowerState,
	"deref": func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	},
	"sub":    func(a, b int) int { return a - b },
	"chanOf": func(id string) string { c, _, _ := strings.Cut(id, "/"); return c },
	"pct": func(v *float64) string {
		if v == nil {
			return "—"
		}
		return strconv.FormatFloat(*v*100, 'f', 0, 64) + "%"
	},
	"join": func(xs []string) string { return strings.Join(xs, ", ") },
	// ackKeys are the keys one button acknowledges: as many as one
	// request may name (the rest stay for the next press).
	"ackKeys": func(xs []string) string { return strings.Join(xs[:min(len(xs), maxAckKeys)], " ") },
	"ms":      func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" },
	"signedms": func(v float64) string {
		sign := ""
		if v > 0 {
			sign = "+"
		}
		return sign + strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	},
}).ParseFS(assets, "assets/pages.html"))

// pageData is what every template gets.
type pageData struct {
	Page    string
	Lang    string
	Station string
	Op      *store.Operator
	cat     map[string]string
	now     time.Time

	Board []boardRow
	// Refused is the permission a page needs that the operator's role
	// lacks (the refusal page).
	Refused string
	// Failure is why a page could not be drawn (the error page).
	Failure *failure
	// MissedCalls are the other party's calls nobody answered here and
	// nobody has returned, newest first.
	MissedCalls []ops.CallView
	Alarms      *alarmBoard
	Takeover    []takeoverItem
	// Cleared are the alarm groups whose condition cleared before anyone
	// acknowledged them: a notice, shown on every page, to whoever may
	// acknowledge them.
	Cleared   []alarmGroup
	Channel   *boardRow
	Messages  []message
	Range     string
	Checks    *ops.ChecksView
	Audit     []store.AuditRecord
	Older     int64
	Operators []operator.View
	Map       *mapView
	Incidents []ops.IncidentView
	Incident  *ops.IncidentView
	Calls     []ops.CallView
	Call      *ops.CallView
	// Broadcasts are this station's broadcasts, newest first; Broadcast
	// is one with where each party's copy stands; Multi is the groups
	// and what the form to send one offers.
	Broadcasts []ops.BroadcastView
	Broadcast  *ops.BroadcastView
	Multi      *broadcastsView
	// What the operator may do on the call's page.
	CallCanAnswer, CallCanTalk, CallCanEnd bool
}

// T translates a key.
func (p *pageData) T(key string) string {
	if s, ok := p.cat[key]; ok {
		return s
	}
	return key
}

// withData is a value handed to a sub-template with the page's data, so
// that the sub-template can translate: {{template "x" ($.With .Field)}}.
type withData struct {
	D *pageData
	V any
}

// With pairs a value with the page's data for a sub-template.
func (p *pageData) With(v any) withData { return withData{p, v} }

// Label translates a value the station names (a channel state, an alert
// level) under a catalog prefix; one the console does not know (added to
// the station later) is shown as the station names it.
func (p *pageData) Label(prefix, v string) string {
	if s, ok := p.cat[prefix+v]; ok {
		return s
	}
	return v
}

// CallElapsed is how long an answered call has lasted (to its end, or
// now), as m:ss or h:mm:ss; "" before an answer.
func (p *pageData) CallElapsed(c *ops.CallView) string {
	if c.AnsweredAt == nil {
		return ""
	}
	end := p.now
	if c.EndedAt != nil {
		end = *c.EndedAt
	}
	d := max(end.Sub(*c.AnsweredAt).Round(time.Second), 0)
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}

// CallPath says what a call's media goes over, in the operator's
// language: direct, or through which relay, and how often it failed over.
func (p *pageData) CallPath(m *ops.CallMediaView) string {
	s := p.cat["call_path_direct"]
	if m.Path == "relay" {
		s = fmt.Sprintf(p.cat["call_path_relay"], m.Via)
	}
	if m.Failovers > 0 {
		s += " · " + fmt.Sprintf(p.cat["call_failovers"], m.Failovers)
	}
	return s
}

// StationAlert is a station alert in the operator's language.
func (p *pageData) StationAlert(a *ops.AlertView) string { return alertText(p.Lang, *a) }

// AlertText is a line of the alerts list in the operator's language: a
// station alert translated, the console's own "channel down" written
// again from its fields.
func (p *pageData) AlertText(l alertLine) string {
	if !l.Console {
		return alertText(p.Lang, l.alert)
	}
	if p.Lang == "en" {
		return l.Text
	}
	return fmt.Sprintf(p.T("down_since"), utc(l.At))
}

// CanAckGroup reports whether the operator may acknowledge the alarms of
// a group: a supervisor's alert needs the permission to handle
// escalations, every other the permission to acknowledge.
func (p *pageData) CanAckGroup(g alarmGroup) bool {
	perm, ok := takesOver(g.Level)
	if !ok {
		perm = operator.Ack
	}
	return p.Op != nil && operator.Allowed(p.Op.Role, perm)
}

// OwnSuspension is this station's suspension of the channel shown, if any.
func (p *pageData) OwnSuspension() *ops.SuspensionView {
	if p.Channel == nil {
		return nil
	}
	for i, s := range p.Channel.Suspensions {
		if s.By == p.Station {
			return &p.Channel.Suspensions[i]
		}
	}
	return nil
}

// TakeoverAlerts counts the alerts (not messages) taking over the screen.
func (p *pageData) TakeoverAlerts() int {
	n := 0
	for _, t := range p.Takeover {
		if t.IsAlert() {
			n++
		}
	}
	return n
}

// TakeoverAlertKeys lists the keys of the alerts taking over the screen,
// for the button that acknowledges them all.
func (p *pageData) TakeoverAlertKeys() string {
	var keys []string
	for _, t := range p.Takeover {
		if t.IsAlert() {
			keys = append(keys, t.Key)
		}
	}
	return strings.Join(keys, " ")
}

// Can reports whether the operator's role allows a permission.
func (p *pageData) Can(perm string) bool {
	return p.Op != nil && operator.Allowed(p.Op.Role, operator.Permission(perm))
}

type dueView struct {
	At   time.Time
	Text string
}

// Due is a deadline and its countdown as of the page's drawing.
func (p *pageData) Due(at time.Time) dueView {
	return dueView{At: at, Text: countdown(p.cat, p.now, at)}
}

// ScriptText is the strings the page script needs, as JSON.
func (p *pageData) ScriptText() string {
	m := map[string]string{}
	for _, k := range scriptKeys {
		m[k] = p.T(k)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (s *Server) data(page string, se *session) *pageData {
	lang := "en"
	var op *store.Operator
	if se != nil {
		op = se.op
		lang = op.Lang
	}
	return &pageData{Page: page, Lang: lang, Station: s.cfg.Station, Op: op, cat: catalog(lang), now: s.cfg.Now()}
}

// render draws a template into a buffer first, so that a failure is an
// error page rather than half a page.
func (s *Server) render(w http.ResponseWriter, name string, d *pageData) {
	s.renderCode(w, http.StatusOK, name, d)
}

// renderCode is render with a status code.
func (s *Server) renderCode(w http.ResponseWriter, code int, name string, d *pageData) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, d); err != nil {
		s.cfg.Log.Error("console template", "template", name, "err", err)
		http.Error(w, "console: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// failure is what the error page says: a title (a catalogue key) and
// the station's own words, as it wrote them.
type failure struct{ Title, Detail string }

// failPage answers a page that cannot be drawn with a page in the
// operator's language (with the station's words for what went wrong):
// not found for bad input (an id nobody has), else a failure.
func (s *Server) failPage(w http.ResponseWriter, se *session, err error) {
	code, title := http.StatusInternalServerError, "error_failed"
	if errors.Is(err, badrequest.Err) {
		code, title = http.StatusNotFound, "error_not_found"
	}
	d := s.data("error", se)
	d.Failure = &failure{Title: title, Detail: errText(err)}
	s.renderCode(w, code, "error-page", d)
}

// MsgText is a message's text in the operator's language: a coded
// message, notice, report or incident entry as the station wrote it in
// that language from its codes and fields; anything else as sent.
func (p *pageData) MsgText(m ops.MessageView) string {
	if t := m.Rendered[situation.Lang(p.Lang)]; t != "" {
		return t
	}
	return m.Text
}

// MsgLang is the language of MsgText.
func (p *pageData) MsgLang(m ops.MessageView) string {
	if m.Rendered[situation.Lang(p.Lang)] != "" {
		return situation.Lang(p.Lang)
	}
	return m.Lang
}

// StepDetail is what the station did at a step of a message's ladder, in
// the operator's language.
func (p *pageData) StepDetail(detail string) string { return stepDetail(p.Lang, detail) }

func (s *Server) fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, badrequest.Err) {
		code = http.StatusNotFound
	}
	http.Error(w, errText(err), code)
}

// routes registers every page and action of the console, one area of it
// at a time. Everything but the login and the embedded files needs a
// session. Pages and actions check the operator's role on every request.
func (s *Server) routes() {
	s.assetRoutes()
	s.sessionRoutes()
	s.boardRoutes()
	s.messageRoutes()
	s.alertRoutes()
	s.shelveRoutes()
	s.channelRoutes()
	s.deconflictRoutes()
	s.broadcastRoutes()
	s.operatorRoutes()
	s.auditRoutes()
	s.transcriptRoutes()
	s.callRoutes()
}

// opRoute is a console action that does one of the station's operations.
type opRoute struct {
	Pattern string  // the route as the mux has it
	Op      *ops.Op // the operation, a row of ops.All
}

// opAction registers an action that does op. It requires the permission
// that op's row in ops.All names. The console writes no permission of its
// own for it, so the console and the table cannot disagree.
func (s *Server) opAction(pattern string, op *ops.Op, name string, f func(r *http.Request, se *session) (result, error)) {
	s.opRoutes = append(s.opRoutes, opRoute{Pattern: pattern, Op: op})
	limit := int64(maxBody)
	if op.MaxBody > 0 {
		limit = op.MaxBody
	}
	s.mux.HandleFunc(pattern, s.actionLimit(operator.Permission(op.Permission), name, limit, f))
}

// frag serves a fragment of a page that the script fetches again when
// the station's state changes. fill gathers the fragment's data.
func (s *Server) frag(name string, fill func(r *http.Request, d *pageData) error) http.HandlerFunc {
	return s.page(operator.Read, func(w http.ResponseWriter, r *http.Request, se *session) {
		d := s.data(name, se)
		if err := fill(r, d); err != nil {
			s.fail(w, err)
			return
		}
		s.render(w, name, d)
	})
}

// assetRoutes sends a bare visit to the console and serves the embedded
// styles and script.
func (s *Server) assetRoutes() {
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
	s.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
}

// sessionRoutes are logging in and out, and the operator's own session:
// who they are and the language they read.
func (s *Server) sessionRoutes() {
	m := s.mux
	m.HandleFunc("GET /console/login", s.loginPage)
	m.HandleFunc("POST /console/api/login", s.login)
	m.HandleFunc("POST /console/api/logout", s.logout)
	m.HandleFunc("GET /console/api/me", s.action(operator.Read, "", s.me))
	m.HandleFunc("POST /console/api/lang", s.action(operator.Read, "", s.setLang))
}

// loginPage shows the login form, or the board to an operator already in.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.current(r); err == nil {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	d := s.data("login", nil)
	if strings.HasPrefix(r.Header.Get("Accept-Language"), "zh") {
		d.Lang, d.cat = "zh", catalog("zh")
	}
	s.render(w, "login", d)
}

func (s *Server) me(r *http.Request, se *session) (result, error) {
	return result{body: map[string]any{"name": se.op.Name, "role": se.op.Role, "lang": se.op.Lang, "expires_at": se.ExpiresAt, "may": operator.Grants(se.op.Role)}}, nil
}

func (s *Server) setLang(r *http.Request, se *session) (result, error) {
	var req struct {
		Lang string `json:"lang"`
	}
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	return result{}, s.cfg.Operators.SetLang(r.Context(), se.actor(r), req.Lang)
}

// boardRoutes are the board and the channel pages with their charts, the
// fragments the script draws again, and the live events that tell it when.
func (s *Server) boardRoutes() {
	m := s.mux
	m.HandleFunc("GET /console/events", s.events)
	m.HandleFunc("GET /console/{$}", s.page(operator.Read, s.boardPage))
	m.HandleFunc("GET /console/channel/{id}", s.page(operator.Read, s.channelPage))
	m.HandleFunc("GET /console/chart/{id}", s.page(operator.Read, s.chart))
	m.HandleFunc("GET /console/chart/{id}/checks", s.page(operator.Read, s.checksChart))
	m.HandleFunc("GET /console/frag/board", s.frag("board", func(r *http.Request, d *pageData) (err error) {
		if d.Board, err = s.board(r.Context()); err != nil {
			return err
		}
		d.MissedCalls, err = s.missedCalls(r.Context())
		return err
	}))
	m.HandleFunc("GET /console/frag/conversation/{id}", s.frag("conversation", func(r *http.Request, d *pageData) (err error) {
		d.Channel, d.Messages, err = s.conversation(r.Context(), r.PathValue("id"))
		return err
	}))
	m.HandleFunc("GET /console/frag/checks/{id}", s.frag("checks-table", func(r *http.Request, d *pageData) (err error) {
		d.Checks, err = s.cfg.Ops.Checks(r.Context(), r.PathValue("id"))
		return err
	}))
	m.HandleFunc("GET /console/frag/call-head/{id...}", s.frag("call-head", func(r *http.Request, d *pageData) (err error) {
		d.Call, err = s.findCall(r, r.PathValue("id"))
		return err
	}))
	m.HandleFunc("GET /console/frag/channel-head/{id}", s.frag("channel-head", func(r *http.Request, d *pageData) (err error) {
		d.Channel, _, err = s.conversation(r.Context(), r.PathValue("id"))
		return err
	}))
}

// messageRoutes are sending a message and acknowledging one received.
func (s *Server) messageRoutes() {
	s.opAction("POST /console/api/send", ops.Send.Op, "send", s.send)
	s.opAction("POST /console/api/ack", ops.Ack.Op, "ack", s.ack)
}

func (s *Server) send(r *http.Request, se *session) (result, error) {
	var req ops.SendRequest
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	res := result{target: req.Channel, detail: req.Precedence}
	mv, err := s.cfg.Ops.Send(r.Context(), req)
	if err != nil {
		return res, err
	}
	res.body, res.target = mv, mv.ID
	res.detail = mv.Precedence + " on " + mv.Channel
	return res, nil
}

func (s *Server) ack(r *http.Request, se *session) (result, error) {
	var req struct {
		ID string `json:"id"`
	}
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	mv, err := s.cfg.Ops.Ack(r.Context(), req.ID, operator.RecordName(se.op))
	if err != nil {
		return result{target: req.ID}, err
	}
	return result{body: mv, target: mv.ID, detail: mv.Precedence}, nil
}

// alertRoutes are the alerts list, the takeover, and acknowledging alerts
// on the console. Who may acknowledge an alert depends on the alert, so
// ackAlerts checks each one.
func (s *Server) alertRoutes() {
	m := s.mux
	m.HandleFunc("GET /console/frag/alerts", s.frag("alerts", func(r *http.Request, d *pageData) (err error) {
		d.Alarms, err = s.alarms(r.Context())
		return err
	}))
	m.HandleFunc("GET /console/frag/takeover", s.frag("takeover", func(r *http.Request, d *pageData) (err error) {
		return s.fillTakeover(r.Context(), d)
	}))
	m.HandleFunc("POST /console/api/alerts/ack", s.action(operator.Read, "alert.ack", s.ackAlerts))
}

// channelRoutes are the acts on channels and peers: suspending and
// resuming, proposing and accepting, pinning a peer.
func (s *Server) channelRoutes() {
	s.opAction("POST /console/api/channels/{id}/suspend", ops.Suspend.Op, "suspend", s.suspension("suspend"))
	s.opAction("POST /console/api/channels/{id}/resume", ops.Resume.Op, "resume", s.suspension("resume"))
	s.opAction("POST /console/api/channels", ops.Propose.Op, "channel.propose", s.propose)
	s.opAction("POST /console/api/channels/{id}/accept", ops.Accept.Op, "channel.accept", s.accept)
	s.opAction("POST /console/api/peers", ops.AddPeer.Op, "peer.add", s.addPeer)
}

// suspension is the action that suspends or resumes (act) the channel in
// the path, with the reason in the body.
func (s *Server) suspension(act string) func(r *http.Request, se *session) (result, error) {
	return func(r *http.Request, se *session) (result, error) {
		var req struct {
			Reason string `json:"reason"`
		}
		if err := readJSON(r, &req); err != nil {
			return result{target: r.PathValue("id")}, err
		}
		return result{target: r.PathValue("id"), detail: req.Reason}, s.suspend(r, act, r.PathValue("id"), req.Reason, operator.RecordName(se.op))
	}
}

func (s *Server) propose(r *http.Request, se *session) (result, error) {
	var req ops.ProposeRequest
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	cv, err := s.cfg.Ops.Propose(r.Context(), req)
	return result{body: cv, target: req.Channel, detail: "to " + req.Peer + " at " + req.Level}, err
}

func (s *Server) accept(r *http.Request, se *session) (result, error) {
	cv, err := s.cfg.Ops.Accept(r.Context(), r.PathValue("id"))
	return result{body: cv, target: r.PathValue("id")}, err
}

func (s *Server) addPeer(r *http.Request, se *session) (result, error) {
	var req struct {
		Card        string `json:"card"`
		Fingerprint string `json:"fingerprint"`
	}
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	pv, err := s.cfg.Ops.AddPeer(r.Context(), []byte(req.Card), req.Fingerprint)
	if err != nil {
		return result{detail: req.Fingerprint}, err
	}
	return result{body: pv, target: pv.Name, detail: pv.Fingerprint}, nil
}

// operatorRoutes are the Administration page and the operators it keeps.
// The registry writes its own audit records of operator changes, so these
// actions have no name for the audit trail.
func (s *Server) operatorRoutes() {
	m := s.mux
	m.HandleFunc("GET /console/admin", s.page(operator.Operators, s.adminPage))
	m.HandleFunc("GET /console/api/operators", s.action(operator.Operators, "", s.listOperators))
	m.HandleFunc("POST /console/api/operators", s.action(operator.Operators, "", s.addOperator))
	m.HandleFunc("POST /console/api/operators/{name}/remove", s.action(operator.Operators, "", s.removeOperator))
	m.HandleFunc("POST /console/api/operators/{name}/unlock", s.action(operator.Operators, "", s.unlockOperator))
}

func (s *Server) listOperators(r *http.Request, se *session) (result, error) {
	vs, err := s.cfg.Operators.List(r.Context())
	return result{body: vs}, err
}

func (s *Server) addOperator(r *http.Request, se *session) (result, error) {
	var req operator.AddRequest
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	v, err := s.cfg.Operators.Add(r.Context(), se.actor(r), req)
	return result{body: v}, err
}

func (s *Server) removeOperator(r *http.Request, se *session) (result, error) {
	if r.PathValue("name") == se.op.Name {
		return result{}, bad("an operator cannot remove themselves")
	}
	return result{}, s.cfg.Operators.Remove(r.Context(), se.actor(r), r.PathValue("name"))
}

func (s *Server) unlockOperator(r *http.Request, se *session) (result, error) {
	return result{}, s.cfg.Operators.Unlock(r.Context(), se.actor(r), r.PathValue("name"))
}

// auditRoutes are the operator audit trail, as a page and as JSON.
func (s *Server) auditRoutes() {
	s.mux.HandleFunc("GET /console/audit", s.page(operator.AuditTrail, s.auditPage))
	s.mux.HandleFunc("GET /console/api/audit", s.action(operator.AuditTrail, "", s.auditRecords))
}

func (s *Server) auditRecords(r *http.Request, se *session) (result, error) {
	s.flushBeforeReading(r)
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	rs, err := s.cfg.Operators.Store.Audit(r.Context(), store.AuditQuery{Before: before, Limit: 500, Operator: r.URL.Query().Get("operator")})
	if rs == nil {
		rs = []store.AuditRecord{}
	}
	return result{body: rs}, err
}

// transcriptRoutes are exporting a channel's audit bundle and verifying
// one. Exporting, and verifying a channel's bundle, do the Export
// operation. Verifying an uploaded file asks nothing of the station, so
// it keeps the console's own permission.
func (s *Server) transcriptRoutes() {
	s.opAction("GET /console/api/export", ops.Export.Op, "export", s.exportBundle)
	s.opAction("POST /console/api/verify", ops.Export.Op, "verify", s.verifyChannel)
	s.mux.HandleFunc("POST /console/api/verify-bundle", s.verifyUpload)
}

// verifyChannel verifies a channel's audit bundle as the station exports it.
func (s *Server) verifyChannel(r *http.Request, se *session) (result, error) {
	ch := r.URL.Query().Get("channel")
	b, err := s.cfg.Ops.Export(r.Context(), ch)
	if err != nil {
		return result{target: ch}, err
	}
	rep, err := transcript.Verify(b)
	if err != nil {
		return result{target: ch}, fmt.Errorf("%w: %v", badrequest.Err, err)
	}
	return result{body: rep, target: ch, detail: "verified"}, nil
}

// suspend suspends or resumes a channel for this party, in the name of the
// operator; the reason is required for a suspension.
func (s *Server) suspend(r *http.Request, act, ch, reason, by string) error {
	if len(reason) > 500 || act == "suspend" && strings.TrimSpace(reason) == "" {
		return bad("a %s needs a reason (1-500 bytes)", act)
	}
	req := ops.SuspendRequest{Channel: ch, Reason: reason, By: by}
	var err error
	if act == "suspend" {
		_, err = s.cfg.Ops.Suspend(r.Context(), req)
	} else {
		_, err = s.cfg.Ops.Resume(r.Context(), req)
	}
	return err
}

func (s *Server) boardPage(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("board", se)
	var err error
	if d.Board, err = s.board(r.Context()); err == nil {
		d.MissedCalls, err = s.missedCalls(r.Context())
	}
	if err == nil {
		if d.Alarms, err = s.alarms(r.Context()); err == nil {
			err = s.fillTakeover(r.Context(), d)
		}
	}
	if err != nil {
		s.failPage(w, se, err)
		return
	}
	s.render(w, "board-page", d)
}

func (s *Server) channelPage(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("channel", se)
	var err error
	d.Channel, d.Messages, err = s.conversation(r.Context(), r.PathValue("id"))
	if err == nil {
		err = s.fillTakeover(r.Context(), d)
	}
	if err != nil {
		s.failPage(w, se, err)
		return
	}
	d.Range = chartRange(r)
	if d.Calls, err = s.cfg.Ops.Calls(r.Context(), d.Channel.ID); err != nil {
		s.failPage(w, se, err)
		return
	}
	if d.Checks, err = s.cfg.Ops.Checks(r.Context(), d.Channel.ID); err != nil {
		s.failPage(w, se, err)
		return
	}
	s.render(w, "channel-page", d)
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("audit", se)
	s.flushBeforeReading(r)
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	const page = 200
	var err error
	if d.Audit, err = s.cfg.Operators.Store.Audit(r.Context(), store.AuditQuery{Before: before, Limit: page}); err == nil {
		if d.Board, err = s.board(r.Context()); err == nil {
			err = s.fillTakeover(r.Context(), d)
		}
	}
	if err != nil {
		s.failPage(w, se, err)
		return
	}
	if len(d.Audit) == page {
		d.Older = d.Audit[page-1].ID
	}
	s.render(w, "audit-page", d)
}

// flushBeforeReading writes the counts of refusals whose interval ended,
// so that the audit trail read holds them.
func (s *Server) flushBeforeReading(r *http.Request) {
	if err := s.cfg.Operators.FlushRefusals(r.Context()); err != nil {
		s.cfg.Log.Error("audit trail write failed", "action", "refusals", "err", err)
	}
}

func (s *Server) adminPage(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("admin", se)
	var err error
	if d.Operators, err = s.cfg.Operators.List(r.Context()); err == nil {
		if d.Board, err = s.board(r.Context()); err == nil {
			err = s.fillTakeover(r.Context(), d)
		}
	}
	if err != nil {
		s.failPage(w, se, err)
		return
	}
	s.render(w, "admin-page", d)
}

// exportBundle sends a channel's audit bundle as a download.
func (s *Server) exportBundle(r *http.Request, se *session) (result, error) {
	ch := r.URL.Query().Get("channel")
	b, err := s.cfg.Ops.Export(r.Context(), ch)
	if err != nil {
		return result{target: ch}, err
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return result{target: ch}, err
	}
	return result{target: ch, detail: fmt.Sprintf("%d + %d entries", len(b.Logs[0].Entries), len(b.Logs[1].Entries)),
		write: func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", ch+".json"))
			w.Write(append(data, '\n'))
		}}, nil
}

func (s *Server) verifyUpload(w http.ResponseWriter, r *http.Request) {
	s.actionLimit(operator.Transcript, "verify", maxBundle, func(r *http.Request, se *session) (result, error) {
		b, err := transcript.ReadBundle(r.Body)
		if err != nil {
			return result{target: "uploaded bundle"}, fmt.Errorf("%w: %v", badrequest.Err, err)
		}
		rep, err := transcript.Verify(b)
		if err != nil {
			return result{target: b.Channel}, fmt.Errorf("%w: %v", badrequest.Err, err)
		}
		return result{body: rep, target: b.Channel, detail: "uploaded bundle verified"}, nil
	})(w, r)
}

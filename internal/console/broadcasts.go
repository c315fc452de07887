package console

// Broadcasts in the console (issue 24, docs/CONSOLE.md): one text sent to
// several parties at once, each party's copy an entry on that party's
// channel; the list of this station's broadcasts, a broadcast's page with
// where each party's copy stands (live), the form that sends one, and the
// groups of peers a station names.

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"hotline/internal/channel"
	"hotline/internal/operator"
	"hotline/internal/ops"
)

// broadcastsView is what the Broadcasts page shows besides the list:
// the groups, and what the form offers.
type broadcastsView struct {
	Groups []ops.GroupView
	// Peers are the pinned peers, by name.
	Peers []string
	// Levels are the levels of this station's agreed channels, highest
	// first: the form offers them when a party has several channels.
	Levels []string
}

func (s *Server) broadcastRoutes() {
	m := s.mux
	m.HandleFunc("GET /console/broadcasts", s.page(operator.Read, s.broadcastsPage))
	m.HandleFunc("GET /console/broadcast/{id}", s.page(operator.Read, s.broadcastPage))
	m.HandleFunc("GET /console/frag/broadcasts", s.frag("broadcasts", func(r *http.Request, d *pageData) (err error) {
		d.Broadcasts, err = s.cfg.Ops.Broadcasts(r.Context())
		return err
	}))
	m.HandleFunc("GET /console/frag/broadcast/{id}", s.frag("broadcast", func(r *http.Request, d *pageData) (err error) {
		d.Broadcast, err = s.cfg.Ops.BroadcastShow(r.Context(), r.PathValue("id"))
		return err
	}))
	s.opAction("POST /console/api/broadcasts", ops.Broadcast.Op, "broadcast", s.broadcast)
	s.opAction("POST /console/api/groups", ops.SetGroup.Op, "group.set", s.setGroup)
	s.opAction("POST /console/api/groups/remove", ops.RemoveGroup.Op, "group.remove", s.removeGroup)
}

// broadcast sends one text to several parties. The parties refused are
// in the view (and the audit record); the others are sent all the same.
func (s *Server) broadcast(r *http.Request, se *session) (result, error) {
	var req ops.BroadcastRequest
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	res := result{target: strings.Join(req.To, ","), detail: req.Precedence}
	bv, err := s.cfg.Ops.Broadcast(r.Context(), req)
	if err != nil {
		return res, err
	}
	res.body, res.target = bv, bv.ID
	res.detail = fmt.Sprintf("%s to %s: %d sent, %d refused", bv.Precedence, bv.To, bv.Sent, bv.Refused)
	for _, p := range bv.Parties {
		if p.Refused != "" {
			res.detail += "; " + p.Peer + ": " + p.Refused
		}
	}
	return res, nil
}

func (s *Server) setGroup(r *http.Request, se *session) (result, error) {
	var req ops.GroupRequest
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	g, err := s.cfg.Ops.SetGroup(r.Context(), req)
	return result{body: g, target: req.Name, detail: strings.Join(req.Peers, ",")}, err
}

func (s *Server) removeGroup(r *http.Request, se *session) (result, error) {
	var req ops.GroupRef
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	g, err := s.cfg.Ops.RemoveGroup(r.Context(), req.Name)
	return result{body: g, target: req.Name}, err
}

// broadcastsOf gathers the Broadcasts page: the list, the groups, the
// pinned peers and the levels of the agreed channels.
func (s *Server) broadcastsOf(ctx context.Context, d *pageData) error {
	var err error
	if d.Broadcasts, err = s.cfg.Ops.Broadcasts(ctx); err != nil {
		return err
	}
	v := &broadcastsView{}
	if v.Groups, err = s.cfg.Ops.Groups(ctx); err != nil {
		return err
	}
	ps, err := s.cfg.Ops.Peers(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		v.Peers = append(v.Peers, p.Name)
	}
	slices.Sort(v.Peers)
	chs, err := s.cfg.Ops.Channels(ctx)
	if err != nil {
		return err
	}
	for _, l := range channel.Levels {
		if slices.ContainsFunc(chs, func(c ops.ChannelView) bool { return c.Level == string(l) && c.Agreement == "active" }) {
			v.Levels = append(v.Levels, string(l))
		}
	}
	d.Multi = v
	return nil
}

func (s *Server) broadcastsPage(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("broadcasts", se)
	err := s.broadcastsOf(r.Context(), d)
	if err == nil {
		err = s.fillTakeover(r.Context(), d)
	}
	if err != nil {
		s.failPage(w, se, err)
		return
	}
	s.render(w, "broadcasts-page", d)
}

func (s *Server) broadcastPage(w http.ResponseWriter, r *http.Request, se *session) {
	d := s.data("broadcast", se)
	var err error
	d.Broadcast, err = s.cfg.Ops.BroadcastShow(r.Context(), r.PathValue("id"))
	if err == nil {
		err = s.fillTakeover(r.Context(), d)
	}
	if err != nil {
		s.failPage(w, se, err)
		return
	}
	s.render(w, "broadcast-page", d)
}

// BroadcastHref links to a broadcast's page.
func (p *pageData) BroadcastHref(id string) string { return "/console/broadcast/" + id }

// PartyStatus is where a party's copy stands, in the operator's language.
func (p *pageData) PartyStatus(status string) string {
	return p.Label("bstatus_", strings.ReplaceAll(status, " ", "_"))
}

// PartyStep is the name of a step of a party's ladder, in the operator's
// language: the steps of a message of this station's.
func (p *pageData) PartyStep(x ops.EscalationView) string {
	return p.T(stepName(x.Step, "text", false))
}

// refusalFormats are the reasons the station gives for a party of a
// broadcast it sent nothing to (internal/desk), in each other language,
// with the arguments by position. A reason not here is shown as the
// station wrote it.
var refusalFormats = map[string][]refusalFormat{
	"zh": {
		{regexp.MustCompile(`^not a pinned peer or a group$`), "既不是已固定的对端，也不是组"},
		{regexp.MustCompile(`^in group (.+) but no longer pinned$`), "属于组 ${1}，但已不再是固定的对端"},
		{regexp.MustCompile(`^no agreed channel at level (\S+)$`), "没有 ${1} 级别的已商定信道"},
		{regexp.MustCompile(`^no agreed channel$`), "没有已商定的信道"},
		{regexp.MustCompile(`^(\d+) channels, (.+): give a level$`), "有 ${1} 个信道（${2}）：请指定级别"},
		{regexp.MustCompile(`(?s)^channel (\S+) is suspended by (\S+): (.*)$`), "信道 ${1} 已被 ${2} 暂停：${3}"},
		{regexp.MustCompile(`^the station stopped or failed while writing it: see the channel's outbox$`), "本站在写入时停止或出错：请查看该信道的发件箱"},
	},
}

type refusalFormat struct {
	re *regexp.Regexp
	to string
}

// Refusal is why nothing was sent to a party, in the operator's language
// when the console knows the station's sentence, and whether it is.
func (p *pageData) Refusal(why string) (text string, translated bool) {
	if p.Lang == "en" {
		return why, true
	}
	for _, f := range refusalFormats[p.Lang] {
		if m := f.re.FindStringSubmatchIndex(why); m != nil {
			return string(f.re.ExpandString(nil, f.to, why, m)), true
		}
	}
	return why, false
}

// RefusalText is Refusal's text.
func (p *pageData) RefusalText(why string) string { t, _ := p.Refusal(why); return t }

// RefusalKnown is Refusal's second result.
func (p *pageData) RefusalKnown(why string) bool { _, ok := p.Refusal(why); return ok }

// To is how a broadcast was addressed, in the operator's language: every
// party, or the groups and peers named.
func (p *pageData) To(to string) string {
	names := strings.Split(to, ",")
	for i, n := range names {
		if n == ops.AllParties {
			names[i] = p.T("bc_to_everyone")
		}
	}
	return strings.Join(names, ", ")
}

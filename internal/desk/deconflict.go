package desk

// Deconfliction at the station (docs/DECONFLICTION.md): coded messages,
// notices, encounter reports and incident entries are written through
// the core like any entry; the station builds and checks them first, so
// that bad input is refused with the field named and nothing is sent, and
// renders what it holds in each language of the channel's codebook.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/codebook"
	"hotline/internal/deconflict"
	"hotline/internal/envelope"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
	"hotline/internal/store"
)

// channelBook returns a channel and the codebook its charter names.
func (s *Desk) channelBook(ctx context.Context, id string) (*record.Channel, *codebook.Codebook, error) {
	chs, err := s.db.Channels(ctx)
	if err != nil {
		return nil, nil, err
	}
	for i := range chs {
		if chs[i].ID != id {
			continue
		}
		ch, err := parseCharter(chs[i].Charter)
		if err != nil {
			return nil, nil, err
		}
		cb, err := codebook.Find(ch, s.st.Books()...)
		if err != nil {
			return nil, nil, badrequest.New("%v", err)
		}
		return &chs[i], cb, nil
	}
	return nil, nil, badrequest.New("%v: %q", protocol.ErrUnknownChannel, id)
}

// buildMessage builds and checks a coded message from request items.
func buildMessage(cb *codebook.Codebook, items []ops.CodedItem) (*codebook.Message, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: no items: give a code or free text", codebook.ErrMessage)
	}
	var out []codebook.Item
	for i, it := range items {
		if it.Code == "" {
			if len(it.Params)+len(it.Args) > 0 {
				return nil, &codebook.ItemError{Index: i, Err: fmt.Errorf("%w: free text has no parameters", codebook.ErrMessage)}
			}
			out = append(out, codebook.Item{Free: it.Free, Lang: it.Lang})
			continue
		}
		params := map[string]json.RawMessage{}
		for k, v := range it.Params {
			params[k] = v
		}
		names := make([]string, 0, len(it.Args))
		for k := range it.Args {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			if _, dup := params[k]; dup {
				return nil, &codebook.ItemError{Index: i, Code: it.Code, Param: k, Err: fmt.Errorf("%w: given twice", codebook.ErrMessage)}
			}
			raw, err := cb.ParseArg(it.Code, k, it.Args[k])
			if err != nil {
				if errors.Is(err, codebook.ErrUnknownCode) {
					return nil, &codebook.ItemError{Index: i, Code: it.Code, Err: err}
				}
				return nil, &codebook.ItemError{Index: i, Code: it.Code, Param: k, Err: err}
			}
			params[k] = raw
		}
		if len(params) == 0 {
			params = nil
		}
		out = append(out, codebook.Item{Code: it.Code, Params: params, Free: it.Free, Lang: it.Lang})
	}
	return cb.NewMessage(out...)
}

// submitEntry writes an entry through the core and returns it as a
// message once it is durable here.
func (s *Desk) submitEntry(ctx context.Context, ch string, kind envelope.Kind, prec envelope.Precedence, body []byte) (*ops.MessageView, error) {
	res, err := s.st.Call(ctx, func(id uint64) protocol.Event {
		return protocol.Submit{ID: id, Channel: ch, Kind: kind, Precedence: prec, Body: body}
	})
	if err != nil {
		return nil, AsBadRequest(err)
	}
	return s.message(ctx, ch, s.name, res.Index)
}

func precedenceOr(p string, def envelope.Precedence) (envelope.Precedence, error) {
	if p == "" {
		return def, nil
	}
	prec, err := envelope.ParsePrecedence(p)
	if err != nil {
		return 0, badrequest.New("%v", err)
	}
	return prec, nil
}

// SendCoded sends a message of standard phrases. It returns once the
// message is durable here.
func (s *Desk) SendCoded(ctx context.Context, r ops.CodedRequest) (*ops.MessageView, error) {
	prec, err := envelope.ParsePrecedence(r.Precedence)
	if err != nil {
		return nil, badrequest.New("%v", err)
	}
	if r.Finding != 0 {
		f, err := s.finding(ctx, r.Finding)
		if err != nil {
			return nil, err
		}
		if len(r.Items) > 0 {
			return nil, badrequest.New("give the items or the finding whose suggestion to send, not both")
		}
		if f.Suggest == nil {
			return nil, badrequest.New("finding %d suggests no message", f.ID)
		}
		for _, it := range f.Suggest.Items {
			r.Items = append(r.Items, ops.CodedItem{Code: it.Code, Params: it.Params, Free: it.Free, Lang: it.Lang})
		}
		if r.Channel == "" {
			r.Channel = f.Channel
		}
	}
	_, cb, err := s.channelBook(ctx, r.Channel)
	if err != nil {
		return nil, err
	}
	m, err := buildMessage(cb, r.Items)
	if err != nil {
		return nil, badrequest.New("coded message: %v", err)
	}
	body, err := m.Encode()
	if err != nil {
		return nil, err
	}
	return s.submitEntry(ctx, r.Channel, envelope.Coded, prec, body)
}

// SendNotice sends a notice of an activity.
func (s *Desk) SendNotice(ctx context.Context, r ops.NoticeRequest) (*ops.MessageView, error) {
	prec, err := precedenceOr(r.Precedence, envelope.Priority)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.channelBook(ctx, r.Channel); err != nil {
		return nil, err
	}
	if r.Plan != 0 {
		if len(r.Notice) > 0 {
			return nil, badrequest.New("give the notice or the plan to notify, not both")
		}
		p, err := s.plan(ctx, r.Plan)
		if err != nil {
			return nil, err
		}
		if p.Notice != "" {
			return nil, badrequest.New("plan %d was notified already, as %s", p.ID, p.Notice)
		}
		r.Notice = p.Body
	}
	n, err := deconflict.DecodeNotice(r.Notice)
	if err != nil {
		return nil, badrequest.New("%v", err)
	}
	body, err := n.Encode()
	if err != nil {
		return nil, err
	}
	// No check runs between the notice's writing and the plan's record of
	// it, so that the two are never taken for two activities.
	s.detectMu.Lock()
	m, err := s.submitEntry(ctx, r.Channel, envelope.Notice, prec, body)
	if err == nil && r.Plan != 0 {
		err = s.db.SetPlanNotice(ctx, r.Plan, m.ID)
	}
	s.detectMu.Unlock()
	if err != nil {
		return nil, err
	}
	if _, err := s.Detect(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// SendReport sends an encounter report.
func (s *Desk) SendReport(ctx context.Context, r ops.ReportRequest) (*ops.MessageView, error) {
	prec, err := precedenceOr(r.Precedence, envelope.Immediate)
	if err != nil {
		return nil, err
	}
	_, cb, err := s.channelBook(ctx, r.Channel)
	if err != nil {
		return nil, err
	}
	rep, err := deconflict.DecodeReport(r.Report, cb)
	if err != nil {
		return nil, badrequest.New("%v", err)
	}
	if len(r.Said) > 0 && len(rep.Said) > 0 {
		return nil, badrequest.New("%v: said: give the messages said on scene in the report or in the request, not both", deconflict.ErrReport)
	}
	for i, sd := range r.Said {
		m, err := buildMessage(cb, sd.Items)
		if err != nil {
			return nil, badrequest.New("%v: said[%d].message: %v", deconflict.ErrReport, i, err)
		}
		rep.Said = append(rep.Said, deconflict.Said{Time: sd.Time, By: sd.By, Message: *m})
	}
	if err := rep.Check(cb); err != nil {
		return nil, badrequest.New("%v", err)
	}
	body, err := rep.Encode()
	if err != nil {
		return nil, err
	}
	m, err := s.submitEntry(ctx, r.Channel, envelope.Report, prec, body)
	if err != nil {
		return nil, err
	}
	if _, err := s.Detect(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// parseEntryRef reads an entry id CHANNEL/STATION/INDEX.
func parseEntryRef(id string) (deconflict.EntryRef, error) {
	ch, author, idx, err := ops.ParseID(id)
	if err != nil {
		return deconflict.EntryRef{}, err
	}
	return deconflict.EntryRef{Channel: ch, Author: author, Index: idx}, nil
}

// incidentEvents reads the incident entries of a channel ("" for every
// channel), grouped by incident (the opening entry's id).
func (s *Desk) incidentEvents(ctx context.Context, ch string) (map[string][]deconflict.Event, []string, error) {
	ms, err := s.db.Messages(ctx, store.Query{Channel: ch, Kind: envelope.Incident})
	if err != nil {
		return nil, nil, err
	}
	out := map[string][]deconflict.Event{}
	var order []string
	for _, m := range ms {
		b, err := deconflict.DecodeIncident(m.Body)
		if err != nil {
			return nil, nil, fmt.Errorf("stored incident entry %s: %v", m.ID(), err)
		}
		ev := deconflict.Event{Entry: deconflict.EntryRef{Channel: m.Channel, Author: m.Author, Index: m.Index}, Time: m.SenderTime, Body: b}
		key := ev.Entry.String()
		if b.Incident != nil {
			key = b.Incident.String()
		}
		if out[key] == nil {
			order = append(order, key)
		}
		out[key] = append(out[key], ev)
	}
	return out, order, nil
}

// Incident writes an incident entry and returns the incident as it
// stands once the entry is durable here.
func (s *Desk) Incident(ctx context.Context, r ops.IncidentRequest) (*ops.IncidentView, error) {
	action := deconflict.Action(r.Action)
	if !slices.Contains(deconflict.Actions, action) {
		return nil, badrequest.New("action %q is not one of %v", r.Action, deconflict.Actions)
	}
	prec, err := precedenceOr(r.Precedence, envelope.Priority)
	if err != nil {
		return nil, err
	}
	b := &deconflict.IncidentBody{Action: action, Title: r.Title, Note: r.Note, Lang: r.Lang, Outcome: deconflict.Outcome(r.Outcome)}
	var events []deconflict.Event // the incident's entries so far, for a later step
	var ch string
	if action != deconflict.Open {
		ch, events, err = s.continueIncident(ctx, r, b)
	} else {
		ch, err = s.openIncident(ctx, &r, b)
	}
	if err != nil {
		return nil, err
	}
	if _, _, err := s.channelBook(ctx, ch); err != nil {
		return nil, err
	}
	if err := s.linkEntries(ctx, r.Links, b); err != nil {
		return nil, err
	}
	if err := b.Check(); err != nil {
		return nil, badrequest.New("%v", err)
	}
	if action != deconflict.Open {
		if err := s.checkIncidentStep(ctx, ch, events, b); err != nil {
			return nil, err
		}
	}
	body, err := b.Encode()
	if err != nil {
		return nil, err
	}
	m, err := s.submitEntry(ctx, ch, envelope.Incident, prec, body)
	if err != nil {
		return nil, err
	}
	id := m.ID
	if b.Incident != nil {
		id = b.Incident.String()
	}
	if r.By != "" {
		if err := s.acknowledgeIncident(ctx, events, r.By, m.ID); err != nil {
			return nil, err
		}
	}
	return s.incidentAfter(ctx, ch, id, m.ID)
}

// continueIncident finds the incident that a later step is about: one
// opened here, on the request's channel if it names one. It returns the
// incident's channel and entries, and sets the step's incident and the
// step it follows.
func (s *Desk) continueIncident(ctx context.Context, r ops.IncidentRequest, b *deconflict.IncidentBody) (string, []deconflict.Event, error) {
	id, err := parseEntryRef(r.Incident)
	if err != nil {
		return "", nil, badrequest.New("incident: %v", err)
	}
	if r.Channel != "" && r.Channel != id.Channel {
		return "", nil, badrequest.New("incident %s is on channel %s, not %s", id, id.Channel, r.Channel)
	}
	all, _, err := s.incidentEvents(ctx, id.Channel)
	if err != nil {
		return "", nil, err
	}
	events := all[id.String()]
	if !slices.ContainsFunc(events, func(e deconflict.Event) bool { return e.Entry == id && e.Body.Action == deconflict.Open }) {
		return "", nil, badrequest.New("incident %s: no incident was opened by that entry here", id)
	}
	inc, err := deconflict.Fold(events)
	if err != nil {
		return "", nil, err
	}
	prev := inc.ID
	for _, st := range inc.Timeline {
		if st.Applied {
			prev = st.Entry
		}
	}
	b.Incident, b.Prev = &id, &prev
	return id.Channel, events, nil
}

// openIncident returns the channel an incident is opened on. An incident
// opened about a finding is on the finding's channel unless the request
// names one. It links the entries the finding is about, by adding them to
// r.Links, and takes the finding's title if the request gives none.
func (s *Desk) openIncident(ctx context.Context, r *ops.IncidentRequest, b *deconflict.IncidentBody) (string, error) {
	ch := r.Channel
	if r.Finding != 0 {
		f, err := s.finding(ctx, r.Finding)
		if err != nil {
			return "", err
		}
		ch = cmp.Or(ch, f.Channel)
		for _, id := range []string{s.plannedEntry(ctx, f.Planned, f.Channel), f.Notified, f.Report} {
			if _, err := parseEntryRef(id); err == nil {
				r.Links = append(r.Links, id)
			}
		}
		if b.Title == "" {
			b.Title = findingTitle(f, r.Lang)
			b.Lang = cmp.Or(b.Lang, "en")
		}
	}
	if ch == "" {
		return "", badrequest.New("open: give the channel")
	}
	return ch, nil
}

// plannedEntry is the entry of a finding's planned side. A plan is this
// station's own, so the notice it was sent as stands for it: that is in
// both transcripts. A plan not sent as a notice has no entry. A notice
// sent to several parties stands by its copy on the finding's channel ch.
func (s *Desk) plannedEntry(ctx context.Context, planned, ch string) string {
	if n, ok := strings.CutPrefix(planned, "plan "); ok {
		var id int64
		fmt.Sscan(n, &id)
		if p, err := s.plan(ctx, id); err == nil {
			planned = p.Notice
		}
	}
	if envelope.CheckBroadcast(planned) == nil {
		if b, err := s.db.Broadcast(ctx, planned); err == nil {
			for _, p := range b.Parties {
				if p.Channel == ch && p.Entry != "" {
					return p.Entry
				}
			}
		}
	}
	return planned
}

// linkEntries adds the linked entries to an incident step. Each must be
// an entry held here.
func (s *Desk) linkEntries(ctx context.Context, links []string, b *deconflict.IncidentBody) error {
	for i, l := range links {
		ref, err := parseEntryRef(l)
		if err != nil {
			return badrequest.New("links[%d]: %v", i, err)
		}
		if es, err := s.db.Entries(ctx, ref.Channel, ref.Author, ref.Index, ref.Index); err != nil {
			return err
		} else if len(es) == 0 {
			return badrequest.New("links[%d]: %s: no such entry here", i, ref)
		}
		b.Links = append(b.Links, ref)
	}
	return nil
}

// checkIncidentStep checks that the lifecycle allows the step now: it
// folds the step in with the incident's entries held here, as this
// station's next entry on the channel, and sees.
func (s *Desk) checkIncidentStep(ctx context.Context, ch string, events []deconflict.Event, b *deconflict.IncidentBody) error {
	var next uint64 = 1
	if l, err := s.db.Log(ctx, ch, s.name); err == nil {
		next = l.Size + 1
	}
	me := deconflict.Event{Entry: deconflict.EntryRef{Channel: ch, Author: s.name, Index: next}, Time: time.Now().UTC(), Body: b}
	inc, err := deconflict.Fold(append(slices.Clone(events), me))
	if err != nil {
		return badrequest.New("%v", err)
	}
	for _, st := range inc.Timeline {
		if st.Entry == me.Entry && !st.Applied {
			return badrequest.New("%s", st.Why)
		}
	}
	return nil
}

// acknowledgeIncident acknowledges, by the operator named by, each of the
// peer's entries of the incident. written is the entry just written.
func (s *Desk) acknowledgeIncident(ctx context.Context, events []deconflict.Event, by, written string) error {
	for _, e := range events {
		if e.Entry.Author == s.name {
			continue
		}
		if _, err := s.Ack(ctx, e.Entry.String(), by); err != nil {
			return fmt.Errorf("%s written; acknowledging %s: %w", written, e.Entry, err)
		}
	}
	return nil
}

// incidentAfter returns incident id as it stands after entry written.
func (s *Desk) incidentAfter(ctx context.Context, ch, id, written string) (*ops.IncidentView, error) {
	vs, err := s.incidents(ctx, ch, id)
	if err != nil {
		return nil, err
	}
	if len(vs) != 1 {
		return nil, fmt.Errorf("incident %s: not found after writing %s", id, written)
	}
	return &vs[0], nil
}

// Incidents lists the incidents on a channel ("" for every channel), in
// the order they were opened here, each folded from its entries.
func (s *Desk) Incidents(ctx context.Context, ch string) ([]ops.IncidentView, error) {
	return s.incidents(ctx, ch, "")
}

func (s *Desk) incidents(ctx context.Context, ch, only string) ([]ops.IncidentView, error) {
	groups, order, err := s.incidentEvents(ctx, ch)
	if err != nil {
		return nil, err
	}
	out := []ops.IncidentView{}
	linked := map[string]map[string]ops.MessageView{} // channel → id → message
	for _, key := range order {
		if only != "" && key != only {
			continue
		}
		inc, err := deconflict.Fold(groups[key])
		if err != nil {
			continue // entries about an incident this station has no opening entry of
		}
		v := ops.IncidentView{ID: inc.ID.String(), Channel: inc.ID.Channel, Opener: inc.Opener, Title: inc.Title, Lang: inc.Lang,
			State: string(inc.State), Outcome: string(inc.Outcome), ClosingBy: inc.ClosingBy, Links: []string{}, Linked: []ops.MessageView{}}
		for _, st := range inc.Timeline {
			sv := ops.IncidentStepView{Entry: st.Entry.String(), By: st.Entry.Author, At: st.Time, Action: string(st.Body.Action),
				Applied: st.Applied, Why: st.Why, Outcome: string(st.Body.Outcome), Rendered: map[string]string{}}
			if st.Applied {
				sv.From, sv.To = string(st.From), string(st.To)
			}
			for _, l := range codebook.Languages {
				sv.Rendered[l] = st.Body.Summary(l)
			}
			v.Timeline = append(v.Timeline, sv)
		}
		for _, l := range inc.Links() {
			v.Links = append(v.Links, l.String())
			if linked[l.Channel] == nil {
				linked[l.Channel] = map[string]ops.MessageView{}
				ms, err := s.db.Messages(ctx, store.Query{Channel: l.Channel, Kinds: messageKinds})
				if err != nil {
					return nil, err
				}
				views, err := s.views(ctx, ms)
				if err != nil {
					return nil, err
				}
				for _, m := range views {
					linked[l.Channel][m.ID] = m
				}
			}
			if m, ok := linked[l.Channel][l.String()]; ok {
				v.Linked = append(v.Linked, m)
			}
		}
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(a, b ops.IncidentView) int { return cmp.Compare(a.Channel, b.Channel) })
	return out, nil
}

// render fills a message view of a coded message, notice, report or
// incident entry: its body and its text in each language.
func render(v *ops.MessageView, body any, cb *codebook.Codebook) {
	v.Rendered = map[string]string{}
	switch b := body.(type) {
	case *codebook.Message:
		v.Coded = codedView(cb, b)
		for _, l := range cb.Languages() {
			if t, err := cb.RenderText(b, l); err == nil {
				v.Rendered[l] = strings.TrimSuffix(t, "\n")
			}
		}
	case *deconflict.Notice:
		v.Notice = b
		for _, l := range codebook.Languages {
			v.Rendered[l] = b.Summary(l)
		}
	case *deconflict.Report:
		v.Report = b
		for _, l := range codebook.Languages {
			t := b.Summary(l)
			for _, sd := range b.Said {
				if said, err := cb.RenderText(&sd.Message, l); err == nil {
					t += "\n" + saidBy(sd, l) + " " + strings.ReplaceAll(strings.TrimSuffix(said, "\n"), "\n", " ")
				}
			}
			v.Rendered[l] = t
		}
	case *deconflict.IncidentBody:
		v.Incident = b
		for _, l := range codebook.Languages {
			v.Rendered[l] = b.Summary(l)
		}
	}
	v.Text, v.Lang = v.Rendered["en"], "en"
}

// saidBy introduces a message said on scene.
func saidBy(sd deconflict.Said, lang string) string {
	at := sd.Time.UTC().Format("15:04")
	switch {
	case lang == "zh-Hans" && sd.By == "own":
		return at + " 我方："
	case lang == "zh-Hans":
		return at + " 对方："
	case sd.By == "own":
		return at + " own:"
	}
	return at + " other:"
}

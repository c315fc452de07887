package desk

// Automatic deconfliction (docs/DECONFLICTION.md, "At the station").
//
// The checks run here, in the station, not in the core: they read this
// station's planned activities (its own record, never sent) and the
// notices and reports it holds from the store, and call the pure
// deconflict.Checker. The core stays deterministic and free of I/O, and
// knows nothing of plans.
//
// A pass checks every planned activity and every notice of this station
// against every notice of its peers that has not ended, and predicts the
// closest approach of the tracks of every encounter report. Each finding
// is stored once, under a key naming the pair checked (store.AddFinding),
// and raised as an alarm when it is first stored. A pass runs when a
// notice or report arrives (after it is durable), when this station
// sends one or adds a plan (before the request returns, so that the
// operator sees what it found), when a bundle is imported, and when
// hotline run starts: so a finding lost to a crash between an entry's
// arrival and its pass is found at the next start.

import (
	"context"
	"encoding/json"
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

// AddPlan stores a planned activity and checks it at once.
func (s *Desk) AddPlan(ctx context.Context, r ops.PlanRequest) (*ops.PlanView, error) {
	n, err := deconflict.DecodeNotice(r.Plan)
	if err != nil {
		return nil, badrequest.New("plan: %v", err)
	}
	body, err := n.Encode()
	if err != nil {
		return nil, err
	}
	id, err := s.db.AddPlan(ctx, store.Plan{AddedAt: time.Now().UTC(), Body: body})
	if err != nil {
		return nil, err
	}
	found, err := s.Detect(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := s.Plans(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.ID == id {
			for _, f := range found {
				if f.Planned == planKey(id) {
					p.Findings = append(p.Findings, f)
				}
			}
			return &p, nil
		}
	}
	return nil, fmt.Errorf("plan %d: not found after adding it", id)
}

func planKey(id int64) string { return fmt.Sprintf("plan %d", id) }

// Plans lists planned activities.
func (s *Desk) Plans(ctx context.Context) ([]ops.PlanView, error) {
	ps, err := s.db.Plans(ctx)
	if err != nil {
		return nil, err
	}
	out := []ops.PlanView{}
	for _, p := range ps {
		n, err := deconflict.DecodeNotice(p.Body)
		if err != nil {
			return nil, fmt.Errorf("stored plan %d: %v", p.ID, err)
		}
		v := ops.PlanView{ID: p.ID, AddedAt: p.AddedAt, Plan: n, Notice: p.Notice, Rendered: map[string]string{}}
		for _, l := range codebook.Languages {
			v.Rendered[l] = n.Summary(l)
		}
		out = append(out, v)
	}
	return out, nil
}

// Findings lists what the checks found, oldest first.
func (s *Desk) Findings(ctx context.Context) ([]ops.FindingView, error) {
	fs, err := s.db.Findings(ctx)
	if err != nil {
		return nil, err
	}
	out := []ops.FindingView{}
	for _, f := range fs {
		v, err := findingView(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func findingView(f store.Finding) (ops.FindingView, error) {
	var v ops.FindingView
	if err := json.Unmarshal(f.Body, &v); err != nil {
		return v, fmt.Errorf("stored finding %d: %v", f.ID, err)
	}
	v.ID, v.Rule, v.FoundAt, v.Channel, v.Peer = f.ID, f.Rule, f.FoundAt, f.Channel, f.Peer
	v.Text = map[string]string{}
	for _, l := range codebook.Languages {
		v.Text[l] = findingText(v, l)
	}
	return v, nil
}

// KickDetector asks the detector for a pass, if one runs (RunDetector).
func (s *Desk) KickDetector() {
	select {
	case s.detectKick <- struct{}{}:
	default:
	}
}

// RunDetector runs a pass of the deconfliction checks at once and then
// whenever kicked, until ctx is done or the station stops.
func (s *Desk) RunDetector(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		if _, err := s.Detect(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("deconfliction checks failed", "err", err)
		}
		select {
		case <-s.detectKick:
		case <-ctx.Done():
			return
		}
	}
}

// activity is one side of an overlap check.
type activity struct {
	key     string // "plan N" or the notice's entry id
	channel string
	author  string
	notice  *deconflict.Notice
	a       *deconflict.Activity
}

// Detect runs the checks over what the station holds and stores what is
// new, raising an alarm for each; it returns the new findings. On an error
// it returns what it found before it.
func (s *Desk) Detect(ctx context.Context) ([]ops.FindingView, error) {
	s.detectMu.Lock()
	defer s.detectMu.Unlock()
	p, err := s.newDetectPass(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.collect(ctx); err != nil {
		return nil, err
	}
	if err := p.checkOverlaps(ctx); err != nil {
		return p.found, err
	}
	if err := p.checkApproaches(ctx); err != nil {
		return p.found, err
	}
	return p.found, nil
}

// detectPass is one pass of the deconfliction checks.
type detectPass struct {
	s       *Desk
	now     time.Time
	margins deconflict.Margins
	peerOf  map[string]string             // channel → its peer
	books   map[string]*codebook.Codebook // channel → its codebook, if found
	// mine are this station's plans and notices, and theirs are its
	// peers' notices. Each has not ended, give or take the time margin.
	mine, theirs []activity
	found        []ops.FindingView // what the pass stored that is new
}

// newDetectPass starts a pass: it reads each channel's peer and
// codebook.
func (s *Desk) newDetectPass(ctx context.Context) (*detectPass, error) {
	p := &detectPass{s: s, now: time.Now(), margins: deconflict.DefaultMargins,
		peerOf: map[string]string{}, books: map[string]*codebook.Codebook{}}
	chs, err := s.db.Channels(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range chs {
		p.peerOf[c.ID] = c.Peer
		if _, cb, err := s.channelBook(ctx, c.ID); err == nil {
			p.books[c.ID] = cb
		}
	}
	return p, nil
}

// collect lists the activities to check. A plan sent as a notice is
// checked as that notice, and keeps the plan's key; a notice sent to
// several parties is checked once. A notice that a later one replaces is
// left out.
func (p *detectPass) collect(ctx context.Context) error {
	plans, err := p.s.db.Plans(ctx)
	if err != nil {
		return err
	}
	notified := map[string]int64{} // notice entry → the plan it notified
	for _, pl := range plans {
		if pl.Notice != "" {
			notified[pl.Notice] = pl.ID
		}
	}
	ms, notices, replaced, err := p.s.storedNotices(ctx)
	if err != nil {
		return err
	}
	for _, pl := range plans {
		if pl.Notice != "" {
			continue // checked as the notice it was sent as
		}
		n, err := deconflict.DecodeNotice(pl.Body)
		if err != nil {
			return fmt.Errorf("stored plan %d: %v", pl.ID, err)
		}
		p.add(&p.mine, planKey(pl.ID), n.Call, p.s.name, n)
	}
	broadcast := map[string]bool{} // broadcasts of this station's already listed
	for _, m := range ms {
		if replaced[m.ID()] {
			continue
		}
		if m.Author == p.s.name {
			// The copies of a notice sent to several parties are one
			// activity, under the broadcast's id.
			key := m.ID()
			if b := notices[m.ID()].Broadcast; b != "" {
				if broadcast[b] {
					continue
				}
				broadcast[b], key = true, b
			}
			if id, ok := notified[key]; ok {
				key = planKey(id)
			}
			p.add(&p.mine, key, m.Channel, m.Author, notices[m.ID()])
		} else {
			p.add(&p.theirs, m.ID(), m.Channel, m.Author, notices[m.ID()])
		}
	}
	return nil
}

// storedNotices reads the notices the station holds, decoded by entry id.
// It also returns the ids of the notices that are replaced. A notice
// amended by a later one of its author is replaced by it.
func (s *Desk) storedNotices(ctx context.Context) ([]store.Message, map[string]*deconflict.Notice, map[string]bool, error) {
	ms, err := s.db.Messages(ctx, store.Query{Kind: envelope.Notice})
	if err != nil {
		return nil, nil, nil, err
	}
	replaced := map[string]bool{}
	notices := map[string]*deconflict.Notice{}
	for _, m := range ms {
		n, err := deconflict.DecodeNotice(m.Body)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("stored notice %s: %v", m.ID(), err)
		}
		notices[m.ID()] = n
		if r := n.Replaces; r != nil && r.Author == m.Author {
			replaced[r.String()] = true
		}
	}
	return ms, notices, replaced, nil
}

// add lists an activity to check, unless it ended longer ago than the
// time margin.
func (p *detectPass) add(list *[]activity, key, ch, author string, n *deconflict.Notice) {
	if !n.Window.To.Add(p.margins.Time).After(p.now) {
		return
	}
	a, err := deconflict.NewActivity(n)
	if err != nil {
		return // decoded above, so it checks
	}
	*list = append(*list, activity{key: key, channel: ch, author: author, notice: n, a: a})
}

// checkOverlaps checks each activity of this station against each of its
// peers' on a channel whose codebook is known.
func (p *detectPass) checkOverlaps(ctx context.Context) error {
	for _, mine := range p.mine {
		for _, n := range p.theirs {
			cb := p.books[n.channel]
			if cb == nil {
				continue
			}
			c := &deconflict.Checker{Margins: p.margins, Codebook: cb}
			f, ok, err := c.Overlap(mine.a, n.a)
			if err != nil || !ok {
				continue
			}
			v := ops.FindingView{Planned: mine.key, Notified: n.key, PlannedActivity: mine.notice, NotifiedActivity: n.notice,
				Where: f.Where, DistanceNM: round(f.Distance, 2), From: f.From.UTC(), To: f.To.UTC(), Suggest: codedView(cb, f.Suggest)}
			if f.Gap > 0 {
				v.Gap = f.Gap.String()
			}
			rec := store.Finding{Key: "overlap " + mine.key + " " + n.key, Rule: string(deconflict.RuleOverlap), FoundAt: p.now.UTC(),
				Channel: n.channel, Peer: n.author}
			if err := p.keep(ctx, rec, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkApproaches predicts the closest approach of the tracks of each
// encounter report, from this station's own unit's side.
func (p *detectPass) checkApproaches(ctx context.Context) error {
	reports, err := p.s.db.Messages(ctx, store.Query{Kind: envelope.Report})
	if err != nil {
		return err
	}
	for _, m := range reports {
		cb := p.books[m.Channel]
		if cb == nil {
			continue
		}
		r, err := deconflict.DecodeReport(m.Body, cb)
		if err != nil {
			return fmt.Errorf("stored report %s: %v", m.ID(), err)
		}
		v, ok := p.approach(m, r, cb)
		if !ok {
			continue
		}
		rec := store.Finding{Key: "approach " + m.ID(), Rule: string(deconflict.RuleApproach), FoundAt: p.now.UTC(),
			Channel: m.Channel, Peer: p.peerOf[m.Channel]}
		if err := p.keep(ctx, rec, v); err != nil {
			return err
		}
	}
	return nil
}

// approach is the finding of a close approach that report r, in entry m,
// predicts, if it predicts one.
func (p *detectPass) approach(m store.Message, r *deconflict.Report, cb *codebook.Codebook) (ops.FindingView, bool) {
	own, other := r.Fixes()
	ownUnit, otherUnit := r.Own.Unit, r.Other.Unit
	if m.Author != p.s.name { // the peer's own unit is the other one here
		own, other, ownUnit, otherUnit = other, own, otherUnit, ownUnit
	}
	c := &deconflict.Checker{Margins: p.margins, Codebook: cb}
	f, ok, err := c.Approach(own, other, r.Time)
	if err != nil || !ok {
		return ops.FindingView{}, false
	}
	ap := f.Approach
	return ops.FindingView{Report: m.ID(), Where: f.Where, DistanceNM: round(f.Distance, 2), From: f.From.UTC(), To: f.To.UTC(),
		Suggest: codedView(cb, f.Suggest),
		Approach: &ops.ApproachView{Own: ownUnit, Other: otherUnit, At: ap.At.UTC(), RangeNM: round(ap.Range, 2), Bearing: round(ap.Bearing, 1),
			Relative: round(ap.Relative, 1), Aspect: round(ap.Aspect, 1), Time: ap.Time.UTC(), TCPA: ap.TCPA.String(),
			DistanceNM: round(ap.Distance, 2), OwnAt: ap.Own, OtherAt: ap.Other}}, true
}

// keep stores a finding. If it is new, keep raises an alarm for it, tells
// the station's watchers, and adds it to what the pass found.
func (p *detectPass) keep(ctx context.Context, rec store.Finding, v ops.FindingView) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rec.Body = body
	id, added, err := p.s.db.AddFinding(ctx, rec)
	if err != nil || !added {
		return err
	}
	rec.ID = id
	if v, err = findingView(rec); err != nil {
		return err
	}
	alert := record.Alert{At: time.Now().UTC(), Level: "alarm", Channel: rec.Channel, Peer: rec.Peer, Text: v.Text["en"],
		Format: ops.AlertFindingFormat, Args: []string{v.Text["en"], v.Text["zh-Hans"]}}
	if err := p.s.db.Apply(ctx, &record.Batch{Alerts: []record.Alert{alert}}); err != nil {
		return err
	}
	p.s.st.Notify(protocol.Notify{What: "alert", Channel: rec.Channel}, protocol.Notify{What: "finding", Channel: rec.Channel, Entry: v.Notified + v.Report})
	p.found = append(p.found, v)
	return nil
}

func round(v float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

// codedView is a coded message with its lines in each language of cb.
func codedView(cb *codebook.Codebook, m *codebook.Message) *ops.CodedView {
	if m == nil {
		return nil
	}
	v := &ops.CodedView{Codebook: m.Codebook, Items: m.Items, Lines: map[string][]ops.LineView{}}
	for _, l := range cb.Languages() {
		lines, err := cb.Render(m, l)
		if err != nil {
			continue
		}
		for _, x := range lines {
			v.Lines[l] = append(v.Lines[l], ops.LineView{Code: x.Code, Text: x.Text, Lang: x.Lang, Free: x.Free})
		}
	}
	return v
}

// findingText writes a finding for a person in lang.
func findingText(v ops.FindingView, lang string) string {
	zh := lang == "zh-Hans"
	var b strings.Builder
	when := deconflict.Window{From: v.From, To: v.To}.Text(lang)
	switch {
	case v.Approach != nil && zh:
		a := v.Approach
		fmt.Fprintf(&b, "发现%d（%s）：根据相遇报告%s，%s与%s预计于%s在相距%.2f海里处会遇（%s后），%s期间相距不足%g海里。",
			v.ID, v.Channel, v.Report, a.Own, a.Other, deconflict.FormatTime(a.Time, lang), a.DistanceNM, a.TCPA, when, deconflict.DefaultMargins.CPANM)
	case v.Approach != nil:
		a := v.Approach
		fmt.Fprintf(&b, "FINDING %d on %s: report %s predicts %s and %s pass %.2f NM apart at %s (in %s), within %g NM %s.",
			v.ID, v.Channel, v.Report, a.Own, a.Other, a.DistanceNM, deconflict.FormatTime(a.Time, lang), a.TCPA, deconflict.DefaultMargins.CPANM, when)
	case zh:
		fmt.Fprintf(&b, "发现%d（%s）：本方%s（%s，%s）与%s的通报%s（%s）", v.ID, v.Channel, planLabel(v.Planned, lang),
			v.PlannedActivity.Kind.Text(lang), strings.Join(v.PlannedActivity.Units, "、"), v.Peer, v.Notified, v.NotifiedActivity.Kind.Text(lang))
		if v.Gap == "" {
			fmt.Fprintf(&b, "在%s附近冲突，相距%.1f海里，时间%s。", v.Where.Format(lang), v.DistanceNM, when)
		} else {
			fmt.Fprintf(&b, "在%s附近相距%.1f海里，时间间隔%s（%s）。", v.Where.Format(lang), v.DistanceNM, v.Gap, when)
		}
	default:
		fmt.Fprintf(&b, "FINDING %d on %s: this station's %s (%s, %s) and %s's notice %s (%s) ", v.ID, v.Channel, planLabel(v.Planned, lang),
			v.PlannedActivity.Kind.Text(lang), strings.Join(v.PlannedActivity.Units, ", "), v.Peer, v.Notified, v.NotifiedActivity.Kind.Text(lang))
		if v.Gap == "" {
			fmt.Fprintf(&b, "conflict near %s, %.1f NM apart, %s.", v.Where.Format(lang), v.DistanceNM, when)
		} else {
			fmt.Fprintf(&b, "come %.1f NM apart near %s, %s apart in time (%s).", v.DistanceNM, v.Where.Format(lang), v.Gap, when)
		}
	}
	if t := v.Suggest.Text(lang); t != "" {
		if zh {
			b.WriteString("建议发送：" + t)
		} else {
			b.WriteString(" Suggested: " + t)
		}
	}
	return b.String()
}

func planLabel(key, lang string) string {
	if n, ok := strings.CutPrefix(key, "plan "); ok {
		if lang == "zh-Hans" {
			return "计划" + n
		}
		return "plan " + n
	}
	if lang == "zh-Hans" {
		return "通报" + key
	}
	return "notice " + key
}

// finding returns one stored finding.
func (s *Desk) finding(ctx context.Context, id int64) (*ops.FindingView, error) {
	fs, err := s.Findings(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(fs, func(f ops.FindingView) bool { return f.ID == id })
	if i < 0 {
		return nil, badrequest.New("no finding %d here (see hotline findings)", id)
	}
	return &fs[i], nil
}

// plan returns one stored plan.
func (s *Desk) plan(ctx context.Context, id int64) (*store.Plan, error) {
	ps, err := s.db.Plans(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		if ps[i].ID == id {
			return &ps[i], nil
		}
	}
	return nil, badrequest.New("no plan %d here (see hotline plan list)", id)
}

// findingTitle titles an incident opened about a finding, in lang.
func findingTitle(f *ops.FindingView, lang string) string {
	zh := lang == "zh-Hans"
	switch {
	case f.Approach != nil && zh:
		return fmt.Sprintf("发现%d：%s与%s近距离会遇", f.ID, f.Approach.Own, f.Approach.Other)
	case f.Approach != nil:
		return fmt.Sprintf("Finding %d: close approach of %s and %s", f.ID, f.Approach.Own, f.Approach.Other)
	case zh:
		return fmt.Sprintf("发现%d：%s与%s冲突", f.ID, f.PlannedActivity.Kind.Text(lang), f.NotifiedActivity.Kind.Text(lang))
	}
	return fmt.Sprintf("Finding %d: %s and %s conflict", f.ID, f.PlannedActivity.Kind.Text(lang), f.NotifiedActivity.Kind.Text(lang))
}

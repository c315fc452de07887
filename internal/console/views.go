package console

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/ops"
	"hotline/internal/protocol"
)

// What the pages show, gathered from ops.Ops.

// boardRow is one channel on the board.
type boardRow struct {
	ops.ChannelView
	AwaitUsTop   string    // the highest precedence among messages received and not acknowledged here
	AwaitUsDue   time.Time // the earliest deadline among them
	AwaitThemDue time.Time // the earliest deadline of ours the peer has not acknowledged
	UrgentUs     bool      // an incoming FLASH or IMMEDIATE waits for a person here
	Overdue      bool
	Attention    bool     // the state or link needs a person
	DownPaths    []string // the paths that are not up
	// LastCheckMsg is this station's latest operator check on the
	// channel; LastAnswered the latest one the peer answered.
	LastCheckMsg *ops.MessageView
	LastAnswered *ops.MessageView
	rank         int
	Extra        []field // fields of the view the console does not know by name
}

type field struct{ Key, Value string }

// knownFields are ChannelView's fields the console shows by name; any
// other field (added to the station's view later) is shown under Details.
var knownFields = map[string]bool{"channel": true, "peer": true, "level": true, "state": true, "agreement": true, "proposer": true,
	"deadlines": true, "delivery": true, "escalate_to": true, "flash_exempt": true, "link_test": true, "check_every": true,
	"check_window": true, "written": true, "delivered": true, "received": true, "connected": true, "blocked": true,
	"suspensions": true, "dormant": true, "awaiting_peer": true, "awaiting_here": true, "last_check": true,
	"last_check_at": true, "paths": true, "receipt_at": true}

func extraFields(v ops.ChannelView) []field {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var out []field
	for k, raw := range m {
		if knownFields[k] {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		if s == "" || s == "null" || s == "{}" || s == "[]" {
			continue
		}
		out = append(out, field{k, s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func urgent(prec string) bool { return prec == "FLASH" || prec == "IMMEDIATE" }

func precRank(p string) int {
	if q, err := envelope.ParsePrecedence(p); err == nil {
		return int(q)
	}
	return 99
}

// downPaths names the paths of a channel that are not up.
func downPaths(v ops.ChannelView) []string {
	var out []string
	for _, p := range v.Paths {
		if !p.Up {
			out = append(out, p.Name)
		}
	}
	return out
}

// Ranks on the board: what needs a person first.
const (
	rankUrgent    = iota // an incoming FLASH or IMMEDIATE not acknowledged
	rankDormant          // our checks go unanswered
	rankDown             // no path up
	rankOverdue          // a deadline passed, on either side
	rankAwaitUs          // messages or checks wait for a person here
	rankAttention        // suspended, degraded, blocked, not agreed yet
	rankAwaitThem        // the peer has not acknowledged ours yet
	rankQuiet
)

// board gathers the board: every channel, ranked so that what needs a
// person is on top. Counts of messages awaiting acknowledgement are the
// station's (awaiting_here, awaiting_peer); the deadlines and the
// highest precedence come from the messages themselves.
func (s *Server) board(ctx context.Context) ([]boardRow, error) {
	chs, err := s.cfg.Ops.Channels(ctx)
	if err != nil {
		return nil, err
	}
	in, err := s.cfg.Ops.Inbox(ctx, "")
	if err != nil {
		return nil, err
	}
	out, err := s.cfg.Ops.Outbox(ctx, "")
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	rows := make([]boardRow, len(chs))
	byID := map[string]*boardRow{}
	for i, c := range chs {
		rows[i] = newRow(c)
		byID[c.ID] = &rows[i]
	}
	for i := range in {
		if r := byID[in[i].Channel]; r != nil {
			r.received(&in[i])
		}
	}
	for i := range out {
		if r := byID[out[i].Channel]; r != nil {
			r.sent(&out[i])
		}
	}
	for i := range rows {
		rows[i].rankAt(now)
	}
	sortBoard(rows)
	return rows, nil
}

// sortBoard puts what needs a person first: by rank, then the nearest
// deadline, then the channel's name.
func sortBoard(rows []boardRow) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		if da, db := firstDue(a), firstDue(b); !da.Equal(db) {
			if da.IsZero() || db.IsZero() {
				return db.IsZero()
			}
			return da.Before(db)
		}
		return a.ID < b.ID
	})
}

func newRow(c ops.ChannelView) boardRow {
	return boardRow{ChannelView: c, Extra: extraFields(c), DownPaths: downPaths(c)}
}

// received adds a message from the peer to the row.
func (r *boardRow) received(m *ops.MessageView) {
	if m.Acknowledged {
		return
	}
	if r.AwaitUsTop == "" || precRank(m.Precedence) < precRank(r.AwaitUsTop) {
		r.AwaitUsTop = m.Precedence
	}
	r.UrgentUs = r.UrgentUs || urgent(m.Precedence)
	if !m.AckDue.IsZero() && (r.AwaitUsDue.IsZero() || m.AckDue.Before(r.AwaitUsDue)) {
		r.AwaitUsDue = m.AckDue
	}
}

// sent adds a message of this station's to the row; they come in log order.
func (r *boardRow) sent(m *ops.MessageView) {
	if m.Kind == "check" {
		if m.ID == r.LastCheck {
			r.LastCheckMsg = m
		}
		if m.Acknowledged {
			r.LastAnswered = m
		}
	}
	if !m.Acknowledged && !m.AckDue.IsZero() && (r.AwaitThemDue.IsZero() || m.AckDue.Before(r.AwaitThemDue)) {
		r.AwaitThemDue = m.AckDue
	}
}

// rankAt decides where the row goes on the board.
func (r *boardRow) rankAt(now time.Time) {
	usLate := !r.AwaitUsDue.IsZero() && now.After(r.AwaitUsDue)
	themLate := !r.AwaitThemDue.IsZero() && now.After(r.AwaitThemDue)
	r.Overdue = usLate || themLate
	r.Attention = r.State != ops.StateActive || r.Blocked != ""
	switch {
	case r.UrgentUs:
		r.rank = rankUrgent
	case r.State == protocol.StateDormant || r.Dormant:
		r.rank = rankDormant
	case r.State == protocol.StateDown:
		r.rank = rankDown
	case r.Overdue:
		r.rank = rankOverdue
	case r.AwaitingHere > 0 || r.AwaitUsTop != "":
		r.rank = rankAwaitUs
	case r.Attention:
		r.rank = rankAttention
	case r.AwaitingPeer > 0:
		r.rank = rankAwaitThem
	default:
		r.rank = rankQuiet
	}
}

func firstDue(r boardRow) time.Time {
	d := r.AwaitUsDue
	if d.IsZero() || (!r.AwaitThemDue.IsZero() && r.AwaitThemDue.Before(d)) {
		d = r.AwaitThemDue
	}
	return d
}

// message is one message in a channel's conversation.
type message struct {
	ops.MessageView
	Incoming bool
	// Ladder is the deadline ladder of the message: the steps this
	// station took (from Ops.Escalations) and, while it waits for an
	// acknowledgement, the steps still to come with their times.
	Ladder []ladderStep
	// OriginChannel is the channel of the message a forwarded one
	// (kind "escalation") comes from.
	OriginChannel string
}

// ladderStep is one step of a message's deadline ladder (see
// ops.StepUndelivered to ops.StepForwarded and docs/PROTOCOL.md).
type ladderStep struct {
	Step   int
	Name   string    // catalog key
	At     time.Time // when it was taken, or is due
	Taken  bool
	Detail string // what the station did, as it recorded it
	// Forwarded is the id of the message a forward step sent up.
	Forwarded string
}

// ladder builds the ladder of a message from the steps taken and the
// channel's deadlines; the times follow the station's (internal/protocol,
// ladderAt): delivery deadline, acknowledgement deadline, half of it
// again, twice it.
func ladder(v ops.ChannelView, m ops.MessageView, incoming bool, taken []ops.EscalationView) []ladderStep {
	var out []ladderStep
	done := map[int]bool{}
	for _, x := range taken {
		st := ladderStep{Step: x.Step, Name: stepName(x.Step, m.Kind, incoming), At: x.At, Taken: true, Detail: x.Detail}
		if id, ok := strings.CutPrefix(x.Detail, "forwarded as "); ok {
			st.Forwarded = id
		}
		out = append(out, st)
		done[x.Step] = true
	}
	if m.Acknowledged {
		return out
	}
	// The station takes the steps in order, each no sooner than the one
	// before it (a delivery deadline longer than the acknowledgement
	// deadline holds the whole ladder back).
	var last time.Time
	for _, x := range taken {
		if x.At.After(last) {
			last = x.At
		}
	}
	plan := func(step int, at time.Time) {
		if at.Before(last) {
			at = last
		}
		last = at
		if !done[step] && !at.IsZero() {
			out = append(out, ladderStep{Step: step, Name: stepName(step, m.Kind, incoming), At: at})
		}
	}
	switch {
	case incoming || m.Kind == "check":
		plan(ops.StepOverdue, m.AckDue)
	default:
		d, _ := time.ParseDuration(v.Deadlines[m.Precedence])
		del, _ := time.ParseDuration(v.Delivery[m.Precedence])
		if d <= 0 {
			break
		}
		if del > 0 {
			if m.Status == "queued" {
				plan(ops.StepUndelivered, m.ReceivedAt.Add(del))
			} else if at := m.ReceivedAt.Add(del); at.After(last) {
				last = at // delivered: the step is skipped, at its time
			}
		}
		plan(ops.StepOverdue, m.ReceivedAt.Add(d))
		plan(ops.StepSupervisor, m.ReceivedAt.Add(d+d/2))
		plan(ops.StepForwarded, m.ReceivedAt.Add(2*d))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out
}

func stepName(step int, kind string, incoming bool) string {
	switch {
	case step == ops.StepOverdue && kind == "check" && !incoming:
		return "step_dormant"
	case step == ops.StepOverdue && incoming:
		return "step_overdue_here"
	}
	return fmt.Sprintf("step_%d", step)
}

// conversation is a channel's row (as on the board) and its messages in
// both directions, in the order this station stored them.
func (s *Server) conversation(ctx context.Context, ch string) (*boardRow, []message, error) {
	chs, err := s.cfg.Ops.Channels(ctx)
	if err != nil {
		return nil, nil, err
	}
	var row *boardRow
	for i := range chs {
		if chs[i].ID == ch {
			r := newRow(chs[i])
			row = &r
		}
	}
	if row == nil {
		return nil, nil, bad("no channel %q", ch)
	}
	in, err := s.cfg.Ops.Inbox(ctx, ch)
	if err != nil {
		return nil, nil, err
	}
	out, err := s.cfg.Ops.Outbox(ctx, ch)
	if err != nil {
		return nil, nil, err
	}
	xs, err := s.cfg.Ops.Escalations(ctx, ch)
	if err != nil {
		return nil, nil, err
	}
	steps := map[string][]ops.EscalationView{}
	for _, x := range xs {
		id := fmt.Sprintf("%s/%s/%d", x.Channel, x.Author, x.Index)
		steps[id] = append(steps[id], x)
	}
	ms := make([]message, 0, len(in)+len(out))
	add := func(m ops.MessageView, incoming bool) {
		msg := message{MessageView: m, Incoming: incoming, Ladder: ladder(row.ChannelView, m, incoming, steps[m.ID])}
		if c, _, _, err := ops.ParseID(m.EscalatedFrom); err == nil {
			msg.OriginChannel = c
		}
		ms = append(ms, msg)
	}
	for i := range in {
		row.received(&in[i])
		add(in[i], true)
	}
	for i := range out {
		row.sent(&out[i])
		add(out[i], false)
	}
	row.rankAt(s.cfg.Now())
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].ReceivedAt.Before(ms[j].ReceivedAt) })
	return row, ms, nil
}

// countdown says how long until due, or how long past it.
func countdown(cat map[string]string, now, due time.Time) string {
	if due.IsZero() {
		return ""
	}
	d := due.Sub(now).Round(time.Second)
	if d >= 0 {
		return fmt.Sprintf(cat["due_in"], clock(d))
	}
	return fmt.Sprintf(cat["overdue_by"], clock(-d))
}

func clock(d time.Duration) string {
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}

func utc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func lowerState(s string) string { return strings.ToLower(s) }

// PathLine is a path's state as one line of text, as the board draws it
// (the title of the line, whole, where the board cuts it short).
func (p *pageData) PathLine(v ops.PathView) string {
	var b strings.Builder
	b.WriteString(v.Name)
	if v.Up {
		b.WriteString(" ▲ " + p.T("path_up"))
	} else {
		b.WriteString(" ▼ " + p.T("path_down"))
	}
	if v.Active {
		b.WriteString(" · " + p.T("path_active"))
	}
	switch {
	case v.Up:
		if v.RTTms != nil {
			b.WriteString(" · " + p.T("rtt") + " " + strconv.FormatFloat(*v.RTTms, 'f', 1, 64) + " ms")
		}
		if v.Skewms != nil {
			sign := ""
			if *v.Skewms > 0 {
				sign = "+"
			}
			b.WriteString(" · " + p.T("skew") + " " + sign + strconv.FormatFloat(*v.Skewms, 'f', 1, 64) + " ms")
		}
	case v.LastOK != nil:
		b.WriteString(" · " + p.T("last_answered") + " " + utc(*v.LastOK))
	default:
		b.WriteString(" · " + p.T("never_answered"))
	}
	if v.Lost > 0 {
		b.WriteString(" " + fmt.Sprintf(p.T("probes_lost"), v.Lost, v.Probes))
	}
	return b.String()
}

// ExtraLine is the fields of a channel the console does not know by name,
// as one line (the title of the board's Details cell).
func (p *pageData) ExtraLine(fs []field) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Key+": "+f.Value)
	}
	return strings.Join(out, " · ")
}

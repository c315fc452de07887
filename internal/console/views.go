package console

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/station"
	"hotline/internal/store"
)

// What the pages show, gathered from station.Ops.

// boardRow is one channel on the board.
type boardRow struct {
	station.ChannelView
	AwaitUs      int       // received, not acknowledged here
	AwaitUsTop   string    // the highest precedence among them
	AwaitUsDue   time.Time // the earliest deadline among them
	AwaitThem    int       // sent, not acknowledged by the peer
	AwaitThemDue time.Time
	Overdue      bool
	Attention    bool // the state or link needs a person
	rank         int
	Extra        []field // fields of the view the console does not know by name
}

type field struct{ Key, Value string }

// knownFields are ChannelView's fields the board shows in columns; any
// other field (added to the station's view later) is shown by name.
var knownFields = map[string]bool{"channel": true, "peer": true, "level": true, "state": true, "proposer": true,
	"deadlines": true, "written": true, "delivered": true, "received": true, "connected": true, "blocked": true}

func extraFields(v station.ChannelView) []field {
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

// board gathers the board: every channel, ranked so that what needs a
// person is on top.
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
		rows[i] = boardRow{ChannelView: c, Extra: extraFields(c)}
		byID[c.ID] = &rows[i]
	}
	for _, m := range in {
		r := byID[m.Channel]
		if r == nil || m.Acknowledged {
			continue
		}
		r.AwaitUs++
		if r.AwaitUsTop == "" || precRank(m.Precedence) < precRank(r.AwaitUsTop) {
			r.AwaitUsTop = m.Precedence
		}
		if !m.AckDue.IsZero() && (r.AwaitUsDue.IsZero() || m.AckDue.Before(r.AwaitUsDue)) {
			r.AwaitUsDue = m.AckDue
		}
	}
	for _, m := range out {
		r := byID[m.Channel]
		if r == nil || m.Acknowledged {
			continue
		}
		r.AwaitThem++
		if !m.AckDue.IsZero() && (r.AwaitThemDue.IsZero() || m.AckDue.Before(r.AwaitThemDue)) {
			r.AwaitThemDue = m.AckDue
		}
	}
	for i := range rows {
		r := &rows[i]
		usLate := !r.AwaitUsDue.IsZero() && now.After(r.AwaitUsDue)
		themLate := !r.AwaitThemDue.IsZero() && now.After(r.AwaitThemDue)
		r.Overdue = usLate || themLate
		r.Attention = r.State != store.Active || r.Blocked != "" || !r.Connected
		switch {
		case r.AwaitUs > 0 && urgent(r.AwaitUsTop):
			r.rank = 0
		case usLate:
			r.rank = 1
		case r.Attention:
			r.rank = 2
		case r.AwaitUs > 0:
			r.rank = 3
		case themLate:
			r.rank = 4
		case r.AwaitThem > 0:
			r.rank = 5
		default:
			r.rank = 6
		}
	}
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
	return rows, nil
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
	station.MessageView
	Incoming bool
}

// conversation is a channel's messages in both directions, in the order
// this station stored them.
func (s *Server) conversation(ctx context.Context, ch string) (*station.ChannelView, []message, error) {
	chs, err := s.cfg.Ops.Channels(ctx)
	if err != nil {
		return nil, nil, err
	}
	var view *station.ChannelView
	for i := range chs {
		if chs[i].ID == ch {
			view = &chs[i]
		}
	}
	if view == nil {
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
	ms := make([]message, 0, len(in)+len(out))
	for _, m := range in {
		ms = append(ms, message{m, true})
	}
	for _, m := range out {
		ms = append(ms, message{m, false})
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].ReceivedAt.Before(ms[j].ReceivedAt) })
	return view, ms, nil
}

// takeover returns the incoming FLASH and IMMEDIATE messages not yet
// acknowledged, most urgent first.
func (s *Server) takeover(ctx context.Context) ([]station.MessageView, error) {
	in, err := s.cfg.Ops.Inbox(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []station.MessageView
	for _, m := range in {
		if !m.Acknowledged && urgent(m.Precedence) {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := precRank(out[i].Precedence), precRank(out[j].Precedence); a != b {
			return a < b
		}
		return out[i].ReceivedAt.Before(out[j].ReceivedAt)
	})
	return out, nil
}

// recentAlerts returns the station's latest alerts, newest first.
func (s *Server) recentAlerts(ctx context.Context, n int) ([]store.Alert, error) {
	as, err := s.cfg.Ops.Alerts(ctx, 0)
	if err != nil {
		return nil, err
	}
	if len(as) > n {
		as = as[len(as)-n:]
	}
	out := make([]store.Alert, len(as))
	for i, a := range as {
		out[len(as)-1-i] = a
	}
	return out, nil
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

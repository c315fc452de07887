package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/store"
)

// Alerts that take over the screen until a person acknowledges them:
//
//   - an incoming FLASH or IMMEDIATE message not acknowledged (its
//     acknowledgement is a signed entry to the peer, as ever);
//   - a station alert of level "alarm" (a missed deadline, a tamper alarm,
//     a dormant channel, a suspension by the peer, a refused station) or
//     "supervisor" (a supervisor must act on a late message; only those
//     who may handle escalations see and acknowledge it);
//   - a channel with no path up for longer than Config.DownAfter, an
//     alert the console raises itself.
//
// The station's alerts are never changed: that a person acknowledged one
// on the console is recorded in the console's own records (store.Console,
// ConsoleAlert) and in the audit trail.

// DefaultDownAfter is how long a channel may be down before it takes over
// the screen: long enough for a peer's restart or a reconnect, short
// enough that nobody misses an outage.
const DefaultDownAfter = 5 * time.Second

// takesOver reports whether a station alert of this level takes over the
// screen, and the permission needed to acknowledge it.
func takesOver(level string) (operator.Permission, bool) {
	switch level {
	case "alarm":
		return operator.Ack, true
	case "supervisor":
		return operator.Escalate, true
	}
	return "", false
}

// takeoverItem is one thing that takes over the screen.
type takeoverItem struct {
	// Key is what acknowledges it: the message id for a message, "a:ID"
	// for a station alert, "c:ID" for one of the console's own.
	Key     string
	Kind    string // "call", "message", "alarm", "supervisor", "down"
	Channel string
	At      time.Time
	Call    *ops.CallView // a call ringing here
	Message *ops.MessageView
	Alert   *ops.AlertView
	Console *store.ConsoleAlert
}

// IsAlert tells an alert (acknowledged on the console) from a message
// or a call (answered on its page).
func (t takeoverItem) IsAlert() bool { return t.Kind != "message" && t.Kind != "call" }

// hub passes the console's own notifications to the browsers' event
// streams, beside the station's.
type hub struct {
	mu   sync.Mutex
	subs map[chan protocol.Notify]struct{}
}

func (h *hub) subscribe() (<-chan protocol.Notify, func()) {
	ch := make(chan protocol.Notify, 16)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan protocol.Notify]struct{}{}
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (h *hub) publish(n protocol.Notify) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- n:
		default: // a slow browser misses it; the next one refreshes everything
		}
	}
}

// stateMayChange says whether a notification may come with a change of a
// channel's state. Messages, receipts and acknowledgements never do: a
// channel goes down or comes back with its links ("link"), and is agreed,
// suspended, resumed or found dormant with "channel". Looking at every
// channel on each message would cost a store read of every channel per
// message, which at a thousand messages a second was a tenth of the
// station's CPU.
func stateMayChange(n protocol.Notify) bool {
	switch n.What {
	case "received", "delivered", "acknowledged":
		return false
	}
	return true
}

// watch raises and clears the console's own alerts from the station's
// state, woken by the notifications that may change it (wakes are never
// lost, however many come while it looks) and when a channel has been
// down for DownAfter; nothing polls.
func (s *Server) watch(wakes <-chan struct{}, cancel func()) {
	defer cancel()
	wake := time.NewTimer(0)
	defer wake.Stop()
	for {
		select {
		case <-wakes:
		case <-wake.C:
		case <-s.cfg.Done:
			return
		}
		next, err := s.reconcile(context.Background())
		if err != nil {
			select {
			case <-s.cfg.Done:
				return
			default:
			}
			s.cfg.Log.Error("console alerts", "err", err)
		}
		if !wake.Stop() {
			select {
			case <-wake.C:
			default:
			}
		}
		if !next.IsZero() {
			wake.Reset(max(time.Until(next), time.Millisecond))
		}
	}
}

// reconcile raises an alert for each channel down for DownAfter that has
// none open, and clears those of channels up again. It returns when the
// next channel's grace ends (zero if none is waiting).
func (s *Server) reconcile(ctx context.Context) (time.Time, error) {
	chs, err := s.cfg.Ops.Channels(ctx)
	if err != nil {
		return time.Time{}, err
	}
	st := s.cfg.Operators.Store
	open, err := st.ConsoleAlerts(ctx, store.ConsoleAlertQuery{Kind: store.ConsoleAlertDown, Open: true})
	if err != nil {
		return time.Time{}, err
	}
	lasting := map[string]bool{}
	for _, a := range open {
		lasting[a.Channel] = lasting[a.Channel] || a.ClearedAt.IsZero()
	}
	now := s.cfg.Now()
	changed := false
	var next time.Time
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	up := map[string]bool{} // peers with a path up
	for _, c := range chs {
		for _, p := range c.Paths {
			up[c.Peer] = up[c.Peer] || p.Up
		}
	}
	for _, c := range chs {
		if _, ok := up[c.Peer]; !ok {
			continue
		}
		if !up[c.Peer] {
			delete(s.upSince, c.Peer)
		} else if _, ok := s.upSince[c.Peer]; !ok {
			s.upSince[c.Peer] = now
			changed = true
		}
	}
	for _, c := range chs {
		seen[c.ID] = true
		if c.State != protocol.StateDown {
			delete(s.downSince, c.ID)
			if lasting[c.ID] {
				if _, err := st.ClearConsoleAlerts(ctx, store.ConsoleAlertDown, c.ID, now); err != nil {
					return time.Time{}, err
				}
				changed = true
			}
			continue
		}
		since, ok := s.downSince[c.ID]
		if !ok {
			since = now
			s.downSince[c.ID] = now
		}
		if due := since.Add(s.cfg.DownAfter); now.Before(due) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		if lasting[c.ID] {
			continue // one alert per outage; a flapping channel's outages are grouped on the board
		}
		text := fmt.Sprintf("%s: no path to %s is up (%s down) since %s", c.ID, c.Peer, strings.Join(downPaths(c), ", "), utc(since))
		if _, err := st.AddConsoleAlert(ctx, store.ConsoleAlert{Kind: store.ConsoleAlertDown, Channel: c.ID, Text: text, RaisedAt: since}); err != nil {
			return time.Time{}, err
		}
		s.cfg.Log.Warn("channel down", "channel", c.ID, "since", since)
		changed = true
	}
	for id := range s.downSince {
		if !seen[id] {
			delete(s.downSince, id)
		}
	}
	if changed {
		s.hub.publish(protocol.Notify{What: "console-alert"})
	}
	return next, nil
}

// pendingAlerts returns the station alerts that take over the screen and
// no one has acknowledged on the console, oldest first. Alerts up to
// s.floor are known to need nothing, so that only newer ones are read.
func (s *Server) pendingAlerts(ctx context.Context) ([]ops.AlertView, error) {
	cached := s.alarmCache.floor()
	s.mu.Lock()
	floor := max(s.floor, cached)
	s.mu.Unlock()
	as, err := s.cfg.Ops.Alerts(ctx, floor)
	if err != nil {
		return nil, err
	}
	acks, err := s.cfg.Operators.Store.ConsoleAlerts(ctx, store.ConsoleAlertQuery{Kind: store.ConsoleAlertStation, AlertAfter: floor})
	if err != nil {
		return nil, err
	}
	acked := map[int64]bool{}
	for _, a := range acks {
		acked[a.Alert] = true
	}
	var out []ops.AlertView
	top := floor
	for _, a := range as {
		if _, ok := takesOver(a.Level); ok && !acked[a.ID] {
			out = append(out, a)
		} else if len(out) == 0 {
			top = a.ID
		}
	}
	s.mu.Lock()
	s.floor = max(s.floor, top)
	s.mu.Unlock()
	return out, nil
}

// takeover returns what takes over the screen of an operator with this
// role: the calls ringing here that they may answer, then the messages
// and alerts they may acknowledge, calls and messages by precedence
// (FLASH first), then the console's own alerts and the station's, oldest
// first.
func (s *Server) takeover(ctx context.Context, role string) ([]takeoverItem, error) {
	calls, err := s.ringing(ctx, role)
	if err != nil {
		return nil, err
	}
	if !operator.Allowed(role, operator.Ack) && !operator.Allowed(role, operator.Escalate) {
		return calls, nil
	}
	rest, err := s.takeoverRest(ctx, role)
	return append(calls, rest...), err
}

// ringing returns the calls from the other party ringing here, as
// takeover items, if the role may answer them.
func (s *Server) ringing(ctx context.Context, role string) ([]takeoverItem, error) {
	if !operator.Allowed(role, operator.Permission(ops.AnswerCall.Op.Permission)) {
		return nil, nil
	}
	cs, err := s.cfg.Ops.Calls(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []takeoverItem
	for i := range cs {
		c := &cs[i]
		if c.From != s.cfg.Station && c.State == "ringing" {
			out = append(out, takeoverItem{Key: "call:" + c.ID, Kind: "call", Channel: c.Channel, At: c.RequestedAt, Call: c})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := precRank(out[i].Call.Precedence), precRank(out[j].Call.Precedence); a != b {
			return a < b
		}
		return out[i].At.Before(out[j].At)
	})
	return out, nil
}

// takeoverRest is what takes over the screen besides calls.
func (s *Server) takeoverRest(ctx context.Context, role string) ([]takeoverItem, error) {
	in, err := s.cfg.Ops.Inbox(ctx, "")
	if err != nil {
		return nil, err
	}
	var msgs []takeoverItem
	for i := range in {
		m := &in[i]
		if !m.Acknowledged && urgent(m.Precedence) {
			msgs = append(msgs, takeoverItem{Key: m.ID, Kind: "message", Channel: m.Channel, At: m.ReceivedAt, Message: m})
		}
	}
	sort.SliceStable(msgs, func(i, j int) bool {
		if a, b := precRank(msgs[i].Message.Precedence), precRank(msgs[j].Message.Precedence); a != b {
			return a < b
		}
		return msgs[i].At.Before(msgs[j].At)
	})
	if !operator.Allowed(role, operator.Ack) {
		msgs = nil
	}
	var alerts []takeoverItem
	own, err := s.cfg.Operators.Store.ConsoleAlerts(ctx, store.ConsoleAlertQuery{Open: true})
	if err != nil {
		return nil, err
	}
	shelves := s.shelvesNow(s.cfg.Now())
	for i := range own {
		a := &own[i]
		// One whose condition cleared before anyone acknowledged it is a
		// "cleared" notice, no longer a takeover.
		if a.AckBy == "" && a.ClearedAt.IsZero() && operator.Allowed(role, operator.Ack) && !s.shelved(shelves, a.Channel, a.Kind) {
			alerts = append(alerts, takeoverItem{Key: "c:" + strconv.FormatInt(a.ID, 10), Kind: a.Kind, Channel: a.Channel, At: a.RaisedAt, Console: a})
		}
	}
	pending, err := s.pendingAlerts(ctx)
	if err != nil {
		return nil, err
	}
	for i := range pending {
		a := &pending[i]
		if perm, _ := takesOver(a.Level); operator.Allowed(role, perm) && !s.shelved(shelves, alertSource(a), alertKind(a)) {
			alerts = append(alerts, takeoverItem{Key: "a:" + strconv.FormatInt(a.ID, 10), Kind: a.Level, Channel: a.Channel, At: a.At, Alert: a})
		}
	}
	sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].At.Before(alerts[j].At) })
	return append(msgs, alerts...), nil
}

// alertLine is one occurrence as the alarm board shows it: a station
// alert or one of the console's own, with its acknowledgement on the
// console if any.
type alertLine struct {
	At        time.Time
	Level     string
	Channel   string
	Text      string
	Console   bool // raised by the console
	ClearedAt time.Time
	alert     ops.AlertView // the station's alert, when not Console
	AckBy     string
	AckAt     time.Time
}

// alarmCacheTTL is how long the station's alerts, as the console read
// them, serve before they are read whole again (for acknowledgements made
// by another console of the same store).
const alarmCacheTTL = 30 * time.Second

// alarmCache holds the station's alerts as occurrences with their
// acknowledgements on the console. Alerts are only ever added, and the
// first acknowledgement of one stands, written by this console (ackAlerts
// counts them in ackGen, and writes each into the cache, alarmAcked): so
// new alerts are read on their own, and everything again only after
// alarmCacheTTL, or an acknowledgement the cache may have missed.
type alarmCache struct {
	mu    sync.Mutex
	gen   int64     // ackGen when read whole
	read  time.Time // when read whole
	top   int64     // the highest alert ID read
	occ   []alarm
	valid bool
}

// floor returns, from what the cache holds (without reading), the
// highest alert ID at and below which no alert can take over the screen:
// each was acknowledged (the first acknowledgement stands) or is not an
// alarm (its level never changes). Alerts the cache left out are old and
// have nothing left to do. Zero when the cache holds nothing. It spares
// pendingAlerts reading every alert again after the alarm board did.
func (c *alarmCache) floor() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.valid {
		return 0
	}
	for i := range c.occ {
		o := &c.occ[i]
		if _, ok := takesOver(o.Level); ok && o.AckBy == "" {
			return o.line.alert.ID - 1
		}
	}
	return c.top
}

// alarmAcked records in the alarm cache a station alert's acknowledgement
// (as the store now holds it), so that the next board need not read every
// alert again. When the cache may have missed an earlier acknowledgement
// (or holds nothing), it is left to be read whole. The cache's
// occurrences are replaced, not changed in place: a board may be reading
// them.
func (s *Server) alarmAcked(id int64, by string, at time.Time) {
	c := &s.alarmCache
	c.mu.Lock()
	defer c.mu.Unlock()
	current := c.valid && c.gen == s.ackGen.Load()
	gen := s.ackGen.Add(1)
	if !current {
		return
	}
	if i, ok := slices.BinarySearchFunc(c.occ, id, func(o alarm, id int64) int { return cmp.Compare(o.line.alert.ID, id) }); ok {
		occ := slices.Clone(c.occ)
		o := &occ[i]
		o.AckBy, o.AckAt, o.line.AckBy, o.line.AckAt = by, at, by, at
		c.occ = occ
	}
	c.gen = gen
}

// stationAlarms returns the station's alerts as occurrences, with who
// acknowledged them on the console, oldest first; none older than
// alarmWindow that no longer stands.
func (s *Server) stationAlarms(ctx context.Context) ([]alarm, error) {
	c := &s.alarmCache
	c.mu.Lock()
	defer c.mu.Unlock()
	gen := s.ackGen.Load()
	whole := !c.valid || c.gen != gen || time.Since(c.read) > alarmCacheTTL
	after := c.top
	if whole {
		after = 0
	}
	as, err := s.cfg.Ops.Alerts(ctx, after)
	if err != nil {
		return nil, err
	}
	if whole {
		c.occ, c.valid, c.gen, c.read = nil, false, gen, time.Now()
	}
	if len(as) > 0 {
		acks, err := s.cfg.Operators.Store.ConsoleAlerts(ctx, store.ConsoleAlertQuery{Kind: store.ConsoleAlertStation, AlertAfter: as[0].ID - 1})
		if err != nil {
			return nil, err
		}
		ackOf := map[int64]store.ConsoleAlert{}
		for _, a := range acks {
			ackOf[a.Alert] = a
		}
		now := s.cfg.Now()
		for _, a := range as {
			k := ackOf[a.ID]
			o := alarm{Key: "a:" + strconv.FormatInt(a.ID, 10), Source: alertSource(&a), Kind: alertKind(&a), Level: a.Level, At: a.At,
				AckBy: k.AckBy, AckAt: k.AckAt,
				line: alertLine{At: a.At, Level: a.Level, Channel: a.Channel, Text: a.Text, AckBy: k.AckBy, AckAt: k.AckAt, alert: a}}
			c.top = max(c.top, a.ID)
			if _, alarm := takesOver(a.Level); now.Sub(a.At) >= alarmWindow && (!alarm || k.AckBy != "") {
				continue // old, and nothing left to do
			}
			c.occ = append(c.occ, o)
		}
	}
	c.valid = true
	return c.occ, nil
}

// alertSource is what a station alert is about, for grouping: its
// channel, else its peer.
func alertSource(a *ops.AlertView) string {
	if a.Channel != "" {
		return a.Channel
	}
	return a.Peer
}

// pathFormats are the station alerts about a path to a peer closing:
// their condition ends when a path to the peer is up again, which the
// console sees (reconcile), so they leave the active list by themselves.
var pathFormats = map[string]bool{
	"%s path to %s closed: nothing heard for %s": true, // this station closed a silent path
	"%s reports: %s": true, // the peer said why it closed a connection
}

// pathAlert reports whether a station alert is about a path to a peer,
// with no channel: its condition ends when a path to the peer is up.
func pathAlert(a *ops.AlertView) bool {
	return a.Channel == "" && a.Peer != "" && pathFormats[a.Format]
}

// alertKind is a station alert's kind, for grouping: the format it was
// written from, or its text when it has none.
func alertKind(a *ops.AlertView) string {
	if a.Format != "" {
		return a.Format
	}
	return a.Text
}

// occurrences returns the station's alerts and the console's own, with
// who acknowledged them: those of the last alarmWindow, and older ones
// that still stand.
func (s *Server) occurrences(ctx context.Context) ([]alarm, error) {
	now := s.cfg.Now()
	station, err := s.stationAlarms(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	upSince := maps.Clone(s.upSince)
	s.mu.Unlock()
	out := make([]alarm, 0, len(station))
	for _, o := range station {
		if pathAlert(&o.line.alert) {
			// A path's condition ends when the console sees a path to
			// the peer up after it.
			o.Lasting = true
			if t, ok := upSince[o.line.alert.Peer]; ok && !t.Before(o.At) {
				o.ClearedAt, o.line.ClearedAt = t, t
			}
		}
		if now.Sub(o.At) >= alarmWindow {
			if _, ok := takesOver(o.Level); !ok || !o.standing() {
				continue // old, and nothing left to do
			}
		}
		out = append(out, o)
	}
	st := s.cfg.Operators.Store
	own, err := st.ConsoleAlerts(ctx, store.ConsoleAlertQuery{Kind: store.ConsoleAlertDown})
	if err != nil {
		return nil, err
	}
	for _, a := range own {
		if now.Sub(a.RaisedAt) >= alarmWindow && !a.ClearedAt.IsZero() {
			continue
		}
		out = append(out, alarm{Key: "c:" + strconv.FormatInt(a.ID, 10), Source: a.Channel, Kind: a.Kind, Level: "down", At: a.RaisedAt,
			Lasting: true, ClearedAt: a.ClearedAt, AckBy: a.AckBy, AckAt: a.AckAt,
			line: alertLine{At: a.RaisedAt, Level: "alarm", Channel: a.Channel, Text: a.Text, Console: true, ClearedAt: a.ClearedAt, AckBy: a.AckBy, AckAt: a.AckAt}})
	}
	return out, nil
}

// alarms returns the alarm board as of now.
func (s *Server) alarms(ctx context.Context) (*alarmBoard, error) {
	occ, err := s.occurrences(ctx)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	b := groupAlarms(occ, s.shelvesNow(now), now)
	return &b, nil
}

// shelvesNow returns the shelves in force, forgetting those that ended.
func (s *Server) shelvesNow(now time.Time) map[string]shelf {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]shelf{}
	for id, sh := range s.shelves {
		if !now.Before(sh.Until) {
			delete(s.shelves, id)
			continue
		}
		out[id] = sh
	}
	return out
}

// shelved reports whether an alarm group is shelved now.
func (s *Server) shelved(shelves map[string]shelf, source, kind string) bool {
	_, ok := shelves[groupID(source, kind)]
	return ok
}

// maxAckKeys is the most alerts one request acknowledges.
const maxAckKeys = 1000

// ackAlerts acknowledges alerts on the console in an operator's name:
// each is recorded in the console's store and in the audit trail. A
// supervisor's alert needs the permission to handle escalations.
func (s *Server) ackAlerts(r *http.Request, se *session) (result, error) {
	var req struct {
		Keys []string `json:"keys"`
	}
	if err := readJSON(r, &req); err != nil {
		return result{}, err
	}
	if len(req.Keys) == 0 || len(req.Keys) > maxAckKeys {
		return result{}, bad("name 1 to %d alerts to acknowledge (keys like a:17 or c:3)", maxAckKeys)
	}
	ctx := r.Context()
	now := s.cfg.Now().UTC()
	var out []store.ConsoleAlert
	for _, key := range req.Keys {
		rec, err := s.ackOne(ctx, se, key, now)
		if id, ok := strings.CutPrefix(key, "a:"); ok && err == nil {
			n, _ := strconv.ParseInt(id, 10, 64)
			s.alarmAcked(n, rec.AckBy, rec.AckAt)
		} else {
			s.ackGen.Add(1)
		}
		detail := ""
		if err != nil {
			detail = errText(err)
		} else {
			detail = rec.Text
			if rec.AckBy != se.op.Name || !rec.AckAt.Equal(now) {
				detail = fmt.Sprintf("already acknowledged by %s: %s", rec.AckBy, rec.Text)
			}
		}
		outcome := operator.Outcome(err)
		if errors.Is(err, errForbidden) {
			outcome = "refused"
		}
		s.audit(r, se, "alert.ack", key, outcome, detail)
		if err != nil {
			return result{audited: true}, err
		}
		out = append(out, *rec)
	}
	s.hub.publish(protocol.Notify{What: "console-alert"})
	return result{body: out, audited: true}, nil
}

func (s *Server) ackOne(ctx context.Context, se *session, key string, now time.Time) (*store.ConsoleAlert, error) {
	kind, num, _ := strings.Cut(key, ":")
	id, err := strconv.ParseInt(num, 10, 64)
	if err != nil || id <= 0 || kind != "a" && kind != "c" {
		return nil, bad("alert %q is not a:ID (a station alert) or c:ID (the console's own)", key)
	}
	st := s.cfg.Operators.Store
	if kind == "c" {
		if !operator.Allowed(se.op.Role, operator.Ack) {
			return nil, fmt.Errorf("%w: role %s may not %s", errForbidden, se.op.Role, operator.Ack)
		}
		rec, err := st.AckConsoleAlert(ctx, id, se.op.Name, now)
		if errors.Is(err, store.ErrNotFound) {
			return nil, bad("there is no console alert %d", id)
		}
		return rec, err
	}
	as, err := s.cfg.Ops.Alerts(ctx, id-1)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 || as[0].ID != id {
		return nil, bad("there is no station alert %d", id)
	}
	perm, ok := takesOver(as[0].Level)
	if !ok {
		perm = operator.Ack
	}
	if !operator.Allowed(se.op.Role, perm) {
		return nil, fmt.Errorf("%w: role %s may not %s", errForbidden, se.op.Role, perm)
	}
	return st.AddConsoleAlert(ctx, store.ConsoleAlert{Alert: id, AckBy: se.op.Name, AckAt: now})
}

// fillTakeover gives a page what takes over its operator's screen, and
// the "cleared" notices of the console's own alarms whose condition ended
// before anyone acknowledged them (for those who may acknowledge them).
func (s *Server) fillTakeover(ctx context.Context, d *pageData) error {
	var err error
	if d.Takeover, err = s.takeover(ctx, d.Op.Role); err != nil {
		return err
	}
	if !operator.Allowed(d.Op.Role, operator.Ack) {
		return nil
	}
	own, err := s.cfg.Operators.Store.ConsoleAlerts(ctx, store.ConsoleAlertQuery{Kind: store.ConsoleAlertDown, Open: true})
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	var occ []alarm
	for _, a := range own {
		if a.AckBy == "" && !a.ClearedAt.IsZero() && now.Sub(a.RaisedAt) < alarmWindow {
			occ = append(occ, alarm{Key: "c:" + strconv.FormatInt(a.ID, 10), Source: a.Channel, Kind: a.Kind, Level: "down", At: a.RaisedAt,
				Lasting: true, ClearedAt: a.ClearedAt,
				line: alertLine{At: a.RaisedAt, Level: "alarm", Channel: a.Channel, Text: a.Text, Console: true, ClearedAt: a.ClearedAt}})
		}
	}
	if len(occ) > 0 {
		d.Cleared = groupAlarms(occ, s.shelvesNow(now), now).Cleared
	}
	return nil
}

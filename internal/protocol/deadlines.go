package protocol

// Time in the core: acknowledgement deadlines and their escalation ladder,
// operator checks and dormancy, machine-answered link tests, suspensions.
// Everything here runs from Tick events and the times that come with
// every event; the core never reads a clock. NextWake tells the station
// when the next timer falls due.

import (
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"hotline/internal/envelope"
	"hotline/internal/record"
)

// Tick tells the core that time has passed: timers due at or before the
// event's time fire.
type Tick struct{}

func (Tick) event() {}

// ErrSuspended is returned for a message on a suspended channel.
var ErrSuspended = errors.New("channel is suspended")

// probeFlushEvery is how often link test counts are written.
const probeFlushEvery = 5 * time.Minute

// skewWarn is the clock difference with a peer that raises a warning.
const skewWarn = time.Minute

type timerKind uint8

const (
	tWait  timerKind = iota + 1 // the head of a channel's queue of waiting entries falls due (q; index: its generation)
	tCheck                      // issue an operator check on a channel
	tTests                      // the link tests of a peer's channels (ch: the peer)
	tFlush                      // write link test counts
	tPaths                      // probe every path, close the silent ones
)

type timer struct {
	at    time.Time
	seq   uint64
	kind  timerKind
	ch    string
	index uint64
	q     *waitQueue
}

type timers []*timer

func (h timers) Len() int { return len(h) }
func (h timers) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timers) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timers) Push(x any)   { *h = append(*h, x.(*timer)) }
func (h *timers) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func (c *Core) schedule(t *timer) {
	c.timerSeq++
	t.seq = c.timerSeq
	heap.Push(&c.timers, t)
}

// NextWake returns when the next timer falls due; zero if none.
func (c *Core) NextWake() time.Time {
	if len(c.timers) == 0 {
		return time.Time{}
	}
	return c.timers[0].at
}

type entryKey struct {
	author string
	index  uint64
}

// waiting is a waiting entry's record (waitRec) with what it needs beyond
// it, as the ladder's steps take it.
type waiting struct {
	at     time.Time     // when this station stored it, on its own clock
	window time.Duration // for checks
	origin *origin       // for this station's escalations: what it forwards
	step   int8          // the last ladder step taken
	kind   envelope.Kind
	prec   envelope.Precedence
}

type origin struct {
	channel string
	index   uint64
}

// probeState is a channel's link tests.
type probeState struct {
	due      time.Time // when its next test falls due
	lastOK   time.Time
	rtt      time.Duration
	skew     time.Duration
	skewSeen bool
	// counts not yet written, by hour
	pending map[time.Time]*record.ProbeStat
}

// linkRound is a round of link tests of a peer's channels under way: the
// channels tested, answered together by the answer to one path probe on
// the active path (docs/PROTOCOL.md, "Link tests").
type linkRound struct {
	channels []string
	conn     ConnID // the active path when the round began
	// seq is the path probe that answers the round: the first sent on
	// conn at or after the round began (0 until it is sent).
	seq uint64
}

// ladder returns the time of step of w under the channel's charter.
func (c *Core) ladderAt(cs *chanState, key entryKey, w *waiting, step int) time.Time {
	if key.author != c.keys.Name {
		if w.kind == envelope.Check {
			return w.at.Add(w.window)
		}
		return w.at.Add(cs.charter.Deadlines[w.prec])
	}
	d := cs.charter.Deadlines[w.prec]
	switch step {
	case record.StepUndelivered:
		return w.at.Add(cs.charter.Delivery[w.prec])
	case record.StepOverdue:
		return w.at.Add(d)
	case record.StepSupervisor:
		return w.at.Add(d + d/2)
	}
	return w.at.Add(2 * d)
}

// compactTimers drops the timers that would fire for nothing (a queue
// armed again, a peer's tests set earlier) once they are most of the heap.
func (c *Core) compactTimers() {
	if c.staleTimers < 1024 || c.staleTimers*2 < len(c.timers) {
		return
	}
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.kind == tWait && t.q.gen != t.index {
			continue
		}
		if p := c.peers[t.ch]; t.kind == tTests && (p == nil || !p.testsAt.Equal(t.at)) {
			continue
		}
		kept = append(kept, t)
	}
	clear(c.timers[len(kept):])
	c.timers = kept
	heap.Init(&c.timers)
	c.staleTimers = 0
}

// await starts tracking an entry that waits for acknowledgement, at the
// ladder step given (the last taken).
func (c *Core) await(cs *chanState, e *record.Waiting, step int) {
	if !e.Kind.NeedsAck() {
		return
	}
	side := c.side(e.Author)
	l := &cs.waits[side]
	r := waitRec{index: e.Index, at: e.StoredAt.UnixNano(), step: int8(step), kind: e.Kind, prec: e.Precedence}
	// Only a check's window and an escalation's origin are kept; a
	// forward's text is read back when it falls due (forwardLoaded).
	if record.WaitingBody(e.Kind, e.Author, c.keys.Name) {
		var x waitExtra
		if b, err := c.cfg.Bodies.Decode(e.Kind, e.Body, cs.codebook); err == nil {
			switch b := b.(type) {
			case *CheckBody:
				x.window, _ = time.ParseDuration(b.Window)
			case *EscalationBody:
				if ch, author, idx, ok := splitID(b.From); ok && author == c.keys.Name {
					x.origin = &origin{channel: ch, index: idx}
				}
			}
		}
		if l.extra == nil {
			l.extra = map[uint64]waitExtra{}
		}
		l.extra[e.Index] = x
	}
	if l.put(r) {
		cs.awaiting[side]++
	}
	if q := c.nextQueue(cs, side, &r); q != nil {
		c.enqueue(cs, q, e.Index)
	}
}

// clip cuts s to at most n bytes, at a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n-len("…")]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// side is 0 for this station's entries, 1 for the peer's.
func (c *Core) side(author string) int {
	if author == c.keys.Name {
		return 0
	}
	return 1
}

func splitID(id string) (ch, author string, idx uint64, ok bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return "", "", 0, false
	}
	n, err := strconv.ParseUint(parts[2], 10, 64)
	return parts[0], parts[1], n, err == nil && n > 0
}

// acknowledged stops the ladder of an entry a person acknowledged.
func (c *Core) acknowledged(cs *chanState, author string, index uint64, by string) {
	side := c.side(author)
	r := cs.waits[side].live(index)
	if r == nil {
		return
	}
	w := c.view(cs, side, r)
	c.forget(cs, side, r)
	if w.kind == envelope.Check && author == c.keys.Name && cs.dormant && index == cs.rec.LastCheck {
		cs.dormant = false
		c.alert("notice", cs.rec.ID, cs.rec.Peer, "%s answered the check on %s: the channel is no longer dormant", by, cs.rec.ID)
		c.emit(Notify{What: "channel", Channel: cs.rec.ID})
	}
	if o := w.origin; o != nil {
		// An acknowledgement of a forwarded message stops the ladder of
		// the original too.
		if ocs := c.channels[o.channel]; ocs != nil && ocs.waits[0].live(o.index) != nil {
			c.batch.Acks = append(c.batch.Acks, record.Ack{Channel: o.channel, Author: c.keys.Name, Index: o.index,
				AckAuthor: cs.rec.Peer, By: fmt.Sprintf("%s on %s", by, cs.rec.ID), At: c.now})
			c.acknowledged(ocs, c.keys.Name, o.index, by)
			c.emit(Notify{What: "acknowledged", Channel: o.channel, Entry: fmt.Sprintf("%s/%s/%d", o.channel, c.keys.Name, o.index)})
		}
	}
}

// waitNoMore stops the ladder of every entry of a channel that waits for
// acknowledgement: the channel was withdrawn, and nobody will answer on
// it.
func (c *Core) waitNoMore(cs *chanState) {
	for side := range cs.waits {
		l := &cs.waits[side]
		for i := range l.recs {
			if l.recs[i].flags&wGone == 0 {
				l.recs[i].flags |= wGone
				l.gone++
				cs.awaiting[side]--
			}
		}
		l.extra = nil
		c.compactWaits(cs, side, true)
	}
	c.compactTimers()
}

// arm schedules every timer once the core knows the time (its first step).
func (c *Core) arm() {
	c.armed = true
	ids := make([]string, 0, len(c.channels))
	for id := range c.channels {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		cs := c.channels[id]
		c.armChannel(cs)
		if r := cs.waits[0].live(cs.rec.LastCheck); r != nil && r.kind == envelope.Check && r.step >= record.StepOverdue {
			cs.dormant = true
		}
		for _, q := range cs.queues {
			c.armQueue(cs, q)
		}
	}
	c.schedule(&timer{at: c.now.Add(probeFlushEvery), kind: tFlush})
	c.armPaths()
}

// armChannel starts an active channel's link tests and operator checks.
func (c *Core) armChannel(cs *chanState) {
	if !c.armed || cs.rec.State != record.Active || cs.armed {
		return
	}
	cs.armed = true
	cs.probe.due = c.now.Add(cs.charter.LinkTest)
	c.scheduleTests(c.peers[cs.rec.Peer], cs.probe.due)
	next := cs.rec.CreatedAt.Add(cs.charter.CheckEvery)
	if cs.rec.LastCheck != 0 {
		next = cs.rec.LastCheckAt.Add(cs.charter.CheckEvery)
	}
	if next.Before(c.now) {
		next = c.now
	}
	c.schedule(&timer{at: next, kind: tCheck, ch: cs.rec.ID})
}

// tick fires every timer that is due.
func (c *Core) tick() {
	reminders := map[string][]uint64{}
	var order []string
	for len(c.timers) > 0 && !c.timers[0].at.After(c.now) {
		t := heap.Pop(&c.timers).(*timer)
		cs := c.channels[t.ch]
		switch t.kind {
		case tPaths:
			c.tickPaths()
			continue
		case tFlush:
			c.flushProbes()
			c.schedule(&timer{at: c.now.Add(probeFlushEvery), kind: tFlush})
		case tTests:
			if p := c.peers[t.ch]; p != nil && p.testsAt.Equal(t.at) {
				p.testsAt = time.Time{}
				c.linkTests(p)
			}
		case tCheck:
			c.operatorCheck(cs)
			c.schedule(&timer{at: c.now.Add(cs.charter.CheckEvery), kind: tCheck, ch: t.ch})
		case tWait:
			if t.q.gen != t.index {
				continue // armed again since
			}
			if i := c.fireQueue(cs, t.q); i != 0 {
				if reminders[t.ch] == nil {
					order = append(order, t.ch)
				}
				reminders[t.ch] = append(reminders[t.ch], i)
			}
		}
	}
	c.compactTimers()
	for _, id := range order {
		cs := c.channels[id]
		if c.mayWrite(cs) != nil {
			continue
		}
		body, _ := json.Marshal(ReminderBody{Of: reminders[id]})
		if _, err := c.appendMine(0, cs, envelope.Reminder, envelope.Flash, body); err != nil {
			c.alert("alarm", id, cs.rec.Peer, "could not remind %s: %v", cs.rec.Peer, err)
		}
	}
}

// step records a ladder step taken for an entry.
func (c *Core) step(cs *chanState, key entryKey, step int, detail string) {
	c.batch.Escalations = append(c.batch.Escalations, record.Escalation{Channel: cs.rec.ID, Author: key.author,
		Index: key.index, Step: step, At: c.now, Detail: detail})
	c.emit(Notify{What: "escalation", Channel: cs.rec.ID, Entry: fmt.Sprintf("%s/%s/%d", cs.rec.ID, key.author, key.index)})
}

// ladderStep takes step w.step for an entry; it reports whether the peer
// should be reminded of it.
func (c *Core) ladderStep(cs *chanState, key entryKey, w *waiting) bool {
	id := fmt.Sprintf("%s/%s/%d", cs.rec.ID, key.author, key.index)
	d := cs.charter.Deadlines[w.prec]
	if key.author != c.keys.Name {
		c.step(cs, key, record.StepOverdue, "overdue here")
		if w.kind == envelope.Check {
			c.alert("alarm", cs.rec.ID, cs.rec.Peer, "check %s from %s is not answered and its window (%s) has passed", id, cs.rec.Peer, w.window)
		} else {
			c.alert("alarm", cs.rec.ID, cs.rec.Peer, "%s %s from %s is not acknowledged and its deadline (%s) has passed",
				w.prec, id, cs.rec.Peer, d)
		}
		return false
	}
	switch w.step {
	case record.StepUndelivered:
		if key.index <= cs.mine.delivered {
			return false
		}
		c.step(cs, key, record.StepUndelivered, "not delivered")
		c.alert("alarm", cs.rec.ID, cs.rec.Peer, "%s %s is not delivered: no receipt from %s within %s",
			w.prec, id, cs.rec.Peer, cs.charter.Delivery[w.prec])
	case record.StepOverdue:
		remind := len(cs.rec.Suspensions) == 0 || w.prec == envelope.Flash && cs.charter.FlashExempt
		detail := "reminded " + cs.rec.Peer
		if !remind {
			detail = "not reminded: the channel is suspended"
		}
		c.step(cs, key, record.StepOverdue, detail)
		c.alert("alarm", cs.rec.ID, cs.rec.Peer, "%s %s is not acknowledged by %s within %s: %s", w.prec, id, cs.rec.Peer, d, detail)
		return remind
	case record.StepSupervisor:
		c.step(cs, key, record.StepSupervisor, "supervisor alerted")
		c.alert("supervisor", cs.rec.ID, cs.rec.Peer, "%s %s is still not acknowledged by %s after %s: a supervisor must act",
			w.prec, id, cs.rec.Peer, d+d/2)
	}
	return false
}

// forwardLoaded takes the body of a waiting entry of this station's, read
// back from the store for its forward (Load with Ladder), and takes the
// forward step: the entry goes up the channel's escalation path with its
// text, unless it was acknowledged meanwhile.
func (c *Core) forwardLoaded(ev Loaded) {
	cs := c.channels[ev.Channel]
	if cs == nil || ev.Author != c.keys.Name {
		return
	}
	key := entryKey{ev.Author, ev.From}
	r := cs.waits[0].live(ev.From)
	if r == nil || r.flags&wLoading == 0 || r.step >= record.StepForwarded {
		return
	}
	r.flags &^= wLoading
	r.step = record.StepForwarded
	wv := c.view(cs, 0, r)
	w := &wv
	id := fmt.Sprintf("%s/%s/%d", cs.rec.ID, key.author, key.index)
	d := cs.charter.Deadlines[w.prec]
	var text, lang string
	err := ev.Err
	if err == nil && len(ev.Bodies) != 1 {
		err = fmt.Errorf("entry %s is not stored", id)
	}
	if err == nil {
		text, lang = c.forwardText(cs, w.kind, ev.Bodies[0])
	}
	detail := ""
	if err != nil {
		err = fmt.Errorf("could not read it back: %w", err)
	} else {
		detail, err = c.forward(cs, id, w, text, lang)
	}
	if err != nil {
		detail = "not forwarded: " + err.Error()
		c.alert("alarm", cs.rec.ID, cs.rec.Peer, "%s %s is not acknowledged after %s and cannot climb: %v", w.prec, id, 2*d, err)
	} else {
		c.alert("supervisor", cs.rec.ID, cs.rec.Peer, "%s %s is not acknowledged after %s: %s", w.prec, id, 2*d, detail)
	}
	c.step(cs, key, record.StepForwarded, detail)
}

// forwardText is what a forward of an entry of kind k with this body
// carries: a text's or an escalation's text, or a registered kind's body
// in words (a coded message's phrases in every language of the
// codebook); empty for what does not climb.
func (c *Core) forwardText(cs *chanState, k envelope.Kind, body []byte) (text, lang string) {
	b, err := c.cfg.Bodies.Decode(k, body, cs.codebook)
	if err != nil {
		return "", ""
	}
	if r := c.cfg.Bodies.registered(k); r != nil {
		text, lang := r.Forward(b, cs.codebook)
		return clip(text, MaxText), lang
	}
	switch b := b.(type) {
	case *TextBody:
		return b.Text, b.Lang
	case *EscalationBody:
		return b.Text, b.Lang
	}
	return "", ""
}

// forward sends a late message up the channel's escalation path.
func (c *Core) forward(cs *chanState, id string, w *waiting, text, lang string) (string, error) {
	up := c.channels[cs.charter.EscalateTo]
	switch {
	case cs.charter.EscalateTo == "":
		return "", fmt.Errorf("the charter of %s names no channel to escalate to", cs.rec.ID)
	case up == nil || up.rec.State != record.Active:
		return "", fmt.Errorf("channel %s, to escalate to, is not active here", cs.charter.EscalateTo)
	case text == "":
		return "", fmt.Errorf("only messages climb")
	}
	if err := c.suspendedFor(up, w.prec); err != nil {
		return "", err
	}
	if err := c.mayWrite(up); err != nil {
		return "", err
	}
	body, _ := json.Marshal(EscalationBody{From: id, Precedence: w.prec.String(), Text: text, Lang: lang})
	e, err := c.appendMine(0, up, envelope.Escalation, w.prec, body)
	if err != nil {
		return "", err
	}
	return "forwarded as " + e.ID(), nil
}

// suspendedFor says why a message of precedence p may not be sent on cs.
func (c *Core) suspendedFor(cs *chanState, p envelope.Precedence) error {
	if len(cs.rec.Suspensions) == 0 || p == envelope.Flash && cs.charter.FlashExempt {
		return nil
	}
	s := cs.rec.Suspensions[0]
	return fmt.Errorf("%w: %s suspended %s at %s: %s", ErrSuspended, s.By, cs.rec.ID, s.At.UTC().Format(time.RFC3339), s.Reason)
}

// operatorCheck issues a scheduled operator check.
func (c *Core) operatorCheck(cs *chanState) {
	if cs.rec.State != record.Active || len(cs.rec.Suspensions) > 0 || cs.blocked != "" || c.mayWrite(cs) != nil {
		return
	}
	body, _ := json.Marshal(CheckBody{Window: cs.charter.CheckWindow.String()})
	if _, err := c.appendMine(0, cs, envelope.Check, envelope.Routine, body); err != nil {
		c.alert("alarm", cs.rec.ID, cs.rec.Peer, "could not issue the operator check on %s: %v", cs.rec.ID, err)
	}
}

// setSuspension records a party's suspension or its lifting.
func (c *Core) setSuspension(cs *chanState, by string, e *record.Entry, body any) {
	var kept []record.Suspension
	for _, s := range cs.rec.Suspensions {
		if s.By != by {
			kept = append(kept, s)
		}
	}
	if b, ok := body.(*SuspendBody); ok {
		kept = append(kept, record.Suspension{By: by, Index: e.Index, Reason: b.Reason, At: e.SenderTime})
	}
	cs.rec.Suspensions, cs.rec.UpdatedAt = kept, c.now
	c.batch.Channels = append(c.batch.Channels, cs.rec)
	c.emit(Notify{What: "channel", Channel: cs.rec.ID})
}

// scheduleTests makes sure a peer's link tests run by at: one timer per
// peer, whatever its number of channels.
func (c *Core) scheduleTests(p *peer, at time.Time) {
	if p == nil || !p.testsAt.IsZero() && !at.Before(p.testsAt) {
		return
	}
	if !p.testsAt.IsZero() {
		c.staleTimers++ // the later timer now fires for nothing
	}
	p.testsAt = at
	c.schedule(&timer{at: at, kind: tTests, ch: p.card.Name})
}

// linkTests tests the peer's active channels whose test falls due within
// half of their interval, all in one round: the round is answered by the
// next path probe on the active path, and no frame is sent for it
// (docs/PROTOCOL.md, "Link tests"). Tests so drift together, one round a
// link-test interval for a peer's channels of one charter.
func (c *Core) linkTests(p *peer) {
	if p.tests != nil {
		return // one round at a time: endTests runs the next
	}
	var round []string
	var next time.Time
	for _, id := range p.channels {
		cs := c.channels[id]
		if !cs.armed {
			continue
		}
		pr := &cs.probe
		every := cs.charter.LinkTest
		if pr.due.Sub(c.now) <= every/2 {
			round = append(round, id)
			c.countProbe(cs, 1, 0, 0)
			pr.due = c.now.Add(every)
		}
		if next.IsZero() || pr.due.Before(next) {
			next = pr.due
		}
	}
	if len(round) > 0 && p.ready {
		p.tests = &linkRound{channels: round, conn: p.out}
	}
	if !next.IsZero() {
		c.scheduleTests(p, next)
	}
}

func (c *Core) countProbe(cs *chanState, sent, answered int64, rtt time.Duration) {
	pr := &cs.probe
	hour := c.now.UTC().Truncate(time.Hour)
	if pr.pending == nil {
		pr.pending = map[time.Time]*record.ProbeStat{}
	}
	st := pr.pending[hour]
	if st == nil {
		st = &record.ProbeStat{Channel: cs.rec.ID, Hour: hour}
		pr.pending[hour] = st
	}
	st.Sent += sent
	st.Answered += answered
	st.RTT += rtt
}

// flushProbes adds the link test counts to the step's batch.
func (c *Core) flushProbes() {
	ids := make([]string, 0, len(c.channels))
	for id := range c.channels {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		pr := &c.channels[id].probe
		hours := make([]time.Time, 0, len(pr.pending))
		for h := range pr.pending {
			hours = append(hours, h)
		}
		slices.SortFunc(hours, time.Time.Compare)
		for _, h := range hours {
			c.batch.Probes = append(c.batch.Probes, *pr.pending[h])
		}
		pr.pending = nil
	}
}

// probe answers a peer's link test.
func (c *Core) probe(p *peer, conn ConnID, f *Frame) {
	cs := c.channels[f.Channel]
	if cs == nil || cs.rec.Peer != p.card.Name || cs.rec.State != record.Active {
		c.refuse("bad link test", "warning", f.Channel, p.card.Name, "link test from %s for channel %s, which is not active with it", p.card.Name, f.Channel)
		return
	}
	c.emit(Send{Peer: p.card.Name, Conn: conn, Data: (&Frame{Type: FrameProbeReply, Channel: f.Channel, Seq: f.Seq, Time: f.Time, PeerTime: c.now}).Encode()})
}

// probeReply takes the answer to a link test frame of a channel. This
// station sends none (its tests ride on the path probes), so one that
// is for a channel with the peer is late, and ignored.
func (c *Core) probeReply(p *peer, f *Frame) {
	cs := c.channels[f.Channel]
	if cs == nil || cs.rec.Peer != p.card.Name {
		c.refuse("bad link test", "warning", f.Channel, p.card.Name, "link test answer from %s for channel %s, which is not with it", p.card.Name, f.Channel)
	}
}

// testsAnswered records the answer to the path probe that answers a
// round of link tests: every channel of the round is answered, with the
// probe's round trip and the peer's clock.
func (c *Core) testsAnswered(p *peer, x *path) {
	r := p.tests
	c.endTests(p)
	for _, id := range r.channels {
		cs := c.channels[id]
		pr := &cs.probe
		pr.lastOK, pr.rtt, pr.skew, pr.skewSeen = c.now, x.rtt, x.skew, true
		c.countProbe(cs, 0, 1, x.rtt)
	}
	if (x.skew > skewWarn || x.skew < -skewWarn) && c.limit("clock skew\x00"+p.card.Name, time.Hour) {
		c.alert("warning", r.channels[0], p.card.Name, "the clock of %s is %s from this station's (link test on %s): the times it reports are its own; order and deadlines do not depend on them",
			p.card.Name, x.skew.Round(time.Second), r.channels[0])
	}
}

// endTests ends the round of link tests under way, answered or not (its
// probe lost, its path gone), and runs the tests that fell due while it
// was (their timer found it under way, and was not set again).
func (c *Core) endTests(p *peer) {
	p.tests = nil
	if p.testsAt.IsZero() {
		c.scheduleTests(p, c.now)
	}
}

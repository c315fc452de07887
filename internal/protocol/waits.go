package protocol

// The entries that wait for a person's acknowledgement, kept compact: a
// channel holds, for each side, a slice of 24-byte records in index
// order, and its ladder timers as queues of indexes, one per side,
// precedence (or checks) and next step, each in the order its entries
// fall due. Only the head of each queue has a timer in the core's heap,
// so a waiting entry costs its record and one index in one queue, not a
// timer of its own (docs/ARCHITECTURE.md, "Timers").

import (
	"slices"
	"sort"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/record"
)

const (
	wLoading uint8 = 1 << iota // its forward waits for its body, read back (Load)
	wGone                      // acknowledged, or no longer awaited: skipped, dropped when compacted
)

// waitRec is an entry that waits for a person's acknowledgement. It holds
// no text: what a forward carries is read back from the store when the
// forward falls due (Load with Ladder).
type waitRec struct {
	index uint64
	at    int64 // when this station stored it, on its own clock (Unix nanoseconds)
	step  int8  // the last ladder step taken
	kind  envelope.Kind
	prec  envelope.Precedence
	flags uint8
}

// waitExtra is what a few entries need beyond their record: a check's
// window, and what an escalation of this station's forwards.
type waitExtra struct {
	window time.Duration
	origin *origin
}

// waitList is one side's waiting entries of a channel, in index order.
type waitList struct {
	recs  []waitRec
	gone  int // records marked gone, not yet dropped
	extra map[uint64]waitExtra
}

// find returns the record of index i, gone or not; nil if none.
func (l *waitList) find(i uint64) *waitRec {
	n, ok := slices.BinarySearchFunc(l.recs, i, func(r waitRec, i uint64) int {
		switch {
		case r.index < i:
			return -1
		case r.index > i:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return &l.recs[n]
}

// live returns the record of index i if it still waits.
func (l *waitList) live(i uint64) *waitRec {
	if r := l.find(i); r != nil && r.flags&wGone == 0 {
		return r
	}
	return nil
}

// put adds or replaces the record of r.index; it reports whether the entry
// was not waiting before.
func (l *waitList) put(r waitRec) bool {
	if n := len(l.recs); n == 0 || l.recs[n-1].index < r.index {
		l.recs = append(l.recs, r)
		return true
	}
	if old := l.find(r.index); old != nil {
		fresh := old.flags&wGone != 0
		if fresh {
			l.gone--
		}
		*old = r
		return fresh
	}
	n := sort.Search(len(l.recs), func(j int) bool { return l.recs[j].index > r.index })
	l.recs = slices.Insert(l.recs, n, r)
	return true
}

// waitQueue holds the indexes of one side's waiting entries of a channel
// whose next ladder step is step, of one precedence (or the checks), in
// the order that step falls due. Its head is armed in the core's heap.
type waitQueue struct {
	side  int
	check bool
	prec  envelope.Precedence
	step  int8
	idx   []uint64
	// gen counts the times the queue was armed: a timer of an earlier
	// generation fires for nothing. armed is the time of the current one.
	gen   uint64
	armed time.Time
}

// waitingStep returns the last ladder step taken for an entry of the
// channel that waits for acknowledgement.
func (c *Core) waitingStep(ch, author string, index uint64) (int, bool) {
	cs := c.channels[ch]
	if cs == nil {
		return 0, false
	}
	r := cs.waits[c.side(author)].live(index)
	if r == nil {
		return 0, false
	}
	return int(r.step), true
}

// view is the record with what it needs beyond it, as the ladder's steps
// take it.
func (c *Core) view(cs *chanState, side int, r *waitRec) waiting {
	w := waiting{at: time.Unix(0, r.at), step: r.step, kind: r.kind, prec: r.prec}
	if r.kind == envelope.Check || r.kind == envelope.Escalation {
		x := cs.waits[side].extra[r.index]
		w.window, w.origin = x.window, x.origin
	}
	return w
}

// queue returns the channel's queue for a side, precedence (or checks)
// and step, made if there is none.
func (cs *chanState) queue(side int, check bool, prec envelope.Precedence, step int8) *waitQueue {
	if check {
		prec = 0
	}
	for _, q := range cs.queues {
		if q.side == side && q.check == check && q.prec == prec && q.step == step {
			return q
		}
	}
	q := &waitQueue{side: side, check: check, prec: prec, step: step}
	cs.queues = append(cs.queues, q)
	return q
}

// nextQueue returns the queue of the record's next step; nil if its
// ladder has no step left.
func (c *Core) nextQueue(cs *chanState, side int, r *waitRec) *waitQueue {
	check := r.kind == envelope.Check
	switch {
	case side == 0 && check:
		if r.step < record.StepOverdue {
			return cs.queue(side, true, 0, record.StepOverdue)
		}
		return nil
	case side == 1:
		if r.step < record.StepOverdue {
			return cs.queue(side, check, r.prec, record.StepOverdue)
		}
		return nil
	case r.step >= record.StepForwarded:
		return nil
	}
	return cs.queue(side, false, r.prec, r.step+1)
}

// dueAt is when the queue's step falls due for the entry of index i.
func (c *Core) dueAt(cs *chanState, q *waitQueue, i uint64) time.Time {
	r := cs.waits[q.side].find(i)
	if r == nil {
		return time.Time{}
	}
	w := c.view(cs, q.side, r)
	if q.check {
		return w.at.Add(w.window)
	}
	author := cs.rec.Peer
	if q.side == 0 {
		author = c.keys.Name
	}
	return c.ladderAt(cs, entryKey{author, i}, &w, int(q.step))
}

// enqueue puts the entry of index i in q, in the order of its due time
// (at the end unless the clock went back), and arms the queue.
func (c *Core) enqueue(cs *chanState, q *waitQueue, i uint64) {
	n := len(q.idx)
	if n > 0 {
		due := c.dueAt(cs, q, i)
		if due.Before(c.dueAt(cs, q, q.idx[n-1])) {
			n = sort.Search(len(q.idx), func(j int) bool { return due.Before(c.dueAt(cs, q, q.idx[j])) })
		}
	}
	q.idx = slices.Insert(q.idx, n, i)
	if n == 0 {
		c.armQueue(cs, q)
	}
}

// armQueue sets the queue's timer to its head's due time, if it is not
// set there already.
func (c *Core) armQueue(cs *chanState, q *waitQueue) {
	if !c.armed {
		return
	}
	if len(q.idx) == 0 {
		if !q.armed.IsZero() {
			q.gen++
			q.armed = time.Time{}
			c.staleTimers++
		}
		return
	}
	due := c.dueAt(cs, q, q.idx[0])
	if q.armed.Equal(due) && !due.IsZero() {
		return
	}
	if !q.armed.IsZero() {
		c.staleTimers++
	}
	q.gen++
	q.armed = due
	c.schedule(&timer{at: due, kind: tWait, ch: cs.rec.ID, q: q, index: q.gen})
}

// forget marks an entry of a side no longer waiting, and compacts the
// side's records and queues once most of them are such.
func (c *Core) forget(cs *chanState, side int, r *waitRec) {
	r.flags |= wGone
	l := &cs.waits[side]
	l.gone++
	cs.awaiting[side]--
	delete(l.extra, r.index)
	c.compactWaits(cs, side, false)
}

// compactWaits drops a side's gone records, and the indexes of its queues
// no longer waiting, once they are most of what the side holds (or now,
// if all). Each slice is made again at its length, so that its memory
// goes back.
func (c *Core) compactWaits(cs *chanState, side int, all bool) {
	l := &cs.waits[side]
	if !all && (l.gone < 1024 || l.gone*2 < len(l.recs)) {
		return
	}
	live := make([]waitRec, 0, len(l.recs)-l.gone)
	for _, r := range l.recs {
		if r.flags&wGone == 0 {
			live = append(live, r)
		}
	}
	l.recs, l.gone = live, 0
	if len(l.recs) == 0 {
		l.recs, l.extra = nil, nil
	}
	for _, q := range cs.queues {
		if q.side != side {
			continue
		}
		kept := make([]uint64, 0, len(q.idx))
		for _, i := range q.idx {
			if l.live(i) != nil {
				kept = append(kept, i)
			}
		}
		q.idx = slices.Clip(kept)
		if len(q.idx) == 0 {
			q.idx = nil
		}
		c.armQueue(cs, q)
	}
}

// fireQueue takes the step of a queue's head once it falls due; it
// reports the entry to remind the peer of, if any.
func (c *Core) fireQueue(cs *chanState, q *waitQueue) (remind uint64) {
	q.armed = time.Time{}
	if len(q.idx) == 0 {
		return 0
	}
	i := q.idx[0]
	if c.dueAt(cs, q, i).After(c.now) {
		c.armQueue(cs, q)
		return 0
	}
	q.idx = q.idx[1:]
	if len(q.idx) == 0 {
		q.idx = nil
	}
	defer c.armQueue(cs, q)
	l := &cs.waits[q.side]
	r := l.live(i)
	if r == nil || r.step >= q.step {
		return 0 // acknowledged meanwhile, or a step already taken
	}
	author := cs.rec.Peer
	if q.side == 0 {
		author = c.keys.Name
	}
	key := entryKey{author, i}
	switch {
	case q.check && q.side == 0:
		if i != cs.rec.LastCheck {
			return 0
		}
		r.step = record.StepOverdue
		w := c.view(cs, 0, r)
		cs.dormant = true
		c.step(cs, key, record.StepOverdue, "dormant")
		c.alert("alarm", cs.rec.ID, cs.rec.Peer, "%s is dormant: nobody at %s answered check %s/%s/%d within %s",
			cs.rec.ID, cs.rec.Peer, cs.rec.ID, author, i, w.window)
		c.emit(Notify{What: "channel", Channel: cs.rec.ID})
		return 0
	case q.step == record.StepForwarded && q.side == 0:
		// What the forward carries is read back first.
		if r.flags&wLoading == 0 {
			r.flags |= wLoading
			c.emit(Load{Peer: cs.rec.Peer, Channel: cs.rec.ID, Author: author, From: i, To: i, Ladder: true})
		}
		return 0
	}
	r.step = q.step
	w := c.view(cs, q.side, r)
	if c.ladderStep(cs, key, &w) && q.side == 0 && q.step == record.StepOverdue {
		remind = i
	}
	if r := l.live(i); r != nil {
		if nq := c.nextQueue(cs, q.side, r); nq != nil {
			c.enqueue(cs, nq, i)
		}
	}
	return remind
}

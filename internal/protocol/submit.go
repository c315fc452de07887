package protocol

import (
	"bytes"
	"fmt"
	"hotline/internal/envelope"
	"hotline/internal/record"
	"slices"
	"time"
)

// Writing entries to this station's log. An operator's Submit is checked
// (its body against the channel and its codebook, suspensions, what may be
// acknowledged or resumed) and appended (appendMine), which seals the body
// to the peer under the log's key epoch, signs the entry, and completes
// the request once it is durable. The core appends its own entries
// (agreements, checks, reminders, escalations, key changes) the same way.

// appendMine seals, signs and appends an entry to this station's log for
// cs, adds it to the step's batch and arranges for the request to complete
// once it is durable.
func (c *Core) appendMine(reqID uint64, cs *chanState, kind envelope.Kind, prec envelope.Precedence, body []byte) (*record.Entry, error) {
	p := c.peers[cs.rec.Peer]
	if p.hpke == nil || !bytes.Equal(p.hpkeOf, p.card.KEMKey) {
		// Parsed once per card, not per entry (ML-KEM key parsing is not
		// free).
		k, err := p.card.HPKEKey()
		if err != nil {
			return nil, err
		}
		p.hpke, p.hpkeOf = k, p.card.KEMKey
	}
	to := p.hpke
	if idx := cs.mine.size + 1; seqAt(cs.mine.keys, idx) != c.ownSeq() {
		// A log begun after a rotation: its entries are signed by the
		// current key from the first.
		cs.mine.keys = append(cs.mine.keys, logKey{from: idx, seq: c.ownSeq()})
		c.batch.LogKeys = append(c.batch.LogKeys, record.LogKey{Channel: cs.rec.ID, Author: c.keys.Name, From: idx, Seq: c.ownSeq()})
	}
	h := envelope.Header{
		Channel: cs.rec.ID, Author: c.keys.Name, Recipient: cs.rec.Peer,
		Index: cs.mine.size + 1, Precedence: prec, Kind: kind, Time: c.now,
	}
	first := false
	if cs.mine.epoch == nil || cs.mine.epochLeft <= 0 || !bytes.Equal(cs.mine.epochTo, p.hpkeOf) || cs.mine.epochSeq != c.ownSeq() {
		ep, err := envelope.NewEpoch(to, c.cfg.Rand)
		if err != nil {
			return nil, err
		}
		cs.mine.epoch, cs.mine.epochTo, cs.mine.epochLeft, cs.mine.epochSeq, first = ep, p.hpkeOf, EpochEntries, c.ownSeq(), true
	}
	raw, err := cs.mine.epoch.Seal(h, body, first, c.keys.Sign)
	if err != nil {
		// The next entry begins a new epoch: one whose source of nonces
		// failed must not hold the log.
		cs.mine.epoch = nil
		return nil, err
	}
	cs.mine.epochLeft--
	cs.mine.tree.Append(raw)
	cs.mine.size++
	root := cs.mine.tree.Root()
	cs.mine.pending = append(cs.mine.pending, pendingEntry{raw: raw, root: root, urgent: urgentPrec(prec)})
	// This step's batch becomes write c.write+1 (Step).
	if w := &cs.mine.writes; len(*w) > 0 && (*w)[len(*w)-1].write == c.write+1 {
		(*w)[len(*w)-1].size = cs.mine.size
	} else {
		*w = append(*w, sizeAt{write: c.write + 1, size: cs.mine.size})
	}
	if !slices.Contains(c.appended, cs) {
		c.appended = append(c.appended, cs)
	}
	e := record.Entry{
		Channel: h.Channel, Author: h.Author, Index: h.Index, Kind: kind, Precedence: prec,
		SenderTime: c.now, StoredAt: c.now, Raw: raw, Body: body, Root: root,
	}
	c.batch.Entries = append(c.batch.Entries, e)
	if first {
		c.batch.EpochKeys = append(c.batch.EpochKeys, record.EpochKey{Channel: h.Channel, Author: h.Author, From: h.Index, Key: cs.mine.epoch.Key()})
	}
	c.batch.Logs = append(c.batch.Logs, record.Log{Channel: h.Channel, Author: h.Author, Size: cs.mine.size, Hashes: cs.mine.tree.Hashes()})
	w := e.Waiting()
	c.await(cs, &w, 0)
	if kind == envelope.Check {
		cs.rec.LastCheck, cs.rec.LastCheckAt = e.Index, c.now
		c.batch.Channels = append(c.batch.Channels, cs.rec)
	}
	size := cs.mine.size
	res := Result{Entry: h.ID(), Channel: h.Channel, Index: h.Index, At: c.now, Deadline: cs.charter.Deadlines[prec]}
	c.afterDurable(func(err error) {
		if err == nil && size > cs.mine.durable {
			cs.mine.durable = size
			c.flush(cs.rec.Peer)
		}
		c.done(reqID, res, err)
	})
	return &e, nil
}

func (c *Core) submit(ev Submit) {
	cs := c.channels[ev.Channel]
	switch {
	case cs == nil:
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %q", ErrUnknownChannel, ev.Channel))
		return
	case cs.rec.State != record.Active:
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %s is %s; the peer must accept it first", ErrNotActive, ev.Channel, cs.rec.State))
		return
	case !ev.Precedence.Valid():
		c.done(ev.ID, Result{}, fmt.Errorf("precedence %d is not valid", ev.Precedence))
		return
	}
	body, err := c.cfg.Bodies.Decode(ev.Kind, ev.Body, cs.codebook)
	if err == nil {
		err = visibleBody(body)
	}
	if err == nil {
		err = c.mayWrite(cs)
	}
	if err == nil {
		err = c.mayAppend(cs, ev.Kind, ev.Precedence, body)
	}
	if err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	e, err := c.appendMine(ev.ID, cs, ev.Kind, ev.Precedence, ev.Body)
	if err != nil {
		c.done(ev.ID, Result{}, err)
		return
	}
	switch b := body.(type) {
	case *AckBody:
		c.batch.Acks = append(c.batch.Acks, record.Ack{Channel: cs.rec.ID, Author: cs.rec.Peer, Index: b.Of,
			AckAuthor: c.keys.Name, AckIndex: e.Index, By: b.By, At: c.now})
		c.acknowledged(cs, cs.rec.Peer, b.Of, b.By)
	case *SuspendBody, *ResumeBody:
		c.setSuspension(cs, c.keys.Name, e, body)
	default:
		if _, _, of, by, ok := c.cfg.Bodies.acknowledges(ev.Kind, body); ok {
			c.batch.Acks = append(c.batch.Acks, record.Ack{Channel: cs.rec.ID, Author: cs.rec.Peer, Index: of,
				AckAuthor: c.keys.Name, AckIndex: e.Index, By: by, At: c.now})
			c.acknowledged(cs, cs.rec.Peer, of, by)
		}
	}
}

// mayAppend says why an operator may not append an entry, if they may not.
func (c *Core) mayAppend(cs *chanState, kind envelope.Kind, prec envelope.Precedence, body any) error {
	var mine *record.Suspension
	for i, s := range cs.rec.Suspensions {
		if s.By == c.keys.Name {
			mine = &cs.rec.Suspensions[i]
		}
	}
	switch b := body.(type) {
	case *AckBody:
		if b.Of > cs.theirs.size {
			return fmt.Errorf("%s/%s/%d: no such entry from the peer", cs.rec.ID, cs.rec.Peer, b.Of)
		}
		return nil
	case *SuspendBody:
		if mine != nil {
			return fmt.Errorf("%w: this station already suspended %s at %s: %s", ErrSuspended, cs.rec.ID, mine.At.UTC().Format(time.RFC3339), mine.Reason)
		}
		return nil
	case *ResumeBody:
		if mine == nil {
			return fmt.Errorf("%s is not suspended by this station, so there is nothing to resume", cs.rec.ID)
		}
		return nil
	case *TextBody, *CheckBody:
		return c.suspendedFor(cs, prec)
	}
	if k := c.cfg.Bodies.registered(kind); k != nil {
		if err := k.Check(body, cs.rec.ID); err != nil {
			return err
		}
		if ch, author, of, _, ok := c.cfg.Bodies.acknowledges(kind, body); ok && (ch != cs.rec.ID || author != cs.rec.Peer || of > cs.theirs.size) {
			return fmt.Errorf("%s acknowledges %s/%s/%d: no such entry from the peer on %s", kind, ch, author, of, cs.rec.ID)
		}
		return c.suspendedFor(cs, prec)
	}
	return fmt.Errorf("%s entries are not written by operators", kind)
}

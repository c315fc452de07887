package protocol

// Recovery after a restore. A station restored from an old backup may have
// signed entries its disk no longer holds; appending again would sign a
// second, different entry at an index already used (equivocation). So a
// restored station (Config.Restored) appends nothing on a channel until
// the peer's status says what it holds of this station's log. If the peer
// holds more, and shows it with a receipt this station signed, the station
// fetches those entries back (a fetch frame), checks each against its own
// signature and the receipt's root, stores them, and only then resumes.
// The entries are sealed to the peer, so their text cannot be read back:
// they are stored with an empty body and shown as recovered.

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/record"
	"hotline/internal/transcript"
)

// RecoveredReason is the reason shown for a suspension this station
// wrote after its backup and fetched back from the peer: the entry's body,
// with the real reason, is sealed to the peer.
const RecoveredReason = "(recovered after a restore: the reason is sealed to the peer)"

// ErrRestoring is returned for an append on a channel of a restored
// station before the peer has said what it holds.
var ErrRestoring = errors.New("restored from a backup")

// Load asks the station to read entries from..to of a log from its store
// and to report them with Loaded. The core uses it to send a peer's own
// entries back (Fetch), to rewind its own log (disown.go), and, with
// Ladder, to read back what a waiting entry's forward up the ladder
// carries: the core keeps no text of the entries that wait.
type Load struct {
	Peer            string
	Conn            ConnID
	Channel, Author string
	From, To        uint64
	Ladder          bool
}

func (Load) action() {}

// Loaded reports the entries of a Load: their exact bytes, in order, and,
// for a Ladder load, their bodies as stored (opened) in Bodies.
type Loaded struct {
	Peer            string
	Conn            ConnID
	Channel, Author string
	From            uint64
	Ladder          bool
	Entries         [][]byte
	Bodies          [][]byte
	Err             error
}

func (Loaded) event() {}

// recovery is a channel fetching its own log back from the peer.
type recovery struct {
	target  transcript.Checkpoint
	want    uint64 // what the peer holds of the log, the receipt's size or more
	receipt []byte
	tree    *transcript.Tree
	size    uint64
	entries []record.Entry
}

// Holding reports whether any channel waits for its peer (restored) or is
// fetching its own entries back.
func (c *Core) Holding() bool {
	for _, cs := range c.channels {
		if cs.holding || cs.recover != nil {
			return true
		}
	}
	return false
}

// mayWrite says why nothing may be appended to cs now, if so.
func (c *Core) mayWrite(cs *chanState) error {
	switch {
	case cs.recover != nil:
		return fmt.Errorf("%w: fetching entries %d..%d of this station's log %s back from %s", ErrRestoring,
			cs.recover.size+1, cs.recover.want, cs.rec.ID, cs.rec.Peer)
	case cs.holding:
		return fmt.Errorf("%w: waiting for %s to say what it holds of this station's log %s (it must be reachable directly)", ErrRestoring, cs.rec.Peer, cs.rec.ID)
	}
	return nil
}

// staleStatus notes a status over a path other than a direct connection,
// which does not end a restored channel's hold. The operators are told
// RelayHoldAlarm later if the channel still holds (relayHold): a direct
// connection that comes up meanwhile ends the hold, and there is nothing
// to tell.
func (c *Core) staleStatus(p *peer, cs *chanState) {
	if cs.relayHeldAt.IsZero() {
		cs.relayHeldAt = c.now
	}
}

// RelayHoldAlarm is how long a restored channel that hears its peer only
// over a relay holds before its operators are told.
const RelayHoldAlarm = 30 * time.Second

// relayHold raises the alarm of a restored channel that still holds
// RelayHoldAlarm after a status over a relay reached it.
func (c *Core) relayHold(p *peer, cs *chanState) {
	if cs.relayHeldAt.After(c.now) {
		cs.relayHeldAt = c.now // the clock stepped back
	}
	if !cs.holding || cs.relayHeld || cs.relayHeldAt.IsZero() || c.now.Sub(cs.relayHeldAt) < RelayHoldAlarm {
		return
	}
	cs.relayHeld = true
	c.alert("alarm", cs.rec.ID, p.card.Name, "restored from a backup: %s's status over a relay cannot end the hold on %s (it may answer a hello of the lost disk's, or be replayed by the relay): this station appends on it once it reaches %s directly; check the path with hotline doctor",
		p.card.Name, cs.rec.ID, p.card.Name)
}

// release ends the hold of a restored channel once the peer's status
// shows nothing newer than this station holds.
func (c *Core) release(cs *chanState) {
	if cs.holding && cs.recover == nil {
		cs.holding = false
		c.alert("notice", cs.rec.ID, cs.rec.Peer, "%s holds no more of this station's log %s than this station (%d entries): appending again after the restore",
			cs.rec.Peer, cs.rec.ID, cs.mine.size)
		c.emit(Notify{What: "channel", Channel: cs.rec.ID})
	}
}

// startRecovery begins fetching this station's entries back from the
// peer, all it holds (want), checked against the receipt cp (signed by
// this station, cosigned by the peer) up to its size: the peer may hold
// entries its latest receipt does not cover yet, and they are this
// station's too (each is checked against its signature and place).
func (c *Core) startRecovery(p *peer, conn ConnID, cs *chanState, cp *transcript.Checkpoint, receipt []byte, want uint64) {
	if cs.recover == nil {
		cs.recover = &recovery{target: *cp, want: max(want, cp.Size), receipt: receipt, tree: cs.mine.tree.Clone(), size: cs.mine.size}
		c.alert("alarm", cs.rec.ID, p.card.Name, "%s holds %d entries of this station's log %s, which holds only %d (restored from an old backup?): fetching them back before appending",
			p.card.Name, cs.recover.want, cs.rec.ID, cs.mine.size)
		c.emit(Notify{What: "channel", Channel: cs.rec.ID})
	}
	c.emit(Send{Peer: p.card.Name, Conn: conn, Data: (&Frame{Type: FrameFetch, Channel: cs.rec.ID, Author: c.keys.Name, From: cs.recover.size + 1}).Encode()})
}

// RestoredAsks is how many times a restored station asks its peer for
// the peer's log from what its backup holds, ResendAfter apart: the peer
// sends again what it had receipted only to a peer that asks twice
// (resend.go), and the third covers one request lost on the way.
const RestoredAsks = 3

// askRestored: a restored station may have held more of the peer's log
// than its backup holds (entries it receipted after the backup), and
// nothing else would ask for them while the peer sends nothing new. So,
// once its own log is whole again, it asks for the peer's log from what
// it holds, RestoredAsks times, and tells its operators; a peer that
// finds it had receipted more sends those entries again.
func (c *Core) askRestored(p *peer) {
	if !c.cfg.Restored {
		return
	}
	for _, id := range p.channels {
		c.relayHold(p, c.channels[id])
	}
	conn := p.in
	if conn == 0 && p.ready {
		conn = p.out
	}
	if conn == 0 {
		return
	}
	for _, id := range p.channels {
		cs := c.channels[id]
		if cs.holding || cs.recover != nil || cs.rec.State != record.Active || cs.asked >= RestoredAsks ||
			cs.asked > 0 && c.now.Sub(cs.askedAt) < ResendAfter && !cs.askedAt.After(c.now) {
			continue
		}
		if cs.asked == 0 {
			c.alert("notice", id, p.card.Name, "restored from a backup: asking %s to send its log %s again from entry %d, in case this station held more of it before",
				p.card.Name, id, cs.theirs.durable+1)
		}
		cs.asked++
		cs.askedAt = c.now
		c.emit(Send{Peer: p.card.Name, Conn: conn, Data: (&Frame{Type: FrameResend, Channel: id, Author: p.card.Name, From: cs.theirs.durable + 1}).Encode()})
	}
}

// fetch answers a peer that asks for its own log back.
func (c *Core) fetch(p *peer, conn ConnID, f *Frame) {
	cs := c.channels[f.Channel]
	if cs == nil || cs.rec.Peer != p.card.Name || f.Author != p.card.Name || f.From == 0 || f.From > cs.theirs.durable {
		c.reject(p, conn, "bad fetch", f.Channel, "fetch from %s of %s/%s from %d is not valid (this station holds %d)",
			p.card.Name, f.Channel, f.Author, f.From, c.heldOf(cs))
		return
	}
	c.emit(Load{Peer: p.card.Name, Conn: conn, Channel: f.Channel, Author: f.Author, From: f.From, To: cs.theirs.durable})
}

func (c *Core) heldOf(cs *chanState) uint64 {
	if cs == nil {
		return 0
	}
	return cs.theirs.durable
}

// loaded sends a peer's own entries back, in frames, each with the
// receipt this station holds for that log.
func (c *Core) loaded(ev Loaded) {
	p := c.peers[ev.Peer]
	cs := c.channels[ev.Channel]
	if p == nil || cs == nil {
		return
	}
	if ev.Err != nil {
		c.alert("alarm", ev.Channel, ev.Peer, "could not read %s's log %s to send it back: %v", ev.Peer, ev.Channel, ev.Err)
		return
	}
	for start := 0; start < len(ev.Entries); {
		f := &Frame{Type: FrameEntries, Channel: ev.Channel, Author: ev.Author, Checkpoint: cs.theirs.receipt}
		size := 0
		for start < len(ev.Entries) && len(f.Entries) < c.cfg.MaxBatch {
			raw := ev.Entries[start]
			if size > 0 && size+len(raw) > c.cfg.MaxBatchBytes {
				break
			}
			f.Entries = append(f.Entries, raw)
			size += len(raw)
			start++
		}
		c.emit(Send{Peer: ev.Peer, Conn: ev.Conn, Data: f.Encode(), Stream: ev.Channel + "/" + ev.Author})
	}
}

// recoverEntries takes entries of this station's own log that the peer
// sent back.
func (c *Core) recoverEntries(p *peer, conn ConnID, f *Frame, pre *Prepared) {
	cs := c.channels[f.Channel]
	if cs == nil || cs.rec.Peer != p.card.Name || cs.recover == nil {
		c.reject(p, conn, "wrong author", f.Channel, "%s sent entries of %s's log %s, which is not fetching them", p.card.Name, f.Author, f.Channel)
		return
	}
	r := cs.recover
	for i, raw := range f.Entries {
		e, err := envelope.Parse(raw)
		if err == nil {
			err = e.Verify(c.keys.SignPublic())
		}
		if err == nil && (e.Channel != f.Channel || e.Author != c.keys.Name || e.Recipient != p.card.Name) {
			err = fmt.Errorf("it is %s, addressed to %s", e.ID(), e.Recipient)
		}
		if err != nil {
			c.reject(p, conn, "bad entry", f.Channel, "entry %d of this station's own log %s sent back by %s refused: %v", i+1, f.Channel, p.card.Name, err)
			return
		}
		switch {
		case e.Index <= r.size:
			continue
		case e.Index > r.size+1:
			c.emit(Send{Peer: p.card.Name, Conn: conn, Data: (&Frame{Type: FrameFetch, Channel: f.Channel, Author: c.keys.Name, From: r.size + 1}).Encode()})
			return
		case e.Index > r.want:
			c.reject(p, conn, "bad entry", f.Channel, "%s sent back %s, beyond what it said it holds (%d)", p.card.Name, e.ID(), r.want)
			return
		}
		r.tree.Append(raw)
		r.size++
		r.entries = append(r.entries, record.Entry{Channel: e.Channel, Author: e.Author, Index: e.Index, Kind: e.Kind, Precedence: e.Precedence,
			SenderTime: e.Time, StoredAt: c.now, Raw: raw, Body: []byte{}, Root: r.tree.Root()})
		if r.size == r.target.Size && !bytes.Equal(r.tree.Root(), r.target.Root) {
			cs.recover = nil
			c.block(cs, fmt.Sprintf("tamper alarm: the entries %s sent back do not make the root of the receipt this station signed at size %d", p.card.Name, r.target.Size))
			return
		}
	}
	if r.size < r.want {
		return
	}
	// Every entry checked against this station's key and the receipt's
	// root: they become this station's log again.
	// Those beyond the receipt await the peer's next one (it holds them:
	// they are not sent again unless it asks).
	m := &cs.mine
	m.tree, m.size = r.tree, r.size
	m.delivered, m.sent, m.pending, m.receipt = r.target.Size, r.size, nil, r.receipt
	for _, e := range r.entries {
		if e.Index > r.target.Size {
			m.pending = append(m.pending, pendingEntry{raw: e.Raw, root: e.Root})
		}
	}
	m.receiptAt = c.receiptTime(c.peers[cs.rec.Peer], r.receipt)
	cs.recover, cs.holding = nil, false
	c.batch.Entries = append(c.batch.Entries, r.entries...)
	// A suspension or its lifting among them is in the header's kind;
	// its reason is sealed to the peer.
	var suspended *record.Entry
	for i := range r.entries {
		switch e := &r.entries[i]; e.Kind {
		case envelope.Suspend:
			c.setSuspension(cs, c.keys.Name, e, &SuspendBody{Reason: RecoveredReason})
			suspended = e
		case envelope.Resume:
			c.setSuspension(cs, c.keys.Name, e, &ResumeBody{})
			suspended = nil
		}
	}
	if suspended != nil {
		c.alert("alarm", cs.rec.ID, p.card.Name, "this station suspended %s after its backup (entry %d, recovered from %s; the reason is sealed to it): the suspension stays in force until lifted with hotline channel resume",
			cs.rec.ID, suspended.Index, p.card.Name)
	}
	c.batch.Logs = append(c.batch.Logs, record.Log{Channel: cs.rec.ID, Author: c.keys.Name, Size: m.size, Hashes: m.tree.Hashes()})
	c.batch.Receipts = append(c.batch.Receipts, record.Receipt{Channel: cs.rec.ID, Author: c.keys.Name, Size: r.target.Size, Note: r.receipt})
	n, size := len(r.entries), m.size
	acks := 0
	for _, e := range r.entries {
		if e.Kind == envelope.Ack {
			acks++
		}
	}
	c.afterDurable(func(err error) {
		if err == nil && size > m.durable {
			m.durable = size
			c.alert("notice", cs.rec.ID, p.card.Name, "recovered %d entries of this station's log %s from %s, checked against this station's signature and receipt: appending again from %d",
				n, cs.rec.ID, p.card.Name, size+1)
			if acks > 0 {
				// Their bodies are sealed to the peer: which of its
				// messages they acknowledged is not known here.
				c.alert("alarm", cs.rec.ID, p.card.Name, "%d of the entries recovered on %s are acknowledgements this station wrote after its backup, sealed to %s: its messages they acknowledged show unacknowledged here; find them with hotline inbox --channel %s and acknowledge them again with hotline ack (%s keeps the first acknowledgement)",
					acks, cs.rec.ID, p.card.Name, cs.rec.ID, p.card.Name)
			}
			c.emit(Notify{What: "channel", Channel: cs.rec.ID})
			c.flush(p.card.Name)
		}
	})
}

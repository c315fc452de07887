package protocol

import (
	"time"

	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"

	"golang.org/x/mod/sumdb/note"

	"hotline/internal/channel"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/record"
	"hotline/internal/transcript"
)

// entries accepts the peer's entries in order, checks its checkpoint
// against them, and arranges for the receipt once they are durable. It
// reads as the steps of docs/PROTOCOL.md, "Delivery rules": the frame's
// header, each entry in turn (its key, its signature and body, what it
// means and where it may stand), the checkpoint over them all; only then
// does anything change. A refusal at any step leaves the core as it was.
func (c *Core) entries(p *peer, conn ConnID, f *Frame, pre *Prepared) {
	if f.Author == c.keys.Name {
		c.recoverEntries(p, conn, f, pre)
		return
	}
	in := c.intake(p, conn, f, pre)
	if in == nil {
		return
	}
	for i, raw := range f.Entries {
		if !in.take(i, raw) {
			return
		}
	}
	if in.crossed {
		c.refuse("crossing proposals", "alarm", f.Channel, p.card.Name,
			"%s and this station both proposed channel %s: neither can be accepted until one withdraws its proposal (hotline channel withdraw --channel %s, at the station whose proposal should go)",
			p.card.Name, f.Channel, f.Channel)
		return
	}
	if !in.checkpoint() {
		return
	}
	in.apply()
}

// intake is a frame of the peer's entries while it is checked: what the
// peer's log, its key chain and the channel will be if the whole frame is
// accepted. Nothing of it reaches the core's state before apply.
type intake struct {
	c    *Core
	p    *peer
	name string // the peer, the log's author
	conn ConnID
	f    *Frame
	pre  *Prepared
	cs   *chanState // nil while the channel does not exist here (its proposal)
	cp   transcript.Checkpoint

	tree      *transcript.Tree // the log with the entries taken so far; nil until the first
	expected  uint64           // the index the next entry must have
	epoch     *envelope.Epoch  // the key epoch as the entries so far leave it
	epochFrom uint64           // and the entry that began it
	accepted  []record.Entry
	epochKeys []record.EpochKey // of the epochs the accepted entries begin
	bodies    []any
	acks      []record.Ack
	// st is the channel's agreement as the entries so far leave it
	// (changed once one moves it): a proposal, an acceptance or a
	// withdrawal (docs/PROTOCOL.md, "Channels").
	st      agreementState
	changed bool
	// crossed: an entry of this frame is the peer's proposal of a channel
	// this station proposed too; the frame is taken only if the peer's
	// withdrawal of it follows.
	crossed bool
	// withdrew is the peer's withdrawal taken in this frame, if any;
	// crossWithdrawn says it withdrew a crossing proposal, and
	// lateAccept that the peer accepted this station's proposal after
	// this station withdrew it.
	withdrew       *WithdrawBody
	crossWithdrawn bool
	lateAccept     bool
	// The peer's key chain and this log's key positions as this frame
	// leaves them; kept only if the whole frame is accepted.
	chain    []keyLink
	logKeys  []logKey
	rotation []*identity.Rotation
	// The checkpoint, opened with the key that signed its last entry.
	opened     *note.Note
	cpVerifier note.Verifier
}

// intake checks the frame's header: who sent it, the log it is of, and
// its checkpoint's text. It returns nil if the frame is refused.
func (c *Core) intake(p *peer, conn ConnID, f *Frame, pre *Prepared) *intake {
	name := p.card.Name
	if x := c.pathOf(p, conn); x != nil && !x.outbound {
		p.in = conn // receipts go back the way the entries came
	}
	if f.Author != name {
		c.reject(p, conn, "wrong author", f.Channel, "%s sent entries of %s's log %s", name, f.Author, f.Channel)
		return nil
	}
	// The checkpoint is signed by the key that signed its last entry,
	// which a key entry in this very frame may change: its text is read
	// now, its signature checked once the entries have been.
	cp, err := transcript.ParseCheckpointText(noteText(f.Checkpoint))
	if err != nil || cp.Origin != transcript.Origin(f.Channel, name) {
		if err == nil {
			err = fmt.Errorf("origin %q", cp.Origin)
		}
		c.reject(p, conn, "bad checkpoint", f.Channel, "entries from %s for %s refused: checkpoint: %v", name, f.Channel, err)
		return nil
	}
	cs := c.channels[f.Channel]
	if cs != nil && cs.rec.Peer != name {
		c.refuse("wrong peer", "alarm", f.Channel, name, "%s sent entries for channel %s, which is with %s", name, f.Channel, cs.rec.Peer)
		return nil
	}
	if cs != nil && c.mayWrite(cs) != nil {
		// Restored, and this station's own log not yet whole again: the
		// peer's entries may acknowledge entries of it still to be
		// fetched back. They wait (the peer sends them again while they
		// are not receipted, and the station asks for them once its log
		// is whole, askRestored); no resend is asked for meanwhile, so
		// a window in flight makes no storm of requests.
		c.Stats.Refused["entries while restoring"]++
		return nil
	}
	in := &intake{c: c, p: p, name: name, conn: conn, f: f, pre: pre, cs: cs, cp: cp, expected: 1, chain: p.chain}
	if cs != nil {
		in.st = agreementState{state: cs.rec.State, proposer: cs.rec.Proposer, charter: cs.charter, book: cs.codebook}
		in.expected = cs.theirs.size + 1
		in.logKeys = cs.theirs.keys
		in.epoch, in.epochFrom = cs.theirs.epoch, cs.theirs.epochFrom
	}
	return in
}

// take checks entry i of the frame and adds it to the intake: its place
// in the log, its signature by the key the log is at, its body, and what
// it means. It returns false if the frame is refused (or a gap asks for a
// resend); a duplicate is skipped.
func (in *intake) take(i int, raw []byte) bool {
	c, name, f := in.c, in.name, in.f
	if idx, ok := entryIndex(in.pre, raw, i); ok && idx < in.expected {
		c.Stats.Duplicates++
		return true
	} else if ok && idx > in.expected {
		// A gap, whatever key the entry is signed with (one after a key
		// entry not yet held is signed by a key not yet known).
		in.gap()
		return false
	}
	seq := in.signedBy(raw)
	o, lostSwitch := in.verify(i, seq)
	e, err := o.Env, o.Err
	if err == nil && e.Index == 1 && seq > 0 && seqAt(in.logKeys, 1) != seq {
		in.logKeys = append(slices.Clone(in.logKeys), logKey{from: 1, seq: seq})
	}
	if err != nil {
		c.reject(in.p, in.conn, "bad entry", f.Channel, "entries from %s for %s refused: entry %d of the frame: %v", name, f.Channel, i+1, err)
		return false
	}
	if e.Channel != f.Channel || e.Author != name || e.Recipient != c.keys.Name {
		c.reject(in.p, in.conn, "misaddressed entry", f.Channel, "entries from %s refused: %s is addressed to %s", name, e.ID(), e.Recipient)
		return false
	}
	if e.Index < in.expected {
		c.Stats.Duplicates++
		return true
	}
	if e.Index > in.expected {
		in.gap()
		return false
	}
	body, decoded, err := in.open(&o)
	if err != nil {
		c.reject(in.p, in.conn, "bad body", f.Channel, "entries from %s refused: %s: %v", name, e.ID(), err)
		return false
	}
	if !in.place(e, decoded, seq, lostSwitch) {
		return false
	}
	if in.tree == nil {
		if in.cs != nil {
			in.tree = in.cs.theirs.tree.Clone()
		} else {
			in.tree = transcript.NewTree()
		}
	}
	in.tree.Append(raw)
	in.accepted = append(in.accepted, record.Entry{
		Channel: f.Channel, Author: name, Index: e.Index, Kind: e.Kind, Precedence: e.Precedence,
		SenderTime: e.Time, StoredAt: c.now, Raw: raw, Body: body, Root: in.tree.Root(),
	})
	if e.Version >= 2 && e.BeginsEpoch() && in.epoch != nil {
		in.epochKeys = append(in.epochKeys, record.EpochKey{Channel: f.Channel, Author: name, From: e.Index, Key: in.epoch.Key()})
	}
	in.bodies = append(in.bodies, decoded)
	in.expected++
	return true
}

// gap asks the peer to send its log again from the entry expected.
func (in *intake) gap() {
	in.c.Stats.Refused["gap"]++
	if in.cs != nil && in.cs.theirs.stuckSince.IsZero() {
		in.cs.theirs.stuckSince = in.c.now
	}
	in.c.emit(Send{Peer: in.name, Conn: in.conn, Data: (&Frame{Type: FrameResend, Channel: in.f.Channel, Author: in.name, From: in.expected}).Encode()})
}

// signedBy is the place in the peer's key chain of the key the next entry
// must be signed with.
func (in *intake) signedBy(raw []byte) int {
	chain := in.chain
	seq := seqAt(in.logKeys, in.expected)
	if in.expected == 1 {
		// A log's first entry is signed by whichever key of the chain,
		// not revoked, its author had when it wrote it.
		seq = len(chain) - 1
		if e, err := envelope.Parse(raw); err == nil {
			for s := len(chain) - 1; s >= 0; s-- {
				if !chain[s].revoked && e.Verify(chain[s].key) == nil {
					seq = s
					break
				}
			}
		}
	}
	return min(seq, len(chain)-1)
}

// verify checks entry i's signature by key seq of the chain.
// docs/PROTOCOL.md, "Lost keys": once this station re-pinned the peer by
// fingerprint, the peer's key entry signed by the new key moves each of
// its logs to it (lostSwitch).
func (in *intake) verify(i, seq int) (o Opened, lostSwitch bool) {
	o = checkEntry(in.pre, in.chain[seq].key, in.f, i)
	if o.Err != nil && seq+1 < len(in.chain) && in.chain[seq+1].reason == ReasonReplace {
		if o2 := checkEntry(in.pre, in.chain[seq+1].key, in.f, i); o2.Err == nil && o2.Env.Kind == envelope.Key {
			return o2, true
		}
	}
	return o, false
}

// open opens the entry's body under the key epoch the log is at and
// decodes it with the channel's codebook.
func (in *intake) open(o *Opened) (body []byte, decoded any, err error) {
	body, next, err := in.c.openBody(o, in.epoch)
	if next != in.epoch {
		in.epochFrom = o.Env.Index
	}
	in.epoch = next
	if err != nil {
		return nil, nil, err
	}
	// Before the channel exists here (its proposal), only an agreement
	// is taken; any other kind is refused by place.
	var cb channel.Book
	if in.cs != nil {
		cb = in.cs.codebook
	} else if len(in.c.cfg.Books) > 0 {
		cb = in.c.cfg.Books[0]
	}
	decoded, err = in.c.cfg.Bodies.Decode(o.Env.Kind, body, cb)
	if err == nil {
		err = visibleBody(decoded)
	}
	return body, decoded, err
}

// place checks what an entry means and where it may stand: an agreement
// only as entry 1, anything else only on a channel that exists and is
// active, a key change against the chain, an acknowledgement of an entry
// this station wrote. It returns false if the frame is refused.
func (in *intake) place(e *envelope.Envelope, decoded any, seq int, lostSwitch bool) bool {
	c, name, f, cs := in.c, in.name, in.f, in.cs
	if b, ok := decoded.(*AgreementBody); ok {
		return in.agreement(e, b, seq)
	}
	if in.st.state == "" {
		c.refuse("unknown channel", "alarm", f.Channel, name, "entries from %s for unknown channel %s refused", name, f.Channel)
		return false
	}
	if w, ok := decoded.(*WithdrawBody); ok && e.Index > 1 {
		return in.withdrawal(e, w)
	}
	// A withdrawn channel still takes what the peer wrote before the
	// withdrawal reached it (after its acceptance crossed it).
	if e.Index == 1 || in.st.state != record.Active && in.st.state != record.Withdrawn && e.Kind != envelope.Key {
		c.refuse("not active", "alarm", f.Channel, name, "%s refused: channel %s is not active", e.ID(), f.Channel)
		return false
	}
	if k, ok := decoded.(*KeyBody); ok && !in.keyChange(e, k, seq, lostSwitch) {
		return false
	}
	if a, ok := decoded.(*AckBody); ok {
		if a.Of > cs.mine.size {
			c.refuse("bad ack", "alarm", f.Channel, name, "%s acknowledges entry %d, which this station never wrote", e.ID(), a.Of)
			return false
		}
		in.acks = append(in.acks, record.Ack{Channel: f.Channel, Author: c.keys.Name, Index: a.Of, AckAuthor: name, AckIndex: e.Index, By: a.By, At: e.Time})
	}
	if ch, author, of, by, ok := c.cfg.Bodies.acknowledges(e.Kind, decoded); ok {
		if ch != f.Channel || author != c.keys.Name || of > cs.mine.size {
			c.refuse("bad ack", "alarm", f.Channel, name, "%s (%s) acknowledges %s/%s/%d, which this station never wrote on %s", e.ID(), e.Kind, ch, author, of, f.Channel)
			return false
		}
		in.acks = append(in.acks, record.Ack{Channel: f.Channel, Author: c.keys.Name, Index: of, AckAuthor: name, AckIndex: e.Index, By: by, At: e.Time})
	}
	return true
}

// agreementState is a channel's agreement: its state (record.ProposedOut,
// ProposedIn, Active, Withdrawn; "" before the channel exists here), its
// proposer, its charter and the codebook the charter names.
type agreementState struct {
	state, proposer string
	charter         *channel.Charter
	book            channel.Book
}

// agreement checks a charter: a proposal as entry 1 (signed by the peer,
// between it and this station, naming a codebook this station has), of a
// new channel or crossing this station's own proposal of the same id; or
// the acceptance of this station's own proposal (signed by both), as entry
// 1 or after the peer's own crossing proposal and its withdrawal.
func (in *intake) agreement(e *envelope.Envelope, b *AgreementBody, seq int) bool {
	c, name, f, st := in.c, in.name, in.f, &in.st
	me := c.keys.Name
	mineOpen := st.proposer == me && (st.state == record.ProposedOut || st.state == record.Withdrawn)
	var err error
	switch {
	case e.Index == 1 && (st.state == "" || mineOpen && !transcript.SameBody([]byte(b.Charter), st.charter.Text)):
		var ch *channel.Charter
		var bk channel.Book
		ch, err = channel.Parse([]byte(b.Charter), in.chain[seq].verifier)
		if err == nil && (ch.ID != f.Channel || ch.Proposer != name || ch.Acceptor != me) {
			err = fmt.Errorf("charter is for %s between %s and %s", ch.ID, ch.Proposer, ch.Acceptor)
		}
		if err == nil {
			bk, err = ch.FindBook(c.cfg.Books...)
		}
		if err != nil {
			break
		}
		if st.state == record.ProposedOut {
			// Both proposed this channel: the frame is taken only if the
			// peer withdraws its proposal in it (entries).
			in.crossed = true
			return true
		}
		// A new channel, or one whose proposal this station withdrew:
		// the peer's proposal waits for an operator here.
		*st = agreementState{state: record.ProposedIn, proposer: name, charter: ch, book: bk}
		in.changed = true
		return true
	case mineOpen && transcript.SameBody([]byte(b.Charter), st.charter.Text) && !in.crossed &&
		(e.Index == 1 || in.cs.theirs.size > 0 || len(in.accepted) > 0):
		// After entry 1, the peer's log holds its own crossing proposal and
		// its withdrawal (nothing else is taken from it while this
		// station's proposal waits).
		var ch *channel.Charter
		ch, err = channel.Parse([]byte(b.Charter), c.own[seqAt(in.cs.mine.keys, 1)].verifier, in.chain[seq].verifier)
		if err != nil {
			break
		}
		if st.state == record.Withdrawn {
			in.lateAccept = true
			return true
		}
		st.state, st.charter = record.Active, ch
		in.changed = true
		return true
	case e.Index != 1:
		err = fmt.Errorf("an agreement may only be entry 1, or the acceptance that follows the author's withdrawn proposal")
	default:
		err = fmt.Errorf("channel %s is %s here; the charter does not match", f.Channel, st.state)
	}
	c.refuse("bad agreement", "alarm", f.Channel, name, "%s refused: %v", e.ID(), err)
	return false
}

// withdrawal checks the peer's withdrawal of its proposal: one crossing
// this station's in the same frame, or the proposal this station holds,
// waiting here or accepted by this station while the withdrawal was on its
// way (the withdrawal stands: the peer wrote it before it held the
// acceptance).
func (in *intake) withdrawal(e *envelope.Envelope, w *WithdrawBody) bool {
	c, name, f, st := in.c, in.name, in.f, &in.st
	switch {
	case in.withdrew != nil:
		c.refuse("bad withdrawal", "alarm", f.Channel, name, "%s refused: a second withdrawal in one frame", e.ID())
		return false
	case in.crossed:
		in.crossed, in.crossWithdrawn = false, true
	case st.proposer == name && (st.state == record.ProposedIn || st.state == record.Active):
		st.state = record.Withdrawn
		in.changed = true
	default:
		c.refuse("bad withdrawal", "alarm", f.Channel, name, "%s refused: %s withdraws channel %s, which it did not propose or withdrew already (here it is %s, proposed by %s)",
			e.ID(), name, f.Channel, st.state, st.proposer)
		return false
	}
	in.withdrew = w
	return true
}

// keyChange checks a key entry: a replacement record (this station was
// re-pinned by the peer), the lost key's statement signed by the card this
// station re-pinned the peer with, or a rotation signed by the key the log
// is at, which must agree with what the peer's other logs said. A new key
// extends the chain the frame leaves.
func (in *intake) keyChange(e *envelope.Envelope, k *KeyBody, seq int, lostSwitch bool) bool {
	c, name, f, chain := in.c, in.name, in.f, in.chain
	switch {
	case k.Replaced != nil:
		if lostSwitch || k.Replaced.Station != c.keys.Name {
			c.refuse("bad key change", "alarm", f.Channel, name, "%s refused: a replacement record of %s, signed by %s's new key", e.ID(), k.Replaced.Station, name)
			return false
		}
	case lostSwitch:
		r := k.Rotation()
		if r.Reason != identity.ReasonLost || !r.OldKey.Equal(chain[seq].key) || !r.Card.SignKey.Equal(chain[seq+1].key) ||
			!bytes.Equal(r.Card.KEMKey, chain[seq+1].card.KEMKey) {
			c.refuse("bad key change", "alarm", f.Channel, name, "%s refused: signed by the card %s was re-pinned with, but not its statement of the lost key", e.ID(), name)
			return false
		}
		in.logKeys = append(slices.Clone(in.logKeys), logKey{from: e.Index, seq: seq + 1})
	default:
		// docs/PROTOCOL.md, "Key rotation": the statement must be signed
		// by the key this log is signed with so far.
		r := k.Rotation()
		if err := r.Check(name, chain[seq].key); err != nil {
			c.refuse("bad key change", "alarm", f.Channel, name, "%s refused: %v", e.ID(), err)
			return false
		}
		if seq+1 < len(chain) {
			next := chain[seq+1]
			if !next.key.Equal(r.Card.SignKey) || !bytes.Equal(next.card.KEMKey, r.Card.KEMKey) {
				c.refuse("bad key change", "alarm", f.Channel, name,
					"tamper alarm: %s refused: it replaces %s's key %d by fingerprint %s, another of its logs by %s",
					e.ID(), name, seq, r.Card.Fingerprint(), next.card.Fingerprint())
				return false
			}
		} else {
			in.chain = slices.Clone(chain)
			if r.Reason == identity.ReasonRevoke {
				revokeThrough(in.chain, seq)
			}
			nl := newLink(name, r.Card.SignKey, r.Card)
			nl.reason, nl.at = r.Reason, c.now
			in.chain = append(in.chain, nl)
			in.rotation = append(in.rotation, r)
		}
		in.logKeys = append(slices.Clone(in.logKeys), logKey{from: e.Index + 1, seq: seq + 1})
	}
	return true
}

// checkpoint checks the frame's checkpoint, with the key that signed its
// last entry, against the entries taken. With nothing new it sends the
// receipt held again and returns false. It returns false if the frame is
// refused.
func (in *intake) checkpoint() bool {
	c, name, f := in.c, in.name, in.f
	var err error
	if in.cp.Size >= 1 {
		// Before the log's own key entry, entries and checkpoints are
		// signed by the old key even if it was revoked on another log.
		l := in.chain[min(seqAt(in.logKeys, in.cp.Size), len(in.chain)-1)]
		in.cpVerifier = l.verifier
		in.opened, err = openCheckpoint(in.pre, f, l.key, in.cpVerifier)
	} else {
		err = fmt.Errorf("size 0")
	}
	if err != nil {
		c.reject(in.p, in.conn, "bad checkpoint", f.Channel, "entries from %s for %s refused: checkpoint: %v", name, f.Channel, err)
		return false
	}
	if len(in.accepted) == 0 {
		// Nothing new: acknowledge again what is held.
		if in.cs != nil && in.cs.theirs.receipt != nil {
			c.emit(Send{Peer: name, Conn: in.conn, Data: (&Frame{Type: FrameReceipt, Channel: f.Channel, Author: name, Checkpoint: in.cs.theirs.receipt}).Encode()})
		}
		return false
	}
	if in.cp.Size != in.expected-1 || !bytes.Equal(in.cp.Root, in.tree.Root()) {
		c.reject(in.p, in.conn, "root mismatch", f.Channel,
			"tamper alarm: checkpoint from %s for %s at size %d does not match the entries held (size %d)", name, f.Channel, in.cp.Size, in.expected-1)
		return false
	}
	// What the peer's checkpoint says it held of this station's log must
	// be this station's log, where this station knows its root: else the
	// peer signs a held line that would make this station's own export
	// look cut back or rewritten. A size beyond this log is let through:
	// a station restored from an old backup holds less of its log than
	// its peer (recover.go).
	if h := in.cp.Held; h != nil && in.cs != nil && h.Size > 0 {
		if root, ok := in.cs.mine.rootAt(h.Size); ok && !bytes.Equal(root, h.Root) {
			c.reject(in.p, in.conn, "false held line", f.Channel,
				"tamper alarm: checkpoint from %s for %s says it held %d entries of this station's log with root %s, but this station's log has root %s there", name, f.Channel, h.Size, hex.EncodeToString(h.Root), hex.EncodeToString(root))
			return false
		}
	}
	return true
}

// apply changes state once every check passed: the channel (made by a
// proposal, agreed by an acceptance), the peer's log, its keys and epoch,
// what the entries mean here, and the receipt once they are durable.
func (in *intake) apply() {
	c, p, name, f := in.c, in.p, in.name, in.f
	cs := in.cs
	st := in.st
	was := ""
	if cs != nil {
		was = cs.rec.State
	}
	if cs == nil {
		cs = &chanState{
			rec: record.Channel{ID: f.Channel, Peer: name, Level: string(st.charter.Level), State: st.state,
				Proposer: st.proposer, Charter: st.charter.Text, CreatedAt: c.now, UpdatedAt: c.now},
			charter:  st.charter,
			codebook: st.book,
			mine:     outLog{tree: transcript.NewTree()},
			theirs:   inLog{tree: transcript.NewTree()},
		}
		c.channels[f.Channel] = cs
		p.channels = append(p.channels, f.Channel)
		sort.Strings(p.channels)
		c.batch.Channels = append(c.batch.Channels, cs.rec)
		c.emit(Notify{What: "channel", Channel: f.Channel})
	} else if in.changed {
		cs.charter, cs.codebook = st.charter, st.book
		cs.rec.State, cs.rec.Proposer, cs.rec.Level, cs.rec.Charter, cs.rec.UpdatedAt = st.state, st.proposer, string(st.charter.Level), st.charter.Text, c.now
		c.batch.Channels = append(c.batch.Channels, cs.rec)
		c.emit(Notify{What: "channel", Channel: f.Channel})
	}
	if in.changed {
		switch {
		case st.state == record.Active:
			c.armChannel(cs)
		case st.state == record.ProposedIn && was == record.Withdrawn:
			c.alert("notice", f.Channel, name, "%s proposed channel %s, whose proposal by this station was withdrawn: its proposal waits for an operator here (hotline channel accept)", name, f.Channel)
		case st.state == record.Withdrawn && was == record.Active:
			c.waitNoMore(cs)
			c.alert("alarm", f.Channel, name, "%s withdrew its proposal of channel %s before this station's acceptance reached it: the channel is withdrawn on both sides (by %s) %s",
				name, f.Channel, in.withdrew.By, in.withdrew.Reason)
		case st.state == record.Withdrawn:
			c.alert("notice", f.Channel, name, "%s withdrew its proposal of channel %s (by %s) %s", name, f.Channel, in.withdrew.By, in.withdrew.Reason)
		}
	}
	if in.crossWithdrawn {
		c.alert("notice", f.Channel, name, "%s withdrew its proposal of channel %s, which crossed this station's (by %s) %s: this station's proposal stands, for %s to accept",
			name, f.Channel, in.withdrew.By, in.withdrew.Reason, name)
	}
	if in.lateAccept {
		c.alert("notice", f.Channel, name, "%s accepted channel %s after this station withdrew it: the withdrawal stands", name, f.Channel)
	}
	theirs := &cs.theirs
	theirs.tree, theirs.size = in.tree, in.expected-1
	theirs.stuckSince = time.Time{}
	for _, k := range in.logKeys[len(theirs.keys):] {
		c.batch.LogKeys = append(c.batch.LogKeys, record.LogKey{Channel: f.Channel, Author: name, From: k.from, Seq: k.seq})
	}
	theirs.keys = in.logKeys
	theirs.epoch, theirs.epochFrom = in.epoch, in.epochFrom
	if len(in.rotation) > 0 {
		c.peerRotated(p, in.chain, in.rotation)
	}
	c.batch.Entries = append(c.batch.Entries, in.accepted...)
	c.batch.EpochKeys = append(c.batch.EpochKeys, in.epochKeys...)
	c.batch.Acks = append(c.batch.Acks, in.acks...)
	c.batch.Logs = append(c.batch.Logs, record.Log{Channel: f.Channel, Author: name, Size: theirs.size, Hashes: in.tree.Hashes(), Checkpoint: f.Checkpoint, EpochFrom: in.epochFrom})
	for i := range in.accepted {
		in.taken(cs, &in.accepted[i], in.bodies[i])
	}
	in.receiptWhenDurable(cs)
}

// taken does what an accepted entry means here, and tells observers.
func (in *intake) taken(cs *chanState, e *record.Entry, body any) {
	c, name := in.c, in.name
	what := "received"
	switch b := body.(type) {
	case *AckBody:
		what = "acknowledged"
		c.acknowledged(cs, c.keys.Name, b.Of, b.By)
	case *SuspendBody:
		what = "suspended"
		c.setSuspension(cs, name, e, b)
		c.alert("alarm", cs.rec.ID, name, "%s SUSPENDED channel %s (by %s): %s", name, cs.rec.ID, b.By, b.Reason)
	case *ResumeBody:
		what = "resumed"
		c.setSuspension(cs, name, e, b)
		c.alert("notice", cs.rec.ID, name, "%s resumed channel %s (by %s) %s", name, cs.rec.ID, b.By, b.Reason)
	case *KeyBody:
		what = "key"
		if x := b.Replaced; x != nil {
			c.alert("notice", cs.rec.ID, name, "%s re-pinned this station by fingerprint %s (by %s), replacing the lost key %s",
				name, b.ReplacedCard().Fingerprint(), x.By, x.Old)
		}
	case *ReminderBody:
		what = "reminder"
		c.alert("alarm", cs.rec.ID, name, "%s reminds: %d of its entries on %s await acknowledgement here (first: %s/%s/%d)",
			name, len(b.Of), cs.rec.ID, cs.rec.ID, name, b.Of[0])
	case *WithdrawBody:
		what = "withdrawn"
	default:
		if cs.rec.State == record.Withdrawn {
			// Written before the withdrawal reached the peer: kept, not
			// awaited.
			break
		}
		w := e.Waiting()
		c.await(cs, &w, 0)
		if _, _, of, by, ok := c.cfg.Bodies.acknowledges(e.Kind, body); ok {
			c.acknowledged(cs, c.keys.Name, of, by)
		}
	}
	c.emit(Notify{What: what, Channel: in.f.Channel, Entry: e.ID(), Kind: e.Kind})
}

// receiptWhenDurable cosigns the checkpoint once the entries are durable
// (docs/PROTOCOL.md, "Receipts") and sends it on the connection entries
// come in on.
func (in *intake) receiptWhenDurable(cs *chanState) {
	c, p, name := in.c, in.p, in.name
	theirs := &cs.theirs
	size, root := theirs.size, theirs.tree.Root()
	cg := &cosigning{opened: in.opened, verifier: in.cpVerifier}
	c.cosigns = append(c.cosigns, cg)
	c.afterDurable(func(err error) {
		cg.done = true
		if err != nil || size <= theirs.durable {
			return
		}
		theirs.durable, theirs.durableRoot = size, root
		r, ahead := cg.receiptBy(c.cosigner)
		if ahead {
			c.Stats.SignedAhead++
		}
		theirs.receipt = r
		// The connection the entries came on may be gone by now; the
		// receipt goes on the current one (a new one's status carries it
		// anyway if none is up).
		if p.in == 0 {
			return
		}
		c.emit(Send{Peer: name, Conn: p.in, Data: (&Frame{Type: FrameReceipt, Channel: cs.rec.ID, Author: name, Checkpoint: r}).Encode()})
	})
}

// entryIndex reads entry i's index, from pre if it was parsed there.
func entryIndex(pre *Prepared, raw []byte, i int) (uint64, bool) {
	if pre != nil && i < len(pre.Entries) && pre.Entries[i].Env != nil {
		return pre.Entries[i].Env.Index, true
	}
	e, err := envelope.Parse(raw)
	if err != nil {
		return 0, false
	}
	return e.Index, true
}

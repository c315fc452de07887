package protocol

import (
	"fmt"
	"hotline/internal/transcript"
)

// Entries sent ahead (docs/PROTOCOL.md, "Sent ahead"). While this station
// writes a group, it sends the group's entries on a direct path in an
// ahead frame (sendAhead); the peer checks them meanwhile and holds them
// (holdAhead) until a durable frame says they are durable on the author's
// disk, and then takes them as if their entries frame had come
// (takeAhead). Nothing held is stored or shown before.

// heldAhead is an entries frame sent ahead, as prepared, and the last
// index it carries.
type heldAhead struct {
	f    *Frame
	pre  *Prepared
	last uint64
	size int // bytes of entries and checkpoint
}

// sendAhead sends the entries being written, under the checkpoint just
// signed ahead, as a FrameAhead: the peer checks them now, while the disk
// writes, holds them, and takes them when the FrameDurable flush sends in
// place of their entries frame comes. Only on a direct path, whose
// connection ends, and what the peer holds with it, if this process
// does: a relay would deliver them however long after. Only when nothing durable is left unsent before them, and when
// they fit one frame, so that flush would send exactly this frame.
func (c *Core) sendAhead(cs *chanState, end uint64) {
	m := &cs.mine
	p := c.peers[cs.rec.Peer]
	if p == nil || !p.ready || cs.blocked != "" || m.sent != m.durable {
		return
	}
	if x := c.pathOf(p, p.out); x == nil || x.name != "direct" {
		return
	}
	f := &Frame{Type: FrameAhead, Channel: cs.rec.ID, Author: c.keys.Name, Checkpoint: m.presigned.signed}
	size := 0
	for i := m.sent + 1; i <= end; i++ {
		raw := m.pending[i-m.delivered-1].raw
		if size += len(raw); len(f.Entries) > 0 && size > c.cfg.MaxBatchBytes {
			return
		}
		f.Entries = append(f.Entries, raw)
	}
	m.ahead.conn, m.ahead.from, m.ahead.to, m.ahead.checkpoint = p.out, m.sent+1, end, m.presigned.signed
	c.Stats.SentAhead++
	c.emit(Send{Peer: p.card.Name, Conn: p.out, Data: f.Encode()})
}

// holdAhead keeps an entries frame the peer sent ahead of writing its
// entries, as prepared (its signatures checked on the connection's
// goroutine meanwhile), until its durable frame: nothing of it is taken,
// stored or shown before. One per channel and connection, within
// MaxHeldAhead bytes a connection; a later one replaces it, and the
// connection's end drops it. A channel not yet known here may be the one
// the frame proposes.
func (c *Core) holdAhead(p *peer, conn ConnID, f *Frame, pre *Prepared) {
	if f.Author != p.card.Name {
		c.reject(p, conn, "wrong author", f.Channel, "%s sent entries of %s's log %s", p.card.Name, f.Author, f.Channel)
		return
	}
	// Only what the peer's process sends on a direct connection, whose
	// end drops it: a relay, which is not trusted, may not make this
	// station hold anything, and nothing is held for a channel it does
	// not share with the peer. The author sends such entries in an
	// entries frame.
	if x := c.pathOf(p, conn); x == nil || x.outbound || x.name != "direct" {
		c.refuse("ahead off a direct path", "warning", f.Channel, p.card.Name, "%s sent entries ahead on a path other than a direct one: not held", p.card.Name)
		return
	}
	if cs := c.channels[f.Channel]; cs != nil && cs.rec.Peer != p.card.Name {
		c.refuse("wrong peer", "alarm", f.Channel, p.card.Name, "%s sent entries for channel %s, which is with %s", p.card.Name, f.Channel, cs.rec.Peer)
		return
	}
	cp, err := transcript.ParseCheckpointText(noteText(f.Checkpoint))
	if err != nil || cp.Origin != transcript.Origin(f.Channel, p.card.Name) {
		if err == nil {
			err = fmt.Errorf("origin %q", cp.Origin)
		}
		c.reject(p, conn, "bad checkpoint", f.Channel, "entries from %s for %s refused: checkpoint: %v", p.card.Name, f.Channel, err)
		return
	}
	if p.ahead == nil {
		p.ahead = map[ConnID]map[string]heldAhead{}
	}
	held := p.ahead[conn]
	if held == nil {
		held = map[string]heldAhead{}
		p.ahead[conn] = held
	}
	// What a connection may make this station hold is bounded: past
	// MaxHeldAhead bytes a frame is not held, its durable frame finds
	// nothing, and the entries come again in an entries frame.
	size := len(f.Checkpoint)
	for _, e := range f.Entries {
		size += len(e)
	}
	total := size
	for ch, h := range held {
		if ch != f.Channel {
			total += h.size
		}
	}
	if total > MaxHeldAhead {
		delete(held, f.Channel)
		return
	}
	held[f.Channel] = heldAhead{f: f, pre: pre, last: cp.Size, size: size}
}

// MaxHeldAhead bounds the bytes of entries and checkpoints sent ahead
// that one connection may make a station hold.
const MaxHeldAhead = 16 << 20

// takeAhead takes the entries held for a durable frame, as if their
// entries frame came now. A durable frame with nothing held to match
// (sent after a frame lost) is counted, and the entries it names that
// this station lacks are asked for again (resend).
func (c *Core) takeAhead(p *peer, conn ConnID, f *Frame) {
	if f.Author != p.card.Name {
		c.reject(p, conn, "wrong author", f.Channel, "%s said entries of %s's log %s are durable", p.card.Name, f.Author, f.Channel)
		return
	}
	h, ok := p.ahead[conn][f.Channel]
	if !ok || h.last != f.From {
		c.Stats.MissedAhead++
		// Ask for them now rather than wait for the author's ResendAfter.
		if cs := c.channels[f.Channel]; cs != nil && cs.rec.Peer == p.card.Name && f.From > cs.theirs.size {
			c.emit(Send{Peer: p.card.Name, Conn: conn, Data: (&Frame{Type: FrameResend, Channel: f.Channel, Author: f.Author, From: cs.theirs.size + 1}).Encode()})
		}
		return
	}
	delete(p.ahead[conn], f.Channel)
	c.Stats.TakenAhead++
	c.entries(p, conn, h.f, h.pre)
}

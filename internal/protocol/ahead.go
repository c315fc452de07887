package protocol

import (
	"time"
)

// Entries sent ahead (docs/PROTOCOL.md, "Sent ahead"). While this station
// writes a group, it sends the group's entries on a direct path in an
// ahead frame (sendAhead); the peer checks them meanwhile and holds them
// (holdAhead) until a durable frame says they are durable on the author's
// disk, with their checkpoint, and then takes them as if their entries
// frame had come (takeAhead). Nothing held is stored or shown before.
//
// An entry binds its author only once a checkpoint of the author covers
// it: an ahead frame carries none, so entries sent ahead bind nobody
// until their durable frame brings it. A process that sent entries ahead
// and never made them durable (it crashed, or it was paused and another
// process of the station took over and wrote other entries at those
// indexes) has signed no second version of its log; a peer that holds
// other entries at those indexes drops the ahead frame and counts it.

// heldAhead is an ahead frame, as prepared, and the last index it
// carries.
type heldAhead struct {
	f    *Frame
	pre  *Prepared
	last uint64
	size int // bytes of entries
}

// AheadWithin: entries are sent ahead only on a direct path whose smoothed
// round trip is at most this.
const AheadWithin = 20 * time.Millisecond

// sendAhead sends the entries being written as a FrameAhead: the peer
// checks them now, while the disk writes, holds them, and takes them when
// the FrameDurable flush sends in place of their entries frame comes,
// with their checkpoint. Only on a direct path, whose connection ends,
// and what the peer holds with it, if this process does: a relay would
// deliver them however long after. Only when nothing durable is left
// unsent before them, and when they fit one frame, so that flush would
// send exactly this frame. Only under the station's lease, if it has one,
// as last confirmed: a process that may have lost the station to another
// sends nothing ahead, and the frame goes with the lease as its Until.
// Nor on a path whose round trip is longer than AheadWithin: what sending
// ahead saves (the write's sync, a millisecond or so) is nothing there,
// and its second frame (the durable one) costs bytes a narrow link lacks.
func (c *Core) sendAhead(cs *chanState, end uint64, lease time.Time) {
	m := &cs.mine
	p := c.peers[cs.rec.Peer]
	if p == nil || !p.ready || cs.blocked != "" || m.sent != m.durable {
		return
	}
	if x := c.pathOf(p, p.out); x == nil || x.name != "direct" || x.measured() && x.srtt > AheadWithin {
		return
	}
	if !lease.IsZero() && !c.now.Before(lease) {
		c.Stats.LeaseAhead++
		return
	}
	f := &Frame{Type: FrameAhead, Channel: cs.rec.ID, Author: c.keys.Name}
	size := 0
	urgent := false
	for i := m.sent + 1; i <= end; i++ {
		pe := m.pending[i-m.delivered-1]
		if size += len(pe.raw); len(f.Entries) > 0 && size > c.cfg.MaxBatchBytes {
			return
		}
		f.Entries = append(f.Entries, pe.raw)
		urgent = urgent || pe.urgent
	}
	m.ahead.conn, m.ahead.from, m.ahead.to = p.out, m.sent+1, end
	c.Stats.SentAhead++
	c.emit(Send{Peer: p.card.Name, Conn: p.out, Data: f.Encode(), Until: lease, Stream: cs.rec.ID, Urgent: urgent})
}

// holdAhead keeps an entries frame the peer sent ahead of writing its
// entries, as prepared (its signatures checked on the connection's
// goroutine meanwhile), until its durable frame: nothing of it is taken,
// stored or shown before. One per channel and connection, within
// MaxHeldAhead bytes a connection; a later one replaces it, and the
// connection's end drops it. A channel not yet known here may be the one
// the frame proposes. A frame that reaches into what this station holds
// of the log is dropped and counted (ConflictAhead): it binds nobody.
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
	cs := c.channels[f.Channel]
	if cs != nil && cs.rec.Peer != p.card.Name {
		c.refuse("wrong peer", "alarm", f.Channel, p.card.Name, "%s sent entries for channel %s, which is with %s", p.card.Name, f.Channel, cs.rec.Peer)
		return
	}
	// An entry that does not parse is refused when the frame would be
	// taken; meanwhile its index is unknown: such a frame conflicts with
	// nothing, and its durable frame finds nothing to take (last 0), so
	// the entries come again in an entries frame, refused as they are.
	first, _ := entryIndex(pre, f.Entries[0], 0)
	last, _ := entryIndex(pre, f.Entries[len(f.Entries)-1], len(f.Entries)-1)
	held := p.ahead[conn]
	if held != nil {
		delete(held, f.Channel)
	}
	var holds uint64
	if cs != nil {
		holds = cs.theirs.size
	}
	if first != 0 && first <= holds {
		// This station holds, or is writing, entries at those indexes,
		// which came under the author's checkpoint: these come from a
		// process of the peer's that wrote none of them (one paused
		// while another took over, or one that crashed before its write
		// was durable), and were never made durable. Not an
		// equivocation: nothing of the author's binds them.
		c.Stats.ConflictAhead++
		return
	}
	if held == nil {
		if p.ahead == nil {
			p.ahead = map[ConnID]map[string]heldAhead{}
		}
		held = map[string]heldAhead{}
		p.ahead[conn] = held
	}
	// What a connection may make this station hold is bounded: past
	// MaxHeldAhead bytes a frame is not held, its durable frame finds
	// nothing, and the entries come again in an entries frame.
	size := 0
	for _, e := range f.Entries {
		size += len(e)
	}
	total := size
	for _, h := range held {
		total += h.size
	}
	if total > MaxHeldAhead {
		return
	}
	held[f.Channel] = heldAhead{f: f, pre: pre, last: last, size: size}
}

// MaxHeldAhead bounds the bytes of entries sent ahead that one connection
// may make a station hold.
const MaxHeldAhead = 16 << 20

// takeAhead takes the entries held for a durable frame, under the
// checkpoint it brings, as if their entries frame came now. A durable
// frame with nothing held to match (sent after a frame lost) is counted,
// and the entries it names that this station lacks are asked for again
// (resend).
func (c *Core) takeAhead(p *peer, conn ConnID, f *Frame, pre *Prepared) {
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
	// The entries frame they would have come in: the held entries under
	// the durable frame's checkpoint, its signature checked on the
	// connection's goroutine if the durable frame was prepared.
	e := &Frame{Type: FrameEntries, Channel: h.f.Channel, Author: h.f.Author, Checkpoint: f.Checkpoint, Entries: h.f.Entries}
	var ep *Prepared
	if h.pre != nil {
		cp := *h.pre
		cp.Frame, cp.cp, cp.cpErr, cp.cpSet = e, nil, nil, false
		if pre != nil && pre.cpSet && pre.key.Equal(cp.key) {
			cp.cp, cp.cpErr, cp.cpSet = pre.cp, pre.cpErr, true
		}
		ep = &cp
	}
	c.entries(p, conn, e, ep)
}

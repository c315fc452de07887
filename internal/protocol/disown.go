package protocol

import (
	"hotline/internal/record"
	"hotline/internal/transcript"
)

// Disowned receipts: a receipt says the peer holds this station's
// entries, and so they are never sent again. When the peer revokes its
// key (or is re-pinned after losing it), a receipt cosigned by a key
// now revoked proves nothing: whoever held that key could have cosigned
// it without the peer ever receiving the entries. Such a channel is
// rewound: what the receipt covered goes back to the entries awaiting a
// receipt, read again from disk (Load), and is sent again. The peer
// ignores the entries it holds, and its next receipt, cosigned by its
// current key, marks delivered what it really has.

// rewind is a log being rewound to entry to: why, for the operators.
type rewind struct {
	to       uint64
	disowned bool // the receipt held is disowned (else the peer lost entries it had)
}

// disownReceipts rewinds each of p's channels whose latest receipt no
// key of p's that may cosign now has cosigned.
func (c *Core) disownReceipts(p *peer) {
	for _, id := range p.channels {
		cs := c.channels[id]
		if cs.mine.delivered == 0 || c.receiptHolds(p, cs.mine.receipt) {
			continue
		}
		c.startRewind(p, cs, &rewind{to: 0, disowned: true})
	}
}

// startRewind asks for this station's own log to be read back from
// disk, up to what the peer receipted, to rewind it (rewound).
func (c *Core) startRewind(p *peer, cs *chanState, r *rewind) {
	m := &cs.mine
	if m.rewind != nil || r.to >= m.delivered {
		return
	}
	m.rewind = r
	c.emit(Load{Peer: p.card.Name, Channel: cs.rec.ID, Author: c.keys.Name, From: 1, To: m.delivered})
}

// receiptHolds reports whether a receipt of this station's log is
// cosigned by a key of the peer's that may cosign now.
func (c *Core) receiptHolds(p *peer, signed []byte) bool {
	if len(signed) == 0 {
		return false
	}
	_, err := openCosigned(signed, c.ownVerifiers(), c.cosigners(p))
	return err == nil
}

// rewound takes entries 1..n of this station's own log, read back from
// disk, and makes the entries after the rewind's point await a receipt
// again: they are sent again.
func (c *Core) rewound(ev Loaded) {
	cs := c.channels[ev.Channel]
	if cs == nil || cs.mine.rewind == nil {
		return
	}
	m := &cs.mine
	r := m.rewind
	m.rewind = nil
	p := c.peers[cs.rec.Peer]
	if p == nil || r.to >= m.delivered || r.disowned && c.receiptHolds(p, m.receipt) {
		return // a receipt came meanwhile that settles it
	}
	if ev.Err != nil || uint64(len(ev.Entries)) < m.delivered {
		c.alert("alarm", cs.rec.ID, p.card.Name, "could not read back this station's log %s to send %s again what it lacks: %v",
			cs.rec.ID, p.card.Name, ev.Err)
		return
	}
	// The roots at each size, as the receipts to come are checked
	// against them.
	tree := transcript.NewTree()
	back := make([]pendingEntry, 0, m.delivered-r.to)
	for i, raw := range ev.Entries[:m.delivered] {
		tree.Append(raw)
		if uint64(i) >= r.to {
			back = append(back, pendingEntry{raw: raw, root: tree.Root(), urgent: urgentEntry(raw)})
		}
	}
	from, was := r.to+1, m.delivered
	m.pending = append(back, m.pending...)
	m.delivered, m.sent, m.progress = r.to, r.to, c.now
	clear(m.signed)
	note := m.receipt
	if r.disowned {
		m.receipt, note = nil, []byte{}
		c.alert("alarm", cs.rec.ID, p.card.Name, "%s's receipt for %d entries of %s was cosigned by a key it has since revoked: they are sent again, and count as delivered when %s's current key receipts them",
			p.card.Name, was, cs.rec.ID, p.card.Name)
	} else {
		c.alert("alarm", cs.rec.ID, p.card.Name, "%s lost entries %d to %d of %s that it had receipted (restored from a backup?): they are sent again from this station's disk",
			p.card.Name, from, was, cs.rec.ID)
	}
	c.batch.Receipts = append(c.batch.Receipts, record.Receipt{Channel: cs.rec.ID, Author: c.keys.Name, Size: r.to, Note: note, Rewind: true})
	c.emit(Notify{What: "channel", Channel: cs.rec.ID})
	c.flush(p.card.Name)
}

// loadedOwn reports whether a Loaded event is this station's own log
// read back for rewind, not a peer's log to send back to it.
func (c *Core) loadedOwn(ev Loaded) bool { return ev.Author == c.keys.Name }

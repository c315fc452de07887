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

// disownReceipts rewinds each of p's channels whose latest receipt no
// key of p's that may cosign now has cosigned.
func (c *Core) disownReceipts(p *peer) {
	for _, id := range p.channels {
		cs := c.channels[id]
		m := &cs.mine
		if m.delivered == 0 || c.receiptHolds(p, m.receipt) {
			continue
		}
		c.emit(Load{Peer: p.card.Name, Channel: id, Author: c.keys.Name, From: 1, To: m.delivered})
	}
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

// rewind takes entries 1..n of this station's own log, read back from
// disk, and makes the entries the disowned receipt covered await a
// receipt again.
func (c *Core) rewind(ev Loaded) {
	cs := c.channels[ev.Channel]
	if cs == nil {
		return
	}
	p := c.peers[cs.rec.Peer]
	m := &cs.mine
	if p == nil || m.delivered == 0 || c.receiptHolds(p, m.receipt) {
		return // a receipt cosigned by the current key came meanwhile
	}
	if ev.Err != nil || uint64(len(ev.Entries)) < m.delivered {
		c.alert("alarm", cs.rec.ID, p.card.Name, "could not read back this station's log %s to send again what a disowned receipt of %s covered: %v",
			cs.rec.ID, p.card.Name, ev.Err)
		return
	}
	// The roots at each size, as the receipts to come are checked
	// against them.
	tree := transcript.NewTree()
	back := make([]pendingEntry, 0, m.delivered)
	for _, raw := range ev.Entries[:m.delivered] {
		tree.Append(raw)
		back = append(back, pendingEntry{raw: raw, root: tree.Root()})
	}
	disowned := m.delivered
	m.pending = append(back, m.pending...)
	m.delivered, m.sent, m.receipt, m.progress = 0, 0, nil, c.now
	clear(m.signed)
	c.batch.Receipts = append(c.batch.Receipts, record.Receipt{Channel: cs.rec.ID, Author: c.keys.Name, Size: 0, Note: []byte{}, Rewind: true})
	c.alert("alarm", cs.rec.ID, p.card.Name, "%s's receipt for %d entries of %s was cosigned by a key it has since revoked: they are sent again, and count as delivered when %s's current key receipts them",
		p.card.Name, disowned, cs.rec.ID, p.card.Name)
	c.emit(Notify{What: "channel", Channel: cs.rec.ID})
	c.flush(p.card.Name)
}

// loadedOwn reports whether a Loaded event is this station's own log
// read back for rewind, not a peer's log to send back to it.
func (c *Core) loadedOwn(ev Loaded) bool { return ev.Author == c.keys.Name }

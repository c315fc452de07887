package protocol

import (
	"bytes"
	"fmt"
	"hotline/internal/record"
	"hotline/internal/transcript"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Receipts: the peer's cosignature of this station's checkpoint is the
// delivery receipt. One comes in a receipt frame or in a status; it is
// checked against the checkpoints this station signed, and marks every
// entry it covers delivered (applyReceipt).

func (c *Core) receipt(p *peer, conn ConnID, f *Frame) {
	cs := c.channels[f.Channel]
	if cs == nil || cs.rec.Peer != p.card.Name || f.Author != c.keys.Name {
		c.reject(p, conn, "bad receipt", f.Channel, "receipt from %s for unknown log %s/%s", p.card.Name, f.Channel, f.Author)
		return
	}
	if r := c.applyReceipt(p, cs, f.Checkpoint); r != nil {
		if r.quiet {
			c.refuse(r.reason, "warning", cs.rec.ID, p.card.Name, "%s", r.text)
			return
		}
		c.reject(p, conn, r.reason, cs.rec.ID, "%s", r.text)
		return
	}
	c.flush(p.card.Name)
}

// block stops sending on a channel whose two sides disagree on what was
// delivered, and raises an alarm. Only a restart lifts it; the recovery
// itself (fetching entries back from the peer) is not built yet.
func (c *Core) block(cs *chanState, why string) {
	if cs.blocked == "" {
		c.alert("alarm", cs.rec.ID, cs.rec.Peer, "sending stopped on %s: %s", cs.rec.ID, why)
	}
	cs.blocked = why
}

// refusal is a refused input, for the caller to report as it must.
type refusal struct {
	reason, text string
	// quiet: a receipt that cannot be checked yet (cosigned by a key of
	// the peer's this station has not learned): counted and warned about,
	// without closing the connection, so that the key entry can come.
	quiet bool
}

// applyReceipt checks a cosigned checkpoint of this station's log and marks
// every entry it covers delivered. It returns why it refused it, if it did.
func (c *Core) applyReceipt(p *peer, cs *chanState, signed []byte) *refusal {
	m := &cs.mine
	authors := c.ownVerifiers()
	if body, err := transcript.ParseCheckpointText(noteText(signed)); err == nil {
		if body.Size <= m.delivered && (bytes.Equal(signed, m.receipt) || slices.ContainsFunc(m.checked, func(r []byte) bool { return bytes.Equal(r, signed) })) {
			// The receipt taken last, or one checked lately, again (every
			// status carries the peer's latest): its signatures verified
			// then, with keys this station still accepts receipts from
			// (a peer's key chain only grows), so it brings nothing new
			// now either.
			return nil
		}
		if mine := m.signed[body.Size]; mine != nil && bytes.HasPrefix(signed, mine) {
			authors = nil // our own signature is the one we sent
		}
	}
	cp, at, err := openCosignedAt(signed, authors, c.cosigners(p))
	if err != nil {
		// An old receipt cosigned by a key since revoked (a status frame
		// a relay held back, say) adds nothing and is ignored; one that
		// would deliver more is refused.
		if old, err2 := openCosigned(signed, authors, p.allCosigners()); err2 == nil && old.Size <= m.delivered {
			m.checkedAgain(signed)
			return nil
		}
		if c.cosignedByUnknownKey(p, signed) {
			m.unchecked = signed
			return &refusal{reason: "receipt by unknown key", quiet: true, text: fmt.Sprintf(
				"receipt from %s for %s is cosigned by a key of %s this station does not know yet (it changed its keys?): not taken; its key entry will tell",
				p.card.Name, cs.rec.ID, p.card.Name)}
		}
		return &refusal{"bad cosignature", fmt.Sprintf("receipt from %s for %s refused: %v", p.card.Name, cs.rec.ID, err), false}
	}
	switch {
	case cp.Origin != transcript.Origin(cs.rec.ID, c.keys.Name):
		return &refusal{"bad cosignature", fmt.Sprintf("receipt from %s names log %q", p.card.Name, cp.Origin), false}
	case cp.Size <= m.delivered:
		m.checkedAgain(signed)
		return nil // an old receipt: nothing new
	case cp.Size > m.size:
		return &refusal{"bad cosignature", fmt.Sprintf("receipt from %s covers %d entries of %s; this station wrote %d", p.card.Name, cp.Size, cs.rec.ID, m.size), false}
	}
	if want := m.pending[cp.Size-m.delivered-1].root; !bytes.Equal(want, cp.Root) {
		return &refusal{"root mismatch", fmt.Sprintf("tamper alarm: receipt from %s for %s at size %d has a root this station never signed", p.card.Name, cs.rec.ID, cp.Size), false}
	}
	first := m.delivered + 1
	m.pending = slices.Delete(m.pending, 0, int(cp.Size-m.delivered))
	m.delivered, m.receipt, m.progress, m.movedAt = cp.Size, signed, c.now, c.now
	m.receiptAt = at
	for size := range m.signed {
		if size <= m.delivered {
			delete(m.signed, size)
		}
	}
	if m.sent < m.delivered {
		m.sent = m.delivered
	}
	c.batch.Receipts = append(c.batch.Receipts, record.Receipt{Channel: cs.rec.ID, Author: c.keys.Name, Size: cp.Size, Note: signed, At: m.receiptAt})
	c.emit(Notify{What: "delivered", Channel: cs.rec.ID, Entry: fmt.Sprintf("%s/%s/%d-%d", cs.rec.ID, c.keys.Name, first, cp.Size)})
	return nil
}

// maxChecked is how many receipts outLog.checked holds.
const maxChecked = 4

// checkedAgain keeps a receipt whose signatures verified and that
// brought nothing new, so that its next copy is not checked again.
func (m *outLog) checkedAgain(signed []byte) {
	if len(m.checked) == maxChecked {
		m.checked = slices.Delete(m.checked, 0, 1)
	}
	m.checked = append(m.checked, bytes.Clone(signed))
}

// receiptTime is when the peer cosigned a receipt of this station's
// log: the time its cosignature/v1 carries, zero for one without. For a
// receipt read back from the store; one just taken has its time from
// openCosignedAt.
func (c *Core) receiptTime(p *peer, receipt []byte) time.Time {
	if len(receipt) == 0 {
		return time.Time{}
	}
	n, err := note.Open(receipt, note.VerifierList(p.allCosigners()...))
	if err != nil {
		return time.Time{}
	}
	for _, l := range p.chain {
		if t, err := transcript.CosignTime(n, l.cosign); err == nil {
			return t
		}
	}
	return time.Time{}
}

// owedReceipt is a stored checkpoint of the peer's, covering entries
// durable here, to cosign at the first step after a restart: a receipt
// carries the time it is signed, and New has none.
type owedReceipt struct {
	cs         *chanState
	checkpoint []byte
	author     note.Verifier
}

// cosignOwed cosigns the owed receipts, unless one was given since.
func (c *Core) cosignOwed() {
	for _, o := range c.owed {
		if o.cs.theirs.receipt != nil {
			continue
		}
		if r, err := transcript.Cosign(o.checkpoint, o.author, c.cosigner); err == nil {
			o.cs.theirs.receipt = r
		}
	}
	c.owed = nil
}

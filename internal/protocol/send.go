package protocol

import (
	"fmt"
	"hotline/internal/identity"
	"hotline/internal/transcript"
	"maps"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Sending this station's entries. An entry leaves only once it is
// durable: when a write is reported (Persisted), the requests it completes
// run, and flush sends each peer, on its active path, the entries made
// durable, in frames within MaxBatch, MaxBatchBytes and the Window, each
// under a checkpoint signed by the key that signed its entries. While a
// group is written (Writing), the core signs ahead the checkpoint and the
// receipts its durability will send, so that they leave at once, and
// sends the entries ahead (ahead.go).

// cosigning is a receipt to give once the peer's entries it covers are
// durable, made ahead while they are written (see Writing).
type cosigning struct {
	opened   *note.Note
	verifier note.Verifier
	receipt  []byte
	by       note.Signer // the key receipt was cosigned with
	done     bool        // its write is over
}

// receiptBy returns the receipt cosigned by s, and whether it was made
// before (by Writing, with the same key).
func (cg *cosigning) receiptBy(s note.Signer) (r []byte, ahead bool) {
	if cg.receipt != nil && cg.by == s {
		return cg.receipt, true
	}
	r, err := transcript.CosignOpened(cg.opened, cg.verifier, s)
	if err != nil {
		panic(err) // verified when the entries were taken
	}
	cg.receipt, cg.by = r, s
	return r, false
}

func (c *Core) persisted(ev Persisted) {
	err := ev.Err
	if err != nil {
		err = fmt.Errorf("%w: %v", ErrStorage, err)
	}
	func() {
		c.deferFlush = true
		defer func() { c.deferFlush = false }()
		for _, w := range ev.Writes {
			fs := c.pending[w]
			delete(c.pending, w)
			for _, f := range fs {
				f(err)
			}
		}
	}()
	c.cosigns = slices.DeleteFunc(c.cosigns, func(cg *cosigning) bool { return cg.done })
	for _, cs := range c.appended {
		cs.mine.writes = slices.DeleteFunc(cs.mine.writes, func(w sizeAt) bool { return w.size <= cs.mine.durable })
	}
	c.appended = slices.DeleteFunc(c.appended, func(cs *chanState) bool { return cs.mine.durable >= cs.mine.size })
	peers := slices.Sorted(maps.Keys(c.flushes))
	clear(c.flushes)
	for _, p := range peers {
		c.flush(p)
	}
}

// flush sends every durable, unsent entry to the peer, within the window.
func (c *Core) flush(peerName string) {
	if c.deferFlush {
		if c.flushes == nil {
			c.flushes = map[string]bool{}
		}
		c.flushes[peerName] = true
		return
	}
	p := c.peers[peerName]
	if p == nil || !p.ready {
		return
	}
	maxBytes := c.frameBytes(p)
	for _, id := range p.channels {
		cs := c.channels[id]
		m := &cs.mine
		for cs.blocked == "" && m.sent < m.durable && m.sent-m.delivered < uint64(c.cfg.Window) {
			end := min(m.durable, m.sent+uint64(c.cfg.MaxBatch), m.delivered+uint64(c.cfg.Window))
			f := &Frame{Type: FrameEntries, Channel: id, Author: c.keys.Name}
			size := 0
			urgent := false
			seq := seqAt(m.keys, m.sent+1)
			for i := m.sent + 1; i <= end; i++ {
				pe := m.pending[i-m.delivered-1]
				raw := pe.raw
				// A frame never spans a key change: its entries and its
				// checkpoint are signed by one key. Except a frame that
				// begins the log, across a planned change or a revocation:
				// a proposal withdrawn after a key change must reach the
				// peer with its withdrawal when it crossed the peer's own
				// (docs/PROTOCOL.md, "Crossing proposals"); its checkpoint
				// is signed by the key of its last entry.
				if size > 0 && (size+len(raw) > maxBytes || seqAt(m.keys, i) != seq && !c.spans(m, m.sent, i)) {
					end = i - 1
					break
				}
				size += len(raw)
				f.Entries = append(f.Entries, raw)
				urgent = urgent || pe.urgent
			}
			seq = seqAt(m.keys, end)
			root := m.pending[end-m.delivered-1].root
			signed := m.presigned.signed
			if m.presigned.size != end || m.presigned.seq != seq || !slices.Equal(m.presigned.root, root) {
				signed = c.signCheckpoint(id, end, root, seq)
			} else {
				c.Stats.SignedAhead++
			}
			if m.presigned.size <= end {
				m.presigned = presigned{}
			}
			f.Checkpoint = signed
			if m.sent == m.delivered {
				m.progress = c.now
			}
			if m.signed == nil {
				m.signed = map[uint64][]byte{}
			}
			m.signed[end] = signed
			if a := m.ahead; a.conn == p.out && a.from == m.sent+1 && a.to == end {
				// The peer holds this very frame's entries: say they are
				// durable, under their checkpoint, signed only now that
				// they are (or while they were written, and kept here).
				f = &Frame{Type: FrameDurable, Channel: id, Author: c.keys.Name, From: end, Checkpoint: signed}
			}
			m.ahead.conn = 0
			c.emit(Send{Peer: peerName, Conn: p.out, Data: f.Encode(), Stream: id, Urgent: urgent})
			m.sent = end
		}
	}
}

// FrameTime: on a path measured narrow, a frame of entries holds at most
// what the path carries in this time (and at least one entry), so that
// another channel's FLASH, a receipt or a probe waits behind at most one
// such frame.
const FrameTime = time.Second

// frameBytes is the most entry bytes a frame to p may hold: MaxBatchBytes,
// or on a path measured narrow what it carries in FrameTime.
func (c *Core) frameBytes(p *peer) int {
	if x := c.pathOf(p, p.out); x != nil && x.rate > 0 {
		return min(c.cfg.MaxBatchBytes, int(x.rate*FrameTime.Seconds()))
	}
	return c.cfg.MaxBatchBytes
}

// spans says whether a frame of log m after entry from may go on to entry
// i across a key change: only one that begins the log, which the peer has
// not receipted, and not across a change made after a lost key (whose key
// entry is signed by the new key).
func (c *Core) spans(m *outLog, from, i uint64) bool {
	if from != 0 || m.delivered != 0 {
		return false
	}
	seq := seqAt(m.keys, i)
	return seq < len(c.own) && c.own[seq].reason != identity.ReasonLost
}

// writing signs ahead, while the disk writes, the checkpoint each log's
// entries being written will be sent under and the receipts their
// durability will give (see Writing), and sends the entries ahead, under
// lease if the station has one. What it signs stays here until the
// write is durable.
func (c *Core) writing(through uint64, lease time.Time) {
	for _, cg := range c.cosigns {
		if !cg.done {
			cg.receiptBy(c.cosigner)
		}
	}
	c.cosigns = nil
	later := c.appended[:0]
	for _, cs := range c.appended {
		id, m := cs.rec.ID, &cs.mine
		// The log's size at the group's last write to it: entries
		// appended since are in a later group.
		end := uint64(0)
		rest := m.writes[:0]
		for _, w := range m.writes {
			if through == 0 || w.write <= through {
				end = w.size
			} else {
				rest = append(rest, w)
			}
		}
		m.writes = rest
		if len(rest) > 0 {
			later = append(later, cs)
		}
		// The frame flush will send once they are durable ends at the
		// last of them if it holds every entry after those sent.
		if end <= m.durable || m.sent >= end || m.presigned.size == end ||
			end-m.sent > uint64(c.cfg.MaxBatch) || end-m.delivered > uint64(c.cfg.Window) {
			continue
		}
		seq := seqAt(m.keys, end)
		if seqAt(m.keys, m.sent+1) != seq {
			continue
		}
		root := m.pending[end-m.delivered-1].root
		m.presigned = presigned{size: end, seq: seq, root: root, signed: c.signCheckpoint(id, end, root, seq)}
		c.sendAhead(cs, end, lease)
	}
	c.appended = later
}

// checkpoint is the checkpoint of this station's log on channel id at
// size, with what it holds durably of the peer's log (transcript.Held).
func (c *Core) checkpoint(id string, size uint64, root []byte) transcript.Checkpoint {
	cp := transcript.Checkpoint{Origin: transcript.Origin(id, c.keys.Name), Size: size, Root: root}
	if cs := c.channels[id]; cs != nil && cs.theirs.durable > 0 {
		cp.Held = &transcript.Held{Size: cs.theirs.durable, Root: cs.theirs.durableRoot}
	}
	return cp
}

// signCheckpoint signs the checkpoint of this station's log on channel id
// at size, with key seq.
// It says how much of the peer's log this station holds durably.
func (c *Core) signCheckpoint(id string, size uint64, root []byte, seq int) []byte {
	signed, err := transcript.SignCheckpoint(c.checkpoint(id, size, root), c.signerAt(seq))
	if err != nil {
		panic(err)
	}
	return signed
}

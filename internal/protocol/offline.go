package protocol

import (
	"fmt"
	"time"

	"hotline/internal/envelope"
	"hotline/internal/transcript"
)

// The offline path: when every network is down, what a peer lacks goes
// by hand. Export gathers the frames a live connection would carry (this
// station's undelivered entries with signed checkpoints, and its receipts
// of the peer's logs); Import feeds such frames from the peer as if they
// had arrived on a connection, and completes once what they brought is
// durable. Everything in them is signed, so a bundle needs no protection
// of its own; duplicates are ignored, so importing twice changes nothing.

// Import asks the core to take the frames of an offline bundle from a
// peer. The caller has decoded and verified them (Prepare); frames of
// other types than entries and receipt are refused.
type Import struct {
	ID     uint64
	Peer   string
	Frames []*Prepared
	// Checked: the caller has checked the whole bundle already, part by
	// part (CheckImport), and gives it again in parts. The core takes
	// Frames without checking them first; it checks each frame as it
	// takes it, as one from a connection. Without Checked, Frames are the
	// whole bundle, checked before anything changes.
	Checked bool
}

func (Import) event() {}

// CheckImport asks the core to check the next frames of an offline
// bundle, changing nothing. A bundle too large to hold at once is checked
// this way part by part, in order, and then taken with Imports that are
// Checked. The Result is empty; the error names the first frame that
// fails, by its number in the bundle.
type CheckImport struct {
	ID     uint64
	Check  *ImportCheck
	Frames []*Prepared
}

func (CheckImport) event() {}

// ImportCheck is the check of one bundle from a peer: what the frames
// checked so far leave for the next ones. The core changes it only while
// it handles a CheckImport.
type ImportCheck struct {
	Peer   string
	frames int                 // frames checked so far
	epochs map[string]*epochAt // by channel, as the entries so far leave it
}

// NewImportCheck begins the check of a bundle from peer.
func NewImportCheck(peer string) *ImportCheck {
	return &ImportCheck{Peer: peer, epochs: map[string]*epochAt{}}
}

// Imported is the Result of an Import: entries accepted (new ones only),
// and refusals while taking the bundle.
type Imported struct {
	Entries, Refused int
}

// importConn is the connection id of frames from a bundle: nothing is
// ever sent on it.
const importConn ConnID = 0

func (c *Core) importFrames(ev Import) {
	p := c.peers[ev.Peer]
	if p == nil {
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %q is not pinned", ErrUnknownPeer, ev.Peer))
		return
	}
	if !ev.Checked {
		if err := c.checkFrames(p, NewImportCheck(ev.Peer), ev.Frames); err != nil {
			c.done(ev.ID, Result{}, err)
			return
		}
	}
	refused := 0
	for _, n := range c.Stats.Refused {
		refused += n
	}
	var before uint64
	for _, id := range p.channels {
		before += c.channels[id].theirs.size
	}
	for _, pre := range ev.Frames {
		c.frameIn(FrameIn{Peer: ev.Peer, Conn: importConn, Pre: pre})
	}
	var after uint64
	for _, id := range p.channels {
		after += c.channels[id].theirs.size
	}
	for _, n := range c.Stats.Refused {
		refused -= n
	}
	res := Result{Imported: &Imported{Entries: int(after - before), Refused: -refused}}
	id := ev.ID
	c.afterDurable(func(err error) { c.done(id, res, err) })
}

func (c *Core) checkImport(ev CheckImport) {
	p := c.peers[ev.Check.Peer]
	if p == nil {
		c.done(ev.ID, Result{}, fmt.Errorf("%w: %q is not pinned", ErrUnknownPeer, ev.Check.Peer))
		return
	}
	c.done(ev.ID, Result{}, c.checkFrames(p, ev.Check, ev.Frames))
}

// checkFrames checks the next frames of a bundle from p (checkImported),
// and counts a "bad bundle" refusal at the first that fails.
func (c *Core) checkFrames(p *peer, ck *ImportCheck, frames []*Prepared) error {
	for _, pre := range frames {
		ck.frames++
		if err := c.checkImported(p, pre, ck.epochs); err != nil {
			c.Stats.Refused["bad bundle"]++
			return fmt.Errorf("%w: frame %d of the bundle: %v", ErrRefused, ck.frames, err)
		}
	}
	return nil
}

// epochAt is a log's key epoch as the entries of a bundle checked so far
// leave it, and the last index they reached.
type epochAt struct {
	epoch *envelope.Epoch
	index uint64
	// unknown: past a gap (entries this station lacks), so the epoch is
	// not known until an entry begins one; the core refuses the gap.
	unknown bool
}

// checkImported checks everything in a frame of a bundle that can be
// checked before anything changes: structure, signatures, addresses, and
// that every new entry's body opens (under the key epochs the bundle's
// entries before it leave, by channel in epochs).
func (c *Core) checkImported(p *peer, pre *Prepared, epochs map[string]*epochAt) error {
	if pre == nil {
		return fmt.Errorf("not prepared against %s's key", p.card.Name)
	}
	if pre.Err != nil {
		return pre.Err
	}
	f := pre.Frame
	switch f.Type {
	case FrameEntries:
		// Across a key change the entries and checkpoints are signed by
		// keys of the peer's chain (docs/PROTOCOL.md, "Key rotation");
		// which key at which index is the core's to check when it takes
		// the frame.
		cp, err := openCosigned(f.Checkpoint, p.allKeys(), nil)
		if err != nil {
			return fmt.Errorf("checkpoint of %s/%s: %v", f.Channel, f.Author, err)
		}
		if f.Author != p.card.Name || cp.Origin != transcript.Origin(f.Channel, p.card.Name) {
			return fmt.Errorf("entries of log %s/%s under checkpoint %q, not %s's", f.Channel, f.Author, cp.Origin, p.card.Name)
		}
		at := epochs[f.Channel]
		if at == nil {
			at = &epochAt{}
			// A channel with another peer: the core refuses the frame.
			if cs := c.channels[f.Channel]; cs != nil && cs.rec.Peer == p.card.Name {
				at.epoch, at.index = cs.theirs.epoch, cs.theirs.size
			}
			epochs[f.Channel] = at
		}
		for i, o := range pre.Entries {
			switch {
			case o.Err != nil && !p.signedByChain(o):
				return fmt.Errorf("entry %d: %v", i+1, o.Err)
			case o.Env == nil:
				return fmt.Errorf("entry %d: %v", i+1, o.Err)
			case o.Env.Channel != f.Channel || o.Env.Author != p.card.Name || o.Env.Recipient != c.keys.Name:
				return fmt.Errorf("entry %d is %s, addressed to %s", i+1, o.Env.ID(), o.Env.Recipient)
			}
			if o.Env.Index <= at.index {
				continue // held already, or seen earlier in the bundle
			}
			if o.Env.Index > at.index+1 {
				at.unknown = true
			}
			if at.unknown && !o.Env.BeginsEpoch() {
				at.index = o.Env.Index
				continue
			}
			_, next, err := c.openBody(&o, at.epoch)
			if err != nil {
				return fmt.Errorf("entry %d does not open: %v", i+1, err)
			}
			if o.Env.Version == 2 {
				at.unknown = false // it began an epoch
			}
			at.epoch, at.index = next, o.Env.Index
		}
	case FrameReceipt:
		cp, err := openCosigned(f.Checkpoint, c.ownVerifiers(), c.cosigners(p))
		if err != nil {
			return fmt.Errorf("receipt of %s/%s: %v", f.Channel, f.Author, err)
		}
		if f.Author != c.keys.Name || cp.Origin != transcript.Origin(f.Channel, c.keys.Name) {
			return fmt.Errorf("receipt of log %s/%s (origin %q) is not of this station's log", f.Channel, f.Author, cp.Origin)
		}
	default:
		return fmt.Errorf("a %s frame; a bundle carries entries and receipts", f.Type)
	}
	return nil
}

// Export returns the frames an offline bundle to a peer carries: for each
// channel with it, this station's durable entries the peer has not
// receipted (with a signed checkpoint per frame), and this station's
// latest receipt of the peer's log, cosigned by now if the core has not
// stepped since it started (a receipt carries its time).
func (c *Core) Export(peer string, now time.Time) ([][]byte, error) {
	if now.After(c.now) {
		c.now = now
	}
	c.cosignOwed()
	p := c.peers[peer]
	if p == nil {
		return nil, fmt.Errorf("%w: %q is not pinned", ErrUnknownPeer, peer)
	}
	var out [][]byte
	for _, id := range p.channels {
		cs := c.channels[id]
		m := &cs.mine
		for from := m.delivered; from < m.durable; {
			f := &Frame{Type: FrameEntries, Channel: id, Author: c.keys.Name}
			end, size := from, 0
			seq := seqAt(m.keys, from+1)
			for end < m.durable && len(f.Entries) < c.cfg.MaxBatch {
				raw := m.pending[end-m.delivered].raw
				if size > 0 && (size+len(raw) > c.cfg.MaxBatchBytes || seqAt(m.keys, end+1) != seq) {
					break
				}
				f.Entries = append(f.Entries, raw)
				size += len(raw)
				end++
			}
			signed, err := transcript.SignCheckpoint(c.checkpoint(id, end, m.pending[end-m.delivered-1].root), c.signerAt(seq))
			if err != nil {
				return nil, err
			}
			f.Checkpoint = signed
			out = append(out, f.Encode())
			from = end
		}
		if r := cs.theirs.receipt; r != nil {
			out = append(out, (&Frame{Type: FrameReceipt, Channel: id, Author: peer, Checkpoint: r}).Encode())
		}
	}
	return out, nil
}

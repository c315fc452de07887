package protocol

import "hotline/internal/transcript"

// Hello and status: the exchange that begins every connection. The
// dialer says hello on each outbound path (connected, paths.go); the
// acceptor answers with a status of what it holds of each of the dialer's
// logs and the receipts it gave (hello); the dialer checks the status,
// takes its receipts and resumes sending from there (status). A peer that
// holds more of a log than this station has starts a recovery
// (recover.go). Both sides check the protocol version first.

func (c *Core) versionOK(p *peer, conn ConnID, v uint16) bool {
	if v == Version {
		return true
	}
	c.reject(p, conn, "protocol version", "", "%s: protocol version %d is not compatible: %s speaks version %d", p.card.Name, v, c.keys.Name, Version)
	return false
}

// hello answers a dialer with what this station holds of its logs.
func (c *Core) hello(p *peer, conn ConnID, f *Frame) {
	if !c.versionOK(p, conn, f.Version) {
		return
	}
	p.in = conn
	st := &Frame{Type: FrameStatus, Version: Version}
	for _, id := range p.channels {
		cs := c.channels[id]
		st.Logs = append(st.Logs, LogStatus{Channel: id, Author: p.card.Name, Size: cs.theirs.durable, Receipt: cs.theirs.receipt})
	}
	c.emit(Send{Peer: p.card.Name, Conn: conn, Data: st.Encode()})
}

// status learns where the peer stands on this station's logs and starts
// sending from there.
func (c *Core) status(p *peer, conn ConnID, f *Frame) {
	x := c.pathOf(p, conn)
	if x == nil || !x.outbound || !c.versionOK(p, conn, f.Version) {
		return
	}
	held := map[string]LogStatus{}
	for _, l := range f.Logs {
		held[l.Channel] = l
	}
	for _, l := range f.Logs {
		if l.Author != c.keys.Name {
			c.reject(p, conn, "bad status", l.Channel, "status from %s names log %s/%s", p.card.Name, l.Channel, l.Author)
			return
		}
	}
	// A peer holding more of a log than this station wrote stops that
	// channel, not the others; a receipt that does not verify is refused
	// like any forged frame.
	for _, id := range p.channels {
		cs := c.channels[id]
		l := held[id]
		if cs.holding && cs.recover == nil && x.name != "direct" {
			// Restored: only a status on a direct connection, which
			// answers this process's own hello, says what the peer holds
			// now; one over a relay may answer a hello of the lost
			// disk's, or be replayed by the relay, and understate it.
			c.staleStatus(p, cs)
			continue
		}
		if l.Size > cs.mine.size {
			// Only a checkpoint carrying this station's own signature can
			// show that it wrote more than it holds; a bare number could
			// be anything.
			cp, err := openCosigned(l.Receipt, c.ownVerifiers(), c.cosigners(p))
			if err != nil || cp.Origin != transcript.Origin(id, c.keys.Name) || cp.Size <= cs.mine.size {
				c.reject(p, conn, "bad status", id, "status from %s claims %d entries of log %s, this station wrote %d, and no receipt signed by this station shows it",
					p.card.Name, l.Size, id, cs.mine.size)
				return
			}
			c.startRecovery(p, conn, cs, &cp, l.Receipt, l.Size)
			continue
		}
		c.release(cs)
		if len(l.Receipt) > 0 {
			if r := c.applyReceipt(p, cs, l.Receipt); r != nil {
				if r.quiet {
					c.refuse(r.reason, "warning", id, p.card.Name, "%s", r.text)
					continue
				}
				c.reject(p, conn, r.reason, id, "%s", r.text)
				return
			}
		}
	}
	// A status older than a receipt that overtook it, or from a peer that
	// lost entries it had receipted, resumes after the receipt (activate);
	// a peer that really lost them asks for them again (see resend).
	// Only the first status on a path sets where sending resumes: later
	// ones on the active path (a relay hands over the answers to every
	// hello said while the peer was away, all of them stale) only bring
	// their receipts. A frame lost since is sent again after ResendAfter.
	x.ready = true
	c.linkChanged(p)
	// A path that ranks before the active one by the station's prior,
	// and is not measured yet, takes the traffic at once (the direct path
	// reconnected); a measured one takes it only once clearly cheaper
	// (rerank).
	if a := c.pathOf(p, p.out); !p.ready || a == nil || !x.measured() && x.rank < a.rank {
		if p.ready && a != nil && x.conn != p.out {
			c.Stats.Failovers++
		}
		sizes := map[string]uint64{}
		for id, l := range held {
			sizes[id] = l.Size
		}
		c.activate(p, x, sizes)
	}
}

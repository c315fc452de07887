package protocol

// Resend requests: a peer that lacks entries of this station's log (a
// frame lost, or a durable frame that found nothing held) asks for them
// again from an index, and sending starts again from there, unless the
// peer had already receipted them.

func (c *Core) resend(p *peer, conn ConnID, f *Frame) {
	cs := c.channels[f.Channel]
	if cs == nil || cs.rec.Peer != p.card.Name || f.Author != c.keys.Name || f.From == 0 {
		c.reject(p, conn, "bad resend", f.Channel, "resend request from %s for %s/%s is not valid", p.card.Name, f.Channel, f.Author)
		return
	}
	from := f.From - 1
	if from < cs.mine.delivered {
		// A request older than a receipt that overtook it, or a peer that
		// lost entries it had receipted. Entries this old are no longer
		// held in memory, so do not resend: count it, and say so once.
		c.Stats.Refused["resend before receipt"]++
		if !cs.lossWarned {
			cs.lossWarned = true
			c.alert("warning", f.Channel, p.card.Name, "%s asks for log %s from %d but receipted up to %d: if this repeats, the peer lost entries it had stored",
				p.card.Name, f.Channel, f.From, cs.mine.delivered)
		}
		return
	}
	if from < cs.mine.sent {
		cs.mine.sent = from
	}
	c.flush(p.card.Name)
}

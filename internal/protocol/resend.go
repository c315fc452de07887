package protocol

import "time"

// Resend requests: a peer that lacks entries of this station's log (a
// frame lost, or a durable frame that found nothing held) asks for them
// again from an index, and sending starts again from there. Entries the
// peer had receipted are sent again only once it asks for them twice,
// ResendAfter apart: it lost them.

// RewindEvery is how often at most a peer that lost entries it had
// receipted gets a log rewound for it.
const RewindEvery = 10 * time.Minute

func (c *Core) resend(p *peer, conn ConnID, f *Frame) {
	cs := c.channels[f.Channel]
	if cs == nil || cs.rec.Peer != p.card.Name || f.Author != c.keys.Name || f.From == 0 {
		c.reject(p, conn, "bad resend", f.Channel, "resend request from %s for %s/%s is not valid", p.card.Name, f.Channel, f.Author)
		return
	}
	from := f.From - 1
	if from < cs.mine.delivered {
		// A request older than a receipt that overtook it, or a peer that
		// lost entries it had receipted (restored from a backup). Once it
		// asks again after ResendAfter, it lost them: the log is rewound
		// to where it asks from, read back from disk and sent again
		// (disown.go). A peer is the only one that can ask (the request
		// comes on its authenticated path), and what it gets is what it
		// once held: this station's own entries, addressed to it.
		c.Stats.Refused["resend before receipt"]++
		// A clock stepped back since would hold both times in the
		// future, and the peer would wait for the clock to catch up.
		if cs.lossAsked.After(c.now) {
			cs.lossAsked = c.now
		}
		if cs.lossRewound.After(c.now) {
			cs.lossRewound = time.Time{}
		}
		switch {
		case !cs.lossAsked.IsZero() && c.now.Sub(cs.lossAsked) >= ResendAfter &&
			(cs.lossRewound.IsZero() || c.now.Sub(cs.lossRewound) >= RewindEvery):
			// At most one rewind a RewindEvery: each reads the log back
			// from disk, and a peer could ask for that as often as it liked.
			cs.lossAsked, cs.lossRewound = time.Time{}, c.now
			c.startRewind(p, cs, &rewind{to: from})
		case cs.lossAsked.IsZero():
			cs.lossAsked = c.now
		}
		if !cs.lossWarned {
			cs.lossWarned = true
			c.alert("warning", f.Channel, p.card.Name, "%s asks for log %s from entry %d, but had receipted entries up to %d: if it asks again, it lost entries it had stored, and they are sent again",
				p.card.Name, f.Channel, f.From, cs.mine.delivered)
		}
		return
	}
	if from < cs.mine.sent {
		cs.mine.sent = from
	}
	c.flush(p.card.Name)
}

package protocol

import (
	"cmp"
	"slices"
	"time"
)

// Paths: a peer may be reached over several connections at once (the
// direct path, a relay). Each outbound connection is a path for this
// station's entries; the core sends on one, the active path: the
// best-ranked one whose status has arrived. Every path is probed (a
// probe frame with no channel) so that a silent one is closed within
// DeadAfter, and traffic moves to the next best; when a better one
// answers its status again, traffic moves back. Entries may so travel
// twice; the receiver ignores the duplicates.

// Path timing.
const (
	PingEvery = 500 * time.Millisecond // probe of every path
	DeadAfter = 1500 * time.Millisecond
	// HelloAgain: an outbound path whose status has not come for this
	// long says hello again (the status, or the hello, was lost on a path
	// that is otherwise up: a relay may lose a frame).
	HelloAgain = 5 * time.Second
	// ResendAfter: entries sent without a receipt for this long are sent
	// again from the last receipt (a frame lost on a path that stays up).
	ResendAfter = 5 * time.Second
)

// path is one connection to a peer.
type path struct {
	conn     ConnID
	name     string
	rank     int // lower is preferred
	outbound bool
	ready    bool // outbound: the peer's status arrived on it
	since    time.Time
	heard    time.Time // last frame received on it
	hello    time.Time // outbound: when hello was last sent on it
	pingSeq  uint64
	pingAt   time.Time // of the unanswered ping, zero if answered
	rtt      time.Duration
	lastOK   time.Time
	skew     time.Duration
	skewSeen bool
	pings    int
	lost     int
}

func (c *Core) pathOf(p *peer, conn ConnID) *path {
	if p.paths == nil {
		return nil
	}
	return p.paths[conn]
}

func (c *Core) addPath(p *peer, ev Connected) {
	if p.paths == nil {
		p.paths = map[ConnID]*path{}
	}
	name := ev.Path
	if name == "" {
		name = "direct"
	}
	p.paths[ev.Conn] = &path{conn: ev.Conn, name: name, rank: ev.Rank, outbound: ev.Outbound, since: c.now, heard: c.now, hello: c.now}
	c.armPaths()
}

// armPaths starts the path timer if it is not running.
func (c *Core) armPaths() {
	if c.armed && !c.pathTimer {
		c.pathTimer = true
		c.schedule(&timer{at: c.now.Add(PingEvery), kind: tPaths})
	}
}

// best returns the best-ranked ready outbound path other than not.
func (c *Core) best(p *peer, not ConnID) *path {
	var b *path
	for _, x := range p.paths {
		if !x.outbound || !x.ready || x.conn == not {
			continue
		}
		if b == nil || cmp.Or(cmp.Compare(x.rank, b.rank), cmp.Compare(x.conn, b.conn)) < 0 {
			b = x
		}
	}
	return b
}

// activate makes x the active path. fresh says the peer's status on it is
// current (just arrived), so sending resumes from what it holds;
// otherwise every entry not yet receipted goes again.
func (c *Core) activate(p *peer, x *path, held map[string]uint64) {
	p.out, p.ready = x.conn, true
	for _, id := range p.channels {
		cs := c.channels[id]
		if size, ok := held[id]; ok && held != nil && size >= cs.mine.delivered && size <= cs.mine.size {
			cs.mine.sent = size
		} else {
			cs.mine.sent = cs.mine.delivered
		}
		cs.mine.progress = c.now
	}
	c.flush(p.card.Name)
}

// lostPath handles a path that went away: traffic fails over to the next
// best ready path, if any.
func (c *Core) lostPath(p *peer, conn ConnID) {
	if x := p.paths[conn]; x != nil && x.outbound {
		c.linkChanged(p)
		if !x.lastOK.IsZero() {
			if p.lastOK == nil {
				p.lastOK = map[string]time.Time{}
			}
			p.lastOK[x.name] = x.lastOK
		}
	}
	delete(p.paths, conn)
	if p.out == conn {
		p.out, p.ready = 0, false
		if b := c.best(p, conn); b != nil {
			c.Stats.Failovers++
			c.activate(p, b, nil)
		}
	}
	if p.in == conn {
		p.in = 0
		var latest *path
		for _, x := range p.paths {
			// Ties go to the newer connection, so that the choice does
			// not depend on the order of a map.
			if !x.outbound && (latest == nil || x.heard.After(latest.heard) || x.heard.Equal(latest.heard) && x.conn > latest.conn) {
				latest = x
			}
		}
		if latest != nil {
			p.in = latest.conn
		}
	}
}

// linkChanged tells observers that the paths to a peer changed, so that
// the state of its channels may have.
func (c *Core) linkChanged(p *peer) {
	for _, id := range p.channels {
		c.emit(Notify{What: "link", Channel: id})
	}
}

// tickPaths probes every path and closes the silent ones.
func (c *Core) tickPaths() {
	names := make([]string, 0, len(c.peers))
	for n := range c.peers {
		names = append(names, n)
	}
	slices.Sort(names)
	any := false
	for _, n := range names {
		p := c.peers[n]
		conns := make([]ConnID, 0, len(p.paths))
		for id := range p.paths {
			conns = append(conns, id)
		}
		slices.Sort(conns)
		for _, id := range conns {
			x := p.paths[id]
			any = true
			if !x.outbound {
				continue // the peer probes its own outbound paths
			}
			if c.now.Sub(x.heard) > DeadAfter {
				c.refuse("silent path", "warning", "", n, "%s path to %s closed: nothing heard for %s", x.name, n, c.now.Sub(x.heard).Round(time.Millisecond))
				c.emit(Send{Peer: n, Conn: id, Data: (&Frame{Type: FrameError, Text: "nothing heard for " + DeadAfter.String()}).Encode(), Close: true})
				c.lostPath(p, id)
				continue
			}
			if !x.pingAt.IsZero() {
				x.lost++
			}
			x.pingSeq++
			x.pings++
			x.pingAt = c.now
			c.emit(Send{Peer: n, Conn: id, Data: (&Frame{Type: FrameProbe, Seq: x.pingSeq, Time: c.now}).Encode()})
			if !x.ready && c.now.Sub(x.hello) >= HelloAgain {
				x.hello = c.now
				c.emit(Send{Peer: n, Conn: id, Data: (&Frame{Type: FrameHello, Version: Version}).Encode()})
			}
		}
		c.resendUnreceipted(p)
	}
	c.pathTimer = any
	if any {
		c.schedule(&timer{at: c.now.Add(PingEvery), kind: tPaths})
	}
}

// resendUnreceipted sends a peer's channels again from their last
// receipt when entries have waited ResendAfter for one: a frame (entries,
// a receipt, a resend request) was lost on a path that stayed up.
func (c *Core) resendUnreceipted(p *peer) {
	if !p.ready {
		return
	}
	again := false
	for _, id := range p.channels {
		m := &c.channels[id].mine
		if c.channels[id].blocked == "" && m.sent > m.delivered && c.now.Sub(m.progress) >= ResendAfter {
			m.sent, m.progress = m.delivered, c.now
			again = true
		}
	}
	if again {
		c.flush(p.card.Name)
	}
}

// pong records the answer to a path probe.
func (c *Core) pong(p *peer, conn ConnID, f *Frame) {
	x := c.pathOf(p, conn)
	if x == nil || f.Seq != x.pingSeq || x.pingAt.IsZero() || !f.Time.Equal(x.pingAt) {
		return
	}
	x.rtt = c.now.Sub(x.pingAt)
	x.pingAt, x.lastOK = time.Time{}, c.now
	x.skew, x.skewSeen = f.PeerTime.Sub(c.now.Add(-x.rtt/2)), true
}

// pathInfos describes a peer's paths for status: every outbound path,
// and the kinds of path its card promises that are not connected.
func (c *Core) pathInfos(p *peer) []PathInfo {
	var out []PathInfo
	seen := map[string]bool{}
	for _, x := range p.paths {
		if !x.outbound {
			continue
		}
		seen[x.name] = true
		i := PathInfo{Name: x.name, Up: x.ready, Active: x.conn == p.out && p.ready, Rank: x.rank, LastOK: x.lastOK,
			RTT: x.rtt, Skew: x.skew, SkewKnown: x.skewSeen, Probes: x.pings, Lost: x.lost}
		out = append(out, i)
	}
	for _, want := range c.expectedPaths(p) {
		if !seen[want.Name] {
			want.LastOK = p.lastOK[want.Name]
			out = append(out, want)
		}
	}
	slices.SortFunc(out, func(a, b PathInfo) int { return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.Name, b.Name)) })
	return out
}

// expectedPaths are the paths the two cards promise: the direct one, and
// one through relays when both list any (a relay path needs one to deposit
// at and one to pick up from).
func (c *Core) expectedPaths(p *peer) []PathInfo {
	out := []PathInfo{{Name: "direct", Rank: 0}}
	if len(p.card.Relays) > 0 && c.cfg.Relays {
		out = append(out, PathInfo{Name: "relay", Rank: 1})
	}
	return out
}
